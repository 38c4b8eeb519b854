//! Blocks on an object store: `<prefix>/<tenant>/<block-id>/{data.parquet, meta.json}`.
//!
//! Storage URLs: a plain path or `file://` (local folder, created if missing), `memory://name`
//! (an in-process store shared by every catalog opened with the same name), and `s3://`,
//! `gs://`, `az://` / `abfs://` configured from the usual environment variables
//! (`AWS_*`, `GOOGLE_*`, `AZURE_*`).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, LazyLock, Mutex};

use futures::{StreamExt, TryStreamExt};
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use crate::error::{Result, StorageError};
use crate::footers::FooterCache;
use crate::meta::BlockMeta;

/// How many `meta.json` reads a listing keeps in flight.
const CONCURRENT_META_READS: usize = 32;

/// The default tenant, as in Tempo.
pub const DEFAULT_TENANT: &str = "single-tenant";
/// The data file of a block.
pub const DATA_FILE: &str = "data.parquet";
/// The commit marker of a block.
pub const META_FILE: &str = "meta.json";

static MEMORY_STORES: LazyLock<Mutex<HashMap<String, Arc<InMemory>>>> =
    LazyLock::new(Default::default);

/// A tenant-partitioned set of blocks on one object store.
#[derive(Clone, Debug)]
pub struct Catalog {
    store: Arc<dyn ObjectStore>,
    prefix: Path,
    url: String,
    /// Footers of data files read through this catalog (or a clone of it).
    footers: FooterCache,
}

impl Catalog {
    /// Opens the catalog at `url` (see the module documentation for the forms).
    pub fn open(url: &str) -> Result<Catalog> {
        let invalid = |message: String| StorageError::InvalidUrl {
            url: url.to_string(),
            message,
        };
        let (scheme, rest) = match url.split_once("://") {
            Some((scheme, rest)) => (scheme.to_ascii_lowercase(), rest),
            None => ("file".to_string(), url),
        };
        let (store, prefix): (Arc<dyn ObjectStore>, &str) = match scheme.as_str() {
            "file" => {
                if rest.is_empty() {
                    return Err(invalid("the path is empty".into()));
                }
                std::fs::create_dir_all(rest).map_err(|e| StorageError::io(rest, e))?;
                let local = object_store::local::LocalFileSystem::new_with_prefix(rest)
                    .map_err(|e| invalid(e.to_string()))?;
                (Arc::new(local), "")
            }
            "memory" => {
                let (name, prefix) = rest.split_once('/').unwrap_or((rest, ""));
                let mut stores = MEMORY_STORES
                    .lock()
                    .map_err(|_| invalid("memory store registry poisoned".into()))?;
                let store = Arc::clone(stores.entry(name.to_string()).or_default());
                (store, prefix)
            }
            "s3" | "s3a" | "gs" | "az" | "abfs" | "abfss" | "azure" => {
                let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
                if bucket.is_empty() {
                    return Err(invalid("the bucket or container is missing".into()));
                }
                let base = format!("{scheme}://{bucket}");
                let store: Arc<dyn ObjectStore> = match scheme.as_str() {
                    "s3" | "s3a" => Arc::new(
                        object_store::aws::AmazonS3Builder::from_env()
                            .with_url(&base)
                            .build()
                            .map_err(|e| invalid(e.to_string()))?,
                    ),
                    "gs" => Arc::new(
                        object_store::gcp::GoogleCloudStorageBuilder::from_env()
                            .with_url(&base)
                            .build()
                            .map_err(|e| invalid(e.to_string()))?,
                    ),
                    _ => Arc::new(
                        object_store::azure::MicrosoftAzureBuilder::from_env()
                            .with_url(&base)
                            .build()
                            .map_err(|e| invalid(e.to_string()))?,
                    ),
                };
                (store, prefix)
            }
            other => return Err(invalid(format!("unknown scheme `{other}://`"))),
        };
        Ok(Catalog {
            store,
            prefix: Path::from(prefix),
            url: url.to_string(),
            footers: FooterCache::default(),
        })
    }

    /// A catalog over an existing store, under `prefix`.
    pub fn from_store(store: Arc<dyn ObjectStore>, prefix: &str) -> Catalog {
        Catalog {
            store,
            prefix: Path::from(prefix),
            url: format!("<store>/{prefix}"),
            footers: FooterCache::default(),
        }
    }

    /// The URL or description the catalog was opened with.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The object store.
    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// The footers of data files read through this catalog so far.
    pub(crate) fn footers(&self) -> &FooterCache {
        &self.footers
    }

    /// `<prefix>/<tenant>`.
    pub fn tenant_path(&self, tenant: &str) -> Path {
        self.prefix.clone().join(tenant)
    }

    /// `<prefix>/<tenant>/<block>`.
    pub fn block_path(&self, tenant: &str, block_id: &str) -> Path {
        self.tenant_path(tenant).join(block_id)
    }

    /// The data file of a block.
    pub fn data_path(&self, tenant: &str, block_id: &str) -> Path {
        self.block_path(tenant, block_id).join(DATA_FILE)
    }

    /// The `meta.json` of a block.
    pub fn meta_path(&self, tenant: &str, block_id: &str) -> Path {
        self.block_path(tenant, block_id).join(META_FILE)
    }

    /// The tenants that have at least one folder.
    pub async fn tenants(&self) -> Result<Vec<String>> {
        let listing = self
            .store
            .list_with_delimiter(Some(&self.prefix))
            .await
            .map_err(|e| StorageError::store(&self.prefix, e))?;
        let mut tenants: Vec<String> = listing
            .common_prefixes
            .iter()
            .filter_map(|p| p.filename().map(str::to_string))
            .collect();
        tenants.sort();
        Ok(tenants)
    }

    /// Every committed block of `tenant` (those with a `meta.json`), including replaced ones.
    pub async fn all_blocks(&self, tenant: &str) -> Result<Vec<BlockMeta>> {
        let tenant_path = self.tenant_path(tenant);
        let listing = self
            .store
            .list_with_delimiter(Some(&tenant_path))
            .await
            .map_err(|e| StorageError::store(&tenant_path, e))?;
        // Read concurrently, a bounded number at a time: on an object store each read is a
        // round trip of its own.
        let reads: Vec<_> = (listing.common_prefixes.iter())
            .filter_map(|dir| dir.filename())
            .map(|id| self.read_meta(tenant, id))
            .collect();
        let read: Vec<Option<BlockMeta>> = futures::stream::iter(reads)
            .buffer_unordered(CONCURRENT_META_READS)
            .try_collect()
            .await?;
        let mut blocks: Vec<BlockMeta> = read.into_iter().flatten().collect();
        blocks.sort_by(|a, b| {
            (a.start_time_unix_nano, &a.block_id).cmp(&(b.start_time_unix_nano, &b.block_id))
        });
        Ok(blocks)
    }

    /// The live blocks of `tenant`: committed, and not replaced by a compacted block.
    pub async fn list_blocks(&self, tenant: &str) -> Result<Vec<BlockMeta>> {
        let all = self.all_blocks(tenant).await?;
        let replaced: HashSet<&str> = all
            .iter()
            .flat_map(|b| b.compacted_from.iter().map(String::as_str))
            .collect();
        let live = all
            .iter()
            .filter(|b| !replaced.contains(b.block_id.as_str()))
            .cloned()
            .collect();
        Ok(live)
    }

    /// The `meta.json` of a block; `None` when the block is not committed.
    pub async fn read_meta(&self, tenant: &str, block_id: &str) -> Result<Option<BlockMeta>> {
        let path = self.meta_path(tenant, block_id);
        let bytes = match self.store.get(&path).await {
            Ok(r) => r.bytes().await.map_err(|e| StorageError::store(&path, e))?,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(StorageError::store(&path, e)),
        };
        let meta: BlockMeta = serde_json::from_slice(&bytes)
            .map_err(|e| StorageError::invalid_block(&path, format!("invalid meta.json: {e}")))?;
        if meta.format != crate::meta::FORMAT || meta.version > crate::meta::FORMAT_VERSION {
            return Err(StorageError::invalid_block(
                &path,
                format!(
                    "unsupported block format {} version {}",
                    meta.format, meta.version
                ),
            ));
        }
        Ok(Some(meta))
    }

    /// Writes a block's `meta.json`: the commit point of the block.
    pub async fn write_meta(&self, meta: &BlockMeta) -> Result<()> {
        let path = self.meta_path(&meta.tenant, &meta.block_id);
        let json = serde_json::to_vec_pretty(meta).map_err(|e| {
            StorageError::invalid_block(&path, format!("cannot encode meta.json: {e}"))
        })?;
        self.store
            .put(&path, PutPayload::from(json))
            .await
            .map_err(|e| StorageError::store(&path, e))?;
        Ok(())
    }

    /// Deletes a block: `meta.json` first (the block disappears at once), then the rest.
    pub async fn delete_block(&self, tenant: &str, block_id: &str) -> Result<()> {
        let meta = self.meta_path(tenant, block_id);
        match self.store.delete(&meta).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(StorageError::store(&meta, e)),
        }
        let dir = self.block_path(tenant, block_id);
        let objects: Vec<Path> = self
            .store
            .list(Some(&dir))
            .map_ok(|o| o.location)
            .try_collect()
            .await
            .map_err(|e| StorageError::store(&dir, e))?;
        for path in objects {
            match self.store.delete(&path).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(StorageError::store(&path, e)),
            }
        }
        Ok(())
    }
}
