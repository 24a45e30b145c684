/*
description = "HS codes, and the goods lane rules convert with their own factor (e.g. mixed carbonate shipped under 2846), with their supply-chain stage and rare-earth-oxide content (t REO per t of product, low/mid/high), from config/model.toml."
grain = ["hs_code"]

[schema]
hs_code = "Utf8"
stage = "Utf8"
reo_low = "Float64"
reo_mid = "Float64"
reo_high = "Float64"

[checks]
not_null = ["hs_code", "stage", "factor_source"]
accepted_values = { stage = ["mining", "separation", "metal", "magnet", "demand"] }

[checks.sql]
# A factor range must be ordered and positive; a code has all three factors or none (unknown).
factor_low_mid_high_ordered = """
SELECT hs_code, reo_low, reo_mid, reo_high FROM reo_factors
WHERE reo_low <= 0 OR reo_low > reo_mid OR reo_mid > reo_high
   OR ((reo_low IS NULL) <> (reo_mid IS NULL)) OR ((reo_mid IS NULL) <> (reo_high IS NULL))
"""

[columns]
hs_code = "HS heading (4 digits) or subheading (6 digits), or the name of [[goods]] a lane rule converts with (trade_reo.factor_code refers to this column)."
kind = "hs_code, or goods (a [[goods]] entry of config/model.toml)."
stage = "Supply-chain stage the code's goods belong to: mining, separation, metal, magnet."
description = "What the code covers."
reo_low = "Lowest plausible t REO per t of product; null when the rare-earth share of the code is unknown."
reo_mid = "Default t REO per t of product (the model's central estimate)."
reo_high = "Highest plausible t REO per t of product."
factor_source = "Where the factor comes from, or why there is none."
*/
SELECT hs_code, 'hs_code' AS kind, stage, description, reo_low, reo_mid, reo_high, factor_source FROM ref_hs_codes
UNION ALL
SELECT name, 'goods', stage, description, reo_low, reo_mid, reo_high, factor_source FROM ref_goods
ORDER BY hs_code
