//! Remote data roots end to end against a real S3 server on 127.0.0.1 (moto, see
//! `reeflow_testdata::moto`), on the real public files: `refresh` publishes to `s3://…`, the next
//! refresh with a changed input publishes the next version, two concurrent refreshes publish
//! exactly one version, a refresh killed during its upload leaves the published version as it
//! was, `sql` and `report` on the bucket answer as on a local root, pyarrow reads a version
//! through its manifest, and no secret shows in any output. Built with the `cloud` feature.
#![cfg(feature = "cloud")]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{command, kill_at, published_files, refresh_args, refresh_summary, stdout, version_files};
use reeflow_testdata::moto::{self, Moto};

const BUCKET: &str = "reeflow";
const ROOT: &str = "s3://reeflow/team/published";

/// One machine's view of the bucket: its own mirror folder, the server's AWS variables.
struct Machine {
    cache: PathBuf,
    env: Vec<(&'static str, String)>,
}

impl Machine {
    fn new(moto: &Moto, cache: PathBuf) -> Self {
        Self { cache, env: moto.aws_env() }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = command(Path::new(ROOT));
        command.env("REEFLOW_CACHE_DIR", &self.cache).envs(self.env.iter().map(|(k, v)| (k, v))).args(args);
        command
    }

    fn run(&self, args: &[&str]) -> Output {
        let output = self.command(args).output().unwrap();
        assert_no_secret(&output);
        output
    }

    fn refresh(&self, raw: &Path) -> (Output, serde_json::Value) {
        let output = self.run(&refresh_args(raw));
        let summary = refresh_summary(&output);
        (output, summary)
    }

    /// A refresh that must publish; the id of the version it published.
    fn publish(&self, raw: &Path) -> String {
        let (output, summary) = self.refresh(raw);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        assert_eq!(summary["status"], "published", "{summary}");
        summary["version"].as_str().unwrap().to_string()
    }

    /// The local copy of the bucket's versions this machine made.
    fn mirror(&self) -> PathBuf {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(&self.cache).unwrap().map(|e| e.unwrap().path()).collect();
        assert_eq!(entries.len(), 1, "one mirror per root: {entries:?}");
        entries.pop().unwrap()
    }
}

fn assert_no_secret(output: &Output) {
    for stream in [&output.stdout, &output.stderr] {
        let text = String::from_utf8_lossy(stream);
        assert!(!text.contains(moto::SECRET_KEY), "the secret key shows in the output:\n{text}");
    }
}

/// The bucket's `current` pointer and a version's manifest, read as any tool would (pyarrow).
fn bucket_json(moto: &Moto, key: &str) -> Option<serde_json::Value> {
    let python = moto::python().unwrap();
    let script = format!(
        "import sys\nimport pyarrow.fs as fs\ns3 = fs.S3FileSystem(endpoint_override='127.0.0.1:{port}', scheme='http', \
         access_key='{access}', secret_key='{secret}', region='us-east-1')\ntry:\n    \
         f = s3.open_input_stream('{BUCKET}/team/published/{key}')\nexcept FileNotFoundError:\n    sys.exit(3)\n\
         sys.stdout.write(f.read().decode())\n",
        port = moto.port,
        access = moto::ACCESS_KEY,
        secret = moto::SECRET_KEY,
    );
    let output = Command::new(python).arg("-c").arg(script).output().unwrap();
    if output.status.code() == Some(3) {
        return None;
    }
    Some(serde_json::from_str(&stdout(&output)).unwrap())
}

fn current_version(moto: &Moto) -> Option<String> {
    bucket_json(moto, "current").map(|pointer| pointer["version"].as_str().unwrap().to_string())
}

fn start() -> Option<(Moto, tempfile::TempDir)> {
    let program = moto::server_program()?;
    let moto = Moto::start(&program);
    moto.create_bucket(BUCKET);
    Some((moto, tempfile::tempdir().unwrap()))
}

#[test]
fn refreshes_publish_to_a_bucket_one_version_after_another() {
    let Some((moto, work)) = start() else { return };
    let (raw_a, raw_b) = common::raw_folders(&reeflow_testdata::public_data(), work.path());
    let ci = Machine::new(&moto, work.path().join("ci-cache"));

    // Nothing published yet: a reader says so and how to publish.
    let output = ci.run(&["sql", "SELECT 1"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("nothing is published in s3://reeflow/team/published yet")
    );

    let first_id = ci.publish(&raw_a);
    assert_eq!(current_version(&moto).as_deref(), Some(first_id.as_str()));
    let manifest = bucket_json(&moto, &format!("versions/{first_id}/manifest.json")).unwrap();
    let files: Vec<&str> = manifest["files"].as_array().unwrap().iter().map(|f| f["path"].as_str().unwrap()).collect();
    assert!(files.contains(&"version.json") && files.contains(&"out/stage_balance/part-0.parquet"), "{files:?}");
    assert!(files.contains(&"normalized/trade.parquet"), "{files:?}");

    // The same input again: nothing differs, nothing is published.
    let (_, same) = ci.refresh(&raw_a);
    assert_eq!(same["status"], "unchanged", "{same}");
    assert_eq!(current_version(&moto).as_deref(), Some(first_id.as_str()));

    // A changed input (the MCS 2024 world table arrives): the next version, built on the first.
    let (output, second) = ci.refresh(&raw_b);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(second["status"], "published", "{second}");
    assert_eq!(second["previous"], first_id.as_str());
    let second_id = second["version"].as_str().unwrap().to_string();
    assert_eq!(current_version(&moto).as_deref(), Some(second_id.as_str()));
    let manifest = bucket_json(&moto, &format!("versions/{second_id}/manifest.json")).unwrap();
    assert_eq!(manifest["parent"], first_id.as_str());

    // Another machine (an empty mirror) lists the history and diffs the two versions.
    let analyst = Machine::new(&moto, work.path().join("analyst-cache"));
    let listed: serde_json::Value =
        serde_json::from_str(&stdout(&analyst.run(&["versions", "--format", "json"]))).unwrap();
    let ids: Vec<(&str, bool)> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["id"].as_str().unwrap(), v["current"].as_bool().unwrap()))
        .collect();
    assert_eq!(ids, vec![(first_id.as_str(), false), (second_id.as_str(), true)]);
    let diff = stdout(&analyst.run(&["diff", "--format", "json"]));
    let diff: serde_json::Value = serde_json::from_str(&diff).unwrap();
    let changed: Vec<&str> = diff["tables"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["added"].as_u64().unwrap_or(0) + t["changed"].as_u64().unwrap_or(0) > 0)
        .map(|t| t["table"].as_str().unwrap())
        .collect();
    assert!(changed.contains(&"production"), "the new edition adds production rows: {changed:?}");
}

#[test]
fn readers_of_the_bucket_get_the_answers_and_files_of_a_local_root() {
    let Some((moto, work)) = start() else { return };
    let (_, raw) = common::raw_folders(&reeflow_testdata::public_data(), work.path());
    let ci = Machine::new(&moto, work.path().join("ci-cache"));
    let id = ci.publish(&raw);

    // The same refresh on a local root gives the same table bytes as the bucket's version, as an
    // analyst's machine downloads it.
    let local = work.path().join("local");
    let output = command(&local).args(refresh_args(&raw)).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let analyst = Machine::new(&moto, work.path().join("analyst-cache"));
    let query = "SELECT region, stage, year, unregistered_t_reo, u_p05_t_reo FROM unregistered_uncertainty ORDER BY region, stage, year";
    let from_bucket = stdout(&analyst.run(&["sql", "--format", "csv", query]));
    let from_local = stdout(&command(&local).args(["sql", "--format", "csv", query]).output().unwrap());
    assert_eq!(from_bucket, from_local);
    assert!(from_bucket.lines().count() > 20, "{from_bucket}");
    let downloaded = analyst.mirror().join("versions").join(&id);
    let files = version_files(&downloaded);
    assert!(
        files.contains_key("ref/ref_hs_codes.parquet") && files.contains_key("ref/model.toml"),
        "{:?}",
        files.keys()
    );
    assert_eq!(files, published_files(&local));

    // A second query downloads nothing again (the copy is checked once; versions never change).
    let stamp = std::fs::metadata(downloaded.join("out/stage_balance/part-0.parquet")).unwrap().modified().unwrap();
    stdout(&analyst.run(&["sql", "SELECT count(*) FROM stage_balance"]));
    let again = std::fs::metadata(downloaded.join("out/stage_balance/part-0.parquet")).unwrap().modified().unwrap();
    assert_eq!(stamp, again);

    // The report drawn from the bucket is the report drawn from the writer's folder of that same
    // version (the page's generation time aside).
    let (from_bucket, from_folder) = (work.path().join("report-bucket"), work.path().join("report-folder"));
    stdout(&analyst.run(&["report", "--year", "2022", "--out", from_bucket.to_str().unwrap()]));
    let writer_folder = ci.mirror();
    stdout(
        &command(&writer_folder)
            .args(["report", "--year", "2022", "--out", from_folder.to_str().unwrap()])
            .output()
            .unwrap(),
    );
    let files = |dir: &Path| -> Vec<(String, String)> {
        let mut files: Vec<(String, String)> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .map(|p| {
                let text = std::fs::read_to_string(&p).unwrap();
                let text: String = text.lines().filter(|l| !l.contains("generated 20")).collect::<Vec<_>>().join("\n");
                (p.file_name().unwrap().to_string_lossy().to_string(), reeflow_files::sha256_hex(text.as_bytes()))
            })
            .collect();
        files.sort();
        files
    };
    let bucket_files = files(&from_bucket);
    assert!(bucket_files.len() >= 3, "{bucket_files:?}");
    assert_eq!(bucket_files, files(&from_folder));

    // Any tool reads the published version through its manifest: pyarrow, with no reeflow.
    let count: usize = stdout(&analyst.run(&["sql", "--format", "csv", "SELECT count(*) AS n FROM stage_balance"]))
        .lines()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let script = format!(
        "import json\nimport pyarrow.fs as fs\nimport pyarrow.parquet as pq\n\
         s3 = fs.S3FileSystem(endpoint_override='127.0.0.1:{port}', scheme='http', region='us-east-1')\n\
         root = '{BUCKET}/team/published'\n\
         current = json.load(s3.open_input_stream(root + '/current'))\n\
         manifest = json.load(s3.open_input_stream(root + '/' + current['manifest']))\n\
         parts = [f['path'] for f in manifest['files'] if f['path'].startswith('out/stage_balance/') and f['path'].endswith('.parquet')]\n\
         print(sum(pq.read_table(root + '/versions/' + current['version'] + '/' + p, filesystem=s3).num_rows for p in parts))\n",
        port = moto.port
    );
    let output = Command::new(moto::python().unwrap())
        .arg("-c")
        .arg(script)
        .env("AWS_ACCESS_KEY_ID", moto::ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", moto::SECRET_KEY)
        .output()
        .unwrap();
    assert_eq!(stdout(&output).trim().parse::<usize>().unwrap(), count);
}

#[test]
fn of_two_concurrent_refreshes_exactly_one_publishes() {
    let Some((moto, work)) = start() else { return };
    let (raw_a, raw_b) = common::raw_folders(&reeflow_testdata::public_data(), work.path());
    let first = Machine::new(&moto, work.path().join("first-cache"));
    let base_id = first.publish(&raw_a);

    // Two machines build on the same published version at once, each with the changed input.
    let machines =
        [Machine::new(&moto, work.path().join("left-cache")), Machine::new(&moto, work.path().join("right-cache"))];
    let args = refresh_args(&raw_b);
    let children: Vec<_> = machines
        .iter()
        .map(|m| {
            m.command(&args).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap()
        })
        .collect();
    let outputs: Vec<Output> = children.into_iter().map(|c| c.wait_with_output().unwrap()).collect();
    let summaries: Vec<serde_json::Value> =
        outputs.iter().map(|o| serde_json::from_slice(&o.stdout).unwrap()).collect();
    let won: Vec<&serde_json::Value> = summaries.iter().filter(|s| s["status"] == "published").collect();
    assert_eq!(won.len(), 1, "exactly one publishes: {summaries:#?}");
    let lost = summaries.iter().find(|s| s["status"] != "published").unwrap();
    assert_eq!(lost["exit_code"], 2);
    let winner = won[0]["version"].as_str().unwrap();
    let reason = lost["reason"].as_str().unwrap();
    // Built in different seconds, the loser finds the pointer moved; in the same second both
    // chose the same id, and the loser finds it taken at its first file.
    let moved = format!("another writer published {winner} first");
    let same_id = format!("version {winner} was not published: another writer is publishing a version of the same id");
    assert!(reason.contains(&moved) || reason.contains(&same_id), "{reason}");
    assert_eq!(won[0]["previous"], base_id.as_str());
    assert_eq!(current_version(&moto).as_deref(), Some(winner));
    // The loser's upload is gone: its version has no manifest in the bucket.
    let loser = lost["version"].as_str().or(lost["version_dir"].as_str());
    if let Some(loser) = loser.filter(|id| !id.contains('/')) {
        assert!(bucket_json(&moto, &format!("versions/{loser}/manifest.json")).is_none());
    }
}

#[test]
fn a_refresh_killed_during_its_upload_leaves_the_published_version_readable() {
    let Some((moto, work)) = start() else { return };
    let (raw_a, raw_b) = common::raw_folders(&reeflow_testdata::public_data(), work.path());
    let ci = Machine::new(&moto, work.path().join("ci-cache"));
    let base_id = ci.publish(&raw_a);
    let query = "SELECT count(*) AS n, sum(t_reo) AS t FROM production";
    let before = stdout(&ci.run(&["sql", "--format", "csv", query]));

    // Killed (SIGKILL) after its fifth uploaded file: the pointer never moved.
    let marker_base = work.path().join("killed");
    let args = refresh_args(&raw_b);
    kill_at(&marker_base, ci.command(&args), "remote:upload:5");
    assert_eq!(current_version(&moto).as_deref(), Some(base_id.as_str()));
    let reader = Machine::new(&moto, work.path().join("reader-cache"));
    assert_eq!(stdout(&reader.run(&["sql", "--format", "csv", query])), before);

    // The rerun publishes the changed version on top of the one that stayed current.
    let (output, rerun) = ci.refresh(&raw_b);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(rerun["previous"], base_id.as_str());
    assert_eq!(current_version(&moto).as_deref(), rerun["version"].as_str());
}

#[test]
fn bad_roots_and_unreachable_stores_are_clear_errors_without_secrets() {
    let Some((moto, work)) = start() else { return };
    let machine = Machine::new(&moto, work.path().join("cache"));
    // A bucket that does not exist: the error names the root, never the key.
    let mut command = command(Path::new("s3://no-such-bucket/x"));
    command.env("REEFLOW_CACHE_DIR", &machine.cache).envs(machine.env.iter().map(|(k, v)| (k, v)));
    let output = command.args(["sql", "SELECT 1"]).env("RUST_LOG", "debug").output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert_no_secret(&output);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("s3://no-such-bucket/x"), "{stderr}");
    // Credentials in the URL are refused without being repeated.
    let output = common::reeflow(Path::new(&format!("s3://AKIAEXAMPLE:{}@reeflow/x", moto::SECRET_KEY)), &["tables"]);
    assert_eq!(output.status.code(), Some(2));
    assert_no_secret(&output);
    assert!(String::from_utf8_lossy(&output.stderr).contains("must not carry credentials"));
}

/// The raw cache lives in the bucket: what one machine fetched, a fresh machine finds there (it
/// asks the server for nothing, its copies checked against their hashes), and the bucket's
/// manifest records every answer as the local one does.
#[test]
fn what_one_machine_fetched_a_fresh_machine_finds_in_the_bucket() {
    let Some((moto, work)) = start() else { return };
    let public = reeflow_testdata::public_data();
    let files = ["usgs_mcs2026_commodities_data.csv", "usgs_myb2022_rare_earths_tables.xlsx"];
    let config = |server: &str, name: &str| {
        let path = work.path().join(name);
        let entries: Vec<String> =
            files.iter().map(|f| format!("{{ url = \"{server}/{f}\", file = \"{f}\" }}")).collect();
        std::fs::write(&path, format!("[fetch.usgs]\nrequests_per_second = 100.0\nfiles = [{}]\n", entries.join(", ")))
            .unwrap();
        path
    };
    let fetch = |machine: &Machine, config: &Path| {
        let output = common::command_with(Path::new(ROOT), &common::repo().join("config/model.toml"), config)
            .env("REEFLOW_CACHE_DIR", &machine.cache)
            .envs(machine.env.iter().map(|(k, v)| (k, v)))
            .args(["fetch", "usgs"])
            .output()
            .unwrap();
        assert_no_secret(&output);
        output
    };

    let server = common::serve_files(public.join("cmrs-v3/usgs"));
    let first = Machine::new(&moto, work.path().join("first-cache"));
    let output = fetch(&first, &config(&server, "served.toml"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("uploaded 2 raw files to s3://reeflow/team/published/raw"), "{stderr}");
    let index = bucket_json(&moto, "raw/usgs/manifest.json").expect("the bucket has the raw manifest");
    let listed: Vec<&str> = index["files"].as_array().unwrap().iter().map(|f| f["file"].as_str().unwrap()).collect();
    assert_eq!(listed, files);

    // A fresh machine whose server is gone: everything is cached, in the bucket.
    let fresh = Machine::new(&moto, work.path().join("fresh-cache"));
    let output = fetch(&fresh, &config("http://127.0.0.1:9", "gone.toml"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("copied 2 raw files from s3://reeflow/team/published/raw"), "{stderr}");
    for file in files {
        let copied = std::fs::read(fresh.mirror().join("raw/usgs").join(file)).unwrap();
        assert_eq!(copied, std::fs::read(public.join("cmrs-v3/usgs").join(file)).unwrap(), "{file}");
    }
    let local: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fresh.mirror().join("raw/usgs/manifest.json")).unwrap()).unwrap();
    assert_eq!(local["files"], index["files"], "the same record of every answer");
}

/// A refresh that is rejected (a check fails) uploads its version for inspection: never current,
/// listed by `versions` on any machine with why, and readable there (`diff current <id>`).
#[test]
fn a_rejected_refresh_is_in_the_bucket_for_inspection_and_never_current() {
    let Some((moto, work)) = start() else { return };
    let raw = work.path().join("raw");
    common::copy_tree(&reeflow_testdata::public_data(), &raw, &[]);
    let ci = Machine::new(&moto, work.path().join("ci-cache"));
    let published = ci.publish(&raw);

    // China's 2023 mine production changed alone: the countries no longer add up to the world.
    let file = raw.join(common::MCS2024_WORLD);
    let original = std::fs::read_to_string(&file).unwrap();
    let china = "210000,240000,Production quota";
    assert!(original.contains(china));
    std::fs::write(&file, original.replace(china, "210000,256000,Production quota")).unwrap();
    let (output, summary) = ci.refresh(&raw);
    assert_eq!(output.status.code(), Some(1), "{summary}");
    assert_eq!(summary["status"], "rejected", "{summary}");
    let rejected = summary["version"].as_str().unwrap().to_string();
    assert!(String::from_utf8_lossy(&output.stderr).contains(&format!("uploaded rejected version {rejected}")));
    assert_eq!(current_version(&moto).as_deref(), Some(published.as_str()), "still current");

    let analyst = Machine::new(&moto, work.path().join("analyst-cache"));
    let listed: serde_json::Value =
        serde_json::from_str(&stdout(&analyst.run(&["versions", "--format", "json"]))).unwrap();
    let row = listed.as_array().unwrap().iter().find(|v| v["id"] == rejected.as_str()).unwrap().clone();
    assert_eq!((row["status"].as_str(), row["current"].as_bool()), (Some("rejected"), Some(false)), "{row}");
    assert!(row["reason"].as_str().unwrap().contains("countries_within_rounding_of_world"), "{row}");
    // Exit 1: the change breaches the production threshold (which is also why it matters).
    let output = analyst.run(&["diff", "--format", "json", "current", &rejected]);
    assert_eq!(output.status.code(), Some(1), "{}", String::from_utf8_lossy(&output.stderr));
    let diff: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let production = diff["tables"].as_array().unwrap().iter().find(|t| t["table"] == "production").unwrap();
    assert_eq!(production["changed"], 1, "{production}");
}
