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
not_null = ["unit", "complete"]
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
value = "The indicator with central REO factors; null where a term is unknown (e.g. a flow the data do not cover: see note)."
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
    -- Flows between regions, the basis of partner shares and balances: t REO only where every flow
    -- of the pair is known in t REO (a flow without a factor leaves the pair's total unknown).
    SELECT year, exporter_region, importer_region, stage,
           CASE WHEN count(t_reo) = count(*) THEN sum(t_reo) END AS t_reo,
           CASE WHEN count(t_reo) = count(*) THEN sum(t_reo_low) END AS t_reo_low,
           CASE WHEN count(t_reo) = count(*) THEN sum(t_reo_high) END AS t_reo_high
    FROM trade_flows
    WHERE importer_region <> exporter_region AND year >= 2000
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
        -- The total is known only when every partner's flow is.
        SELECT year, importer_region AS region, exporter_region AS partner, stage, t_reo,
               CASE WHEN count(t_reo) OVER w = count(*) OVER w THEN sum(t_reo) OVER w END AS total_t_reo
        FROM region_flows
        WINDOW w AS (PARTITION BY year, importer_region, stage)
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
pair_coverage AS (
    -- Whether a missing flow is a known zero: the importer's own imports, or the exporter's own
    -- exports, of the stage are complete (stage_balance), so a flow absent from them did not occur.
    SELECT x.year, x.stage, x.region AS exporter_region, m.region AS importer_region,
           COALESCE(x.exports_complete, false) OR COALESCE(m.imports_complete, false) AS covered
    FROM balance AS x
    JOIN balance AS m ON m.year = x.year AND m.stage = x.stage AND m.region <> x.region
),
bilateral AS (
    SELECT d.year, 'USA' AS region, d.stage, 'bilateral_balance_t_reo' AS indicator, 'CHN' AS partner,
           out_t - in_t AS value, out_low - in_high AS value_low, out_high - in_low AS value_high,
           't_reo' AS unit,
           (out_t IS NOT NULL AND in_t IS NOT NULL) AS complete,
           concat('USA→CHN: ', out_note, '; CHN→USA: ', in_note) AS note
    FROM (
        SELECT k.year, k.stage,
               CASE WHEN x.year IS NOT NULL THEN x.t_reo WHEN cx.covered THEN 0.0 END AS out_t,
               CASE WHEN x.year IS NOT NULL THEN x.t_reo_low WHEN cx.covered THEN 0.0 END AS out_low,
               CASE WHEN x.year IS NOT NULL THEN x.t_reo_high WHEN cx.covered THEN 0.0 END AS out_high,
               CASE WHEN m.year IS NOT NULL THEN m.t_reo WHEN cm.covered THEN 0.0 END AS in_t,
               CASE WHEN m.year IS NOT NULL THEN m.t_reo_low WHEN cm.covered THEN 0.0 END AS in_low,
               CASE WHEN m.year IS NOT NULL THEN m.t_reo_high WHEN cm.covered THEN 0.0 END AS in_high,
               CASE WHEN x.year IS NOT NULL AND x.t_reo IS NULL THEN 'in the data without a REO factor (unknown)'
                    WHEN x.year IS NOT NULL THEN 'in the data'
                    WHEN cx.covered THEN 'none in a complete report (0)'
                    ELSE 'not in the data and no complete report covers it (unknown)' END AS out_note,
               CASE WHEN m.year IS NOT NULL AND m.t_reo IS NULL THEN 'in the data without a REO factor (unknown)'
                    WHEN m.year IS NOT NULL THEN 'in the data'
                    WHEN cm.covered THEN 'none in a complete report (0)'
                    ELSE 'not in the data and no complete report covers it (unknown)' END AS in_note
        FROM (SELECT year, stage FROM region_flows
              WHERE (exporter_region = 'USA' AND importer_region = 'CHN')
                 OR (exporter_region = 'CHN' AND importer_region = 'USA')
              GROUP BY year, stage) AS k
        LEFT JOIN region_flows AS x
            ON x.year = k.year AND x.stage = k.stage AND x.exporter_region = 'USA' AND x.importer_region = 'CHN'
        LEFT JOIN region_flows AS m
            ON m.year = k.year AND m.stage = k.stage AND m.exporter_region = 'CHN' AND m.importer_region = 'USA'
        LEFT JOIN pair_coverage AS cx
            ON cx.year = k.year AND cx.stage = k.stage AND cx.exporter_region = 'USA' AND cx.importer_region = 'CHN'
        LEFT JOIN pair_coverage AS cm
            ON cm.year = k.year AND cm.stage = k.stage AND cm.exporter_region = 'CHN' AND cm.importer_region = 'USA'
    ) AS d
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
