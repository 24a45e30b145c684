-- Country balance per year and HS chapter: exports and imports from the reconciled flows
-- (importer's report preferred, as in mirror.sql), net exports, and each country's share of its
-- chapter's world exports; summarised so the output is small and the work is the aggregation.
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
sides AS (
    SELECT year, exporter AS country, chapter, value_fob AS exports, 0.0 AS imports FROM flows
    UNION ALL
    SELECT year, importer AS country, chapter, 0.0 AS exports, value_fob AS imports FROM flows
),
balance AS (
    SELECT year, country, chapter, sum(exports) AS exports, sum(imports) AS imports,
           sum(exports) - sum(imports) AS net_exports
    FROM sides
    GROUP BY year, country, chapter
),
shares AS (
    SELECT year, country, chapter, net_exports,
           exports / nullif(sum(exports) OVER (PARTITION BY year, chapter), 0) AS export_share
    FROM balance
)
SELECT year, count(*) AS country_chapters, sum(CASE WHEN net_exports > 0 THEN 1 ELSE 0 END) AS net_exporters,
       max(export_share) AS largest_export_share
FROM shares
GROUP BY year
ORDER BY year
