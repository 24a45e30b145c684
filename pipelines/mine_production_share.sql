/*
description = "Each country's mine production and its share of the world total, per year and per edition that reports both (t REO)."
grain = ["year", "edition", "country_iso3"]

[schema]
year = "Int32"
edition = "Utf8"
country_iso3 = "Utf8"
t_reo = "Float64"
world_t_reo = "Float64"
share_of_world = "Float64"

[checks]
not_null = ["world_t_reo"]
accepted_range = { share_of_world = { min = 0, max = 1 } }

[checks.sql]
# USGS rounds world totals (to two or three significant digits), so the countries of one edition
# may add up to a little more than the printed world total, never to much more.
countries_within_rounding_of_world = """
SELECT year, edition, sum(t_reo) AS countries_t_reo, max(world_t_reo) AS world_t_reo
FROM mine_production_share
GROUP BY year, edition
HAVING sum(t_reo) > 1.03 * max(world_t_reo)
"""

[columns]
year = "Calendar year of production."
edition = "Publication the figures come from (MCS2023, MYB2022, DS140, …); editions revise earlier years, so each is kept."
country_iso3 = "ISO3 code of the producing country; OTH for USGS's 'Other countries'."
country = "Country name as the edition printed it."
t_reo = "Mine production in tonnes of rare-earth oxide equivalent; null where the edition prints NA or W."
world_t_reo = "The edition's world total for that year (rounded as printed)."
share_of_world = "t_reo / world_t_reo; null where either is unknown."
flag = "Flags of the country figure: e estimated, r revised, W withheld, NA not available, zero a printed dash."
source_file = "Raw file the country figure was read from."
*/
WITH world AS (
    SELECT year, edition, t_reo AS world_t_reo
    FROM production
    WHERE stage = 'mining' AND country_iso3 = 'WLD'
)
SELECT
    p.year,
    p.edition,
    p.country_iso3,
    p.country,
    p.t_reo,
    w.world_t_reo,
    CASE WHEN w.world_t_reo > 0 THEN p.t_reo / w.world_t_reo END AS share_of_world,
    p.flag,
    p.source_file
FROM production AS p
JOIN world AS w ON p.year = w.year AND p.edition = w.edition
WHERE p.stage = 'mining' AND p.country_iso3 <> 'WLD'
ORDER BY p.year, p.edition, p.country_iso3
