//! The object stores every process of a cluster reads a data root through: local files, and the
//! buckets of `s3://`, `gs://` and `az://` URLs, each opened on first use from the standard
//! variables (`AWS_*`, `GOOGLE_*`, `AZURE_*`) and the `[storage]` options, as reeflow opens a data
//! root (a build without the `cloud` feature says so when such a URL is read).

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::error::{DataFusionError, Result};
use datafusion::execution::object_store::{DefaultObjectStoreRegistry, ObjectStoreRegistry};
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use object_store::ObjectStore;
use url::Url;

/// Local files, and buckets opened when a URL first names them.
#[derive(Debug)]
pub struct BucketStores {
    opened: DefaultObjectStoreRegistry,
    /// `[storage]` options (values may be credentials: never printed).
    options: BTreeMap<String, String>,
}

impl BucketStores {
    pub fn new(options: BTreeMap<String, String>) -> Self {
        Self { opened: DefaultObjectStoreRegistry::new(), options }
    }

    /// `runtime` reading through these stores.
    pub fn runtime(self: &Arc<Self>, runtime: &RuntimeEnv) -> Result<Arc<RuntimeEnv>> {
        RuntimeEnvBuilder::from_runtime_env(runtime).with_object_store_registry(self.clone()).build_arc()
    }
}

impl ObjectStoreRegistry for BucketStores {
    fn register_store(&self, url: &Url, store: Arc<dyn ObjectStore>) -> Option<Arc<dyn ObjectStore>> {
        self.opened.register_store(url, store)
    }

    fn deregister_store(&self, url: &Url) -> Result<Arc<dyn ObjectStore>> {
        self.opened.deregister_store(url)
    }

    fn get_store(&self, url: &Url) -> Result<Arc<dyn ObjectStore>> {
        if let Ok(store) = self.opened.get_store(url) {
            return Ok(store);
        }
        if matches!(url.scheme(), "" | "file") {
            return self.opened.get_store(url);
        }
        let store = reeflow_publish::location::bucket_store(url, &self.options)
            .map_err(|error| DataFusionError::External(Box::new(error)))?;
        let bucket = Url::parse(&format!("{}://{}", url.scheme(), url.host_str().unwrap_or_default()))
            .map_err(|error| DataFusionError::External(Box::new(error)))?;
        self.opened.register_store(&bucket, store.clone());
        Ok(store)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_files_resolve_and_unknown_schemes_are_named() {
        let stores = BucketStores::new(BTreeMap::new());
        assert!(stores.get_store(&Url::parse("file:///tmp/x.parquet").unwrap()).is_ok());
        let error = stores.get_store(&Url::parse("ftp://host/x.parquet").unwrap()).unwrap_err();
        assert!(error.to_string().contains("ftp:// data roots are not supported"), "{error}");
    }
}
