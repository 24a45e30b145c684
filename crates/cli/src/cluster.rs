//! Where stage queries run (`[engine] mode`), and `reeflow cluster scheduler|executor`: the
//! Ballista processes of a cluster, from this binary, so client and cluster run one DataFusion
//! and know the same SQL functions. Everything Ballista is behind the `cluster` feature
//! (crates/cluster); a build without it explains how to get one.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Result, bail};

/// Where the stages' queries run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StageEngine {
    /// In this process (the default).
    Local,
    /// On a Ballista cluster: the scheduler at `df://host:port`, or (None) a scheduler and
    /// executor started inside this process; a stage query without a result after `timeout`
    /// fails.
    Ballista { scheduler: Option<String>, timeout: std::time::Duration },
}

impl StageEngine {
    /// `[engine] mode`, `scheduler` and `stage_timeout_seconds` (default an hour), overridden by
    /// REEFLOW_ENGINE_MODE, REEFLOW_SCHEDULER and REEFLOW_STAGE_TIMEOUT_SECONDS.
    pub fn resolve(mode: Option<&str>, scheduler: Option<&str>, timeout_seconds: Option<u64>) -> Result<Self> {
        let mode = std::env::var("REEFLOW_ENGINE_MODE").ok().or(mode.map(str::to_string));
        let scheduler = std::env::var("REEFLOW_SCHEDULER").ok().or(scheduler.map(str::to_string));
        let timeout_seconds = match std::env::var("REEFLOW_STAGE_TIMEOUT_SECONDS") {
            Ok(text) => Some(text.parse::<u64>().map_err(|_| {
                anyhow::anyhow!("REEFLOW_STAGE_TIMEOUT_SECONDS={text:?}: expected a whole number of seconds")
            })?),
            Err(_) => timeout_seconds,
        };
        let timeout = std::time::Duration::from_secs(timeout_seconds.unwrap_or(3600).max(1));
        match mode.as_deref().unwrap_or("local") {
            "local" => Ok(Self::Local),
            "ballista" => Ok(Self::Ballista { scheduler: scheduler.filter(|s| !s.is_empty()), timeout }),
            other => bail!("[engine] mode {other:?}: expected \"local\" or \"ballista\""),
        }
    }
}

/// Makes `engine` run its stage queries where `settings.stage_engine` says; a cluster reads the
/// tables' files where `files` puts them.
pub async fn attach(
    engine: &mut reeflow_pipeline::Engine,
    settings: &crate::Settings,
    files: std::sync::Arc<dyn reeflow_pipeline::ClusterFiles>,
) -> Result<()> {
    let StageEngine::Ballista { scheduler, timeout } = &settings.stage_engine else {
        return Ok(());
    };
    let (options, storage, quiet) = (&settings.engine_options, &settings.storage, settings.quiet);
    #[cfg(feature = "cluster")]
    {
        let session = match scheduler {
            Some(address) => {
                let address = reeflow_cluster::SchedulerAddress::parse(address)?;
                if !quiet {
                    eprintln!("stages run on the Ballista cluster at {address}");
                }
                reeflow_cluster::connect(&address, options, storage).await?
            }
            None => {
                if !quiet {
                    eprintln!("stages run on a Ballista scheduler and executor inside this process");
                }
                reeflow_cluster::standalone(options, storage).await?
            }
        };
        engine.run_stages_on(session, Some(*timeout), files).await?;
        Ok(())
    }
    #[cfg(not(feature = "cluster"))]
    {
        let _ = (engine, scheduler, timeout, options, storage, quiet, files);
        bail!(without_cluster("[engine] mode = \"ballista\""))
    }
}

#[cfg(not(feature = "cluster"))]
fn without_cluster(what: &str) -> String {
    format!(
        "{what}: this reeflow was built without Ballista; build it with the `cluster` feature \
         (cargo build --release --features cluster)"
    )
}

/// `reeflow cluster …`: the processes of a Ballista cluster.
#[derive(Debug, clap::Subcommand)]
pub enum ClusterCommand {
    /// Run a Ballista scheduler (until stopped). Clients send it their stage queries
    /// (`[engine] mode = "ballista"`, `scheduler = "df://HOST:PORT"`); it splits them into tasks
    /// for its executors. It reads bucket roots as executors do (its own credentials variables and
    /// the [storage] options of --config). Example:
    ///   reeflow cluster scheduler --bind 0.0.0.0:50050 --external-host scheduler.internal
    Scheduler {
        /// The address to listen on.
        #[arg(long, default_value = "127.0.0.1:50050")]
        bind: SocketAddr,
        /// The host name executors and clients reach this machine by [default: the bind address].
        #[arg(long)]
        external_host: Option<String>,
    },
    /// Run a Ballista executor (until stopped) that takes tasks from a scheduler. It reads the
    /// files of a local data root by the paths the client sends (run it where those paths exist:
    /// the same machine, or the same shared filesystem mounted at the same place), and those of a
    /// bucket root (s3://, gs://, az://) by URL, with its own AWS_*/GOOGLE_*/AZURE_* variables and
    /// the [storage] options of --config. Example:
    ///   reeflow cluster executor --scheduler df://127.0.0.1:50050 --flight-port 50051 --grpc-port 50052
    Executor {
        /// The scheduler to work for.
        #[arg(long, default_value = "df://127.0.0.1:50050")]
        scheduler: String,
        /// The host to listen on (0.0.0.0 for other machines).
        #[arg(long, default_value = "127.0.0.1")]
        bind_host: String,
        /// The host name others reach this executor by [default: --bind-host].
        #[arg(long)]
        external_host: Option<String>,
        /// The Arrow Flight port results and shuffle data are fetched from.
        #[arg(long, default_value_t = 50051)]
        flight_port: u16,
        /// The port tasks arrive on from the scheduler.
        #[arg(long, default_value_t = 50052)]
        grpc_port: u16,
        /// Tasks run at once [default: the machine's cores].
        #[arg(long, default_value_t = 0)]
        task_slots: usize,
        /// Where shuffle files go [default: a temporary folder].
        #[arg(long)]
        work_dir: Option<PathBuf>,
    },
}

/// Runs the cluster process `command` asks for, until it is stopped; buckets are opened with the
/// `[storage]` options `storage`.
pub async fn serve(command: ClusterCommand, storage: &std::collections::BTreeMap<String, String>) -> Result<u8> {
    #[cfg(feature = "cluster")]
    {
        match command {
            ClusterCommand::Scheduler { bind, external_host } => {
                let external_host = external_host.unwrap_or_else(|| bind.ip().to_string());
                eprintln!(
                    "Ballista scheduler listening on {bind} (clients: scheduler = \"df://{external_host}:{}\")",
                    bind.port()
                );
                reeflow_cluster::run_scheduler(&reeflow_cluster::SchedulerOptions {
                    bind,
                    external_host,
                    storage: storage.clone(),
                })
                .await?;
            }
            ClusterCommand::Executor {
                scheduler,
                bind_host,
                external_host,
                flight_port,
                grpc_port,
                task_slots,
                work_dir,
            } => {
                let scheduler = reeflow_cluster::SchedulerAddress::parse(&scheduler)?;
                eprintln!(
                    "Ballista executor on {bind_host}:{flight_port} (tasks on :{grpc_port}) working for {scheduler}"
                );
                reeflow_cluster::run_executor(&reeflow_cluster::ExecutorOptions {
                    scheduler,
                    bind_host,
                    external_host,
                    flight_port,
                    grpc_port,
                    task_slots,
                    work_dir,
                    storage: storage.clone(),
                })
                .await?;
            }
        }
        Ok(0)
    }
    #[cfg(not(feature = "cluster"))]
    {
        let _ = storage;
        let role = match command {
            ClusterCommand::Scheduler { .. } => "reeflow cluster scheduler",
            ClusterCommand::Executor { .. } => "reeflow cluster executor",
        };
        bail!(without_cluster(role))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mode_is_local_or_ballista() {
        let hour = std::time::Duration::from_secs(3600);
        assert_eq!(StageEngine::resolve(None, Some("df://h:1"), None).unwrap(), StageEngine::Local);
        assert_eq!(
            StageEngine::resolve(Some("ballista"), Some("df://h:1"), Some(60)).unwrap(),
            StageEngine::Ballista { scheduler: Some("df://h:1".into()), timeout: std::time::Duration::from_secs(60) }
        );
        assert_eq!(
            StageEngine::resolve(Some("ballista"), None, None).unwrap(),
            StageEngine::Ballista { scheduler: None, timeout: hour }
        );
        let message = StageEngine::resolve(Some("spark"), None, None).unwrap_err().to_string();
        assert!(message.contains("\"spark\"") && message.contains("\"ballista\""), "{message}");
    }
}
