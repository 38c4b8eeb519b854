//! The columnar path: queries lowered onto DataFusion plans over the blocks' Parquet files,
//! conditions pushed into the scan, only the needed columns read.
//!
//! Each block is planned on its own, because each block has its own dedicated attribute
//! columns: [`fields::resolve`] says where a field lives in a block, [`lower_condition`] turns a
//! spanset filter into a boolean expression over those columns. Whatever cannot be lowered
//! exactly (structural operators, event and link fields, keys in the generic attribute lists,
//! …) makes the caller fall back to the reference evaluator, so answers never differ.

mod condition;
pub mod fields;
mod footers;
pub mod generic_attribute;
pub mod pruning;
mod reference_condition;
mod row_groups;
mod scan_schema;
mod session;

pub use condition::{as_filter, lower_candidate_condition, lower_condition};
pub use footers::Footers;
pub use row_groups::{Group, RowGroupScan};
pub use scan_schema::scan_schema;
pub use session::Session;
