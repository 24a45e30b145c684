/*
description = "What drives each unregistered flow U: every input's share of U's variance over the Monte Carlo draws (its covariance with U divided by U's variance, so the shares of a balance row add up to 1 and a factor shared by imports and exports is counted once), and U with that input alone at the 5th and 95th percentile of its draws (the bars of a tornado chart). Rows whose U has no spread are left out."
grain = ["region", "year", "stage", "input"]

[schema]
region = "Utf8"
year = "Int32"
stage = "Utf8"
input = "Utf8"
variance_share = "Float64"
u_input_low_t_reo = "Float64"
u_input_high_t_reo = "Float64"
significant = "Boolean"

[checks]
not_null = ["variance_share", "u_input_low_t_reo", "u_input_high_t_reo"]

[checks.sql]
shares_add_up_to_one = """
SELECT region, year, stage, sum(variance_share) AS total FROM unregistered_drivers
GROUP BY region, year, stage HAVING abs(sum(variance_share) - 1) > 1e-6
"""

[columns]
region = "Model region."
year = "Calendar year."
stage = "Supply-chain stage."
input = "The input (unregistered_inputs.input)."
variance_share = "Cov(input's delta, U) / Var(U) over the draws: its share of U's variance."
u_input_low_t_reo = "U with this input alone at the 5th percentile of its deltas."
u_input_high_t_reo = "U with this input alone at the 95th percentile of its deltas."
significant = "unregistered_uncertainty.significant of the row."
*/
WITH settings AS (
    SELECT monte_carlo_draws AS draws FROM ref_settings
),
totals AS (
    SELECT region, year, stage, draw, sum(delta_t_reo) AS delta FROM unregistered_draws GROUP BY region, year, stage, draw
),
moments AS (
    -- Means and variance through sums (order-independent) rather than avg or var_pop.
    SELECT region, year, stage, sum(delta) / count(*) AS mean_delta,
           sum(delta * delta) / count(*) - (sum(delta) / count(*)) * (sum(delta) / count(*)) AS var_delta
    FROM totals GROUP BY region, year, stage
),
covariances AS (
    SELECT i.region, i.year, i.stage, i.input,
           sum(i.delta_t_reo * t.delta) / count(*) - (sum(i.delta_t_reo) / count(*)) * max(m.mean_delta) AS covariance
    FROM unregistered_draws AS i
    JOIN totals AS t ON t.region = i.region AND t.year = i.year AND t.stage = i.stage AND t.draw = i.draw
    JOIN moments AS m ON m.region = i.region AND m.year = i.year AND m.stage = i.stage
    GROUP BY i.region, i.year, i.stage, i.input
),
swings AS (
    SELECT region, year, stage, input,
           max(CASE WHEN rank = CAST(ceil(0.05 * draws) AS BIGINT) THEN delta_t_reo END) AS low,
           max(CASE WHEN rank = CAST(ceil(0.95 * draws) AS BIGINT) THEN delta_t_reo END) AS high
    FROM (
        SELECT d.*, s.draws,
               row_number() OVER (PARTITION BY region, year, stage, input ORDER BY delta_t_reo, draw) AS rank
        FROM unregistered_draws AS d CROSS JOIN settings AS s
    )
    GROUP BY region, year, stage, input
)
SELECT c.region, c.year, c.stage, c.input, c.covariance / m.var_delta AS variance_share,
       u.unregistered_t_reo + w.low AS u_input_low_t_reo, u.unregistered_t_reo + w.high AS u_input_high_t_reo,
       u.significant
FROM covariances AS c
JOIN moments AS m ON m.region = c.region AND m.year = c.year AND m.stage = c.stage
JOIN swings AS w ON w.region = c.region AND w.year = c.year AND w.stage = c.stage AND w.input = c.input
JOIN unregistered_uncertainty AS u ON u.region = c.region AND u.year = c.year AND u.stage = c.stage
WHERE m.var_delta > 0
ORDER BY c.region, c.year, c.stage, variance_share DESC, c.input
