/*
description = "Indicators in long form: net exports and net import reliance by region and stage, each partner's share of a region's imports, supply concentration (HHI) by stage, the US-China bilateral balance, and each region's share of world mine production. Indicators resting on partial data say so in `complete` and `note`; none is shown as zero for lack of data."
grain = ["year", "region", "stage", "indicator", "partner"]

[schema]
year = "Int32"
region = "Utf8"
stage = "Utf8"
indicator = "Utf8"
partner = "Utf8"
value = "Float64"
value_low = "Float64"
value_high = "Float64"
complete = "Boolean"

[checks]
not_null = ["value", "unit", "complete"]
accepted_values = { indicator = ["net_exports_t_reo", "net_import_reliance", "import_partner_share", "hhi_supply", "bilateral_balance_t_reo", "mine_share_world"] }

[checks.sql]
shares_within_0_and_1 = """
SELECT * FROM indicators
WHERE indicator IN ('import_partner_share', 'hhi_supply', 'mine_share_world') AND (value < 0 OR value > 1.0001)
"""

[columns]
year = "Calendar year."
region = "Model region (WLD for world-level indicators such as hhi_supply)."
stage = "Supply-chain stage."
indicator = "net_exports_t_reo (X - M); net_import_reliance ((M - X) / (P + M - X), USGS's definition without stock change; negative: net exporter); import_partner_share (partner's share of the region's imports of the stage); hhi_supply (Herfindahl-Hirschman index of production by country, 0-1); bilateral_balance_t_reo (region's exports to partner minus its imports from partner); mine_share_world (region's mine production / world)."
partner = "The partner region for import_partner_share and bilateral_balance_t_reo; '' otherwise."
value = "The indicator with central REO factors."
value_low = "With the factor combination giving the lowest value (null where factors do not apply)."
value_high = "With the factor combination giving the highest value."
unit = "t_reo, ratio or share."
complete = "False when the inputs are partial (partner-only trade, an assumption, or producers missing from the list)."
note = "What the value rests on or lacks."
*/
WITH balance AS (SELECT * FROM stage_balance),
net AS (
    SELECT year, region, stage, 'net_exports_t_reo' AS indicator, '' AS partner,
           exports_t_reo - imports_t_reo AS value,
           exports_t_reo_low - imports_t_reo_high AS value_low,
           exports_t_reo_high - imports_t_reo_low AS value_high,
           't_reo' AS unit,
           COALESCE(imports_basis = 'trade' AND exports_basis = 'trade' AND imports_complete AND exports_complete, false)
               AS complete,
           concat('imports: ', COALESCE(imports_basis, 'none'), CASE WHEN imports_complete THEN '' ELSE ' (partial)' END,
                  '; exports: ', COALESCE(exports_basis, 'none'), CASE WHEN exports_complete THEN '' ELSE ' (partial)' END)
               AS note
    FROM balance
    WHERE exports_t_reo IS NOT NULL AND imports_t_reo IS NOT NULL
),
reliance AS (
    SELECT year, region, stage, 'net_import_reliance' AS indicator, '' AS partner,
           (imports_t_reo - exports_t_reo) / (production_t_reo + imports_t_reo - exports_t_reo) AS value,
           CAST(NULL AS DOUBLE) AS value_low, CAST(NULL AS DOUBLE) AS value_high,
           'ratio' AS unit,
           COALESCE(imports_basis = 'trade' AND exports_basis = 'trade' AND imports_complete AND exports_complete, false)
               AS complete,
           'apparent consumption P + M - X; no stock change' AS note
    FROM balance
    WHERE production_t_reo IS NOT NULL AND imports_t_reo IS NOT NULL AND exports_t_reo IS NOT NULL
      AND production_t_reo + imports_t_reo - exports_t_reo > 0
),
region_flows AS (
    -- Flows between regions (t REO, where known), the basis of partner shares and balances.
    SELECT year, exporter_region, importer_region, stage,
           sum(t_reo) AS t_reo, sum(t_reo_low) AS t_reo_low, sum(t_reo_high) AS t_reo_high
    FROM trade_flows
    WHERE importer_region <> exporter_region AND t_reo IS NOT NULL AND year >= 2000
    GROUP BY year, exporter_region, importer_region, stage
),
partner_share AS (
    SELECT p.year, p.region, p.stage, 'import_partner_share' AS indicator, p.partner,
           p.t_reo / p.total_t_reo AS value,
           CAST(NULL AS DOUBLE) AS value_low, CAST(NULL AS DOUBLE) AS value_high,
           'share' AS unit,
           COALESCE(b.imports_complete, false) AS complete,
           CASE WHEN COALESCE(b.imports_complete, false) THEN 'share of imports the region reported'
                ELSE 'share of imports seen in partner reports only' END AS note
    FROM (
        SELECT year, importer_region AS region, exporter_region AS partner, stage, t_reo,
               sum(t_reo) OVER (PARTITION BY year, importer_region, stage) AS total_t_reo
        FROM region_flows
    ) AS p
    LEFT JOIN balance AS b ON b.region = p.region AND b.year = p.year AND b.stage = p.stage
    WHERE p.total_t_reo > 0
),
hhi AS (
    SELECT c.year, 'WLD' AS region, c.stage, 'hhi_supply' AS indicator, '' AS partner,
           sum((c.t_reo / w.t_reo) * (c.t_reo / w.t_reo)) AS value,
           CAST(NULL AS DOUBLE) AS value_low, CAST(NULL AS DOUBLE) AS value_high,
           'share' AS unit,
           abs(sum(c.t_reo) - max(w.t_reo)) <= 0.03 * max(w.t_reo) AS complete,
           concat('countries listed cover ', CAST(round(sum(c.t_reo) / max(w.t_reo) * 100) AS VARCHAR),
                  '% of the world total; OTH counted as one producer') AS note
    FROM production_by_stage AS c
    JOIN production_by_stage AS w ON w.year = c.year AND w.stage = c.stage AND w.country_iso3 = 'WLD'
    WHERE c.country_iso3 <> 'WLD' AND c.t_reo IS NOT NULL AND w.t_reo > 0
    GROUP BY c.year, c.stage
    HAVING count(*) >= 5
),
bilateral AS (
    SELECT COALESCE(x.year, m.year) AS year, COALESCE(x.exporter_region, m.importer_region) AS region,
           COALESCE(x.stage, m.stage) AS stage, 'bilateral_balance_t_reo' AS indicator,
           COALESCE(x.importer_region, m.exporter_region) AS partner,
           COALESCE(x.t_reo, 0) - COALESCE(m.t_reo, 0) AS value,
           COALESCE(x.t_reo_low, 0) - COALESCE(m.t_reo_high, 0) AS value_low,
           COALESCE(x.t_reo_high, 0) - COALESCE(m.t_reo_low, 0) AS value_high,
           't_reo' AS unit,
           (x.year IS NOT NULL AND m.year IS NOT NULL) AS complete,
           CASE WHEN x.year IS NULL THEN 'no flow region→partner in the data'
                WHEN m.year IS NULL THEN 'no flow partner→region in the data'
                ELSE 'both directions in the data' END AS note
    FROM (SELECT * FROM region_flows WHERE exporter_region = 'USA' AND importer_region = 'CHN') AS x
    FULL OUTER JOIN (SELECT * FROM region_flows WHERE exporter_region = 'CHN' AND importer_region = 'USA') AS m
        ON m.year = x.year AND m.stage = x.stage
),
mine_share AS (
    -- Share from one edition: the newest edition that prints both the region's producers and the
    -- world total for the year (editions restate world totals, e.g. DS-140's quota-basis China).
    SELECT year, region, 'mining' AS stage, 'mine_share_world' AS indicator, '' AS partner,
           t_reo / world_t_reo AS value,
           CAST(NULL AS DOUBLE) AS value_low, CAST(NULL AS DOUBLE) AS value_high,
           'share' AS unit, true AS complete,
           concat('production and world total from ', edition) AS note
    FROM (
        SELECT r.year, r.region, r.edition, r.t_reo, w.t_reo AS world_t_reo,
               row_number() OVER (PARTITION BY r.year, r.region ORDER BY r.published DESC, r.edition DESC) AS pick
        FROM (
            SELECT p.year, COALESCE(g.region, 'ROW') AS region, p.edition, max(p.published) AS published,
                   sum(p.t_reo) AS t_reo
            FROM production_reported AS p
            LEFT JOIN ref_regions AS g ON g.iso3 = p.country_iso3
            WHERE p.stage = 'mining' AND p.country_iso3 <> 'WLD' AND p.t_reo IS NOT NULL
            GROUP BY p.year, COALESCE(g.region, 'ROW'), p.edition
        ) AS r
        JOIN production_reported AS w
            ON w.year = r.year AND w.edition = r.edition AND w.stage = 'mining' AND w.country_iso3 = 'WLD'
        WHERE w.t_reo > 0
    )
    WHERE pick = 1
)
SELECT * FROM net
UNION ALL SELECT * FROM reliance
UNION ALL SELECT * FROM partner_share
UNION ALL SELECT * FROM hhi
UNION ALL SELECT * FROM bilateral
UNION ALL SELECT * FROM mine_share
ORDER BY year, region, stage, indicator, partner
