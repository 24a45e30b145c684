/*
description = "Seeded Monte Carlo draws of the uncertain inputs of every unregistered flow U (unregistered_inputs): per balance row, input and draw, how far the input moves U from its central value. REO factors are drawn from a triangular distribution on their low/mid/high, one draw per code shared by every flow of that code; each trade report's weight and each production figure get a normal error with the relative standard deviation of their [[uncertainty]] rule. U in draw d is U + the sum of its inputs' deltas (unregistered_uncertainty)."
grain = ["region", "year", "stage", "input", "draw"]

[schema]
region = "Utf8"
year = "Int32"
stage = "Utf8"
input = "Utf8"
draw = "Int64"
delta_t_reo = "Float64"

[checks]
not_null = ["delta_t_reo"]

[columns]
region = "Model region."
year = "Calendar year."
stage = "Supply-chain stage."
input = "The input (unregistered_inputs.input): 'imports <factor code>', 'exports <factor code>', 'production', 'next-stage production'."
draw = "Draw number, 1 to ref_settings.monte_carlo_draws."
delta_t_reo = "sign × (the input's value in this draw - its central value), summed over the input's reports (t REO)."
*/
WITH settings AS (
    SELECT monte_carlo_seed AS seed, monte_carlo_draws AS draws FROM ref_settings
),
input_draws AS (
    -- Every input in every draw. The draws are a function of the seed, the key and the draw
    -- number, so a factor key gets the same draw in every row.
    SELECT c.*, s.seed, unnest(range(1, s.draws + 1)) AS draw
    FROM unregistered_inputs AS c CROSS JOIN settings AS s
)
SELECT region, year, stage, input, draw,
       sum(sign * CASE kind
           -- A trade report: gross tonnes × (factor drawn from its triangular low/mid/high range ×
           -- (1 + sd × z) - the central factor).
           WHEN 'trade' THEN gross_t * (
               CASE WHEN reo_high = reo_low THEN reo_mid
                    WHEN random_uniform(seed, factor_key, draw) < (reo_mid - reo_low) / (reo_high - reo_low)
                    THEN reo_low + sqrt(random_uniform(seed, factor_key, draw) * (reo_high - reo_low) * (reo_mid - reo_low))
                    ELSE reo_high
                         - sqrt((1 - random_uniform(seed, factor_key, draw)) * (reo_high - reo_low) * (reo_high - reo_mid))
               END * (1 + relative_sd * random_normal(seed, measurement_key, draw)) - reo_mid)
           -- A production figure: value × sd × z.
           ELSE value_t_reo * relative_sd * random_normal(seed, measurement_key, draw)
       END) AS delta_t_reo
FROM input_draws
GROUP BY region, year, stage, input, draw
ORDER BY region, year, stage, input, draw
