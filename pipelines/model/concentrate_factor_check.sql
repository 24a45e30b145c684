/*
description = "Cross-check of the concentrate REO factor (docs/method.md): USGS's US exports of ores and compounds in t REO divided by the gross tonnes of US concentrate shipped to China. China's own 253090 imports from the US are the preferred denominator; where the data lack them, the US-reported shipments (booked under 2846) are used, and the basis says so."
grain = ["year"]

[schema]
year = "Int32"
usgs_exports_t_reo = "Float64"
shipments_gross_t = "Float64"
implied_factor = "Float64"

[checks]
warn = ["sql:implied_factor_within_configured_range"]

[checks.sql]
# Warns (does not fail) when the implied factor leaves the configured 253090 range.
implied_factor_within_configured_range = """
SELECT c.* FROM concentrate_factor_check AS c JOIN reo_factors AS f ON f.hs_code = '253090'
WHERE c.implied_factor < f.reo_low OR c.implied_factor > f.reo_high
"""

[columns]
year = "Calendar year with both figures."
usgs_exports_t_reo = "USGS salient 'exports of ores and compounds' (t REO), newest edition; covers all destinations."
usgs_edition = "Edition of that figure."
shipments_gross_t = "Gross tonnes of US concentrate shipments to China."
shipments_basis = "china_253090_imports (China's customs, ore) or us_reported_exports (US customs, booked under 2846)."
shipments_source_file = "File the shipments come from."
implied_factor = "usgs_exports_t_reo / shipments_gross_t: t REO per t concentrate (config range for 253090: 0.53-0.70)."
*/
WITH usgs AS (
    SELECT year, t_reo AS usgs_exports_t_reo, edition AS usgs_edition FROM (
        SELECT s.year, s.value AS t_reo, s.edition,
               row_number() OVER (PARTITION BY s.year ORDER BY e.published DESC, s.edition DESC) AS pick
        FROM salient AS s LEFT JOIN ref_editions AS e ON e.edition = s.edition
        WHERE s.commodity = 'rare_earths' AND s.statistic = 'exports_ores_compounds' AND s.value IS NOT NULL
    ) WHERE pick = 1
),
shipments AS (
    -- China's ore (253090) imports from the US where the data have them, else the US-reported
    -- shipments of the mining-stage lane.
    SELECT year,
           CASE WHEN china_ore_kg > 0 THEN china_ore_kg ELSE us_reported_kg END / 1000.0 AS shipments_gross_t,
           CASE WHEN china_ore_kg > 0 THEN 'china_253090_imports' ELSE 'us_reported_exports' END AS shipments_basis,
           CASE WHEN china_ore_kg > 0 THEN china_ore_file ELSE us_reported_file END AS shipments_source_file
    FROM (
        SELECT year,
               sum(CASE WHEN china_ore THEN gross_kg END) AS china_ore_kg,
               max(CASE WHEN china_ore THEN source_file END) AS china_ore_file,
               sum(CASE WHEN reported_by = 'exporter' THEN gross_kg END) AS us_reported_kg,
               max(CASE WHEN reported_by = 'exporter' THEN source_file END) AS us_reported_file
        FROM (
            SELECT *, (hs_code LIKE '2530%' AND reported_by = 'importer') AS china_ore
            FROM trade_reo
            WHERE used_in_model AND exporter = 'USA' AND importer = 'CHN' AND stage = 'mining'
        )
        GROUP BY year
    )
)
SELECT u.year, u.usgs_exports_t_reo, u.usgs_edition, s.shipments_gross_t, s.shipments_basis, s.shipments_source_file,
       u.usgs_exports_t_reo / s.shipments_gross_t AS implied_factor
FROM usgs AS u
JOIN shipments AS s ON s.year = u.year
WHERE s.shipments_gross_t > 0
ORDER BY u.year
