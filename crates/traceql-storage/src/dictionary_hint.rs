//! Which string columns of a block filter scans read as dictionaries.
//!
//! A string column with few distinct values is dictionary-encoded in every page of its data
//! file. Read as a dictionary array, its pages decode to keys alone and a comparison with a
//! literal is evaluated once per distinct value, then gathered by key; read as strings, every
//! row's value is built and then compared. The footer a [`crate::read::BlockIndex`] hands out
//! carries an Arrow schema hint naming such columns as dictionaries, so that scans planned
//! over it (DataFusion's) read them so; the index's own readers still read plain strings. The
//! Parquet data is the same whichever Arrow type reads it.

use std::sync::Arc;

use arrow::datatypes::{DataType, Schema, SchemaRef};
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions};
use parquet::arrow::{ARROW_SCHEMA_META_KEY, encode_arrow_schema};
use parquet::errors::Result;
use parquet::file::metadata::{FileMetaData, KeyValue, ParquetMetaData, ParquetMetaDataBuilder};

use crate::column_values::ValueSet;
use crate::meta::BlockMeta;

/// The type a low-cardinality string column is read as.
fn dictionary_of_strings() -> DataType {
    DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
}

/// `schema` (the Arrow schema of the data file of the block `meta` describes) with the string
/// columns whose distinct values the block records (few: see
/// [`crate::column_values::MAX_VALUES`]) typed as dictionaries; `None` when there is no such
/// column.
fn with_dictionary_strings(schema: &Schema, meta: &BlockMeta) -> Option<Schema> {
    let recorded = meta.column_values.as_ref()?;
    let few_strings = |name: &str| matches!(recorded.get(name), Some(ValueSet::Strings(values)) if !values.is_empty());
    let mut changed = false;
    let fields: Vec<_> = (schema.fields().iter())
        .map(|f| match f.data_type() {
            DataType::Utf8 if few_strings(f.name()) => {
                changed = true;
                Arc::new(f.as_ref().clone().with_data_type(dictionary_of_strings()))
            }
            _ => Arc::clone(f),
        })
        .collect();
    changed.then(|| Schema::new_with_metadata(fields, schema.metadata().clone()))
}

/// `loaded` (a footer just read, of the block `meta` describes) with its Arrow schema hint
/// replaced by [`with_dictionary_strings`], still read as its own schema by readers built on
/// it; and the schema the hint names. The footer is rebuilt in place when nothing else holds
/// it (a copy otherwise).
pub(crate) fn hint_dictionaries(
    loaded: ArrowReaderMetadata,
    meta: &BlockMeta,
) -> Result<(ArrowReaderMetadata, SchemaRef)> {
    let plain = Arc::clone(loaded.schema());
    let Some(hinted) = with_dictionary_strings(&plain, meta) else {
        return Ok((loaded, plain));
    };
    let footer = Arc::clone(loaded.metadata());
    drop(loaded);
    let footer = Arc::try_unwrap(footer).unwrap_or_else(|shared| shared.as_ref().clone());
    let footer = Arc::new(with_hint(footer, &hinted));
    let metadata =
        ArrowReaderMetadata::try_new(footer, ArrowReaderOptions::new().with_schema(plain))?;
    Ok((metadata, Arc::new(hinted)))
}

/// `footer` with its Arrow schema hint replaced by `schema`, which describes the same
/// Parquet columns.
fn with_hint(footer: ParquetMetaData, schema: &Schema) -> ParquetMetaData {
    let file = footer.file_metadata();
    let mut pairs: Vec<KeyValue> = (file.key_value_metadata().into_iter().flatten())
        .filter(|kv| kv.key != ARROW_SCHEMA_META_KEY)
        .cloned()
        .collect();
    pairs.push(KeyValue::new(
        ARROW_SCHEMA_META_KEY.to_string(),
        encode_arrow_schema(schema),
    ));
    let file = FileMetaData::new(
        file.version(),
        file.num_rows(),
        file.created_by().map(str::to_string),
        Some(pairs),
        file.schema_descr_ptr(),
        file.column_orders().cloned(),
    );
    let mut parts = footer.into_builder();
    let groups = parts.take_row_groups();
    ParquetMetaDataBuilder::new(file)
        .set_row_groups(groups)
        .set_column_index(parts.take_column_index())
        .set_offset_index(parts.take_offset_index())
        .build()
}
