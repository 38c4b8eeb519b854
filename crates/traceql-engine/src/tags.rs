//! Tag names and tag values (spec section 8.3, v2 shapes).

use std::collections::BTreeSet;

use futures::future::try_join_all;
use serde::Serialize;
use traceql_storage::catalog::Catalog;
use traceql_storage::keys::{AttributeKeys, attribute_keys};
use traceql_storage::meta::BlockMeta;
use traceql_storage::model::Span;
use traceql_storage::read::read_block;
use traceql_syntax::ast::{
    Field, FieldExprKind, Intrinsic, Pipeline, QueryBody, SpansetExpr, Stage,
};
use traceql_syntax::{parse, parse_syntax};

use crate::columnar::fields::{Source, resolve, val_at, value_expr};
use crate::columnar::{Session, as_filter, lower_condition};
use crate::error::EngineError;
use crate::reference::{Regexes, TraceView, run_pipeline};
use crate::value::Val;

/// The scopes of tag names, in the order responses list them.
pub const SCOPES: [&str; 6] = [
    "resource",
    "span",
    "intrinsic",
    "event",
    "link",
    "instrumentation",
];

/// The intrinsic tags the tag APIs list (not `span:childCount` nor the nested-set ones).
pub const INTRINSIC_TAGS: [&str; 25] = [
    "duration",
    "name",
    "status",
    "statusMessage",
    "kind",
    "rootServiceName",
    "rootName",
    "traceDuration",
    "event:name",
    "event:timeSinceStart",
    "link:spanID",
    "link:traceID",
    "instrumentation:name",
    "instrumentation:version",
    "trace:id",
    "span:id",
    "span:parentID",
    "span:status",
    "span:statusMessage",
    "span:duration",
    "span:name",
    "span:kind",
    "trace:rootName",
    "trace:rootService",
    "trace:duration",
];

/// Tag names of one scope.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ScopeTags {
    /// The scope.
    pub name: String,
    /// Its tag names, sorted.
    pub tags: Vec<String>,
}

/// `GET /api/v2/search/tags`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TagNames {
    /// One entry per scope that has tags.
    pub scopes: Vec<ScopeTags>,
}

/// One value of a tag.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct TagValue {
    /// `string`, `int`, `float`, `bool`, `duration` or `keyword`.
    #[serde(rename = "type")]
    pub value_type: String,
    /// The value as text.
    pub value: String,
}

/// `GET /api/v2/search/tag/<tag>/values`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TagValues {
    /// Distinct values, sorted by type then value.
    pub tag_values: Vec<TagValue>,
}

/// The tag names of `tenant`: every scope, or only `scope` (`none` and an empty scope mean all).
/// `limit` caps each scope's list.
pub async fn tag_names(
    catalog: &Catalog,
    tenant: &str,
    scope: Option<&str>,
    limit: Option<usize>,
) -> Result<TagNames, EngineError> {
    let scope = scope.filter(|s| !s.is_empty() && *s != "none");
    if let Some(s) = scope
        && !SCOPES.contains(&s)
    {
        return Err(EngineError::InvalidRequest(format!(
            "unknown scope {s:?}: expected one of {}",
            SCOPES.join(", ")
        )));
    }
    let blocks = catalog.list_blocks(tenant).await?;
    let reading = blocks.iter().map(|b| attribute_keys(catalog, b));
    let mut keys = AttributeKeys::default();
    for block_keys in try_join_all(reading).await? {
        keys.extend(block_keys);
    }
    let sorted = |keys: BTreeSet<String>| keys.into_iter().collect::<Vec<_>>();
    let found: [Vec<String>; 6] = [
        sorted(keys.resource),
        sorted(keys.span),
        INTRINSIC_TAGS.iter().map(|t| t.to_string()).collect(),
        sorted(keys.event),
        sorted(keys.link),
        sorted(keys.instrumentation),
    ];
    let scopes = SCOPES
        .iter()
        .zip(found)
        .filter(|(name, tags)| scope.is_none_or(|s| s == **name) && !tags.is_empty())
        .map(|(name, mut tags)| {
            if let Some(l) = limit {
                tags.truncate(l);
            }
            ScopeTags {
                name: name.to_string(),
                tags,
            }
        })
        .collect();
    Ok(TagNames { scopes })
}

/// The values of a tag given as a TraceQL identifier (`resource.service.name`, `.http.method`,
/// `span:name`, `status` …), from spans matching `query` when it is a valid `{ … }` selector
/// (an unparsable query lists every value).
pub async fn tag_values(
    catalog: &Catalog,
    tenant: &str,
    tag: &str,
    query: Option<&str>,
    limit: Option<usize>,
) -> Result<TagValues, EngineError> {
    let field = parse_tag(tag)?;
    match field {
        Field::Intrinsic(Intrinsic::Status) => return Ok(keywords(&["ok", "error", "unset"])),
        Field::Intrinsic(Intrinsic::Kind) => {
            return Ok(keywords(&[
                "client",
                "server",
                "producer",
                "consumer",
                "internal",
                "unspecified",
            ]));
        }
        Field::Intrinsic(Intrinsic::Duration | Intrinsic::TraceDuration) => {
            return Ok(TagValues { tag_values: vec![] });
        }
        _ => {}
    }
    let filter = query.and_then(|q| match parse(q) {
        Ok(ast) => match ast.body {
            QueryBody::Pipeline(p)
                if matches!(p.stages[..], [Stage::Spanset(SpansetExpr::Filter(_))]) =>
            {
                Some(p)
            }
            _ => None,
        },
        Err(_) => None,
    });
    let session = Session::parallel(catalog, None)?;
    let blocks = catalog.list_blocks(tenant).await?;
    let reading = blocks
        .iter()
        .map(|block| block_values(catalog, &session, block, &field, filter.as_ref()));
    let mut values = BTreeSet::new();
    for block_values in try_join_all(reading).await? {
        values.extend(block_values);
    }
    let mut tag_values: Vec<TagValue> = values.into_iter().collect();
    if let Some(l) = limit {
        tag_values.truncate(l);
    }
    Ok(TagValues { tag_values })
}

/// The values of `field` among the spans of `block` that match `filter` (every span without
/// one): one DataFusion aggregation where the field and the condition lower onto the block's
/// columns, else the reference evaluator over the decoded block.
async fn block_values(
    catalog: &Catalog,
    session: &Session,
    block: &BlockMeta,
    field: &Field,
    filter: Option<&Pipeline>,
) -> Result<BTreeSet<TagValue>, EngineError> {
    let condition = match filter.map(|p| &p.stages[..]) {
        Some([Stage::Spanset(SpansetExpr::Filter(f))]) => Some(&f.expr),
        _ => None,
    };
    let lowered = match condition {
        Some(c) => lower_condition(c, block).map(Some),
        None => Some(None),
    };
    match (resolve(field, block), lowered) {
        (Some(Source::Missing), Some(_)) => Ok(BTreeSet::new()),
        (Some(source), Some(condition)) => {
            let mut frame = session.block(block).await?;
            if let Some(c) = condition {
                frame = frame.filter(as_filter(c))?;
            }
            let batches = frame
                .aggregate(vec![value_expr(&source)], vec![])?
                .collect()
                .await
                .map_err(session.reading(block))?;
            let mut values = BTreeSet::new();
            for batch in &batches {
                for row in 0..batch.num_rows() {
                    values.extend(tag_value(&val_at(&source, batch.column(0), row)));
                }
            }
            Ok(values)
        }
        _ => {
            let mut values = BTreeSet::new();
            let mut regexes = Regexes::default();
            for trace in read_block(catalog, block).await? {
                let view = TraceView::new(trace);
                let spans: Vec<usize> = match filter {
                    Some(p) => run_pipeline(p, &view, &mut regexes)?
                        .into_iter()
                        .flat_map(|ss| ss.spans)
                        .collect(),
                    None => (0..view.spans.len()).collect(),
                };
                for i in spans {
                    collect(&view, i, field, &mut values);
                }
            }
            Ok(values)
        }
    }
}

/// A tag identifier as a field: `{ <tag> != nil }` must parse to an existence check.
fn parse_tag(tag: &str) -> Result<Field, EngineError> {
    let invalid = || {
        EngineError::InvalidRequest(format!(
            "invalid tag {tag:?}: expected an attribute such as resource.service.name or an intrinsic such as name"
        ))
    };
    let query = parse_syntax(&format!("{{ {tag} != nil }}")).map_err(|_| invalid())?;
    let QueryBody::Pipeline(p) = query.body else {
        return Err(invalid());
    };
    let [Stage::Spanset(SpansetExpr::Filter(f))] = &p.stages[..] else {
        return Err(invalid());
    };
    let FieldExprKind::Binary { lhs, .. } = &f.expr.kind else {
        return Err(invalid());
    };
    match &lhs.kind {
        FieldExprKind::Attribute(a) => Ok(Field::Attribute(a.clone())),
        FieldExprKind::Intrinsic(i) => Ok(Field::Intrinsic(*i)),
        _ => Err(invalid()),
    }
}

/// A value as the tag APIs list it; `None` for nil, arrays and opaque values.
fn tag_value(v: &Val) -> Option<TagValue> {
    let (t, text) = match v {
        Val::Str(s) => ("string", s.clone()),
        Val::Int(n) => ("int", n.to_string()),
        Val::Float(f) => ("float", f.to_string()),
        Val::Bool(b) => ("bool", b.to_string()),
        Val::Duration(d) => ("duration", traceql_syntax::lexical::duration::format(*d)),
        Val::Status(s) => ("keyword", s.as_str().to_string()),
        Val::Kind(k) => ("keyword", k.as_str().to_string()),
        Val::Nil | Val::Opaque | Val::Array(_) => return None,
    };
    Some(TagValue {
        value_type: t.to_string(),
        value: text,
    })
}

fn keywords(words: &[&str]) -> TagValues {
    TagValues {
        tag_values: words
            .iter()
            .map(|w| TagValue {
                value_type: "keyword".into(),
                value: w.to_string(),
            })
            .collect(),
    }
}

/// Adds the values of `field` for span `i` (every event's and link's value for those scopes).
fn collect(view: &TraceView, i: usize, field: &Field, out: &mut BTreeSet<TagValue>) {
    let span: &Span = &view.spans[i];
    let mut contexts = vec![view.context(i)];
    let events_or_links = match field {
        Field::Attribute(a) => matches!(
            a.scope,
            traceql_syntax::ast::Scope::Event | traceql_syntax::ast::Scope::Link
        ),
        Field::Intrinsic(i) => matches!(
            i,
            Intrinsic::EventName
                | Intrinsic::EventTimeSinceStart
                | Intrinsic::LinkTraceId
                | Intrinsic::LinkSpanId
        ),
    };
    if events_or_links {
        contexts = span
            .events
            .iter()
            .map(|e| crate::reference::SpanContext {
                event: Some(e),
                ..view.context(i)
            })
            .chain(span.links.iter().map(|l| crate::reference::SpanContext {
                link: Some(l),
                ..view.context(i)
            }))
            .collect();
    }
    for ctx in contexts {
        let v = ctx.field(field);
        let mut push = |v: &Val| out.extend(tag_value(v));
        match &v {
            Val::Array(elements) => elements.iter().for_each(&mut push),
            other => push(other),
        }
    }
}
