//! Which columns a read of a block decodes into spans: every span's own fields always; its
//! generic span and resource attributes, events, links, instrumentation-scope attributes and each
//! dedicated attribute column only when asked for. A span decoded without a part simply lacks
//! it (no events, no such attribute).

use arrow::datatypes::Schema;

use crate::meta::BlockMeta;
use crate::schema::col;

/// The columns every decoded span reads.
const ALWAYS: [&str; 20] = [
    col::TRACE_ID,
    col::SPAN_ID,
    col::PARENT_SPAN_ID,
    col::NAME,
    col::KIND,
    col::STATUS_CODE,
    col::STATUS_MESSAGE,
    col::START_TIME,
    col::DURATION,
    col::TRACE_STATE,
    col::FLAGS,
    col::DROPPED_ATTRIBUTES,
    col::DROPPED_EVENTS,
    col::DROPPED_LINKS,
    col::RESOURCE_SCHEMA_URL,
    col::RESOURCE_DROPPED_ATTRIBUTES,
    col::SCOPE_NAME,
    col::SCOPE_VERSION,
    col::SCOPE_SCHEMA_URL,
    col::SCOPE_DROPPED_ATTRIBUTES,
];

/// The optional parts of a span a read decodes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Projection {
    /// The generic list of span attributes (keys without a dedicated column, or values of
    /// another type than it holds).
    pub span_attributes: bool,
    /// The generic list of resource attributes.
    pub resource_attributes: bool,
    /// Events, with their attributes.
    pub events: bool,
    /// Links, with their attributes.
    pub links: bool,
    /// Instrumentation-scope attributes.
    pub scope_attributes: bool,
    /// The dedicated attribute columns read, by column name; `None` reads them all.
    pub dedicated: Option<Vec<String>>,
}

impl Projection {
    /// Every part of every span.
    pub fn all() -> Projection {
        Projection {
            span_attributes: true,
            resource_attributes: true,
            events: true,
            links: true,
            scope_attributes: true,
            dedicated: None,
        }
    }

    /// True when the dedicated column `name` is read.
    pub fn reads_dedicated(&self, name: &str) -> bool {
        self.dedicated
            .as_ref()
            .is_none_or(|names| names.iter().any(|n| n == name))
    }

    /// True when the column `name` of the block `meta` describes is read.
    pub fn reads(&self, name: &str, meta: &BlockMeta) -> bool {
        match name {
            col::EVENTS => self.events,
            col::LINKS => self.links,
            col::SPAN_ATTRS => self.span_attributes,
            col::RESOURCE_ATTRS => self.resource_attributes,
            col::SCOPE_ATTRS => self.scope_attributes,
            _ if ALWAYS.contains(&name) => true,
            _ => meta
                .dedicated_columns
                .iter()
                .any(|d| d.is_named(name) && self.reads_dedicated(name)),
        }
    }

    /// The fields of `schema` (the block `meta` describes) this projection reads, plus those
    /// named in `extra` (columns a read filters on), in the schema's order.
    pub fn schema(&self, schema: &Schema, meta: &BlockMeta, extra: &[&str]) -> Schema {
        let fields: Vec<_> = schema
            .fields()
            .iter()
            .filter(|f| self.reads(f.name(), meta) || extra.contains(&f.name().as_str()))
            .cloned()
            .collect();
        Schema::new_with_metadata(fields, schema.metadata().clone())
    }
}
