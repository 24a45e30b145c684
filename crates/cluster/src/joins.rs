//! Keeps hash joins correct when a plan runs split into Ballista tasks. A join that collects its
//! build (left) side whole (`CollectLeft`, a broadcast) and must emit the build rows no probe row
//! matched (left, full, left semi/anti/mark joins) emits them from the last probe partition to
//! finish *in its process* (DataFusion counts them in the shared build data). A Ballista task
//! runs one partition with its own copy of the build side, so the count never reaches zero and
//! those rows are lost: `trade_reo` kept 3,848 of 6,261 rows, the ones whose partner is none of
//! the model's regions. Such joins are planned partitioned instead (each task owns its share of
//! the build rows); joins that emit only probe rows (inner, right, right semi/anti/mark) stay
//! broadcast, so a small table joined to a large one is not shuffled.
//!
//! The rule runs right after DataFusion's join selection and before distribution is enforced,
//! which then repartitions both sides of each join it made partitioned (`EnsureRequirements`).

use std::sync::Arc;

use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode};
use datafusion::config::ConfigOptions;
use datafusion::error::Result;
use datafusion::logical_expr::JoinType;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::joins::{HashJoinExec, PartitionMode};

/// See the module documentation.
#[derive(Debug, Default)]
pub struct PartitionJoinsThatEmitBuildRows;

/// Whether a join emits build-side rows once every probe partition is done.
fn emits_unmatched_build_rows(join_type: JoinType) -> bool {
    matches!(join_type, JoinType::Left | JoinType::Full | JoinType::LeftSemi | JoinType::LeftAnti | JoinType::LeftMark)
}

impl PhysicalOptimizerRule for PartitionJoinsThatEmitBuildRows {
    fn optimize(&self, plan: Arc<dyn ExecutionPlan>, _config: &ConfigOptions) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| {
            let Some(join) = node.downcast_ref::<HashJoinExec>() else {
                return Ok(Transformed::no(node));
            };
            if *join.partition_mode() != PartitionMode::CollectLeft || !emits_unmatched_build_rows(*join.join_type()) {
                return Ok(Transformed::no(node));
            }
            let partitioned = join.builder().with_partition_mode(PartitionMode::Partitioned).build()?;
            Ok(Transformed::yes(Arc::new(partitioned) as Arc<dyn ExecutionPlan>))
        })
        .data()
    }

    fn name(&self) -> &str {
        "reeflow_partition_joins_that_emit_build_rows"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// `rules` with [`PartitionJoinsThatEmitBuildRows`] right after join selection (at the end when
/// there is none).
pub fn with_task_safe_joins(
    rules: &[Arc<dyn PhysicalOptimizerRule + Send + Sync>],
) -> Vec<Arc<dyn PhysicalOptimizerRule + Send + Sync>> {
    let mut rules = rules.to_vec();
    let at = rules.iter().position(|rule| rule.name() == "join_selection").map_or(rules.len(), |i| i + 1);
    rules.insert(at, Arc::new(PartitionJoinsThatEmitBuildRows));
    rules
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::common::NullEquality;
    use datafusion::physical_plan::empty::EmptyExec;
    use datafusion::physical_plan::expressions::Column;

    fn join(join_type: JoinType) -> Arc<dyn ExecutionPlan> {
        let schema = Arc::new(Schema::new(vec![Field::new("iso3", DataType::Utf8, true)]));
        let side = || Arc::new(EmptyExec::new(schema.clone())) as Arc<dyn ExecutionPlan>;
        let key = || Arc::new(Column::new("iso3", 0)) as Arc<dyn datafusion::physical_plan::PhysicalExpr>;
        let join = HashJoinExec::try_new(
            side(),
            side(),
            vec![(key(), key())],
            None,
            &join_type,
            None,
            PartitionMode::CollectLeft,
            NullEquality::NullEqualsNothing,
            false,
        )
        .unwrap();
        Arc::new(join)
    }

    fn mode(plan: &Arc<dyn ExecutionPlan>) -> PartitionMode {
        *plan.downcast_ref::<HashJoinExec>().unwrap().partition_mode()
    }

    #[test]
    fn broadcast_joins_that_emit_unmatched_build_rows_are_partitioned_the_others_stay() {
        let rule = PartitionJoinsThatEmitBuildRows;
        let config = ConfigOptions::default();
        for join_type in [JoinType::Left, JoinType::Full, JoinType::LeftSemi, JoinType::LeftAnti] {
            let planned = rule.optimize(join(join_type), &config).unwrap();
            assert_eq!(mode(&planned), PartitionMode::Partitioned, "{join_type}");
        }
        for join_type in [JoinType::Inner, JoinType::Right, JoinType::RightSemi, JoinType::RightAnti] {
            let planned = rule.optimize(join(join_type), &config).unwrap();
            assert_eq!(mode(&planned), PartitionMode::CollectLeft, "{join_type}");
        }
    }

    #[test]
    fn the_rule_runs_after_join_selection_and_before_distribution_is_enforced() {
        let state = datafusion::execution::SessionStateBuilder::new().with_default_features().build();
        let rules = with_task_safe_joins(state.physical_optimizers());
        let names: Vec<&str> = rules.iter().map(|rule| rule.name()).collect();
        let at = |name: &str| names.iter().position(|n| *n == name).unwrap();
        assert_eq!(at("reeflow_partition_joins_that_emit_build_rows"), at("join_selection") + 1);
        assert!(at("reeflow_partition_joins_that_emit_build_rows") < at("EnsureRequirements"), "{names:?}");
    }
}
