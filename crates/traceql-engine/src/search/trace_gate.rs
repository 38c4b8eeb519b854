//! The trace gate of a candidate scan: a span is kept only when its trace has a span of every
//! leaf filter the candidate test cannot pass without (`{A} ~ {B}` needs a span of `A` and one
//! of `B`). Pushed into the Parquet scan as a row filter, it spares decoding the trace, place
//! and leaf columns of the spans of every other trace: `{ resource.service.name != "frontend" }
//! ~ { … = "payment" && status = error }` otherwise decodes two thirds of all spans to find
//! the few traces with a payment error.
//!
//! The gate sees a batch of rows at a time and groups them by trace start, which is constant
//! over a trace's contiguous rows; traces starting at the same instant share a group, which
//! only keeps more rows. It is exact only when every batch holds whole traces: the scan's
//! batches must hold a whole row group ([`batch_rows`]), which never splits a trace.

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, BooleanArray, BooleanBufferBuilder};
use datafusion::arrow::buffer::BooleanBuffer;
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::common::{Result as DfResult, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::prelude::{Expr, cast, ident};
use traceql_storage::read::RowGroupSummary;

use crate::columnar::as_filter;
use traceql_storage::schema::col;

/// The gate over the lowered leaf conditions `leaves` of one block, of which those numbered
/// `necessary` must each match a span of the trace: true on the rows that match some leaf in
/// the traces that have them all. `None` for fewer than two necessary leaves, where the gate
/// would keep every span that matches a leaf anyway.
pub(super) fn gate(leaves: &[Expr], necessary: &[usize]) -> Option<Expr> {
    if necessary.len() < 2 {
        return None;
    }
    let mut args = vec![cast(ident(col::TRACE_START), DataType::Int64)];
    // The gate reads a null leaf as false, so the leaves need no guard against null.
    args.extend(leaves.iter().map(|leaf| as_filter(leaf.clone())));
    let function = TraceGate {
        necessary: necessary.to_vec(),
        signature: Signature::any(args.len(), Volatility::Immutable),
    };
    Some(ScalarUDF::from(function).call(args))
}

/// The rows a scan's batches must be able to hold for [`gate`] to see whole traces: the most
/// rows of any row group in `layouts`.
pub(super) fn batch_rows(layouts: &[Vec<RowGroupSummary>]) -> usize {
    let most = layouts.iter().flatten().map(|g| g.rows).max().unwrap_or(0);
    usize::try_from(most).unwrap_or(usize::MAX)
}

/// The scalar function behind [`gate`]: trace starts and leaf matches in; out, whether the row
/// matches a leaf and its trace (its run of equal starts in the batch) has a match of every
/// necessary leaf.
#[derive(Debug, PartialEq, Eq, Hash)]
struct TraceGate {
    /// The numbers of the necessary leaves.
    necessary: Vec<usize>,
    signature: Signature,
}

impl ScalarUDFImpl for TraceGate {
    fn name(&self) -> &str {
        "trace_gate"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Boolean)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let rows = args.number_rows;
        let arrays: Vec<Arc<dyn Array>> = (args.args.iter())
            .map(|a| a.to_array(rows))
            .collect::<DfResult<_>>()?;
        let Some((starts, leaves)) = arrays.split_first() else {
            return exec_err!("trace_gate reads trace starts");
        };
        let Some(starts) = starts.as_primitive_opt::<Int64Type>() else {
            return exec_err!("trace_gate reads 64-bit trace starts");
        };
        let leaves: Vec<&BooleanArray> = (leaves.iter())
            .map(|l| l.as_boolean_opt())
            .collect::<Option<_>>()
            .map_or_else(|| exec_err!("trace_gate reads boolean leaves"), Ok)?;
        if self.necessary.iter().any(|&i| i >= leaves.len()) {
            return exec_err!("trace_gate lacks a necessary leaf");
        }
        if leaves.iter().any(|l| l.len() != starts.len()) {
            return exec_err!("trace_gate reads leaves of another length than the starts");
        }
        let gated = gated(starts.values(), &leaves, &self.necessary);
        Ok(ColumnarValue::Array(Arc::new(gated)))
    }
}

/// Per row: whether it matches one of `leaves` (true, not null) and the run of equal `starts`
/// it lies in has a match of each leaf numbered in `necessary`. Runs are found from the matches
/// of the necessary leaf with the fewest, by binary search in `starts`, which a row group keeps
/// sorted; unsorted starts keep every row that matches a leaf.
fn gated(starts: &[i64], leaves: &[&BooleanArray], necessary: &[usize]) -> BooleanArray {
    let truths: Vec<BooleanBuffer> = leaves.iter().map(|leaf| truths(leaf)).collect();
    let any = (truths.iter()).fold(BooleanBuffer::new_unset(starts.len()), |any, t| &any | t);
    let rarest = necessary
        .iter()
        .min_by_key(|&&j| truths[j].count_set_bits());
    let (Some(&rarest), true) = (rarest, starts.is_sorted()) else {
        return BooleanArray::new(any, None);
    };
    let mut complete = BooleanBufferBuilder::new(starts.len());
    let mut previous = None;
    for row in truths[rarest].set_indices() {
        let start = starts[row];
        if previous == Some(start) {
            continue;
        }
        previous = Some(start);
        let first = starts.partition_point(|&s| s < start);
        let end = starts.partition_point(|&s| s <= start);
        let has = |t: &BooleanBuffer| t.slice(first, end - first).count_set_bits() > 0;
        if necessary.iter().all(|&j| has(&truths[j])) {
            complete.append_n(first - complete.len(), false);
            complete.append_n(end - first, true);
        }
    }
    complete.append_n(starts.len() - complete.len(), false);
    BooleanArray::new(&any & &complete.finish(), None)
}

/// The rows where `leaf` is true (null counts as false).
fn truths(leaf: &BooleanArray) -> BooleanBuffer {
    match leaf.nulls() {
        Some(valid) => leaf.values() & valid.inner(),
        None => leaf.values().clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_keeps_its_matches_only_with_a_match_of_every_necessary_leaf() {
        let starts = [1, 1, 1, 1, 2, 2, 3];
        let t = Some(true);
        let a = BooleanArray::from(vec![t, None, Some(false), None, t, None, None]);
        let b = BooleanArray::from(vec![None, Some(false), t, None, None, None, t]);
        let c = BooleanArray::from(vec![None, t, None, None, None, t, None]);
        let kept = |necessary: &[usize]| -> Vec<bool> {
            let kept = gated(&starts, &[&a, &b, &c], necessary);
            kept.iter().map(|k| k == Some(true)).collect()
        };
        assert_eq!(
            kept(&[0, 1]),
            [true, true, true, false, false, false, false]
        );
        assert_eq!(kept(&[0, 2]), [true, true, true, false, true, true, false]);
    }

    #[test]
    fn unsorted_starts_keep_every_match() {
        let a = BooleanArray::from(vec![Some(true), None, None]);
        let b = BooleanArray::from(vec![None, None, Some(true)]);
        let kept = gated(&[2, 1, 3], &[&a, &b], &[0, 1]);
        let kept: Vec<bool> = kept.iter().map(|k| k == Some(true)).collect();
        assert_eq!(kept, [true, false, true]);
    }
}
