//! Where a data root lives: a local folder (a plain path or a `file://` URL), or a prefix in an
//! object store named by URL (`s3://bucket/prefix`, `gs://bucket/prefix`, `az://container/prefix`).
//!
//! Cloud stores are configured the way their users expect: from the standard variables
//! (`AWS_*`, `GOOGLE_*`, `AZURE_*`, read by object_store's `from_env` builders), then from the
//! `options` given here (`[storage]` in the configuration: endpoint, region, allow_http, …), which
//! win. Option keys are checked (an unknown key is an error naming it); option values are never
//! repeated in an error, since some are credentials. A URL carrying credentials
//! (`s3://key:secret@bucket`) is refused without being echoed.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use object_store::ObjectStore;

use crate::Root;

#[derive(Debug, thiserror::Error)]
pub enum LocationError {
    #[error("{url:?} is not a valid data root URL: {message}")]
    BadUrl { url: String, message: String },
    #[error(
        "a data root URL must not carry credentials (user or password before the host): give them in the {variables} variables or the [storage] options instead"
    )]
    CredentialsInUrl { variables: &'static str },
    #[error(
        "{scheme}:// data roots are not supported: use a folder, file://, s3:// (Amazon S3 and S3-compatible servers), gs:// (Google Cloud Storage) or az:// (Azure Blob Storage)"
    )]
    UnsupportedScheme { scheme: String },
    #[error(
        "this reeflow was built without {scheme}:// data roots: build it with the `cloud` feature (`cargo build --release --features cloud`)"
    )]
    NotBuiltIn { scheme: String },
    #[error("[storage] option {key:?} is not a {store} setting ({hint})")]
    UnknownOption { key: String, store: &'static str, hint: String },
    #[error("cannot open {url}: {source}")]
    Open {
        url: String,
        #[source]
        source: Box<object_store::Error>,
    },
}

/// Which cloud a remote root is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cloud {
    S3,
    Gcs,
    Azure,
}

impl Cloud {
    fn of_scheme(scheme: &str) -> Option<Self> {
        match scheme {
            "s3" | "s3a" => Some(Self::S3),
            "gs" => Some(Self::Gcs),
            "az" | "azure" | "abfs" | "abfss" => Some(Self::Azure),
            _ => None,
        }
    }

    fn variables(self) -> &'static str {
        match self {
            Self::S3 => "AWS_*",
            Self::Gcs => "GOOGLE_*",
            Self::Azure => "AZURE_*",
        }
    }
}

/// A data root in an object store.
#[derive(Debug, Clone)]
pub struct RemoteRoot {
    /// The URL as given, without credentials (safe to print).
    pub url: String,
    pub cloud: Cloud,
    pub root: Root,
}

/// A parsed data root.
#[derive(Debug, Clone)]
pub enum Location {
    Local(PathBuf),
    Remote(RemoteRoot),
}

/// True when `text` names an object store rather than a folder.
pub fn is_url(text: &str) -> bool {
    text.split_once("://")
        .is_some_and(|(scheme, _)| !scheme.is_empty() && scheme.chars().all(|c| c.is_ascii_alphanumeric()))
}

/// Parses a data root; cloud roots get their store built (no request is made yet).
pub fn parse(text: &str, options: &BTreeMap<String, String>) -> Result<Location, LocationError> {
    if !is_url(text) {
        return Ok(Location::Local(PathBuf::from(text)));
    }
    let url = url::Url::parse(text).map_err(|e| LocationError::BadUrl { url: text.into(), message: e.to_string() })?;
    if url.scheme() == "file" {
        return url
            .to_file_path()
            .map(Location::Local)
            .map_err(|()| LocationError::BadUrl { url: text.into(), message: "not a local path".into() });
    }
    let Some(cloud) = Cloud::of_scheme(url.scheme()) else {
        return Err(LocationError::UnsupportedScheme { scheme: url.scheme().into() });
    };
    if !url.username().is_empty() || url.password().is_some() {
        return Err(LocationError::CredentialsInUrl { variables: cloud.variables() });
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(LocationError::BadUrl {
            url: text.into(),
            message: "the bucket (or container) is missing: s3://bucket/prefix".into(),
        });
    }
    let prefix = url.path().trim_matches('/').to_string();
    let store = build_store(cloud, &url, options)?;
    let shown = format!("{}://{}/{}", url.scheme(), url.host_str().unwrap_or_default(), prefix);
    Ok(Location::Remote(RemoteRoot {
        url: shown.trim_end_matches('/').to_string(),
        cloud,
        root: Root::new(store, &prefix),
    }))
}

/// The store of the bucket (or container) `url` names, for a query engine that reads data root
/// files by URL: configured as [`parse`] configures a data root's, the path part ignored.
pub fn bucket_store(url: &url::Url, options: &BTreeMap<String, String>) -> Result<Arc<dyn ObjectStore>, LocationError> {
    let Some(cloud) = Cloud::of_scheme(url.scheme()) else {
        return Err(LocationError::UnsupportedScheme { scheme: url.scheme().into() });
    };
    if !url.username().is_empty() || url.password().is_some() {
        return Err(LocationError::CredentialsInUrl { variables: cloud.variables() });
    }
    build_store(cloud, url, options)
}

/// The bucket part of the URL only: the prefix is the [`Root`]'s.
fn bucket_url(url: &url::Url) -> String {
    format!("{}://{}", url.scheme(), url.host_str().unwrap_or_default())
}

#[allow(unused_variables)]
fn build_store(
    cloud: Cloud,
    url: &url::Url,
    options: &BTreeMap<String, String>,
) -> Result<Arc<dyn ObjectStore>, LocationError> {
    let open = |source| LocationError::Open { url: bucket_url(url), source: Box::new(source) };
    let unknown = |store: &'static str, key: &str, hint: &str| LocationError::UnknownOption {
        key: key.into(),
        store,
        hint: hint.into(),
    };
    // One cloud's store: its builder from the standard variables, the bucket, then the
    // [storage] options, each key checked.
    #[allow(unused_macros)]
    macro_rules! configured {
        ($builder:ty, $key:ty, $store:literal, $hint:literal) => {{
            let mut builder = <$builder>::from_env().with_url(bucket_url(url));
            for (key, value) in options {
                let parsed: $key = key.to_ascii_lowercase().parse().map_err(|_| unknown($store, key, $hint))?;
                builder = builder.with_config(parsed, value);
            }
            Ok(Arc::new(builder.build().map_err(open)?))
        }};
    }
    match cloud {
        #[cfg(feature = "s3")]
        Cloud::S3 => configured!(
            object_store::aws::AmazonS3Builder,
            object_store::aws::AmazonS3ConfigKey,
            "S3",
            "e.g. endpoint, region, allow_http, virtual_hosted_style_request"
        ),
        #[cfg(feature = "gcs")]
        Cloud::Gcs => configured!(
            object_store::gcp::GoogleCloudStorageBuilder,
            object_store::gcp::GoogleConfigKey,
            "Google Cloud Storage",
            "e.g. service_account, allow_http"
        ),
        #[cfg(feature = "azure")]
        Cloud::Azure => configured!(
            object_store::azure::MicrosoftAzureBuilder,
            object_store::azure::AzureConfigKey,
            "Azure",
            "e.g. account_name, use_emulator, allow_http"
        ),
        #[allow(unreachable_patterns)]
        _ => Err(LocationError::NotBuiltIn { scheme: url.scheme().into() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn no_options() -> BTreeMap<String, String> {
        BTreeMap::new()
    }

    #[test]
    fn folders_and_file_urls_are_local() {
        assert!(matches!(parse("data", &no_options()).unwrap(), Location::Local(p) if p == Path::new("data")));
        assert!(matches!(parse("file:///srv/reeflow", &no_options()).unwrap(),
            Location::Local(p) if p == Path::new("/srv/reeflow")));
        assert!(!is_url("C:data") && is_url("s3://b/p"));
    }

    #[test]
    fn unknown_schemes_and_credentials_in_urls_are_refused_without_echoing_them() {
        let error = parse("ftp://host/data", &no_options()).unwrap_err();
        assert!(error.to_string().contains("ftp:// data roots are not supported"), "{error}");
        let error = parse("s3://AKIAEXAMPLE:hunter2@bucket/prefix", &no_options()).unwrap_err();
        let text = error.to_string();
        assert!(text.contains("AWS_*") && !text.contains("hunter2") && !text.contains("AKIAEXAMPLE"), "{text}");
        let error = parse("s3:///prefix", &no_options()).unwrap_err();
        assert!(error.to_string().contains("bucket"), "{error}");
    }

    #[cfg(feature = "s3")]
    #[test]
    fn s3_roots_take_the_prefix_and_check_option_keys_without_echoing_values() {
        let mut options = BTreeMap::from([
            ("endpoint".to_string(), "http://127.0.0.1:9".to_string()),
            ("allow_http".to_string(), "true".to_string()),
            ("region".to_string(), "eu-west-1".to_string()),
        ]);
        let Location::Remote(remote) = parse("s3://team-data/reeflow/prod/", &options).unwrap() else { panic!() };
        assert_eq!(remote.url, "s3://team-data/reeflow/prod");
        assert_eq!(remote.cloud, Cloud::S3);
        assert_eq!(remote.root.prefix(), "reeflow/prod");
        options.insert("secret_acess_key".into(), "hunter2".into());
        let error = parse("s3://team-data/reeflow", &options).unwrap_err();
        let text = error.to_string();
        assert!(text.contains("\"secret_acess_key\"") && !text.contains("hunter2"), "{text}");
    }

    #[cfg(not(feature = "s3"))]
    #[test]
    fn a_build_without_the_cloud_feature_says_how_to_get_it() {
        let error = parse("s3://team-data/reeflow", &no_options()).unwrap_err();
        assert!(error.to_string().contains("--features cloud"), "{error}");
    }
}
