/*
description = "A region's apparent consumption of separated rare earths as the model builds it (demand_by_end_use, from production and trade) beside the statistic an agency publishes for it (USGS apparent consumption of compounds and metals for the United States), with the difference."
grain = ["region", "year"]

[schema]
region = "Utf8"
year = "Int32"
model_t_reo = "Float64"
published_t_reo = "Float64"
difference_t_reo = "Float64"

[columns]
region = "Model region with a published consumption figure."
year = "Calendar year."
model_t_reo = "Separated REO the region uses (demand_by_end_use.separated_used_t_reo); null when a term is unknown."
model_t_reo_low = "Its low bound (REO factor ranges)."
model_t_reo_high = "Its high bound."
model_includes_metal_trade = "False when the model's figure leaves out metal-stage trade it cannot convert to REO (partial)."
published_t_reo = "Apparent consumption as published (production_by_stage, stage demand)."
published_edition = "The edition of the published figure."
difference_t_reo = "model_t_reo - published_t_reo: > 0 when the model's trade terms put more rare earths into the region than the agency counts (different codes, partner reports, factors)."
published_within_model_range = "True when the published figure lies between the model's low and high bounds."
*/
WITH model AS (
    SELECT DISTINCT region, year, separated_used_t_reo AS t_reo, separated_used_t_reo_low AS t_reo_low,
           separated_used_t_reo_high AS t_reo_high, metal_trade_included
    FROM demand_by_end_use
),
published AS (
    SELECT region, year, sum(t_reo) AS t_reo, array_to_string(array_sort(array_distinct(array_agg(edition))), ',') AS edition
    FROM production_by_stage
    WHERE stage = 'demand' AND country_iso3 <> 'WLD'
    GROUP BY region, year
    HAVING count(t_reo) = count(*)
)
SELECT p.region, p.year, m.t_reo AS model_t_reo, m.t_reo_low AS model_t_reo_low, m.t_reo_high AS model_t_reo_high,
       m.metal_trade_included AS model_includes_metal_trade,
       p.t_reo AS published_t_reo, p.edition AS published_edition,
       m.t_reo - p.t_reo AS difference_t_reo,
       p.t_reo BETWEEN m.t_reo_low AND m.t_reo_high AS published_within_model_range
FROM published AS p
LEFT JOIN model AS m ON m.region = p.region AND m.year = p.year
ORDER BY p.region, p.year
