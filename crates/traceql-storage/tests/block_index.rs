//! `BlockIndex`: what it knows of a data file matches what its store says.

use object_store::ObjectStoreExt;
use traceql_storage::catalog::Catalog;
use traceql_storage::generator::{Generator, GeneratorConfig};
use traceql_storage::read::BlockIndex;
use traceql_storage::writer::{WriteOptions, write_block};

/// The object a block index describes (taken from its footer read, not a separate request) is
/// the one the store lists: same location, size and modification time, which is what
/// DataFusion's footer cache checks before it reuses a footer handed to it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_object_is_the_one_the_store_describes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let local = dir.path().to_str().expect("utf-8").to_string();
    for url in [local.as_str(), "memory://block-index-object"] {
        let catalog = Catalog::open(url).expect("catalog");
        let traces = Generator::new(GeneratorConfig::default()).traces(0..30);
        let meta = write_block(&catalog, "t", traces, &WriteOptions::default(), vec![], 0)
            .await
            .expect("block");
        let index = BlockIndex::open(&catalog, &meta).await.expect("index");
        let path = catalog.data_path(&meta.tenant, &meta.block_id);
        let head = catalog.store().head(&path).await.expect("head");
        let object = index.object();
        assert_eq!(object.location, head.location, "{url}");
        assert_eq!(object.size, head.size, "{url}");
        assert_eq!(object.last_modified, head.last_modified, "{url}");
    }
}
