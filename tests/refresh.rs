//! `reeflow refresh`, `diff` and `versions` end to end on the real public files: what a new
//! edition revises, a threshold breach that blocks publishing, and SIGKILL at several points
//! followed by a rerun that must give the clean run's bytes.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{
    MCS2024_WORLD, command, copy_tree, kill_at, published_files, query, raw_folders, reeflow, refresh_args,
    refresh_summary, serve_files, stdout,
};

fn refresh(data: &Path, raw: &Path, extra: &[&str]) -> (Output, serde_json::Value) {
    let mut args = refresh_args(raw);
    args.extend(extra);
    let output = reeflow(data, &args);
    let summary = refresh_summary(&output);
    (output, summary)
}

fn keys(value: &serde_json::Value) -> Vec<String> {
    let mut keys: Vec<String> = value.as_array().unwrap().iter().map(|k| k.as_str().unwrap().to_string()).collect();
    keys.sort();
    keys
}

fn key_of(row: &serde_json::Value, columns: &[&str]) -> String {
    columns
        .iter()
        .map(|c| format!("{c}={}", row[c].as_str().map_or_else(|| row[c].to_string(), String::from)))
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn a_new_edition_shows_as_exactly_the_rows_it_adds_and_revises() {
    let public = reeflow_testdata::public_data();
    let root = tempfile::tempdir().unwrap();
    let (raw_a, raw_b) = raw_folders(&public, root.path());
    let data = root.path().join("data");

    let (output, first) = refresh(&data, &raw_a, &[]);
    assert_eq!(output.status.code(), Some(0), "{first}");
    assert_eq!(first["status"], "published");
    let (output, second) = refresh(&data, &raw_b, &[]);
    assert_eq!(output.status.code(), Some(0), "{second}");
    assert_eq!(second["status"], "published");
    assert_eq!(second["previous"], first["version"]);
    assert!(second["diff"]["tables_changed"].as_array().unwrap().contains(&"production".into()));

    // previous → current, every key listed.
    let diff: serde_json::Value =
        serde_json::from_str(&stdout(&reeflow(&data, &["diff", "--format", "json", "--limit", "1000"]))).unwrap();
    let table = |name: &str| diff["tables"].as_array().unwrap().iter().find(|t| t["table"] == name).unwrap().clone();

    // The normalized production table gains exactly the MCS2024 rows and changes nothing else.
    let production = table("production");
    let mcs2024 = query(
        &data,
        "SELECT year, country_iso3, stage, edition FROM production WHERE edition = 'MCS2024' ORDER BY 1, 2",
    );
    assert_eq!(mcs2024.len(), 32, "MCS2024 prints 2022 and 2023 for 16 countries and the world");
    let grain = ["year", "country_iso3", "stage", "edition"];
    let mut expected: Vec<String> = mcs2024.iter().map(|r| key_of(r, &grain)).collect();
    expected.sort();
    assert_eq!(keys(&production["added_keys"]), expected);
    assert_eq!((production["removed"].as_u64(), production["changed"].as_u64()), (Some(0), Some(0)));

    // The model takes each year from one itemised edition: MCS2024 supplies 2023 (added rows) and
    // changes nothing for 2022, which MYB2022 (newer, itemised) keeps whole: no country's 2022
    // figure is taken from MCS2024 on top of MYB2022's list.
    let by_stage = table("production_by_stage");
    let rows = query(
        &data,
        "SELECT year, country_iso3, stage FROM production_by_stage WHERE edition = 'MCS2024' AND stage = 'mining' ORDER BY 1, 2",
    );
    let mut chosen: Vec<String> = rows.iter().map(|r| key_of(r, &["year", "country_iso3", "stage"])).collect();
    chosen.sort();
    assert!(rows.iter().all(|r| r["year"] == 2023), "MCS2024 mine production is used for 2023 only: {rows:?}");
    assert_eq!(keys(&by_stage["added_keys"]), chosen);
    assert_eq!(by_stage["removed"].as_u64(), Some(0));
    // Changed rows change only how many editions report them, never the figure or its edition.
    for column in by_stage["columns"].as_array().unwrap() {
        let changes = column["largest_absolute"].as_array().map(Vec::len).unwrap_or(0);
        assert!(column["column"] == "editions_available" || changes == 0, "2022 figures must stay MYB2022's: {column}");
    }

    let versions: serde_json::Value =
        serde_json::from_str(&stdout(&reeflow(&data, &["versions", "--format", "json"]))).unwrap();
    assert_eq!(versions.as_array().unwrap().len(), 2, "current and previous are kept");
}

#[test]
fn a_silently_revised_published_figure_blocks_the_refresh_until_accepted() {
    let public = reeflow_testdata::public_data();
    let root = tempfile::tempdir().unwrap();
    let raw = root.path().join("raw");
    copy_tree(&public, &raw, &[]);
    let data = root.path().join("data");
    assert_eq!(refresh(&data, &raw, &[]).1["status"], "published");

    // The same MCS2024 file with China's 2023 figure changed from 240,000 t: alone, the countries
    // no longer add up to the world total and a check rejects the run; with the world total
    // changed too (+16,000 t both), the checks pass and the production threshold (5 %) stops it.
    let file = raw.join(MCS2024_WORLD);
    let original = std::fs::read_to_string(&file).unwrap();
    let (china, world) = (
        "210000,240000,Production quota",
        "(rounded),\"Rare earths, mine production, rare-earth-oxide equivalent, metric tons\",300000,350000,",
    );
    assert!(original.contains(china) && original.contains(world));
    let before = published_files(&data);
    std::fs::write(&file, original.replace(china, "210000,256000,Production quota")).unwrap();
    let (output, summary) = refresh(&data, &raw, &[]);
    assert_eq!(output.status.code(), Some(1), "{summary}");
    assert_eq!(summary["status"], "rejected");
    assert!(summary["reason"].as_str().unwrap().contains("countries_within_rounding_of_world"), "{summary}");
    assert_eq!(published_files(&data), before, "nothing published");

    let consistent = original
        .replace(china, "210000,256000,Production quota")
        .replace(world, &world.replace("300000,350000", "300000,366000"));
    std::fs::write(&file, consistent).unwrap();
    let (output, summary) = refresh(&data, &raw, &[]);
    assert_eq!(output.status.code(), Some(1), "{summary}");
    assert_eq!(summary["status"], "rejected");
    let breaches = summary["diff"]["breaches"].as_array().unwrap();
    let breach = breaches.iter().find(|b| b["table"] == "production").unwrap();
    assert_eq!(
        (breach["column"].as_str(), breach["rows"].as_u64()),
        (Some("t_reo"), Some(1)),
        "world +4.6 % stays within 5 %"
    );
    assert_eq!(breach["examples"][0]["key"], "year=2023 country_iso3=CHN stage=mining edition=MCS2024");
    assert_eq!(
        (breach["examples"][0]["old"].as_f64(), breach["examples"][0]["new"].as_f64()),
        (Some(240_000.0), Some(256_000.0))
    );
    assert_eq!(published_files(&data), before, "nothing published");
    let rejected = PathBuf::from(summary["version_dir"].as_str().unwrap());
    assert!(std::fs::read_to_string(rejected.join("diff.md")).unwrap().contains("BLOCK production.t_reo"));
    let china_2023 = "SELECT t_reo FROM production WHERE country_iso3 = 'CHN' AND year = 2023 AND edition = 'MCS2024'";
    assert_eq!(query(&data, china_2023)[0]["t_reo"], 240_000.0);

    let (output, summary) = refresh(&data, &raw, &["--accept-breaches"]);
    assert_eq!(output.status.code(), Some(0), "{summary}");
    assert_eq!(summary["status"], "published");
    assert_eq!(query(&data, china_2023)[0]["t_reo"], 256_000.0);
}

/// A starting state and a step from it that changes the published tables.
struct Scenario {
    /// Publishes the starting version.
    setup: Box<dyn Fn(&Path)>,
    /// The command that is killed, then run again.
    step: Box<dyn Fn(&Path) -> Command>,
}

fn run_to_end(mut command: Command) {
    let output = command.output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
}

#[test]
fn killed_at_any_point_a_rerun_publishes_exactly_what_a_clean_run_does() {
    let public = reeflow_testdata::public_data();
    let root = tempfile::tempdir().unwrap();
    let (raw_a, raw_b) = raw_folders(&public, root.path());
    let (raw_a, raw_b) = (raw_a.to_str().unwrap().to_string(), raw_b.to_str().unwrap().to_string());

    // Fetch: the USGS files come from a local server, the rest is already in the raw folder.
    let server = serve_files(public.join("cmrs-v3/usgs"));
    let files = [
        "usgs_mcs2026_commodities_data.csv",
        "usgs_myb2022_rare_earths_tables.xlsx",
        "usgs_ds140_rare_earths_2020.xlsx",
    ];
    let config = root.path().join("fetch.toml");
    let entries: Vec<String> = files.iter().map(|f| format!("{{ url = \"{server}/{f}\", file = \"{f}\" }}")).collect();
    std::fs::write(&config, format!("[fetch.usgs]\nrequests_per_second = 100.0\nfiles = [{}]\n", entries.join(", ")))
        .unwrap();

    let (a, b) = (raw_a.clone(), raw_b.clone());
    let refresh_between_editions = Scenario {
        setup: Box::new(move |data| run_to_end(command_in(data, &["refresh", "--fetch", "none", "--raw", &a]))),
        step: Box::new(move |data| command_in(data, &["refresh", "--fetch", "none", "--raw", &b])),
    };
    let (a, b) = (raw_a.clone(), raw_b.clone());
    let run_between_editions = Scenario {
        setup: Box::new(move |data| run_to_end(command_in(data, &["run", "--raw", &a]))),
        step: Box::new(move |data| command_in(data, &["run", "--raw", &b])),
    };
    let without_usgs = public.clone();
    let refresh_with_fetch = Scenario {
        setup: Box::new(move |data| {
            copy_tree(&without_usgs, &data.join("raw"), &["cmrs-v3/usgs"]);
            run_to_end(command_in(data, &["refresh", "--fetch", "none"]));
        }),
        step: Box::new(move |data| {
            let mut command = common::command_with(data, &common::repo().join("config/model.toml"), &config);
            command.args(["refresh", "--fetch", "usgs"]);
            command
        }),
    };
    let scenarios = [
        ("refresh with fetch", refresh_with_fetch, vec!["fetch:stored"]),
        (
            "refresh between editions",
            refresh_between_editions,
            vec!["normalize:table:2", "stage:written:3", "publish:switch", "publish:cleanup"],
        ),
        ("run between editions", run_between_editions, vec!["stage:written:2"]),
    ];
    for (name, scenario, failpoints) in &scenarios {
        // The clean run: the starting state (kept for each crash below), then the step.
        let start = root.path().join(format!("{name} start"));
        (scenario.setup)(&start);
        let started = published_files(&start);
        let clean = root.path().join(format!("{name} clean"));
        copy_tree(&start, &clean, &[]);
        run_to_end((scenario.step)(&clean));
        let expected = published_files(&clean);
        assert_ne!(started, expected, "{name}: the step changes the published tables");

        for failpoint in failpoints {
            let crashed = root.path().join(format!("{name} killed at {failpoint}"));
            copy_tree(&start, &crashed, &[]);
            kill_at(&crashed, (scenario.step)(&crashed), failpoint);
            let seen = published_files(&crashed);
            assert!(
                seen == started || seen == expected,
                "{failpoint}: a reader sees the old version or the new, never a mix"
            );
            let rerun = (scenario.step)(&crashed).output().unwrap();
            assert!(rerun.status.success(), "{failpoint}: {}", String::from_utf8_lossy(&rerun.stderr));
            assert!(String::from_utf8_lossy(&rerun.stderr).contains("cleared a stale lock"), "{failpoint}");
            let got = published_files(&crashed);
            let differing: Vec<&String> =
                expected.keys().chain(got.keys()).filter(|k| expected.get(*k) != got.get(*k)).collect();
            assert!(differing.is_empty(), "{failpoint}: the rerun differs from a clean run in {differing:?}");
            let leftovers: Vec<String> = std::fs::read_dir(crashed.join("versions"))
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
                .filter(|n| n.starts_with('.'))
                .collect();
            assert!(leftovers.is_empty(), "{failpoint}: staging left behind: {leftovers:?}");
        }
    }
}

fn command_in(data: &Path, args: &[&str]) -> Command {
    let mut command = command(data);
    command.args(args);
    command
}
