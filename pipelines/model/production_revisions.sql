/*
description = "How editions differ: every edition's figure for a year, country and stage beside the first-published and the newest figure (the one the model uses)."
grain = ["year", "country_iso3", "stage", "edition"]

[schema]
year = "Int32"
t_reo = "Float64"
newest_t_reo = "Float64"
is_newest = "Boolean"

[columns]
year = "Calendar year."
country_iso3 = "ISO3 (WLD world)."
stage = "Supply-chain stage."
edition = "The edition of this figure."
published = "Its publication month (YYYYMM)."
t_reo = "The figure in this edition (t REO)."
flag = "Its flags."
first_edition = "The earliest edition reporting this year, country and stage."
first_t_reo = "Its figure: the first estimate."
newest_edition = "The newest edition reporting it: the figure production_by_stage uses."
newest_t_reo = "Its figure."
revision_t_reo = "t_reo - first_t_reo: how far this edition moved from the first estimate."
revision_pct = "revision_t_reo / first_t_reo × 100."
is_newest = "True for the edition the model uses."
editions = "How many editions report this year, country and stage."
source_file = "Raw file of this figure."
*/
WITH ordered AS (
    SELECT
        p.*,
        first_value(edition) OVER w_first AS first_edition,
        first_value(t_reo) OVER w_first AS first_t_reo,
        first_value(edition) OVER w_newest AS newest_edition,
        first_value(t_reo) OVER w_newest AS newest_t_reo,
        count(*) OVER (PARTITION BY year, country_iso3, stage) AS editions
    FROM production_reported AS p
    WINDOW
        w_first AS (PARTITION BY year, country_iso3, stage ORDER BY published, edition
                    ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING),
        w_newest AS (PARTITION BY year, country_iso3, stage ORDER BY published DESC, edition DESC
                     ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
)
SELECT year, country_iso3, stage, edition, published, t_reo, flag, first_edition, first_t_reo, newest_edition,
       newest_t_reo, t_reo - first_t_reo AS revision_t_reo,
       CASE WHEN first_t_reo > 0 THEN (t_reo - first_t_reo) / first_t_reo * 100 END AS revision_pct,
       edition = newest_edition AS is_newest, editions, source_file
FROM ordered
ORDER BY year, country_iso3, stage, published, edition
