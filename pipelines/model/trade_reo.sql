/*
description = "Every bilateral trade report of a code in ref_hs_codes (no World or aggregate partners; rows of other codes, as in a full world-trade table, are left out) as exporter → importer, with its stage, gross weight, FOB-comparable value and tonnes of REO (low/mid/high), and whether the model uses it."
grain = ["year", "exporter", "importer", "reported_by", "hs_code", "quantity_unit", "source_file"]

[schema]
year = "Int32"
exporter = "Utf8"
importer = "Utf8"
reported_by = "Utf8"
hs_code = "Utf8"
stage = "Utf8"
gross_kg = "Float64"
value_usd = "Float64"
value_fob_usd = "Float64"
t_reo_low = "Float64"
t_reo = "Float64"
t_reo_high = "Float64"
used_in_model = "Boolean"

[checks]
not_null = ["stage", "exporter", "importer", "source_file", "edition"]
accepted_values = { reported_by = ["exporter", "importer"], stage = ["mining", "separation", "metal", "magnet"] }
relationships = { factor_code = "reo_factors.hs_code" }

[checks.sql]
no_negative_quantities = """
SELECT * FROM trade_reo WHERE gross_kg < 0 OR value_usd < 0 OR t_reo_low < 0
"""
reo_low_mid_high_ordered = """
SELECT * FROM trade_reo WHERE t_reo_low > t_reo OR t_reo > t_reo_high
"""

[columns]
year = "Calendar year of the trade."
exporter = "ISO3 of the exporting country (the reporter for exports, the partner for imports)."
importer = "ISO3 of the importing country."
exporter_region = "Model region of the exporter (config/model.toml; ROW for every other country)."
importer_region = "Model region of the importer."
reported_by = "Which side's customs reported this row: exporter or importer."
reporter = "ISO3 of the reporting country."
flow = "Flow code as reported: M imports, X exports, DX US domestic exports."
hs_code = "HS code as reported (heading or subheading)."
stage = "Supply-chain stage of the goods: the code's stage, or the lane rule's (see stage_rule)."
stage_rule = "'code' when the code's stage applies; otherwise the config lane rule that moved the report to another stage."
factor_code = "The HS code whose REO factor converts this report (differs from hs_code under a lane rule)."
quantity_unit = "Unit of the source quantity (kg, number, none); a source may split one code's value by unit."
gross_kg = "Weight of product in kg as reported; null when unknown (no weight, or a zero weight beside a positive value)."
weight_status = "reported, zero (a reported zero with zero value), missing (no weight for this row)."
value_usd = "Trade value in US dollars as reported."
value_basis = "CIF (importer, incl. freight and insurance), FOB, FAS, or CUSTOMS (US customs value, FOB-like)."
value_fob_usd = "value_usd on an FOB basis: CIF values divided by ref_settings.cif_fob_factor; others as reported."
reo_low = "Factor used for t_reo_low (t REO per t product)."
reo_mid = "Factor used for t_reo."
reo_high = "Factor used for t_reo_high."
t_reo_low = "gross_kg / 1000 × reo_low: tonnes of REO, lower bound; null when weight or factor is unknown."
t_reo = "gross_kg / 1000 × reo_mid: tonnes of REO, central estimate."
t_reo_high = "gross_kg / 1000 × reo_high: tonnes of REO, upper bound."
is_estimated = "The source flags the figure as estimated."
used_in_model = "True when this row is the report the model uses for its side of the flow (see not_used_reason): per year, exporter, importer, side and heading, one file, and in it either the heading or its subheadings, never both."
not_used_reason = "Why a report is kept but not used, naming what is used instead: another file reports the same side and heading (a file whose codes have REO factors first, then ref_settings.source_precedence, then the newest retrieval); or, in one file, the heading and its subheadings (subheadings are used when they add up to the heading within ref_settings.partner_sum_tolerance, or when the heading has no REO factor because it mixes other goods; otherwise the heading)."
source = "Publisher of the report (comtrade, usitc_dataweb)."
source_file = "Raw file the row was read from."
edition = "Edition or retrieval of the source (e.g. comtrade:2026-07-10, USITC download)."
*/
WITH settings AS (
    SELECT cif_fob_factor, string_to_array(source_precedence, ',') AS precedence FROM ref_settings
),
reports AS (
    SELECT
        t.*,
        CASE WHEN t.flow = 'M' THEN t.partner_iso3 ELSE t.reporter_iso3 END AS exporter,
        CASE WHEN t.flow = 'M' THEN t.reporter_iso3 ELSE t.partner_iso3 END AS importer,
        CASE WHEN t.flow = 'M' THEN 'importer' ELSE 'exporter' END AS reported_by,
        CASE
            WHEN t.net_weight_kg > 0 THEN 'reported'
            WHEN t.net_weight_kg = 0 AND COALESCE(t.value_usd, 0) = 0 THEN 'zero'
            WHEN t.net_weight_kg IS NULL AND t.qty_unit IN ('kg', 'kilograms') AND t.qty IS NOT NULL THEN 'reported'
            ELSE 'missing'
        END AS weight_status
    FROM trade_in_scope AS t
    WHERE NOT t.is_aggregate AND t.flow IN ('M', 'X', 'DX') AND t.partner_iso3 IS NOT NULL
      AND t.hs_code IN (SELECT hs_code FROM ref_hs_codes)
),
classified AS (
    SELECT
        r.*,
        COALESCE(l.stage, c.stage) AS model_stage,
        CASE WHEN l.stage IS NULL THEN 'code' ELSE concat('lane: ', l.reason) END AS stage_rule,
        COALESCE(l.factor_code, r.hs_code) AS factor_code,
        COALESCE(r.qty_unit, 'none') AS quantity_unit,
        -- A reported weight is the net weight, or a quantity kept in kg; a zero weight counts only
        -- beside a zero value.
        CASE r.weight_status WHEN 'reported' THEN COALESCE(r.net_weight_kg, r.qty) WHEN 'zero' THEN 0.0 END AS gross_kg,
        CASE WHEN r.value_basis = 'CIF' THEN r.value_usd / s.cif_fob_factor ELSE r.value_usd END AS value_fob_usd,
        COALESCE(array_position(s.precedence, r.source), 1000) AS source_rank
    FROM reports AS r
    CROSS JOIN settings AS s
    LEFT JOIN ref_hs_codes AS c ON c.hs_code = r.hs_code
    LEFT JOIN ref_lanes AS l
        ON l.exporter = r.exporter AND l.importer = r.importer AND l.hs_code = r.hs_code
        AND (l.reported_by = r.reported_by OR l.reported_by = 'both')
        AND r.year >= l.first_year AND (l.last_year IS NULL OR r.year <= l.last_year)
),
with_factors AS (
    SELECT c.*, hs_heading(c.hs_code) AS heading, f.reo_mid IS NOT NULL AS has_factor,
           hf.reo_mid IS NOT NULL AS heading_has_factor
    FROM classified AS c
    LEFT JOIN reo_factors AS f ON f.hs_code = c.factor_code
    LEFT JOIN reo_factors AS hf ON hf.hs_code = hs_heading(c.hs_code)
),
file_facts AS (
    -- What each file reports of one side, lane, year and heading (grouped, not windowed: a
    -- window over tens of thousands of small partitions is slow in DataFusion).
    SELECT year, exporter, importer, reported_by, heading, source_file,
           max(CASE WHEN has_factor THEN 1 ELSE 0 END) AS file_has_factor,
           max(CASE WHEN length(hs_code) = 4 THEN 1 ELSE 0 END) AS file_has_heading,
           max(CASE WHEN length(hs_code) > 4 THEN 1 ELSE 0 END) AS file_has_subheadings,
           sum(CASE WHEN length(hs_code) = 4 THEN value_usd END) AS heading_value,
           sum(CASE WHEN length(hs_code) > 4 THEN value_usd END) AS subheadings_value,
           min(source_rank) AS source_rank, max(edition) AS file_edition, max(source) AS file_source
    FROM with_factors
    GROUP BY year, exporter, importer, reported_by, heading, source_file
),
preferred AS (
    -- One file per side, lane, year and heading: a file whose codes carry REO factors first (a
    -- heading without a factor mixes other goods), then the source precedence, then the newest
    -- retrieval.
    SELECT year, exporter, importer, reported_by, heading,
           first_value(source_file ORDER BY file_has_factor DESC, source_rank, file_edition DESC, source_file)
               AS preferred_source_file,
           first_value(concat(file_source, ' ', source_file)
                       ORDER BY file_has_factor DESC, source_rank, file_edition DESC, source_file) AS preferred_file
    FROM file_facts
    GROUP BY year, exporter, importer, reported_by, heading
),
ranked AS (
    SELECT w.*, f.file_has_factor, f.file_has_heading, f.file_has_subheadings, f.heading_value,
           f.subheadings_value,
           CASE WHEN w.source_file = p.preferred_source_file THEN 1 ELSE 2 END AS file_rank, p.preferred_file
    FROM with_factors AS w
    JOIN file_facts AS f
        ON f.year = w.year AND f.exporter = w.exporter AND f.importer = w.importer
        AND f.reported_by = w.reported_by AND f.heading = w.heading AND f.source_file = w.source_file
    JOIN preferred AS p
        ON p.year = w.year AND p.exporter = w.exporter AND p.importer = w.importer
        AND p.reported_by = w.reported_by AND p.heading = w.heading
),
chosen AS (
    SELECT r.*,
           CASE
               WHEN r.file_has_heading = 0 OR r.file_has_subheadings = 0 THEN 'alone'
               WHEN NOT r.heading_has_factor THEN 'subheadings'
               WHEN abs(r.subheadings_value - r.heading_value) <= s.partner_sum_tolerance * r.heading_value
                   THEN 'subheadings'
               ELSE 'heading'
           END AS level_used
    FROM ranked AS r CROSS JOIN ref_settings AS s
),
with_subheadings AS (
    SELECT c.*,
           c.file_rank = 1 AND (
               c.level_used = 'alone'
               OR (c.level_used = 'heading' AND length(c.hs_code) = 4)
               OR (c.level_used = 'subheadings' AND length(c.hs_code) > 4)
           ) AS used,
           CASE
               WHEN c.file_rank > 1 THEN concat('same side and heading reported by ', c.preferred_file, ', which is used')
               WHEN c.level_used = 'subheadings' AND length(c.hs_code) = 4 AND NOT c.heading_has_factor
                   THEN 'heading mixes other goods (no REO factor): its rare-earth subheadings in the same file are used'
               WHEN c.level_used = 'subheadings' AND length(c.hs_code) = 4
                   THEN 'its subheadings in the same file add up to it and are used'
               WHEN c.level_used = 'heading' AND length(c.hs_code) > 4
                   THEN 'the subheadings in this file do not add up to their heading, which is used'
           END AS reason
    FROM chosen AS c
)
SELECT
    w.year,
    w.exporter,
    w.importer,
    COALESCE(xe.region, 'ROW') AS exporter_region,
    COALESCE(xi.region, 'ROW') AS importer_region,
    w.reported_by,
    w.reporter_iso3 AS reporter,
    w.flow,
    w.hs_code,
    w.model_stage AS stage,
    w.stage_rule,
    w.factor_code,
    w.quantity_unit,
    w.gross_kg,
    w.weight_status,
    w.value_usd,
    w.value_basis,
    w.value_fob_usd,
    f.reo_low,
    f.reo_mid,
    f.reo_high,
    w.gross_kg / 1000.0 * f.reo_low AS t_reo_low,
    w.gross_kg / 1000.0 * f.reo_mid AS t_reo,
    w.gross_kg / 1000.0 * f.reo_high AS t_reo_high,
    w.is_estimated,
    w.used AS used_in_model,
    w.reason AS not_used_reason,
    w.source,
    w.source_file,
    w.edition
FROM with_subheadings AS w
LEFT JOIN reo_factors AS f ON f.hs_code = w.factor_code
LEFT JOIN ref_regions AS xe ON xe.iso3 = w.exporter
LEFT JOIN ref_regions AS xi ON xi.iso3 = w.importer
ORDER BY w.year, w.exporter, w.importer, w.reported_by, w.hs_code, w.quantity_unit, w.source_file
