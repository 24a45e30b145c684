/*
description = "Production per year, country and stage from one edition each: the newest edition that reports it (production_revisions shows the others), with the country's model region."
grain = ["year", "country_iso3", "stage"]

[schema]
year = "Int32"
country_iso3 = "Utf8"
region = "Utf8"
stage = "Utf8"
t_reo = "Float64"
edition = "Utf8"

[checks]
not_null = ["edition", "source_file"]

[columns]
year = "Calendar year."
country_iso3 = "ISO3 (WLD world total, OTH USGS 'Other countries')."
country = "Name as printed."
region = "Model region (ROW for countries in no region, WLD for the world total)."
stage = "Supply-chain stage."
t_reo = "Tonnes of REO from the chosen edition; null where it prints W or NA."
flag = "Flags of the figure."
edition = "The chosen (newest) edition."
published = "Its publication month (YYYYMM)."
editions_available = "How many editions report this year, country and stage."
source = "Publisher."
source_file = "Raw file of the figure."
*/
SELECT r.year, r.country_iso3, p.country,
       CASE WHEN r.country_iso3 = 'WLD' THEN 'WLD' ELSE COALESCE(g.region, 'ROW') END AS region,
       r.stage, r.t_reo, r.flag, r.edition, r.published, r.editions AS editions_available, p.source, r.source_file
FROM production_revisions AS r
JOIN production_reported AS p
    ON p.year = r.year AND p.country_iso3 = r.country_iso3 AND p.stage = r.stage AND p.edition = r.edition
LEFT JOIN ref_regions AS g ON g.iso3 = r.country_iso3
WHERE r.is_newest
ORDER BY r.year, r.country_iso3, r.stage
