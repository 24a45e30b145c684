/*
description = "US-China rare-earth trade by year and stage in t REO (low/mid/high) both ways, and the share of China's imports of the stage that came from the US (and of US imports from China), where the importer's own breakdown by partner is complete."
grain = ["year", "stage"]

[schema]
year = "Int32"
stage = "Utf8"
us_to_china_t_reo = "Float64"
china_to_us_t_reo = "Float64"
us_share_of_china_imports = "Float64"

[columns]
year = "Calendar year (2000 on)."
stage = "Supply-chain stage."
us_to_china_t_reo = "Reconciled US→China flow, t REO (central factor); null when the data have the flow without a factor (e.g. HS 2805, 8505)."
us_to_china_t_reo_low = "The same with low factors."
us_to_china_t_reo_high = "The same with high factors."
us_to_china_rule = "How the flow was reconciled (trade_flows.rule)."
us_to_china_gross_t = "Gross weight of the product (t) behind the US→China figure."
china_to_us_t_reo = "Reconciled China→US flow, t REO."
china_to_us_t_reo_low = "Low factors."
china_to_us_t_reo_high = "High factors."
china_to_us_rule = "How it was reconciled."
china_imports_t_reo = "China's imports of the stage from every partner (t REO), when China's own report of the stage is complete; else null."
us_share_of_china_imports = "us_to_china_t_reo / china_imports_t_reo; null where China's imports of the stage are not fully covered (e.g. ore under 253090)."
us_imports_t_reo = "US imports of the stage where the US report of them is complete (partner rows adding up to a World row); null otherwise."
china_share_of_us_imports = "china_to_us_t_reo / us_imports_t_reo; null where US imports of the stage are not fully covered (USITC DataWeb extracts hold some partners and no World row)."
*/
WITH us_cn AS (
    SELECT year, stage, t_reo, t_reo_low, t_reo_high, rule, gross_kg / 1000.0 AS gross_t
    FROM trade_flows WHERE exporter = 'USA' AND importer = 'CHN' AND year >= 2000
),
cn_us AS (
    SELECT year, stage, t_reo, t_reo_low, t_reo_high, rule
    FROM trade_flows WHERE exporter = 'CHN' AND importer = 'USA' AND year >= 2000
),
keys AS (SELECT year, stage FROM us_cn UNION SELECT year, stage FROM cn_us),
china_imports AS (
    SELECT year, stage, imports_t_reo FROM stage_balance
    WHERE region = 'CHN' AND imports_complete AND imports_basis = 'trade'
),
us_imports AS (
    SELECT year, stage, imports_t_reo FROM stage_balance
    WHERE region = 'USA' AND imports_complete AND imports_basis = 'trade'
)
SELECT
    k.year, k.stage,
    a.t_reo AS us_to_china_t_reo, a.t_reo_low AS us_to_china_t_reo_low, a.t_reo_high AS us_to_china_t_reo_high,
    a.rule AS us_to_china_rule, a.gross_t AS us_to_china_gross_t,
    b.t_reo AS china_to_us_t_reo, b.t_reo_low AS china_to_us_t_reo_low, b.t_reo_high AS china_to_us_t_reo_high,
    b.rule AS china_to_us_rule,
    ci.imports_t_reo AS china_imports_t_reo,
    -- China's imports of the stage are complete (ci): no US flow in them is a known 0; a flow in the
    -- data without a t REO figure leaves the share unknown.
    CASE WHEN ci.imports_t_reo > 0 THEN (CASE WHEN a.year IS NULL THEN 0.0 ELSE a.t_reo END) / ci.imports_t_reo
    END AS us_share_of_china_imports,
    ui.imports_t_reo AS us_imports_t_reo,
    CASE WHEN ui.imports_t_reo > 0 THEN (CASE WHEN b.year IS NULL THEN 0.0 ELSE b.t_reo END) / ui.imports_t_reo
    END AS china_share_of_us_imports
FROM keys AS k
LEFT JOIN us_cn AS a ON a.year = k.year AND a.stage = k.stage
LEFT JOIN cn_us AS b ON b.year = k.year AND b.stage = k.stage
LEFT JOIN china_imports AS ci ON ci.year = k.year AND ci.stage = k.stage
LEFT JOIN us_imports AS ui ON ui.year = k.year AND ui.stage = k.stage
ORDER BY k.year, k.stage
