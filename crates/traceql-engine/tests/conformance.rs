//! Sections C–G of `shared/spec/conformance-notes.md` (and the divergences of section 10 of
//! the language spec) on small hand-built traces.

use std::sync::Arc;

use traceql_engine::search::{SearchRequest, search_traces};
use traceql_engine::{EngineError, response::SearchResponse};
use traceql_storage::model::{
    Event, KeyValue, Link, Resource, Span, SpanKind, StatusCode, Trace, Value,
};

/// A span with `id` (and trace ID `trace`), parent and attributes.
fn span(trace: u8, id: u8, parent: Option<u8>, attrs: &[(&str, Value)]) -> Span {
    Span {
        trace_id: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xab, trace],
        span_id: [0, 0, 0, 0, 0, 0, 0, id],
        parent_span_id: parent.map(|p| [0, 0, 0, 0, 0, 0, 0, p]),
        name: format!("span-{id}"),
        start_time_unix_nano: 1_000_000_000 * u64::from(trace) + u64::from(id),
        end_time_unix_nano: 1_000_000_000 * u64::from(trace) + u64::from(id) + 2_000_000,
        attributes: attrs
            .iter()
            .map(|(k, v)| KeyValue::new(*k, v.clone()))
            .collect(),
        resource: Arc::new(service("svc")),
        ..Span::default()
    }
}

fn service(name: &str) -> Resource {
    Resource {
        attributes: vec![KeyValue::new("service.name", s(name))],
        ..Resource::default()
    }
}

fn s(v: &str) -> Value {
    Value::String(v.to_string())
}

fn trace(spans: Vec<Span>) -> Trace {
    Trace {
        trace_id: spans[0].trace_id,
        spans,
    }
}

fn run(query: &str, traces: &[Trace]) -> Result<SearchResponse, EngineError> {
    let mut request = SearchRequest::new(query);
    request.spss = 100;
    request.limit = 1000;
    search_traces(traces.to_vec(), &request)
}

/// The matched span IDs (last byte) of each spanset of each returned trace.
fn spans_of(query: &str, traces: &[Trace]) -> Vec<Vec<u8>> {
    let response = run(query, traces).unwrap_or_else(|e| panic!("{query}: {e}"));
    response
        .traces
        .iter()
        .flat_map(|t| &t.span_sets)
        .map(|ss| {
            let mut ids: Vec<u8> = ss
                .spans
                .iter()
                .map(|s| u8::from_str_radix(&s.span_id[14..], 16).expect("hex"))
                .collect();
            ids.sort_unstable();
            ids
        })
        .collect()
}

/// The matched span IDs of a single-trace query, flattened.
fn matched(query: &str, traces: &[Trace]) -> Vec<u8> {
    let mut all: Vec<u8> = spans_of(query, traces).into_iter().flatten().collect();
    all.sort_unstable();
    all.dedup();
    all
}

// ---- C. nil / existence / arrays / IDs ---------------------------------------------------------

#[test]
fn c27_nil_means_absent() {
    let t = trace(vec![
        span(1, 1, None, &[("foo", s("x"))]),
        span(1, 2, Some(1), &[]),
        span(1, 3, Some(1), &[("foo", s(""))]),
    ]);
    assert_eq!(matched("{ span.foo = nil }", std::slice::from_ref(&t)), [2]);
    assert_eq!(
        matched("{ span.foo != nil }", std::slice::from_ref(&t)),
        [1, 3]
    );
    assert_eq!(
        matched("{ span.foo != `x` }", std::slice::from_ref(&t)),
        [3],
        "!= on a missing attribute is false"
    );
    assert_eq!(
        matched("{ span.foo != `x` || span.foo = nil }", &[t]),
        [2, 3]
    );
}

#[test]
fn c28_arrays() {
    let tags = Value::Array(vec![s("a"), s("b")]);
    let t = trace(vec![
        span(1, 1, None, &[("tags", tags)]),
        span(1, 2, Some(1), &[("tags", Value::Array(vec![]))]),
    ]);
    assert_eq!(matched("{ .tags = `a` }", std::slice::from_ref(&t)), [1]);
    assert_eq!(matched("{ .tags != `a` }", std::slice::from_ref(&t)), [2]);
    assert_eq!(
        matched("{ .tags != `c` }", std::slice::from_ref(&t)),
        [1, 2]
    );
    assert_eq!(matched("{ .tags =~ `b.*` }", std::slice::from_ref(&t)), [1]);
    assert_eq!(matched("{ .tags > `a` }", std::slice::from_ref(&t)), [1]);
    assert_eq!(matched("{ `a` < .tags }", std::slice::from_ref(&t)), [1]);
    assert_eq!(
        matched("{ .tags !~ `z.*` }", &[t]),
        [1, 2],
        "!~ on arrays: no element matches"
    );
}

#[test]
fn c29_or_of_equalities_on_an_array_is_any_element_in_the_set() {
    let t = trace(vec![span(
        1,
        1,
        None,
        &[("tags", Value::Array(vec![s("a"), s("b")]))],
    )]);
    assert_eq!(
        matched("{ .tags = `x` || .tags = `b` }", std::slice::from_ref(&t)),
        [1]
    );
    assert_eq!(matched("{ .tags != `x` && .tags != `y` }", &[t]), [1]);
    let err = run(
        "{ .arr + 1 = 2 }",
        &[trace(vec![span(
            1,
            1,
            None,
            &[("arr", Value::Array(vec![Value::Int(1)]))],
        )])],
    );
    assert!(
        matches!(err, Err(EngineError::Execution(_))),
        "arithmetic on arrays fails the query"
    );
}

#[test]
fn c30_id_formats() {
    let t = trace(vec![span(7, 1, None, &[])]);
    assert_eq!(
        matched("{ trace:id = `ab07` }", std::slice::from_ref(&t)),
        [1]
    );
    assert_eq!(
        matched(
            "{ trace:id = `00000000000000000000ab07` }",
            std::slice::from_ref(&t)
        ),
        [1],
        "leading zeros stripped"
    );
    assert_eq!(
        matched("{ span:id = `0000000000000001` }", std::slice::from_ref(&t)),
        [1]
    );
    assert_eq!(
        matched("{ span:id =~ `0+1` }", std::slice::from_ref(&t)),
        [1],
        "regex on IDs works (section 10)"
    );
    let r = run("{ }", &[t]).expect("search");
    assert_eq!(r.traces[0].trace_id, "ab07");
}

// ---- D. unscoped attributes ------------------------------------------------------------------------

#[test]
fn d31_d32_unscoped_span_shadows_resource() {
    let mut a = span(1, 1, None, &[("x", s("s"))]);
    a.resource = Arc::new(Resource {
        attributes: vec![
            KeyValue::new("service.name", s("svc")),
            KeyValue::new("x", s("r")),
        ],
        ..Resource::default()
    });
    let mut b = span(1, 2, Some(1), &[]);
    b.resource = Arc::clone(&a.resource);
    let mut c = span(1, 3, Some(1), &[]);
    c.events.push(Event {
        name: "e".into(),
        attributes: vec![KeyValue::new("x", s("e"))],
        ..Event::default()
    });
    let t = trace(vec![a, b, c]);
    assert_eq!(matched("{ .x = `s` }", std::slice::from_ref(&t)), [1]);
    assert_eq!(
        matched("{ .x = `r` }", std::slice::from_ref(&t)),
        [2],
        "span 1 shadows its resource"
    );
    assert_eq!(
        matched("{ .x = `e` }", std::slice::from_ref(&t)),
        Vec::<u8>::new(),
        "events are not unscoped"
    );
    assert_eq!(matched("{ event.x = `e` }", &[t]), [3]);
}

// ---- E. spansets, pipelines, aggregates ------------------------------------------------------------

fn ab_trace() -> Trace {
    trace(vec![
        span(1, 1, None, &[("a", Value::Bool(true))]),
        span(1, 2, Some(1), &[("b", Value::Bool(true))]),
        span(1, 3, Some(1), &[]),
    ])
}

#[test]
fn e33_e34_spanset_and_is_a_union_over_the_whole_trace() {
    assert_eq!(matched("{ .a } && { .b }", &[ab_trace()]), [1, 2]);
    assert!(matched("{ .a && .b }", &[ab_trace()]).is_empty());
    assert!(
        matched("{ .a } | { .b }", &[ab_trace()]).is_empty(),
        "a pipe filters the previous result"
    );
    let r = run("{ .a } && { .b }", &[ab_trace()]).expect("search");
    assert_eq!(r.traces[0].span_sets[0].matched, 2);
    assert_eq!(matched("{ .a } || { .nope }", &[ab_trace()]), [1]);
    assert!(matched("{ .a } && { .nope }", &[ab_trace()]).is_empty());
}

#[test]
fn e35_count_counts_the_current_spanset() {
    let t = trace(vec![
        span(1, 1, None, &[("code", Value::Int(200))]),
        span(1, 2, Some(1), &[("code", Value::Int(200))]),
        span(1, 3, Some(1), &[("code", Value::Int(500))]),
    ]);
    assert_eq!(
        matched("{ .code = 200 } | count() > 1", std::slice::from_ref(&t)),
        [1, 2]
    );
    assert!(matched("{ .code = 200 } | count() > 2", std::slice::from_ref(&t)).is_empty());
    assert_eq!(
        matched("{ } | count() > 2", std::slice::from_ref(&t)),
        [1, 2, 3]
    );
    let r = run("{ } | count() > 2", &[t]).expect("search");
    let attrs = serde_json::to_string(&r.traces[0].span_sets[0].attributes).expect("json");
    assert_eq!(attrs, r#"[{"key":"count()","value":{"intValue":"3"}}]"#);
}

#[test]
fn e36_e37_aggregates() {
    let t = trace(vec![
        span(1, 1, None, &[("n", Value::Int(1))]),
        span(1, 2, Some(1), &[("n", Value::Int(2))]),
        span(1, 3, Some(1), &[]),
    ]);
    assert!(
        matched("{ } | avg(span.bytes) < 100", std::slice::from_ref(&t)).is_empty(),
        "all nil drops the spanset"
    );
    assert!(matched("{ } | sum(span.bytes) >= 0", std::slice::from_ref(&t)).is_empty());
    assert_eq!(
        matched("{ } | sum(.n) = 3", std::slice::from_ref(&t)).len(),
        3
    );
    assert_eq!(
        matched("{ } | avg(.n) = 1.5", std::slice::from_ref(&t)).len(),
        3,
        "avg of ints is a float"
    );
    assert_eq!(
        matched("{ } | max(.n) = 2", std::slice::from_ref(&t)).len(),
        3
    );
    assert_eq!(
        matched("{ } | min(.n) < 1.5", std::slice::from_ref(&t)).len(),
        3
    );
    assert_eq!(
        matched("{ } | count() = 3.0", std::slice::from_ref(&t)).len(),
        3
    );
    // Durations: each span lasts 2 ms; avg(duration) stays a duration; `> 1` is one nanosecond.
    assert_eq!(
        matched("{ } | avg(duration) = 2ms", std::slice::from_ref(&t)).len(),
        3
    );
    assert_eq!(
        matched("{ } | max(duration) > 1", std::slice::from_ref(&t)).len(),
        3
    );
    let r = run("{ } | avg(duration) > 1ms", &[t]).expect("search");
    let attrs = serde_json::to_string(&r.traces[0].span_sets[0].attributes).expect("json");
    assert_eq!(
        attrs,
        r#"[{"key":"avg(duration)","value":{"stringValue":"2ms"}}]"#
    );
}

#[test]
fn e39_by_splits_spansets() {
    let mut spans = vec![
        span(1, 1, None, &[]),
        span(1, 2, Some(1), &[]),
        span(1, 3, Some(1), &[]),
        span(1, 4, Some(1), &[]),
    ];
    for (i, svc) in [(0, "a"), (1, "a"), (2, "b"), (3, "b")] {
        spans[i].resource = Arc::new(service(svc));
        spans[i].status_code = if i == 3 {
            StatusCode::Ok
        } else {
            StatusCode::Error
        };
    }
    let t = trace(spans);
    assert_eq!(
        spans_of(
            "{ status = error } | by(resource.service.name) | count() > 1",
            std::slice::from_ref(&t)
        ),
        [vec![1, 2]]
    );
    let groups = spans_of("{ } | by(resource.service.name)", std::slice::from_ref(&t));
    assert_eq!(groups, [vec![1, 2], vec![3, 4]]);
    let r = run(
        "{ } | by(resource.service.name) | count() > 1",
        std::slice::from_ref(&t),
    )
    .expect("search");
    let attrs = serde_json::to_string(&r.traces[0].span_sets[0].attributes).expect("json");
    assert_eq!(
        attrs,
        r#"[{"key":"by(resource.service.name)","value":{"stringValue":"a"}},{"key":"count()","value":{"intValue":"2"}}]"#
    );
    // Missing values form a nil group; int 1 and string "1" differ.
    let t2 = trace(vec![
        span(2, 1, None, &[("k", Value::Int(1))]),
        span(2, 2, Some(1), &[("k", s("1"))]),
        span(2, 3, Some(1), &[]),
    ]);
    assert_eq!(spans_of("{ } | by(.k)", &[t2]), [vec![1], vec![2], vec![3]]);
}

#[test]
fn e40_structural_operators_and_multiple_spansets() {
    let t = trace(vec![
        span(1, 1, None, &[("a", s("x")), ("b", Value::Bool(true))]),
        span(1, 2, Some(1), &[("a", s("y"))]),
        span(1, 3, Some(2), &[("b", Value::Bool(true))]),
    ]);
    // Inside each group the relation is evaluated per spanset: works.
    assert!(run("{ } | by(.a) | { } >> { .b }", std::slice::from_ref(&t)).is_ok());
    // An operand yielding several spansets fails the query.
    let e =
        run("({ } | by(.a)) >> ({ .b })", std::slice::from_ref(&t)).expect_err("multiple spansets");
    assert!(e.to_string().contains("consider using coalesce()"), "{e}");
    assert_eq!(
        matched("({ } | by(.a) | coalesce()) >> ({ .b })", &[t]),
        [3]
    );
}

#[test]
fn e41_select_never_filters_and_shows_bare_names() {
    let mut t = trace(vec![
        span(1, 1, None, &[("http.url", s("/a"))]),
        span(1, 2, Some(1), &[]),
    ]);
    t.spans[1].status_code = StatusCode::Error;
    assert_eq!(
        matched(
            "{ status = error } | select(span.http.url)",
            std::slice::from_ref(&t)
        ),
        matched("{ status = error }", std::slice::from_ref(&t))
    );
    let r = run("{ } | select(span.http.url)", &[t]).expect("search");
    let attrs = serde_json::to_string(&r.traces[0].span_sets[0].spans[0].attributes).expect("json");
    assert_eq!(
        attrs,
        r#"[{"key":"http.url","value":{"stringValue":"/a"}}]"#
    );
}

// ---- F. structural operators ---------------------------------------------------------------------

/// 1 ─┬─ 2 ─── 4
///    └─ 3
fn tree() -> Trace {
    trace(vec![
        span(1, 1, None, &[("svc", s("a"))]),
        span(1, 2, Some(1), &[("svc", s("b"))]),
        span(1, 3, Some(1), &[("svc", s("b"))]),
        span(1, 4, Some(2), &[("svc", s("c"))]),
    ])
}

#[test]
fn f42_to_f47_structural_semantics() {
    let t = [tree()];
    assert_eq!(
        matched("{ .svc = `a` } >> { .svc = `c` }", &t),
        [4],
        "returns the right side"
    );
    assert_eq!(matched("{ .svc = `a` } &>> { .svc = `c` }", &t), [1, 4]);
    assert_eq!(matched("{ .svc = `a` } > { }", &t), [2, 3]);
    assert_eq!(matched("{ .svc = `c` } < { }", &t), [2]);
    assert_eq!(matched("{ .svc = `c` } << { }", &t), [1, 2]);
    assert_eq!(
        matched("{ } ~ { }", &t),
        [2, 3],
        "a span is never its own sibling"
    );
    assert_eq!(
        matched("{ .svc = `b` } >> { .svc = `b` }", &t),
        Vec::<u8>::new()
    );
    assert_eq!(
        matched("{ .nope } !< { .svc = `b` }", &t),
        [2, 3],
        "negated with empty left: all right spans"
    );
    assert_eq!(matched("{ } !< { }", &t), [3, 4], "leaves");
    assert_eq!(matched("{ } !> { }", &t), [1], "roots");
    assert_eq!(matched("{ .svc = `a` } !>> { }", &t), [1]);
    assert_eq!(
        matched("{ .svc = `b` } !~ { .svc = `b` }", &t),
        Vec::<u8>::new()
    );
    assert_eq!(matched("{ .svc = `a` } &> { .svc = `b` }", &t), [1, 2, 3]);
    assert_eq!(matched("{ .svc = `c` } &< { }", &t), [2, 4]);
    assert_eq!(matched("{ .svc = `c` } &<< { }", &t), [1, 2, 4]);
    assert_eq!(matched("{ .svc = `b` } &~ { .svc = `b` }", &t), [2, 3]);
    // Chains are left-associative and re-evaluated on the whole trace.
    assert_eq!(
        matched("{ .svc = `a` } > { .svc = `b` } > { .svc = `c` }", &t),
        [4]
    );
    assert_eq!(
        matched("{ .svc = `b` } > { .svc = `b` } > { .svc = `c` }", &t),
        Vec::<u8>::new()
    );
    // Structural operators bind tighter than && (A.2).
    assert_eq!(
        matched("{ true } && { false } >> { .svc = `c` }", &t),
        Vec::<u8>::new()
    );
}

#[test]
fn f45_f46_orphans_and_multiple_roots() {
    // Two roots, and an orphan subtree (parent 9 never arrived).
    let t = [trace(vec![
        span(1, 1, None, &[]),
        span(1, 2, None, &[]),
        span(1, 3, Some(9), &[("x", Value::Bool(true))]),
        span(1, 4, Some(3), &[("x", Value::Bool(true))]),
    ])];
    assert_eq!(
        matched("{ } ~ { span:id = `0000000000000001` }", &t),
        [1],
        "roots are siblings"
    );
    assert_eq!(
        matched("{ .x } > { .x }", &t),
        [4],
        "relations inside an orphan subtree work (section 10)"
    );
    assert_eq!(
        matched("{ } !> { .x }", &t),
        [3],
        "the orphan's top has no parent"
    );
}

#[test]
fn f48_zipkin_shared_ids_and_three_way_collisions() {
    let mut client = span(1, 2, Some(1), &[]);
    client.kind = SpanKind::Client;
    let mut server = span(1, 2, Some(1), &[]);
    server.kind = SpanKind::Server;
    server.start_time_unix_nano += 1;
    let mut downstream = span(1, 3, Some(2), &[("d", Value::Bool(true))]);
    downstream.kind = SpanKind::Server;
    let internal = span(1, 4, Some(2), &[("i", Value::Bool(true))]);
    let t = [trace(vec![
        span(1, 1, None, &[]),
        client,
        server,
        downstream,
        internal,
    ])];
    assert_eq!(matched("{ kind = client } > { .d }", &t), [3]);
    assert_eq!(matched("{ kind = server } > { .i }", &t), [4]);
    // More than two spans sharing an ID: no structure at all.
    let t = [trace(vec![
        span(1, 1, None, &[]),
        span(1, 2, Some(1), &[]),
        span(1, 2, Some(1), &[]),
        span(1, 2, Some(1), &[]),
    ])];
    assert!(matched("{ } >> { }", &t).is_empty());
    assert_eq!(matched("{ } !>> { }", &t), [1, 2]);
}

// ---- G. search API behaviour ----------------------------------------------------------------------

#[test]
fn g49_spss_and_matched() {
    let spans: Vec<Span> = (1..=50)
        .map(|i| span(1, i, if i == 1 { None } else { Some(1) }, &[]))
        .collect();
    let mut request = SearchRequest::new("{ }");
    request.spss = 0;
    let r = search_traces(vec![trace(spans.clone())], &request).expect("search");
    assert_eq!(r.traces[0].span_sets[0].spans.len(), 3);
    assert_eq!(r.traces[0].span_sets[0].matched, 50);
    request.spss = 101;
    assert!(matches!(
        search_traces(vec![trace(spans)], &request),
        Err(EngineError::InvalidRequest(_))
    ));
}

#[test]
fn g50_newest_limit_traces_newest_first() {
    let traces: Vec<Trace> = (1..=10)
        .map(|t| trace(vec![span(t, 1, None, &[])]))
        .collect();
    let mut request = SearchRequest::new("{ }");
    request.limit = 3;
    let r = search_traces(traces, &request).expect("search");
    let ids: Vec<&str> = r.traces.iter().map(|t| t.trace_id.as_str()).collect();
    assert_eq!(ids, ["ab0a", "ab09", "ab08"]);
}

#[test]
fn g50_request_limits() {
    let check = |edit: &dyn Fn(&mut SearchRequest)| {
        let mut request = SearchRequest::new("{ }");
        edit(&mut request);
        search_traces(vec![], &request)
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    assert!(check(&|r| r.limit = 262_145).is_err());
    assert!(check(&|r| r.spss = 101).is_err());
    assert!(check(&|r| r.spss = 0).is_ok(), "0 means the default");
    let week = 168 * 3600;
    assert!(check(&|r| (r.start, r.end) = (Some(1_000), Some(1_000 + week))).is_ok());
    let err =
        check(&|r| (r.start, r.end) = (Some(1_000), Some(1_001 + week))).expect_err("too long");
    assert!(err.contains("longer than the maximum of 168h"), "{err}");
}

#[test]
fn g51_trace_level_intrinsics_are_on_every_span() {
    let t = [tree()];
    let r = run("{ trace:duration > 1ms }", &t).expect("search");
    assert_eq!(r.traces[0].span_sets[0].matched, 4);
    assert_eq!(
        matched("{ rootServiceName = `svc` && rootName = `span-1` }", &t),
        [1, 2, 3, 4]
    );
}

#[test]
fn g52_proto3_json_quirks() {
    // No root span, and a trace shorter than a millisecond.
    let mut orphan = span(1, 2, Some(1), &[]);
    orphan.end_time_unix_nano = orphan.start_time_unix_nano + 500;
    let r = run("{ }", &[trace(vec![orphan])]).expect("search");
    let json = r.to_json();
    assert!(
        json.contains(r#""rootServiceName":"<root span not yet received>""#),
        "{json}"
    );
    assert!(!json.contains("durationMs"), "{json}");
    assert!(!json.contains("rootTraceName"), "{json}");
    assert!(
        json.contains(r#""spanSet":{"#) && json.contains(r#""spanSets":[{"#),
        "{json}"
    );
    assert!(
        json.contains(r#""startTimeUnixNano":"1000000002""#),
        "{json}"
    );
    assert!(json.contains(r#""durationNanos":"500""#), "{json}");
}

// ---- Section 10 divergences and runtime errors ---------------------------------------------------

#[test]
fn divergences() {
    let t = trace(vec![
        span(
            1,
            1,
            None,
            &[
                ("n", Value::Int(3)),
                ("f", Value::Double(1.0)),
                ("flag", s("yes")),
            ],
        ),
        span(1, 2, Some(1), &[]),
    ]);
    let mut t = t;
    t.spans[1].status_code = StatusCode::Error;
    assert_eq!(
        matched("{ !(status = error) }", std::slice::from_ref(&t)),
        [1],
        "negation-only filters negate"
    );
    assert_eq!(
        matched("{ .n ^ 2 = 9 }", std::slice::from_ref(&t)),
        [1],
        "true integer power"
    );
    assert_eq!(
        matched("{ .f = 1 }", std::slice::from_ref(&t)),
        [1],
        "numeric comparison across stored types"
    );
    assert!(
        matched("{ !.flag }", std::slice::from_ref(&t)).is_empty(),
        "`!` on a string is no match, not an error"
    );
    assert!(matched("{ -.flag < 0 }", std::slice::from_ref(&t)).is_empty());
    assert!(
        matches!(
            run("{ .n / 0 > 1 }", std::slice::from_ref(&t)),
            Err(EngineError::Execution(_))
        ),
        "int division by zero fails"
    );
    assert!(
        run("{ 5.0 / 0.0 = 1.0 }", std::slice::from_ref(&t))
            .expect("float division is fine")
            .traces
            .is_empty()
    );
    assert!(
        run("{ false }", &[t])
            .expect("static false")
            .traces
            .is_empty()
    );
}

#[test]
fn events_and_links_match_existentially() {
    let mut a = span(1, 1, None, &[]);
    a.events = vec![
        Event {
            name: "retry".into(),
            time_unix_nano: a.start_time_unix_nano + 5,
            ..Event::default()
        },
        Event {
            name: "exception".into(),
            time_unix_nano: a.start_time_unix_nano + 10,
            ..Event::default()
        },
    ];
    a.links = vec![Link {
        trace_id: [9; 16],
        span_id: [1; 8],
        attributes: vec![KeyValue::new("k", s("v"))],
        ..Link::default()
    }];
    let t = [trace(vec![a, span(1, 2, Some(1), &[])])];
    assert_eq!(matched("{ event:name = `exception` }", &t), [1]);
    assert_eq!(
        matched(
            "{ event:name = `exception` && event:timeSinceStart = 10ns }",
            &t
        ),
        [1]
    );
    assert!(
        matched(
            "{ event:name = `exception` && event:timeSinceStart = 5ns }",
            &t
        )
        .is_empty(),
        "one event must satisfy both"
    );
    assert_eq!(
        matched("{ link.k = `v` && link:traceID =~ `9.*` }", &t),
        [1]
    );
    assert_eq!(matched("{ event:name != nil }", &t), [1]);
}
