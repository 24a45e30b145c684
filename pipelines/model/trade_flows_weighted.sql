/*
description = "Each reconciled flow of trade_flows beside a reliability-weighted one: where both sides report, the two reports are combined with weights from each reporter's reliability, estimated from its mirror discrepancies across all its flows (as BACI does), with the combined figure's relative uncertainty; where one side reports, that report with its reporter's. The rule-based t REO (importer preferred) stays beside it for comparison."
grain = ["year", "exporter", "importer", "stage"]

[schema]
year = "Int32"
exporter = "Utf8"
importer = "Utf8"
stage = "Utf8"
rule_t_reo = "Float64"
weighted_t_reo = "Float64"
weighted_relative_sd = "Float64"
exporter_weight = "Float64"

[checks]
not_null = ["rule"]

[checks.sql]
weighted_between_the_two_reports = """
SELECT * FROM trade_flows_weighted
WHERE importer_t_reo IS NOT NULL AND exporter_t_reo IS NOT NULL
  AND (weighted_t_reo < least(importer_t_reo, exporter_t_reo) - 1e-9
       OR weighted_t_reo > greatest(importer_t_reo, exporter_t_reo) + 1e-9)
"""

[columns]
year = "Calendar year."
exporter = "ISO3 of the exporter."
importer = "ISO3 of the importer."
exporter_region = "Model region of the exporter."
importer_region = "Model region of the importer."
stage = "Supply-chain stage."
rule = "trade_flows.rule: how the rule-based figure was chosen."
rule_t_reo = "trade_flows.t_reo: the rule-based figure (importer preferred)."
importer_t_reo = "The importer's report (t REO), null when it did not report."
exporter_t_reo = "The exporter's report (t REO), null when it did not report."
exporter_noise = "The exporter's noise as a reporter: the mean squared log discrepancy (ln(importer's / exporter's report))² of the flows it reports that a partner also reports, or the mean over every reporter when it has fewer than three."
importer_noise = "The same for the importer."
exporter_weight = "Weight of the exporter's report: (1 / exporter_noise) / (1 / exporter_noise + 1 / importer_noise); 1 or 0 when one side alone reports."
weighted_t_reo = "exporter_weight × exporter_t_reo + (1 - exporter_weight) × importer_t_reo."
weighted_relative_sd = "Relative standard deviation of the weighted figure: sqrt(1 / (1 / exporter_noise + 1 / importer_noise)) when both report, sqrt(the reporter's noise) when one does."
*/
WITH matched AS (
    -- Flows both sides report: the log discrepancy between the two reports.
    SELECT exporter, importer, ln(importer_t_reo / exporter_t_reo) AS discrepancy
    FROM trade_flows
    WHERE importer_t_reo > 0 AND exporter_t_reo > 0
),
by_reporter AS (
    SELECT reporter, sum(discrepancy * discrepancy) / count(*) AS noise, count(*) AS flows
    FROM (
        SELECT exporter AS reporter, discrepancy FROM matched
        UNION ALL
        SELECT importer, discrepancy FROM matched
    )
    GROUP BY reporter
),
pooled AS (
    -- Every matched flow once; a floor keeps two perfectly agreeing reports from an infinite weight.
    SELECT greatest(COALESCE(sum(discrepancy * discrepancy) / count(*), 0.01), 0.0001) AS noise FROM matched
),
noise AS (
    SELECT r.reporter, CASE WHEN r.flows >= 3 THEN greatest(r.noise, 0.0001) ELSE p.noise END AS noise
    FROM by_reporter AS r CROSS JOIN pooled AS p
)
SELECT f.year, f.exporter, f.importer, f.exporter_region, f.importer_region, f.stage, f.rule,
       f.t_reo AS rule_t_reo, f.importer_t_reo, f.exporter_t_reo,
       COALESCE(nx.noise, p.noise) AS exporter_noise,
       COALESCE(nm.noise, p.noise) AS importer_noise,
       CASE WHEN f.exporter_t_reo IS NULL THEN 0.0
            WHEN f.importer_t_reo IS NULL THEN 1.0
            ELSE (1 / COALESCE(nx.noise, p.noise)) / (1 / COALESCE(nx.noise, p.noise) + 1 / COALESCE(nm.noise, p.noise))
       END AS exporter_weight,
       CASE WHEN f.exporter_t_reo IS NULL THEN f.importer_t_reo
            WHEN f.importer_t_reo IS NULL THEN f.exporter_t_reo
            ELSE ((1 / COALESCE(nx.noise, p.noise)) * f.exporter_t_reo + (1 / COALESCE(nm.noise, p.noise)) * f.importer_t_reo)
                 / (1 / COALESCE(nx.noise, p.noise) + 1 / COALESCE(nm.noise, p.noise))
       END AS weighted_t_reo,
       CASE WHEN f.exporter_t_reo IS NULL THEN sqrt(COALESCE(nm.noise, p.noise))
            WHEN f.importer_t_reo IS NULL THEN sqrt(COALESCE(nx.noise, p.noise))
            ELSE sqrt(1 / (1 / COALESCE(nx.noise, p.noise) + 1 / COALESCE(nm.noise, p.noise)))
       END AS weighted_relative_sd
FROM trade_flows AS f
CROSS JOIN pooled AS p
LEFT JOIN noise AS nx ON nx.reporter = f.exporter
LEFT JOIN noise AS nm ON nm.reporter = f.importer
ORDER BY f.year, f.exporter, f.importer, f.stage
