"""One benchmark step in DuckDB, in its own process: prints {"seconds", "peak_bytes", "rows"} as JSON.

  duckdb_step.py sql TRADE.parquet QUERY.sql     run the query over `trade` (a view of the file)
  duckdb_step.py json DIR OUT.parquet            Comtrade API responses in DIR -> one Parquet file
"""
import json
import resource
import sys
import time

import duckdb


def main():
    mode, source, target = sys.argv[1], sys.argv[2], sys.argv[3]
    connection = duckdb.connect()
    started = time.perf_counter()
    if mode == "sql":
        connection.execute(f"CREATE VIEW trade AS SELECT * FROM read_parquet('{source}')")
        rows = len(connection.execute(open(target).read()).fetchall())
    else:
        connection.execute(
            f"""COPY (
                SELECT r.refYear AS year, r.reporterCode AS reporter_code, r.reporterISO AS reporter_iso3,
                       r.partnerCode AS partner_code, r.partnerISO AS partner_iso3, r.flowCode AS flow,
                       r.cmdCode AS hs_code, r.classificationCode AS hs_edition, r.netWgt AS net_weight_kg,
                       r.qty AS qty, r.qtyUnitAbbr AS qty_unit, r.primaryValue AS value_usd,
                       r.isAggregate AS is_aggregate
                FROM (SELECT unnest(data) AS r FROM read_json('{source}/*.json', maximum_object_size=1000000000))
            ) TO '{target}' (FORMAT parquet, COMPRESSION zstd)"""
        )
        rows = connection.execute(f"SELECT count(*) FROM read_parquet('{target}')").fetchone()[0]
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"seconds": seconds, "peak_bytes": peak, "rows": rows}))


if __name__ == "__main__":
    main()
