//! What people and schedulers see while reeflow works: a progress bar on a terminal (driven here
//! through a real pseudo-terminal with `script`), plain lines in a pipe, nothing with `--quiet`
//! or `--format json`; the world plan of `fetch --dry-run`; completions, the man page, `--version`.

mod common;

use std::path::Path;
use std::process::Command;

use common::{command_with, repo, serve_body, stdout};

/// A config whose Comtrade source is the local stand-in, at 8 requests a second, one year a call.
fn fetch_config(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("reeflow.toml");
    std::fs::write(
        &path,
        "[fetch.comtrade]\nrequests_per_second = 8.0\nconcurrency = 1\nyears_per_request = 1\nreporters = [156]\n",
    )
    .unwrap();
    path
}

const FETCH_ARGS: [&str; 9] =
    ["fetch", "comtrade", "--codes", "2846", "--flows", "M", "--years", "2007-2022", "--refresh"];

fn fetch_command(data: &Path, base: &str) -> Command {
    let mut command = command_with(data, &repo().join("config/model.toml"), &fetch_config(data));
    command.env("REEFLOW_COMTRADE_URL", base).env_remove("COMTRADE_API_KEY");
    command
}

fn shell_quote(arg: &std::ffi::OsStr) -> String {
    format!("'{}'", arg.to_string_lossy().replace('\'', r"'\''"))
}

#[test]
fn fetch_draws_a_bar_on_a_terminal_and_plain_lines_in_a_pipe() {
    let data = tempfile::tempdir().unwrap();
    let base = serve_body(reeflow_testdata::read_public("cmrs-v3/un_comtrade_china_2846/2022.json"));

    // On a terminal: `script` runs the command on a pseudo-terminal and copies what it draws.
    let mut on_terminal = fetch_command(data.path(), &base);
    on_terminal.args(FETCH_ARGS);
    let line = std::iter::once(on_terminal.get_program())
        .chain(on_terminal.get_args())
        .map(shell_quote)
        .collect::<Vec<_>>()
        .join(" ");
    let drawn = Command::new("script")
        .args(["-qefc", &line, "/dev/null"])
        .envs(on_terminal.get_envs().filter_map(|(k, v)| Some((k, v?))))
        .env_remove("COMTRADE_API_KEY")
        .output()
        .expect("script (util-linux) runs");
    assert!(drawn.status.success(), "{}", String::from_utf8_lossy(&drawn.stdout));
    let screen = String::from_utf8_lossy(&drawn.stdout);
    assert!(screen.contains("\u{1b}["), "the bar redraws in place with terminal escapes");
    let positions: std::collections::BTreeSet<String> =
        (1..=16).map(|n| format!("{n}/16 calls")).filter(|p| screen.contains(p.as_str())).collect();
    assert!(positions.len() >= 3, "the bar updates as calls finish: {positions:?}\n{screen}");
    assert!(screen.contains("16/16 calls") && screen.contains("done"), "and finishes: {screen}");
    assert!(!screen.contains("[   1/16  ]"), "no per-request log lines on a terminal");

    // In a pipe: one line per request, no escapes, no carriage returns.
    let piped = fetch_command(data.path(), &base).args(FETCH_ARGS).output().unwrap();
    stdout(&piped);
    let log = String::from_utf8_lossy(&piped.stderr);
    assert!(!log.contains('\u{1b}') && !log.contains('\r'), "{log:?}");
    assert_eq!(log.lines().filter(|l| l.contains("/16  ] comtrade/156_M_")).count(), 16, "{log}");

    // --quiet: nothing on stderr; --format json: stdout is the JSON summary alone.
    let quiet = fetch_command(data.path(), &base).args(FETCH_ARGS).arg("--quiet").output().unwrap();
    stdout(&quiet);
    assert_eq!(String::from_utf8_lossy(&quiet.stderr), "");
    let json = fetch_command(data.path(), &base).args(FETCH_ARGS).args(["--format", "json"]).output().unwrap();
    let summaries: serde_json::Value = serde_json::from_str(&stdout(&json)).unwrap();
    assert_eq!(summaries[0]["fetched"], 16);
    assert_eq!(String::from_utf8_lossy(&json.stderr), "");
}

/// `--dry-run` for the world with a key: the calls, the records, the time and today's quota.
#[test]
fn the_world_dry_run_says_whether_it_fits_todays_quota() {
    let data = tempfile::tempdir().unwrap();
    let plan = fetch_command(data.path(), "http://127.0.0.1:9")
        .env("COMTRADE_API_KEY", "a-key-never-printed")
        .args(["fetch", "comtrade", "--all-reporters", "--years", "2000-2022", "--dry-run", "--format", "json"])
        .output()
        .unwrap();
    let text = stdout(&plan);
    assert!(!text.contains("a-key-never-printed"));
    let plan: serde_json::Value = serde_json::from_str(&text).unwrap();
    let plan = &plan[0];
    // The model's 8 codes, 23 years, both flows, ~200 reporters at 11 records each: 2 years a call.
    assert_eq!(plan["calls"], 12, "{plan}");
    assert_eq!(plan["fits_today"], true);
    assert_eq!(plan["daily_quota"], 500);
    assert!(plan["requests"].as_array().unwrap().iter().all(|r| !r["url"].as_str().unwrap().contains("reporterCode")));
}

#[test]
fn completions_man_page_and_version() {
    let data = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish"] {
        let script = stdout(&common::reeflow(data.path(), &["completions", shell]));
        assert!(script.contains("refresh") && script.contains("all-reporters"), "{shell}");
    }
    let man = stdout(&common::reeflow(data.path(), &["man"]));
    assert!(man.starts_with(".ie") && man.contains(".TH reeflow 1"), "{man}");
    let version = stdout(&common::reeflow(data.path(), &["--version"]));
    assert!(version.starts_with("reeflow 0.1.0 (commit ") && version.trim_end().ends_with(')'), "{version}");
}

/// `RUST_LOG=info --log-format json`: every stderr line is a JSON object a log collector can read,
/// with a closing span (and its duration) per normalized file and per stage, carrying its rows.
#[test]
fn json_logs_carry_a_span_per_file_and_stage_with_rows() {
    let data = tempfile::tempdir().unwrap();
    let output = common::command(data.path())
        .env("RUST_LOG", "info")
        .args(["--log-format", "json", "--quiet", "normalize", "--raw"])
        .arg(common::public_data())
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&output.stderr)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect();
    let closed = |name: &str| -> Vec<&serde_json::Value> {
        lines.iter().filter(|l| l["fields"]["message"] == "close" && l["span"]["name"] == name).collect()
    };
    let files = closed("normalize_file");
    let mcs = files.iter().find(|l| l["span"]["file"] == "pnnl-cmm-data/usgs_mcs/mcs2023-raree_world.csv").unwrap();
    assert_eq!(mcs["span"]["rows"], 34, "{mcs}");
    assert!(mcs["fields"]["time.busy"].is_string());
    let stages = closed("stage");
    assert_eq!(stages.len(), common::stage_count(), "one per stage");
    assert!(stages.iter().all(|s| s["span"]["rows"].is_u64() && s["spans"][0]["command"] == "normalize"));
}
