//! The SQL functions reeflow adds to DataFusion's, in one list: every session that runs stage SQL
//! registers exactly these (the local engine here; a cluster's client, scheduler and executors in
//! `reeflow-cluster`), so a plan made in one process means the same in another.

use std::sync::Arc;

use datafusion::logical_expr::{AggregateUDF, ScalarUDF};
use datafusion::prelude::SessionContext;

use crate::random_draw::{Distribution, RandomDraw};

/// The scalar functions: `hs_heading` (the HS heading of a code, fast on the every-row filters of
/// world trade tables) and the seeded draws `random_uniform` / `random_normal` (a pure function of
/// seed, key and draw number, for Monte Carlo stages).
pub fn scalar_functions() -> Vec<Arc<ScalarUDF>> {
    vec![
        Arc::new(ScalarUDF::from(crate::hs_heading::HsHeading::default())),
        Arc::new(ScalarUDF::from(RandomDraw::new(Distribution::Uniform))),
        Arc::new(ScalarUDF::from(RandomDraw::new(Distribution::Normal))),
    ]
}

/// The aggregate functions: `sum` replaced by an order-independent exact float sum (the same bits
/// at any number of partitions, or of machines).
pub fn aggregate_functions() -> Vec<Arc<AggregateUDF>> {
    vec![Arc::new(AggregateUDF::from(crate::exact_sum::ExactSum::default()))]
}

/// Registers every function of this module in `ctx` (replacing DataFusion's `sum`).
pub fn register_functions(ctx: &SessionContext) {
    for function in aggregate_functions() {
        ctx.register_udaf(function.as_ref().clone());
    }
    for function in scalar_functions() {
        ctx.register_udf(function.as_ref().clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_session_with_the_functions_sums_exactly_and_knows_hs_heading() {
        let ctx = SessionContext::new();
        register_functions(&ctx);
        let batches = ctx
            .sql("SELECT sum(x) AS total, hs_heading('280530') AS heading FROM (VALUES (0.1), (0.2), (0.3)) AS t(x)")
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        let text = crate::format_batches(&batches, crate::OutputFormat::Csv).unwrap();
        // A plain float sum in this order gives 0.6000000000000001.
        assert!(text.contains("0.6,"), "{text}");
        assert!(text.contains("2805"), "{text}");
    }
}
