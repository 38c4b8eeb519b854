//! Sections A (lexing and parsing) and B (types and comparisons) of
//! `shared/spec/conformance-notes.md`, one test per item. Canonical forms parenthesise every
//! binary node, so comparing them checks the AST's shape; `parses_to` also reparses the
//! canonical text and compares the trees.

use traceql_syntax::ErrorKind::{Parse, Validation};
use traceql_syntax::ast::{
    Attribute, BinaryOp, FieldExprKind, QueryBody, Scope, SpansetExpr, SpansetOp, Stage, Static,
};
use traceql_syntax::test_utils::{fails, parses_to, verified};
use traceql_syntax::{Query, parse};

/// The field expression of a query that is a single spanset filter.
fn filter_expr(q: &Query) -> &FieldExprKind {
    match &q.body {
        QueryBody::Pipeline(p) => match &p.stages[..] {
            [Stage::Spanset(SpansetExpr::Filter(f))] => &f.expr.kind,
            other => panic!("not a single filter: {other:?}"),
        },
        other => panic!("not a pipeline: {other:?}"),
    }
}

fn attr(scope: Scope, name: &str) -> FieldExprKind {
    FieldExprKind::Attribute(Attribute::new(scope, name))
}

// ---- A. Lexing and parsing -----------------------------------------------------------------

#[test]
fn a01_and_or_share_one_level_left_assoc() {
    parses_to(
        "{ .a = 1 || .b = 2 && .c = 3 }",
        "{ ((.a = 1) || (.b = 2)) && (.c = 3) }",
    );
    parses_to("{ .x } || { .y } && { .z }", "({ .x } || { .y }) && { .z }");
    parses_to("{ .a && .b || .c }", "{ (.a && .b) || .c }");
}

#[test]
fn a02_comparisons_and_structural_share_a_level_above_and_or() {
    parses_to(
        "{ true } && { false } >> { .a }",
        "{ true } && ({ false } >> { .a })",
    );
    parses_to("{ .a } >> { .b } ~ { .c }", "({ .a } >> { .b }) ~ { .c }");
    parses_to(
        "{ .a } !~ { .b } &>> { .c } < { .d }",
        "(({ .a } !~ { .b }) &>> { .c }) < { .d }",
    );
}

#[test]
fn a03_pipe_binds_loosest() {
    let q = parses_to("{ .a } | { .b } && { .c }", "{ .a }|{ .b } && { .c }");
    let QueryBody::Pipeline(p) = &q.body else {
        panic!("pipeline")
    };
    assert_eq!(p.stages.len(), 2);
    assert!(matches!(
        &p.stages[1],
        Stage::Spanset(SpansetExpr::Op {
            op: SpansetOp::And,
            ..
        })
    ));
}

#[test]
fn a04_attribute_names_swallow_operator_like_characters() {
    let q = parses_to("{ .foo+1 = 2 }", "{ .foo+1 = 2 }");
    let FieldExprKind::Binary { lhs, .. } = filter_expr(&q) else {
        panic!("binary")
    };
    assert_eq!(lhs.kind, attr(Scope::Unscoped, "foo+1"));
    parses_to(
        "{ span.http.status_code>=200 }",
        "{ span.http.status_code >= 200 }",
    );
    let q = verified("{ .a-1 > 0 }");
    let FieldExprKind::Binary { lhs, .. } = filter_expr(&q) else {
        panic!("binary")
    };
    assert_eq!(lhs.kind, attr(Scope::Unscoped, "a-1"));
    for name in ["http-status", "http+", "foo.3", "😝", "a:b", "x/y*z%"] {
        let q = verified(&format!("{{ .{name} = 1 }}"));
        let FieldExprKind::Binary { lhs, .. } = filter_expr(&q) else {
            panic!("binary")
        };
        assert_eq!(lhs.kind, attr(Scope::Unscoped, name));
    }
}

#[test]
fn a05_names_starting_with_a_digit_need_quotes() {
    let q = parse("{ .3 }").expect_err("float filter is not boolean");
    assert_eq!(q.kind(), Validation);
    assert_eq!(
        traceql_syntax::parse_syntax("{ .3 }")
            .expect("parses")
            .to_string(),
        "{ 0.3 }"
    );
    assert_eq!(
        traceql_syntax::parse_syntax("{ .24h }")
            .expect("parses")
            .to_string(),
        "{ 14m24s }"
    );
    fails("{ .3foo = 1 }", Parse);
    let q = verified(r#"{ ."3foo" = 1 }"#);
    let FieldExprKind::Binary { lhs, .. } = filter_expr(&q) else {
        panic!("binary")
    };
    assert_eq!(lhs.kind, attr(Scope::Unscoped, "3foo"));
    verified("{ span.3foo = 1 }");
}

#[test]
fn a06_quoted_attribute_segments() {
    let q = parses_to(r#"{ span."a b".c = 1 }"#, r#"{ span."a b.c" = 1 }"#);
    let FieldExprKind::Binary { lhs, .. } = filter_expr(&q) else {
        panic!("binary")
    };
    assert_eq!(lhs.kind, attr(Scope::Span, "a b.c"));
    let q = parses_to(
        r#"{ span.foo."bar baz".x = 1 }"#,
        r#"{ span."foo.bar baz.x" = 1 }"#,
    );
    let FieldExprKind::Binary { lhs, .. } = filter_expr(&q) else {
        panic!("binary")
    };
    assert_eq!(lhs.kind, attr(Scope::Span, "foo.bar baz.x"));
    parses_to(r#"{ ."foo.bar" = 1 }"#, "{ .foo.bar = 1 }");
    parses_to(r#"{ ."a\"b\\c" = 1 }"#, r#"{ ."a\"b\\c" = 1 }"#);
    let message = fails(r#"{ ."a\nb" = 1 }"#, Parse);
    assert!(message.contains("invalid escape sequence"), "{message}");
    // A raw tab inside a quoted segment is kept.
    let q = parse("{ .\"a\tb\" = 1 }").expect("valid");
    let FieldExprKind::Binary { lhs, .. } = filter_expr(&q) else {
        panic!("binary")
    };
    assert_eq!(lhs.kind, attr(Scope::Unscoped, "a\tb"));
    // String values, unlike names, use Go escapes.
    let q = verified(
        "{ .a = \"a\\nb\" }"
            .replace("\\n", "\n")
            .replace('"', "`")
            .as_str(),
    );
    let FieldExprKind::Binary { rhs, .. } = filter_expr(&q) else {
        panic!("binary")
    };
    assert_eq!(
        rhs.kind,
        FieldExprKind::Static(Static::String("a\nb".into()))
    );
    let q = parse(r#"{ .a = "a\nb" }"#).expect("valid");
    let FieldExprKind::Binary { rhs, .. } = filter_expr(&q) else {
        panic!("binary")
    };
    assert_eq!(
        rhs.kind,
        FieldExprKind::Static(Static::String("a\nb".into()))
    );
}

#[test]
fn a07_keywords_after_a_dot_are_attributes() {
    for name in ["duration", "name", "status", "count", "true", "nil"] {
        let q = verified(&format!("{{ .{name} = 1 }}"));
        let FieldExprKind::Binary { lhs, .. } = filter_expr(&q) else {
            panic!("binary")
        };
        assert_eq!(lhs.kind, attr(Scope::Unscoped, name));
    }
    let q = verified("{ duration > 1s }");
    let FieldExprKind::Binary { lhs, .. } = filter_expr(&q) else {
        panic!("binary")
    };
    assert!(matches!(lhs.kind, FieldExprKind::Intrinsic(_)));
}

#[test]
fn a08_bare_intrinsic_name_parts_are_errors() {
    for q in [
        "{ childCount > 0 }",
        r#"{ id = "x" }"#,
        r#"{ rootService = "x" }"#,
        r#"{ trace:rootServiceName = "x" }"#,
        r#"{ span:rootName = "x" }"#,
        r#"{ trace:status = ok }"#,
        r#"{ trace:kind = server }"#,
        r#"{ trace:name = "x" }"#,
        "{ trace:traceDuration > 1s }",
        r#"{ span:traceID = "x" }"#,
        r#"{ event:foo = "x" }"#,
        r#"{ link:id = "x" }"#,
    ] {
        fails(q, Parse);
    }
    assert!(fails("{ childCount > 0 }", Parse).contains("span:childCount"));
    verified("{ span:childCount > 0 }");
    parses_to(
        r#"{ trace:rootService = "x" }"#,
        "{ rootServiceName = `x` }",
    );
}

#[test]
fn a09_durations() {
    let d = |q: &str| -> i64 {
        let ast = parse(&format!("{{ duration > {q} }}")).expect("valid");
        let FieldExprKind::Binary { rhs, .. } = filter_expr(&ast) else {
            panic!("binary")
        };
        match rhs.kind {
            FieldExprKind::Static(Static::Duration(ns)) => ns,
            ref other => panic!("{other:?}"),
        }
    };
    const S: i64 = 1_000_000_000;
    assert_eq!(d("1d"), 86_400 * S);
    assert_eq!(d("1w"), 7 * 86_400 * S);
    assert_eq!(d("1y"), 365 * 86_400 * S);
    assert_eq!(d("1h30m"), 5_400 * S);
    assert_eq!(d("1.5m"), 90 * S);
    assert_eq!(d("1µs"), 1_000);
    assert_eq!(d("1h15m30.918273645s"), 4_530_918_273_645);
    assert_eq!(d("-5s"), -5 * S);
    assert_eq!(d(".24h"), 864 * S);
    for bad in ["1D", "1μs", "1.5d", "1t"] {
        fails(&format!("{{ duration > {bad} }}"), Parse);
    }
    parses_to("{ duration > 3h }", "{ duration > 3h0m0s }");
    parses_to("{ duration > 1500ms }", "{ duration > 1.5s }");
}

#[test]
fn a10_no_double_equals_no_angle_pair_no_single_quotes_case_sensitive() {
    for q in [
        "{ .a == 1 }",
        "{ 2 <> 3 }",
        "{ .a = 'x' }",
        "{ status = ERROR }",
        "{ .a = 1 and .b = 2 }",
        "{ .a = 1 or .b = 2 }",
        "{ Status = error }",
        "{ .a = TRUE }",
    ] {
        fails(q, Parse);
    }
    assert_eq!(
        fails("{ status = ERROR }", Parse),
        "parse error at line 1, col 12: unknown identifier: ERROR"
    );
}

#[test]
fn a11_comments_are_skipped() {
    parses_to("{ .a = 1 } // trailing", "{ .a = 1 }");
    parses_to("{ /* c */ .a = 1 }", "{ .a = 1 }");
    parses_to("// leading\n{ .a = /* multi\nline */ 1 }\n", "{ .a = 1 }");
    fails("{ .a = 1 } /* unterminated", Parse);
}

#[test]
fn a12_nil_only_in_existence_forms() {
    let q = verified("{ .a = nil }");
    let FieldExprKind::Binary { op, rhs, .. } = filter_expr(&q) else {
        panic!("binary")
    };
    assert_eq!(
        (*op, &rhs.kind),
        (BinaryOp::Eq, &FieldExprKind::Static(Static::Nil))
    );
    verified("{ nil != .a }");
    verified("{ (.a + .b) = nil }");
    parses_to("{ nil = nil }", "{ false }");
    parses_to("{ nil != nil }", "{ false }");
    for q in [
        "{ .a > nil }",
        "{ nil }",
        "{ -nil = .a }",
        "{ .a = (nil) }",
        "{ nil + 1 = .a }",
    ] {
        fails(q, Parse);
    }
    // `x = nil` binds like any comparison.
    parses_to("{ .a = nil && .b }", "{ (.a = nil) && .b }");
    parses_to("{ nil = .a + 1 }", "{ nil = (.a + 1) }");
}

#[test]
fn a13_scalar_filter_literals() {
    verified("{ true }|max(duration) > 1s");
    fails("{ } | max(duration) > 1s * 2", Parse);
    fails(r#"{ } | max(name) = "foo""#, Parse);
    fails("{ } | count() > ok", Parse);
    parses_to("{ duration > 1s * 2 }", "{ duration > 2000000000.0 }");
    parses_to("{ } | count() > 2 * 3", "{ true }|count() > 6");
    parses_to("{ } | count() > 1 / 2", "{ true }|count() > 0");
    parses_to("{ } | avg(.a) > 1.0 / 2", "{ true }|avg(.a) > 0.5");
    parses_to("{ } | count() > -(1 + 2)", "{ true }|count() > -3");
    fails("{ } | count() > 1 / 0", Parse);
    fails("{ } | count() > 5 % 2", Parse);
    fails("{ } | count()", Parse);
    fails("5 > 3", Parse);
}

#[test]
fn a14_hints_at_the_end_with_literal_values() {
    let q = verified("{ true }|rate() with(sample=0.1)");
    assert_eq!(q.hint("sample"), Some(&Static::Float(0.1)));
    fails("{ } with(x=-1)", Parse);
    let q = verified("{ true } with(unknown_hint=1)");
    assert_eq!(q.hint("unknown_hint"), Some(&Static::Int(1)));
    let q = verified("{ true } with(a=`s`,b=true,c=1s,d=error,e=server,f=minInt)");
    assert_eq!(q.hints.len(), 6);
    assert_eq!(q.hint("f"), Some(&Static::Int(i64::MIN)));
    fails("{ } with(a=1) | count() > 1", Parse);
    fails("{ } with()", Parse);
    fails("{ } with(a=.b)", Parse);
}

#[test]
fn a14b_wrapped_pipelines_and_bare_selectors_do_not_mix() {
    let q = parses_to(
        "({ .a } | count() > 1) && ({ .b })",
        "({ .a }|count() > 1) && ({ .b })",
    );
    let QueryBody::Pipeline(p) = &q.body else {
        panic!("pipeline")
    };
    let [Stage::Spanset(SpansetExpr::Op { lhs, rhs, .. })] = &p.stages[..] else {
        panic!("op")
    };
    assert!(matches!(**lhs, SpansetExpr::Pipeline(_)));
    assert!(matches!(**rhs, SpansetExpr::Pipeline(_)));
    fails("({ .a } | count() > 1) && { .b }", Parse);
    fails("{ .a } && ({ .b } | count() > 1)", Parse);
    let e = parse("({ .a }) && ({ .b } | count() > 1)").expect_err("parse error");
    assert_eq!(
        (e.kind(), e.position().line, e.position().column),
        (Parse, 1, 21)
    );
    parses_to("({ .a }) && ({ .b })", "{ .a } && { .b }");
    verified("({ .a }|count() > 1)");
    verified("(count() > 1) >> ({ .x })");
    verified("({ true }|count() > 1) >> ({ .x }|by(.y))");
    verified("(({ .a }|count() > 1) && ({ .b })) || ({ .c })");
}

// ---- B. Types and comparisons ----------------------------------------------------------------

#[test]
fn b15_b16_neq_and_regex_on_other_types_are_runtime_matters() {
    verified("{ span.foo != `x` }");
    verified("{ .foo != `bar` }");
    verified("{ .foo !~ `x.*` }");
    verified("{ (span.foo != `x`) || (span.foo = nil) }");
}

#[test]
fn b17_regex_is_validated_and_must_be_a_literal() {
    verified("{ name =~ `GET.*` }");
    let message = fails(r#"{ name =~ "[" }"#, Validation);
    assert!(message.contains("invalid regex"), "{message}");
    fails("{ .a =~ .b }", Validation);
    fails("{ .a =~ 1 }", Validation);
    fails("{ 1 =~ `x` }", Validation);
    parses_to(r#"{ "GET /api" =~ "GET" }"#, "{ false }");
    parses_to(r#"{ "GET /api" =~ "GET.*" }"#, "{ true }");
    parses_to(
        "{ \"a\nb\" =~ \"a.b\" }".replace('\n', "\\n").as_str(),
        "{ true }",
    );
    verified("{ trace:id =~ `abc.*` }");
}

#[test]
fn b18_numbers_compare_by_value() {
    parses_to("{ 1 = 1.0 }", "{ true }");
    parses_to("{ 1ns = 1 }", "{ true }");
    parses_to("{ 1s = 1000000000 }", "{ true }");
    parses_to("{ 1.5 > 1 }", "{ true }");
    verified("{ duration > 1000 }");
}

#[test]
fn b19_integer_division_truncates_and_division_by_zero_is_not_folded() {
    parses_to("{ 1 / 10 = 0 }", "{ true }");
    parses_to("{ 1 / 10. = .1 }", "{ true }");
    parses_to("{ -7 % 2 = -1 }", "{ true }");
    verified("{ (.a / 0) > 1 }");
    parses_to("{ 5 / 0 > 1 }", "{ (5 / 0) > 1 }");
    parses_to("{ 5.0 / 0.0 = 1.0 }", "{ (5.0 / 0.0) = 1.0 }");
}

#[test]
fn b20_duration_arithmetic_yields_floats() {
    parses_to("{ 2m + 2m = 4m }", "{ true }");
    let folded = traceql_syntax::parse_syntax("{ 2m + 2m }").expect("parses");
    assert_eq!(folded.to_string(), "{ 240000000000.0 }");
    verified("{ (duration * 2) > 1s }");
}

#[test]
fn b21_power_is_right_associative_and_correct() {
    parses_to("{ 2 ^ 3 = 8 }", "{ true }");
    parses_to("{ 2 ^ 3 = 9 }", "{ false }");
    parses_to("{ 2.0 ^ 3 = 8 }", "{ true }");
    parses_to("{ 2 ^ 3 ^ 2 = 512 }", "{ true }");
    parses_to("{ 10 ^ -1 = 0 }", "{ true }");
    parses_to("{ .a ^ .b ^ .c }", "{ .a ^ (.b ^ .c) }");
}

#[test]
fn b22_status_and_kind_are_enums() {
    verified("{ status = error }");
    verified("{ kind = server }");
    for q in [
        "{ status = \"error\" }",
        "{ status = 2 }",
        "{ status > ok }",
        "{ kind < consumer }",
        "{ status = server }",
    ] {
        fails(q, Validation);
    }
}

#[test]
fn b23_strings_order_bytewise() {
    verified("{ span.http.status_code >= `400` }");
    parses_to(r#"{ "500" >= "400" }"#, "{ true }");
    parses_to(r#"{ "5000" >= "600" }"#, "{ false }");
    fails(r#"{ "a" > 1 }"#, Validation);
}

#[test]
fn b24_bare_attribute_filters() {
    verified("{ .flag }");
    verified("{ !.flag }");
    parses_to("{ !true }", "{ false }");
    fails("{ !1 }", Validation);
    fails("{ -true }", Validation);
    fails("{ -`x` }", Validation);
}

#[test]
fn b25_constant_filters_fold() {
    parses_to("{ false }", "{ false }");
    parses_to("{ 1 = 2 }", "{ false }");
    parses_to("{ 1 + 1 > 1 }", "{ true }");
    parses_to("{}", "{ true }");
    for q in ["{ 1 }", "{ \"x\" }", "{ status }", "{ 1s }", "{ .a + 1 }"] {
        fails(q, Validation);
    }
}

#[test]
fn b26_static_type_errors_are_validation_errors() {
    fails(r#"{ 1 = "foo" }"#, Validation);
    verified("{ .a = `foo` }");
    fails("{ name + 1 > 2 }", Validation);
    fails("{ .a && 1 }", Validation);
    fails("{ true || `x` }", Validation);
    fails("{ name > 1 }", Validation);
    verified("{ .a > 1 }");
}
