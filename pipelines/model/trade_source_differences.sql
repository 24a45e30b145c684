/*
description = "Where two sources (or two retrievals) report the same side of one flow, the report the model uses beside each other one, and how far apart they are."
grain = ["year", "exporter", "importer", "reported_by", "hs_code", "other_source_file"]

[schema]
year = "Int32"
used_kg = "Float64"
other_kg = "Float64"
kg_difference_pct = "Float64"

[columns]
year = "Calendar year."
exporter = "ISO3 of the exporter."
importer = "ISO3 of the importer."
reported_by = "The side both sources report: exporter or importer."
hs_code = "HS code both report."
stage = "Stage of the flow."
used_source = "Source the model uses (first in ref_settings.source_precedence, then newest retrieval)."
used_source_file = "File of the used report."
used_kg = "Weight in the used report (kg)."
used_value_usd = "Value in the used report (US$, its own basis)."
other_source = "The other source."
other_source_file = "File of the other report."
other_kg = "Weight in the other report (kg)."
other_value_usd = "Value in the other report (US$)."
kg_difference_pct = "(other_kg - used_kg) / used_kg × 100."
value_difference_pct = "(other_value_usd - used_value_usd) / used_value_usd × 100."
*/
WITH sides AS (
    SELECT year, exporter, importer, reported_by, hs_code, stage, source, source_file, used_in_model,
           not_used_reason, sum(gross_kg) AS kg, sum(value_usd) AS value_usd
    FROM trade_reo
    WHERE not_used_reason IS NULL OR not_used_reason NOT LIKE 'heading%'
    GROUP BY year, exporter, importer, reported_by, hs_code, stage, source, source_file, used_in_model, not_used_reason
)
SELECT
    u.year, u.exporter, u.importer, u.reported_by, u.hs_code, u.stage,
    u.source AS used_source, u.source_file AS used_source_file, u.kg AS used_kg, u.value_usd AS used_value_usd,
    o.source AS other_source, o.source_file AS other_source_file, o.kg AS other_kg, o.value_usd AS other_value_usd,
    CASE WHEN u.kg > 0 THEN (o.kg - u.kg) / u.kg * 100 END AS kg_difference_pct,
    CASE WHEN u.value_usd > 0 THEN (o.value_usd - u.value_usd) / u.value_usd * 100 END AS value_difference_pct
FROM sides AS u
JOIN sides AS o
    ON o.year = u.year AND o.exporter = u.exporter AND o.importer = u.importer
    AND o.reported_by = u.reported_by AND o.hs_code = u.hs_code AND NOT o.used_in_model
WHERE u.used_in_model
ORDER BY u.year, u.exporter, u.importer, u.reported_by, u.hs_code, o.source_file
