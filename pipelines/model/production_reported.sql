/*
description = "Every production figure by year, country, stage and edition, in t REO: USGS mine production (all editions), US separation output and US apparent consumption from the USGS salient statistics, and production entered in config/model.toml (China's separation quotas), each with its edition's publication month."
grain = ["year", "country_iso3", "stage", "edition"]

[schema]
year = "Int32"
country_iso3 = "Utf8"
stage = "Utf8"
t_reo = "Float64"
edition = "Utf8"
published = "Int32"

[checks]
not_null = ["published"]
accepted_values = { stage = ["mining", "separation", "metal", "magnet", "demand"] }

[checks.sql]
no_negative_production = """
SELECT * FROM production_reported WHERE t_reo < 0
"""

[columns]
year = "Calendar year of production."
country_iso3 = "ISO3 of the producer; WLD for world totals, OTH for USGS's 'Other countries'."
country = "Name as printed."
stage = "mining (mine production), separation (compounds and metals: US salient, China quota), demand (US apparent consumption of compounds and metals)."
t_reo = "Tonnes of REO; null where the edition prints W (withheld) or NA."
flag = "Flags as printed (e estimated, r revised, W, NA, zero, quota)."
edition = "The publication (MCS2023, MYB2022, DS140, MIIT2022, …)."
published = "Publication month of the edition (YYYYMM, from ref_editions): the newest edition wins in production_by_stage."
statistic = "Where the figure comes from: production table, or the salient statistic name."
source = "Publisher (or URL for figures entered in config)."
source_file = "Raw file (or config/model.toml) the figure was read from."
*/
WITH figures AS (
    SELECT year, country_iso3, country, stage, t_reo, flag, edition, 'production' AS statistic, source, source_file
    FROM production
    UNION ALL
    SELECT year, country_iso3, country, stage, t_reo, flag, edition, 'config production' AS statistic, source, source_file
    FROM ref_production
    UNION ALL
    SELECT year, 'USA' AS country_iso3, 'United States' AS country,
           CASE statistic WHEN 'production_compounds_metals' THEN 'separation' ELSE 'demand' END AS stage,
           value AS t_reo, flag, edition, statistic, source, source_file
    FROM salient
    WHERE commodity = 'rare_earths' AND unit = 't_reo'
      AND statistic IN ('production_compounds_metals', 'consumption_apparent_compounds_metals')
)
SELECT f.year, f.country_iso3, f.country, f.stage, f.t_reo, f.flag, f.edition, e.published, f.statistic,
       f.source, f.source_file
FROM figures AS f
LEFT JOIN ref_editions AS e ON e.edition = f.edition
ORDER BY f.year, f.country_iso3, f.stage, f.edition
