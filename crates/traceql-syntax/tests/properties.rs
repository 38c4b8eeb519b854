//! Property tests: generated ASTs round-trip through the printer, no input panics the parser,
//! and deep or huge inputs get errors instead of overflowing the stack.

use proptest::prelude::*;
use traceql_syntax::ast::{
    ALL_INTRINSICS, ALL_SPANSET_OPS, Aggregate, AggregateOp, ArithOp, Attribute, BinaryOp,
    ComparisonOp, Field, FieldExpr, FieldExprKind, GroupBy, Hint, Kind, MetricsExpr,
    MetricsFunction, MetricsFunctionKind, MetricsOp, MetricsPipeline, MetricsQuery, Pipeline,
    Query, QueryBody, ScalarExpr, ScalarFilter, Scope, SecondStage, SecondStageKind, SpansetExpr,
    SpansetFilter, SpansetOp, Stage, Static, Status, UnaryOp,
};
use traceql_syntax::{ErrorKind, Span, parse, parse_syntax, validate};

// ---- Generators of ASTs in canonical form (nothing left to fold) -------------------------------

fn status() -> impl Strategy<Value = Status> {
    prop_oneof![Just(Status::Error), Just(Status::Ok), Just(Status::Unset)]
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        Just(Kind::Unspecified),
        Just(Kind::Internal),
        Just(Kind::Client),
        Just(Kind::Server),
        Just(Kind::Producer),
        Just(Kind::Consumer),
    ]
}

/// Strings never start with `0`, so that comparing them with `trace:id` strips nothing.
fn string() -> impl Strategy<Value = String> {
    "[a-z0-9 `\"\\\\\n\r\t{}()é😀]{0,8}".prop_map(|s| {
        if s.starts_with('0') {
            format!("x{s}")
        } else {
            s
        }
    })
}

fn finite_float() -> impl Strategy<Value = f64> {
    any::<f64>().prop_filter("finite", |f| f.is_finite())
}

fn duration() -> impl Strategy<Value = i64> {
    prop_oneof![
        (i64::MIN + 1)..=i64::MAX,
        -10_000_000_000i64..10_000_000_000
    ]
}

fn literal() -> impl Strategy<Value = Static> {
    prop_oneof![
        any::<i64>().prop_map(Static::Int),
        finite_float().prop_map(Static::Float),
        string().prop_map(Static::String),
        any::<bool>().prop_map(Static::Bool),
        duration().prop_map(Static::Duration),
        status().prop_map(Static::Status),
        kind().prop_map(Static::Kind),
    ]
}

fn number() -> impl Strategy<Value = Static> {
    prop_oneof![
        any::<i64>().prop_map(Static::Int),
        finite_float().prop_map(Static::Float),
        duration().prop_map(Static::Duration),
    ]
}

fn attribute() -> impl Strategy<Value = Attribute> {
    let scope = prop_oneof![
        Just(Scope::Unscoped),
        Just(Scope::Span),
        Just(Scope::Resource),
        Just(Scope::Event),
        Just(Scope::Link),
        Just(Scope::Instrumentation),
    ];
    let name = "[a-z0-9.:+\\-_ =\"`\\\\/*{é😀]{1,10}";
    (scope, any::<bool>(), name).prop_map(|(scope, parent, name)| {
        let parent = parent && matches!(scope, Scope::Unscoped | Scope::Span | Scope::Resource);
        Attribute {
            scope,
            parent,
            name,
        }
    })
}

fn field() -> impl Strategy<Value = Field> {
    prop_oneof![
        prop::sample::select(ALL_INTRINSICS.to_vec()).prop_map(Field::Intrinsic),
        attribute().prop_map(Field::Attribute),
    ]
}

fn expr(kind: FieldExprKind) -> FieldExpr {
    FieldExpr::new(kind, Span::default())
}

fn binary_op() -> impl Strategy<Value = BinaryOp> {
    use BinaryOp::*;
    prop::sample::select(vec![
        Add, Sub, Mul, Div, Mod, Pow, Eq, Neq, Lt, Lte, Gt, Gte, Regex, NotRegex, And, Or,
    ])
}

/// Field expressions that read the span, so that no node folds.
fn span_expr() -> impl Strategy<Value = FieldExpr> {
    let leaf = field().prop_map(|f| match f {
        Field::Intrinsic(i) => expr(FieldExprKind::Intrinsic(i)),
        Field::Attribute(a) => expr(FieldExprKind::Attribute(a)),
    });
    leaf.prop_recursive(4, 24, 2, |inner| {
        let operand = prop_oneof![
            inner.clone(),
            literal().prop_map(|s| expr(FieldExprKind::Static(s)))
        ];
        prop_oneof![
            (binary_op(), inner.clone(), operand, any::<bool>()).prop_map(|(op, a, b, swap)| {
                let (lhs, rhs) = if swap { (b, a) } else { (a, b) };
                expr(FieldExprKind::Binary {
                    op,
                    lhs: Box::new(lhs),
                    rhs: Box::new(rhs),
                })
            }),
            (
                prop_oneof![Just(UnaryOp::Neg), Just(UnaryOp::Not)],
                inner.clone()
            )
                .prop_map(|(op, e)| expr(FieldExprKind::Unary {
                    op,
                    expr: Box::new(e)
                })),
            (
                prop_oneof![Just(BinaryOp::Eq), Just(BinaryOp::Neq)],
                inner,
                any::<bool>()
            )
                .prop_map(|(op, e, nil_first)| {
                    let nil = expr(FieldExprKind::Static(Static::Nil));
                    let (lhs, rhs) = if nil_first { (nil, e) } else { (e, nil) };
                    expr(FieldExprKind::Binary {
                        op,
                        lhs: Box::new(lhs),
                        rhs: Box::new(rhs),
                    })
                }),
        ]
    })
}

fn filter() -> impl Strategy<Value = SpansetFilter> {
    prop_oneof![
        span_expr(),
        prop_oneof![Just(true), Just(false)]
            .prop_map(|b| expr(FieldExprKind::Static(Static::Bool(b)))),
    ]
    .prop_map(|expr| SpansetFilter {
        expr,
        span: Span::default(),
    })
}

fn spanset_op() -> impl Strategy<Value = SpansetOp> {
    prop::sample::select(ALL_SPANSET_OPS.to_vec())
}

/// Bare spanset expressions: filters joined by operators.
fn spanset_expr() -> impl Strategy<Value = SpansetExpr> {
    filter()
        .prop_map(SpansetExpr::Filter)
        .prop_recursive(3, 8, 2, |inner| {
            (spanset_op(), inner.clone(), inner).prop_map(|(op, l, r)| SpansetExpr::Op {
                op,
                lhs: Box::new(l),
                rhs: Box::new(r),
            })
        })
}

fn aggregate() -> impl Strategy<Value = Aggregate> {
    let op = prop::sample::select(vec![
        AggregateOp::Avg,
        AggregateOp::Max,
        AggregateOp::Min,
        AggregateOp::Sum,
    ]);
    prop_oneof![
        Just(Aggregate {
            op: AggregateOp::Count,
            expr: None,
            span: Span::default()
        }),
        (op, span_expr()).prop_map(|(op, e)| Aggregate {
            op,
            expr: Some(e),
            span: Span::default()
        }),
    ]
}

fn comparison() -> impl Strategy<Value = ComparisonOp> {
    use ComparisonOp::*;
    prop::sample::select(vec![Eq, Neq, Lt, Lte, Gt, Gte])
}

fn arith() -> impl Strategy<Value = ArithOp> {
    use ArithOp::*;
    prop::sample::select(vec![Add, Sub, Mul, Div, Mod, Pow])
}

/// Scalar expressions containing an aggregate (no literal-only arithmetic: it would fold).
fn scalar_with_aggregate() -> impl Strategy<Value = ScalarExpr> {
    aggregate()
        .prop_map(ScalarExpr::Aggregate)
        .prop_recursive(2, 6, 2, |inner| {
            let operand = prop_oneof![inner.clone(), number().prop_map(ScalarExpr::Literal)];
            (arith(), inner, operand, any::<bool>()).prop_map(|(op, a, b, swap)| {
                let (lhs, rhs) = if swap { (b, a) } else { (a, b) };
                ScalarExpr::Binary {
                    op,
                    lhs: Box::new(lhs),
                    rhs: Box::new(rhs),
                    span: Span::default(),
                }
            })
        })
}

fn scalar_filter() -> impl Strategy<Value = ScalarFilter> {
    let rhs = prop_oneof![
        number().prop_map(ScalarExpr::Literal),
        scalar_with_aggregate()
    ];
    (comparison(), scalar_with_aggregate(), rhs, any::<bool>()).prop_map(|(op, a, b, swap)| {
        let (lhs, rhs) = if swap { (b, a) } else { (a, b) };
        ScalarFilter {
            op,
            lhs,
            rhs,
            span: Span::default(),
        }
    })
}

fn stage() -> impl Strategy<Value = Stage> {
    prop_oneof![
        3 => spanset_expr().prop_map(Stage::Spanset),
        1 => scalar_filter().prop_map(Stage::ScalarFilter),
        1 => span_expr().prop_map(|e| Stage::By(GroupBy { expr: e, span: Span::default() })),
        1 => prop::collection::vec(field(), 1..3).prop_map(|fields| Stage::Select { fields, span: Span::default() }),
    ]
}

/// A pipeline whose stages are bare spanset expressions (`coalesce()` never first).
fn pipeline() -> impl Strategy<Value = Pipeline> {
    (
        stage(),
        prop::collection::vec(prop_oneof![4 => stage(), 1 => Just(Stage::Coalesce)], 0..3),
    )
        .prop_map(|(first, rest)| Pipeline {
            stages: std::iter::once(first).chain(rest).collect(),
        })
}

/// Wrapped pipelines joined by operators. As in Tempo, the leftmost operand of every
/// operator group is not a lone spanset expression: `({ .a }) && …` reads as a bare spanset
/// expression, so a query cannot express that tree.
fn pipeline_expr() -> impl Strategy<Value = SpansetExpr> {
    let leaf = pipeline().prop_map(|p| SpansetExpr::Pipeline(Box::new(p)));
    let tree = leaf.prop_recursive(2, 6, 2, |inner| {
        (spanset_op(), inner.clone(), inner).prop_map(|(op, l, r)| SpansetExpr::Op {
            op,
            lhs: Box::new(l),
            rhs: Box::new(r),
        })
    });
    tree.prop_map(|mut e| {
        make_leftmost_nontrivial(&mut e);
        // At the root, a lone `({ … })` reads as a parenthesised spanset expression too.
        if let SpansetExpr::Pipeline(p) = &mut e
            && let [Stage::Spanset(_)] = p.stages[..]
        {
            p.stages.push(Stage::Coalesce);
        }
        e
    })
}

fn make_leftmost_nontrivial(e: &mut SpansetExpr) {
    match e {
        SpansetExpr::Op { lhs, rhs, .. } => {
            make_leftmost_nontrivial(lhs);
            make_leftmost_nontrivial(rhs);
            let mut leftmost = &mut **lhs;
            while let SpansetExpr::Op { lhs, .. } = leftmost {
                leftmost = lhs;
            }
            if let SpansetExpr::Pipeline(p) = leftmost
                && let [Stage::Spanset(_)] = p.stages[..]
            {
                p.stages.push(Stage::Coalesce);
            }
        }
        SpansetExpr::Pipeline(_) | SpansetExpr::Filter(_) => {}
    }
}

fn metrics_function() -> impl Strategy<Value = MetricsFunction> {
    let kind = prop_oneof![
        Just(MetricsFunctionKind::Rate),
        Just(MetricsFunctionKind::CountOverTime),
        field().prop_map(MetricsFunctionKind::MinOverTime),
        field().prop_map(MetricsFunctionKind::MaxOverTime),
        field().prop_map(MetricsFunctionKind::AvgOverTime),
        field().prop_map(MetricsFunctionKind::SumOverTime),
        field().prop_map(MetricsFunctionKind::HistogramOverTime),
        (field(), prop::collection::vec(0.0f64..10.0, 1..4)).prop_map(|(field, quantiles)| {
            MetricsFunctionKind::QuantileOverTime { field, quantiles }
        }),
        (
            filter(),
            prop::option::of(0i64..2000),
            prop::option::of((0i64..i64::MAX, 0i64..i64::MAX))
        )
            .prop_map(|(filter, top_n, window)| MetricsFunctionKind::Compare {
                filter,
                top_n: top_n.or(window.map(|_| 10)),
                window,
            }),
    ];
    (kind, prop::collection::vec(field(), 0..3)).prop_map(|(kind, by)| {
        let by = if matches!(kind, MetricsFunctionKind::Compare { .. }) {
            Vec::new()
        } else {
            by
        };
        MetricsFunction {
            kind,
            by,
            span: Span::default(),
        }
    })
}

fn second_stage() -> impl Strategy<Value = SecondStage> {
    let kind = prop_oneof![
        any::<u64>().prop_map(SecondStageKind::TopK),
        any::<u64>().prop_map(SecondStageKind::BottomK),
        (comparison(), number()).prop_map(|(op, value)| SecondStageKind::Filter { op, value }),
    ];
    kind.prop_map(|kind| SecondStage {
        kind,
        span: Span::default(),
    })
}

fn metrics_pipeline() -> impl Strategy<Value = MetricsPipeline> {
    (
        pipeline(),
        metrics_function(),
        prop::collection::vec(second_stage(), 0..3),
    )
        .prop_map(|(pipeline, function, second_stages)| MetricsPipeline {
            pipeline,
            function,
            second_stages,
        })
}

fn metrics_op() -> impl Strategy<Value = MetricsOp> {
    prop::sample::select(vec![
        MetricsOp::Add,
        MetricsOp::Sub,
        MetricsOp::Mul,
        MetricsOp::Div,
    ])
}

/// Arithmetic over metrics pipelines; every binary node has a pipeline on one side.
fn metrics_binary() -> impl Strategy<Value = MetricsExpr> {
    let leaf = metrics_pipeline().prop_map(|p| MetricsExpr::Pipeline(Box::new(p)));
    let literal = prop_oneof![
        any::<i64>().prop_map(Static::Int),
        finite_float().prop_map(Static::Float)
    ]
    .prop_map(MetricsExpr::Literal);
    let tree = leaf.prop_recursive(2, 6, 2, move |inner| {
        let operand = prop_oneof![inner.clone(), literal.clone()];
        (metrics_op(), inner, operand, any::<bool>()).prop_map(|(op, a, b, swap)| {
            let (lhs, rhs) = if swap { (b, a) } else { (a, b) };
            MetricsExpr::Binary {
                op,
                lhs: Box::new(lhs),
                rhs: Box::new(rhs),
                span: Span::default(),
            }
        })
    });
    (tree, metrics_op(), metrics_pipeline()).prop_map(|(e, op, p)| match e {
        e @ MetricsExpr::Binary { .. } => e,
        other => MetricsExpr::Binary {
            op,
            lhs: Box::new(other),
            rhs: Box::new(MetricsExpr::Pipeline(Box::new(p))),
            span: Span::default(),
        },
    })
}

fn hint() -> impl Strategy<Value = Hint> {
    let value = prop_oneof![
        (0i64..=i64::MAX).prop_map(Static::Int),
        Just(Static::Int(i64::MIN)),
        (0.0f64..1e9).prop_map(Static::Float),
        string().prop_map(Static::String),
        any::<bool>().prop_map(Static::Bool),
        (0i64..=i64::MAX).prop_map(Static::Duration),
        status().prop_map(Static::Status),
        kind().prop_map(Static::Kind),
    ];
    ("[a-z_][a-z0-9_]{0,8}", value).prop_map(|(name, value)| Hint {
        name,
        value,
        span: Span::default(),
    })
}

fn query() -> impl Strategy<Value = Query> {
    let body = prop_oneof![
        4 => pipeline().prop_map(QueryBody::Pipeline),
        1 => pipeline_expr().prop_map(|e| QueryBody::Pipeline(Pipeline { stages: vec![Stage::Spanset(e)] })),
        1 => (pipeline(), aggregate(), comparison(), number()).prop_map(|(pipeline, aggregate, op, n)| {
            let lhs = ScalarExpr::Pipeline { pipeline: Box::new(pipeline), aggregate, span: Span::default() };
            QueryBody::ScalarFilter(ScalarFilter { op, lhs, rhs: ScalarExpr::Literal(n), span: Span::default() })
        }),
        2 => metrics_pipeline().prop_map(|p| QueryBody::Metrics(MetricsQuery {
            expr: MetricsExpr::Pipeline(Box::new(p)),
            second_stages: Vec::new(),
        })),
        1 => (metrics_binary(), prop::collection::vec(second_stage(), 0..3))
            .prop_map(|(expr, second_stages)| QueryBody::Metrics(MetricsQuery { expr, second_stages })),
    ];
    (body, prop::collection::vec(hint(), 0..3)).prop_map(|(body, hints)| Query { body, hints })
}

// ---- Token soup: strings built from TraceQL's own tokens, so that many of them parse --------------

fn token_soup() -> impl Strategy<Value = String> {
    let tokens = vec![
        "{",
        "}",
        "(",
        ")",
        "{ }",
        ".a",
        ".b",
        "span.x",
        "resource.service.name",
        "name",
        "duration",
        "status",
        "span:id",
        "trace:id",
        "event:name",
        "=",
        "!=",
        ">",
        ">=",
        "<",
        "=~",
        "!~",
        "&&",
        "||",
        ">>",
        "<<",
        "~",
        "!>",
        "&>>",
        "!",
        "-",
        "+",
        "*",
        "/",
        "^",
        "%",
        "|",
        "1",
        "2.5",
        "1s",
        "`x`",
        "\"y\"",
        "nil",
        "true",
        "error",
        "server",
        "count()",
        "avg(duration)",
        "max(.a)",
        "by(.a)",
        "select(.a)",
        "coalesce()",
        "rate()",
        "count_over_time()",
        "quantile_over_time(duration, .5)",
        "by (.a)",
        "topk(2)",
        "with(a=1)",
        ",",
        "minInt",
        "// c\n",
        "/* c */",
        " ",
    ];
    prop::collection::vec(prop::sample::select(tokens), 1..24).prop_map(|t| t.join(" "))
}

/// Everything a caller may do with a parse result; must never panic.
fn exercise(text: &str) {
    match parse_syntax(text) {
        Ok(ast) => {
            let _ = validate(&ast, text);
            let printed = ast.to_string();
            let again = parse_syntax(&printed).unwrap_or_else(|e| {
                panic!("canonical {printed:?} of {text:?} does not parse: {e}")
            });
            assert_eq!(
                again, ast,
                "canonical {printed:?} of {text:?} parses differently"
            );
        }
        Err(e) => {
            assert_eq!(e.kind(), ErrorKind::Parse);
            let _ = e.render(text);
        }
    }
}

/// The AST strategy is deeply nested generic code whose debug-build frames need more than a
/// test thread's 2 MiB stack to *generate* values, so this property runs on its own thread.
#[test]
fn generated_asts_round_trip_through_the_printer() {
    let run = || {
        let config = ProptestConfig {
            cases: 1024,
            ..ProptestConfig::default()
        };
        let mut runner = proptest::test_runner::TestRunner::new(config);
        let result = runner.run(&query(), |ast| {
            let printed = ast.to_string();
            let parsed = parse_syntax(&printed)
                .map_err(|e| TestCaseError::fail(format!("{printed:?} does not parse: {e}")))?;
            prop_assert_eq!(parsed, ast, "{}", printed);
            Ok(())
        });
        if let Err(e) = result {
            panic!("{e}");
        }
    };
    std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(run)
        .expect("spawn")
        .join()
        .expect("round trip holds");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn token_soup_never_panics_and_parses_canonically(text in token_soup()) {
        exercise(&text);
    }

    #[test]
    fn arbitrary_strings_never_panic(text in "\\PC{0,64}") {
        exercise(&text);
    }

    #[test]
    fn arbitrary_bytes_as_lossy_text_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        exercise(&String::from_utf8_lossy(&bytes));
    }
}

// ---- Deep and huge inputs ----------------------------------------------------------------------

/// Runs `f` on a thread with a 2 MiB stack (the default for test threads, stated explicitly).
fn on_small_stack(f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(f)
        .expect("spawn")
        .join()
        .expect("no stack overflow or panic");
}

#[test]
fn ten_thousand_open_brackets_are_an_error() {
    on_small_stack(|| {
        for open in ["{", "(", "{ (", "({ .a } | count() > 1) && ("] {
            let text = open.repeat(10_000);
            let e = parse(&text).expect_err("too deep");
            assert_eq!(e.kind(), ErrorKind::Parse, "{e}");
        }
        let balanced = format!("{}{{ .a }}{}", "(".repeat(10_000), ")".repeat(10_000));
        assert!(
            parse(&balanced)
                .expect_err("too deep")
                .message()
                .contains("nest deeper")
        );
        let field = format!("{{ {}.a{} }}", "(".repeat(10_000), ")".repeat(10_000));
        assert!(parse(&field).is_err());
    });
}

#[test]
fn nesting_just_under_the_limit_parses() {
    on_small_stack(|| {
        let depth = traceql_syntax::MAX_BRACKET_DEPTH - 1;
        let text = format!("{{ {}.a = 1{} }}", "(".repeat(depth), ")".repeat(depth));
        let ast = parse(&text).expect("valid");
        assert_eq!(ast.to_string(), "{ .a = 1 }");
    });
}

#[test]
fn long_operator_chains_are_bounded() {
    on_small_stack(|| {
        let chain = |op: &str, n: usize| format!("{{ .a{} }}", format!(" {op} .a").repeat(n));
        // Under the limit: parses, validates and prints.
        let ok = chain("&&", traceql_syntax::MAX_EXPRESSION_DEPTH - 1);
        let ast = parse(&ok).expect("valid");
        assert!(ast.to_string().len() > ok.len());
        for op in ["&&", "^", "+", "||"] {
            let e = parse(&chain(op, 100_000)).expect_err("too deep");
            assert!(e.message().contains("nests deeper"), "{op}: {e}");
        }
        let prefixes = format!("{{ {}.a }}", "!".repeat(100_000));
        assert!(parse(&prefixes).is_err());
        let spansets = format!("{{ .a }}{}", " >> { .a }".repeat(100_000));
        assert!(parse(&spansets).is_err());
    });
}

#[test]
fn a_one_megabyte_query_gets_an_answer() {
    on_small_stack(|| {
        let big_string = format!("{{ .a = `{}` }}", "x".repeat(1 << 20));
        assert!(parse(&big_string).is_ok());
        let big_name = format!("{{ .{} = 1 }}", "n".repeat(1 << 20));
        assert!(parse(&big_name).is_ok());
        let garbage = "{ .a = 1 } ".repeat(100_000);
        assert_eq!(
            parse(&garbage).expect_err("not one query").kind(),
            ErrorKind::Parse
        );
        let unbalanced = "\"".repeat(1 << 20);
        assert!(parse(&unbalanced).is_err());
    });
}

#[test]
fn deep_queries_work_on_a_small_stack() {
    let depth = traceql_syntax::MAX_EXPRESSION_DEPTH - 1;
    std::thread::Builder::new()
        .stack_size(256 << 10)
        .spawn(move || {
            let brackets = format!("{{ {}.a = 1{} }}", "(".repeat(depth), ")".repeat(depth));
            assert_eq!(parse(&brackets).expect("valid").to_string(), "{ .a = 1 }");
            let chain = format!("{{ .a{} }}", " && .a".repeat(depth));
            let ast = parse(&chain).expect("valid");
            let printed = ast.to_string();
            assert_eq!(parse_syntax(&printed).expect("canonical parses"), ast);
            let unary = format!("{{ {}.a }}", "!".repeat(depth));
            assert_eq!(parse(&unary).expect("valid").to_string(), unary);
        })
        .expect("spawn")
        .join()
        .expect("no stack overflow");
}
