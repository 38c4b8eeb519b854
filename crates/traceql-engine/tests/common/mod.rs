//! Fixtures shared by the engine's integration tests.

use traceql_storage::catalog::Catalog;
use traceql_storage::generator::{Generator, GeneratorConfig};
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
