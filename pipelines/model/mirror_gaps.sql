/*
description = "Mirror statistics: for each lane where both sides reported something in a year, the exporter's and the importer's report per stage and HS code, and the gap between them in t REO and percent. Cross-code and cross-stage mismatches show as one-sided rows naming what the other side reported."
grain = ["year", "exporter", "importer", "stage", "hs_code"]

[schema]
year = "Int32"
exporter = "Utf8"
importer = "Utf8"
hs_code = "Utf8"
stage = "Utf8"
gap_t_reo = "Float64"
gap_pct = "Float64"
status = "Utf8"

[checks]
accepted_values = { status = ["both", "exporter_only", "importer_only"] }

[columns]
year = "Calendar year."
exporter = "ISO3 of the exporter."
importer = "ISO3 of the importer."
stage = "Supply-chain stage the reports were assigned to."
hs_code = "HS code reported."
status = "both: each side reported this stage and code; exporter_only / importer_only: one side did (see other_side_reports for what the other side booked instead)."
exporter_kg = "Exporter-reported weight (kg)."
importer_kg = "Importer-reported weight (kg)."
exporter_t_reo = "Exporter-reported t REO (central factor)."
importer_t_reo = "Importer-reported t REO (central factor)."
gap_t_reo = "importer_t_reo - exporter_t_reo; null unless both reported."
gap_pct = "gap_t_reo / exporter_t_reo × 100."
kg_gap_pct = "(importer_kg - exporter_kg) / exporter_kg × 100: the gap before any factor."
exporter_value_fob_usd = "Exporter-reported value (FOB or FAS, US$)."
importer_value_usd = "Importer-reported value as reported (CIF for Comtrade importers, customs value for the US)."
importer_value_fob_usd = "Importer-reported value on an FOB basis (CIF / ref_settings.cif_fob_factor)."
value_gap_pct = "(importer_value_fob_usd - exporter_value_fob_usd) / exporter_value_fob_usd × 100."
other_side_reports = "For one-sided rows: what the other side reported on this lane and year under other stages or codes (stage:code), i.e. a cross-code or cross-stage mismatch."
exporter_source_file = "File of the exporter's report."
importer_source_file = "File of the importer's report."
*/
WITH sides AS (
    SELECT year, exporter, importer, stage, hs_code, reported_by,
           sum(gross_kg) AS kg, sum(t_reo) AS t_reo, sum(value_usd) AS value_usd, sum(value_fob_usd) AS value_fob_usd,
           array_to_string(array_sort(array_distinct(array_agg(source_file))), ',') AS source_file
    FROM trade_reo
    WHERE used_in_model
    GROUP BY year, exporter, importer, stage, hs_code, reported_by
),
two_sided_lanes AS (
    SELECT year, exporter, importer FROM sides
    GROUP BY year, exporter, importer
    HAVING count(DISTINCT reported_by) = 2
),
lane_reports AS (
    SELECT year, exporter, importer, reported_by,
           array_to_string(array_sort(array_distinct(array_agg(concat(stage, ':', hs_code)))), ',') AS reports
    FROM sides GROUP BY year, exporter, importer, reported_by
),
paired AS (
    SELECT
        COALESCE(x.year, i.year) AS year, COALESCE(x.exporter, i.exporter) AS exporter,
        COALESCE(x.importer, i.importer) AS importer, COALESCE(x.stage, i.stage) AS stage,
        COALESCE(x.hs_code, i.hs_code) AS hs_code,
        CASE WHEN x.year IS NOT NULL AND i.year IS NOT NULL THEN 'both'
             WHEN x.year IS NOT NULL THEN 'exporter_only' ELSE 'importer_only' END AS status,
        x.kg AS exporter_kg, i.kg AS importer_kg, x.t_reo AS exporter_t_reo, i.t_reo AS importer_t_reo,
        x.value_fob_usd AS exporter_value_fob_usd, i.value_usd AS importer_value_usd,
        i.value_fob_usd AS importer_value_fob_usd,
        x.source_file AS exporter_source_file, i.source_file AS importer_source_file
    FROM (SELECT * FROM sides WHERE reported_by = 'exporter') AS x
    FULL OUTER JOIN (SELECT * FROM sides WHERE reported_by = 'importer') AS i
        ON x.year = i.year AND x.exporter = i.exporter AND x.importer = i.importer
        AND x.stage = i.stage AND x.hs_code = i.hs_code
)
SELECT
    p.year, p.exporter, p.importer, p.stage, p.hs_code, p.status,
    p.exporter_kg, p.importer_kg, p.exporter_t_reo, p.importer_t_reo,
    p.importer_t_reo - p.exporter_t_reo AS gap_t_reo,
    CASE WHEN p.exporter_t_reo > 0 THEN (p.importer_t_reo - p.exporter_t_reo) / p.exporter_t_reo * 100 END AS gap_pct,
    CASE WHEN p.exporter_kg > 0 THEN (p.importer_kg - p.exporter_kg) / p.exporter_kg * 100 END AS kg_gap_pct,
    p.exporter_value_fob_usd, p.importer_value_usd, p.importer_value_fob_usd,
    CASE WHEN p.exporter_value_fob_usd > 0
         THEN (p.importer_value_fob_usd - p.exporter_value_fob_usd) / p.exporter_value_fob_usd * 100 END AS value_gap_pct,
    CASE WHEN p.status = 'exporter_only' THEN li.reports WHEN p.status = 'importer_only' THEN lx.reports END
        AS other_side_reports,
    p.exporter_source_file, p.importer_source_file
FROM paired AS p
JOIN two_sided_lanes AS t ON t.year = p.year AND t.exporter = p.exporter AND t.importer = p.importer
LEFT JOIN lane_reports AS lx
    ON lx.year = p.year AND lx.exporter = p.exporter AND lx.importer = p.importer AND lx.reported_by = 'exporter'
LEFT JOIN lane_reports AS li
    ON li.year = p.year AND li.exporter = p.exporter AND li.importer = p.importer AND li.reported_by = 'importer'
ORDER BY p.year, p.exporter, p.importer, p.stage, p.hs_code
