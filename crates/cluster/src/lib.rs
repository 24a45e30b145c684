//! reeflow on Apache DataFusion Ballista: it owns everything that makes the same SQL stages run on
//! a cluster. A client session for the stage engine ([`connect`] to a scheduler at `df://host:port`,
//! or [`standalone`], a scheduler and executor inside the process), and the cluster's own
//! processes ([`run_scheduler`], [`run_executor`]) built from the workspace lockfile, so client,
//! scheduler and executors run one DataFusion version and know reeflow's SQL functions (the exact
//! `sum`, `hs_heading`, the seeded draws): a plan made on one decodes on the others.
//!
//! What runs where: the stage queries run on the cluster; the client collects each result and
//! keeps doing the rest (schema contract, checks, writing outputs and manifests, versions, ad hoc
//! `sql`). Executors read a stage's input files where the client says: by absolute path on a local
//! data root (they must see its folder: the same machine or a shared filesystem), by URL in the
//! bucket of a remote one ([`BucketStores`]: every process opens buckets from its own `AWS_*` /
//! `GOOGLE_*` / `AZURE_*` variables and `[storage]` options). Plans are made with a rule that keeps
//! broadcast joins correct when split into tasks (`joins`).

mod functions;
mod joins;
mod processes;
mod session;
mod stores;

pub use functions::{function_registry, session_state};
pub use processes::{ExecutorOptions, SchedulerOptions, run_executor, run_scheduler};
pub use session::{DEFAULT_SCHEDULER_PORT, SchedulerAddress, connect, standalone};
pub use stores::BucketStores;

/// What can go wrong starting or reaching a cluster.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("scheduler address {address:?}: {problem} (expected df://host:port, e.g. df://127.0.0.1:50050)")]
    Address { address: String, problem: String },
    #[error(
        "cannot reach the Ballista scheduler at {address}: {source} (is `reeflow cluster scheduler` running there?)"
    )]
    Unreachable {
        address: String,
        #[source]
        source: std::io::Error,
    },
    #[error("Ballista {role}: {source}")]
    Ballista {
        role: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

pub type Result<T, E = ClusterError> = std::result::Result<T, E>;
