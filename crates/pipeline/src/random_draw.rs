//! `random_uniform(seed, key, draw)` and `random_normal(seed, key, draw)`: pseudo-random numbers
//! that are a pure function of their arguments, for Monte Carlo stages that must give the same
//! bytes on every run and at any number of partitions.
//!
//! DataFusion's `random()` draws from a thread's generator, so its values depend on how rows meet
//! threads. Here a draw is a hash: the key (what is drawn, e.g. `factor:2846`) and the draw number
//! are mixed with the seed (SplitMix64 over FNV-1a of the key), so one key gets the same value in
//! draw `d` wherever it appears — a factor shared by every flow of its code is one draw, not one
//! per row. `random_uniform` is uniform on [0, 1); `random_normal` is standard normal (Box-Muller on
//! two uniforms of the same key and draw). Null arguments give null.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Float64Array};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Int64Type};
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility};

fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3))
}

/// The `n`-th uniform number in [0, 1) of `key` in draw `draw` under `seed`.
pub fn uniform(seed: i64, key: &str, draw: i64, n: u64) -> f64 {
    let mixed =
        splitmix64(splitmix64(seed as u64 ^ fnv1a(key)) ^ (draw as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ n);
    (mixed >> 11) as f64 / (1u64 << 53) as f64
}

/// A standard normal number of `key` in draw `draw` under `seed` (Box-Muller).
pub fn normal(seed: i64, key: &str, draw: i64) -> f64 {
    let radius = (-2.0 * (1.0 - uniform(seed, key, draw, 1)).ln()).sqrt();
    radius * (std::f64::consts::TAU * uniform(seed, key, draw, 2)).cos()
}

/// Which distribution a [`RandomDraw`] function draws from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Distribution {
    Uniform,
    Normal,
}

/// The SQL functions `random_uniform` and `random_normal`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct RandomDraw {
    distribution: Distribution,
    signature: Signature,
}

impl RandomDraw {
    pub fn new(distribution: Distribution) -> Self {
        Self { distribution, signature: Signature::any(3, Volatility::Immutable) }
    }
}

impl ScalarUDFImpl for RandomDraw {
    fn name(&self) -> &str {
        match self.distribution {
            Distribution::Uniform => "random_uniform",
            Distribution::Normal => "random_normal",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let arrays: Vec<ArrayRef> = args.args.iter().map(|a| a.to_array(rows)).collect::<Result<_>>()?;
        let seeds = cast(&arrays[0], &DataType::Int64)?;
        let keys = cast(&arrays[1], &DataType::Utf8)?;
        let draws = cast(&arrays[2], &DataType::Int64)?;
        let (seeds, keys, draws) =
            (seeds.as_primitive::<Int64Type>(), keys.as_string::<i32>(), draws.as_primitive::<Int64Type>());
        let values: Float64Array = (0..rows)
            .map(|i| {
                if seeds.is_null(i) || keys.is_null(i) || draws.is_null(i) {
                    return None;
                }
                let (seed, key, draw) = (seeds.value(i), keys.value(i), draws.value(i));
                Some(match self.distribution {
                    Distribution::Uniform => uniform(seed, key, draw, 0),
                    Distribution::Normal => normal(seed, key, draw),
                })
            })
            .collect();
        let values: ArrayRef = Arc::new(values);
        if args.args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_))) {
            return Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(&values, 0)?));
        }
        Ok(ColumnarValue::Array(values))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_are_a_function_of_their_arguments_and_look_random() {
        assert_eq!(uniform(1, "factor:2846", 7, 0), uniform(1, "factor:2846", 7, 0));
        assert_ne!(uniform(1, "factor:2846", 7, 0), uniform(1, "factor:2846", 8, 0));
        assert_ne!(uniform(1, "factor:2846", 7, 0), uniform(2, "factor:2846", 7, 0));
        assert_ne!(uniform(1, "factor:2846", 7, 0), uniform(1, "factor:253090", 7, 0));
        let n = 100_000;
        let uniforms: Vec<f64> = (0..n).map(|d| uniform(42, "k", d, 0)).collect();
        assert!(uniforms.iter().all(|u| (0.0..1.0).contains(u)));
        let mean = uniforms.iter().sum::<f64>() / n as f64;
        assert!((mean - 0.5).abs() < 0.005, "{mean}");
        let normals: Vec<f64> = (0..n).map(|d| normal(42, "k", d)).collect();
        let mean = normals.iter().sum::<f64>() / n as f64;
        let variance = normals.iter().map(|z| (z - mean).powi(2)).sum::<f64>() / n as f64;
        assert!(mean.abs() < 0.02 && (variance - 1.0).abs() < 0.02, "{mean} {variance}");
        let beyond = normals.iter().filter(|z| z.abs() > 1.645).count() as f64 / n as f64;
        assert!((beyond - 0.10).abs() < 0.01, "{beyond}");
    }
}
