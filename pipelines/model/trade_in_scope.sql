/*
description = "The trade reports the flow model reads, from one scan of the trade table: every row whose HS heading (4 digits) is the heading of a code in ref_hs_codes, with the columns the model uses. A full world-trade table holds every product; the model's stages read this table instead, so the large one is scanned once. Rows are those of `trade` (one per report of a year, reporter, partner, flow, code, unit and file; the unit and partner code may be null, so no grain is declared)."

[schema]
year = "Int32"
reporter_code = "Int32"
hs_code = "Utf8"
net_weight_kg = "Float64"
value_usd = "Float64"

[checks]
not_null = ["year", "reporter_code", "flow", "hs_code", "source_file", "edition"]

[columns]
year = "Reference year."
reporter_code = "Comtrade numeric code of the reporter."
reporter_iso3 = "ISO3 of the reporter."
partner_code = "Comtrade numeric code of the partner (0 the World)."
partner_iso3 = "ISO3 of the partner (W00 the World)."
flow = "M imports, X exports, DX US domestic exports (re-export kinds kept distinct)."
hs_code = "HS code as reported."
net_weight_kg = "Net weight in kg as reported (null where unknown)."
qty = "Quantity in qty_unit."
qty_unit = "Unit of the quantity."
value_usd = "Trade value in US dollars."
value_basis = "CIF, FOB, FAS or CUSTOMS."
is_estimated = "The source flags the quantity or weight as estimated."
is_aggregate = "The partner is the World, an area n.e.s. or a zone, not one country."
flag = "suppressed: customs withheld the quantity (quantity and weight null)."
source = "Publisher of the report."
source_file = "Raw file of the report."
edition = "Edition or retrieval of the report."
*/
SELECT t.year, t.reporter_code, t.reporter_iso3, t.partner_code, t.partner_iso3, t.flow, t.hs_code,
       t.net_weight_kg, t.qty, t.qty_unit, t.value_usd, t.value_basis, t.is_estimated, t.is_aggregate, t.flag,
       t.source, t.source_file, t.edition
FROM trade AS t
-- On the table's hs_heading column, not hs_heading(hs_code): the semi-join's dynamic filter runs
-- inside the Parquet reader on every row, and a plain column costs one comparison (BENCHMARKS.md).
WHERE t.hs_heading IN (SELECT DISTINCT hs_heading(hs_code) FROM ref_hs_codes)
ORDER BY t.year, t.reporter_code, t.partner_code, t.flow, t.hs_code, t.qty_unit, t.value_basis, t.source_file
