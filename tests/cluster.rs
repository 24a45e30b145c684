//! The stages on an Apache DataFusion Ballista cluster: a scheduler and two executors started as
//! separate `reeflow cluster …` processes on 127.0.0.1 give byte-identical outputs to the local
//! engine's, on the real bundled snapshot and on 1M generated world-trade rows, and both executors
//! run tasks. On a bucket root (moto's S3 server) the executors read the version being built from
//! the bucket and the published version holds the local engine's bytes. A scheduler that is not
//! there is a clear error and publishes nothing; one without executors makes the run fail after
//! the stage timeout instead of waiting for ever.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A port nothing listens on right now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn wait_for_port(port: u16, process: &mut Child, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Some(status) = process.try_wait().unwrap() {
            panic!("a cluster process exited ({status}): {}", std::fs::read_to_string(log).unwrap_or_default());
        }
        assert!(Instant::now() < deadline, "nothing listens on {port}: {}", std::fs::read_to_string(log).unwrap());
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// One scheduler and its executors (one task slot each, so work spreads over them), stopped on drop.
struct Cluster {
    processes: Vec<Child>,
    scheduler: String,
    logs: tempfile::TempDir,
}

impl Cluster {
    fn start(executors: usize) -> Self {
        Self::start_with(executors, &[])
    }

    /// A cluster whose processes have `env` set (the AWS variables of a bucket, say).
    fn start_with(executors: usize, env: &[(&'static str, String)]) -> Self {
        let logs = tempfile::tempdir().unwrap();
        let spawn = |name: &str, args: &[&str]| {
            let log = logs.path().join(format!("{name}.log"));
            let child = Command::new(env!("CARGO_BIN_EXE_reeflow"))
                .envs(env.iter().map(|(key, value)| (key, value)))
                .args(["cluster"])
                .args(args)
                .stdout(std::fs::File::create(logs.path().join(format!("{name}.out"))).unwrap())
                .stderr(std::fs::File::create(&log).unwrap())
                .stdin(Stdio::null())
                .spawn()
                .unwrap();
            (child, log)
        };
        let port = free_port();
        let scheduler = format!("df://127.0.0.1:{port}");
        let (mut child, log) = spawn("scheduler", &["scheduler", "--bind", &format!("127.0.0.1:{port}")]);
        wait_for_port(port, &mut child, &log);
        let mut processes = vec![child];
        for name in ["executor-1", "executor-2"].into_iter().take(executors) {
            let (flight, grpc) = (free_port(), free_port());
            let work = logs.path().join(format!("{name}-work"));
            std::fs::create_dir_all(&work).unwrap();
            let (mut child, log) = spawn(
                name,
                &[
                    "executor",
                    "--scheduler",
                    &scheduler,
                    "--flight-port",
                    &flight.to_string(),
                    "--grpc-port",
                    &grpc.to_string(),
                    "--task-slots",
                    "1",
                    "--work-dir",
                    work.to_str().unwrap(),
                ],
            );
            wait_for_port(flight, &mut child, &log);
            processes.push(child);
        }
        Cluster { processes, scheduler, logs }
    }

    /// The environment that makes `reeflow run` use this cluster.
    fn env(&self) -> [(&'static str, &str); 3] {
        [
            ("REEFLOW_ENGINE_MODE", "ballista"),
            ("REEFLOW_SCHEDULER", &self.scheduler),
            ("REEFLOW_TARGET_PARTITIONS", "2"),
        ]
    }

    fn log(&self, name: &str) -> String {
        let path: PathBuf = self.logs.path().join(format!("{name}.log"));
        std::fs::read_to_string(path).unwrap()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for process in &mut self.processes {
            let _ = process.kill();
            let _ = process.wait();
        }
    }
}

/// Tasks an executor's log reports it ran.
fn tasks_run(log: &str) -> usize {
    log.lines().filter(|line| line.contains("Execute task") || line.contains("Received task")).count()
}

#[test]
fn stages_on_a_scheduler_and_two_executors_give_the_local_bytes() {
    let cluster = Cluster::start(2);
    let local = [("REEFLOW_TARGET_PARTITIONS", "2")];

    let snapshot_local = common::output_hashes(common::bundled_snapshot_data_dir().path(), &local);
    let snapshot_cluster = common::output_hashes(common::bundled_snapshot_data_dir().path(), &cluster.env());
    assert_eq!(snapshot_local, snapshot_cluster, "the real snapshot: local vs cluster");
    let after_snapshot = [tasks_run(&cluster.log("executor-1")), tasks_run(&cluster.log("executor-2"))];
    assert!(after_snapshot.iter().all(|tasks| *tasks > 0), "tasks per executor: {after_snapshot:?}");

    let work = tempfile::tempdir().unwrap();
    let trade = common::generated_trade(work.path(), 1_000_000);
    let with_trade = || {
        let data = common::bundled_snapshot_data_dir();
        std::fs::copy(&trade, data.path().join("snapshot/trade.parquet")).unwrap();
        data
    };
    let generated_local = common::output_hashes(with_trade().path(), &local);
    let generated_cluster = common::output_hashes(with_trade().path(), &cluster.env());
    assert_eq!(generated_local, generated_cluster, "1M generated trade rows: local vs cluster");
    assert_ne!(generated_local, snapshot_local, "the generated rows changed the outputs");
    let after_generated = [tasks_run(&cluster.log("executor-1")), tasks_run(&cluster.log("executor-2"))];
    assert!(after_generated[0] > after_snapshot[0] && after_generated[1] > after_snapshot[1], "{after_generated:?}");
}

#[test]
fn a_scheduler_that_is_not_there_is_named_and_nothing_is_published() {
    let data = common::bundled_snapshot_data_dir();
    let scheduler = format!("df://127.0.0.1:{}", free_port());
    let run = common::command(data.path())
        .env("REEFLOW_ENGINE_MODE", "ballista")
        .env("REEFLOW_SCHEDULER", &scheduler)
        .args(["run"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(&scheduler) && stderr.contains("reeflow cluster scheduler"), "{stderr}");
    assert!(!data.path().join("current/out").exists(), "nothing was published");

    let bad = common::command(data.path())
        .env("REEFLOW_ENGINE_MODE", "ballista")
        .env("REEFLOW_SCHEDULER", "http://127.0.0.1:1")
        .args(["run"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(stderr.contains("expected df://host:port"), "{stderr}");
}

#[test]
fn a_cluster_without_executors_fails_the_stage_after_the_timeout() {
    let cluster = Cluster::start(0);
    let data = common::bundled_snapshot_data_dir();
    let run = common::command(data.path())
        .envs(cluster.env())
        .env("REEFLOW_STAGE_TIMEOUT_SECONDS", "2")
        .args(["run"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("no result from the cluster within 2 s"), "{stderr}");
    assert!(!data.path().join("current/out").exists(), "nothing was published");
}

/// A refresh to a bucket with its stages on the cluster: the executors read the version being
/// built from the bucket (the client registers its tables there by s3:// URL, never by a path of
/// its own), and the published version holds exactly the bytes a local refresh writes.
#[cfg(feature = "cloud")]
#[test]
fn stages_on_the_cluster_read_a_bucket_root_and_publish_the_local_bytes() {
    use reeflow_testdata::moto::{self, Moto};
    let Some(program) = moto::server_program() else { return };
    let moto = Moto::start(&program);
    moto.create_bucket("reeflow");
    let cluster = Cluster::start_with(2, &moto.aws_env());
    let work = tempfile::tempdir().unwrap();
    let (_, raw) = common::raw_folders(&reeflow_testdata::public_data(), work.path());

    let local = work.path().join("local");
    let output = common::command(&local)
        .env("REEFLOW_TARGET_PARTITIONS", "2")
        .args(common::refresh_args(&raw))
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));

    let cache = work.path().join("cache");
    let output = common::command(Path::new("s3://reeflow/on-cluster"))
        .env("REEFLOW_CACHE_DIR", &cache)
        .envs(moto.aws_env())
        .envs(cluster.env())
        .args(common::refresh_args(&raw))
        .output()
        .unwrap();
    let summary = common::refresh_summary(&output);
    assert_eq!(summary["status"], "published", "{summary}\n{}", String::from_utf8_lossy(&output.stderr));
    let id = summary["version"].as_str().unwrap();
    let mirror = std::fs::read_dir(&cache).unwrap().next().unwrap().unwrap().path();
    assert_eq!(common::version_files(&mirror.join("versions").join(id)), common::published_files(&local));

    let executors = [cluster.log("executor-1"), cluster.log("executor-2")];
    assert!(executors.iter().all(|log| tasks_run(log) > 0), "both executors ran tasks");
    for log in executors.iter().chain([&cluster.log("scheduler")]) {
        assert!(!log.contains(moto::SECRET_KEY), "a secret in a cluster log");
        assert!(!log.contains(mirror.to_str().unwrap()), "an executor was sent a path of the client's");
    }
}
