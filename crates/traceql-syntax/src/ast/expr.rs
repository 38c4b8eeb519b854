//! Field expressions: literals, intrinsics, attributes and the operators inside `{ }`.

use std::fmt;

use crate::lexical::{duration, strings};
use crate::span::Span;

/// A literal value.
#[derive(Clone, Debug, PartialEq)]
pub enum Static {
    /// `nil`: only appears as an operand of `=`/`!=` (existence checks).
    Nil,
    /// A signed 64-bit integer (`200`, `minInt`, `maxInt`).
    Int(i64),
    /// A double (`1.5`, `.5`, `1e3`); always finite.
    Float(f64),
    /// A string (`"x"`, `` `x` ``).
    String(String),
    /// `true` or `false`.
    Bool(bool),
    /// A duration in nanoseconds (`100ms`, `1h30m`).
    Duration(i64),
    /// `ok`, `error`, `unset`.
    Status(Status),
    /// `unspecified`, `internal`, `server`, `client`, `producer`, `consumer`.
    Kind(Kind),
}

/// Span status values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Status {
    /// `error`
    Error,
    /// `ok`
    Ok,
    /// `unset`
    Unset,
}

/// Span kind values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// `unspecified`
    Unspecified,
    /// `internal`
    Internal,
    /// `client`
    Client,
    /// `server`
    Server,
    /// `producer`
    Producer,
    /// `consumer`
    Consumer,
}

impl Status {
    /// The keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Error => "error",
            Status::Ok => "ok",
            Status::Unset => "unset",
        }
    }
}

impl Kind {
    /// The keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Unspecified => "unspecified",
            Kind::Internal => "internal",
            Kind::Client => "client",
            Kind::Server => "server",
            Kind::Producer => "producer",
            Kind::Consumer => "consumer",
        }
    }
}

/// The static type of a value or expression, as validation sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Type {
    /// `nil`.
    Nil,
    /// 64-bit integer.
    Int,
    /// Double.
    Float,
    /// String.
    String,
    /// Boolean.
    Bool,
    /// Duration (nanoseconds).
    Duration,
    /// Span status.
    Status,
    /// Span kind.
    Kind,
    /// Not known before execution: any attribute.
    Attribute,
}

impl Type {
    /// Int, float or duration.
    pub fn is_numeric(self) -> bool {
        matches!(self, Type::Int | Type::Float | Type::Duration)
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Type::Nil => "nil",
            Type::Int => "int",
            Type::Float => "float",
            Type::String => "string",
            Type::Bool => "bool",
            Type::Duration => "duration",
            Type::Status => "status",
            Type::Kind => "kind",
            Type::Attribute => "attribute",
        })
    }
}

impl Static {
    /// The value's type.
    pub fn type_of(&self) -> Type {
        match self {
            Static::Nil => Type::Nil,
            Static::Int(_) => Type::Int,
            Static::Float(_) => Type::Float,
            Static::String(_) => Type::String,
            Static::Bool(_) => Type::Bool,
            Static::Duration(_) => Type::Duration,
            Static::Status(_) => Type::Status,
            Static::Kind(_) => Type::Kind,
        }
    }

    /// True for literals that print with a leading minus sign.
    pub(crate) fn is_negative(&self) -> bool {
        match self {
            Static::Int(v) | Static::Duration(v) => *v < 0,
            Static::Float(v) => v.is_sign_negative(),
            _ => false,
        }
    }
}

impl fmt::Display for Static {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Static::Nil => f.write_str("nil"),
            Static::Int(i64::MIN) => f.write_str("minInt"),
            Static::Int(v) => write!(f, "{v}"),
            Static::Float(v) => write!(f, "{v:?}"),
            Static::String(s) => f.write_str(&strings::quote(s)),
            Static::Bool(b) => write!(f, "{b}"),
            Static::Duration(ns) => f.write_str(&duration::format(*ns)),
            Static::Status(s) => f.write_str(s.as_str()),
            Static::Kind(k) => f.write_str(k.as_str()),
        }
    }
}

/// An intrinsic: a property every span (or its trace, event, link or scope) has.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Intrinsic {
    /// `duration`, `span:duration`
    Duration,
    /// `name`, `span:name`
    Name,
    /// `status`, `span:status`
    Status,
    /// `statusMessage`, `span:statusMessage`
    StatusMessage,
    /// `kind`, `span:kind`
    Kind,
    /// `span:id`
    SpanId,
    /// `span:parentID`
    ParentId,
    /// `span:childCount`
    ChildCount,
    /// `rootName`, `trace:rootName`
    TraceRootName,
    /// `rootServiceName`, `trace:rootService`
    TraceRootService,
    /// `traceDuration`, `trace:duration`
    TraceDuration,
    /// `trace:id`
    TraceId,
    /// `event:name`
    EventName,
    /// `event:timeSinceStart`
    EventTimeSinceStart,
    /// `link:traceID`
    LinkTraceId,
    /// `link:spanID`
    LinkSpanId,
    /// `instrumentation:name`
    InstrumentationName,
    /// `instrumentation:version`
    InstrumentationVersion,
    /// `nestedSetLeft`
    NestedSetLeft,
    /// `nestedSetRight`
    NestedSetRight,
    /// `nestedSetParent`
    NestedSetParent,
    /// `parent`: parses, but TraceQL does not run it.
    Parent,
}

/// Every intrinsic, for tables and tests.
pub const ALL_INTRINSICS: [Intrinsic; 22] = [
    Intrinsic::Duration,
    Intrinsic::Name,
    Intrinsic::Status,
    Intrinsic::StatusMessage,
    Intrinsic::Kind,
    Intrinsic::SpanId,
    Intrinsic::ParentId,
    Intrinsic::ChildCount,
    Intrinsic::TraceRootName,
    Intrinsic::TraceRootService,
    Intrinsic::TraceDuration,
    Intrinsic::TraceId,
    Intrinsic::EventName,
    Intrinsic::EventTimeSinceStart,
    Intrinsic::LinkTraceId,
    Intrinsic::LinkSpanId,
    Intrinsic::InstrumentationName,
    Intrinsic::InstrumentationVersion,
    Intrinsic::NestedSetLeft,
    Intrinsic::NestedSetRight,
    Intrinsic::NestedSetParent,
    Intrinsic::Parent,
];

/// Name parts that are tokens but only valid after a `scope:` prefix.
pub(crate) const SCOPED_ONLY_NAMES: [&str; 8] = [
    "id",
    "traceID",
    "spanID",
    "parentID",
    "childCount",
    "timeSinceStart",
    "version",
    "rootService",
];

impl Intrinsic {
    /// The intrinsic written without a scope (`duration`, `rootServiceName`, …).
    pub fn from_old_style(name: &str) -> Option<Intrinsic> {
        Some(match name {
            "duration" => Intrinsic::Duration,
            "name" => Intrinsic::Name,
            "status" => Intrinsic::Status,
            "statusMessage" => Intrinsic::StatusMessage,
            "kind" => Intrinsic::Kind,
            "rootName" => Intrinsic::TraceRootName,
            "rootServiceName" => Intrinsic::TraceRootService,
            "traceDuration" => Intrinsic::TraceDuration,
            "nestedSetLeft" => Intrinsic::NestedSetLeft,
            "nestedSetRight" => Intrinsic::NestedSetRight,
            "nestedSetParent" => Intrinsic::NestedSetParent,
            "parent" => Intrinsic::Parent,
            _ => return None,
        })
    }

    /// The intrinsic written `scope:name` (`span:id`, `trace:rootService`, …).
    pub fn from_scoped(scope: &str, name: &str) -> Option<Intrinsic> {
        Some(match (scope, name) {
            ("span", "duration") => Intrinsic::Duration,
            ("span", "name") => Intrinsic::Name,
            ("span", "status") => Intrinsic::Status,
            ("span", "statusMessage") => Intrinsic::StatusMessage,
            ("span", "kind") => Intrinsic::Kind,
            ("span", "id") => Intrinsic::SpanId,
            ("span", "parentID") => Intrinsic::ParentId,
            ("span", "childCount") => Intrinsic::ChildCount,
            ("trace", "rootName") => Intrinsic::TraceRootName,
            ("trace", "rootService") => Intrinsic::TraceRootService,
            ("trace", "duration") => Intrinsic::TraceDuration,
            ("trace", "id") => Intrinsic::TraceId,
            ("event", "name") => Intrinsic::EventName,
            ("event", "timeSinceStart") => Intrinsic::EventTimeSinceStart,
            ("link", "traceID") => Intrinsic::LinkTraceId,
            ("link", "spanID") => Intrinsic::LinkSpanId,
            ("instrumentation", "name") => Intrinsic::InstrumentationName,
            ("instrumentation", "version") => Intrinsic::InstrumentationVersion,
            _ => return None,
        })
    }

    /// The canonical name: the old-style name where one exists (used for labels, select keys
    /// and tag lists), else the scoped one.
    pub fn canonical_name(self) -> &'static str {
        match self {
            Intrinsic::Duration => "duration",
            Intrinsic::Name => "name",
            Intrinsic::Status => "status",
            Intrinsic::StatusMessage => "statusMessage",
            Intrinsic::Kind => "kind",
            Intrinsic::SpanId => "span:id",
            Intrinsic::ParentId => "span:parentID",
            Intrinsic::ChildCount => "span:childCount",
            Intrinsic::TraceRootName => "rootName",
            Intrinsic::TraceRootService => "rootServiceName",
            Intrinsic::TraceDuration => "traceDuration",
            Intrinsic::TraceId => "trace:id",
            Intrinsic::EventName => "event:name",
            Intrinsic::EventTimeSinceStart => "event:timeSinceStart",
            Intrinsic::LinkTraceId => "link:traceID",
            Intrinsic::LinkSpanId => "link:spanID",
            Intrinsic::InstrumentationName => "instrumentation:name",
            Intrinsic::InstrumentationVersion => "instrumentation:version",
            Intrinsic::NestedSetLeft => "nestedSetLeft",
            Intrinsic::NestedSetRight => "nestedSetRight",
            Intrinsic::NestedSetParent => "nestedSetParent",
            Intrinsic::Parent => "parent",
        }
    }

    /// The type of the intrinsic's values.
    pub fn value_type(self) -> Type {
        match self {
            Intrinsic::Duration | Intrinsic::TraceDuration | Intrinsic::EventTimeSinceStart => {
                Type::Duration
            }
            Intrinsic::Status => Type::Status,
            Intrinsic::Kind => Type::Kind,
            Intrinsic::ChildCount
            | Intrinsic::NestedSetLeft
            | Intrinsic::NestedSetRight
            | Intrinsic::NestedSetParent => Type::Int,
            Intrinsic::Parent => Type::Nil,
            _ => Type::String,
        }
    }
}

impl fmt::Display for Intrinsic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.canonical_name())
    }
}

/// Where an attribute is looked up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scope {
    /// `.x`: the span's attribute if it has the key, else the resource's.
    Unscoped,
    /// `span.x`
    Span,
    /// `resource.x`
    Resource,
    /// `event.x`
    Event,
    /// `link.x`
    Link,
    /// `instrumentation.x`
    Instrumentation,
}

impl Scope {
    /// The prefix that introduces the scope (`span.`, or `.` when unscoped).
    pub fn prefix(self) -> &'static str {
        match self {
            Scope::Unscoped => ".",
            Scope::Span => "span.",
            Scope::Resource => "resource.",
            Scope::Event => "event.",
            Scope::Link => "link.",
            Scope::Instrumentation => "instrumentation.",
        }
    }
}

/// A reference to an attribute: `span.http.method`, `.foo`, `resource."a b"`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Attribute {
    /// The scope the name is looked up in.
    pub scope: Scope,
    /// `parent.` forms: parse, but TraceQL does not run them.
    pub parent: bool,
    /// The name, unquoted.
    pub name: String,
}

impl Attribute {
    /// A non-parent attribute.
    pub fn new(scope: Scope, name: impl Into<String>) -> Self {
        Attribute {
            scope,
            parent: false,
            name: name.into(),
        }
    }
}

impl fmt::Display for Attribute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let prefix = match (self.parent, self.scope) {
            (false, scope) => scope.prefix(),
            (true, Scope::Unscoped) => "parent.",
            (true, Scope::Span) => "parent.span.",
            (true, Scope::Resource) => "parent.resource.",
            // The parser never builds other parent scopes; print them readably anyway.
            (true, scope) => return write!(f, "parent.{}{}", scope.prefix(), self.name),
        };
        let needs_quotes = strings::attribute_name_needs_quotes(&self.name)
            || (self.scope == Scope::Unscoped
                && !self.parent
                && self.name.starts_with(|c: char| c.is_ascii_digit()))
            || (self.parent
                && self.scope == Scope::Unscoped
                && (self.name.starts_with("span.") || self.name.starts_with("resource.")));
        if needs_quotes {
            write!(f, "{prefix}{}", strings::quote_attribute_name(&self.name))
        } else {
            write!(f, "{prefix}{}", self.name)
        }
    }
}

/// An attribute or intrinsic: what `select()`, metrics `by()` and `*_over_time()` take.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Field {
    /// An intrinsic.
    Intrinsic(Intrinsic),
    /// An attribute.
    Attribute(Attribute),
}

impl Field {
    /// The canonical name used for labels and keys (`name`, `span.foo`, `.foo`).
    pub fn canonical_name(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Field::Intrinsic(i) => i.fmt(f),
            Field::Attribute(a) => a.fmt(f),
        }
    }
}

/// Binary operators inside `{ }`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Mod,
    /// `^`
    Pow,
    /// `=`
    Eq,
    /// `!=`
    Neq,
    /// `<`
    Lt,
    /// `<=`
    Lte,
    /// `>`
    Gt,
    /// `>=`
    Gte,
    /// `=~`
    Regex,
    /// `!~`
    NotRegex,
    /// `&&`
    And,
    /// `||`
    Or,
}

impl BinaryOp {
    /// The operator's text.
    pub fn as_str(self) -> &'static str {
        match self {
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Mod => "%",
            BinaryOp::Pow => "^",
            BinaryOp::Eq => "=",
            BinaryOp::Neq => "!=",
            BinaryOp::Lt => "<",
            BinaryOp::Lte => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::Gte => ">=",
            BinaryOp::Regex => "=~",
            BinaryOp::NotRegex => "!~",
            BinaryOp::And => "&&",
            BinaryOp::Or => "||",
        }
    }

    /// `+ - * / % ^`
    pub fn is_arithmetic(self) -> bool {
        matches!(
            self,
            BinaryOp::Add
                | BinaryOp::Sub
                | BinaryOp::Mul
                | BinaryOp::Div
                | BinaryOp::Mod
                | BinaryOp::Pow
        )
    }

    /// `< <= > >=`
    pub fn is_ordering(self) -> bool {
        matches!(
            self,
            BinaryOp::Lt | BinaryOp::Lte | BinaryOp::Gt | BinaryOp::Gte
        )
    }
}

impl fmt::Display for BinaryOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Prefix operators inside `{ }`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    /// `-`
    Neg,
    /// `!`
    Not,
}

impl fmt::Display for UnaryOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UnaryOp::Neg => "-",
            UnaryOp::Not => "!",
        })
    }
}

/// An expression inside `{ }`, `by()` or an aggregate, with its source span.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldExpr {
    /// What the expression is.
    pub kind: FieldExprKind,
    /// Where it was written.
    pub span: Span,
}

/// The forms of a field expression.
#[derive(Clone, Debug, PartialEq)]
pub enum FieldExprKind {
    /// A literal.
    Static(Static),
    /// An intrinsic.
    Intrinsic(Intrinsic),
    /// An attribute.
    Attribute(Attribute),
    /// `lhs op rhs`; `x = nil` / `x != nil` are existence checks.
    Binary {
        /// The operator.
        op: BinaryOp,
        /// Left operand.
        lhs: Box<FieldExpr>,
        /// Right operand.
        rhs: Box<FieldExpr>,
    },
    /// `-x` or `!x`.
    Unary {
        /// The operator.
        op: UnaryOp,
        /// The operand.
        expr: Box<FieldExpr>,
    },
}

impl FieldExpr {
    /// An expression at `span`.
    pub fn new(kind: FieldExprKind, span: Span) -> Self {
        FieldExpr { kind, span }
    }

    /// A literal at `span`.
    pub fn literal(value: Static, span: Span) -> Self {
        FieldExpr::new(FieldExprKind::Static(value), span)
    }

    /// The literal value, if this is one.
    pub fn as_static(&self) -> Option<&Static> {
        match &self.kind {
            FieldExprKind::Static(s) => Some(s),
            _ => None,
        }
    }

    /// True when the expression reads anything from the span (an attribute or intrinsic).
    pub fn references_span(&self) -> bool {
        match &self.kind {
            FieldExprKind::Static(_) => false,
            FieldExprKind::Intrinsic(_) | FieldExprKind::Attribute(_) => true,
            FieldExprKind::Binary { lhs, rhs, .. } => {
                lhs.references_span() || rhs.references_span()
            }
            FieldExprKind::Unary { expr, .. } => expr.references_span(),
        }
    }

    /// Calls `f` on every attribute and intrinsic the expression reads, left to right.
    pub fn visit_fields(&self, f: &mut dyn FnMut(Field)) {
        match &self.kind {
            FieldExprKind::Static(_) => {}
            FieldExprKind::Intrinsic(i) => f(Field::Intrinsic(*i)),
            FieldExprKind::Attribute(a) => f(Field::Attribute(a.clone())),
            FieldExprKind::Binary { lhs, rhs, .. } => {
                lhs.visit_fields(f);
                rhs.visit_fields(f);
            }
            FieldExprKind::Unary { expr, .. } => expr.visit_fields(f),
        }
    }

    /// Whether printing this as an operand needs parentheses to parse back the same.
    ///
    /// Every binary node is parenthesised. A prefix operator (or a negative literal, which
    /// reads back as one) binds looser than `*` or `^`, so on the left of an operator it needs
    /// parentheses too: `(-.a) * .b`. On the right nothing follows it, so it needs none.
    fn needs_parens(&self, side: Side) -> bool {
        match &self.kind {
            FieldExprKind::Binary { .. } => true,
            FieldExprKind::Unary { .. } => side == Side::Left,
            FieldExprKind::Static(s) => side == Side::Left && s.is_negative(),
            _ => false,
        }
    }
}

/// Which side of an operator an operand is printed on.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    Left,
    Right,
}

/// Writes `expr` as an operand on `side`, in parentheses when needed.
pub(crate) fn write_operand(
    f: &mut fmt::Formatter<'_>,
    expr: &FieldExpr,
    side: Side,
) -> fmt::Result {
    if expr.needs_parens(side) {
        write!(f, "({expr})")
    } else {
        write!(f, "{expr}")
    }
}

impl fmt::Display for FieldExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        crate::stack::guarded(|| self.write(f))
    }
}

impl FieldExpr {
    fn write(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            FieldExprKind::Static(s) => fmt::Display::fmt(s, f),
            FieldExprKind::Intrinsic(i) => fmt::Display::fmt(i, f),
            FieldExprKind::Attribute(a) => fmt::Display::fmt(a, f),
            FieldExprKind::Binary { op, lhs, rhs } => {
                write_operand(f, lhs, Side::Left)?;
                write!(f, " {op} ")?;
                write_operand(f, rhs, Side::Right)
            }
            // `!!x` and `-!x` read back as written: only a binary operand needs parentheses.
            FieldExprKind::Unary { op, expr } => match expr.kind {
                FieldExprKind::Binary { .. } => write!(f, "{op}({expr})"),
                _ => write!(f, "{op}{expr}"),
            },
        }
    }
}
