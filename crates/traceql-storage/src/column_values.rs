//! The distinct values of a block's low-cardinality columns, kept in its `meta.json`: a query
//! for a value a block does not hold passes over the block without reading its footer.

use std::collections::{BTreeMap, BTreeSet};

use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::{DataType, Int8Type, Int64Type};
use serde::{Deserialize, Serialize};

use crate::schema::{DedicatedColumn, col};

/// The most distinct values a column may hold in a block for its set to be kept.
pub const MAX_VALUES: usize = 64;
/// The most bytes a column's distinct strings may take together for its set to be kept.
pub const MAX_STRING_BYTES: usize = 4096;

/// The fixed columns whose values are collected; every dedicated string or integer column is
/// collected too.
const FIXED: [&str; 8] = [
    col::NAME,
    col::KIND,
    col::STATUS_CODE,
    col::STATUS_MESSAGE,
    col::TRACE_ROOT_SERVICE,
    col::TRACE_ROOT_NAME,
    col::SCOPE_NAME,
    col::SCOPE_VERSION,
];

/// Every distinct non-null value of one column in a block, sorted; empty when every row is
/// null.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ValueSet {
    /// A string column's values.
    Strings(Vec<String>),
    /// An integer column's values, whatever its width.
    Ints(Vec<i64>),
}

/// The distinct values of a block's collected columns, gathered batch by batch.
#[derive(Debug, Default)]
pub struct ValueSets {
    columns: BTreeMap<String, Collected>,
}

/// What is known of one column so far.
#[derive(Debug)]
enum Collected {
    Strings(BTreeSet<String>),
    Ints(BTreeSet<i64>),
    /// More values than a set keeps.
    TooMany,
}

impl ValueSets {
    /// The value sets of the collected columns of `batch` (a batch of the rows of a block with
    /// the dedicated columns `dedicated`).
    pub fn of(batch: &RecordBatch, dedicated: &[DedicatedColumn]) -> ValueSets {
        let mut sets = ValueSets::default();
        for (field, array) in batch.schema_ref().fields().iter().zip(batch.columns()) {
            let name = field.name();
            if !(FIXED.contains(&name.as_str()) || dedicated.iter().any(|d| d.is_named(name))) {
                continue;
            }
            let column = match field.data_type() {
                DataType::Utf8 => strings(array.as_string::<i32>().iter().flatten()),
                DataType::Int8 => ints(
                    array
                        .as_primitive::<Int8Type>()
                        .iter()
                        .flatten()
                        .map(i64::from),
                ),
                DataType::Int64 => ints(array.as_primitive::<Int64Type>().iter().flatten()),
                _ => continue,
            };
            sets.columns.insert(field.name().clone(), column);
        }
        sets
    }

    /// Adds the values `other` gathered.
    pub fn merge(&mut self, other: ValueSets) {
        for (name, theirs) in other.columns {
            match self.columns.remove(&name) {
                None => self.columns.insert(name, theirs),
                Some(mine) => self.columns.insert(name, mine.union(theirs)),
            };
        }
    }

    /// The sets of the columns with few enough values; a collected column left out holds too
    /// many.
    pub fn finish(self) -> BTreeMap<String, ValueSet> {
        self.columns
            .into_iter()
            .filter_map(|(name, column)| {
                let set = match column {
                    Collected::Strings(values) => ValueSet::Strings(values.into_iter().collect()),
                    Collected::Ints(values) => ValueSet::Ints(values.into_iter().collect()),
                    Collected::TooMany => return None,
                };
                Some((name, set))
            })
            .collect()
    }
}

/// The distinct strings of `values`, or `TooMany`.
fn strings<'a>(values: impl Iterator<Item = &'a str>) -> Collected {
    let mut set = BTreeSet::new();
    let mut bytes = 0;
    let mut last = None;
    for v in values {
        // Rows of a resource or a trace repeat a value: compare before looking it up.
        if last == Some(v) {
            continue;
        }
        last = Some(v);
        if !set.contains(v) {
            bytes += v.len();
            set.insert(v.to_string());
            if set.len() > MAX_VALUES || bytes > MAX_STRING_BYTES {
                return Collected::TooMany;
            }
        }
    }
    Collected::Strings(set)
}

/// The distinct integers of `values`, or `TooMany`.
fn ints(values: impl Iterator<Item = i64>) -> Collected {
    let mut set = BTreeSet::new();
    let mut last = None;
    for v in values {
        if last == Some(v) {
            continue;
        }
        last = Some(v);
        if set.insert(v) && set.len() > MAX_VALUES {
            return Collected::TooMany;
        }
    }
    Collected::Ints(set)
}

impl Collected {
    /// What is known of a column from two parts of its rows.
    fn union(self, other: Collected) -> Collected {
        match (self, other) {
            (Collected::Strings(mut a), Collected::Strings(b)) => {
                a.extend(b);
                let bytes: usize = a.iter().map(String::len).sum();
                match a.len() > MAX_VALUES || bytes > MAX_STRING_BYTES {
                    true => Collected::TooMany,
                    false => Collected::Strings(a),
                }
            }
            (Collected::Ints(mut a), Collected::Ints(b)) => {
                a.extend(b);
                match a.len() > MAX_VALUES {
                    true => Collected::TooMany,
                    false => Collected::Ints(a),
                }
            }
            // A column keeps its type across a block's batches; anything else knows too little.
            _ => Collected::TooMany,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{ArrayRef, Float64Array, Int8Array, StringArray};
    use arrow::datatypes::{Field, Schema};

    use super::*;
    use crate::schema::{DedicatedScope, ScalarType};

    fn batch(columns: Vec<(&str, ArrayRef)>) -> RecordBatch {
        let fields: Vec<Field> = columns
            .iter()
            .map(|(name, a)| Field::new(*name, a.data_type().clone(), true))
            .collect();
        let arrays = columns.into_iter().map(|(_, a)| a).collect();
        RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).expect("a batch")
    }

    #[test]
    fn collects_distinct_values_of_the_collected_columns_only() {
        let b = batch(vec![
            (
                "name",
                Arc::new(StringArray::from(vec!["b", "a", "b", "a"])),
            ),
            (
                "kind",
                Arc::new(Int8Array::from(vec![Some(2), None, Some(1), Some(2)])),
            ),
            (
                "span.x",
                Arc::new(StringArray::from(vec![None, None, None, None::<&str>])),
            ),
            (
                "span.d",
                Arc::new(Float64Array::from(vec![1.0, 2.0, 3.0, 4.0])),
            ),
            ("span.y", Arc::new(StringArray::from(vec!["y"; 4]))),
            ("trace_state", Arc::new(StringArray::from(vec!["s"; 4]))),
        ]);
        // `span.y` is no dedicated column of this block, `span.d` no string or integer one.
        let dedicated = [("x", ScalarType::String), ("d", ScalarType::Double)].map(|(key, t)| {
            DedicatedColumn {
                scope: DedicatedScope::Span,
                key: key.into(),
                value_type: t,
            }
        });
        let sets = ValueSets::of(&b, &dedicated).finish();
        assert_eq!(sets.len(), 3, "{sets:?}");
        assert_eq!(
            sets["name"],
            ValueSet::Strings(vec!["a".into(), "b".into()])
        );
        assert_eq!(sets["kind"], ValueSet::Ints(vec![1, 2]));
        assert_eq!(sets["span.x"], ValueSet::Strings(vec![]));
    }

    #[test]
    fn a_column_with_too_many_values_has_no_set() {
        let many: Vec<String> = (0..=MAX_VALUES).map(|i| i.to_string()).collect();
        let half = MAX_VALUES / 2 + 1;
        let mut first = ValueSets::of(
            &batch(vec![(
                "name",
                Arc::new(StringArray::from_iter_values(&many[..half])),
            )]),
            &[],
        );
        first.merge(ValueSets::of(
            &batch(vec![(
                "name",
                Arc::new(StringArray::from_iter_values(&many[half..])),
            )]),
            &[],
        ));
        assert_eq!(first.finish(), BTreeMap::new());
        let long = "x".repeat(MAX_STRING_BYTES + 1);
        let sets = ValueSets::of(
            &batch(vec![("name", Arc::new(StringArray::from(vec![long])))]),
            &[],
        );
        assert_eq!(sets.finish(), BTreeMap::new());
    }
}
