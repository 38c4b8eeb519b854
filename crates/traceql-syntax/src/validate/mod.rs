//! Static checks on a parsed query (sections 6 and 7 of the spec).
//!
//! Validation walks the whole tree and reports every problem it finds. Children are checked
//! before a parent's "not yet supported" check, and a validation error outranks an unsupported
//! feature when the query's class is decided (see [`Error::kind`]).

pub(crate) mod types;

use crate::ast::{
    Aggregate, Attribute, BinaryOp, Field, FieldExpr, FieldExprKind, Intrinsic, MetricsExpr,
    MetricsFunction, MetricsFunctionKind, MetricsPipeline, MetricsQuery, Pipeline, Query,
    QueryBody, ScalarExpr, ScalarFilter, Scope, SecondStageKind, SpansetExpr, SpansetFilter, Stage,
    Static, Type,
};
use crate::error::{Diagnostic, Error, ErrorKind};
use crate::fold::anchored_pattern;
use crate::span::Span;
use crate::stack::guarded;

/// Checks `query` (parsed from `text`); `Ok` for a valid query, else every problem found.
pub fn validate(query: &Query, text: &str) -> Result<(), Error> {
    let mut v = Validator {
        text,
        diagnostics: Vec::new(),
    };
    match &query.body {
        QueryBody::Pipeline(p) => v.pipeline(p),
        QueryBody::ScalarFilter(f) => {
            v.scalar_filter_operands(f);
            v.unsupported(
                f.span,
                "comparing wrapped scalar pipelines is not yet supported",
            );
        }
        QueryBody::Metrics(m) => v.metrics_query(m),
    }
    match Error::from_diagnostics(v.diagnostics) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

struct Validator<'q> {
    text: &'q str,
    diagnostics: Vec<Diagnostic>,
}

impl Validator<'_> {
    fn report(&mut self, kind: ErrorKind, span: Span, message: impl Into<String>) {
        self.diagnostics.push(Diagnostic {
            kind,
            message: message.into(),
            span,
            position: span.position(self.text),
        });
    }

    fn invalid(&mut self, span: Span, message: impl Into<String>) {
        self.report(ErrorKind::Validation, span, message);
    }

    fn unsupported(&mut self, span: Span, message: impl Into<String>) {
        self.report(ErrorKind::Unsupported, span, message);
    }

    fn pipeline(&mut self, pipeline: &Pipeline) {
        guarded(|| self.pipeline_inner(pipeline))
    }

    fn pipeline_inner(&mut self, pipeline: &Pipeline) {
        for stage in &pipeline.stages {
            match stage {
                Stage::Spanset(e) => self.spanset_expr(e),
                Stage::ScalarFilter(f) => self.scalar_filter(f),
                Stage::By(g) => {
                    self.field_expr(&g.expr);
                    if !g.expr.references_span() {
                        self.invalid(
                            g.span,
                            format!("grouping field expressions must reference the span: {g}"),
                        );
                    }
                }
                Stage::Select { fields, span } => {
                    for field in fields {
                        self.field(field, *span);
                    }
                }
                Stage::Coalesce => {}
            }
        }
    }

    fn spanset_expr(&mut self, expr: &SpansetExpr) {
        guarded(|| self.spanset_expr_inner(expr))
    }

    fn spanset_expr_inner(&mut self, expr: &SpansetExpr) {
        match expr {
            SpansetExpr::Filter(f) => self.spanset_filter(f),
            SpansetExpr::Op { lhs, rhs, .. } => {
                self.spanset_expr(lhs);
                self.spanset_expr(rhs);
            }
            SpansetExpr::Pipeline(p) => self.pipeline(p),
        }
    }

    fn spanset_filter(&mut self, filter: &SpansetFilter) {
        let t = self.field_expr(&filter.expr);
        if !matches!(t, Type::Bool | Type::Attribute) {
            self.invalid(
                filter.expr.span,
                format!("spanset filter must be a boolean expression, found {t}: {filter}"),
            );
        }
    }

    /// Checks a scalar filter; only `aggregate op literal` runs.
    fn scalar_filter(&mut self, filter: &ScalarFilter) {
        self.scalar_filter_operands(filter);
        let runnable = matches!(
            (&filter.lhs, &filter.rhs),
            (ScalarExpr::Aggregate(_), ScalarExpr::Literal(_))
        );
        if !runnable {
            self.unsupported(
                filter.span,
                format!("scalar filter `{filter}` is not yet supported: only `aggregate op literal` runs"),
            );
        }
    }

    fn scalar_filter_operands(&mut self, filter: &ScalarFilter) {
        self.scalar_expr(&filter.lhs);
        self.scalar_expr(&filter.rhs);
    }

    fn scalar_expr(&mut self, expr: &ScalarExpr) {
        guarded(|| self.scalar_expr_inner(expr))
    }

    fn scalar_expr_inner(&mut self, expr: &ScalarExpr) {
        match expr {
            ScalarExpr::Aggregate(a) => self.aggregate(a),
            ScalarExpr::Literal(_) => {}
            ScalarExpr::Binary { lhs, rhs, span, .. } => {
                self.scalar_expr(lhs);
                self.scalar_expr(rhs);
                self.unsupported(
                    *span,
                    format!("arithmetic on aggregates (`{expr}`) is not yet supported"),
                );
            }
            ScalarExpr::Pipeline {
                pipeline,
                aggregate,
                ..
            } => {
                self.pipeline(pipeline);
                self.aggregate(aggregate);
            }
        }
    }

    fn aggregate(&mut self, aggregate: &Aggregate) {
        let Some(expr) = &aggregate.expr else { return };
        let t = self.field_expr(expr);
        if !(t.is_numeric() || t == Type::Attribute) {
            self.invalid(
                expr.span,
                format!("aggregate {aggregate} needs a numeric expression, found {t}"),
            );
        }
        if !expr.references_span() {
            self.invalid(
                aggregate.span,
                format!("aggregate field expressions must reference the span: {aggregate}"),
            );
        }
    }

    /// Returns the static type of `expr`, reporting every problem inside it.
    fn field_expr(&mut self, expr: &FieldExpr) -> Type {
        guarded(|| self.field_expr_inner(expr))
    }

    fn field_expr_inner(&mut self, expr: &FieldExpr) -> Type {
        match &expr.kind {
            FieldExprKind::Static(s) => s.type_of(),
            FieldExprKind::Intrinsic(i) => {
                self.intrinsic(*i, expr.span);
                i.value_type()
            }
            FieldExprKind::Attribute(a) => {
                self.attribute(a, expr.span);
                Type::Attribute
            }
            FieldExprKind::Unary { op, expr: operand } => {
                let t = self.field_expr(operand);
                types::unary_result_type(*op, t).unwrap_or_else(|message| {
                    self.invalid(expr.span, message);
                    Type::Attribute
                })
            }
            FieldExprKind::Binary { op, lhs, rhs } => {
                if matches!(op, BinaryOp::Eq | BinaryOp::Neq)
                    && (lhs.as_static() == Some(&Static::Nil)
                        || rhs.as_static() == Some(&Static::Nil))
                {
                    let other = if lhs.as_static() == Some(&Static::Nil) {
                        rhs
                    } else {
                        lhs
                    };
                    self.field_expr(other);
                    if *op == BinaryOp::Eq {
                        self.absence(other);
                    }
                    return Type::Bool;
                }
                let (lt, rt) = (self.field_expr(lhs), self.field_expr(rhs));
                if matches!(op, BinaryOp::Regex | BinaryOp::NotRegex) {
                    self.regex(rhs);
                }
                types::binary_result_type(*op, lt, rt).unwrap_or_else(|message| {
                    self.invalid(expr.span, format!("{message}: {expr}"));
                    Type::Attribute
                })
            }
        }
    }

    /// `x = nil` can never hold for an intrinsic nor for `resource.service.name`, which every
    /// span has; `x != nil` is always allowed.
    fn absence(&mut self, operand: &FieldExpr) {
        match &operand.kind {
            FieldExprKind::Intrinsic(i) => self.invalid(
                operand.span,
                format!("{i} = nil is not valid because intrinsics cannot be nil"),
            ),
            FieldExprKind::Attribute(a)
                if a.scope == Scope::Resource && !a.parent && a.name == "service.name" =>
            {
                self.invalid(
                    operand.span,
                    "resource.service.name cannot be nil: every span has it",
                )
            }
            _ => {}
        }
    }

    fn regex(&mut self, pattern: &FieldExpr) {
        match pattern.as_static() {
            Some(Static::String(p)) => {
                if let Err(e) = regex_syntax::Parser::new().parse(&anchored_pattern(p)) {
                    self.invalid(
                        pattern.span,
                        format!("invalid regex: {}", first_line(&e.to_string())),
                    );
                }
            }
            _ => self.invalid(
                pattern.span,
                format!("regex pattern must be a string literal, found {pattern}"),
            ),
        }
    }

    fn intrinsic(&mut self, intrinsic: Intrinsic, span: Span) {
        if intrinsic == Intrinsic::Parent {
            self.unsupported(span, "the parent intrinsic is not yet supported");
        }
    }

    fn attribute(&mut self, attribute: &Attribute, span: Span) {
        if attribute.parent {
            self.unsupported(
                span,
                format!("parent scope is not yet supported: {attribute}"),
            );
        }
    }

    fn field(&mut self, field: &Field, span: Span) {
        match field {
            Field::Intrinsic(i) => self.intrinsic(*i, span),
            Field::Attribute(a) => self.attribute(a, span),
        }
    }

    fn metrics_query(&mut self, query: &MetricsQuery) {
        self.metrics_expr(&query.expr, !query.second_stages.is_empty());
        if let MetricsExpr::Binary { .. } = query.expr {
            query.expr.visit_pipelines(&mut |p| {
                if let MetricsFunctionKind::Compare { .. } = p.function.kind {
                    self.invalid(p.function.span, "compare() cannot be used in arithmetic");
                }
            });
        }
        self.second_stages(query.second_stages.iter().map(|s| (&s.kind, s.span)));
    }

    fn metrics_expr(&mut self, expr: &MetricsExpr, followed_by_stages: bool) {
        guarded(|| self.metrics_expr_inner(expr, followed_by_stages))
    }

    fn metrics_expr_inner(&mut self, expr: &MetricsExpr, followed_by_stages: bool) {
        match expr {
            MetricsExpr::Pipeline(p) => self.metrics_pipeline(p, followed_by_stages),
            MetricsExpr::Literal(_) => {}
            MetricsExpr::Binary { lhs, rhs, .. } => {
                self.metrics_expr(lhs, false);
                self.metrics_expr(rhs, false);
            }
        }
    }

    fn metrics_pipeline(&mut self, p: &MetricsPipeline, followed_by_stages: bool) {
        self.pipeline(&p.pipeline);
        self.metrics_function(&p.function);
        if matches!(p.function.kind, MetricsFunctionKind::Compare { .. })
            && (followed_by_stages || !p.second_stages.is_empty())
        {
            self.invalid(
                p.function.span,
                "compare() cannot be followed by second stage functions",
            );
        }
        self.second_stages(p.second_stages.iter().map(|s| (&s.kind, s.span)));
    }

    fn second_stages<'a>(&mut self, stages: impl Iterator<Item = (&'a SecondStageKind, Span)>) {
        for (kind, span) in stages {
            if let SecondStageKind::TopK(0) | SecondStageKind::BottomK(0) = kind {
                self.invalid(
                    span,
                    "limit must be greater than 0: topk and bottomk keep at least one series",
                );
            }
        }
    }

    fn metrics_function(&mut self, function: &MetricsFunction) {
        let span = function.span;
        if function.by.len() > function.kind.max_by() {
            self.invalid(
                span,
                format!(
                    "metrics group by {} values exceeds the supported {} for {}()",
                    function.by.len(),
                    function.kind.max_by(),
                    function.kind.name(),
                ),
            );
        }
        for field in &function.by {
            self.field(field, span);
        }
        if let Some(field) = function.kind.field() {
            self.field(field, span);
            if let Field::Intrinsic(i) = field
                && !i.value_type().is_numeric()
            {
                self.invalid(
                    span,
                    format!(
                        "{}() needs a numeric attribute, found {i} ({})",
                        function.kind.name(),
                        i.value_type()
                    ),
                );
            }
        }
        match &function.kind {
            MetricsFunctionKind::QuantileOverTime { quantiles, .. } => {
                for q in quantiles {
                    if !(0.0..=1.0).contains(q) {
                        self.invalid(span, format!("quantile must be between 0 and 1: {q:?}"));
                    }
                }
            }
            MetricsFunctionKind::Compare {
                filter,
                top_n,
                window,
            } => {
                self.spanset_filter(filter);
                if let Some(n) = top_n
                    && !(1..=1000).contains(n)
                {
                    self.invalid(
                        span,
                        format!("compare() topN must be between 1 and 1000, found {n}"),
                    );
                }
                if let Some((start, end)) = window
                    && start > end
                {
                    self.invalid(
                        span,
                        format!("compare() window start {start} is after its end {end}"),
                    );
                }
            }
            _ => {}
        }
    }
}

fn first_line(message: &str) -> String {
    message
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or(message)
        .trim()
        .to_string()
}
