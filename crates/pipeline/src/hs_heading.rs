//! `hs_heading(code)`: the HS heading of a code, its first four characters (`hs_heading('284690')`
//! is `'2846'`; a code shorter than four characters is returned whole; null stays null).
//!
//! It gives the same values as `substr(code, 1, 4)`, which stage SQL could use instead, but the
//! stages that pick the rare-earth rows out of a world trade table evaluate it on every row, inside
//! the Parquet reader and up to three times per row (a join's dynamic filter checks the lower bound,
//! the upper bound and the set of headings). DataFusion's `substr` handles every Unicode case per
//! row; HS codes are ASCII digits, so this takes the first four bytes when they are ASCII and falls
//! back to counting characters otherwise. At 50 million rows `trade_in_scope` took 6.6 s with
//! `substr` and 3.9 s with this (BENCHMARKS.md).

use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray, LargeStringArray, StringArray, StringViewArray};
use arrow::datatypes::DataType;
use datafusion::common::{Result, ScalarValue, exec_err};
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility};

/// The heading of one code (see the module documentation).
pub use reeflow_model::hs_heading as heading_of;

/// The `hs_heading` SQL function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct HsHeading {
    signature: Signature,
}

impl Default for HsHeading {
    fn default() -> Self {
        Self { signature: Signature::string(1, Volatility::Immutable) }
    }
}

fn headings(codes: &ArrayRef) -> Result<ArrayRef> {
    Ok(match codes.data_type() {
        DataType::Utf8View => {
            Arc::new(codes.as_string_view().iter().map(|c| c.map(heading_of)).collect::<StringViewArray>())
        }
        DataType::Utf8 => Arc::new(codes.as_string::<i32>().iter().map(|c| c.map(heading_of)).collect::<StringArray>()),
        DataType::LargeUtf8 => {
            Arc::new(codes.as_string::<i64>().iter().map(|c| c.map(heading_of)).collect::<LargeStringArray>())
        }
        other => return exec_err!("hs_heading expects a string (an HS code), got {other}"),
    })
}

impl ScalarUDFImpl for HsHeading {
    fn name(&self) -> &str {
        "hs_heading"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(arg_types[0].clone())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        match &args.args[0] {
            ColumnarValue::Array(codes) => Ok(ColumnarValue::Array(headings(codes)?)),
            ColumnarValue::Scalar(code) => {
                let heading = headings(&code.to_array()?)?;
                Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(&heading, 0)?))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::prelude::SessionContext;

    #[test]
    fn heading_is_the_first_four_characters() {
        assert_eq!(heading_of("284690"), "2846");
        assert_eq!(heading_of("2846"), "2846");
        assert_eq!(heading_of("28"), "28");
        assert_eq!(heading_of(""), "");
        // Not ASCII: characters, as substr counts them, not bytes.
        assert_eq!(heading_of("ß8469"), "ß846");
    }

    #[tokio::test]
    async fn sql_function_matches_substr_on_every_string_type() {
        let ctx = SessionContext::new();
        ctx.register_udf(datafusion::logical_expr::ScalarUDF::from(HsHeading::default()));
        for cast in ["Utf8", "LargeUtf8", "Utf8View"] {
            let sql = format!(
                "SELECT count(*) FROM (SELECT arrow_cast(c, '{cast}') AS c FROM (VALUES ('284690'), ('2846'), \
                 ('28'), (NULL), ('ß8469'), ('850511'), ('2530901000'))  AS v(c)) \
                 WHERE (hs_heading(c) IS DISTINCT FROM substr(c, 1, 4)) OR arrow_typeof(hs_heading(c)) <> '{cast}'"
            );
            let batches = ctx.sql(&sql).await.unwrap().collect().await.unwrap();
            let mismatches = batches[0].column(0).as_primitive::<arrow::datatypes::Int64Type>().value(0);
            assert_eq!(mismatches, 0, "{cast}");
        }
        let scalar = ctx.sql("SELECT hs_heading('850511') AS h").await.unwrap().collect().await.unwrap();
        assert_eq!(scalar[0].column(0).as_string::<i32>().value(0), "8505");
    }
}
