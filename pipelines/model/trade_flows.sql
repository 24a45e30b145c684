/*
description = "The reconciled bilateral flow per year, exporter, importer and stage in t REO (low/mid/high): the importer's report where it has one, else the exporter's, with the rule recorded per row."
grain = ["year", "exporter", "importer", "stage"]

[schema]
year = "Int32"
exporter = "Utf8"
importer = "Utf8"
stage = "Utf8"
t_reo_low = "Float64"
t_reo = "Float64"
t_reo_high = "Float64"
rule = "Utf8"

[checks]
not_null = ["rule", "exporter_region", "importer_region"]
accepted_values = { rule = ["importer_preferred", "exporter_fallback", "single_report"] }

[checks.sql]
no_negative_flows = """
SELECT * FROM trade_flows WHERE t_reo_low < 0 OR gross_kg < 0
"""
reo_low_mid_high_ordered = """
SELECT * FROM trade_flows WHERE t_reo_low > t_reo OR t_reo > t_reo_high
"""
# Where an importer's own report of a stage is complete (partner rows adding up to its World row),
# the flows into it that the model uses, whichever side reported them, cannot weigh more than that
# World row: more means a flow counted twice or a partner report booked to the wrong stage.
imports_within_the_importers_world_row = """
WITH headings AS (SELECT DISTINCT stage, hs_heading(hs_code) AS heading FROM ref_hs_codes),
world AS (
    SELECT year, importer, stage, sum(world_kg) AS world_kg FROM (
        SELECT c.year, c.reporter AS importer, h.stage, c.hs_code, max(c.world_kg) AS world_kg
        FROM trade_partner_coverage AS c
        JOIN headings AS h ON h.heading = hs_heading(c.hs_code)
        WHERE c.flow = 'M' AND c.partners_complete AND c.world_kg > 0
        GROUP BY c.year, c.reporter, h.stage, c.hs_code
    ) GROUP BY year, importer, stage
)
SELECT f.year, f.importer, f.stage, sum(f.gross_kg) AS flows_kg, max(w.world_kg) AS world_kg
FROM trade_flows AS f
JOIN world AS w ON w.year = f.year AND w.importer = f.importer AND w.stage = f.stage
CROSS JOIN ref_settings AS s
GROUP BY f.year, f.importer, f.stage
HAVING sum(f.gross_kg) > max(w.world_kg) * (1 + max(s.partner_sum_tolerance))
"""

[columns]
year = "Calendar year."
exporter = "ISO3 of the exporter."
importer = "ISO3 of the importer."
exporter_region = "Model region of the exporter."
importer_region = "Model region of the importer."
stage = "Supply-chain stage of the goods."
rule = "importer_preferred: both sides reported, the importer's figure is used; exporter_fallback: only the exporter reported, or the importer's report of the stage is partial (see importer_gap) or has no t REO; single_report: only the importer reported."
importer_gap = "Why the importer's report of this stage is partial: it reported none of a heading of the stage that year (e.g. China books US concentrate under 2530, which is not in the data)."
gross_kg = "Weight of product (kg) of the side used."
value_fob_usd = "FOB-basis value (US$) of the side used."
t_reo_low = "Tonnes of REO, lower bound, of the side used; null when that side's weight or factor is unknown."
t_reo = "Tonnes of REO, central estimate."
t_reo_high = "Tonnes of REO, upper bound."
importer_t_reo = "The importer's report (t REO), null when it did not report."
exporter_t_reo = "The exporter's report (t REO), null when it did not report."
hs_codes = "HS codes of the side used, comma-joined."
sources = "Source files of the side used, comma-joined: each number traces back to trade_reo rows with these files."
editions = "Editions or retrievals of the side used."
*/
WITH stage_headings AS (
    -- The headings a reporter must have reported in a year for its report of a stage to be whole.
    SELECT DISTINCT stage, hs_heading(hs_code) AS heading FROM ref_hs_codes
),
reported_headings AS (
    SELECT DISTINCT year, reporter_iso3 AS reporter, hs_heading(hs_code) AS heading FROM trade_in_scope
    WHERE hs_heading(hs_code) IN (SELECT heading FROM stage_headings)
),
stage_coverage AS (
    SELECT y.year, y.reporter, h.stage,
           array_to_string(array_sort(array_agg(CASE WHEN r.heading IS NULL THEN h.heading END)), ',') AS missing
    FROM (SELECT DISTINCT year, reporter FROM reported_headings) AS y
    CROSS JOIN stage_headings AS h
    LEFT JOIN reported_headings AS r ON r.year = y.year AND r.reporter = y.reporter AND r.heading = h.heading
    GROUP BY y.year, y.reporter, h.stage
),
sides AS (
    SELECT
        year, exporter, importer, exporter_region, importer_region, stage, reported_by,
        sum(gross_kg) AS gross_kg,
        sum(value_fob_usd) AS value_fob_usd,
        -- A side's t REO is known only when every row carrying value has a t REO figure.
        CASE WHEN max(reo_unknown) = 0 THEN sum(t_reo_low) END AS t_reo_low,
        CASE WHEN max(reo_unknown) = 0 THEN sum(t_reo) END AS t_reo,
        CASE WHEN max(reo_unknown) = 0 THEN sum(t_reo_high) END AS t_reo_high,
        -- array_distinct(array_agg(…)) rather than array_agg(DISTINCT …): DataFusion aggregates
        -- several DISTINCT lists one group at a time, about 30 times slower at world-trade scale.
        array_to_string(array_sort(array_distinct(array_agg(hs_code))), ',') AS hs_codes,
        array_to_string(array_sort(array_distinct(array_agg(source_file))), ',') AS sources,
        array_to_string(array_sort(array_distinct(array_agg(edition))), ',') AS editions
    FROM (
        SELECT *, CASE WHEN t_reo IS NULL AND COALESCE(value_usd, 0) > 0 THEN 1 ELSE 0 END AS reo_unknown
        FROM trade_reo
        WHERE used_in_model
    )
    GROUP BY year, exporter, importer, exporter_region, importer_region, stage, reported_by
),
paired AS (
    SELECT
        COALESCE(i.year, x.year) AS year,
        COALESCE(i.exporter, x.exporter) AS exporter,
        COALESCE(i.importer, x.importer) AS importer,
        COALESCE(i.exporter_region, x.exporter_region) AS exporter_region,
        COALESCE(i.importer_region, x.importer_region) AS importer_region,
        COALESCE(i.stage, x.stage) AS stage,
        CASE
            WHEN i.year IS NULL THEN 'exporter_fallback'
            WHEN x.year IS NULL THEN 'single_report'
            WHEN i.t_reo IS NULL AND x.t_reo IS NOT NULL THEN 'exporter_fallback'
            WHEN COALESCE(i.i_missing, '') <> '' THEN 'exporter_fallback'
            ELSE 'importer_preferred'
        END AS rule,
        CASE WHEN COALESCE(i.i_missing, '') <> '' THEN concat('importer reported no ', i.i_missing, ' that year')
        END AS importer_gap,
        i.t_reo AS importer_t_reo,
        x.t_reo AS exporter_t_reo
    FROM (
        SELECT s.*, c.missing AS i_missing
        FROM sides AS s
        LEFT JOIN stage_coverage AS c ON c.year = s.year AND c.reporter = s.importer AND c.stage = s.stage
        WHERE s.reported_by = 'importer'
    ) AS i
    FULL OUTER JOIN (SELECT * FROM sides WHERE reported_by = 'exporter') AS x
        ON i.year = x.year AND i.exporter = x.exporter AND i.importer = x.importer AND i.stage = x.stage
)
-- The figures of the side the rule chose.
SELECT
    p.year, p.exporter, p.importer, p.exporter_region, p.importer_region, p.stage, p.rule, p.importer_gap,
    s.gross_kg, s.value_fob_usd, s.t_reo_low, s.t_reo, s.t_reo_high,
    p.importer_t_reo, p.exporter_t_reo,
    s.hs_codes, s.sources, s.editions
FROM paired AS p
JOIN sides AS s
    ON s.year = p.year AND s.exporter = p.exporter AND s.importer = p.importer AND s.stage = p.stage
    AND s.reported_by = CASE WHEN p.rule = 'exporter_fallback' THEN 'exporter' ELSE 'importer' END
ORDER BY p.year, p.exporter, p.importer, p.stage
