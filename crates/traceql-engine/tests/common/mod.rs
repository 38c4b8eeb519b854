//! Fixtures shared by the engine's integration tests.

use traceql_storage::catalog::Catalog;
use traceql_storage::generator::{Generator, GeneratorConfig};
use traceql_storage::model::Trace;
use traceql_storage::read::read_block;
use traceql_storage::writer::{WriteOptions, write_block};

/// A fresh in-memory catalog holding `traces` generated traces in one block of tenant `t`.
pub async fn generated_catalog(traces: u64) -> Catalog {
    let catalog =
        Catalog::open(&format!("memory://generated-{}", uuid::Uuid::new_v4())).expect("catalog");
    let traces = Generator::new(GeneratorConfig::default()).traces(0..traces);
    write_block(&catalog, "t", traces, &WriteOptions::default(), vec![], 0)
        .await
        .expect("block");
    catalog
}

/// The blocks' traces in the order a scan of the catalog meets them.
pub async fn traces_in_block_order(catalog: &Catalog) -> Vec<Trace> {
    let mut all = Vec::new();
    for block in catalog.list_blocks("t").await.expect("blocks") {
        all.extend(read_block(catalog, &block).await.expect("read"));
    }
    all
}
