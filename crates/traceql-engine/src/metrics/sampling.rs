//! Sampling hints: `with(sample=…)`, `with(span_sample=p)`, `with(trace_sample=p)`, and
//! `with(extrapolate=true)`.
//!
//! A sampled query reads a fixed fraction of the spans or traces, chosen by hashing their IDs
//! (so the same query picks the same data every time), and scales counts and sums by the inverse
//! of that fraction. Minimums, maximums, averages and quantiles need no scaling. Extrapolation
//! instead weighs each span by the sampling its own `tracestate` records, for data that was
//! sampled before it was stored.
//!
//! The columnar path makes the same choice in its scan: [`Sampling::kept`] is a predicate on
//! the trace and span ID columns.

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, BooleanArray, FixedSizeBinaryArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result as DfResult, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::prelude::{Expr, ident};
use traceql_storage::model::{SpanId, TraceId};
use traceql_storage::schema::col;
use traceql_syntax::ast::{Pipeline, Query, SpansetExpr, Stage, Static};

/// What a sampled query keeps.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Sampling {
    /// Every span.
    Exact,
    /// Each span with this probability.
    Spans(f64),
    /// Each trace, with all its spans, with this probability.
    Traces(f64),
}

impl Sampling {
    /// The sampling the hints of `query` ask for; `pipeline` decides what `sample=p` samples:
    /// spans when it is a single filter, whole traces otherwise (structural operators and
    /// aggregates need whole traces). `sample=true` runs exactly: every probability is a valid
    /// adaptive choice, and exact results are the most accurate one. Hints with a value of the
    /// wrong type or outside (0, 1) are ignored.
    pub(super) fn from_hints(query: &Query, pipeline: &Pipeline) -> Sampling {
        let fraction = |name: &str| match query.hint(name) {
            Some(Static::Float(p)) if *p > 0.0 && *p < 1.0 => Some(*p),
            _ => None,
        };
        if let Some(p) = fraction("span_sample") {
            return Sampling::Spans(p);
        }
        if let Some(p) = fraction("trace_sample") {
            return Sampling::Traces(p);
        }
        match fraction("sample") {
            Some(p) if is_single_filter(pipeline) => Sampling::Spans(p),
            Some(p) => Sampling::Traces(p),
            None => Sampling::Exact,
        }
    }

    /// What each kept span stands for.
    pub(super) fn weight(self) -> f64 {
        match self {
            Sampling::Exact => 1.0,
            Sampling::Spans(p) | Sampling::Traces(p) => 1.0 / p,
        }
    }

    /// True when the trace is read.
    pub(super) fn keeps_trace(self, trace_id: &TraceId) -> bool {
        match self {
            Sampling::Traces(p) => below(hash(trace_id, 0), p),
            _ => true,
        }
    }

    /// True when the span, which the query selected, is counted.
    pub(super) fn keeps_span(self, trace_id: &TraceId, span_id: &SpanId) -> bool {
        match self {
            Sampling::Spans(p) => below(hash(span_id, hash(trace_id, 0)), p),
            _ => true,
        }
    }
}

impl Sampling {
    /// A predicate on a block's rows that holds for the spans this sampling keeps, as
    /// [`Sampling::keeps_trace`] and [`Sampling::keeps_span`] decide; `None` when it keeps
    /// every span.
    pub(super) fn kept(self) -> Option<Expr> {
        let (p, args) = match self {
            Sampling::Exact => return None,
            Sampling::Traces(p) => (p, vec![ident(col::TRACE_ID)]),
            Sampling::Spans(p) => (p, vec![ident(col::TRACE_ID), ident(col::SPAN_ID)]),
        };
        let function = Kept {
            spans: matches!(self, Sampling::Spans(_)),
            probability_bits: p.to_bits(),
            signature: Signature::any(args.len(), Volatility::Immutable),
        };
        Some(ScalarUDF::from(function).call(args))
    }
}

/// The scalar function behind [`Sampling::kept`]: trace IDs (and span IDs, when sampling
/// spans) in, whether the row is kept out.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Kept {
    /// Spans are sampled (else traces).
    spans: bool,
    /// The probability's bits (a float is neither `Eq` nor `Hash`).
    probability_bits: u64,
    signature: Signature,
}

impl ScalarUDFImpl for Kept {
    fn name(&self) -> &str {
        match self.spans {
            true => "sampled_span",
            false => "sampled_trace",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> DfResult<DataType> {
        Ok(DataType::Boolean)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let rows = args.number_rows;
        let ids: Vec<Arc<dyn Array>> = (args.args.iter())
            .map(|a| a.to_array(rows))
            .collect::<DfResult<_>>()?;
        let binary = |i: usize| -> DfResult<&FixedSizeBinaryArray> {
            match ids.get(i).and_then(|a| a.as_fixed_size_binary_opt()) {
                Some(a) => Ok(a),
                None => exec_err!("{} reads fixed-size binary IDs", self.name()),
            }
        };
        let p = f64::from_bits(self.probability_bits);
        let traces = binary(0)?;
        let kept: BooleanArray = match self.spans {
            false => (0..rows)
                .map(|row| Some(below(hash(traces.value(row), 0), p)))
                .collect(),
            true => {
                let spans = binary(1)?;
                (0..rows)
                    .map(|row| {
                        let trace = hash(traces.value(row), 0);
                        Some(below(hash(spans.value(row), trace), p))
                    })
                    .collect()
            }
        };
        Ok(ColumnarValue::Array(Arc::new(kept)))
    }
}

/// What a span stands for under `with(extrapolate=true)`: the inverse of the sampling
/// probability its W3C `tracestate` records as an OpenTelemetry threshold (`ot=th:…`, up to 14
/// hex digits, trailing zeros dropped, rejecting that fraction of 2^56). 1 when the span carries
/// no threshold or an invalid one.
pub(super) fn tracestate_weight(trace_state: &str) -> f64 {
    const FULL: f64 = (1u64 << 56) as f64;
    let threshold = trace_state
        .split(',')
        .filter_map(|member| member.trim().strip_prefix("ot="))
        .flat_map(|ot| ot.split(';'))
        .find_map(|field| field.strip_prefix("th:"))
        .filter(|th| !th.is_empty() && th.len() <= 14)
        .and_then(|th| u64::from_str_radix(&format!("{th:0<14}"), 16).ok());
    match threshold {
        Some(t) if (t as f64) < FULL => FULL / (FULL - t as f64),
        _ => 1.0,
    }
}

fn is_single_filter(pipeline: &Pipeline) -> bool {
    matches!(
        pipeline.stages.as_slice(),
        [Stage::Spanset(SpansetExpr::Filter(_))]
    )
}

/// FNV-1a over `bytes`, continuing from `seed` (0 starts afresh), finished with a mixer so the
/// top bits are uniform.
pub(super) fn hash(bytes: &[u8], seed: u64) -> u64 {
    let start = if seed == 0 {
        0xcbf2_9ce4_8422_2325
    } else {
        seed
    };
    let mut h = bytes.iter().fold(start, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    });
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^ (h >> 33)
}

fn below(hash: u64, p: f64) -> bool {
    (hash as f64 / u64::MAX as f64) < p
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sampling(query: &str) -> Sampling {
        let q = traceql_syntax::parse(query).expect("valid");
        let traceql_syntax::ast::QueryBody::Metrics(m) = &q.body else {
            panic!("metrics query");
        };
        let mut pipelines = Vec::new();
        m.expr
            .visit_pipelines(&mut |p| pipelines.push(p.pipeline.clone()));
        Sampling::from_hints(&q, &pipelines[0])
    }

    #[test]
    fn hints_choose_the_sampling() {
        assert_eq!(sampling("{ } | rate()"), Sampling::Exact);
        assert_eq!(sampling("{ } | rate() with(sample=true)"), Sampling::Exact);
        assert_eq!(
            sampling("{ } | rate() with(sample=0.1)"),
            Sampling::Spans(0.1)
        );
        assert_eq!(
            sampling("{ } >> { } | rate() with(sample=0.1)"),
            Sampling::Traces(0.1)
        );
        assert_eq!(
            sampling("{ } | rate() with(trace_sample=0.5)"),
            Sampling::Traces(0.5)
        );
        assert_eq!(
            sampling("{ } | rate() with(span_sample=0.25)"),
            Sampling::Spans(0.25)
        );
        // Wrong types and out-of-range fractions are ignored.
        assert_eq!(
            sampling("{ } | rate() with(span_sample=1)"),
            Sampling::Exact
        );
        assert_eq!(
            sampling("{ } | rate() with(trace_sample=1.5)"),
            Sampling::Exact
        );
    }

    #[test]
    fn tracestate_thresholds_give_the_inverse_probability() {
        assert_eq!(tracestate_weight(""), 1.0);
        assert_eq!(tracestate_weight("ot=th:0"), 1.0);
        assert_eq!(tracestate_weight("ot=th:8"), 2.0);
        assert_eq!(tracestate_weight("vendor=x,ot=rv:1234;th:c"), 4.0);
        assert_eq!(tracestate_weight("ot=th:zz"), 1.0);
        assert_eq!(tracestate_weight("ot=th:123456789abcdef0"), 1.0, "too long");
    }

    #[test]
    fn the_kept_fraction_is_close_to_the_probability() {
        let kept = (0..10_000u32)
            .filter(|n| {
                let mut id = [0u8; 16];
                id[12..].copy_from_slice(&n.to_be_bytes());
                Sampling::Traces(0.2).keeps_trace(&id)
            })
            .count();
        assert!((1_800..2_200).contains(&kept), "{kept}");
    }
}
