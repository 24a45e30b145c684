/*
description = "Production per year, country and stage, each year and stage from one edition where an edition lists producers country by country (so an itemised list never gets another edition's 'Other countries' residual or revisions on top), otherwise the newest edition that reports the country; with the country's model region."
grain = ["year", "country_iso3", "stage"]

[schema]
year = "Int32"
country_iso3 = "Utf8"
region = "Utf8"
stage = "Utf8"
t_reo = "Float64"
edition = "Utf8"
edition_rule = "Utf8"

[checks]
not_null = ["edition", "source_file", "edition_rule"]
accepted_values = { edition_rule = ["itemised", "newest"] }

[checks.sql]
# An itemised list's countries (with its 'Other countries') add up to its own world total within
# the rounding USGS applies to totals (ref_settings.world_total_tolerance). Years with a withheld
# or missing figure are partial and not compared.
countries_add_up_to_the_world_total = """
SELECT c.year, c.stage, c.edition, c.countries_t_reo, w.t_reo AS world_t_reo
FROM (
    SELECT year, stage, edition, sum(t_reo) AS countries_t_reo
    FROM production_by_stage
    WHERE edition_rule = 'itemised' AND country_iso3 <> 'WLD'
    GROUP BY year, stage, edition
    HAVING count(t_reo) = count(*)
) AS c
JOIN production_by_stage AS w ON w.year = c.year AND w.stage = c.stage AND w.country_iso3 = 'WLD'
CROSS JOIN ref_settings AS s
WHERE abs(c.countries_t_reo - w.t_reo) > s.world_total_tolerance * w.t_reo
"""

[columns]
year = "Calendar year."
country_iso3 = "ISO3 (WLD world total, OTH USGS 'Other countries')."
country = "Name as printed."
region = "Model region (ROW for countries in no region, WLD for the world total)."
stage = "Supply-chain stage."
t_reo = "Tonnes of REO from the chosen edition; null where it prints W or NA."
flag = "Flags of the figure."
edition = "The chosen edition."
edition_rule = "itemised: the year and stage come whole from the newest edition that lists at least five producers (a world table), countries it does not list are not taken from other editions; newest: no edition itemises the year, so each country's figure is the newest edition's."
published = "Its publication month (YYYYMM)."
editions_available = "How many editions report this year, country and stage (production_revisions shows them)."
source = "Publisher."
source_file = "Raw file of the figure."
*/
WITH itemised AS (
    -- Editions that list producers country by country for a year and stage: world tables.
    SELECT year, stage, edition, max(published) AS published
    FROM production_reported
    WHERE country_iso3 <> 'WLD'
    GROUP BY year, stage, edition
    HAVING count(*) >= 5
),
chosen AS (
    SELECT year, stage, edition FROM (
        SELECT i.*, row_number() OVER (PARTITION BY year, stage ORDER BY published DESC, edition DESC) AS pick
        FROM itemised AS i
    ) WHERE pick = 1
),
candidates AS (
    SELECT p.*, c.edition AS chosen_edition,
           row_number() OVER (PARTITION BY p.year, p.country_iso3, p.stage
                              ORDER BY p.published DESC, p.edition DESC) AS newest_rank,
           count(*) OVER (PARTITION BY p.year, p.country_iso3, p.stage) AS editions_available
    FROM production_reported AS p
    LEFT JOIN chosen AS c ON c.year = p.year AND c.stage = p.stage
)
SELECT p.year, p.country_iso3, p.country,
       CASE WHEN p.country_iso3 = 'WLD' THEN 'WLD' ELSE COALESCE(g.region, 'ROW') END AS region,
       p.stage, p.t_reo, p.flag, p.edition,
       CASE WHEN p.chosen_edition IS NULL THEN 'newest' ELSE 'itemised' END AS edition_rule,
       p.published, p.editions_available, p.source, p.source_file
FROM candidates AS p
LEFT JOIN ref_regions AS g ON g.iso3 = p.country_iso3
WHERE (p.chosen_edition IS NOT NULL AND p.edition = p.chosen_edition)
   OR (p.chosen_edition IS NULL AND p.newest_rank = 1)
ORDER BY p.year, p.country_iso3, p.stage
