/*
description = "Shares of each region's separated REO by end use and year, with the route each use takes to demand (direct as compounds, via metal as alloys, via metal to magnets): the region's own [[end_use_shares]] from config/model.toml where it has them, else the world fallback (basis assumption)."
grain = ["region", "year", "end_use"]

[schema]
region = "Utf8"
year = "Int32"
end_use = "Utf8"
route = "Utf8"
share = "Float64"
share_low = "Float64"
share_high = "Float64"
basis = "Utf8"

[checks]
not_null = ["route", "share", "source"]
accepted_values = { route = ["direct", "metal", "magnet"], basis = ["data", "assumption"] }

[checks.sql]
# The shares of one region and year add up to 1 (sources print whole percentages): anything else is
# a typo in config/model.toml, and the run fails naming the region and year.
shares_add_up_to_one = """
SELECT region, year, sum(share) AS total_share
FROM ref_end_use_shares
GROUP BY region, year
HAVING abs(sum(share) - 1) > 0.005
"""

[columns]
region = "Model region (ref_region_list, ROW included)."
year = "Calendar year covered by a share statement (config/model.toml)."
end_use = "End use ([[end_use]] in config/model.toml)."
route = "direct: separated compounds used as they are; metal: reduced to metal for alloys; magnet: reduced to metal and made into magnets."
share = "Share of the region's separated REO going to this end use."
share_low = "share - the entry's spread (not below 0)."
share_high = "share + the entry's spread."
basis = "data: the region's own statement; assumption: the world fallback (WLD) stands in for it."
source = "Where the shares were read."
*/
WITH years AS (
    SELECT DISTINCT year FROM ref_end_use_shares
),
own AS (
    SELECT DISTINCT region, year FROM ref_end_use_shares WHERE region <> 'WLD'
)
SELECT g.region, y.year, s.end_use, s.route, s.share, s.share_low, s.share_high,
       CASE WHEN o.region IS NULL THEN 'assumption' ELSE 'data' END AS basis,
       s.source
FROM ref_region_list AS g
CROSS JOIN years AS y
LEFT JOIN own AS o ON o.region = g.region AND o.year = y.year
JOIN ref_end_use_shares AS s
    ON s.year = y.year AND s.region = CASE WHEN o.region IS NULL THEN 'WLD' ELSE g.region END
ORDER BY g.region, y.year, s.end_use
