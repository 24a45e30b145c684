/*
description = "The uncertain inputs of every unregistered flow U (stage_balance rows with a U), one row per input: each trade report behind the region's imports and exports of the stage (the side trade_flows uses), with its gross weight, REO factor range and weight uncertainty; and the production figures of the stage and of the next stage, with theirs. Stated assumptions are exact and are not listed. unregistered_uncertainty draws these."
grain = ["region", "year", "stage", "measurement_key"]

[schema]
region = "Utf8"
year = "Int32"
stage = "Utf8"
input = "Utf8"
kind = "Utf8"
sign = "Float64"
relative_sd = "Float64"

[checks]
not_null = ["input", "kind", "sign", "relative_sd", "measurement_key", "rule"]

[columns]
region = "Model region of the balance row."
year = "Calendar year."
stage = "Supply-chain stage."
input = "What the input is, as the driver tables name it: 'imports <factor code>', 'exports <factor code>', 'production', 'next-stage production'."
kind = "trade (a report: gross tonnes × REO factor) or production (a figure in t REO)."
sign = "+1 when the input is registered use (exports, next-stage production), -1 when it is registered supply (imports, production)."
gross_t = "Gross tonnes of product of the report (trade)."
factor_key = "The REO factor drawn for it ('factor:<code>'): one draw per code, shared by every report converted with it."
reo_low = "The factor's range: low."
reo_mid = "Central factor."
reo_high = "High."
value_t_reo = "The figure in t REO at the central factor."
measurement_key = "What is drawn for the figure's own error: one trade report (its side, lane, code and file) or one production figure (region, year, stage); the same report or figure gets the same draw in every balance it enters."
relative_sd = "One standard deviation of the figure's own error, as a fraction ([[uncertainty]] of config/model.toml)."
rule = "The [[uncertainty]] rule applied (input and figures)."
*/
WITH sd AS (
    SELECT input, figures, relative_sd FROM ref_uncertainty
),
balances AS (
    SELECT region, year, stage, production_t_reo, next_stage_input_t_reo,
           CASE stage WHEN 'mining' THEN 'separation' WHEN 'separation' THEN 'metal' WHEN 'metal' THEN 'magnet'
                      ELSE 'demand' END AS next_stage
    FROM stage_balance WHERE unregistered_t_reo IS NOT NULL
),
reports AS (
    -- The reports behind each flow between two regions, on the side trade_flows uses.
    SELECT f.year, f.stage, f.exporter_region, f.importer_region, r.factor_code, r.gross_kg / 1000.0 AS gross_t,
           r.t_reo, r.reo_low, r.reo_mid, r.reo_high, COALESCE(r.is_estimated, false) AS is_estimated,
           concat_ws('|', 'report', CAST(r.year AS VARCHAR), r.exporter, r.importer, r.reported_by, r.hs_code,
                     r.quantity_unit, r.source_file) AS measurement_key
    FROM trade_flows AS f
    JOIN trade_reo AS r
        ON r.year = f.year AND r.exporter = f.exporter AND r.importer = f.importer AND r.stage = f.stage
        AND r.used_in_model
        AND r.reported_by = CASE WHEN f.rule = 'exporter_fallback' THEN 'exporter' ELSE 'importer' END
    WHERE f.exporter_region <> f.importer_region AND f.t_reo IS NOT NULL AND r.t_reo IS NOT NULL
),
trade_inputs AS (
    SELECT b.region, b.year, b.stage, concat(t.direction, ' ', r.factor_code) AS input, 'trade' AS kind,
           t.sign, r.gross_t, concat('factor:', r.factor_code) AS factor_key, r.reo_low, r.reo_mid, r.reo_high,
           r.t_reo AS value_t_reo, r.measurement_key,
           CASE WHEN r.is_estimated THEN 'trade_weight estimated' ELSE 'trade_weight reported' END AS rule
    FROM balances AS b
    JOIN (SELECT 'imports' AS direction, -1.0 AS sign UNION ALL SELECT 'exports', 1.0) AS t ON true
    JOIN reports AS r
        ON r.year = b.year AND r.stage = b.stage
        AND b.region = CASE t.direction WHEN 'imports' THEN r.importer_region ELSE r.exporter_region END
),
production_figures AS (
    -- A region's figure of a stage: its kind is the least certain of its countries' figures.
    SELECT region, year, stage,
           CASE WHEN bool_or(COALESCE(flag, '') LIKE '%quota%') THEN 'production quota'
                WHEN bool_or(array_has(string_to_array(COALESCE(flag, ''), ','), 'e')) THEN 'production estimated'
                ELSE 'production reported' END AS rule
    FROM production_by_stage
    WHERE country_iso3 <> 'WLD'
    GROUP BY region, year, stage
),
production_inputs AS (
    -- The stage's own production (supply) and the next stage's (use) of each balance row.
    SELECT p.region, p.year, p.stage, p.input, 'production' AS kind, p.sign, CAST(NULL AS DOUBLE) AS gross_t,
           CAST(NULL AS VARCHAR) AS factor_key, CAST(NULL AS DOUBLE) AS reo_low, CAST(NULL AS DOUBLE) AS reo_mid,
           CAST(NULL AS DOUBLE) AS reo_high, p.value_t_reo,
           concat_ws('|', 'production', p.region, CAST(p.year AS VARCHAR), p.figure_stage) AS measurement_key, f.rule
    FROM (
        SELECT region, year, stage, 'production' AS input, -1.0 AS sign, stage AS figure_stage,
               production_t_reo AS value_t_reo
        FROM balances
        UNION ALL
        SELECT region, year, stage, 'next-stage production', 1.0, next_stage, next_stage_input_t_reo FROM balances
    ) AS p
    -- Only figures from statistics: a stated assumption (no production rows) is exact.
    JOIN production_figures AS f ON f.region = p.region AND f.year = p.year AND f.stage = p.figure_stage
)
SELECT i.region, i.year, i.stage, i.input, i.kind, i.sign, i.gross_t, i.factor_key, i.reo_low, i.reo_mid, i.reo_high,
       i.value_t_reo, i.measurement_key, sd.relative_sd, i.rule
FROM (SELECT * FROM trade_inputs UNION ALL SELECT * FROM production_inputs) AS i
JOIN sd ON concat(sd.input, ' ', sd.figures) = i.rule
ORDER BY i.region, i.year, i.stage, i.measurement_key
