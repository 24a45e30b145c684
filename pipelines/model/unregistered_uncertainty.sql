/*
description = "The unregistered flow U of every balance row that has one, as a distribution: U plus the draws of its uncertain inputs (unregistered_draws), giving U's median, 90 % interval and the probability that U > 0. A row whose interval excludes zero is significant. Seeded draws: the same seed gives the same bytes."
grain = ["region", "year", "stage"]

[schema]
region = "Utf8"
year = "Int32"
stage = "Utf8"
unregistered_t_reo = "Float64"
u_median_t_reo = "Float64"
u_p05_t_reo = "Float64"
u_p95_t_reo = "Float64"
p_positive = "Float64"
significant = "Boolean"

[checks]
not_null = ["u_median_t_reo", "u_p05_t_reo", "u_p95_t_reo", "p_positive", "significant"]

[checks.sql]
interval_ordered = """
SELECT * FROM unregistered_uncertainty WHERE u_p05_t_reo > u_median_t_reo OR u_median_t_reo > u_p95_t_reo
"""

[columns]
region = "Model region."
year = "Calendar year."
stage = "Supply-chain stage."
unregistered_t_reo = "U at the central factors and figures (stage_balance)."
u_median_t_reo = "Median of U over the draws."
u_p05_t_reo = "5th percentile of U: with u_p95_t_reo the 90 % interval."
u_p95_t_reo = "95th percentile of U."
p_positive = "Share of draws with U > 0: the probability of unregistered supply (1 - p_positive: of unregistered use)."
significant = "True when the 90 % interval excludes zero."
stage_balance_low_high_width = "unregistered_t_reo_high - unregistered_t_reo_low of stage_balance (every input at its extreme at once), for comparison with the interval's width."
draws = "Number of draws (ref_settings.monte_carlo_draws)."
seed = "Seed of the draws (ref_settings.monte_carlo_seed)."
*/
WITH settings AS (
    SELECT monte_carlo_seed AS seed, monte_carlo_draws AS draws FROM ref_settings
),
balances AS (
    SELECT region, year, stage, unregistered_t_reo, unregistered_t_reo_high - unregistered_t_reo_low AS width
    FROM stage_balance WHERE unregistered_t_reo IS NOT NULL
),
per_draw AS (
    SELECT v.region, v.year, v.stage, v.draw, b.unregistered_t_reo + sum(v.delta_t_reo) AS u
    FROM unregistered_draws AS v
    JOIN balances AS b ON b.region = v.region AND b.year = v.year AND b.stage = v.stage
    GROUP BY v.region, v.year, v.stage, v.draw, b.unregistered_t_reo
),
ranked AS (
    SELECT region, year, stage, u, row_number() OVER (PARTITION BY region, year, stage ORDER BY u, draw) AS rank
    FROM per_draw
),
summary AS (
    SELECT r.region, r.year, r.stage,
           avg(CASE WHEN r.rank IN (s.draws / 2, s.draws / 2 + 1) THEN r.u END) AS median,
           max(CASE WHEN r.rank = CAST(ceil(0.05 * s.draws) AS BIGINT) THEN r.u END) AS p05,
           max(CASE WHEN r.rank = CAST(ceil(0.95 * s.draws) AS BIGINT) THEN r.u END) AS p95,
           sum(CASE WHEN r.u > 0 THEN 1.0 ELSE 0.0 END) / max(s.draws) AS p_positive
    FROM ranked AS r CROSS JOIN settings AS s
    GROUP BY r.region, r.year, r.stage
)
-- A U whose inputs are all exact (stated assumptions) has no spread: every draw is U.
SELECT b.region, b.year, b.stage, b.unregistered_t_reo,
       COALESCE(m.median, b.unregistered_t_reo) AS u_median_t_reo,
       COALESCE(m.p05, b.unregistered_t_reo) AS u_p05_t_reo,
       COALESCE(m.p95, b.unregistered_t_reo) AS u_p95_t_reo,
       COALESCE(m.p_positive, CASE WHEN b.unregistered_t_reo > 0 THEN 1.0 ELSE 0.0 END) AS p_positive,
       COALESCE(m.p05, b.unregistered_t_reo) > 0 OR COALESCE(m.p95, b.unregistered_t_reo) < 0 AS significant,
       b.width AS stage_balance_low_high_width,
       s.draws,
       s.seed
FROM balances AS b
LEFT JOIN summary AS m ON m.region = b.region AND m.year = b.year AND m.stage = b.stage
CROSS JOIN settings AS s
ORDER BY b.region, b.year, b.stage
