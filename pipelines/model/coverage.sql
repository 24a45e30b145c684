/*
description = "What the data can and cannot support: for each output table, every region × year × stage (× term) with its status — data, partial, assumption or gap — and what is missing. A number built on a gap is flagged here and in its own table's `complete` column."
grain = ["table_name", "region", "year", "stage", "item"]

[schema]
table_name = "Utf8"
region = "Utf8"
year = "Int32"
stage = "Utf8"
item = "Utf8"
status = "Utf8"

[checks]
accepted_values = { status = ["data", "partial", "assumption", "gap"] }

[columns]
table_name = "The output table described: stage_balance, trade_flows, production_by_stage, demand_by_end_use."
region = "Model region."
year = "Calendar year."
stage = "Supply-chain stage."
item = "The term or quantity: production, imports, exports, next_stage_input, unregistered (stage_balance); flows_t_reo (trade_flows); production (production_by_stage); end_use_shares (assumption where world shares stand in for the region's own) and separated_used (demand_by_end_use)."
status = "data: from the region's own complete statistics; partial: some partners or only partner reports (a lower bound), or flows known only in gross weight; assumption: a stated config assumption; gap: no data."
detail = "What the status rests on or what is missing."
*/
WITH b AS (SELECT * FROM stage_balance),
trade_terms AS (
    SELECT region, year, stage, 'imports' AS item, imports_basis AS basis, imports_complete AS own_complete FROM b
    UNION ALL
    SELECT region, year, stage, 'exports', exports_basis, exports_complete FROM b
),
balance_terms AS (
    SELECT 'stage_balance' AS table_name, region, year, stage, 'production' AS item,
           CASE WHEN production_t_reo IS NULL THEN 'gap'
                WHEN inputs LIKE 'production: assumption;%' THEN 'assumption' ELSE 'data' END AS status,
           CASE WHEN inputs LIKE 'production: not listed;%'
                    THEN 'no production statistic for this region and stage, and no assumption'
                ELSE regexp_replace(inputs, '; next stage.*', '') END AS detail
    FROM b
    UNION ALL
    SELECT 'stage_balance', region, year, stage, item,
           CASE WHEN basis IS NULL THEN 'gap' WHEN basis = 'assumption' THEN 'assumption'
                WHEN own_complete THEN 'data' ELSE 'partial' END,
           CASE WHEN basis IS NULL THEN 'no trade report with a REO factor and no assumption'
                WHEN basis = 'assumption' THEN 'see stage_balance.assumptions'
                WHEN own_complete THEN 'own customs, all partners'
                ELSE 'some partners or partner reports only: a lower bound' END
    FROM trade_terms
    UNION ALL
    SELECT 'stage_balance', region, year, stage, 'next_stage_input',
           CASE WHEN next_stage_input_t_reo IS NULL THEN 'gap'
                WHEN inputs LIKE '%next stage: assumption' THEN 'assumption' ELSE 'data' END,
           CASE WHEN inputs LIKE '%next stage: not listed'
                    THEN 'no production statistic for the next stage, and no assumption'
                ELSE regexp_replace(inputs, '^.*next stage: ', '') END
    FROM b
    UNION ALL
    SELECT 'stage_balance', region, year, stage, 'unregistered',
           CASE WHEN unregistered_t_reo IS NULL THEN 'gap' WHEN complete THEN 'data'
                WHEN assumptions IS NOT NULL AND imports_complete AND exports_complete THEN 'assumption'
                ELSE 'partial' END,
           CASE WHEN unregistered_t_reo IS NULL THEN 'a term above is a gap'
                WHEN complete THEN 'every term from own complete statistics'
                ELSE 'rests on assumptions or partial trade: read with the terms' END
    FROM b
),
flow_cover AS (
    SELECT 'trade_flows' AS table_name, region, year, stage, 'flows_t_reo' AS item,
           CASE WHEN without_reo > 0 THEN 'partial' ELSE 'data' END AS status,
           concat(CAST(flows AS VARCHAR), ' flows in the data',
                  CASE WHEN without_reo > 0 THEN concat(', ', CAST(without_reo AS VARCHAR),
                       ' without t REO (no factor for their code: gross weight only)') ELSE '' END) AS detail
    FROM (
        SELECT region, year, stage, count(*) AS flows, count(*) - count(t_reo) AS without_reo
        FROM (
            SELECT exporter_region AS region, year, stage, t_reo FROM trade_flows
            UNION ALL
            SELECT importer_region AS region, year, stage, t_reo FROM trade_flows
        )
        WHERE year >= 2000
        GROUP BY region, year, stage
    )
),
production_cover AS (
    SELECT 'production_by_stage' AS table_name, g.region, g.year, g.stage, 'production' AS item,
           CASE WHEN p.n IS NULL THEN 'gap' ELSE 'data' END AS status,
           CASE WHEN p.n IS NULL THEN 'no edition reports this region and stage'
                ELSE concat(CAST(p.n AS VARCHAR), ' countries from ', p.editions) END AS detail
    FROM (SELECT DISTINCT region, year, stage FROM b) AS g
    LEFT JOIN (
        SELECT region, year, stage, count(*) AS n,
               array_to_string(array_sort(array_distinct(array_agg(edition))), ',') AS editions
        FROM production_by_stage WHERE country_iso3 <> 'WLD' GROUP BY region, year, stage
    ) AS p ON p.region = g.region AND p.year = g.year AND p.stage = g.stage
)
,
end_use_cover AS (
    -- The demand stage: whose end-use shares a region-year uses, and whether the separated REO
    -- they split is known (partial when metal trade without a factor is left out).
    SELECT 'demand_by_end_use' AS table_name, region, year, 'demand' AS stage, 'end_use_shares' AS item,
           min(shares_basis) AS status,
           concat(CASE WHEN min(shares_basis) = 'assumption' THEN 'world shares stand in: ' ELSE '' END,
                  min(source)) AS detail
    FROM demand_by_end_use
    GROUP BY region, year
    UNION ALL
    SELECT 'demand_by_end_use', region, year, 'demand', 'separated_used',
           CASE WHEN bool_and(separated_used_t_reo IS NULL OR separated_used_t_reo < 0) THEN 'gap'
                WHEN bool_or(NOT metal_trade_included) THEN 'partial' ELSE 'data' END,
           CASE WHEN bool_and(separated_used_t_reo IS NULL)
                    THEN 'separation output or its trade unknown: no end-use split'
                WHEN bool_and(separated_used_t_reo < 0)
                    THEN 'exports of separated goods exceed output and imports (stock draw or unregistered supply): no demand'
                WHEN bool_or(NOT metal_trade_included)
                    THEN 'metal-stage trade has no REO factor and is left out'
                ELSE 'separation output and the trade of separated and metal goods' END
    FROM demand_by_end_use
    GROUP BY region, year
)
SELECT * FROM balance_terms
UNION ALL SELECT * FROM flow_cover
UNION ALL SELECT * FROM production_cover
UNION ALL SELECT * FROM end_use_cover
ORDER BY table_name, region, year, stage, item
