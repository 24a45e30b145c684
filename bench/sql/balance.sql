-- Country balance per year and HS chapter: exports and imports from the reconciled flows
-- (importer's report preferred, as in mirror.sql), net exports, and each country's share of its
-- chapter's world exports; summarised so the output is small and the work is the aggregation.
-- The flows (a full outer join of the two sides' reports) are read once: each flow is counted for
-- its exporter and its importer by pairing it with a two-row list of sides. (A UNION ALL of two
-- reads of the flows made DataFusion compute the join twice; DuckDB materialised it once.)
-- Portable SQL: reeflow (DataFusion) and DuckDB run this same text.
WITH exporter_reports AS (
    SELECT year, reporter_code AS exporter, partner_code AS importer, hs_code, sum(value_usd) AS value_x
    FROM trade WHERE flow = 'X' AND NOT is_aggregate
    GROUP BY year, reporter_code, partner_code, hs_code
),
importer_reports AS (
    SELECT year, partner_code AS exporter, reporter_code AS importer, hs_code, sum(value_usd) AS value_m
    FROM trade WHERE flow = 'M' AND NOT is_aggregate
    GROUP BY year, partner_code, reporter_code, hs_code
),
flows AS (
    SELECT coalesce(x.year, m.year) AS year, coalesce(x.exporter, m.exporter) AS exporter,
           coalesce(x.importer, m.importer) AS importer, substr(coalesce(x.hs_code, m.hs_code), 1, 2) AS chapter,
           coalesce(m.value_m / 1.06, x.value_x) AS value_fob
    FROM exporter_reports AS x
    FULL OUTER JOIN importer_reports AS m
        ON x.year = m.year AND x.exporter = m.exporter AND x.importer = m.importer AND x.hs_code = m.hs_code
),
balance AS (
    SELECT f.year, CASE WHEN s.side = 'exporter' THEN f.exporter ELSE f.importer END AS country, f.chapter,
           sum(CASE WHEN s.side = 'exporter' THEN f.value_fob ELSE 0.0 END) AS exports,
           sum(CASE WHEN s.side = 'importer' THEN f.value_fob ELSE 0.0 END) AS imports
    FROM flows AS f
    CROSS JOIN (VALUES ('exporter'), ('importer')) AS s(side)
    GROUP BY f.year, CASE WHEN s.side = 'exporter' THEN f.exporter ELSE f.importer END, f.chapter
),
shares AS (
    SELECT year, country, chapter, exports - imports AS net_exports,
           exports / nullif(sum(exports) OVER (PARTITION BY year, chapter), 0) AS export_share
    FROM balance
)
SELECT year, count(*) AS country_chapters, sum(CASE WHEN net_exports > 0 THEN 1 ELSE 0 END) AS net_exporters,
       max(export_share) AS largest_export_share
FROM shares
GROUP BY year
ORDER BY year
