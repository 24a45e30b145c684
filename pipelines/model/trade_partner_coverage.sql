/*
description = "For every report of a code in ref_hs_codes that has a World row: the World total beside the sum of its partner rows. Partner rows must never exceed the World row; where they match it the report's partner breakdown is complete."
grain = ["year", "reporter", "flow", "hs_code", "source_file"]

[schema]
year = "Int32"
world_value_usd = "Float64"
partners_value_usd = "Float64"
partners_complete = "Boolean"

[checks]
not_null = ["world_value_usd"]

[checks.sql]
# World rows are totals over partners: partner rows adding up to more than the World row (beyond
# rounding) mean double-counted partners or a mis-read file.
partner_sums_within_world_row = """
SELECT c.* FROM trade_partner_coverage AS c CROSS JOIN ref_settings AS s
WHERE c.partners_value_usd > c.world_value_usd * (1 + s.partner_sum_tolerance)
   OR c.partners_kg > c.world_kg * (1 + s.partner_sum_tolerance)
"""

[columns]
year = "Calendar year."
reporter = "ISO3 of the reporting country."
flow = "M imports, X exports."
hs_code = "HS code of the report."
world_value_usd = "Value of the report's World row."
partners_value_usd = "Sum of the values of its partner rows, areas n.e.s. and free zones included (null when it has none)."
areas_nes_value_usd = "Part of partners_value_usd booked to areas n.e.s., free zones and other non-country partners: kept out of bilateral flows (trade_reo)."
world_kg = "Net weight of the World row; null where the World row carries no weight (Comtrade 1993-1999)."
partners_kg = "Sum of the partner rows' weights."
partner_rows = "Number of partner rows."
value_share = "partners_value_usd / world_value_usd."
partners_complete = "True when partner values add up to the World value within ref_settings.partner_sum_tolerance: the breakdown can be summed. False means the source holds only some partners (e.g. a query for two partners)."
source_file = "Raw file of the report."
edition = "Edition or retrieval of the report."
*/
WITH keyed AS (
    SELECT
        year, reporter_iso3 AS reporter, flow, hs_code,
        source_file, edition, is_aggregate, partner_code, value_usd,
        CASE WHEN net_weight_kg > 0 THEN net_weight_kg END AS kg
    FROM trade_in_scope
    -- Only the model's codes (a full world-trade table holds every code; see BENCHMARKS.md).
    WHERE hs_code IN (SELECT hs_code FROM ref_hs_codes)
),
world AS (
    SELECT year, reporter, flow, hs_code, source_file, edition,
           sum(value_usd) AS world_value_usd, sum(kg) AS world_kg
    FROM keyed WHERE is_aggregate AND partner_code = 0
    GROUP BY year, reporter, flow, hs_code, source_file, edition
),
partners AS (
    SELECT year, reporter, flow, hs_code, source_file,
           sum(value_usd) AS partners_value_usd, sum(kg) AS partners_kg, count(*) AS partner_rows,
           sum(CASE WHEN is_aggregate THEN value_usd END) AS areas_nes_value_usd
    FROM keyed WHERE partner_code <> 0
    GROUP BY year, reporter, flow, hs_code, source_file
)
SELECT
    w.year, w.reporter, w.flow, w.hs_code,
    w.world_value_usd, p.partners_value_usd, w.world_kg, p.partners_kg,
    COALESCE(p.partner_rows, 0) AS partner_rows, p.areas_nes_value_usd,
    CASE WHEN w.world_value_usd > 0 THEN p.partners_value_usd / w.world_value_usd END AS value_share,
    COALESCE(abs(p.partners_value_usd - w.world_value_usd) <= w.world_value_usd * s.partner_sum_tolerance, false)
        AS partners_complete,
    w.source_file, w.edition
FROM world AS w
CROSS JOIN ref_settings AS s
LEFT JOIN partners AS p
    ON p.year = w.year AND p.reporter = w.reporter AND p.flow = w.flow AND p.hs_code = w.hs_code
    AND p.source_file = w.source_file
ORDER BY w.year, w.reporter, w.flow, w.hs_code, w.source_file
