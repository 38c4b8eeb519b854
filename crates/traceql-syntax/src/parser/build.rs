//! Pest pairs to AST.
//!
//! Every function returns the node with its depth (the longest path to a leaf), so that
//! [`climb`] can refuse trees deep enough to overflow the later recursive passes. Constants are
//! folded as nodes are built.

use std::convert::Infallible;

use pest::iterators::{Pair, Pairs};

use super::Rule;
use super::climb::{Assoc, Reducer, Token, climb};
use crate::ast::{
    Aggregate, AggregateOp, ArithOp, Attribute, BinaryOp, ComparisonOp, Field, FieldExpr,
    FieldExprKind, GroupBy, Hint, Intrinsic, Kind, MetricsExpr, MetricsFunction,
    MetricsFunctionKind, MetricsOp, MetricsPipeline, MetricsQuery, Pipeline, Query, QueryBody,
    SCOPED_ONLY_NAMES, ScalarExpr, ScalarFilter, Scope, SecondStage, SecondStageKind, SpansetExpr,
    SpansetFilter, SpansetOp, Stage, Static, Status, UnaryOp,
};
use crate::error::{Error, ErrorKind};
use crate::fold::{fold_binary, fold_literal_arithmetic, fold_unary};
use crate::lexical::{LexError, duration, strings};
use crate::parser::climb::MAX_EXPRESSION_DEPTH;
use crate::span::Span;
use crate::stack::guarded;

type Result<T> = std::result::Result<T, Error>;

fn span_of(pair: &Pair<'_, Rule>) -> Span {
    let s = pair.as_span();
    Span::new(s.start(), s.end())
}

/// Precedence levels (Tempo's yacc table, lowest binding first).
const LEVEL_LOGICAL: u8 = 2;
const LEVEL_COMPARISON: u8 = 3;
const LEVEL_ADDITIVE: u8 = 5;
const LEVEL_NOT: u8 = 6;
const LEVEL_MULTIPLICATIVE: u8 = 7;
const LEVEL_POWER: u8 = 8;
const LEVEL_LITERAL_MINUS: u8 = 9;

/// Builds AST nodes from the pairs of one query text.
pub(super) struct Builder<'q> {
    text: &'q str,
}

impl<'q> Builder<'q> {
    pub(super) fn new(text: &'q str) -> Self {
        Builder { text }
    }

    fn error(&self, span: Span, message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Parse, message, span, self.text)
    }

    fn lex_error(&self, pair: &Pair<'_, Rule>, e: LexError) -> Error {
        let start = span_of(pair).start + e.offset;
        self.error(Span::new(start, start + 1), e.message)
    }

    /// The next pair; the grammar guarantees it exists.
    fn next<'a>(&self, pairs: &mut Pairs<'a, Rule>, near: Span) -> Result<Pair<'a, Rule>> {
        pairs
            .find(|p| !is_keyword(p.as_rule()))
            .ok_or_else(|| self.error(near, "internal error: the parse tree is missing a part"))
    }

    pub(super) fn query(&self, pair: Pair<'_, Rule>) -> Result<Query> {
        let mut body = None;
        let mut hints = Vec::new();
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::pipeline_query => body = Some(self.pipeline_query(p)?),
                Rule::metrics_expr_query => body = Some(self.metrics_expr_query(p)?),
                Rule::pipeline_expr => {
                    let (expr, _) = self.pipeline_expr(p)?;
                    body = Some(QueryBody::Pipeline(Pipeline {
                        stages: vec![Stage::Spanset(expr)],
                    }));
                }
                Rule::scalar_pipeline_filter => {
                    body = Some(QueryBody::ScalarFilter(self.scalar_pipeline_filter(p)?.0))
                }
                Rule::hints => hints = self.hints(p)?,
                _ => {}
            }
        }
        let body = body.ok_or_else(|| self.error(Span::new(0, 0), "syntax error: empty query"))?;
        Ok(Query { body, hints })
    }

    fn pipeline_query(&self, pair: Pair<'_, Rule>) -> Result<QueryBody> {
        let span = span_of(&pair);
        let mut inner = pair.into_inner();
        let (pipeline, _) = self.spanset_pipeline(self.next(&mut inner, span)?)?;
        match inner.next() {
            None => Ok(QueryBody::Pipeline(pipeline)),
            Some(tail) => {
                let (function, second_stages) = self.metrics_tail(tail)?;
                let metrics = MetricsPipeline {
                    pipeline,
                    function,
                    second_stages,
                };
                Ok(QueryBody::Metrics(MetricsQuery {
                    expr: MetricsExpr::Pipeline(Box::new(metrics)),
                    second_stages: Vec::new(),
                }))
            }
        }
    }

    // -----------------------------------------------------------------------------------------
    // Spanset pipelines

    fn spanset_pipeline(&self, pair: Pair<'_, Rule>) -> Result<(Pipeline, usize)> {
        guarded(|| self.spanset_pipeline_inner(pair))
    }

    fn spanset_pipeline_inner(&self, pair: Pair<'_, Rule>) -> Result<(Pipeline, usize)> {
        let mut stages = Vec::new();
        let mut depth = 0;
        for p in pair.into_inner() {
            let (stage, d) = self.stage(p)?;
            stages.push(stage);
            depth = depth.max(d);
        }
        Ok((Pipeline { stages }, depth + 1))
    }

    fn stage(&self, pair: Pair<'_, Rule>) -> Result<(Stage, usize)> {
        let span = span_of(&pair);
        match pair.as_rule() {
            Rule::spanset_expr => {
                let (e, d) = self.spanset_expr(pair)?;
                Ok((Stage::Spanset(e), d))
            }
            Rule::scalar_filter => {
                let (f, d) = self.scalar_filter(pair)?;
                Ok((Stage::ScalarFilter(f), d))
            }
            Rule::group_by => {
                let mut inner = pair.into_inner();
                let (expr, d) = self.field_expr(self.next(&mut inner, span)?)?;
                Ok((Stage::By(GroupBy { expr, span }), d + 1))
            }
            Rule::select => {
                let fields = self.field_refs(pair.into_inner())?;
                Ok((Stage::Select { fields, span }, 1))
            }
            Rule::coalesce => Ok((Stage::Coalesce, 1)),
            _ => Err(self.error(span, "internal error: unexpected pipeline stage")),
        }
    }

    fn spanset_expr(&self, pair: Pair<'_, Rule>) -> Result<(SpansetExpr, usize)> {
        guarded(|| self.spanset_expr_inner(pair))
    }

    fn spanset_expr_inner(&self, pair: Pair<'_, Rule>) -> Result<(SpansetExpr, usize)> {
        let tokens = pair.into_inner().map(|p| {
            let span = span_of(&p);
            match p.as_rule() {
                Rule::spanset_filter => {
                    let (f, d) = self.spanset_filter(p)?;
                    Ok(Token::Operand(SpansetExpr::Filter(f), d))
                }
                Rule::spanset_expr => self.spanset_expr(p).map(|(e, d)| Token::Operand(e, d)),
                _ => self.spanset_op(&p, span),
            }
        });
        climb(tokens, &mut SpansetReducer { builder: self })
    }

    fn spanset_op<O>(
        &self,
        pair: &Pair<'_, Rule>,
        span: Span,
    ) -> Result<Token<O, SpansetOp, Infallible>> {
        let op = SpansetOp::from_text(pair.as_str())
            .ok_or_else(|| self.error(span, "internal error: unknown spanset operator"))?;
        let level = if op.is_logical() {
            LEVEL_LOGICAL
        } else {
            LEVEL_COMPARISON
        };
        Ok(Token::Infix(op, level, Assoc::Left, span))
    }

    fn spanset_filter(&self, pair: Pair<'_, Rule>) -> Result<(SpansetFilter, usize)> {
        let span = span_of(&pair);
        match pair.into_inner().next() {
            Some(expr) => {
                let (expr, d) = self.field_expr(expr)?;
                Ok((SpansetFilter { expr, span }, d + 1))
            }
            None => Ok((
                SpansetFilter {
                    expr: FieldExpr::literal(Static::Bool(true), span),
                    span,
                },
                1,
            )),
        }
    }

    /// Wrapped sub-pipelines joined by spanset operators.
    fn pipeline_expr(&self, pair: Pair<'_, Rule>) -> Result<(SpansetExpr, usize)> {
        guarded(|| self.pipeline_expr_inner(pair))
    }

    fn pipeline_expr_inner(&self, pair: Pair<'_, Rule>) -> Result<(SpansetExpr, usize)> {
        let tokens = pair.into_inner().map(|p| {
            let span = span_of(&p);
            match p.as_rule() {
                Rule::spanset_pipeline => self
                    .spanset_pipeline(p)
                    .map(|(pl, d)| Token::Operand(SpansetExpr::Pipeline(Box::new(pl)), d)),
                Rule::pipeline_expr => self.pipeline_expr(p).map(|(e, d)| Token::Operand(e, d)),
                _ => self.spanset_op(&p, span),
            }
        });
        climb(tokens, &mut SpansetReducer { builder: self })
    }

    // -----------------------------------------------------------------------------------------
    // Field expressions

    fn field_expr(&self, pair: Pair<'_, Rule>) -> Result<(FieldExpr, usize)> {
        guarded(|| self.field_expr_inner(pair))
    }

    fn field_expr_inner(&self, pair: Pair<'_, Rule>) -> Result<(FieldExpr, usize)> {
        let span = span_of(&pair);
        let tokens = pair.into_inner().map(|p| self.field_token(p));
        match climb(tokens, &mut FieldReducer { builder: self })? {
            (FieldOperand::Expr(e), d) => Ok((e, d)),
            (FieldOperand::Nil(nil), _) => Err(self.nil_misplaced(nil.to(span))),
        }
    }

    fn nil_misplaced(&self, span: Span) -> Error {
        self.error(
            span,
            "syntax error: nil is only allowed in `x = nil` and `x != nil`",
        )
    }

    fn field_token(&self, pair: Pair<'_, Rule>) -> Result<Token<FieldOperand, BinaryOp, UnaryOp>> {
        let span = span_of(&pair);
        let expr = |kind| {
            Ok(Token::Operand(
                FieldOperand::Expr(FieldExpr::new(kind, span)),
                0,
            ))
        };
        match pair.as_rule() {
            Rule::field_prefix => Ok(match pair.as_str() {
                "-" => Token::Prefix(UnaryOp::Neg, LEVEL_ADDITIVE, span),
                _ => Token::Prefix(UnaryOp::Not, LEVEL_NOT, span),
            }),
            Rule::field_infix => {
                let (op, level, assoc) = field_infix(pair.as_str())
                    .ok_or_else(|| self.error(span, "internal error: unknown operator"))?;
                Ok(Token::Infix(op, level, assoc, span))
            }
            Rule::field_expr => {
                let (e, d) = self.field_expr(pair)?;
                Ok(Token::Operand(FieldOperand::Expr(e), d))
            }
            Rule::nil => Ok(Token::Operand(FieldOperand::Nil(span), 0)),
            Rule::attribute => expr(FieldExprKind::Attribute(self.attribute(pair)?)),
            Rule::intrinsic => expr(FieldExprKind::Intrinsic(self.intrinsic(pair)?)),
            _ => expr(FieldExprKind::Static(self.literal(pair)?)),
        }
    }

    /// A literal token: string, number, duration, boolean, status, kind, `minInt`, `maxInt`.
    fn literal(&self, pair: Pair<'_, Rule>) -> Result<Static> {
        let span = span_of(&pair);
        let text = pair.as_str();
        Ok(match pair.as_rule() {
            Rule::string => {
                Static::String(strings::unquote(text).map_err(|e| self.lex_error(&pair, e))?)
            }
            Rule::integer | Rule::float | Rule::duration | Rule::int_constant => {
                self.number(&pair)?
            }
            Rule::boolean => Static::Bool(text == "true"),
            Rule::status => Static::Status(match text {
                "error" => Status::Error,
                "ok" => Status::Ok,
                _ => Status::Unset,
            }),
            Rule::kind => Static::Kind(match text {
                "unspecified" => Kind::Unspecified,
                "internal" => Kind::Internal,
                "server" => Kind::Server,
                "client" => Kind::Client,
                "producer" => Kind::Producer,
                _ => Kind::Consumer,
            }),
            _ => return Err(self.error(span, "internal error: unexpected literal")),
        })
    }

    fn number(&self, pair: &Pair<'_, Rule>) -> Result<Static> {
        let span = span_of(pair);
        let text = pair.as_str();
        match pair.as_rule() {
            Rule::integer => text.parse::<i64>().map(Static::Int).map_err(|_| {
                self.error(
                    span,
                    format!("syntax error: integer {text} is out of range"),
                )
            }),
            Rule::float => match text.parse::<f64>() {
                Ok(v) if v.is_finite() => Ok(Static::Float(v)),
                _ => Err(self.error(span, format!("syntax error: float {text} is out of range"))),
            },
            Rule::int_constant => Ok(Static::Int(if text == "minInt" {
                i64::MIN
            } else {
                i64::MAX
            })),
            Rule::duration => duration::parse(text).map(Static::Duration).ok_or_else(|| {
                self.error(span, format!("syntax error: invalid duration `{text}`"))
            }),
            _ => Err(self.error(span, "internal error: expected a number")),
        }
    }

    fn attribute(&self, pair: Pair<'_, Rule>) -> Result<Attribute> {
        let span = span_of(&pair);
        let mut inner = pair.into_inner();
        let scope_pair = self.next(&mut inner, span)?;
        let (scope, parent) = match scope_pair.as_str() {
            "parent.span." => (Scope::Span, true),
            "parent.resource." => (Scope::Resource, true),
            "parent." => (Scope::Unscoped, true),
            "span." => (Scope::Span, false),
            "resource." => (Scope::Resource, false),
            "event." => (Scope::Event, false),
            "link." => (Scope::Link, false),
            "instrumentation." => (Scope::Instrumentation, false),
            _ => (Scope::Unscoped, false),
        };
        let name_pair = self.next(&mut inner, span)?;
        let name = strings::unquote_attribute_name(name_pair.as_str())
            .map_err(|e| self.lex_error(&name_pair, e))?;
        Ok(Attribute {
            scope,
            parent,
            name,
        })
    }

    fn intrinsic(&self, pair: Pair<'_, Rule>) -> Result<Intrinsic> {
        let span = span_of(&pair);
        let text = pair.as_str();
        if let Some((scope, name)) = text.split_once(':') {
            return Intrinsic::from_scoped(scope, name).ok_or_else(|| {
                self.error(span, format!("syntax error: unknown intrinsic `{text}`"))
            });
        }
        if let Some(i) = Intrinsic::from_old_style(text) {
            return Ok(i);
        }
        if SCOPED_ONLY_NAMES.contains(&text) {
            let hint = match text {
                "id" => "span:id or trace:id".to_string(),
                "traceID" | "spanID" => format!("link:{text}"),
                "parentID" | "childCount" => format!("span:{text}"),
                "timeSinceStart" => "event:timeSinceStart".to_string(),
                "version" => "instrumentation:version".to_string(),
                _ => "trace:rootService".to_string(),
            };
            return Err(self.error(
                span,
                format!("syntax error: `{text}` needs a scope: write {hint}"),
            ));
        }
        Err(self.error(span, format!("unknown identifier: {text}")))
    }

    fn field_refs(&self, pairs: Pairs<'_, Rule>) -> Result<Vec<Field>> {
        pairs
            .filter(|p| !is_keyword(p.as_rule()))
            .map(|p| self.field_ref(p))
            .collect()
    }

    fn field_ref(&self, pair: Pair<'_, Rule>) -> Result<Field> {
        match pair.as_rule() {
            Rule::attribute => self.attribute(pair).map(Field::Attribute),
            _ => self.intrinsic(pair).map(Field::Intrinsic),
        }
    }

    // -----------------------------------------------------------------------------------------
    // Scalar filters

    fn scalar_filter(&self, pair: Pair<'_, Rule>) -> Result<(ScalarFilter, usize)> {
        let span = span_of(&pair);
        let mut inner = pair.into_inner();
        let (lhs, ld) = self.scalar_expr(self.next(&mut inner, span)?)?;
        let op = comparison_op(self.next(&mut inner, span)?.as_str());
        let (rhs, rd) = self.scalar_expr(self.next(&mut inner, span)?)?;
        if !contains_aggregate(&lhs) && !contains_aggregate(&rhs) {
            return Err(self.error(
                span,
                "syntax error: a scalar filter needs an aggregate such as count() or avg(duration)",
            ));
        }
        Ok((ScalarFilter { op, lhs, rhs, span }, ld.max(rd) + 1))
    }

    /// `scalar_expr`, `literal_scalar` and `scalar_pipeline_expr` share one shape.
    fn scalar_expr(&self, pair: Pair<'_, Rule>) -> Result<(ScalarExpr, usize)> {
        guarded(|| self.scalar_expr_inner(pair))
    }

    fn scalar_expr_inner(&self, pair: Pair<'_, Rule>) -> Result<(ScalarExpr, usize)> {
        let tokens = pair.into_inner().map(|p| {
            let span = span_of(&p);
            match p.as_rule() {
                Rule::minus => Ok(Token::Prefix((), LEVEL_LITERAL_MINUS, span)),
                Rule::arith_op => {
                    let (op, level, assoc) = arith_op(p.as_str());
                    Ok(Token::Infix(op, level, assoc, span))
                }
                Rule::aggregate => self
                    .aggregate(p)
                    .map(|(a, d)| Token::Operand(ScalarExpr::Aggregate(a), d)),
                Rule::scalar_expr | Rule::literal_scalar | Rule::scalar_pipeline_expr => {
                    self.scalar_expr(p).map(|(e, d)| Token::Operand(e, d))
                }
                Rule::wrapped_scalar_pipeline => {
                    let mut inner = p.into_inner();
                    let (pipeline, pd) = self.spanset_pipeline(self.next(&mut inner, span)?)?;
                    let (aggregate, ad) = self.aggregate(self.next(&mut inner, span)?)?;
                    let pipeline = Box::new(pipeline);
                    Ok(Token::Operand(
                        ScalarExpr::Pipeline {
                            pipeline,
                            aggregate,
                            span,
                        },
                        pd.max(ad) + 1,
                    ))
                }
                _ => self
                    .number(&p)
                    .map(|n| Token::Operand(ScalarExpr::Literal(n), 0)),
            }
        });
        climb(tokens, &mut ScalarReducer { builder: self })
    }

    fn aggregate(&self, pair: Pair<'_, Rule>) -> Result<(Aggregate, usize)> {
        let span = span_of(&pair);
        let inner = self.next(&mut pair.into_inner(), span)?;
        if inner.as_rule() == Rule::count_agg {
            return Ok((
                Aggregate {
                    op: AggregateOp::Count,
                    expr: None,
                    span,
                },
                1,
            ));
        }
        let mut parts = inner.into_inner();
        let op = match self.next(&mut parts, span)?.as_str() {
            "avg" => AggregateOp::Avg,
            "max" => AggregateOp::Max,
            "min" => AggregateOp::Min,
            _ => AggregateOp::Sum,
        };
        let (expr, d) = self.field_expr(self.next(&mut parts, span)?)?;
        Ok((
            Aggregate {
                op,
                expr: Some(expr),
                span,
            },
            d + 1,
        ))
    }

    fn scalar_pipeline_filter(&self, pair: Pair<'_, Rule>) -> Result<(ScalarFilter, usize)> {
        let span = span_of(&pair);
        let mut inner = pair.into_inner();
        let (lhs, ld) = self.scalar_expr(self.next(&mut inner, span)?)?;
        let op = comparison_op(self.next(&mut inner, span)?.as_str());
        let (rhs, rd) = self.scalar_expr(self.next(&mut inner, span)?)?;
        Ok((ScalarFilter { op, lhs, rhs, span }, ld.max(rd) + 1))
    }

    /// A `literal_scalar`: folded to one numeric literal.
    fn literal_scalar(&self, pair: Pair<'_, Rule>) -> Result<Static> {
        let span = span_of(&pair);
        match self.scalar_expr(pair)?.0 {
            ScalarExpr::Literal(value) => Ok(value),
            _ => Err(self.error(span, "syntax error: expected a number")),
        }
    }

    // -----------------------------------------------------------------------------------------
    // Metrics

    fn metrics_tail(&self, pair: Pair<'_, Rule>) -> Result<(MetricsFunction, Vec<SecondStage>)> {
        let span = span_of(&pair);
        let mut inner = pair.into_inner();
        let function = self.metrics_function(self.next(&mut inner, span)?)?;
        let stages = inner.map(|p| self.second_stage(p)).collect::<Result<_>>()?;
        Ok((function, stages))
    }

    fn metrics_function(&self, pair: Pair<'_, Rule>) -> Result<MetricsFunction> {
        let span = span_of(&pair);
        let rule = pair.as_rule();
        let mut field = None;
        let mut numbers = Vec::new();
        let mut by = Vec::new();
        let mut filter = None;
        let mut name = "";
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::over_time_name => name = p.as_str(),
                Rule::attribute | Rule::intrinsic => field = Some(self.field_ref(p)?),
                Rule::integer | Rule::float => numbers.push(self.number(&p)?),
                Rule::metrics_by => by = self.field_refs(p.into_inner())?,
                Rule::spanset_filter => filter = Some(self.spanset_filter(p)?.0),
                _ => {}
            }
        }
        let missing = || self.error(span, "internal error: metrics function is missing a part");
        let kind = match rule {
            Rule::rate_fn => MetricsFunctionKind::Rate,
            Rule::count_over_time_fn => MetricsFunctionKind::CountOverTime,
            Rule::value_over_time_fn => {
                let field = field.ok_or_else(missing)?;
                match name {
                    "min_over_time" => MetricsFunctionKind::MinOverTime(field),
                    "max_over_time" => MetricsFunctionKind::MaxOverTime(field),
                    "avg_over_time" => MetricsFunctionKind::AvgOverTime(field),
                    _ => MetricsFunctionKind::SumOverTime(field),
                }
            }
            Rule::quantile_fn => MetricsFunctionKind::QuantileOverTime {
                field: field.ok_or_else(missing)?,
                quantiles: numbers
                    .iter()
                    .map(|n| match n {
                        Static::Int(v) => *v as f64,
                        Static::Float(v) => *v,
                        _ => f64::NAN,
                    })
                    .collect(),
            },
            Rule::histogram_fn => {
                MetricsFunctionKind::HistogramOverTime(field.ok_or_else(missing)?)
            }
            _ => {
                let ints: Vec<i64> = numbers
                    .iter()
                    .map(|n| if let Static::Int(v) = n { *v } else { 0 })
                    .collect();
                MetricsFunctionKind::Compare {
                    filter: filter.ok_or_else(missing)?,
                    top_n: ints.first().copied(),
                    window: (ints.len() == 3).then(|| (ints[1], ints[2])),
                }
            }
        };
        Ok(MetricsFunction { kind, by, span })
    }

    fn second_stage(&self, pair: Pair<'_, Rule>) -> Result<SecondStage> {
        let span = span_of(&pair);
        let mut inner = pair.into_inner();
        let first = self.next(&mut inner, span)?;
        let kind = match first.as_rule() {
            Rule::topk | Rule::bottomk => {
                let is_top = first.as_rule() == Rule::topk;
                let n_pair = self.next(&mut first.into_inner(), span)?;
                let n = n_pair.as_str().parse::<u64>().map_err(|_| {
                    self.error(
                        span_of(&n_pair),
                        "syntax error: topk/bottomk limit is out of range",
                    )
                })?;
                if is_top {
                    SecondStageKind::TopK(n)
                } else {
                    SecondStageKind::BottomK(n)
                }
            }
            _ => {
                let op = comparison_op(first.as_str());
                let value = self.literal_scalar(self.next(&mut inner, span)?)?;
                SecondStageKind::Filter { op, value }
            }
        };
        Ok(SecondStage { kind, span })
    }

    fn metrics_expr_query(&self, pair: Pair<'_, Rule>) -> Result<QueryBody> {
        let span = span_of(&pair);
        let mut inner = pair.into_inner();
        let (expr, _) = self.metrics_expr(self.next(&mut inner, span)?)?;
        let stages: Vec<SecondStage> =
            inner.map(|p| self.second_stage(p)).collect::<Result<_>>()?;
        let query = match expr {
            MetricsExpr::Literal(_) => {
                return Err(self.error(
                    span,
                    "syntax error: expected a metrics query such as ({ } | rate())",
                ));
            }
            // `({ } | rate() > 1) > 2` is the same query as `{ } | rate() > 1 > 2`.
            MetricsExpr::Pipeline(mut p) => {
                p.second_stages.extend(stages);
                MetricsQuery {
                    expr: MetricsExpr::Pipeline(p),
                    second_stages: Vec::new(),
                }
            }
            expr => MetricsQuery {
                expr,
                second_stages: stages,
            },
        };
        Ok(QueryBody::Metrics(query))
    }

    fn metrics_expr(&self, pair: Pair<'_, Rule>) -> Result<(MetricsExpr, usize)> {
        guarded(|| self.metrics_expr_inner(pair))
    }

    fn metrics_expr_inner(&self, pair: Pair<'_, Rule>) -> Result<(MetricsExpr, usize)> {
        let tokens = pair.into_inner().map(|p| {
            let span = span_of(&p);
            match p.as_rule() {
                Rule::minus => Ok(Token::Prefix((), LEVEL_LITERAL_MINUS, span)),
                Rule::metrics_op => {
                    let (op, level) = match p.as_str() {
                        "+" => (MetricsOp::Add, LEVEL_ADDITIVE),
                        "-" => (MetricsOp::Sub, LEVEL_ADDITIVE),
                        "*" => (MetricsOp::Mul, LEVEL_MULTIPLICATIVE),
                        _ => (MetricsOp::Div, LEVEL_MULTIPLICATIVE),
                    };
                    Ok(Token::Infix(op, level, Assoc::Left, span))
                }
                Rule::metrics_expr => self.metrics_expr(p).map(|(e, d)| Token::Operand(e, d)),
                Rule::wrapped_metrics => {
                    let mut inner = p.into_inner();
                    let (pipeline, d) = self.spanset_pipeline(self.next(&mut inner, span)?)?;
                    let (function, second_stages) =
                        self.metrics_tail(self.next(&mut inner, span)?)?;
                    let metrics = MetricsPipeline {
                        pipeline,
                        function,
                        second_stages,
                    };
                    Ok(Token::Operand(
                        MetricsExpr::Pipeline(Box::new(metrics)),
                        d + 1,
                    ))
                }
                _ => match self.number(&p)? {
                    Static::Duration(_) => Err(self.error(
                        span,
                        "syntax error: durations cannot be used in metrics arithmetic",
                    )),
                    n => Ok(Token::Operand(MetricsExpr::Literal(n), 0)),
                },
            }
        });
        climb(tokens, &mut MetricsReducer { builder: self })
    }

    // -----------------------------------------------------------------------------------------
    // Hints

    fn hints(&self, pair: Pair<'_, Rule>) -> Result<Vec<Hint>> {
        pair.into_inner()
            .filter(|p| p.as_rule() == Rule::hint)
            .map(|p| {
                let span = span_of(&p);
                let mut inner = p.into_inner();
                let name = self.next(&mut inner, span)?.as_str().to_string();
                let value = self.literal(self.next(&mut inner, span)?)?;
                Ok(Hint { name, value, span })
            })
            .collect()
    }
}

fn is_keyword(rule: Rule) -> bool {
    matches!(
        rule,
        Rule::kw_by
            | Rule::kw_select
            | Rule::kw_coalesce
            | Rule::kw_count
            | Rule::kw_rate
            | Rule::kw_count_over_time
            | Rule::kw_quantile_over_time
            | Rule::kw_histogram_over_time
            | Rule::kw_compare
            | Rule::kw_topk
            | Rule::kw_bottomk
            | Rule::kw_with
    )
}

fn field_infix(text: &str) -> Option<(BinaryOp, u8, Assoc)> {
    let (op, level) = match text {
        "&&" => (BinaryOp::And, LEVEL_LOGICAL),
        "||" => (BinaryOp::Or, LEVEL_LOGICAL),
        "=" => (BinaryOp::Eq, LEVEL_COMPARISON),
        "!=" => (BinaryOp::Neq, LEVEL_COMPARISON),
        "<" => (BinaryOp::Lt, LEVEL_COMPARISON),
        "<=" => (BinaryOp::Lte, LEVEL_COMPARISON),
        ">" => (BinaryOp::Gt, LEVEL_COMPARISON),
        ">=" => (BinaryOp::Gte, LEVEL_COMPARISON),
        "=~" => (BinaryOp::Regex, LEVEL_COMPARISON),
        "!~" => (BinaryOp::NotRegex, LEVEL_COMPARISON),
        "+" => (BinaryOp::Add, LEVEL_ADDITIVE),
        "-" => (BinaryOp::Sub, LEVEL_ADDITIVE),
        "*" => (BinaryOp::Mul, LEVEL_MULTIPLICATIVE),
        "/" => (BinaryOp::Div, LEVEL_MULTIPLICATIVE),
        "%" => (BinaryOp::Mod, LEVEL_MULTIPLICATIVE),
        "^" => return Some((BinaryOp::Pow, LEVEL_POWER, Assoc::Right)),
        _ => return None,
    };
    Some((op, level, Assoc::Left))
}

fn arith_op(text: &str) -> (ArithOp, u8, Assoc) {
    match text {
        "+" => (ArithOp::Add, LEVEL_ADDITIVE, Assoc::Left),
        "-" => (ArithOp::Sub, LEVEL_ADDITIVE, Assoc::Left),
        "*" => (ArithOp::Mul, LEVEL_MULTIPLICATIVE, Assoc::Left),
        "/" => (ArithOp::Div, LEVEL_MULTIPLICATIVE, Assoc::Left),
        "%" => (ArithOp::Mod, LEVEL_MULTIPLICATIVE, Assoc::Left),
        _ => (ArithOp::Pow, LEVEL_POWER, Assoc::Right),
    }
}

fn comparison_op(text: &str) -> ComparisonOp {
    match text {
        "=" => ComparisonOp::Eq,
        "!=" => ComparisonOp::Neq,
        "<" => ComparisonOp::Lt,
        "<=" => ComparisonOp::Lte,
        ">" => ComparisonOp::Gt,
        _ => ComparisonOp::Gte,
    }
}

fn arith_as_binary(op: ArithOp) -> BinaryOp {
    match op {
        ArithOp::Add => BinaryOp::Add,
        ArithOp::Sub => BinaryOp::Sub,
        ArithOp::Mul => BinaryOp::Mul,
        ArithOp::Div => BinaryOp::Div,
        ArithOp::Mod => BinaryOp::Mod,
        ArithOp::Pow => BinaryOp::Pow,
    }
}

fn contains_aggregate(expr: &ScalarExpr) -> bool {
    match expr {
        ScalarExpr::Aggregate(_) | ScalarExpr::Pipeline { .. } => true,
        ScalarExpr::Literal(_) => false,
        ScalarExpr::Binary { lhs, rhs, .. } => contains_aggregate(lhs) || contains_aggregate(rhs),
    }
}

/// Negates a numeric literal (`-` on literal scalars).
fn negate(value: &Static) -> Option<Static> {
    fold_unary(UnaryOp::Neg, value)
}

/// Strips leading zeros from string literals compared with `trace:id`.
fn strip_trace_id(op: BinaryOp, expr: &mut FieldExpr, other: &FieldExpr) {
    if !matches!(op, BinaryOp::Eq | BinaryOp::Neq)
        || other.kind != FieldExprKind::Intrinsic(Intrinsic::TraceId)
    {
        return;
    }
    if let FieldExprKind::Static(Static::String(s)) = &mut expr.kind {
        let stripped = s.trim_start_matches('0');
        if stripped.len() != s.len() {
            *s = stripped.to_string();
        }
    }
}

fn too_deep(builder: &Builder<'_>, span: Span) -> Error {
    builder.error(
        span,
        format!("syntax error: expression nests deeper than {MAX_EXPRESSION_DEPTH} levels"),
    )
}

/// A field operand: an expression, or a `nil` waiting for its `=`/`!=`.
enum FieldOperand {
    Expr(FieldExpr),
    Nil(Span),
}

struct FieldReducer<'b, 'q> {
    builder: &'b Builder<'q>,
}

impl Reducer<FieldOperand, BinaryOp, UnaryOp> for FieldReducer<'_, '_> {
    fn infix(
        &mut self,
        op: BinaryOp,
        span: Span,
        lhs: FieldOperand,
        rhs: FieldOperand,
    ) -> Result<FieldOperand> {
        let existence = matches!(op, BinaryOp::Eq | BinaryOp::Neq);
        let nil = |s: Span| FieldExpr::literal(Static::Nil, s);
        let (mut lhs, mut rhs) = match (lhs, rhs) {
            (FieldOperand::Nil(a), FieldOperand::Nil(b)) if existence => {
                return Ok(FieldOperand::Expr(FieldExpr::literal(
                    Static::Bool(false),
                    a.to(b),
                )));
            }
            (FieldOperand::Nil(n), FieldOperand::Expr(e)) if existence => (nil(n), e),
            (FieldOperand::Expr(e), FieldOperand::Nil(n)) if existence => (e, nil(n)),
            (FieldOperand::Nil(n), _) | (_, FieldOperand::Nil(n)) => {
                return Err(self.builder.nil_misplaced(n.to(span)));
            }
            (FieldOperand::Expr(l), FieldOperand::Expr(r)) => (l, r),
        };
        strip_trace_id(op, &mut rhs, &lhs);
        strip_trace_id(op, &mut lhs, &rhs);
        let span = lhs.span.to(rhs.span);
        if let (Some(a), Some(b)) = (lhs.as_static(), rhs.as_static())
            && let Some(value) = fold_binary(op, a, b)
        {
            return Ok(FieldOperand::Expr(FieldExpr::literal(value, span)));
        }
        let kind = FieldExprKind::Binary {
            op,
            lhs: Box::new(lhs),
            rhs: Box::new(rhs),
        };
        Ok(FieldOperand::Expr(FieldExpr::new(kind, span)))
    }

    fn prefix(&mut self, op: UnaryOp, span: Span, operand: FieldOperand) -> Result<FieldOperand> {
        let expr = match operand {
            FieldOperand::Nil(n) => return Err(self.builder.nil_misplaced(span.to(n))),
            FieldOperand::Expr(e) => e,
        };
        let span = span.to(expr.span);
        if let Some(value) = expr.as_static().and_then(|s| fold_unary(op, s)) {
            return Ok(FieldOperand::Expr(FieldExpr::literal(value, span)));
        }
        let kind = FieldExprKind::Unary {
            op,
            expr: Box::new(expr),
        };
        Ok(FieldOperand::Expr(FieldExpr::new(kind, span)))
    }

    fn too_deep(&mut self, span: Span) -> Error {
        too_deep(self.builder, span)
    }
}

struct SpansetReducer<'b, 'q> {
    builder: &'b Builder<'q>,
}

impl Reducer<SpansetExpr, SpansetOp, Infallible> for SpansetReducer<'_, '_> {
    fn infix(
        &mut self,
        op: SpansetOp,
        _: Span,
        lhs: SpansetExpr,
        rhs: SpansetExpr,
    ) -> Result<SpansetExpr> {
        Ok(SpansetExpr::Op {
            op,
            lhs: Box::new(lhs),
            rhs: Box::new(rhs),
        })
    }

    fn prefix(&mut self, op: Infallible, _: Span, _: SpansetExpr) -> Result<SpansetExpr> {
        match op {}
    }

    fn too_deep(&mut self, span: Span) -> Error {
        too_deep(self.builder, span)
    }
}

struct ScalarReducer<'b, 'q> {
    builder: &'b Builder<'q>,
}

impl Reducer<ScalarExpr, ArithOp, ()> for ScalarReducer<'_, '_> {
    fn infix(
        &mut self,
        op: ArithOp,
        span: Span,
        lhs: ScalarExpr,
        rhs: ScalarExpr,
    ) -> Result<ScalarExpr> {
        if let (ScalarExpr::Literal(a), ScalarExpr::Literal(b)) = (&lhs, &rhs) {
            return fold_literal_arithmetic(arith_as_binary(op), a, b)
                .map(ScalarExpr::Literal)
                .map_err(|m| self.builder.error(span, format!("syntax error: {m}")));
        }
        Ok(ScalarExpr::Binary {
            op,
            lhs: Box::new(lhs),
            rhs: Box::new(rhs),
            span,
        })
    }

    fn prefix(&mut self, _: (), span: Span, operand: ScalarExpr) -> Result<ScalarExpr> {
        match &operand {
            ScalarExpr::Literal(v) => negate(v).map(ScalarExpr::Literal).ok_or_else(|| {
                self.builder
                    .error(span, "syntax error: cannot negate this literal")
            }),
            _ => Err(self.builder.error(
                span,
                "syntax error: unary minus only applies to numbers here",
            )),
        }
    }

    fn too_deep(&mut self, span: Span) -> Error {
        too_deep(self.builder, span)
    }
}

struct MetricsReducer<'b, 'q> {
    builder: &'b Builder<'q>,
}

impl Reducer<MetricsExpr, MetricsOp, ()> for MetricsReducer<'_, '_> {
    fn infix(
        &mut self,
        op: MetricsOp,
        span: Span,
        lhs: MetricsExpr,
        rhs: MetricsExpr,
    ) -> Result<MetricsExpr> {
        if let (MetricsExpr::Literal(a), MetricsExpr::Literal(b)) = (&lhs, &rhs) {
            let op = match op {
                MetricsOp::Add => BinaryOp::Add,
                MetricsOp::Sub => BinaryOp::Sub,
                MetricsOp::Mul => BinaryOp::Mul,
                MetricsOp::Div => BinaryOp::Div,
            };
            return fold_literal_arithmetic(op, a, b)
                .map(MetricsExpr::Literal)
                .map_err(|m| self.builder.error(span, format!("syntax error: {m}")));
        }
        Ok(MetricsExpr::Binary {
            op,
            lhs: Box::new(lhs),
            rhs: Box::new(rhs),
            span,
        })
    }

    fn prefix(&mut self, _: (), span: Span, operand: MetricsExpr) -> Result<MetricsExpr> {
        match &operand {
            MetricsExpr::Literal(v) => negate(v).map(MetricsExpr::Literal).ok_or_else(|| {
                self.builder
                    .error(span, "syntax error: cannot negate this literal")
            }),
            _ => Err(self.builder.error(
                span,
                "syntax error: unary minus only applies to numbers here",
            )),
        }
    }

    fn too_deep(&mut self, span: Span) -> Error {
        too_deep(self.builder, span)
    }
}
