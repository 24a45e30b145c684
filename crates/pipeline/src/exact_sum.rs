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
use arrow::buffer::NullBuffer;
use arrow::datatypes::{DataType, Decimal128Type, Field, FieldRef, Float64Type};
use datafusion::common::{Result, ScalarValue};
use datafusion::functions_aggregate::sum::Sum;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::{AggregateOrderSensitivity, format_state_name};
use datafusion::logical_expr::{Accumulator, AggregateUDFImpl, EmitTo, GroupsAccumulator, ReversedUDAF, Signature};
use datafusion::physical_expr::NullState;

/// Fixed-point units per 1.0.
const SCALE: f64 = 1e9;
/// The state type: the fixed-point total as a 128-bit integer.
const STATE_TYPE: DataType = DataType::Decimal128(38, 0);

/// The value in nanounits plus a half away from zero: truncated to an integer, it is the value
/// rounded half away from zero.
#[inline]
fn nanounits(value: f64) -> f64 {
    let scaled = value * SCALE;
    scaled + 0.5f64.copysign(scaled)
}

/// The value in nanounits, rounded half away from zero. Through i64 where it fits (one machine
/// instruction; f64 → i128 is a library call) and i128 beyond (|value| ≥ 9.2e9).
#[inline]
fn to_fixed(value: f64) -> i128 {
    let rounded = nanounits(value);
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

/// The accumulator of many groups at once (GROUP BY). A group's fixed-point total lives in an
/// `i64` while it stays within ±2⁶² nanounits (about 4.6 × 10⁹ in the value's units): 8 bytes a
/// group, as much as DataFusion's float sum takes. A group whose total or value leaves that range
/// moves to an `i128` slot of `wide`, and its `narrow` entry then holds `i64::MIN` + the slot
/// (every such entry lies below −2⁶², where no narrow total does). Which groups saw a value (the
/// others sum to null) is DataFusion's [`NullState`].
#[derive(Debug, Default)]
struct ExactSumGroups {
    narrow: Vec<i64>,
    wide: Vec<i128>,
    seen: NullState,
}

/// Narrow totals lie strictly within ±`NARROW`.
const NARROW: i64 = 1 << 62;
/// Values added to a narrow total lie strictly within ±`SMALL`, so the sum cannot overflow.
const SMALL: i64 = 1 << 61;

/// The two parts of [`ExactSumGroups`] that hold totals, borrowed apart from its null state.
struct Totals<'a> {
    narrow: &'a mut [i64],
    wide: &'a mut Vec<i128>,
}

impl Totals<'_> {
    /// Adds a float value (rounded to nanounits, as [`to_fixed`] does).
    #[inline]
    fn add_value(&mut self, group: usize, value: f64) {
        let rounded = nanounits(value);
        if rounded.abs() < SMALL as f64 {
            self.add_small(group, rounded as i64)
        } else {
            self.add_large(group, rounded as i128)
        }
    }

    /// Adds a fixed-point partial total.
    #[inline]
    fn add_fixed(&mut self, group: usize, fixed: i128) {
        if fixed.unsigned_abs() < SMALL as u128 {
            self.add_small(group, fixed as i64)
        } else {
            self.add_large(group, fixed)
        }
    }

    #[inline]
    fn add_small(&mut self, group: usize, fixed: i64) {
        // A moved group's entry (about −2⁶³) plus a small value lies beyond ±2⁶² even when the
        // addition wraps, so this one test also sends moved groups on.
        let sum = self.narrow[group].wrapping_add(fixed);
        if sum.unsigned_abs() < NARROW as u64 {
            self.narrow[group] = sum;
        } else {
            self.add_large(group, fixed.into());
        }
    }

    fn add_large(&mut self, group: usize, fixed: i128) {
        let total = self.narrow[group];
        let slot = if total > -NARROW {
            self.wide.push(total.into());
            self.narrow[group] = i64::MIN + (self.wide.len() - 1) as i64;
            self.wide.len() - 1
        } else {
            total.abs_diff(i64::MIN) as usize
        };
        self.wide[slot] = self.wide[slot].wrapping_add(fixed);
    }
}

/// The total a `narrow` entry stands for: itself, or the `wide` slot it points to.
fn total_of(narrow: i64, wide: &[i128]) -> i128 {
    if narrow > -NARROW { narrow.into() } else { wide[narrow.abs_diff(i64::MIN) as usize] }
}

impl ExactSumGroups {
    fn totals(&mut self, total_num_groups: usize) -> (Totals<'_>, &mut NullState) {
        self.narrow.resize(total_num_groups, 0);
        (Totals { narrow: &mut self.narrow, wide: &mut self.wide }, &mut self.seen)
    }

    /// The totals of the groups `emit_to` names, which leave the accumulator (DataFusion
    /// renumbers the others from 0; their slots in `wide` stay valid).
    fn take(&mut self, emit_to: EmitTo) -> Vec<i128> {
        let emitted = emit_to.take_needed(&mut self.narrow);
        let taken = emitted.iter().map(|&narrow| total_of(narrow, &self.wide)).collect();
        if self.narrow.is_empty() {
            self.wide.clear();
        }
        taken
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
        let (mut totals, seen) = self.totals(total_num_groups);
        seen.accumulate(group_indices, floats, opt_filter, total_num_groups, |group, value| {
            totals.add_value(group, value)
        });
        Ok(())
    }

    fn merge_batch(&mut self, values: &[ArrayRef], group_indices: &[usize], total_num_groups: usize) -> Result<()> {
        let states = values[0].as_primitive::<Decimal128Type>();
        let (mut totals, seen) = self.totals(total_num_groups);
        seen.accumulate(group_indices, states, None, total_num_groups, |group, fixed| totals.add_fixed(group, fixed));
        Ok(())
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        let nulls = self.seen.build(emit_to);
        let totals = self.take(emit_to);
        Ok(Arc::new(Float64Array::new(totals.into_iter().map(to_float).collect(), nulls)))
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        let nulls = self.seen.build(emit_to);
        let totals = self.take(emit_to);
        Ok(vec![Arc::new(Decimal128Array::new(totals.into(), nulls).with_precision_and_scale(38, 0)?)])
    }

    fn convert_to_state(&self, values: &[ArrayRef], opt_filter: Option<&BooleanArray>) -> Result<Vec<ArrayRef>> {
        // Each row its own group: its fixed-point value, or null (a null or filtered-out row).
        let floats = values[0].as_primitive::<Float64Type>();
        let fixed = floats.values().iter().map(|&value| to_fixed(value)).collect();
        let passing = opt_filter.map(|filter| {
            NullBuffer::new(match filter.nulls() {
                Some(nulls) => filter.values() & nulls.inner(),
                None => filter.values().clone(),
            })
        });
        let nulls = NullBuffer::union(floats.nulls(), passing.as_ref());
        Ok(vec![Arc::new(Decimal128Array::new(fixed, nulls).with_precision_and_scale(38, 0)?)])
    }

    fn size(&self) -> usize {
        self.narrow.capacity() * std::mem::size_of::<i64>()
            + self.wide.capacity() * std::mem::size_of::<i128>()
            + self.seen.size()
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

    /// Values from the narrow range to beyond it, both signs, so totals cross ±2⁶² nanounits.
    fn mixed_values(n: usize) -> Vec<Option<f64>> {
        (0..n)
            .map(|i| match i % 7 {
                0 => None,
                1 => Some(3.1e9 * (i as f64).sin()),
                2 => Some(-1.7e9),
                3 => Some(2.5e12),
                _ => Some((i as f64).cos() * 1e6 + 0.000_000_123 * i as f64),
            })
            .collect()
    }

    /// The one-group accumulator's total of each group's values.
    fn expected(values: &[Option<f64>], groups: &[usize], keep: impl Fn(usize) -> bool, n: usize) -> Vec<Total> {
        let mut totals = vec![Total::default(); n];
        for (row, (value, group)) in values.iter().zip(groups).enumerate() {
            if let (Some(value), true) = (value, keep(row)) {
                totals[*group].add(*value);
            }
        }
        totals
    }

    /// The exact fixed-point totals of a state array.
    fn fixed(states: &[ArrayRef]) -> Vec<Option<i128>> {
        states[0].as_primitive::<Decimal128Type>().iter().collect()
    }

    fn exact(totals: &[Total]) -> Vec<Option<i128>> {
        totals.iter().map(Total::state).collect()
    }

    #[test]
    fn grouped_totals_match_the_one_group_total_across_the_narrow_range() {
        let values = mixed_values(5_000);
        let groups: Vec<usize> = (0..values.len()).map(|i| (i * 7919) % 13).collect();
        let array: ArrayRef = Arc::new(Float64Array::from(values.clone()));
        // In two batches, the second with groups the first did not know.
        let mut accumulator = ExactSumGroups::default();
        accumulator.update_batch(&[array.slice(0, 2_000)], &groups[..2_000], None, 13).unwrap();
        accumulator.update_batch(&[array.slice(2_000, 3_000)], &groups[2_000..], None, 13).unwrap();
        assert!(!accumulator.wide.is_empty(), "some totals left the narrow range");
        let expected = expected(&values, &groups, |_| true, 13);
        assert_eq!(fixed(&accumulator.state(EmitTo::All).unwrap()), exact(&expected));
        // And as floats, each turned back once.
        let mut accumulator = ExactSumGroups::default();
        accumulator.update_batch(&[array], &groups, None, 13).unwrap();
        let evaluated = accumulator.evaluate(EmitTo::All).unwrap();
        let floats: Vec<_> = evaluated.as_primitive::<Float64Type>().iter().map(|v| v.map(f64::to_bits)).collect();
        assert_eq!(floats, expected.iter().map(|t| t.value().map(f64::to_bits)).collect::<Vec<_>>());
    }

    #[test]
    fn filtered_and_null_rows_are_left_out_and_an_empty_group_is_null() {
        let values = mixed_values(700);
        let groups: Vec<usize> = (0..values.len()).map(|i| i % 5).collect();
        let filter =
            BooleanArray::from((0..values.len()).map(|i| (i % 3 != 0).then_some(i % 2 == 0)).collect::<Vec<_>>());
        let keep = |row: usize| filter.is_valid(row) && filter.value(row);
        let array: ArrayRef = Arc::new(Float64Array::from(values.clone()));
        let mut accumulator = ExactSumGroups::default();
        // Group 5 exists but gets no value: null.
        accumulator.update_batch(&[array], &groups, Some(&filter), 6).unwrap();
        let expected = expected(&values, &groups, keep, 6);
        assert_eq!(expected[5].state(), None);
        assert_eq!(fixed(&accumulator.state(EmitTo::All).unwrap()), exact(&expected));
        // The same through per-row states (skipped partial aggregation) merged.
        let array: ArrayRef = Arc::new(Float64Array::from(values.clone()));
        let states = ExactSumGroups::default().convert_to_state(&[array], Some(&filter)).unwrap();
        let mut merged = ExactSumGroups::default();
        merged.merge_batch(&states, &groups, 6).unwrap();
        assert_eq!(fixed(&merged.state(EmitTo::All).unwrap()), exact(&expected));
    }

    #[test]
    fn emitting_the_first_groups_keeps_the_others_totals() {
        let values = mixed_values(1_000);
        let groups: Vec<usize> = (0..values.len()).map(|i| i % 10).collect();
        let array: ArrayRef = Arc::new(Float64Array::from(values.clone()));
        let expected = expected(&values, &groups, |_| true, 10);
        let mut accumulator = ExactSumGroups::default();
        accumulator.update_batch(&[array], &groups, None, 10).unwrap();
        assert_eq!(fixed(&accumulator.state(EmitTo::First(4)).unwrap()), exact(&expected[..4]));
        // The remaining six are groups 0..6 now, and go on adding.
        let more: ArrayRef = Arc::new(Float64Array::from(vec![4e12, 1.5]));
        accumulator.update_batch(&[more], &[0, 5], None, 6).unwrap();
        let mut rest = Total::default();
        let mut last = Total::default();
        for (row, value) in values.iter().enumerate() {
            match (row % 10, value) {
                (4, Some(value)) => rest.add(*value),
                (9, Some(value)) => last.add(*value),
                _ => {}
            }
        }
        rest.add(4e12);
        last.add(1.5);
        let remaining = fixed(&accumulator.state(EmitTo::All).unwrap());
        assert_eq!(remaining[0], rest.state());
        assert_eq!(remaining[1..5], exact(&expected[5..9]));
        assert_eq!(remaining[5], last.state());
    }
}
