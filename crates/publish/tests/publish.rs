//! The publish protocol against `object_store`'s in-memory store (atomic under concurrent puts),
//! a stand-in that ignores conditional writes, and a local folder.

use std::sync::Arc;

use bytes::Bytes;
use futures::stream::BoxStream;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore, ObjectStoreExt, PutMode,
    PutMultipartOptions, PutOptions, PutPayload, PutResult,
};
use reeflow_publish::{PublishError, Root};

fn files(tag: &str) -> Vec<(String, Bytes)> {
    vec![
        ("out/stage_balance/part-0.parquet".to_string(), Bytes::from(format!("balance of {tag}"))),
        ("out/trade_flows/part-0.parquet".to_string(), Bytes::from(format!("flows of {tag}"))),
    ]
}

#[tokio::test]
async fn versions_are_published_one_after_another_and_read_through_the_pointer() {
    let root = Root::new(Arc::new(InMemory::new()), "team/reeflow");
    root.self_test().await.unwrap();
    assert!(root.current().await.unwrap().is_none());
    let first = root.publish("v0001", files("v1"), None).await.unwrap();
    assert_eq!((first.version.as_str(), first.parent.as_deref(), first.files.len()), ("v0001", None, 2));
    let pointer = root.current().await.unwrap().unwrap();
    assert_eq!(pointer.version, "v0001");
    // A reader resolves the pointer once; a second publish does not move what it reads.
    let second = root.publish("v0002", files("v2"), Some(&pointer)).await.unwrap();
    assert_eq!(second.parent.as_deref(), Some("v0001"));
    assert_eq!(root.read("v0001", "out/trade_flows/part-0.parquet").await.unwrap(), Bytes::from("flows of v1"));
    assert_eq!(root.current().await.unwrap().unwrap().version, "v0002");
    let manifest = root.manifest("v0002").await.unwrap();
    let listed = &manifest.files[0];
    assert_eq!(listed.size, "balance of v2".len() as u64);
    assert_eq!(listed.sha256.len(), 64);
    // Versions are immutable: an id is never reused.
    let pointer = root.current().await.unwrap().unwrap();
    let again = root.publish("v0002", files("v3"), Some(&pointer)).await.unwrap_err();
    assert!(matches!(again, PublishError::VersionExists { .. }), "{again}");
    assert_eq!(root.read("v0002", "out/stage_balance/part-0.parquet").await.unwrap(), Bytes::from("balance of v2"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_two_concurrent_writers_exactly_one_publishes() {
    for round in 0..25 {
        let store = Arc::new(InMemory::new());
        let root = Root::new(store.clone(), "root");
        root.publish("base", files("base"), None).await.unwrap();
        let pointer = root.current().await.unwrap().unwrap();
        let (a, b) = (root.clone(), root.clone());
        let (pa, pb) = (pointer.clone(), pointer.clone());
        let first = tokio::spawn(async move { a.publish("left", files("left"), Some(&pa)).await });
        let second = tokio::spawn(async move { b.publish("right", files("right"), Some(&pb)).await });
        let results = [first.await.unwrap(), second.await.unwrap()];
        let won: Vec<&str> = results.iter().filter_map(|r| r.as_ref().ok().map(|m| m.version.as_str())).collect();
        assert_eq!(won.len(), 1, "round {round}: {results:?}");
        let lost = results.iter().find_map(|r| r.as_ref().err()).unwrap();
        match lost {
            PublishError::LostRace { current, .. } => assert_eq!(current, won[0]),
            other => panic!("round {round}: {other}"),
        }
        assert!(lost.to_string().contains("another writer published"), "{lost}");
        assert_eq!(root.current().await.unwrap().unwrap().version, won[0]);
        // The loser's upload is gone; the winner's is complete.
        let loser = if won[0] == "left" { "right" } else { "left" };
        let leftovers: Vec<ObjectMeta> =
            futures::StreamExt::collect::<Vec<_>>(store.list(Some(&Path::from(format!("root/versions/{loser}")))))
                .await
                .into_iter()
                .map(|m| m.unwrap())
                .collect();
        assert!(leftovers.is_empty(), "round {round}: {leftovers:?}");
        assert_eq!(root.manifest(won[0]).await.unwrap().files.len(), 2);
    }
}

/// The in-memory store seen through a stand-in: one that accepts every write whatever its
/// condition (as some S3-compatible servers do), and that counts what it is asked to do.
#[derive(Debug, Default)]
struct StandIn {
    inner: InMemory,
    ignores_conditions: bool,
    puts: std::sync::atomic::AtomicUsize,
    copies: std::sync::atomic::AtomicUsize,
}

impl StandIn {
    fn ignoring_conditions() -> Self {
        Self { ignores_conditions: true, ..Self::default() }
    }

    fn count(counter: &std::sync::atomic::AtomicUsize) -> usize {
        counter.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl std::fmt::Display for StandIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", if self.ignores_conditions { "IgnoresConditions" } else { "StandIn" })
    }
}

#[async_trait::async_trait]
impl ObjectStore for StandIn {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        self.puts.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let opts = if self.ignores_conditions { PutOptions { mode: PutMode::Overwrite, ..opts } } else { opts };
        self.inner.put_opts(location, payload, opts).await
    }
    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.puts.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.put_multipart_opts(location, opts).await
    }
    async fn get_opts(&self, location: &Path, options: GetOptions) -> object_store::Result<GetResult> {
        self.inner.get_opts(location, options).await
    }
    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        self.inner.delete_stream(locations)
    }
    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.inner.list(prefix)
    }
    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }
    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> object_store::Result<()> {
        self.copies.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.copy_opts(from, to, options).await
    }
}

#[tokio::test]
async fn a_store_that_ignores_conditional_writes_is_refused() {
    let root = Root::new(Arc::new(StandIn::ignoring_conditions()), "root");
    let error = root.self_test().await.unwrap_err();
    assert!(matches!(error, PublishError::ConditionsIgnored { .. }), "{error}");
    assert!(error.to_string().contains("IgnoresConditions ignores conditional writes"), "{error}");
}

#[tokio::test]
async fn a_local_folder_through_object_store_cannot_swap_a_pointer_and_says_so() {
    // Local roots keep the symlink switch; object_store's local files have no compare-and-swap.
    let dir = tempfile::tempdir().unwrap();
    let store = object_store::local::LocalFileSystem::new_with_prefix(dir.path()).unwrap();
    let error = Root::new(Arc::new(store), "root").self_test().await.unwrap_err();
    assert!(error.to_string().contains("compare-and-swap probe"), "{error}");
}

#[tokio::test]
async fn a_reader_on_the_old_version_keeps_reading_it() {
    let root = Root::new(Arc::new(InMemory::new()), "r");
    root.publish("v1", files("v1"), None).await.unwrap();
    let seen = root.current().await.unwrap().unwrap();
    let manifest = root.manifest(&seen.version).await.unwrap();
    root.publish("v2", files("v2"), Some(&seen)).await.unwrap();
    for file in &manifest.files {
        let bytes = root.read(&seen.version, &file.path).await.unwrap();
        assert_eq!(bytes.len() as u64, file.size);
    }
}

#[tokio::test]
async fn a_folder_is_published_and_copied_back_checked_once() {
    let store = Arc::new(InMemory::new());
    let root = Root::new(store.clone(), "team");
    let work = tempfile::tempdir().unwrap();
    let built = work.path().join("built/v0001");
    std::fs::create_dir_all(built.join("out/stage_balance")).unwrap();
    std::fs::write(built.join("version.json"), "{}").unwrap();
    std::fs::write(built.join("out/stage_balance/part-0.parquet"), "balance").unwrap();
    let manifest = root.push("v0001", &built, None, None).await.unwrap();
    let paths: Vec<&str> = manifest.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, ["out/stage_balance/part-0.parquet", "version.json"]);
    assert!(built.join(reeflow_publish::LOCAL_MANIFEST).exists(), "the built folder records its manifest");

    let mirror = work.path().join("mirror");
    let copy = root.pull("v0001", &mirror).await.unwrap();
    assert_eq!(std::fs::read_to_string(copy.join("out/stage_balance/part-0.parquet")).unwrap(), "balance");
    // Checked once: a second pull reads only the manifest (a planted local edit stays).
    std::fs::write(copy.join("version.json"), "edited").unwrap();
    root.pull("v0001", &mirror).await.unwrap();
    assert_eq!(std::fs::read_to_string(copy.join("version.json")).unwrap(), "edited");

    // An object changed behind the manifest's back is refused, and no half copy is left.
    store.put(&Path::from("team/versions/v0001/version.json"), PutPayload::from_static(b"tampered")).await.unwrap();
    let other = work.path().join("other-mirror");
    let error = root.pull("v0001", &other).await.unwrap_err();
    assert!(matches!(error, PublishError::Corrupt { .. }), "{error}");
    assert!(error.to_string().contains("team/versions/v0001/version.json"), "{error}");
    let left: Vec<_> = std::fs::read_dir(&other).unwrap().collect();
    assert!(left.is_empty(), "nothing left behind: {left:?}");
}

#[tokio::test]
async fn pruning_keeps_what_the_pointer_and_the_recent_history_name() {
    let store = Arc::new(InMemory::new());
    let root = Root::new(store.clone(), "team");
    let mut base = None;
    for id in ["v1", "v2", "v3", "v4"] {
        root.publish(id, files(id), base.as_ref()).await.unwrap();
        base = root.current().await.unwrap();
    }
    // A writer's upload still going on (no manifest yet, fresh) is left alone.
    store.put(&Path::from("team/versions/v5/out/x.parquet"), PutPayload::from_static(b"x")).await.unwrap();
    let history = root.history().await.unwrap();
    assert_eq!(history.iter().map(|h| h.version.as_str()).collect::<Vec<_>>(), ["v1", "v2", "v3", "v4"]);
    assert_eq!(history[3].replaced.as_deref(), Some("v3"));
    // keep = 1: v4 (current) and v3 (which it replaced) stay.
    let removed = root.prune(1).await.unwrap();
    assert_eq!(removed, ["v1", "v2"]);
    assert_eq!(root.version_ids().await.unwrap(), ["v3", "v4", "v5"]);
    assert!(root.manifest("v2").await.is_err());
    assert_eq!(root.read("v3", "out/trade_flows/part-0.parquet").await.unwrap(), Bytes::from("flows of v3"));
    assert_eq!(root.history().await.unwrap().len(), 4, "history entries stay as the record");
}

#[tokio::test]
async fn files_uploaded_for_a_cluster_are_published_without_a_second_upload() {
    let store = Arc::new(InMemory::new());
    let root = Root::new(store.clone(), "team");
    let work = tempfile::tempdir().unwrap();
    let built = work.path().join("v0001");
    std::fs::create_dir_all(built.join("out/trade_reo")).unwrap();
    std::fs::create_dir_all(built.join("normalized")).unwrap();
    std::fs::write(built.join("normalized/trade.parquet"), "trade").unwrap();
    std::fs::write(built.join("out/trade_reo/part-0.parquet"), "reo, first try").unwrap();
    std::fs::write(built.join("out/trade_reo/part-1.parquet"), "reo, second part").unwrap();
    let upload = reeflow_publish::Upload::new(&root, "v0001", &built);

    assert_eq!(
        upload.share(&built.join("normalized/trade.parquet")).await.unwrap(),
        "versions/v0001/normalized/trade.parquet"
    );
    assert_eq!(upload.share(&built.join("out/trade_reo")).await.unwrap(), "versions/v0001/out/trade_reo/");
    assert!(root.current().await.unwrap().is_none(), "uploaded, not published");
    assert!(root.manifest("v0001").await.is_err(), "no manifest: readers do not see it");
    let part0 = Path::from("team/versions/v0001/out/trade_reo/part-0.parquet");
    let part1 = Path::from("team/versions/v0001/out/trade_reo/part-1.parquet");
    // The stage is built again with one part: the folder in the store follows.
    std::fs::write(built.join("out/trade_reo/part-0.parquet"), "reo, rebuilt").unwrap();
    std::fs::remove_file(built.join("out/trade_reo/part-1.parquet")).unwrap();
    upload.share(&built.join("out/trade_reo")).await.unwrap();
    assert_eq!(store.get(&part0).await.unwrap().bytes().await.unwrap(), Bytes::from("reo, rebuilt"));
    assert!(store.head(&part1).await.is_err(), "a part no longer built is removed");
    let trade = Path::from("team/versions/v0001/normalized/trade.parquet");
    let uploaded_tag = store.head(&trade).await.unwrap().e_tag;

    std::fs::write(built.join("version.json"), "{}").unwrap();
    let manifest = root.push("v0001", &built, None, Some(&upload)).await.unwrap();
    let paths: Vec<&str> = manifest.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, ["normalized/trade.parquet", "out/trade_reo/part-0.parquet", "version.json"]);
    assert_eq!(store.head(&trade).await.unwrap().e_tag, uploaded_tag, "not uploaded a second time");
    assert_eq!(root.current().await.unwrap().unwrap().version, "v0001");

    // Another writer that chose the same id owns nothing of it; a discarded upload leaves nothing.
    let other = reeflow_publish::Upload::new(&root, "v0001", &built);
    let error = other.share(&built.join("normalized/trade.parquet")).await.unwrap_err();
    assert!(matches!(error, PublishError::VersionExists { .. }), "{error}");
    let unpublished = reeflow_publish::Upload::new(&root, "v0002", &built);
    unpublished.share(&built.join("out/trade_reo")).await.unwrap();
    unpublished.discard().await;
    assert_eq!(root.version_ids().await.unwrap(), ["v0001"]);
    let outside = work.path().join("elsewhere.parquet");
    std::fs::write(&outside, "x").unwrap();
    let error = unpublished.share(&outside).await.unwrap_err();
    assert!(error.to_string().contains("not inside the folder of version v0002"), "{error}");
}

#[tokio::test]
async fn raw_bodies_are_stored_by_hash_and_indexes_swapped_by_compare_and_swap() {
    let store = Arc::new(InMemory::new());
    let root = Root::new(store.clone(), "team");
    assert!(root.raw_sources().await.unwrap().is_empty());
    assert!(root.raw_index("usgs").await.unwrap().is_none());
    root.put_raw_body("usgs", "a.csv", Bytes::from("first answer")).await.unwrap();
    root.put_raw_body("usgs", "a.csv", Bytes::from("first answer")).await.unwrap();
    root.put_raw_body("usgs", "a.csv", Bytes::from("refetched answer")).await.unwrap();
    let first = reeflow_files::sha256_hex(b"first answer");
    assert_eq!(root.raw_body("usgs", "a.csv", &first, 12).await.unwrap(), Bytes::from("first answer"));
    assert!(root.raw_body("usgs", "a.csv", &reeflow_files::sha256_hex(b"never stored"), 12).await.is_err());

    assert!(root.swap_raw_index("usgs", Bytes::from("index 1"), None).await.unwrap());
    assert!(!root.swap_raw_index("usgs", Bytes::from("index 1 again"), None).await.unwrap(), "created once");
    let (bytes, tag) = root.raw_index("usgs").await.unwrap().unwrap();
    assert_eq!(bytes, Bytes::from("index 1"));
    // Two writers read the same index: the first swap wins, the second is told to merge again.
    assert!(root.swap_raw_index("usgs", Bytes::from("index 2"), Some(&tag)).await.unwrap());
    assert!(!root.swap_raw_index("usgs", Bytes::from("index 2 of the other"), Some(&tag)).await.unwrap());
    assert_eq!(root.raw_index("usgs").await.unwrap().unwrap().0, Bytes::from("index 2"));
    assert_eq!(root.raw_sources().await.unwrap(), ["usgs"]);

    // A body changed in the store after it was written is refused.
    store.put(&Path::from(format!("team/raw/usgs/{first}/a.csv")), PutPayload::from_static(b"tampered")).await.unwrap();
    let error = root.raw_body("usgs", "a.csv", &first, 12).await.unwrap_err();
    assert!(matches!(error, PublishError::Corrupt { .. }), "{error}");
}

#[tokio::test]
async fn large_files_go_up_in_parts_and_come_down_checked() {
    let store = Arc::new(InMemory::new());
    let root = Root::new(store.clone(), "team").with_part_size(1024);
    let work = tempfile::tempdir().unwrap();
    let built = work.path().join("v0001");
    std::fs::create_dir_all(built.join("normalized")).unwrap();
    let large: Vec<u8> = (0..10_000u32).flat_map(|i| i.to_le_bytes()).collect();
    std::fs::write(built.join("normalized/trade.parquet"), &large).unwrap();
    std::fs::write(built.join("version.json"), "{}").unwrap();
    let manifest = root.push("v0001", &built, None, None).await.unwrap();
    let trade = &manifest.files[0];
    assert_eq!((trade.size, trade.sha256.as_str()), (40_000, reeflow_files::sha256_hex(&large).as_str()));
    assert_eq!(root.read("v0001", "normalized/trade.parquet").await.unwrap(), Bytes::from(large.clone()));
    assert!(store.head(&Path::from("team/versions/v0001/.claim")).await.is_ok(), "the writer claimed the prefix");

    let copy = root.pull("v0001", &work.path().join("mirror")).await.unwrap();
    assert_eq!(std::fs::read(copy.join("normalized/trade.parquet")).unwrap(), large);
    // A stored object cut short is refused on the way down, and nothing is left half written.
    let cut = Bytes::from(large[..30_000].to_vec());
    store.put(&Path::from("team/versions/v0001/normalized/trade.parquet"), PutPayload::from_bytes(cut)).await.unwrap();
    let other = work.path().join("other-mirror");
    let error = root.pull("v0001", &other).await.unwrap_err();
    assert!(
        error.to_string().contains("expected 40000 bytes") && error.to_string().contains("got 30000 bytes"),
        "{error}"
    );
    assert_eq!(std::fs::read_dir(&other).unwrap().count(), 0, "nothing left behind");
}

#[tokio::test]
async fn an_unchanged_file_is_copied_from_the_version_it_replaces_not_uploaded_or_downloaded_again() {
    let store = Arc::new(StandIn::default());
    let root = Root::new(store.clone(), "team");
    let work = tempfile::tempdir().unwrap();
    let build = |id: &str, balance: &str| {
        let dir = work.path().join("built").join(id);
        std::fs::create_dir_all(dir.join("normalized")).unwrap();
        std::fs::create_dir_all(dir.join("out/stage_balance")).unwrap();
        std::fs::write(dir.join("normalized/trade.parquet"), "the same trade table").unwrap();
        std::fs::write(dir.join("out/stage_balance/part-0.parquet"), balance).unwrap();
        dir
    };
    root.push("v0001", &build("v0001", "balance 1"), None, None).await.unwrap();
    let mirror = work.path().join("mirror");
    root.pull("v0001", &mirror).await.unwrap();
    let first = root.current().await.unwrap().unwrap();
    let puts = StandIn::count(&store.puts);
    root.push("v0002", &build("v0002", "balance 2"), Some(&first), None).await.unwrap();
    // The claim, the changed output, the manifest, the pointer, the history entry: the trade
    // table is copied inside the store.
    assert_eq!((StandIn::count(&store.puts) - puts, StandIn::count(&store.copies)), (5, 1));
    assert_eq!(root.read("v0002", "normalized/trade.parquet").await.unwrap(), Bytes::from("the same trade table"));

    // A reader with v0001's copy links the unchanged file from it; a planted edit there is not
    // trusted (that file is downloaded).
    let copy = root.pull("v0002", &mirror).await.unwrap();
    let linked = |path: &str| {
        use std::os::unix::fs::MetadataExt;
        let (a, b) = (mirror.join("v0001").join(path), copy.join(path));
        std::fs::metadata(a).unwrap().ino() == std::fs::metadata(b).unwrap().ino()
    };
    assert!(linked("normalized/trade.parquet"));
    assert_eq!(std::fs::read_to_string(copy.join("out/stage_balance/part-0.parquet")).unwrap(), "balance 2");
    let other = work.path().join("other-mirror");
    root.pull("v0001", &other).await.unwrap();
    std::fs::remove_file(other.join("v0001/normalized/trade.parquet")).unwrap();
    std::fs::write(other.join("v0001/normalized/trade.parquet"), "edited trade table!!").unwrap();
    let copy = root.pull("v0002", &other).await.unwrap();
    assert_eq!(std::fs::read_to_string(copy.join("normalized/trade.parquet")).unwrap(), "the same trade table");
}

#[tokio::test]
async fn a_rejected_version_is_uploaded_readable_and_never_current() {
    let root = Root::new(Arc::new(InMemory::new()), "team");
    let work = tempfile::tempdir().unwrap();
    let build = |id: &str| {
        let dir = work.path().join("built").join(id);
        std::fs::create_dir_all(dir.join("out/stage_balance")).unwrap();
        std::fs::write(dir.join("out/stage_balance/part-0.parquet"), format!("balance of {id}")).unwrap();
        dir
    };
    root.push("v1", &build("v1"), None, None).await.unwrap();
    let current = root.current().await.unwrap().unwrap();
    root.push_rejected("v2", &build("v2"), Some(&current), None, "diff thresholds breached: production.t_reo")
        .await
        .unwrap();
    assert_eq!(root.current().await.unwrap().unwrap().version, "v1", "a rejected version never becomes current");
    let copy = root.pull("v2", &work.path().join("mirror")).await.unwrap();
    assert_eq!(std::fs::read_to_string(copy.join("out/stage_balance/part-0.parquet")).unwrap(), "balance of v2");
    let rejections = root.rejections().await.unwrap();
    assert_eq!(rejections.len(), 1);
    assert_eq!((rejections[0].version.as_str(), rejections[0].based_on.as_deref()), ("v2", Some("v1")));
    assert!(rejections[0].reason.contains("production.t_reo"));
    assert!(root.history().await.unwrap().iter().all(|h| h.version != "v2"), "not in the publish history");

    // Pruning keeps the newest rejected version only.
    assert!(root.prune(1).await.unwrap().is_empty());
    root.push_rejected("v3", &build("v3"), Some(&current), None, "checks failed").await.unwrap();
    assert_eq!(root.prune(1).await.unwrap(), ["v2"]);
    assert_eq!(root.version_ids().await.unwrap(), ["v1", "v3"]);
}
