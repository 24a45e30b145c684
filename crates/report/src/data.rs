//! What the report shows, read from the stage outputs with SQL: the Sankey flows of each selected
//! year, the time series, the coverage strip and the provenance tables.

use std::collections::BTreeMap;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Float64Type, Int64Type};
use reeflow_pipeline::Engine;

use crate::ReportError;
use crate::chart::{Chart, Kind, Series};
use crate::sankey::{BalanceRow, EndUseRow, Region, Sankey, TradeRow};
use crate::svg::region_colour;

/// Query results addressed by column name, every column cast to text, Float64 or Int64.
struct Rows {
    batch: Option<RecordBatch>,
}

impl Rows {
    async fn query(engine: &Engine, sql: &str) -> Result<Self, ReportError> {
        let batches = engine
            .query(sql, false)
            .await
            .map_err(|e| ReportError::Query { sql: sql.to_string(), source: e.into() })?;
        let batch = match batches.first() {
            Some(first) => Some(
                arrow::compute::concat_batches(&first.schema(), &batches)
                    .map_err(|e| ReportError::Query { sql: sql.to_string(), source: e.into() })?,
            ),
            None => None,
        };
        Ok(Self { batch })
    }

    fn len(&self) -> usize {
        self.batch.as_ref().map_or(0, RecordBatch::num_rows)
    }

    fn column(&self, name: &str, to: &DataType) -> Option<arrow::array::ArrayRef> {
        let column = self.batch.as_ref()?.column_by_name(name)?;
        arrow::compute::cast(column, to).ok()
    }

    fn texts(&self, name: &str) -> Vec<Option<String>> {
        let Some(column) = self.column(name, &DataType::Utf8) else { return vec![None; self.len()] };
        let array = column.as_string::<i32>();
        (0..array.len()).map(|i| array.is_valid(i).then(|| array.value(i).to_string())).collect()
    }

    fn numbers(&self, name: &str) -> Vec<Option<f64>> {
        let Some(column) = self.column(name, &DataType::Float64) else { return vec![None; self.len()] };
        let array = column.as_primitive::<Float64Type>();
        (0..array.len()).map(|i| array.is_valid(i).then(|| array.value(i))).collect()
    }

    fn ints(&self, name: &str) -> Vec<Option<i64>> {
        let Some(column) = self.column(name, &DataType::Int64) else { return vec![None; self.len()] };
        let array = column.as_primitive::<Int64Type>();
        (0..array.len()).map(|i| array.is_valid(i).then(|| array.value(i))).collect()
    }

    fn years(&self) -> Vec<i32> {
        self.ints("year").into_iter().map(|y| y.unwrap_or_default() as i32).collect()
    }
}

/// The model regions in their fixed order (`ref_region_list`).
pub async fn regions(engine: &Engine) -> Result<Vec<Region>, ReportError> {
    let rows = Rows::query(engine, "SELECT region, region_name FROM ref_region_list ORDER BY region_order").await?;
    Ok(rows
        .texts("region")
        .into_iter()
        .zip(rows.texts("region_name"))
        .map(|(code, name)| Region { code: code.unwrap_or_default(), name: name.unwrap_or_default() })
        .collect())
}

/// The first and last year the report spans: 2000 (or later, if the data start later) to the
/// last year of the balance.
pub async fn year_span(engine: &Engine) -> Result<(i32, i32), ReportError> {
    let rows = Rows::query(engine, "SELECT min(year) AS first, max(year) AS last FROM stage_balance").await?;
    let first = rows.ints("first").first().copied().flatten().unwrap_or(2000).max(2000) as i32;
    let last = rows.ints("last").first().copied().flatten().ok_or(ReportError::NoData)? as i32;
    Ok((first, last))
}

/// The default year of the Sankey: the latest with an unregistered flow estimated.
pub async fn default_year(engine: &Engine) -> Result<i32, ReportError> {
    let rows =
        Rows::query(engine, "SELECT max(year) AS year FROM stage_balance WHERE unregistered_t_reo IS NOT NULL").await?;
    rows.ints("year").first().copied().flatten().map(|y| y as i32).ok_or(ReportError::NoData)
}

/// The sources a year's diagram rests on beyond the statistics: the lane rules that moved trade to
/// another stage, and the end-use shares of each region drawn.
async fn sources_of_the_year(engine: &Engine, year: i32) -> Result<Vec<String>, ReportError> {
    let lanes = Rows::query(
        engine,
        &format!(
            "SELECT DISTINCT stage_rule FROM trade_reo WHERE year = {year} AND used_in_model AND stage_rule <> 'code' \
             ORDER BY stage_rule"
        ),
    )
    .await?;
    let shares = Rows::query(
        engine,
        &format!(
            "SELECT region, min(shares_basis) AS basis, min(source) AS source FROM demand_by_end_use \
             WHERE year = {year} AND t_reo IS NOT NULL AND separated_used_t_reo > 0 GROUP BY region ORDER BY region"
        ),
    )
    .await?;
    let mut notes: Vec<String> = lanes
        .texts("stage_rule")
        .into_iter()
        .flatten()
        .map(|rule| format!("Lane rule: {}", rule.trim_start_matches("lane: ")))
        .collect();
    let (region, basis, source) = (shares.texts("region"), shares.texts("basis"), shares.texts("source"));
    for i in 0..shares.len() {
        let region = region[i].clone().unwrap_or_default();
        let assumed = if basis[i].as_deref() == Some("assumption") { " (world shares stand in)" } else { "" };
        notes.push(format!("End-use shares of {region}{assumed}: {}", source[i].clone().unwrap_or_default()));
    }
    Ok(notes)
}

/// The significant unregistered flows of one year with their drivers, and caption notes.
pub async fn tornado(engine: &Engine, year: i32) -> Result<(Vec<crate::tornado::Balance>, Vec<String>), ReportError> {
    let balances = Rows::query(
        engine,
        &format!(
            "SELECT region, stage, unregistered_t_reo, u_p05_t_reo, u_p95_t_reo FROM unregistered_uncertainty \
             WHERE year = {year} AND significant ORDER BY abs(unregistered_t_reo) DESC, region, stage"
        ),
    )
    .await?;
    let drivers = Rows::query(
        engine,
        &format!(
            "SELECT region, stage, input, variance_share, u_input_low_t_reo, u_input_high_t_reo FROM unregistered_drivers \
             WHERE year = {year} AND significant ORDER BY region, stage, variance_share DESC, input"
        ),
    )
    .await?;
    let (d_region, d_stage, d_input) = (drivers.texts("region"), drivers.texts("stage"), drivers.texts("input"));
    let (share, low, high) = (
        drivers.numbers("variance_share"),
        drivers.numbers("u_input_low_t_reo"),
        drivers.numbers("u_input_high_t_reo"),
    );
    let (region, stage) = (balances.texts("region"), balances.texts("stage"));
    let (u, p05, p95) =
        (balances.numbers("unregistered_t_reo"), balances.numbers("u_p05_t_reo"), balances.numbers("u_p95_t_reo"));
    let mut out = Vec::new();
    let mut notes = vec![
        "Bars: U with one input alone at its 5th and 95th percentile over the seeded draws (unregistered_drivers); the shaded bar is U's 90 % interval with every input drawn at once (unregistered_uncertainty). In parentheses: the input's share of U's variance.".to_string(),
    ];
    for i in 0..balances.len() {
        let (r, s) = (region[i].clone().unwrap_or_default(), stage[i].clone().unwrap_or_default());
        let inputs: Vec<(String, f64, f64, f64)> = (0..drivers.len())
            .filter(|j| d_region[*j].as_deref() == Some(r.as_str()) && d_stage[*j].as_deref() == Some(s.as_str()))
            .map(|j| {
                (
                    d_input[j].clone().unwrap_or_default(),
                    share[j].unwrap_or_default(),
                    low[j].unwrap_or_default(),
                    high[j].unwrap_or_default(),
                )
            })
            .collect();
        if inputs.len() > crate::tornado::MOST {
            let rest: f64 = inputs[crate::tornado::MOST..].iter().map(|d| d.1).sum();
            notes.push(format!(
                "{r} {s}: {} more inputs, {:.1} % of the variance together, not drawn",
                inputs.len() - crate::tornado::MOST,
                rest * 100.0
            ));
        }
        out.push(crate::tornado::Balance {
            region: r,
            stage: s,
            u: u[i].unwrap_or_default(),
            p05: p05[i].unwrap_or_default(),
            p95: p95[i].unwrap_or_default(),
            drivers: inputs,
        });
    }
    Ok((out, notes))
}

/// The flows of one year.
pub async fn sankey(engine: &Engine, regions: &[Region], year: i32) -> Result<Sankey, ReportError> {
    let balance = Rows::query(
        engine,
        &format!(
            "SELECT region, stage, production_t_reo, imports_t_reo, exports_t_reo, next_stage_input_t_reo, \
             unregistered_t_reo, unregistered_t_reo_low, unregistered_t_reo_high FROM stage_balance \
             WHERE year = {year} ORDER BY region, stage"
        ),
    )
    .await?;
    let (region, stage) = (balance.texts("region"), balance.texts("stage"));
    let (production, exports) = (balance.numbers("production_t_reo"), balance.numbers("exports_t_reo"));
    let (imports, next) = (balance.numbers("imports_t_reo"), balance.numbers("next_stage_input_t_reo"));
    let (u, low, high) = (
        balance.numbers("unregistered_t_reo"),
        balance.numbers("unregistered_t_reo_low"),
        balance.numbers("unregistered_t_reo_high"),
    );
    let balance: Vec<BalanceRow> = (0..balance.len())
        .map(|i| BalanceRow {
            region: region[i].clone().unwrap_or_default(),
            stage: stage[i].clone().unwrap_or_default(),
            production: production[i],
            imports: imports[i],
            exports: exports[i],
            next_stage_input: next[i],
            unregistered: u[i],
            unregistered_low: low[i],
            unregistered_high: high[i],
        })
        .collect();
    let trade = Rows::query(engine, &trade_between_regions(year)).await?;
    let (exporter, importer, stage) =
        (trade.texts("exporter_region"), trade.texts("importer_region"), trade.texts("stage"));
    let (t_reo, low, high) = (trade.numbers("t_reo"), trade.numbers("t_reo_low"), trade.numbers("t_reo_high"));
    let trade: Vec<TradeRow> = (0..trade.len())
        .map(|i| TradeRow {
            exporter: exporter[i].clone().unwrap_or_default(),
            importer: importer[i].clone().unwrap_or_default(),
            stage: stage[i].clone().unwrap_or_default(),
            t_reo: t_reo[i].unwrap_or_default(),
            low: low[i],
            high: high[i],
        })
        .collect();
    let split = Rows::query(
        engine,
        &format!(
            "SELECT region, end_use, route, t_reo, t_reo_low, t_reo_high FROM demand_by_end_use \
             WHERE year = {year} AND t_reo IS NOT NULL AND separated_used_t_reo > 0 ORDER BY region, route, end_use"
        ),
    )
    .await?;
    let (region, end_use, route) = (split.texts("region"), split.texts("end_use"), split.texts("route"));
    let (t_reo, low, high) = (split.numbers("t_reo"), split.numbers("t_reo_low"), split.numbers("t_reo_high"));
    let end_uses: Vec<EndUseRow> = (0..split.len())
        .map(|i| EndUseRow {
            region: region[i].clone().unwrap_or_default(),
            end_use: end_use[i].clone().unwrap_or_default(),
            route: route[i].clone().unwrap_or_default(),
            t_reo: t_reo[i].unwrap_or_default(),
            low: low[i],
            high: high[i],
        })
        .collect();
    let mut sankey = Sankey::build(year, regions.to_vec(), &balance, &trade, &end_uses);
    sankey.notes.extend(sources_of_the_year(engine, year).await?);
    let left_out = Rows::query(
        engine,
        &format!(
            "SELECT count(*) AS flows, sum(gross_kg) / 1000 AS gross_t FROM trade_flows WHERE year = {year} \
             AND t_reo IS NULL AND exporter_region IS DISTINCT FROM importer_region"
        ),
    )
    .await?;
    if let (Some(Some(flows)), Some(gross)) = (left_out.ints("flows").first(), left_out.numbers("gross_t").first())
        && *flows > 0
    {
        sankey.notes.push(format!(
            "{flows} trade flows ({} t gross) have no REO factor (HS 2805 metals, 8505 magnets: the REE share is unknown) and are not drawn",
            crate::svg::tonnes(gross.unwrap_or_default())
        ));
    }
    Ok(sankey)
}

/// The trade the Sankey draws: between different model regions, in t REO, summed per pair and
/// stage. Shared with the tests, which recompute the links from it.
pub fn trade_between_regions(year: i32) -> String {
    format!(
        "SELECT exporter_region, importer_region, stage, sum(t_reo) AS t_reo, sum(t_reo_low) AS t_reo_low, \
         sum(t_reo_high) AS t_reo_high FROM trade_flows WHERE year = {year} AND t_reo IS NOT NULL \
         AND exporter_region IS NOT NULL AND importer_region IS NOT NULL AND exporter_region <> importer_region \
         GROUP BY exporter_region, importer_region, stage ORDER BY exporter_region, importer_region, stage"
    )
}

/// The low and high columns of a band, row by row.
type Band<'a> = (&'a [Option<f64>], &'a [Option<f64>]);

/// One series per value of `key`, over the years `first..=last`.
fn series_by(
    keys: &[Option<String>],
    years: &[i32],
    values: &[Option<f64>],
    bands: Option<Band<'_>>,
    colour: impl Fn(&str, usize) -> String,
) -> Vec<Series> {
    let mut order: Vec<String> = Vec::new();
    let mut points: BTreeMap<String, BTreeMap<i32, Option<f64>>> = BTreeMap::new();
    let mut band: BTreeMap<String, Vec<(i32, f64, f64)>> = BTreeMap::new();
    for (i, key) in keys.iter().enumerate() {
        let key = key.clone().unwrap_or_default();
        if !order.contains(&key) {
            order.push(key.clone());
        }
        points.entry(key.clone()).or_default().insert(years[i], values[i]);
        if let Some((low, high)) = bands
            && let (Some(low), Some(high)) = (low[i], high[i])
        {
            band.entry(key).or_default().push((years[i], low, high));
        }
    }
    order
        .iter()
        .enumerate()
        .map(|(index, key)| Series {
            name: key.clone(),
            colour: colour(key, index),
            points: points[key].iter().map(|(y, v)| (*y, *v)).collect(),
            band: band.remove(key).unwrap_or_default(),
        })
        .collect()
}

/// The time-series charts.
pub async fn charts(engine: &Engine, regions: &[Region], (first, last): (i32, i32)) -> Result<Vec<Chart>, ReportError> {
    let region_index = |code: &str| regions.iter().position(|r| r.code == code);
    let region_colour_of = |key: &str, index: usize| region_colour(region_index(key).unwrap_or(index)).to_string();
    let stage_colour = |key: &str, index: usize| {
        let stage = ["mining", "separation", "metal", "magnet"].iter().position(|s| key.ends_with(s)).unwrap_or(index);
        ["#8c510a", "#2c7fb8", "#7b3294", "#d95f02"][stage % 4].to_string()
    };
    let span = format!("year BETWEEN {first} AND {last}");
    let chart = |id: &str, title: &str, unit: &str, kind, percent, series| Chart {
        id: id.into(),
        title: title.into(),
        unit: unit.into(),
        kind,
        percent,
        series,
        first_year: first,
        last_year: last,
    };
    let mut charts = Vec::new();

    // Mine production by region, stacked; a region with a withheld or missing country is unknown.
    let mining = Rows::query(
        engine,
        &format!(
            "SELECT r.region, y.year, CASE WHEN count(p.t_reo) = count(p.country_iso3) AND count(p.country_iso3) > 0 \
             THEN sum(p.t_reo) END AS t_reo \
             FROM ref_region_list AS r CROSS JOIN (SELECT DISTINCT year FROM production_by_stage WHERE {span}) AS y \
             LEFT JOIN production_by_stage AS p ON p.region = r.region AND p.year = y.year AND p.stage = 'mining' \
             GROUP BY r.region, r.region_order, y.year ORDER BY r.region_order, y.year"
        ),
    )
    .await?;
    let series = series_by(&mining.texts("region"), &mining.years(), &mining.numbers("t_reo"), None, region_colour_of);
    charts.push(chart(
        "mine-production",
        "Mine production by region (newest edition per year)",
        "t REO",
        Kind::StackedBars,
        false,
        series,
    ));

    let share = Rows::query(
        engine,
        &format!(
            "SELECT 'China' AS series, year, value FROM indicators WHERE indicator = 'mine_share_world' \
             AND region = 'CHN' AND {span} ORDER BY year"
        ),
    )
    .await?;
    let series = series_by(&share.texts("series"), &share.years(), &share.numbers("value"), None, |_, _| {
        region_colour(1).into()
    });
    charts.push(chart(
        "china-mine-share",
        "China's share of world mine production",
        "share of world",
        Kind::Lines,
        true,
        series,
    ));

    let net = Rows::query(
        engine,
        &format!(
            "SELECT stage, year, value, value_low, value_high FROM indicators WHERE indicator = 'net_exports_t_reo' \
             AND region = 'USA' AND {span} ORDER BY CASE stage WHEN 'mining' THEN 1 WHEN 'separation' THEN 2 \
             WHEN 'metal' THEN 3 ELSE 4 END, year"
        ),
    )
    .await?;
    let (low, high) = (net.numbers("value_low"), net.numbers("value_high"));
    let series = series_by(&net.texts("stage"), &net.years(), &net.numbers("value"), Some((&low, &high)), stage_colour);
    charts.push(chart(
        "us-net-exports",
        "US net exports by stage (exports − imports; > 0: net exporter)",
        "t REO",
        Kind::Lines,
        false,
        series,
    ));

    let bilateral = Rows::query(
        engine,
        &format!(
            "SELECT 'US→China ' || stage AS series, year, us_to_china_t_reo AS t, us_to_china_t_reo_low AS low, \
             us_to_china_t_reo_high AS high FROM us_china_flows WHERE {span} AND stage IN (SELECT stage FROM us_china_flows \
             GROUP BY stage HAVING count(us_to_china_t_reo) > 0) \
             UNION ALL SELECT 'China→US ' || stage, year, china_to_us_t_reo, china_to_us_t_reo_low, china_to_us_t_reo_high \
             FROM us_china_flows WHERE {span} AND stage IN (SELECT stage FROM us_china_flows GROUP BY stage \
             HAVING count(china_to_us_t_reo) > 0) ORDER BY series, year"
        ),
    )
    .await?;
    let (low, high) = (bilateral.numbers("low"), bilateral.numbers("high"));
    let series = series_by(
        &bilateral.texts("series"),
        &bilateral.years(),
        &bilateral.numbers("t"),
        Some((&low, &high)),
        |key, index| {
            let base = stage_colour(key, index);
            if key.starts_with("China") { format!("{base}99") } else { base }
        },
    );
    charts.push(chart("us-china-flows", "US→China and China→US flows by stage", "t REO", Kind::Lines, false, series));

    let unregistered = Rows::query(
        engine,
        &format!(
            "SELECT region || ' ' || stage AS series, year, unregistered_t_reo AS u, unregistered_t_reo_low AS low, \
             unregistered_t_reo_high AS high FROM stage_balance WHERE {span} AND region || ' ' || stage IN \
             (SELECT region || ' ' || stage FROM stage_balance GROUP BY region, stage HAVING count(unregistered_t_reo) > 0) \
             ORDER BY series, year"
        ),
    )
    .await?;
    let (low, high) = (unregistered.numbers("low"), unregistered.numbers("high"));
    let series = series_by(
        &unregistered.texts("series"),
        &unregistered.years(),
        &unregistered.numbers("u"),
        Some((&low, &high)),
        |key, index| {
            region_colour(region_index(key.split(' ').next().unwrap_or_default()).unwrap_or(index)).to_string()
        },
    );
    charts.push(chart(
        "unregistered",
        "Unregistered flows U = use − supply (band: factor range)",
        "t REO",
        Kind::Lines,
        false,
        series,
    ));
    Ok(charts)
}

/// Which source family supplied figures to the model in which year: (family, years).
pub async fn coverage_strip(
    engine: &Engine,
    (first, last): (i32, i32),
) -> Result<Vec<(String, Vec<i32>)>, ReportError> {
    let rows = Rows::query(
        engine,
        &format!(
            "SELECT DISTINCT family, year FROM ( \
               SELECT CASE WHEN edition LIKE 'MCS%' THEN 'USGS Mineral Commodity Summaries' \
                           WHEN edition LIKE 'MYB%' THEN 'USGS Minerals Yearbook' \
                           WHEN edition LIKE 'DS140%' THEN 'USGS DS-140 historical series' \
                           ELSE 'Config: ' || edition END AS family, year \
               FROM production_by_stage \
               UNION ALL \
               SELECT CASE WHEN e LIKE 'usitc%' THEN 'USITC DataWeb (US customs)' \
                           WHEN e LIKE 'comtrade%' THEN 'UN Comtrade' ELSE e END, year \
               FROM (SELECT year, unnest(string_to_array(editions, ',')) AS e FROM trade_flows WHERE t_reo IS NOT NULL)) \
             WHERE year BETWEEN {first} AND {last} ORDER BY family, year"
        ),
    )
    .await?;
    let mut families: BTreeMap<String, Vec<i32>> = BTreeMap::new();
    for (family, year) in rows.texts("family").into_iter().zip(rows.years()) {
        let family = family.unwrap_or_default();
        let family = if family.starts_with("Config: MIIT") { "China MIIT quotas (config)".to_string() } else { family };
        families.entry(family).or_default().push(year);
    }
    Ok(families
        .into_iter()
        .map(|(family, mut years)| {
            years.dedup();
            (family, years)
        })
        .collect())
}

/// A table of text cells for the provenance section.
pub struct TextTable {
    pub caption: String,
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

async fn text_table(engine: &Engine, caption: &str, sql: &str) -> Result<TextTable, ReportError> {
    let rows = Rows::query(engine, sql).await?;
    let Some(batch) = &rows.batch else {
        return Ok(TextTable { caption: caption.into(), header: Vec::new(), rows: Vec::new() });
    };
    let header: Vec<String> = batch.schema().fields().iter().map(|f| f.name().clone()).collect();
    let columns: Vec<Vec<Option<String>>> = header.iter().map(|h| rows.texts(h)).collect();
    let body =
        (0..rows.len()).map(|i| columns.iter().map(|c| c[i].clone().unwrap_or_else(|| "—".into())).collect()).collect();
    Ok(TextTable { caption: caption.into(), header, rows: body })
}

/// Where the figures come from and what is missing.
pub async fn provenance(engine: &Engine, years: &[i32]) -> Result<Vec<TextTable>, ReportError> {
    let selected = years.iter().map(i32::to_string).collect::<Vec<_>>().join(", ");
    Ok(vec![
        text_table(
            engine,
            "Production editions the model uses (newest edition per year, country and stage)",
            "SELECT p.edition, e.published, min(p.year) AS first_year, max(p.year) AS last_year, count(*) AS figures, \
             count(*) - count(p.t_reo) AS withheld FROM production_by_stage AS p LEFT JOIN ref_editions AS e \
             ON e.edition = p.edition GROUP BY p.edition, e.published ORDER BY e.published, p.edition",
        )
        .await?,
        text_table(
            engine,
            "Trade sources behind the reconciled flows",
            "SELECT editions, rule, min(year) AS first_year, max(year) AS last_year, count(*) AS flows, \
             count(t_reo) AS with_reo_factor FROM trade_flows GROUP BY editions, rule ORDER BY editions, rule",
        )
        .await?,
        text_table(
            engine,
            "Coverage of the balance terms, all years (data: complete own statistics; partial: lower bound; gap: no data)",
            "SELECT item, status, count(*) AS region_years FROM coverage WHERE table_name = 'stage_balance' \
             GROUP BY item, status ORDER BY item, status",
        )
        .await?,
        text_table(
            engine,
            &format!("What is missing in {selected}: balance terms without data, by region and stage"),
            &format!(
                "SELECT year, region, stage, string_agg(item, ', ' ORDER BY item) AS missing FROM coverage \
                 WHERE table_name = 'stage_balance' AND status = 'gap' AND year IN ({selected}) \
                 GROUP BY year, region, stage ORDER BY year, region, stage"
            ),
        )
        .await?,
    ])
}
