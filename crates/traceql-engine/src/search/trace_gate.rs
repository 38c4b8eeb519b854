//! The trace gate of a candidate scan: a span is kept only when its trace has a span of every
//! leaf filter the candidate test cannot pass without (`{A} ~ {B}` needs a span of `A` and one
//! of `B`). Pushed into the Parquet scan as a row filter, it spares decoding the trace, place
//! and leaf columns of the spans of every other trace: `{ resource.service.name != "frontend" }
//! ~ { … = "payment" && status = error }` otherwise decodes two thirds of all spans to find
//! the few traces with a payment error.
//!
//! Where the candidate test needs two spans of two leaves sharing a parent (`{A} ~ {B}`), the
//! gate also reads every span's parent and keeps only the traces that have such a pair: the
//! query above then decodes the trace and place columns of almost no span (a payment error
//! beside a span of another service is rare, though most traces have both).
//!
//! The gate sees a batch of rows at a time and groups them by trace start, which is constant
//! over a trace's contiguous rows; traces starting at the same instant share a group, which
//! only keeps more rows. It is exact only when every batch holds whole traces: the scan's
//! batches must hold a whole row group ([`batch_rows`]), which never splits a trace. It may
//! keep more than the candidate test passes, never less: it reads the parent of spans without
//! a place in the tree too, which the test leaves unpaired.

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, BooleanArray, BooleanBufferBuilder};
use datafusion::arrow::buffer::BooleanBuffer;
use datafusion::arrow::datatypes::{DataType, Int32Type, Int64Type};
use datafusion::common::{Result as DfResult, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::prelude::{Expr, cast, ident};
use traceql_storage::read::RowGroupSummary;

use crate::columnar::as_filter;
use traceql_storage::schema::col;

/// The gate over the lowered leaf conditions `leaves` of one block, of which those numbered
/// `necessary` must each match a span of the trace, and each pair of leaves in `siblings` two
/// different spans sharing a parent: true on the rows that match some leaf in the traces that
/// have them all. `None` for fewer than two necessary leaves, where the gate would keep every
/// span that matches a leaf anyway.
pub(super) fn gate(
    leaves: &[Expr],
    necessary: &[usize],
    siblings: &[(usize, usize)],
) -> Option<Expr> {
    if necessary.len() < 2 {
        return None;
    }
    let mut args = vec![cast(ident(col::TRACE_START), DataType::Int64)];
    if !siblings.is_empty() {
        args.push(cast(ident(col::PARENT_LEFT), DataType::Int32));
    }
    // The gate reads a null leaf as false, so the leaves need no guard against null.
    args.extend(leaves.iter().map(|leaf| as_filter(leaf.clone())));
    let function = TraceGate {
        necessary: necessary.to_vec(),
        siblings: siblings.to_vec(),
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

/// The scalar function behind [`gate`]: trace starts, parents (with sibling pairs) and leaf
/// matches in; out, whether the row matches a leaf and its trace (its run of equal starts in
/// the batch) has a match of every necessary leaf and a pair of siblings of each pair of
/// leaves.
#[derive(Debug, PartialEq, Eq, Hash)]
struct TraceGate {
    /// The numbers of the necessary leaves.
    necessary: Vec<usize>,
    /// Pairs of leaves the trace needs two different spans of with one parent.
    siblings: Vec<(usize, usize)>,
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
        let (parents, leaves) = match (self.siblings.is_empty(), leaves.split_first()) {
            (true, _) => (None, leaves),
            (false, Some((parents, leaves))) => match parents.as_primitive_opt::<Int32Type>() {
                Some(parents) if parents.len() == starts.len() => (Some(parents), leaves),
                _ => return exec_err!("trace_gate reads a 32-bit parent per start"),
            },
            (false, None) => return exec_err!("trace_gate reads parents"),
        };
        let leaves: Vec<&BooleanArray> = (leaves.iter())
            .map(|l| l.as_boolean_opt())
            .collect::<Option<_>>()
            .map_or_else(|| exec_err!("trace_gate reads boolean leaves"), Ok)?;
        let paired = self.siblings.iter().flat_map(|&(a, b)| [a, b]);
        if self
            .necessary
            .iter()
            .copied()
            .chain(paired)
            .any(|i| i >= leaves.len())
        {
            return exec_err!("trace_gate lacks a necessary leaf");
        }
        if leaves.iter().any(|l| l.len() != starts.len()) {
            return exec_err!("trace_gate reads leaves of another length than the starts");
        }
        let siblings = parents.map(|p| Siblings {
            parents: p.values(),
            pairs: &self.siblings,
        });
        let gated = gated(starts.values(), &leaves, &self.necessary, siblings);
        Ok(ColumnarValue::Array(Arc::new(gated)))
    }
}

/// Per row: whether it matches one of `leaves` (true, not null) and the run of equal `starts`
/// it lies in has a match of each leaf numbered in `necessary` and, with `siblings` (each
/// row's parent, and pairs of leaf numbers), two different spans of each pair of leaves with
/// one parent. Runs are found from the matches of the necessary leaf with the fewest, by
/// binary search in `starts`, which a row group keeps sorted; unsorted starts keep every row
/// that matches a leaf.
fn gated(
    starts: &[i64],
    leaves: &[&BooleanArray],
    necessary: &[usize],
    siblings: Option<Siblings>,
) -> BooleanArray {
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
        let siblings_hold = || {
            siblings.as_ref().is_none_or(|s| {
                let parents = &s.parents[first..end];
                (s.pairs.iter()).all(|&(a, b)| has_siblings(parents, &truths[a], &truths[b], first))
            })
        };
        if necessary.iter().all(|&j| has(&truths[j])) && siblings_hold() {
            complete.append_n(first - complete.len(), false);
            complete.append_n(end - first, true);
        }
    }
    complete.append_n(starts.len() - complete.len(), false);
    BooleanArray::new(&any & &complete.finish(), None)
}

/// What [`gated`] needs to look for siblings: each row's parent, and the pairs of leaves
/// whose spans must be siblings.
struct Siblings<'a> {
    parents: &'a [i32],
    pairs: &'a [(usize, usize)],
}

/// Whether two different rows of a run starting at row `first`, one where `a` holds and one
/// where `b` holds, have the same parent (`parents`: the run's).
fn has_siblings(parents: &[i32], a: &BooleanBuffer, b: &BooleanBuffer, first: usize) -> bool {
    // Per matching row: its parent, and whether it matches `a` and `b`.
    let mut members: Vec<(i32, bool, bool)> = (parents.iter().enumerate())
        .map(|(i, &parent)| (parent, a.value(first + i), b.value(first + i)))
        .filter(|&(_, in_a, in_b)| in_a || in_b)
        .collect();
    members.sort_unstable_by_key(|m| m.0);
    members.chunk_by(|x, y| x.0 == y.0).any(|children| {
        let count =
            |side: fn(&(i32, bool, bool)) -> bool| children.iter().filter(|m| side(m)).count();
        let (in_a, in_b) = (count(|m| m.1), count(|m| m.2));
        // One row matching both is not its own sibling.
        in_a > 0 && in_b > 0 && !(in_a == 1 && in_b == 1 && children.len() == 1)
    })
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
            let kept = gated(&starts, &[&a, &b, &c], necessary, None);
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
        let kept = gated(&[2, 1, 3], &[&a, &b], &[0, 1], None);
        let kept: Vec<bool> = kept.iter().map(|k| k == Some(true)).collect();
        assert_eq!(kept, [true, false, true]);
    }

    /// With a sibling pair, a run needs two different spans, one of each leaf, with one
    /// parent; one span matching both leaves is not its own sibling.
    #[test]
    fn a_run_needs_siblings_of_each_pair() {
        let t = Some(true);
        // Run 1: a and b under parent 7 (siblings). Run 2: a under 3, b under 4 (cousins).
        // Run 3: one span of both leaves. Run 4: that span and another of a, one parent.
        let starts = [1, 1, 1, 2, 2, 3, 4, 4];
        let parents = [7, 9, 7, 3, 4, 5, 6, 6];
        let a = BooleanArray::from(vec![t, None, None, t, None, t, t, t]);
        let b = BooleanArray::from(vec![None, None, t, None, t, t, t, None]);
        let kept = gated(
            &starts,
            &[&a, &b],
            &[0, 1],
            Some(Siblings {
                parents: &parents,
                pairs: &[(0, 1)],
            }),
        );
        let kept: Vec<bool> = kept.iter().map(|k| k == Some(true)).collect();
        assert_eq!(kept, [true, false, true, false, false, false, true, true]);
        let without = gated(&starts, &[&a, &b], &[0, 1], None);
        let without: Vec<bool> = without.iter().map(|k| k == Some(true)).collect();
        assert_eq!(without, [true, false, true, true, true, true, true, true]);
    }
}
