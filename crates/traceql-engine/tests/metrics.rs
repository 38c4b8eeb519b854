//! Section H of the conformance notes: the interval model, empty buckets, units, labels,
//! second stages and arithmetic.

use std::sync::Arc;

use traceql_engine::metrics::{MetricsRequest, MetricsResult, metrics_traces};
use traceql_storage::model::{KeyValue, Resource, Span, StatusCode, Trace, Value};

const S: u64 = 1_000_000_000;

/// A one-span trace starting at `start` (nanoseconds) lasting `duration`.
fn span(n: u32, start: u64, duration: u64, service: &str, attrs: &[(&str, Value)]) -> Trace {
    let mut trace_id = [0u8; 16];
    trace_id[12..].copy_from_slice(&n.to_be_bytes());
    let span = Span {
        trace_id,
        span_id: [0, 0, 0, 0, 0, 0, 0, 1],
        name: format!("op-{}", n % 2),
        start_time_unix_nano: start,
        end_time_unix_nano: start + duration,
        attributes: attrs
            .iter()
            .map(|(k, v)| KeyValue::new(*k, v.clone()))
            .collect(),
        resource: Arc::new(Resource {
            attributes: vec![KeyValue::new("service.name", Value::String(service.into()))],
            ..Resource::default()
        }),
        ..Span::default()
    };
    Trace {
        trace_id,
        spans: vec![span],
    }
}

fn run(query: &str, traces: &[Trace], start: u64, end: u64, step: u64) -> MetricsResult {
    let mut request = MetricsRequest::range(query, start, end);
    request.step = Some(step);
    metrics_traces(traces.to_vec(), &request).unwrap_or_else(|e| panic!("{query}: {e}"))
}

fn json(r: &MetricsResult) -> serde_json::Value {
    serde_json::to_value(r.to_range()).expect("json")
}

#[test]
fn h53_intervals_are_right_closed_and_stamped_at_the_right_edge() {
    let traces = [
        span(1, 990 * S, 1, "a", &[]),
        span(2, 975 * S, 1, "a", &[]),
        span(3, 1050 * S + 1, 1, "a", &[]),
    ];
    let r = run(
        "{ } | count_over_time()",
        &traces,
        1000 * S,
        1060 * S,
        15 * S,
    );
    let j = json(&r);
    let samples = j["series"][0]["samples"].as_array().expect("samples");
    let stamps: Vec<&str> = samples
        .iter()
        .map(|s| s["timestampMs"].as_str().expect("ts"))
        .collect();
    assert_eq!(
        stamps,
        [
            "990000", "1005000", "1020000", "1035000", "1050000", "1065000"
        ]
    );
    assert_eq!(
        samples[0]["value"], 1,
        "the span at 990 s is in (975, 990]; the one at 975 s is out"
    );
    assert_eq!(samples[5]["value"], 1);
    assert!(
        samples[1].get("value").is_none(),
        "zero values have no `value` key"
    );
}

#[test]
fn h54_empty_buckets() {
    let traces = [span(1, 990 * S, 250_000_000, "a", &[])];
    let r = run(
        "{ } | avg_over_time(duration)",
        &traces,
        1000 * S,
        1060 * S,
        15 * S,
    );
    let j = json(&r);
    assert_eq!(
        j["series"][0]["samples"].as_array().expect("samples").len(),
        1,
        "value functions omit empty intervals"
    );
    let r = run(
        "{ } | quantile_over_time(duration, .5)",
        &traces,
        1000 * S,
        1060 * S,
        15 * S,
    );
    assert_eq!(r.series[0].values.len(), 6);
    assert_eq!(r.series[0].values[1], 0.0, "quantiles are 0 where empty");
}

#[test]
fn h55_rate_divides_by_the_step_and_instant_by_the_range() {
    let traces: Vec<Trace> = (0..30)
        .map(|i| span(i, 1000 * S + u64::from(i) * 100_000_000 + 1, 1, "a", &[]))
        .collect();
    let r = run("{ } | rate()", &traces, 1000 * S, 1015 * S, 15 * S);
    assert_eq!(r.series[0].values[1], 2.0);
    assert_eq!(json(&r)["series"][0]["labels"][0]["key"], "__name__");
    let traces: Vec<Trace> = (0..3600)
        .map(|i| span(i, 1000 * S + u64::from(i) * S + 1, 1, "a", &[]))
        .collect();
    let mut request = MetricsRequest::range("{ } | rate()", 1000 * S, 4600 * S);
    request.instant = true;
    let r = metrics_traces(traces, &request).expect("instant");
    let j = serde_json::to_value(r.to_instant()).expect("json");
    assert_eq!(j["series"][0]["value"], 1);
}

#[test]
fn h56_duration_is_seconds_only_for_the_duration_intrinsic() {
    let traces = [span(1, 1001 * S, 250_000_000, "a", &[])];
    let r = run(
        "{ } | max_over_time(duration)",
        &traces,
        1000 * S,
        1015 * S,
        15 * S,
    );
    assert_eq!(r.series[0].values[1], 0.25);
    let r = run(
        "{ } | max_over_time(trace:duration)",
        &traces,
        1000 * S,
        1015 * S,
        15 * S,
    );
    assert_eq!(r.series[0].values[1], 2.5e8);
    let r = run(
        "{ } | avg_over_time(duration) > 1s",
        &traces,
        1000 * S,
        1015 * S,
        15 * S,
    );
    assert!(r.series.is_empty(), "0.25 s is not above 1 s");
}

#[test]
fn h57_quantiles_carry_p() {
    let traces: Vec<Trace> = (0..3)
        .map(|i| span(i, 1001 * S, 100_000_000, "a", &[]))
        .collect();
    let r = run(
        "{ } | quantile_over_time(duration, .5)",
        &traces,
        1000 * S,
        1015 * S,
        15 * S,
    );
    let j = json(&r);
    assert_eq!(
        j["series"][0]["labels"],
        serde_json::json!([{"key": "p", "value": {"doubleValue": 0.5}}])
    );
    let v = r.series[0].values[1];
    assert!(v > 0.067 && v < 0.135 && (v - 0.1).abs() > 0.001, "{v}");
    let r = run(
        "{ } | histogram_over_time(duration)",
        &traces,
        1000 * S,
        1015 * S,
        15 * S,
    );
    let j = json(&r);
    assert_eq!(j["series"][0]["labels"][0]["key"], "__bucket");
    assert_eq!(
        j["series"][0]["labels"][0]["value"]["doubleValue"],
        0.134217728
    );
    assert_eq!(r.series[0].values[1], 3.0);
}

#[test]
fn h58_labels_use_canonical_names_and_drop_nils() {
    let traces = [
        span(1, 1001 * S, 1, "a", &[("foo", Value::String("x".into()))]),
        span(2, 1001 * S, 1, "a", &[]),
    ];
    let r = run(
        "{ } | rate() by (span:name, span.foo)",
        &traces,
        1000 * S,
        1015 * S,
        15 * S,
    );
    let keys: Vec<Vec<&str>> = r
        .series
        .iter()
        .map(|s| s.labels.iter().map(|l| l.key.as_str()).collect())
        .collect();
    assert_eq!(keys, [vec!["name"], vec!["name", "span.foo"]]);
    let r = run(
        "{ } | rate() by (span.nope, span.nada)",
        &traces,
        1000 * S,
        1015 * S,
        15 * S,
    );
    let j = json(&r);
    assert_eq!(
        j["series"][0]["labels"],
        serde_json::json!([{"key": "span.nope", "value": {"stringValue": "nil"}}])
    );
    let r = run(
        "{ } | rate() by (trace:rootService)",
        &traces,
        1000 * S,
        1015 * S,
        15 * S,
    );
    assert_eq!(r.series[0].labels[0].key, "rootServiceName");
}

#[test]
fn h59_h60_second_stages() {
    // Interval 1: a=3, b=2, c=1 spans; interval 2: c=3, b=2, a=1.
    let mut traces = Vec::new();
    let mut n = 0;
    for (slot, counts) in [(1u64, [3, 2, 1]), (2, [1, 2, 3])] {
        for (svc, count) in ["a", "b", "c"].iter().zip(counts) {
            for _ in 0..count {
                n += 1;
                traces.push(span(n, 1000 * S + (slot - 1) * 15 * S + 1, 1, svc, &[]));
            }
        }
    }
    let r = run(
        "{ } | count_over_time() by (resource.service.name) | topk(1)",
        &traces,
        1000 * S,
        1030 * S,
        15 * S,
    );
    assert_eq!(
        r.series.len(),
        2,
        "per timestamp: a wins the first interval, c the second"
    );
    let r = run(
        "{ } | count_over_time() by (resource.service.name) > 2",
        &traces,
        1000 * S,
        1030 * S,
        15 * S,
    );
    assert_eq!(r.series.len(), 2);
    let r = run(
        "{ } | count_over_time() by (resource.service.name) | bottomk(1) > 1",
        &traces,
        1000 * S,
        1030 * S,
        15 * S,
    );
    assert!(r.series.is_empty(), "the smallest is 1 in both intervals");
    let r = run(
        "{ } | count_over_time() by (resource.service.name) > 1 | bottomk(1)",
        &traces,
        1000 * S,
        1030 * S,
        15 * S,
    );
    assert!(!r.series.is_empty(), "order matters");
}

#[test]
fn h61_arithmetic() {
    let traces = [
        span(1, 1001 * S, 1, "a", &[]),
        span(2, 1001 * S, 1, "a", &[]),
        span(3, 1001 * S, 1, "b", &[]),
        span(4, 1001 * S, 1, "b", &[]),
    ];
    let mut errors = traces.clone();
    errors[0].spans[0].status_code = StatusCode::Error;
    let r = run(
        "({ status = error } | rate()) / ({ } | rate())",
        &errors,
        1000 * S,
        1015 * S,
        15 * S,
    );
    assert_eq!(r.series[0].values[1], 0.25);
    assert_eq!(
        r.series[0].labels[0].value,
        traceql_engine::value::Val::Str("(rate / rate)".into())
    );
    let r = run(
        "({ status = error } | count_over_time() by (resource.service.name)) / ({ } | count_over_time() by (resource.service.name))",
        &errors,
        1000 * S,
        1015 * S,
        15 * S,
    );
    assert_eq!(
        r.series.len(),
        1,
        "b has no error series to match, so it is dropped"
    );
    let r = run(
        "({ } | count_over_time() by (resource.service.name)) / ({ } | count_over_time())",
        &traces,
        1000 * S,
        1015 * S,
        15 * S,
    );
    assert_eq!(r.series.len(), 2, "an unlabeled side fans out");
    assert_eq!(r.series[0].values[1], 0.5);
    let r = run(
        "(1 / 2) + ({ } | count_over_time())",
        &traces,
        1000 * S,
        1015 * S,
        15 * S,
    );
    assert_eq!(r.series[0].values[1], 4.0, "1/2 is integer division");
    let r = run(
        "({ } | count_over_time()) * 10",
        &traces,
        1000 * S,
        1015 * S,
        15 * S,
    );
    assert_eq!(r.series[0].values[1], 40.0);
}

#[test]
fn structural_pipelines_feed_metrics() {
    let mut t = span(1, 1001 * S, 1, "a", &[]);
    let mut child = t.spans[0].clone();
    child.span_id = [0, 0, 0, 0, 0, 0, 0, 2];
    child.parent_span_id = Some([0, 0, 0, 0, 0, 0, 0, 1]);
    child.name = "child".into();
    t.spans.push(child);
    let r = run(
        "{ } > { } | rate() by (name)",
        &[t],
        1000 * S,
        1015 * S,
        15 * S,
    );
    assert_eq!(r.series.len(), 1);
    assert_eq!(
        r.series[0].labels[0].value,
        traceql_engine::value::Val::Str("child".into())
    );
}

#[test]
fn series_limit_and_bad_requests() {
    let traces: Vec<Trace> = (0..20)
        .map(|i| span(i, 1001 * S, 1, &format!("s{i}"), &[]))
        .collect();
    let mut request = MetricsRequest::range(
        "{ } | rate() by (resource.service.name)",
        1000 * S,
        1015 * S,
    );
    request.step = Some(15 * S);
    request.max_series = 5;
    let r = metrics_traces(traces.clone(), &request).expect("metrics");
    assert!(r.partial);
    let j = serde_json::to_value(r.to_range()).expect("json");
    assert_eq!(j["status"], "PARTIAL");
    assert_eq!(j["series"].as_array().expect("series").len(), 5);
    assert!(
        metrics_traces(traces.clone(), &MetricsRequest::range("{ }", 0, 10)).is_err(),
        "search query"
    );
    assert!(
        metrics_traces(traces, &MetricsRequest::range("{ } | rate()", 10, 10)).is_err(),
        "empty range"
    );
}

/// Under the series limit a response keeps the series first in response order, with the
/// values and exemplars they have without it, whatever order their spans come in; counts bound
/// their series as they go, other functions and arithmetic cut them at the end.
#[test]
fn the_series_limit_keeps_the_first_series_whole() {
    // Twenty services, first and last in response order alternating (s00, s19, s01, s18 …),
    // two spans each at different times.
    let traces: Vec<Trace> = (0..20u32)
        .map(|k| if k % 2 == 0 { k / 2 } else { 19 - k / 2 })
        .flat_map(|i| {
            let service = format!("s{i:02}");
            [
                span(i, 1001 * S + u64::from(i), S, &service, &[]),
                span(100 + i, 1008 * S, 2 * S, &service, &[]),
            ]
        })
        .collect();
    for query in [
        "{ } | rate() by (resource.service.name)",
        "{ } | count_over_time() by (resource.service.name)",
        "{ } | avg_over_time(duration) by (resource.service.name)",
        "({ } | rate() by (resource.service.name)) * 2",
    ] {
        let mut request = MetricsRequest::range(query, 1000 * S, 1015 * S);
        request.step = Some(5 * S);
        request.exemplars = 100;
        let whole = metrics_traces(traces.clone(), &request).expect("metrics");
        assert!(!whole.partial, "{query}");
        assert_eq!(whole.series.len(), 20, "{query}");
        request.max_series = 5;
        let cut = metrics_traces(traces.clone(), &request).expect("metrics");
        assert!(cut.partial, "{query}");
        // As JSON: values compare as the response shows them (no NaN for empty intervals).
        let first: Vec<serde_json::Value> =
            json(&whole)["series"].as_array().expect("series")[..5].to_vec();
        assert_eq!(json(&cut)["series"].as_array(), Some(&first), "{query}");
        // Exemplars are compared too (arithmetic leaves them out).
        let arithmetic = query.starts_with('(');
        assert_eq!(
            cut.series.iter().any(|s| !s.exemplars.is_empty()),
            !arithmetic,
            "{query}"
        );
    }
}

/// A trace of `spans` one-second spans starting at `start`, ids 1, 2, 3 …
fn trace_of(n: u32, start: u64, spans: u8) -> Trace {
    let mut trace = span(n, start, S, "a", &[]);
    let first = trace.spans[0].clone();
    for k in 2..=spans {
        let mut s = first.clone();
        s.span_id = [0, 0, 0, 0, 0, 0, 0, k];
        trace.spans.push(s);
    }
    trace
}

fn run_with(query: &str, traces: &[Trace], exemplars: usize) -> MetricsResult {
    let mut request = MetricsRequest::range(query, 1000 * S, 1060 * S);
    request.step = Some(15 * S);
    request.exemplars = exemplars;
    metrics_traces(traces.to_vec(), &request).unwrap_or_else(|e| panic!("{query}: {e}"))
}

fn label<'a>(e: &'a serde_json::Value, key: &str) -> Option<&'a serde_json::Value> {
    e["labels"]
        .as_array()?
        .iter()
        .find(|l| l["key"] == key)
        .map(|l| &l["value"])
}

#[test]
fn h64_exemplars_one_per_trace_valued_by_their_interval() {
    let traces: Vec<Trace> = (0..6)
        .map(|n| trace_of(n, (1001 + 10 * u64::from(n)) * S, 3))
        .collect();
    let j = json(&run_with("{ } | count_over_time()", &traces, 100));
    let series = &j["series"][0];
    let exemplars = series["exemplars"].as_array().expect("exemplars");
    assert_eq!(exemplars.len(), 6, "one per trace: {exemplars:?}");
    let mut trace_ids: Vec<&str> = exemplars
        .iter()
        .map(|e| {
            label(e, "trace:id").expect("trace:id")["stringValue"]
                .as_str()
                .expect("hex")
        })
        .collect();
    trace_ids.sort_unstable();
    trace_ids.dedup();
    assert_eq!(trace_ids.len(), 6);
    let stamps: Vec<u64> = exemplars
        .iter()
        .map(|e| e["timestampMs"].as_str().expect("ms").parse().expect("int"))
        .collect();
    assert!(stamps.is_sorted(), "{stamps:?}");
    // A count exemplar carries the count of its interval: 3 spans per trace, and the intervals
    // (990, 1005] … hold one or two traces.
    for e in exemplars {
        let ms: u64 = e["timestampMs"].as_str().expect("ms").parse().expect("int");
        let sample = series["samples"]
            .as_array()
            .expect("samples")
            .iter()
            .find(|s| {
                let edge: u64 = s["timestampMs"].as_str().expect("ms").parse().expect("int");
                edge >= ms && edge - ms < 15_000
            })
            .expect("the exemplar's interval");
        assert_eq!(e["value"], sample["value"]);
        assert!(label(e, "span:id").is_some());
    }
}

#[test]
fn h64_exemplars_are_spread_and_limited() {
    // Twenty traces in the first seconds: the range has `limit / 2` slices of at most two.
    let crowded: Vec<Trace> = (0..20).map(|n| trace_of(n, 1001 * S, 1)).collect();
    let r = run_with("{ } | count_over_time()", &crowded, 10);
    assert_eq!(r.series[0].exemplars.len(), 2);
    // Spread over the range, the limit holds.
    let spread: Vec<Trace> = (0..60)
        .map(|n| trace_of(n, (1000 + u64::from(n)) * S, 1))
        .collect();
    let r = run_with("{ } | count_over_time()", &spread, 10);
    assert!(
        (6..=10).contains(&r.series[0].exemplars.len()),
        "{:?}",
        r.series[0].exemplars.len()
    );
    // A hint asks for fewer, or none.
    let r = run_with("{ } | count_over_time() with(exemplars=1)", &spread, 10);
    assert_eq!(r.series[0].exemplars.len(), 1);
    let r = run_with("{ } | count_over_time() with(exemplars=false)", &spread, 10);
    assert!(r.series[0].exemplars.is_empty());
    assert!(json(&r)["series"][0].get("exemplars").is_none());
    // Instant queries have none.
    let mut request = MetricsRequest::range("{ } | count_over_time()", 1000 * S, 1060 * S);
    request.instant = true;
    let r = metrics_traces(spread, &request).expect("instant");
    assert!(r.series[0].exemplars.is_empty());
}

#[test]
fn h64_value_exemplars_carry_the_measured_attribute() {
    let traces = [
        span(1, 1001 * S, 2 * S, "a", &[]),
        span(2, 1020 * S, S / 2, "b", &[]),
    ];
    let r = run_with(
        "{ } | avg_over_time(duration) by (resource.service.name)",
        &traces,
        100,
    );
    let j = json(&r);
    for (series, seconds, service) in [(&j["series"][0], 2.0, "a"), (&j["series"][1], 0.5, "b")] {
        let e = &series["exemplars"][0];
        assert_eq!(e["value"], seconds, "{e}");
        assert_eq!(
            label(e, "resource.service.name").expect("group label")["stringValue"],
            service
        );
        assert!(label(e, "duration").is_some(), "{e}");
    }
    // A comparison stage filters exemplars with the same test.
    let r = run_with(
        "{ } | avg_over_time(duration) by (resource.service.name) > 1",
        &traces,
        100,
    );
    assert_eq!(r.series.len(), 1);
    assert_eq!(r.series[0].exemplars.len(), 1);
    assert_eq!(r.series[0].exemplars[0].value, 2.0);
    // Arithmetic results carry none.
    let r = run_with("({ } | count_over_time()) * 2", &traces, 100);
    assert!(r.series.iter().all(|s| s.exemplars.is_empty()));
}

#[test]
fn sampling_hints_scale_counts_and_sums_by_the_inverse_probability() {
    // 2,000 traces of two spans lasting 1 s each, all in one interval.
    let traces: Vec<Trace> = (0..2000).map(|n| trace_of(n, 1001 * S, 2)).collect();
    let value = |query: &str| {
        let r = run_with(query, &traces, 0);
        let v: Vec<f64> = r.series[0]
            .values
            .iter()
            .copied()
            .filter(|v| !v.is_nan())
            .collect();
        v.iter().copied().sum::<f64>()
    };
    assert_eq!(value("{ } | count_over_time()"), 4000.0);
    for hint in ["trace_sample=0.25", "span_sample=0.25", "sample=0.25"] {
        let count = value(&format!("{{ }} | count_over_time() with({hint})"));
        assert!((3400.0..4600.0).contains(&count), "{hint}: {count}");
        assert_eq!(count % 4.0, 0.0, "{hint}: each kept span stands for four");
        let sum = value(&format!("{{ }} | sum_over_time(duration) with({hint})"));
        assert_eq!(sum, count, "{hint}: one second per span");
        // Minimums and averages are not scaled.
        let min = value(&format!("{{ }} | min_over_time(duration) with({hint})"));
        assert_eq!(min, 1.0, "{hint}");
        let avg = value(&format!("{{ }} | avg_over_time(duration) with({hint})"));
        assert_eq!(avg, 1.0, "{hint}");
    }
    // Trace sampling keeps whole traces: every kept trace adds both of its spans.
    let by_trace = value("{ } | count_over_time() with(trace_sample=0.25)");
    assert_eq!(by_trace % 8.0, 0.0, "{by_trace}");
}

#[test]
fn compare_counts_values_of_the_selection_and_the_baseline() {
    let mut traces = vec![
        span(1, 1001 * S, S, "a", &[]),
        span(2, 1002 * S, S, "b", &[]),
        span(3, 1003 * S, S, "b", &[]),
        span(4, 1004 * S, S, "c", &[]),
    ];
    traces[0].spans[0].status_code = StatusCode::Error;
    let total = |r: &MetricsResult, labels: &[(&str, &str)]| -> Option<f64> {
        r.series
            .iter()
            .find(|s| {
                s.labels.len() == labels.len()
                    && s.labels.iter().zip(labels).all(|(l, (k, v))| {
                        l.key == *k
                            && serde_json::to_value(traceql_engine::response::AnyValue::from_val(
                                &l.value,
                            ))
                            .expect("json")["stringValue"]
                                == *v
                    })
            })
            .map(|s| s.values.iter().filter(|v| !v.is_nan()).sum())
    };
    let service = "resource.service.name";
    let r = run_with("{ } | compare({ status = error }, 1)", &traces, 0);
    assert_eq!(
        total(&r, &[("__meta_type", "selection"), (service, "a")]),
        Some(1.0)
    );
    assert_eq!(
        total(&r, &[("__meta_type", "baseline"), (service, "b")]),
        Some(2.0)
    );
    // topN = 1: `c` is left out of the baseline and the attribute is flagged.
    assert_eq!(
        total(&r, &[("__meta_type", "baseline"), (service, "c")]),
        None
    );
    assert_eq!(
        total(
            &r,
            &[("__meta_error", "__too_many_values__"), (service, "nil")]
        ),
        Some(0.0)
    );
    assert_eq!(
        total(&r, &[("__meta_type", "selection_total"), (service, "nil")]),
        Some(1.0)
    );
    assert_eq!(
        total(&r, &[("__meta_type", "baseline_total"), (service, "nil")]),
        Some(3.0)
    );
    assert_eq!(
        total(&r, &[("__meta_type", "selection"), ("status", "error")]),
        Some(1.0)
    );
    // A window that leaves the error span out makes every span baseline.
    let r = run_with("{ } | compare({ status = error }, 10, 0, 1)", &traces, 0);
    assert!(
        r.series
            .iter()
            .all(|s| s.labels[0].value != traceql_engine::value::Val::Str("selection".into()))
    );
    assert_eq!(
        total(&r, &[("__meta_type", "baseline_total"), (service, "nil")]),
        Some(4.0)
    );
    assert_eq!(
        total(&r, &[("__meta_type", "baseline"), (service, "c")]),
        Some(1.0)
    );
}

#[test]
fn ranges_are_limited_and_end_before_now() {
    let traces = vec![span(1, 1001 * S, S, "a", &[])];
    let request = MetricsRequest::range("{ } | count_over_time()", S, 25 * 3600 * S);
    let err = metrics_traces(traces.clone(), &request)
        .expect_err("too long")
        .to_string();
    assert!(err.contains("longer than the maximum of 24h0m0s"), "{err}");
    // An end past the cutoff is clamped and re-aligned down to a step.
    let mut request = MetricsRequest::range("{ } | count_over_time()", 1000 * S, 1060 * S);
    request.step = Some(15 * S);
    request.end_cutoff = Some(1032 * S);
    let r = metrics_traces(traces.clone(), &request).expect("clamped");
    assert_eq!(r.intervals.end, 1020 * S);
    assert_eq!(
        r.series[0].values.len(),
        3,
        "(975, 990] (990, 1005] (1005, 1020]"
    );
    request.instant = true;
    let r = metrics_traces(traces.clone(), &request).expect("instant");
    assert_eq!(r.intervals.end, 1032 * S);
    // A range that ends entirely after the cutoff is an error.
    request.instant = false;
    request.end_cutoff = Some(970 * S);
    let err = metrics_traces(traces, &request)
        .expect_err("too recent")
        .to_string();
    assert!(err.contains("must end before now"), "{err}");
}

#[test]
fn extrapolate_weighs_spans_by_their_recorded_sampling() {
    // Two spans sampled at 50% (`th:8`) lasting 1 s, one unsampled span lasting 4 s.
    let mut traces = vec![
        span(1, 1001 * S, S, "a", &[]),
        span(2, 1002 * S, S, "a", &[]),
        span(3, 1003 * S, 4 * S, "a", &[]),
    ];
    for t in &mut traces[..2] {
        t.spans[0].trace_state = "ot=th:8".into();
    }
    let value = |query: &str| -> f64 {
        let r = run_with(query, &traces, 0);
        r.series[0]
            .values
            .iter()
            .copied()
            .filter(|v| !v.is_nan())
            .sum()
    };
    assert_eq!(value("{ } | count_over_time()"), 3.0);
    assert_eq!(value("{ } | count_over_time() with(extrapolate=true)"), 5.0);
    assert_eq!(
        value("{ } | sum_over_time(duration) with(extrapolate=true)"),
        8.0
    );
    // A weighted average: (2·1 s + 2·1 s + 1·4 s) / 5, where the plain one is 6 s / 3.
    assert_eq!(
        value("{ } | avg_over_time(duration) with(extrapolate=true)"),
        1.6
    );
    assert_eq!(value("{ } | avg_over_time(duration)"), 2.0);
    assert_eq!(
        value("{ } | min_over_time(duration) with(extrapolate=true)"),
        1.0
    );
    assert_eq!(
        value("{ } | count_over_time() with(extrapolate=false)"),
        3.0
    );
}
