//! `reeflow report` on the bundled snapshot: the figures checked against the stage outputs they
//! draw, and the page rendered by headless Chromium.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::{query, reeflow, stdout};

/// The report of `years` drawn from a fresh run on the bundled snapshot.
fn report(years: &str) -> (tempfile::TempDir, PathBuf) {
    let data = common::bundled_snapshot_data_dir();
    stdout(&reeflow(data.path(), &["run"]));
    let out = data.path().join("report");
    stdout(&reeflow(data.path(), &["report", "--year", years, "--out", out.to_str().unwrap()]));
    (data, out)
}

/// Every element `<tag class="{class}…"` of `svg` as its attributes.
fn elements(svg: &str, tag: &str, class: &str) -> Vec<BTreeMap<String, String>> {
    let mut found = Vec::new();
    for chunk in svg.split(&format!("<{tag} class=\"{class}")).skip(1) {
        let head = &chunk[..chunk.find('>').unwrap()];
        let mut attributes = BTreeMap::new();
        attributes.insert("class".to_string(), format!("{class}{}", head.split('"').next().unwrap()));
        for part in head.split("\" ").map(|p| p.trim()) {
            if let Some((name, value)) = part.split_once("=\"") {
                attributes.insert(name.trim().to_string(), value.trim_end_matches('"').to_string());
            }
        }
        found.push(attributes);
    }
    found
}

fn number(attributes: &BTreeMap<String, String>, name: &str) -> f64 {
    attributes[name].parse().unwrap_or_else(|_| panic!("{name} in {attributes:?}"))
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

#[test]
fn the_sankey_draws_exactly_the_model_flows_on_one_scale() {
    let (data, out) = report("2018,2022");
    let stages = ["mining", "separation", "metal", "magnet", "demand"];
    for year in [2018, 2022] {
        let svg = std::fs::read_to_string(out.join(format!("sankey-{year}.svg"))).unwrap();
        let scale: f64 = svg.split("data-scale=\"").nth(1).unwrap().split('"').next().unwrap().parse().unwrap();
        let links = elements(&svg, "path", "link");
        assert!(!links.is_empty());
        for link in &links {
            assert!(close(number(link, "stroke-width"), number(link, "data-t-reo") * scale), "width ∝ t REO: {link:?}");
        }

        // Trade links: the region-to-region flows of trade_flows, each into the importer's next stage.
        let trade: BTreeMap<(String, String), f64> = links
            .iter()
            .filter(|l| l["class"] == "link trade")
            .map(|l| ((l["data-from"].clone(), l["data-to"].clone()), number(l, "data-t-reo")))
            .collect();
        // Expected from the flow rows themselves, summed here (not with the report's own query):
        // flows between two regions with a t REO figure, into the importer's next stage.
        let rows = query(
            data.path(),
            &format!("SELECT exporter_region, importer_region, stage, t_reo FROM trade_flows WHERE year = {year}"),
        );
        // A region whose separated REO is split by end use (demand_by_end_use) takes the separated
        // goods it imports by its shares: the metal and magnet shares into its metal node, each
        // direct use into its end-use node, and only as much as it uses (C) when imports exceed C.
        let split_rows = query(
            data.path(),
            &format!(
                "SELECT region, end_use, route, t_reo FROM demand_by_end_use WHERE year = {year} \
                 AND t_reo IS NOT NULL AND separated_used_t_reo > 0"
            ),
        );
        let mut split: BTreeMap<String, Vec<(String, String, f64)>> = BTreeMap::new();
        for row in &split_rows {
            split.entry(row["region"].as_str().unwrap().to_string()).or_default().push((
                row["end_use"].as_str().unwrap().to_string(),
                row["route"].as_str().unwrap().to_string(),
                row["t_reo"].as_f64().unwrap(),
            ));
        }
        let regions: Vec<String> = query(data.path(), "SELECT region FROM ref_region_list")
            .iter()
            .map(|r| r["region"].as_str().unwrap().to_string())
            .collect();
        let mut separated_imports: BTreeMap<String, f64> = BTreeMap::new();
        for row in &rows {
            let (Some(from), Some(to), Some(t_reo)) =
                (row["exporter_region"].as_str(), row["importer_region"].as_str(), row["t_reo"].as_f64())
            else {
                continue;
            };
            if from != to && row["stage"] == "separation" && t_reo > 0.0 && regions.iter().any(|r| r == from) {
                *separated_imports.entry(to.to_string()).or_default() += t_reo;
            }
        }
        let mut expected: BTreeMap<(String, String), f64> = BTreeMap::new();
        for row in &rows {
            let (Some(from), Some(to), Some(t_reo)) =
                (row["exporter_region"].as_str(), row["importer_region"].as_str(), row["t_reo"].as_f64())
            else {
                continue;
            };
            let Some(stage) = stages.iter().position(|s| row["stage"] == *s) else { continue };
            if from == to || stage + 1 == stages.len() {
                continue;
            }
            if let (Some(uses), "separation") = (split.get(to), stages[stage]) {
                let used: f64 = uses.iter().map(|u| u.2).sum();
                let drawn = (used / separated_imports[to]).min(1.0);
                let metal: f64 = uses.iter().filter(|u| u.1 != "direct").map(|u| u.2).sum();
                let key = (format!("{from}:separation"), format!("{to}:metal"));
                *expected.entry(key).or_default() += t_reo * drawn * metal / used;
                for (end_use, _, t) in uses.iter().filter(|u| u.1 == "direct") {
                    let key = (format!("{from}:separation"), format!("{to} {}:demand", end_use.replace('_', " ")));
                    *expected.entry(key).or_default() += t_reo * drawn * t / used;
                }
                continue;
            }
            let key = (format!("{from}:{}", stages[stage]), format!("{to}:{}", stages[stage + 1]));
            *expected.entry(key).or_default() += t_reo;
        }
        expected.retain(|_, t_reo| *t_reo > 0.0);
        assert_eq!(
            trade.keys().collect::<Vec<_>>(),
            expected.keys().collect::<Vec<_>>(),
            "{year}: one link per region pair"
        );
        for (key, value) in &expected {
            assert!(close(trade[key], *value), "{year} {key:?}: {} vs {value}", trade[key]);
        }

        // The demand column: one node per region and end use, as high as the end use's t REO, and
        // each split region's metal node holds its metal and magnet shares (not all it separates).
        let nodes = elements(&svg, "g", "node");
        let node_value = |key: &str| nodes.iter().find(|n| n["data-node"] == key).map(|n| number(n, "data-t-reo"));
        for (region, uses) in &split {
            for (end_use, _, t_reo) in uses.iter().filter(|u| u.2 > 0.0) {
                let key = format!("{region} {}:demand", end_use.replace('_', " "));
                let value = node_value(&key).unwrap_or_else(|| panic!("{year}: no node {key}"));
                assert!(close(value, *t_reo), "{year} {key}: {value} vs {t_reo}");
            }
            let metal: f64 = uses.iter().filter(|u| u.1 != "direct").map(|u| u.2).sum();
            let metal_in: f64 = links
                .iter()
                .filter(|l| l["data-to"] == format!("{region}:metal"))
                .map(|l| number(l, "data-t-reo"))
                .sum();
            assert!(close(metal_in, metal), "{year} {region}: metal node takes {metal_in}, its shares say {metal}");
        }
        if year == 2022 {
            assert!(split.contains_key("USA") && split.contains_key("CHN"), "{year}: {split:?}");
        }

        // Unregistered links: every non-zero U of stage_balance, signed by direction, with its range.
        let unregistered: Vec<&BTreeMap<String, String>> =
            links.iter().filter(|l| l["class"] == "link unregistered").collect();
        let balance = query(
            data.path(),
            &format!(
                "SELECT region, stage, unregistered_t_reo AS u, unregistered_t_reo_low AS low, unregistered_t_reo_high AS high \
                 FROM stage_balance WHERE year = {year} AND unregistered_t_reo <> 0"
            ),
        );
        assert_eq!(unregistered.len(), balance.len(), "{year}");
        for row in &balance {
            let (region, stage, u) =
                (row["region"].as_str().unwrap(), row["stage"].as_str().unwrap(), row["u"].as_f64().unwrap());
            let node = format!("{region}:{stage}");
            let link = unregistered
                .iter()
                .find(|l| if u > 0.0 { l["data-to"] == node } else { l["data-from"] == node })
                .unwrap_or_else(|| panic!("{year}: no unregistered link at {node}"));
            assert!(close(number(link, "data-t-reo"), u.abs()));
            assert!(close(number(link, "data-low"), row["low"].as_f64().unwrap()));
            assert!(close(number(link, "data-high"), row["high"].as_f64().unwrap()));
        }

        // Regions stand in the order of the region list in every column and year.
        let order: Vec<String> = query(data.path(), "SELECT region FROM ref_region_list ORDER BY region_order")
            .iter()
            .map(|r| r["region"].as_str().unwrap().to_string())
            .collect();
        let nodes = elements(&svg, "g", "node");
        for stage in stages {
            let mut positions: Vec<(f64, usize)> = nodes
                .iter()
                .filter(|n| n["data-node"].ends_with(&format!(":{stage}")))
                .filter_map(|n| {
                    let region = n["data-node"].split(':').next().unwrap();
                    let rank = order.iter().position(|r| r == region)?;
                    let y: f64 = svg
                        .split(&format!("data-node=\"{}\"", n["data-node"]))
                        .nth(1)?
                        .split("y=\"")
                        .nth(1)?
                        .split('"')
                        .next()?
                        .parse()
                        .ok()?;
                    Some((y, rank))
                })
                .collect();
            positions.sort_by(|a, b| a.0.total_cmp(&b.0));
            assert!(positions.windows(2).all(|w| w[0].1 < w[1].1), "{year} {stage}: {positions:?}");
        }
    }
}

#[test]
fn the_tornado_draws_the_drivers_of_every_significant_u() {
    let (data, out) = report("2018,2022");
    for year in [2018, 2022] {
        let svg = std::fs::read_to_string(out.join(format!("tornado-{year}.svg"))).unwrap();
        let significant = query(
            data.path(),
            &format!(
                "SELECT region, stage, unregistered_t_reo AS u FROM unregistered_uncertainty WHERE year = {year} AND significant"
            ),
        );
        let groups = elements(&svg, "g", "balance");
        assert_eq!(groups.len(), significant.len(), "{year}: one group per significant U");
        for row in &significant {
            let (region, stage) = (row["region"].as_str().unwrap(), row["stage"].as_str().unwrap());
            let group = groups.iter().find(|g| g["data-region"] == region && g["data-stage"] == stage).unwrap();
            assert!(close(number(group, "data-u"), row["u"].as_f64().unwrap()));
            // The bars: the largest drivers of the table, each spanning its swing.
            let drivers = query(
                data.path(),
                &format!(
                    "SELECT input, variance_share, u_input_low_t_reo AS low, u_input_high_t_reo AS high FROM unregistered_drivers \
                     WHERE year = {year} AND region = '{region}' AND stage = '{stage}' ORDER BY variance_share DESC, input LIMIT 5"
                ),
            );
            let bars: Vec<_> = elements(&svg, "g", "bar")
                .into_iter()
                .filter(|b| b["data-region"] == region && b["data-stage"] == stage)
                .collect();
            assert_eq!(bars.len(), drivers.len(), "{year} {region} {stage}");
            for (bar, driver) in bars.iter().zip(&drivers) {
                assert_eq!(bar["data-input"], driver["input"].as_str().unwrap());
                assert!(close(number(bar, "data-low"), driver["low"].as_f64().unwrap()));
                assert!(close(number(bar, "data-high"), driver["high"].as_f64().unwrap()));
                assert!(close(number(bar, "data-share"), driver["variance_share"].as_f64().unwrap()));
            }
        }
    }
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(html.contains("id=\"figure-tornado-2022\""), "beside the Sankey in the page");
}

#[test]
fn the_charts_plot_the_indicator_values_and_the_page_is_self_contained() {
    let (data, out) = report("2022");
    let chart = std::fs::read_to_string(out.join("us-net-exports.svg")).unwrap();
    let plotted: BTreeMap<i64, f64> = elements(&chart, "circle", "point")
        .iter()
        .filter(|p| p["data-series"] == "mining")
        .map(|p| (p["data-year"].parse().unwrap(), number(p, "data-value")))
        .collect();
    let rows = query(
        data.path(),
        "SELECT year, value FROM indicators WHERE indicator = 'net_exports_t_reo' AND region = 'USA' AND stage = 'mining' AND value IS NOT NULL",
    );
    assert_eq!(plotted.len(), rows.len());
    for row in &rows {
        assert!(close(plotted[&row["year"].as_i64().unwrap()], row["value"].as_f64().unwrap()));
    }
    assert!(plotted[&2018] > 0.0 && plotted[&2022] > 0.0, "the US is a net exporter at the mining stage");

    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(!html.contains("<script"), "no JavaScript");
    // Nothing is loaded from the network (sources are cited in captions as text, not linked).
    for loads in ["src=\"http", "href=\"http", "url(http", "@import"] {
        assert!(!html.contains(loads), "no network references: {loads}");
    }
    for figure in [
        "sankey-2022",
        "mine-production",
        "china-mine-share",
        "us-net-exports",
        "us-china-flows",
        "unregistered",
        "coverage",
    ] {
        assert!(out.join(format!("{figure}.svg")).exists(), "{figure}.svg");
        assert!(html.contains(&format!("id=\"figure-{figure}\"")), "{figure} in the page");
    }
    assert!(html.contains("What is missing in 2022"));
}

/// Headless Chromium (Debian package `chromium`); under CI its absence is a failure.
fn chromium() -> Option<PathBuf> {
    let path = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].iter().map(PathBuf::from).find(|p| p.exists());
    if path.is_none() {
        assert!(std::env::var_os("CI").is_none(), "CI is set but chromium is missing: .ci/run installs it");
        eprintln!("skipping: no chromium (apt-get install chromium)");
    }
    path
}

/// Renders `page` to a PNG of `width` × `height` and returns its pixels (RGBA).
fn screenshot(browser: &Path, page: &Path, png: &Path, width: u32, height: u32) -> (u32, u32, Vec<u8>) {
    let profile = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(browser)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"])
        .args(["--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars"])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--window-size={width},{height}"))
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    assert!(png.exists(), "no screenshot: {}", String::from_utf8_lossy(&output.stderr));
    let mut decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(png).unwrap()));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::ALPHA);
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut pixels).unwrap();
    pixels.truncate(info.buffer_size());
    (info.width, info.height, pixels)
}

#[test]
fn the_report_renders_in_headless_chromium() {
    let Some(browser) = chromium() else { return };
    let (_data, out) = report("2022");
    let shots = tempfile::tempdir().unwrap();
    for (page, width, height) in
        [("index.html", 1280, 2400), ("sankey-2022.svg", 1100, 660), ("tornado-2022.svg", 900, 240)]
    {
        let png = shots.path().join(format!("{page}.png"));
        let (w, h, pixels) = screenshot(&browser, &out.join(page), &png, width, height);
        assert_eq!((w, h), (width, height), "{page}");
        let colours: std::collections::BTreeSet<[u8; 3]> = pixels.chunks(4).map(|p| [p[0], p[1], p[2]]).collect();
        let background = pixels.chunks(4).filter(|p| p[0] > 240 && p[1] > 240 && p[2] > 240).count();
        let painted = pixels.len() / 4 - background;
        assert!(colours.len() > 50, "{page}: a rendered page has many colours, got {}", colours.len());
        assert!(painted * 20 > pixels.len() / 4, "{page}: at least 5 % of the pixels are drawn, got {painted}");
        // `REEFLOW_SCREENSHOTS=docs/images cargo test … renders_in_headless` refreshes the README's picture.
        if let (Some(folder), "sankey-2022.svg") = (std::env::var_os("REEFLOW_SCREENSHOTS"), page) {
            let folder = common::repo().join(folder);
            std::fs::create_dir_all(&folder).unwrap();
            std::fs::copy(&png, folder.join("sankey-2022.png")).unwrap();
        }
    }
}
