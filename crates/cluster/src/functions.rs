//! The functions and session state every process of a cluster builds plans with.

use std::sync::Arc;

use ballista_core::registry::BallistaFunctionRegistry;
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::session_state::SessionState;
use datafusion::prelude::SessionConfig;

use crate::BucketStores;

/// DataFusion's functions (the array functions included, as on Ballista's clients) with reeflow's
/// added (reeflow's `sum` replaces DataFusion's): what an executor decodes a task's plan with.
pub fn function_registry() -> BallistaFunctionRegistry {
    let mut registry = BallistaFunctionRegistry::default();
    let nested = datafusion::functions_nested::all_default_nested_functions();
    for function in nested.into_iter().chain(reeflow_pipeline::functions::scalar_functions()) {
        registry.scalar_functions.insert(function.name().to_string(), function);
    }
    for function in reeflow_pipeline::functions::aggregate_functions() {
        registry.aggregate_functions.insert(function.name().to_string(), function);
    }
    registry
}

/// [`session_state`] reading buckets through `stores`: a scheduler lists and inspects the files of
/// the tables it plans over.
pub fn scheduler_session_builder(
    stores: Arc<BucketStores>,
) -> impl Fn(SessionConfig) -> datafusion::error::Result<SessionState> + Send + Sync + 'static {
    move |config| {
        let state = session_state(config)?;
        let runtime = stores.runtime(state.runtime_env())?;
        Ok(SessionStateBuilder::new_from_existing(state).with_runtime_env(runtime).build())
    }
}

/// Ballista's scheduler session (its optimizer rules for distributed plans) with `config` and the
/// functions of [`function_registry`]: what the scheduler plans a client's query in.
pub fn session_state(config: SessionConfig) -> datafusion::error::Result<SessionState> {
    let state = ballista_core::utils::default_session_builder(config)?;
    let mut scalar = state.scalar_functions().clone();
    let mut aggregate = state.aggregate_functions().clone();
    for function in reeflow_pipeline::functions::scalar_functions() {
        scalar.insert(function.name().to_string(), function);
    }
    for function in reeflow_pipeline::functions::aggregate_functions() {
        aggregate.insert(function.name().to_string(), function);
    }
    let rules = crate::joins::with_task_safe_joins(state.physical_optimizers());
    Ok(SessionStateBuilder::new_from_existing(state)
        .with_scalar_functions(scalar.into_values().collect())
        .with_aggregate_functions(aggregate.into_values().collect())
        .with_physical_optimizer_rules(rules)
        .build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_registry_has_reeflows_functions_and_its_sum() {
        let registry = function_registry();
        for name in ["hs_heading", "random_uniform", "random_normal", "upper"] {
            assert!(registry.scalar_functions.contains_key(name), "{name}");
        }
        let sum = &registry.aggregate_functions["sum"];
        assert!(sum.inner().is::<reeflow_pipeline::exact_sum::ExactSum>());
        let state = session_state(SessionConfig::new()).unwrap();
        assert!(state.scalar_functions().contains_key("hs_heading"));
        assert!(state.aggregate_functions()["sum"].inner().is::<reeflow_pipeline::exact_sum::ExactSum>());
        assert!(registry.scalar_functions.contains_key("make_array"));
    }
}
