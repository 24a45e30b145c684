-- Mirror reconciliation over every product: each flow as its exporter (FOB) and its importer
-- (CIF) report it, matched on year, exporter, importer and HS6 code; the importer's report
-- preferred (converted to FOB with the 1.06 CIF/FOB factor), the exporter's used where the
-- importer did not report. Summed per year so the output is small and the work is the join.
-- Portable SQL: reeflow (DataFusion) and DuckDB run this same text.
WITH exporter_reports AS (
    SELECT year, reporter_code AS exporter, partner_code AS importer, hs_code,
           sum(value_usd) AS value_x, sum(net_weight_kg) AS kg_x
    FROM trade
    WHERE flow = 'X' AND NOT is_aggregate
    GROUP BY year, reporter_code, partner_code, hs_code
),
importer_reports AS (
    SELECT year, partner_code AS exporter, reporter_code AS importer, hs_code,
           sum(value_usd) AS value_m, sum(net_weight_kg) AS kg_m
    FROM trade
    WHERE flow = 'M' AND NOT is_aggregate
    GROUP BY year, partner_code, reporter_code, hs_code
)
SELECT coalesce(x.year, m.year) AS year,
       count(*) AS flows,
       count(x.value_x) AS exporter_reports,
       count(m.value_m) AS importer_reports,
       sum(coalesce(m.value_m / 1.06, x.value_x)) AS reconciled_value_fob_usd,
       sum(abs(m.value_m / 1.06 - x.value_x)) AS mirror_gap_usd,
       sum(coalesce(m.kg_m, x.kg_x)) AS reconciled_kg
FROM exporter_reports AS x
FULL OUTER JOIN importer_reports AS m
    ON x.year = m.year AND x.exporter = m.exporter AND x.importer = m.importer AND x.hs_code = m.hs_code
GROUP BY coalesce(x.year, m.year)
ORDER BY year
