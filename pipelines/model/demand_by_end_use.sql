/*
description = "Apparent consumption of separated rare earths by end use, per region and year (t REO): the separated REO a region uses (its separation output plus its net imports of separation- and metal-stage goods) times each end use's share (end_use_shares). Null where a term is unknown; never a zero for lack of data."
grain = ["region", "year", "end_use"]

[schema]
region = "Utf8"
year = "Int32"
end_use = "Utf8"
route = "Utf8"
share = "Float64"
separated_used_t_reo = "Float64"
t_reo = "Float64"
t_reo_low = "Float64"
t_reo_high = "Float64"

[checks]
not_null = ["region", "year", "end_use", "route", "shares_basis"]

[checks.sql]
demand_low_mid_high_ordered = """
SELECT * FROM demand_by_end_use WHERE t_reo_low > t_reo OR t_reo > t_reo_high
"""

[columns]
region = "Model region."
year = "Calendar year."
end_use = "End use (end_use_shares)."
route = "direct, metal or magnet (how the end use gets its rare earths)."
share = "The end use's share of the region's separated REO (end_use_shares)."
shares_basis = "data: the region's own end-use statement; assumption: world shares stand in."
separated_used_t_reo = "Separated REO the region uses: separation output P + imports - exports of separation-stage goods + imports - exports of metal-stage goods where their t REO is known (stage_balance; magnets are left out: HS 850511 has no REO factor). Null when the separation output or its trade is unknown; negative when exports exceed output and imports (stock draw or unregistered supply)."
metal_trade_included = "False when the region's metal-stage trade has no t REO (e.g. reported under 2805, which has no factor) and is left out: the figure is then partial."
separated_used_t_reo_low = "The same with the low import and high export REO factors."
separated_used_t_reo_high = "The same with the high import and low export REO factors."
t_reo = "share × separated_used_t_reo: the end use's apparent consumption (t REO); null when separated_used_t_reo is null or negative (exports beyond output and imports are a stock draw or unregistered supply, not a demand)."
t_reo_low = "share_low × separated_used_t_reo_low (0 when that is negative)."
t_reo_high = "share_high × separated_used_t_reo_high."
inputs = "Where the separation output comes from (stage_balance inputs) and the bases of the trade terms."
source = "Source of the share."
*/
WITH separated AS (
    -- Metal-stage trade counts where its t REO is known; where it is not (US metal trade is
    -- reported under 2805, which has no REO factor), it is left out and metal_trade_included says so.
    SELECT s.region, s.year,
           s.production_t_reo + s.imports_t_reo - s.exports_t_reo
               + COALESCE(m.imports_t_reo - m.exports_t_reo, 0) AS used_t_reo,
           s.production_t_reo + s.imports_t_reo_low - s.exports_t_reo_high
               + COALESCE(m.imports_t_reo_low - m.exports_t_reo_high, 0) AS used_t_reo_low,
           s.production_t_reo + s.imports_t_reo_high - s.exports_t_reo_low
               + COALESCE(m.imports_t_reo_high - m.exports_t_reo_low, 0) AS used_t_reo_high,
           m.imports_t_reo IS NOT NULL AND m.exports_t_reo IS NOT NULL AS metal_trade_included,
           concat(s.inputs, '; separation trade: imports ', COALESCE(s.imports_basis, 'unknown'),
                  ', exports ', COALESCE(s.exports_basis, 'unknown'), '; metal trade: imports ',
                  COALESCE(m.imports_basis, 'unknown'), ', exports ', COALESCE(m.exports_basis, 'unknown')) AS inputs
    FROM stage_balance AS s
    JOIN stage_balance AS m ON m.region = s.region AND m.year = s.year AND m.stage = 'metal'
    WHERE s.stage = 'separation'
)
SELECT e.region, e.year, e.end_use, e.route, e.share, e.basis AS shares_basis,
       s.used_t_reo AS separated_used_t_reo,
       s.used_t_reo_low AS separated_used_t_reo_low,
       s.used_t_reo_high AS separated_used_t_reo_high,
       s.metal_trade_included,
       -- A negative apparent consumption (exports beyond output and imports: stock draw or
       -- unregistered supply) is not a demand: the end uses stay null.
       CASE WHEN s.used_t_reo >= 0 THEN e.share * s.used_t_reo END AS t_reo,
       CASE WHEN s.used_t_reo >= 0 THEN e.share_low * greatest(s.used_t_reo_low, 0) END AS t_reo_low,
       CASE WHEN s.used_t_reo >= 0 THEN e.share_high * s.used_t_reo_high END AS t_reo_high,
       s.inputs,
       e.source
FROM end_use_shares AS e
JOIN separated AS s ON s.region = e.region AND s.year = e.year
ORDER BY e.region, e.year, e.end_use
