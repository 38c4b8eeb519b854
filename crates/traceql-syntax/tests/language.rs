//! The grammar and validation rules of sections 1–7 of `shared/spec/traceql-language.md`
//! that the conformance items do not already cover, and the metrics items of section H that
//! concern parsing (H.58, H.61–H.63).

use traceql_syntax::ErrorKind::{Parse, Unsupported, Validation};
use traceql_syntax::ast::{
    ALL_INTRINSICS, ALL_SPANSET_OPS, Intrinsic, MetricsExpr, MetricsFunctionKind, QueryBody,
    SecondStageKind, Static,
};
use traceql_syntax::test_utils::{fails, parses_to, verified};
use traceql_syntax::{parse, parse_syntax};

#[test]
fn every_spanset_operator_parses_and_prints() {
    for op in ALL_SPANSET_OPS {
        verified(&format!("{{ .a }} {op} {{ .b }}"));
        verified(&format!("({{ .a }}|count() > 1) {op} ({{ .b }})"));
    }
    // Longest match: `!<<` is one operator, `&>>` too.
    parses_to("{ .a }!<<{ .b }", "{ .a } !<< { .b }");
    parses_to("{ .a }&>>{ .b }", "{ .a } &>> { .b }");
}

#[test]
fn every_intrinsic_prints_its_canonical_name_and_reparses() {
    for i in ALL_INTRINSICS {
        let q = format!("{{ {} != nil }}", i.canonical_name());
        let ast = parse_syntax(&q).unwrap_or_else(|e| panic!("{q}: {e}"));
        assert_eq!(ast.to_string(), q);
    }
    let scoped = [
        ("span:duration", "duration"),
        ("span:name", "name"),
        ("span:status", "status"),
        ("span:statusMessage", "statusMessage"),
        ("span:kind", "kind"),
        ("trace:rootName", "rootName"),
        ("trace:rootService", "rootServiceName"),
        ("trace:duration", "traceDuration"),
        ("span:id", "span:id"),
        ("span:parentID", "span:parentID"),
        ("event:name", "event:name"),
        ("event:timeSinceStart", "event:timeSinceStart"),
        ("link:traceID", "link:traceID"),
        ("link:spanID", "link:spanID"),
        ("instrumentation:name", "instrumentation:name"),
        ("instrumentation:version", "instrumentation:version"),
    ];
    for (written, canonical) in scoped {
        parses_to(
            &format!("{{ {written} != nil }}"),
            &format!("{{ {canonical} != nil }}"),
        );
    }
    assert_eq!(
        Intrinsic::TraceRootService.canonical_name(),
        "rootServiceName"
    );
}

#[test]
fn intrinsic_types_are_checked() {
    verified("{ span:childCount > 2 }");
    verified("{ event:timeSinceStart > 1ms }");
    verified("{ traceDuration > 5s }");
    verified("{ span:id = `0000000000000001` }");
    fails("{ span:childCount = `x` }", Validation);
    fails("{ duration = `1s` }", Validation);
    fails("{ name > 5 }", Validation);
    fails("{ kind = ok }", Validation);
}

#[test]
fn all_scopes_parse() {
    for prefix in [
        "span.",
        "resource.",
        "event.",
        "link.",
        "instrumentation.",
        ".",
    ] {
        verified(&format!("{{ {prefix}x = 1 }}"));
    }
    for q in [
        "{ . }",
        "{ span. }",
        "{ . foo }",
        "{ span .foo = 1 }",
        "{ trace.x = 1 }",
    ] {
        fails(q, Parse);
    }
}

#[test]
fn parent_forms_parse_but_are_unsupported() {
    for q in [
        "{ parent.x = 1 }",
        "{ parent.span.x = 1 }",
        "{ parent.resource.x = 1 }",
        "{ parent != nil }",
    ] {
        fails(q, Unsupported);
    }
    fails("{ parent = nil }", Validation);
    // A parent-scoped name that looks like a scope prefix keeps its quotes.
    let ast = parse_syntax(r#"{ parent."span.x" = 1 }"#).expect("parses");
    assert_eq!(ast.to_string(), r#"{ parent."span.x" = 1 }"#);
}

#[test]
fn strings_decode_go_escapes_and_print_back_quoted() {
    parses_to(r#"{ .a = "\u00e9\x41\101" }"#, "{ .a = `éAA` }");
    parses_to("{ .a = `raw \\n` }", "{ .a = `raw \\n` }");
    parses_to(r#"{ .a = "back`tick" }"#, r#"{ .a = "back`tick" }"#);
    for q in [
        r#"{ .a = "\q" }"#,
        r#"{ .a = "\xff" }"#,
        r#"{ .a = "open }"#,
        "{ .a = `open }",
    ] {
        fails(q, Parse);
    }
    assert!(fails(r#"{ .a = "open }"#, Parse).contains("not terminated"));
}

#[test]
fn numbers() {
    verified("{ .a = 9223372036854775807 }");
    fails("{ .a = 9223372036854775808 }", Parse);
    parses_to(
        "{ .a = -9223372036854775807 }",
        "{ .a = -9223372036854775807 }",
    );
    parses_to("{ .a = minInt }", "{ .a = minInt }");
    parses_to("{ .a = maxInt }", "{ .a = 9223372036854775807 }");
    parses_to("{ .a = 1e3 }", "{ .a = 1000.0 }");
    parses_to("{ .a = 1.5e-3 }", "{ .a = 0.0015 }");
    parses_to("{ .a = 1. }", "{ .a = 1.0 }");
    for q in [
        "{ .a = 0x10 }",
        "{ .a = 1_000 }",
        "{ .a = 0o7 }",
        "{ .a = 1e999 }",
    ] {
        fails(q, Parse);
    }
}

#[test]
fn prefix_operators_follow_tempo_precedence() {
    parses_to("{ -.a * .b > 0 }", "{ (-(.a * .b)) > 0 }");
    parses_to("{ -.a + .b > 0 }", "{ ((-.a) + .b) > 0 }");
    parses_to("{ !.a = .b }", "{ (!.a) = .b }");
    parses_to("{ !.a && .b }", "{ (!.a) && .b }");
    parses_to("{ .a = .b = .c }", "{ (.a = .b) = .c }");
    parses_to("{ -5 / .a > 0 }", "{ (-(5 / .a)) > 0 }");
    parses_to("{ (-5) / .a > 0 }", "{ ((-5) / .a) > 0 }");
    parses_to("{ .a * -.b > 0 }", "{ (.a * -.b) > 0 }");
    parses_to("{ - -.a > 0 }", "{ (--.a) > 0 }");
    parses_to("{ !!!.a }", "{ !!!.a }");
}

#[test]
fn pipelines() {
    verified("{ status = error }|by(resource.service.name)|count() > 1");
    verified("{ true }|by(.a)|{ true } >> { .b }");
    verified("{ true }|by(.a)|coalesce()");
    verified("{ status = error }|select(span.http.url, name, resource.x)");
    verified("select(.a)");
    verified("count() = 1|{ true }");
    verified("by(.a)|{ true }");
    verified("{ true }|avg(duration) > 1s|max(.a) < 3|min(span:childCount) >= 1|sum(.b) != 2");
    fails("by(.a, .b)", Parse);
    fails("{ } | by()", Parse);
    fails("{ } | select()", Parse);
    fails("{ } | select(.a + 1)", Parse);
    fails("coalesce()", Parse);
    fails("{ } | coalesce(.a)", Parse);
    fails("by(1)", Validation);
    fails("{ } | by(status = 1)", Validation);
}

#[test]
fn aggregates() {
    fails("{ } | sum(3) > 1", Validation);
    fails("{ } | avg(name) > 1", Validation);
    fails("{ } | max(status) > 1", Validation);
    verified("{ true }|sum(.a + 1) > 1");
    verified("{ true }|count() = 2.0");
    fails("{ } | count(.a) > 1", Parse);
}

#[test]
fn scalar_filters_that_parse_but_do_not_run() {
    for q in [
        "{ } | count() + 1 > 2",
        "{ } | 1 < count()",
        "{ } | min(.a) < max(.b)",
        "({ .a } | count()) > ({ .b } | count())",
        "({ .a } | count()) > 1",
        "({ .a } | count()) + ({ .b } | avg(duration)) > 3",
    ] {
        fails(q, Unsupported);
    }
    // Children are validated before the parent's unsupported check.
    fails("min(3) = max(duration)", Validation);
}

#[test]
fn metrics_functions() {
    verified("{ true }|rate()");
    verified("{ true }|count_over_time() by (span.http.status_code)");
    verified("{ true }|min_over_time(duration) by (resource.service.name)");
    verified("{ true }|max_over_time(span.bytes)");
    verified("{ true }|avg_over_time(duration) by (span.http.status_code) > 1s");
    verified("{ true }|sum_over_time(.x)");
    verified("{ true }|quantile_over_time(duration, 0.99, 0.9, 0.5)");
    parses_to(
        "{ } | quantile_over_time(duration, .99, 1)",
        "{ true }|quantile_over_time(duration, 0.99, 1.0)",
    );
    verified("{ true }|histogram_over_time(duration) by (name)");
    verified("{ name != nil }|compare({ status = error })");
    verified("{ true }|compare({ status = error }, 5)");
    verified("{ true }|compare({ status = error }, 5, 1700000000000000000, 1700000060000000000)");
    verified("{ true } > { true }|rate() by (name)");
    fails("{ } | quantile_over_time(duration)", Parse);
    fails("{ } | quantile_over_time(duration, -0.5)", Parse);
    fails("{ } | quantile_over_time(duration, 1.5)", Validation);
    fails("{ } | rate(duration)", Parse);
    fails("{ } | min_over_time(name)", Validation);
    fails("{ } | min_over_time(.a + 1)", Parse);
    fails("{ } | compare({ status = error }, 5, 1)", Parse);
    fails("{ } | compare({ status = error }, 0)", Validation);
    fails("{ } | rate() by (.a + 1)", Parse);
}

#[test]
fn h58_group_labels_use_canonical_names() {
    let q = parses_to(
        "{ } | rate() by (span:name, span.foo, trace:rootService)",
        "{ true }|rate() by (name, span.foo, rootServiceName)",
    );
    let QueryBody::Metrics(m) = q.body else {
        panic!("metrics")
    };
    let MetricsExpr::Pipeline(p) = m.expr else {
        panic!("pipeline")
    };
    let labels: Vec<String> = p.function.by.iter().map(|f| f.canonical_name()).collect();
    assert_eq!(labels, ["name", "span.foo", "rootServiceName"]);
}

#[test]
fn h59_h60_second_stages_chain_in_order() {
    let q = verified("{ true }|rate() by (span.x) > 10|topk(5) > 3|bottomk(1)");
    let QueryBody::Metrics(m) = q.body else {
        panic!("metrics")
    };
    let MetricsExpr::Pipeline(p) = m.expr else {
        panic!("pipeline")
    };
    let kinds: Vec<_> = p.second_stages.into_iter().map(|s| s.kind).collect();
    assert!(matches!(
        kinds[..],
        [
            SecondStageKind::Filter {
                value: Static::Int(10),
                ..
            },
            SecondStageKind::TopK(5),
            SecondStageKind::Filter { .. },
            SecondStageKind::BottomK(1),
        ]
    ));
    fails("{ } | rate() | topk(0)", Validation);
    fails("{ } | rate() | bottomk(0)", Validation);
    fails("{ } | rate() | topk(-1)", Parse);
    fails("{ } | rate() | topk(1.5)", Parse);
    verified("{ true }|rate() > -1");
    parses_to("{ } | rate() > 2 * 3", "{ true }|rate() > 6");
}

#[test]
fn h61_metrics_arithmetic_needs_parentheses() {
    verified("({ status = error }|rate()) / ({ true }|rate())");
    verified("({ true }|rate()) + ({ true }|rate())");
    verified("({ true }|rate()) / ({ true }|count_over_time())");
    verified("({ true }|rate() > 6) * 100 > 5");
    parses_to("(1 / 2) + ({} | rate())", "0 + ({ true }|rate())");
    parses_to("(1.0 / 2) + ({} | rate())", "0.5 + ({ true }|rate())");
    parses_to("({} | rate()) - -1", "({ true }|rate()) - -1");
    parses_to("-1 * ({} | rate())", "(-1) * ({ true }|rate())");
    // Precedence: `*` binds tighter than `+`, left-assoc.
    parses_to(
        "({} | rate()) + ({} | rate()) * ({} | rate())",
        "({ true }|rate()) + (({ true }|rate()) * ({ true }|rate()))",
    );
    // A lone wrapped metrics query is the root form; its stages merge.
    parses_to("({} | rate())", "{ true }|rate()");
    parses_to("(({} | rate() > 1)) > 2", "{ true }|rate() > 1 > 2");
    for q in [
        "{} | rate() + 5",
        "5 + {} | rate()",
        "({} | rate()) % 2",
        "({} | rate()) ^ 2",
        "(({} | rate())) * 10s",
        "({} | rate()) >> ({} | rate())",
        "-({} | rate())",
        "1 + 2",
    ] {
        fails(q, Parse);
    }
    // Division by zero is a runtime matter (NaN), not a parse error.
    verified("(({ true }|rate()) / 0.0) * 0");
    let q = parse("({ } | rate()) + ({ } | rate()) > 1 | topk(2)").expect("valid");
    let QueryBody::Metrics(m) = q.body else {
        panic!("metrics")
    };
    assert!(matches!(m.expr, MetricsExpr::Binary { .. }));
    assert_eq!(m.second_stages.len(), 2);
}

#[test]
fn h62_compare_is_first_stage_only() {
    fails("{ } | compare({ status = error }) | topk(5)", Validation);
    fails("{ } | compare({ status = error }) > 1", Validation);
    fails("({ } | compare({ status = error })) * 2", Validation);
    let q = verified("{ true }|compare({ status = error })");
    let QueryBody::Metrics(m) = q.body else {
        panic!("metrics")
    };
    let MetricsExpr::Pipeline(p) = m.expr else {
        panic!("pipeline")
    };
    assert!(matches!(
        p.function.kind,
        MetricsFunctionKind::Compare {
            top_n: None,
            window: None,
            ..
        }
    ));
}

#[test]
fn h63_group_by_limits() {
    verified("{ true }|rate() by (.a, .b, .c, .d, .e)");
    fails("{ } | rate() by (.a, .b, .c, .d, .e, .f)", Validation);
    verified("{ true }|quantile_over_time(duration, 0.5) by (.a, .b, .c, .d)");
    fails(
        "{ } | quantile_over_time(duration, .5) by (.a, .b, .c, .d, .e)",
        Validation,
    );
    fails(
        "{ } | histogram_over_time(duration) by (.a, .b, .c, .d, .e)",
        Validation,
    );
}

#[test]
fn trace_id_literals_lose_leading_zeros() {
    parses_to(
        r#"{ trace:id = "00000000000000000abc" }"#,
        "{ trace:id = `abc` }",
    );
    parses_to(r#"{ "000abc" != trace:id }"#, "{ `abc` != trace:id }");
    // Only for trace:id.
    verified("{ span:id = `000abc` }");
}

#[test]
fn existence_rules() {
    fails("{ span:status = nil }", Validation);
    fails("{ resource.service.name = nil }", Validation);
    verified("{ name != nil }");
    verified("{ resource.service.name != nil }");
    verified("{ .service.name = nil }");
    parses_to("{ 1 != nil }", "{ true }");
    parses_to("{ 1 = nil }", "{ false }");
}

#[test]
fn errors_name_the_position() {
    let e = parse("{ .a = 1 }\n  | coun() > 1").expect_err("bad");
    assert_eq!((e.position().line, e.position().column), (2, 5));
    assert_eq!(e.kind(), Parse);
    let e = parse("{ .a = 1 } |").expect_err("bad");
    assert!(e.message().contains("end of query"), "{}", e.message());
    let e = parse("").expect_err("empty");
    assert_eq!(e.kind(), Parse);
    let e = parse("   ").expect_err("blank");
    assert_eq!(e.kind(), Parse);
    let e = parse(r#"{ status = "error" && .a =~ "[" }"#).expect_err("two problems");
    assert_eq!(e.diagnostics().len(), 2);
    let rendered = e.render(r#"{ status = "error" && .a =~ "[" }"#);
    assert!(rendered.contains("^^^"), "{rendered}");
}
