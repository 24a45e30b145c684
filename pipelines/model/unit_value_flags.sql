/*
description = "Compound reports (HS 2846 and its subheadings) priced like concentrate or carbonate rather than separated compounds: used reports whose FOB unit value is below ref_settings.unit_value_flag_ratio of their reporter's average for the heading that year, and heavier than unit_value_flag_min_t. A list for an analyst: nothing moves stage here; a [[lane]] rule with its source does that (the Myanmar and Laos carbonate and the 2018-2019 US concentrate are lanes already, and show their lane stage)."
grain = ["year", "exporter", "importer", "reported_by", "hs_code", "quantity_unit", "source_file"]

[schema]
year = "Int32"
exporter = "Utf8"
importer = "Utf8"
reported_by = "Utf8"
hs_code = "Utf8"
usd_per_kg = "Float64"
reference_usd_per_kg = "Float64"
ratio = "Float64"

[checks]
not_null = ["usd_per_kg", "reference_usd_per_kg", "ratio", "stage"]

[columns]
year = "Calendar year."
exporter = "ISO3 of the exporter."
importer = "ISO3 of the importer."
reported_by = "Which side reported it."
hs_code = "HS code as reported."
quantity_unit = "Unit of the source quantity."
source_file = "Raw file of the report."
stage = "The stage the model books it at (a lane rule may already have moved it)."
stage_rule = "'code', or the lane rule that moved it."
gross_t = "Gross tonnes of product."
usd_per_kg = "value_fob_usd / gross_kg."
reference_usd_per_kg = "The reporter's average FOB unit value of the heading's used reports that year (total value / total weight)."
ratio = "usd_per_kg / reference_usd_per_kg."
*/
WITH reports AS (
    SELECT r.*, CASE WHEN r.reported_by = 'importer' THEN r.importer ELSE r.exporter END AS reporting_country
    FROM trade_reo AS r
    WHERE r.used_in_model AND hs_heading(r.hs_code) = '2846' AND r.gross_kg > 0 AND r.value_fob_usd > 0
),
reference AS (
    SELECT year, reported_by, reporting_country, sum(value_fob_usd) / sum(gross_kg) AS usd_per_kg
    FROM reports
    GROUP BY year, reported_by, reporting_country
)
SELECT r.year, r.exporter, r.importer, r.reported_by, r.hs_code, r.quantity_unit, r.source_file, r.stage, r.stage_rule,
       r.gross_kg / 1000.0 AS gross_t, r.value_fob_usd / r.gross_kg AS usd_per_kg, f.usd_per_kg AS reference_usd_per_kg,
       (r.value_fob_usd / r.gross_kg) / f.usd_per_kg AS ratio
FROM reports AS r
JOIN reference AS f
    ON f.year = r.year AND f.reported_by = r.reported_by AND f.reporting_country = r.reporting_country
CROSS JOIN ref_settings AS s
WHERE r.value_fob_usd / r.gross_kg < s.unit_value_flag_ratio * f.usd_per_kg
  AND r.gross_kg >= s.unit_value_flag_min_t * 1000
ORDER BY r.year, r.exporter, r.importer, r.reported_by, r.hs_code, r.quantity_unit, r.source_file
