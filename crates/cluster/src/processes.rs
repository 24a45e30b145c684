//! The cluster's own processes: a Ballista scheduler and executors that know reeflow's functions.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use ballista_core::RuntimeProducer;
use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::SchedulerConfig;
use ballista_scheduler::scheduler_process::start_server;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;

use crate::{BucketStores, ClusterError, Result};

fn ballista_error(role: &'static str) -> impl Fn(ballista_core::error::BallistaError) -> ClusterError {
    move |source| ClusterError::Ballista { role, source: Box::new(source) }
}

/// Where a scheduler listens.
#[derive(Debug, Clone)]
pub struct SchedulerOptions {
    /// The address it binds (e.g. 127.0.0.1:50050, or 0.0.0.0:50050 for other machines).
    pub bind: SocketAddr,
    /// The host name executors and clients reach it by.
    pub external_host: String,
    /// `[storage]` options for the buckets of data roots (over the AWS_*/GOOGLE_*/AZURE_* variables).
    pub storage: BTreeMap<String, String>,
}

/// Runs a scheduler until the process is stopped. Its sessions plan with reeflow's functions
/// ([`crate::session_state`]) and read buckets as the client does; job state is kept in memory.
pub async fn run_scheduler(options: &SchedulerOptions) -> Result<()> {
    let stores = Arc::new(BucketStores::new(options.storage.clone()));
    let mut config = SchedulerConfig::default()
        .with_override_session_builder(Arc::new(crate::functions::scheduler_session_builder(stores)));
    config.bind_host = options.bind.ip().to_string();
    config.bind_port = options.bind.port();
    config.external_host = options.external_host.clone();
    let cluster = BallistaCluster::new_from_config(&config).await.map_err(ballista_error("scheduler"))?;
    start_server(cluster, options.bind, Arc::new(config)).await.map_err(ballista_error("scheduler"))
}

/// Where an executor listens and which scheduler it works for.
#[derive(Debug, Clone)]
pub struct ExecutorOptions {
    /// The scheduler's host and port.
    pub scheduler: crate::SchedulerAddress,
    /// The host it binds (127.0.0.1, or 0.0.0.0 for other machines).
    pub bind_host: String,
    /// The host name the scheduler, other executors and clients reach it by [default: bind_host].
    pub external_host: Option<String>,
    /// The Arrow Flight port results and shuffle data are fetched from.
    pub flight_port: u16,
    /// The port of its gRPC service (tasks from the scheduler).
    pub grpc_port: u16,
    /// Tasks it runs at once [0: the machine's cores].
    pub task_slots: usize,
    /// Where shuffle files go [default: a temporary folder].
    pub work_dir: Option<PathBuf>,
    /// `[storage]` options for the buckets of data roots (over the AWS_*/GOOGLE_*/AZURE_* variables).
    pub storage: BTreeMap<String, String>,
}

/// Runs an executor until the process is stopped (SIGTERM or Ctrl-C end it cleanly). Task plans
/// are decoded with [`crate::function_registry`]; tasks read buckets through one set of stores.
pub async fn run_executor(options: &ExecutorOptions) -> Result<()> {
    let stores = Arc::new(BucketStores::new(options.storage.clone()));
    let spill_dir = options.work_dir.clone().unwrap_or_else(std::env::temp_dir);
    let runtime: RuntimeProducer = Arc::new(move |_| {
        let local = RuntimeEnvBuilder::new().with_temp_file_path(spill_dir.clone()).build()?;
        stores.runtime(&local)
    });
    let config = ExecutorProcessConfig {
        bind_host: options.bind_host.clone(),
        external_host: options.external_host.clone().or_else(|| Some(options.bind_host.clone())),
        port: options.flight_port,
        grpc_port: options.grpc_port,
        scheduler_host: options.scheduler.host.clone(),
        scheduler_port: options.scheduler.port,
        vcores: options.task_slots,
        work_dir: options.work_dir.as_ref().map(|dir| dir.display().to_string()),
        override_function_registry: Some(Arc::new(crate::function_registry())),
        override_runtime_producer: Some(runtime),
        ..ExecutorProcessConfig::default()
    };
    start_executor_process(Arc::new(config)).await.map_err(ballista_error("executor"))
}
