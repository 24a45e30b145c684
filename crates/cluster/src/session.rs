//! Client sessions: the stage engine's queries planned here and executed by a cluster.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use ballista::prelude::{SessionConfigExt, SessionContextExt};
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::session_state::SessionState;
use datafusion::prelude::SessionContext;
use reeflow_pipeline::EngineOptions;

use crate::{BucketStores, ClusterError, Result};

/// The port a Ballista scheduler listens on unless told otherwise.
pub const DEFAULT_SCHEDULER_PORT: u16 = 50050;

/// How long [`connect`] waits for the scheduler's port to answer.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A scheduler's address, `df://host:port` (the port defaults to 50050).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchedulerAddress {
    pub host: String,
    pub port: u16,
}

impl SchedulerAddress {
    /// Parses `df://host[:port]`; a bare `host:port` is taken as the same.
    pub fn parse(address: &str) -> Result<Self> {
        let problem = |problem: &str| ClusterError::Address { address: address.to_string(), problem: problem.into() };
        let with_scheme = if address.contains("://") { address.to_string() } else { format!("df://{address}") };
        let url = url::Url::parse(&with_scheme).map_err(|e| problem(&e.to_string()))?;
        if url.scheme() != "df" {
            return Err(problem(&format!("the scheme is {}://", url.scheme())));
        }
        if !url.path().trim_matches('/').is_empty() || url.query().is_some() || !url.username().is_empty() {
            return Err(problem("only a host and a port are expected"));
        }
        let host = url.host_str().filter(|h| !h.is_empty()).ok_or_else(|| problem("no host"))?;
        Ok(Self { host: host.trim_matches(['[', ']']).to_string(), port: url.port().unwrap_or(DEFAULT_SCHEDULER_PORT) })
    }
}

impl std::fmt::Display for SchedulerAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "df://{}:{}", self.host, self.port)
    }
}

/// A session whose queries run on the scheduler at `address`, with `options`' settings and
/// reeflow's functions, reading buckets with the `[storage]` options `storage`. Fails at once,
/// naming the address, when nothing answers there.
pub async fn connect(
    address: &SchedulerAddress,
    options: &EngineOptions,
    storage: &BTreeMap<String, String>,
) -> Result<SessionContext> {
    let unreachable = |source| ClusterError::Unreachable { address: address.to_string(), source };
    match tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect((address.host.as_str(), address.port)))
        .await
    {
        Ok(Ok(_)) => {}
        Ok(Err(error)) => return Err(unreachable(error)),
        Err(_) => return Err(unreachable(std::io::Error::new(std::io::ErrorKind::TimedOut, "no answer in 10 s"))),
    }
    let ctx = SessionContext::remote_with_state(&address.to_string(), client_state(options, storage)?)
        .await
        .map_err(|e| ClusterError::Ballista { role: "client", source: e.into() })?;
    Ok(with_reeflow_functions(ctx))
}

/// The local engine's session state with Ballista's settings, some set back to the local
/// engine's because Ballista 55.0's gave wrong results or failed on the flow model
/// (`tests/cluster.rs` found each one):
/// - its adaptive planner (the default) returned the rows of a sorted `UNION ALL` more than once
///   (`reo_factors`): the static planner is used;
/// - broadcast hash joins lost rows (`trade_reo` kept 3,848 of 6,261): joins keep the local
///   engine's broadcast thresholds, and the scheduler plans the joins that would lose rows
///   partitioned ([`crate::joins`]);
/// - the sort-merge joins it prefers failed a left join with a filter ("column 'reported_by' is
///   declared as non-nullable but contains null values"): hash joins, as in the local engine
///   unless a memory cap asks for joins that spill;
/// - a dynamic filter links two operators inside one process; split into stages it broke a TopK;
/// - it reads text as `Utf8` where the local engine reads `Utf8View`, which changes the bytes of
///   every output: view types are kept, and the outputs are byte-identical to the local run's.
fn client_state(options: &EngineOptions, storage: &BTreeMap<String, String>) -> Result<SessionState> {
    let state = options.session().state();
    let runtime = Arc::new(BucketStores::new(storage.clone()))
        .runtime(state.runtime_env())
        .map_err(|e| ClusterError::Ballista { role: "client", source: e.into() })?;
    let local = state.config().options().clone();
    let mut config = state.config().clone().upgrade_for_ballista().with_ballista_adaptive_query_planner(false);
    let settings = config.options_mut();
    settings.optimizer.prefer_hash_join = local.optimizer.prefer_hash_join;
    settings.optimizer.hash_join_single_partition_threshold = local.optimizer.hash_join_single_partition_threshold;
    settings.optimizer.hash_join_single_partition_threshold_rows =
        local.optimizer.hash_join_single_partition_threshold_rows;
    settings.optimizer.enable_dynamic_filter_pushdown = false;
    settings.optimizer.enable_topk_dynamic_filter_pushdown = false;
    settings.optimizer.enable_join_dynamic_filter_pushdown = false;
    settings.optimizer.enable_aggregate_dynamic_filter_pushdown = false;
    settings.execution.parquet.schema_force_view_types = local.execution.parquet.schema_force_view_types;
    settings.sql_parser.map_string_types_to_utf8view = local.sql_parser.map_string_types_to_utf8view;
    // Settings of the user's over ours: `key=value` pairs, comma-separated, DataFusion's
    // (`datafusion.…`) or Ballista's (`ballista.…`) keys.
    if let Ok(settings) = std::env::var("REEFLOW_CLUSTER_SETTINGS") {
        for pair in settings.split(',').filter(|p| !p.trim().is_empty()) {
            if let Some((key, value)) = pair.split_once('=')
                && let Err(error) = config.options_mut().set(key.trim(), value.trim())
            {
                tracing::warn!("REEFLOW_CLUSTER_SETTINGS: {key}: {error}");
            }
        }
    }
    let rules = crate::joins::with_task_safe_joins(state.physical_optimizers());
    Ok(SessionStateBuilder::new_from_existing(state)
        .with_config(config)
        .with_runtime_env(runtime)
        .with_physical_optimizer_rules(rules)
        .build())
}

/// Ballista's upgrade of a session state resets its functions to DataFusion's: registers
/// reeflow's again, so the client plans with the same `sum` and functions as the cluster.
fn with_reeflow_functions(ctx: SessionContext) -> SessionContext {
    reeflow_pipeline::functions::register_functions(&ctx);
    ctx
}

/// A session whose queries run on a scheduler and an executor started inside this process (on
/// 127.0.0.1, ports the system picks): Ballista's plan splitting and shuffles without separate
/// processes, for trying a cluster setting out. The executor reads buckets as the client does.
pub async fn standalone(options: &EngineOptions, storage: &BTreeMap<String, String>) -> Result<SessionContext> {
    let ctx = SessionContext::standalone_with_state(client_state(options, storage)?)
        .await
        .map_err(|e| ClusterError::Ballista { role: "standalone cluster", source: e.into() })?;
    Ok(with_reeflow_functions(ctx))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheduler_addresses_parse_or_say_what_is_expected() {
        let parsed = SchedulerAddress::parse("df://127.0.0.1:50123").unwrap();
        assert_eq!(parsed, SchedulerAddress { host: "127.0.0.1".into(), port: 50123 });
        assert_eq!(parsed.to_string(), "df://127.0.0.1:50123");
        assert_eq!(SchedulerAddress::parse("scheduler.internal").unwrap().port, DEFAULT_SCHEDULER_PORT);
        assert_eq!(SchedulerAddress::parse("10.0.0.5:6000").unwrap().port, 6000);
        for bad in ["http://host:50050", "df://:50050", "df://host:50050/path", "df://host:notaport"] {
            let message = SchedulerAddress::parse(bad).unwrap_err().to_string();
            assert!(message.contains(bad) && message.contains("expected df://host:port"), "{message}");
        }
    }

    #[tokio::test]
    async fn a_scheduler_that_is_not_there_is_named() {
        // A port nothing listens on: bind one, then let it go.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let address = SchedulerAddress { host: "127.0.0.1".into(), port };
        let Err(error) = connect(&address, &EngineOptions::default(), &BTreeMap::new()).await else {
            panic!("connected to a scheduler that is not there");
        };
        let message = error.to_string();
        assert!(message.contains(&format!("df://127.0.0.1:{port}")), "{message}");
        assert!(message.contains("reeflow cluster scheduler"), "{message}");
    }
}
