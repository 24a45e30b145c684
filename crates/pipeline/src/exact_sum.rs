//! `sum` of floating-point numbers that gives the same bits whatever order the rows arrive in, so
//! stage outputs are byte-identical at any number of partitions (threads).
//!
//! A float sum depends on the order of its additions, and with several partitions DataFusion adds
//! rows and partial sums in arrival order. This `sum` converts each value to a fixed-point integer
//! (nanounits: the value × 10⁹, rounded; exact for every figure with nine decimals or fewer and
//! below about 10²⁹ in size) and adds integers, which is associative; the total is turned back into
//! a float once, at the end. Non-float arguments (integers, decimals, intervals) are handed to
//! DataFusion's own `sum`. It replaces `sum` in every session the engine opens, including window
//! sums (`sum(x) OVER (…)`), so stage SQL stays plain SQL.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, Decimal128Array, Float64Array};
use arrow::datatypes::{DataType, Field, FieldRef, Float64Type};
use datafusion::common::{Result, ScalarValue};
use datafusion::functions_aggregate::sum::Sum;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::{AggregateOrderSensitivity, format_state_name};
use datafusion::logical_expr::{Accumulator, AggregateUDFImpl, EmitTo, GroupsAccumulator, ReversedUDAF, Signature};

/// Fixed-point units per 1.0.
const SCALE: f64 = 1e9;
/// The state type: the fixed-point total as a 128-bit integer.
const STATE_TYPE: DataType = DataType::Decimal128(38, 0);

/// The value in nanounits, rounded half away from zero. Through i64 where it fits (one machine
/// instruction; f64 → i128 is a library call) and i128 beyond (|value| ≥ 9.2e9).
#[inline]
fn to_fixed(value: f64) -> i128 {
    let scaled = value * SCALE;
    let rounded = scaled + 0.5f64.copysign(scaled);
    if rounded.abs() < 9.2e18 { rounded as i64 as i128 } else { rounded as i128 }
}

fn to_float(total: i128) -> f64 {
    total as f64 / SCALE
}

/// `sum` with an order-independent float path (see the module documentation).
#[derive(Debug, PartialEq, Eq, Hash, Default)]
pub struct ExactSum {
    inner: Sum,
}

fn is_float_sum(return_type: &DataType, distinct: bool) -> bool {
    !distinct && *return_type == DataType::Float64
}

impl AggregateUDFImpl for ExactSum {
    fn name(&self) -> &str {
        "sum"
    }

    fn signature(&self) -> &Signature {
        self.inner.signature()
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        self.inner.return_type(arg_types)
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        if is_float_sum(args.return_field.data_type(), args.is_distinct) {
            return Ok(Box::<ExactSumAccumulator>::default());
        }
        self.inner.accumulator(args)
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        if is_float_sum(args.return_type(), args.is_distinct) {
            return Ok(vec![Arc::new(Field::new(format_state_name(args.name, "exact sum"), STATE_TYPE, true))]);
        }
        self.inner.state_fields(args)
    }

    fn groups_accumulator_supported(&self, args: AccumulatorArgs) -> bool {
        self.inner.groups_accumulator_supported(args)
    }

    fn create_groups_accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn GroupsAccumulator>> {
        if is_float_sum(args.return_field.data_type(), args.is_distinct) {
            return Ok(Box::<ExactSumGroups>::default());
        }
        self.inner.create_groups_accumulator(args)
    }

    fn create_sliding_accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        if is_float_sum(args.return_field.data_type(), args.is_distinct) {
            return Ok(Box::<ExactSumAccumulator>::default());
        }
        self.inner.create_sliding_accumulator(args)
    }

    fn reverse_expr(&self) -> ReversedUDAF {
        ReversedUDAF::Identical
    }

    fn order_sensitivity(&self) -> AggregateOrderSensitivity {
        AggregateOrderSensitivity::Insensitive
    }
}

/// One group's total: the fixed-point sum and how many values went in (0: the sum is null).
#[derive(Debug, Default, Clone, Copy)]
struct Total {
    fixed: i128,
    values: u64,
}

impl Total {
    fn add(&mut self, value: f64) {
        self.fixed = self.fixed.wrapping_add(to_fixed(value));
        self.values += 1;
    }

    fn merge(&mut self, fixed: i128) {
        self.fixed = self.fixed.wrapping_add(fixed);
        self.values += 1;
    }

    fn value(&self) -> Option<f64> {
        (self.values > 0).then(|| to_float(self.fixed))
    }

    fn state(&self) -> Option<i128> {
        (self.values > 0).then_some(self.fixed)
    }
}

/// The accumulator of one group (no GROUP BY, window frames).
#[derive(Debug, Default)]
struct ExactSumAccumulator {
    total: Total,
}

impl Accumulator for ExactSumAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        for value in values[0].as_primitive::<Float64Type>().iter().flatten() {
            self.total.add(value);
        }
        Ok(())
    }

    fn retract_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        for value in values[0].as_primitive::<Float64Type>().iter().flatten() {
            self.total.fixed = self.total.fixed.wrapping_sub(to_fixed(value));
            self.total.values -= 1;
        }
        Ok(())
    }

    fn supports_retract_batch(&self) -> bool {
        true
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        for fixed in states[0].as_primitive::<arrow::datatypes::Decimal128Type>().iter().flatten() {
            self.total.merge(fixed);
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![ScalarValue::Decimal128(self.total.state(), 38, 0)])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(ScalarValue::Float64(self.total.value()))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
    }
}

/// The accumulator of many groups at once (GROUP BY): one total per group index.
#[derive(Debug, Default)]
struct ExactSumGroups {
    totals: Vec<Total>,
}

impl ExactSumGroups {
    fn each<T>(
        &mut self,
        values: impl Iterator<Item = Option<T>>,
        group_indices: &[usize],
        filter: Option<&BooleanArray>,
        total_num_groups: usize,
        mut apply: impl FnMut(&mut Total, T),
    ) {
        self.totals.resize(total_num_groups, Total::default());
        for (row, (value, group)) in values.zip(group_indices).enumerate() {
            let passes = filter.is_none_or(|f| f.is_valid(row) && f.value(row));
            if let (Some(value), true) = (value, passes) {
                apply(&mut self.totals[*group], value);
            }
        }
    }
}

impl GroupsAccumulator for ExactSumGroups {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        let floats = values[0].as_primitive::<Float64Type>();
        self.each(floats.iter(), group_indices, opt_filter, total_num_groups, Total::add);
        Ok(())
    }

    fn merge_batch(&mut self, values: &[ArrayRef], group_indices: &[usize], total_num_groups: usize) -> Result<()> {
        let states = values[0].as_primitive::<arrow::datatypes::Decimal128Type>();
        self.each(states.iter(), group_indices, None, total_num_groups, Total::merge);
        Ok(())
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        let totals = emit_to.take_needed(&mut self.totals);
        Ok(Arc::new(totals.iter().map(Total::value).collect::<Float64Array>()))
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        let totals = emit_to.take_needed(&mut self.totals);
        let states = totals.iter().map(Total::state).collect::<Decimal128Array>().with_precision_and_scale(38, 0)?;
        Ok(vec![Arc::new(states)])
    }

    fn convert_to_state(&self, values: &[ArrayRef], opt_filter: Option<&BooleanArray>) -> Result<Vec<ArrayRef>> {
        // Each row its own group: its fixed-point value, or null (a null or filtered-out row).
        let floats = values[0].as_primitive::<Float64Type>();
        let states = floats
            .iter()
            .enumerate()
            .map(|(row, value)| {
                let passes = opt_filter.is_none_or(|f| f.is_valid(row) && f.value(row));
                value.filter(|_| passes).map(to_fixed)
            })
            .collect::<Decimal128Array>()
            .with_precision_and_scale(38, 0)?;
        Ok(vec![Arc::new(states)])
    }

    fn size(&self) -> usize {
        self.totals.capacity() * std::mem::size_of::<Total>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_total_is_the_same_in_any_order_and_split() {
        let values: Vec<f64> = (0..10_000).map(|i| (i as f64).sin() * 1e6 + 0.123_456_789 * i as f64).collect();
        let total = |values: &[f64]| {
            let mut t = Total::default();
            values.iter().for_each(|v| t.add(*v));
            t
        };
        let forward = total(&values).value().unwrap();
        let mut reversed = values.clone();
        reversed.reverse();
        assert_eq!(total(&reversed).value().unwrap().to_bits(), forward.to_bits());
        // Partial totals merged in another order: still the same bits.
        let (a, b) = values.split_at(3_333);
        let mut merged = Total::default();
        merged.merge(total(b).fixed);
        merged.merge(total(a).fixed);
        assert_eq!(merged.value().unwrap().to_bits(), forward.to_bits());
        // Within rounding of the plain float sum.
        assert!((values.iter().sum::<f64>() - forward).abs() < 1e-3);
    }

    #[test]
    fn nulls_alone_sum_to_null() {
        assert_eq!(Total::default().value(), None);
    }
}
