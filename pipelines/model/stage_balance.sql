/*
description = "Mass balance per region, year and stage (t REO): registered supply (production + imports) against registered use (input to the next stage + exports + stock change), and the unregistered flow U = use - supply as an explicit signed term with low/high bounds from the REO factor ranges. U > 0: supply no statistic records (illegal mining, smuggled feed); U < 0: unrecorded exports or stockpiling. U is null wherever a term has neither data nor a stated assumption."
grain = ["region", "year", "stage"]

[schema]
region = "Utf8"
year = "Int32"
stage = "Utf8"
production_t_reo = "Float64"
imports_t_reo = "Float64"
exports_t_reo = "Float64"
next_stage_input_t_reo = "Float64"
stock_change_t_reo = "Float64"
supply_t_reo = "Float64"
use_t_reo = "Float64"
unregistered_t_reo = "Float64"
unregistered_t_reo_low = "Float64"
unregistered_t_reo_high = "Float64"

[checks]
not_null = ["region", "year", "stage"]
accepted_values = { stage = ["mining", "separation", "metal", "magnet"] }

[checks.sql]
unregistered_bounds_ordered = """
SELECT * FROM stage_balance
WHERE unregistered_t_reo_low > unregistered_t_reo OR unregistered_t_reo > unregistered_t_reo_high
"""
no_negative_terms = """
SELECT * FROM stage_balance
WHERE production_t_reo < 0 OR imports_t_reo < 0 OR exports_t_reo < 0 OR next_stage_input_t_reo < 0
"""

[columns]
region = "Model region (ref_region_list): USA, CHN, MMR, AUS, MYS, JPN, EUU, VNM, EST, ROW."
year = "Calendar year (2000 to the latest year with production or trade data)."
stage = "Supply-chain stage: mining, separation, metal, magnet."
production_t_reo = "P: output of the stage in the region: the sum of its countries' figures in production_by_stage (one edition per year where an edition itemises producers), or a stated production assumption; null when a member's figure is withheld (W, NA) or no edition lists the region and no assumption covers it."
imports_t_reo = "M: imports of stage goods from other regions (trade_flows), or the stated assumption; null when neither."
imports_t_reo_low = "M with the low REO factors."
imports_t_reo_high = "M with the high REO factors."
exports_t_reo = "X: exports of stage goods to other regions (trade_flows), or the stated assumption."
exports_t_reo_low = "X with the low REO factors."
exports_t_reo_high = "X with the high REO factors."
next_stage_input_t_reo = "Input needed by the next stage in the region: the next stage's production (for magnet: demand), as production_t_reo is made. Null when unknown."
stock_change_t_reo = "Δ stock (assumption; no stock statistics in the data)."
supply_t_reo = "Registered supply: P + M."
use_t_reo = "Registered use: next-stage input + X + Δ stock."
unregistered_t_reo = "U = use - supply (central factors): the unregistered flow, signed."
unregistered_t_reo_low = "Lowest U over the factor ranges: (next + X_low + Δstock) - (P + M_high)."
unregistered_t_reo_high = "Highest U: (next + X_high + Δstock) - (P + M_low)."
imports_basis = "trade (importer or exporter reports, see trade_flows), assumption, or null."
exports_basis = "trade, assumption, or null."
imports_complete = "True when the region's own customs reported every heading of the stage that year with a complete partner breakdown (trade_partner_coverage); false when imports rest on some partners or on partner reports only (then a lower bound)."
exports_complete = "The same for exports."
assumptions = "The assumptions (config/model.toml) used for this row, as term: reason."
inputs = "Where the production terms come from: the editions used, 'assumption', or why they are unknown ('withheld: a member's figure is W or NA', 'not listed')."
production_sources = "Publishers or pages of the production figures used (production_by_stage.source; for China's quotas, the page the figure was read from)."
next_stage_sources = "The same for the next stage's production."
complete = "True when every term is data from the region's own statistics (no assumption, no partner-only trade)."
*/
WITH years AS (
    SELECT DISTINCT year FROM (
        SELECT year FROM production_by_stage UNION ALL SELECT year FROM trade_flows
    ) WHERE year >= 2000
),
stages AS (
    SELECT * FROM (VALUES ('mining', 1, 'separation'), ('separation', 2, 'metal'), ('metal', 3, 'magnet'),
                          ('magnet', 4, 'demand')) AS s(stage, stage_order, next_stage)
),
grid AS (
    SELECT r.region, y.year, s.stage, s.stage_order, s.next_stage
    FROM ref_region_list AS r CROSS JOIN years AS y CROSS JOIN stages AS s
),
region_production AS (
    -- A region's output: null when one of its countries' figures is withheld (W, NA).
    SELECT p.region, p.year, p.stage,
           CASE WHEN count(p.t_reo) = count(*) THEN sum(p.t_reo) END AS t_reo,
           array_to_string(array_sort(array_distinct(array_agg(p.edition))), ',') AS editions,
           array_to_string(array_sort(array_distinct(array_agg(p.source))), ' | ') AS sources
    FROM production_by_stage AS p
    WHERE p.country_iso3 <> 'WLD'
    GROUP BY p.region, p.year, p.stage
),
production_keys AS (
    SELECT DISTINCT region, year, stage FROM grid
    UNION SELECT DISTINCT region, year, next_stage FROM grid
),
assumed_production AS (
    SELECT k.region, k.year, k.stage, max(a.t_reo) AS t_reo,
           array_to_string(array_sort(array_distinct(array_agg(concat('production of ', k.stage, ': ', a.reason)))), ' | ')
               AS reason
    FROM production_keys AS k
    JOIN ref_assumptions AS a
        ON a.term = 'production' AND (a.region = k.region OR a.region = '*') AND (a.stage = k.stage OR a.stage = '*')
        AND k.year >= a.first_year AND (a.last_year IS NULL OR k.year <= a.last_year)
    GROUP BY k.region, k.year, k.stage
),
production AS (
    -- Data first; a stated assumption only where no edition gives the region a figure.
    SELECT k.region, k.year, k.stage,
           CASE WHEN p.editions IS NOT NULL THEN p.t_reo ELSE a.t_reo END AS t_reo,
           CASE WHEN p.editions IS NOT NULL AND p.t_reo IS NOT NULL THEN p.editions
                WHEN p.editions IS NOT NULL THEN concat('withheld: a member''s figure is W or NA in ', p.editions)
                WHEN a.t_reo IS NOT NULL THEN 'assumption'
                ELSE 'not listed' END AS editions,
           CASE WHEN p.editions IS NULL THEN a.reason END AS assumption,
           p.sources
    FROM production_keys AS k
    LEFT JOIN region_production AS p ON p.region = k.region AND p.year = k.year AND p.stage = k.stage
    LEFT JOIN assumed_production AS a ON a.region = k.region AND a.year = k.year AND a.stage = k.stage
),
flows AS (
    SELECT region, year, stage, direction,
           CASE WHEN count(t_reo) = count(*) THEN sum(t_reo_low) END AS t_reo_low,
           CASE WHEN count(t_reo) = count(*) THEN sum(t_reo) END AS t_reo,
           CASE WHEN count(t_reo) = count(*) THEN sum(t_reo_high) END AS t_reo_high
    FROM (
        SELECT importer_region AS region, year, stage, 'imports' AS direction, t_reo_low, t_reo, t_reo_high
        FROM trade_flows WHERE importer_region <> exporter_region
        UNION ALL
        SELECT exporter_region AS region, year, stage, 'exports' AS direction, t_reo_low, t_reo, t_reo_high
        FROM trade_flows WHERE importer_region <> exporter_region
    )
    GROUP BY region, year, stage, direction
),
stage_headings AS (
    SELECT DISTINCT stage, hs_heading(hs_code) AS heading FROM ref_hs_codes
),
own_reports AS (
    -- Region, year, stage and direction where the region's own customs reported every heading of
    -- the stage with a complete partner breakdown (partner rows adding up to its World row).
    SELECT g.region, c.year, h.stage, c.direction
    FROM stage_headings AS h
    JOIN (SELECT DISTINCT year, reporter, hs_heading(hs_code) AS heading,
                 CASE WHEN flow = 'M' THEN 'imports' ELSE 'exports' END AS direction
          FROM trade_partner_coverage WHERE partners_complete) AS c ON c.heading = h.heading
    JOIN ref_regions AS g ON g.iso3 = c.reporter
    JOIN (SELECT stage, count(*) AS n FROM stage_headings GROUP BY stage) AS hc ON hc.stage = h.stage
    GROUP BY g.region, c.year, h.stage, c.direction, hc.n
    HAVING count(DISTINCT c.heading) = hc.n
),
assumed AS (
    SELECT g.region, g.year, g.stage, a.term, max(a.t_reo) AS t_reo,
           array_to_string(array_sort(array_distinct(array_agg(concat(a.term, ': ', a.reason)))), ' | ') AS reason
    FROM grid AS g
    JOIN ref_assumptions AS a
        ON (a.region = g.region OR a.region = '*') AND (a.stage = g.stage OR a.stage = '*')
        AND g.year >= a.first_year AND (a.last_year IS NULL OR g.year <= a.last_year)
    GROUP BY g.region, g.year, g.stage, a.term
),
terms AS (
    SELECT
        g.region, g.year, g.stage, g.stage_order,
        p.t_reo AS production_t_reo,
        COALESCE(mi.t_reo_low, am.t_reo) AS imports_t_reo_low,
        COALESCE(mi.t_reo, am.t_reo) AS imports_t_reo,
        COALESCE(mi.t_reo_high, am.t_reo) AS imports_t_reo_high,
        COALESCE(xe.t_reo_low, ax.t_reo) AS exports_t_reo_low,
        COALESCE(xe.t_reo, ax.t_reo) AS exports_t_reo,
        COALESCE(xe.t_reo_high, ax.t_reo) AS exports_t_reo_high,
        n.t_reo AS next_stage_input_t_reo,
        asc_.t_reo AS stock_change_t_reo,
        CASE WHEN mi.t_reo IS NOT NULL THEN 'trade' WHEN am.t_reo IS NOT NULL THEN 'assumption' END AS imports_basis,
        CASE WHEN xe.t_reo IS NOT NULL THEN 'trade' WHEN ax.t_reo IS NOT NULL THEN 'assumption' END AS exports_basis,
        oi.region IS NOT NULL AS imports_complete,
        ox.region IS NOT NULL AS exports_complete,
        concat_ws(' | ',
            p.assumption,
            n.assumption,
            CASE WHEN mi.t_reo IS NULL THEN am.reason END,
            CASE WHEN xe.t_reo IS NULL THEN ax.reason END,
            asc_.reason) AS assumptions,
        concat('production: ', COALESCE(p.editions, 'not listed'), '; next stage: ', COALESCE(n.editions, 'not listed'))
            AS inputs,
        p.assumption IS NULL AND n.assumption IS NULL AS production_from_data,
        p.sources AS production_sources,
        n.sources AS next_stage_sources
    FROM grid AS g
    LEFT JOIN production AS p ON p.region = g.region AND p.year = g.year AND p.stage = g.stage
    LEFT JOIN production AS n ON n.region = g.region AND n.year = g.year AND n.stage = g.next_stage
    LEFT JOIN flows AS mi ON mi.region = g.region AND mi.year = g.year AND mi.stage = g.stage AND mi.direction = 'imports'
    LEFT JOIN flows AS xe ON xe.region = g.region AND xe.year = g.year AND xe.stage = g.stage AND xe.direction = 'exports'
    LEFT JOIN assumed AS am ON am.region = g.region AND am.year = g.year AND am.stage = g.stage AND am.term = 'imports'
    LEFT JOIN assumed AS ax ON ax.region = g.region AND ax.year = g.year AND ax.stage = g.stage AND ax.term = 'exports'
    LEFT JOIN assumed AS asc_
        ON asc_.region = g.region AND asc_.year = g.year AND asc_.stage = g.stage AND asc_.term = 'stock_change'
    LEFT JOIN own_reports AS oi
        ON oi.region = g.region AND oi.year = g.year AND oi.stage = g.stage AND oi.direction = 'imports'
    LEFT JOIN own_reports AS ox
        ON ox.region = g.region AND ox.year = g.year AND ox.stage = g.stage AND ox.direction = 'exports'
)
SELECT
    region, year, stage,
    production_t_reo,
    imports_t_reo, imports_t_reo_low, imports_t_reo_high,
    exports_t_reo, exports_t_reo_low, exports_t_reo_high,
    next_stage_input_t_reo, stock_change_t_reo,
    production_t_reo + imports_t_reo AS supply_t_reo,
    next_stage_input_t_reo + exports_t_reo + stock_change_t_reo AS use_t_reo,
    (next_stage_input_t_reo + exports_t_reo + stock_change_t_reo) - (production_t_reo + imports_t_reo)
        AS unregistered_t_reo,
    (next_stage_input_t_reo + exports_t_reo_low + stock_change_t_reo) - (production_t_reo + imports_t_reo_high)
        AS unregistered_t_reo_low,
    (next_stage_input_t_reo + exports_t_reo_high + stock_change_t_reo) - (production_t_reo + imports_t_reo_low)
        AS unregistered_t_reo_high,
    imports_basis, exports_basis, imports_complete, exports_complete,
    NULLIF(assumptions, '') AS assumptions,
    inputs,
    production_sources,
    next_stage_sources,
    (imports_basis = 'trade' AND exports_basis = 'trade' AND imports_complete AND exports_complete
     AND production_t_reo IS NOT NULL AND next_stage_input_t_reo IS NOT NULL AND production_from_data) AS complete
FROM terms
ORDER BY region, year, stage_order
