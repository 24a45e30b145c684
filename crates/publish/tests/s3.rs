//! The publish protocol against a real S3 server on 127.0.0.1: moto's (PyPI `moto[server]`
//! 5.2.1, which implements `If-None-Match: *` and `If-Match` on PutObject), started for the test
//! (`reeflow_testdata::moto`). Built with the `s3` feature (the README's test command has it).
#![cfg(feature = "s3")]

use std::sync::Arc;

use bytes::Bytes;
use object_store::aws::AmazonS3Builder;
use reeflow_publish::{PublishError, Root};
use reeflow_testdata::moto::{self, Moto};

fn root(moto: &Moto, bucket: &str) -> Root {
    let store = AmazonS3Builder::new()
        .with_endpoint(moto.endpoint())
        .with_allow_http(true)
        .with_bucket_name(bucket)
        .with_region("us-east-1")
        .with_access_key_id(moto::ACCESS_KEY)
        .with_secret_access_key(moto::SECRET_KEY)
        .build()
        .unwrap();
    Root::new(Arc::new(store), "published")
}

#[tokio::test]
async fn versions_publish_to_an_s3_bucket_and_a_stale_writer_loses() {
    let Some(program) = moto::server_program() else { return };
    let moto = Moto::start(&program);
    moto.create_bucket("reeflow");
    let root = root(&moto, "reeflow");
    root.self_test().await.unwrap();
    let files =
        |tag: &str| vec![("out/stage_balance/part-0.parquet".to_string(), Bytes::from(format!("balance {tag}")))];
    root.publish("v0001", files("one"), None).await.unwrap();
    let first = root.current().await.unwrap().unwrap();
    // Two writers built on v0001; the first to swap wins, the other finds the pointer moved.
    root.publish("v0002", files("two"), Some(&first)).await.unwrap();
    let lost = root.publish("v0003", files("three"), Some(&first)).await.unwrap_err();
    match &lost {
        PublishError::LostRace { current, .. } => assert_eq!(current, "v0002"),
        other => panic!("{other}"),
    }
    assert_eq!(root.current().await.unwrap().unwrap().version, "v0002");
    assert!(root.manifest("v0003").await.is_err(), "the loser's upload is removed");
    assert_eq!(root.read("v0002", "out/stage_balance/part-0.parquet").await.unwrap(), Bytes::from("balance two"));
    // No credential in what a failure says.
    assert!(!lost.to_string().contains(moto::SECRET_KEY));
}

#[tokio::test]
async fn a_file_larger_than_a_part_is_published_in_parts_to_s3() {
    let Some(program) = moto::server_program() else { return };
    let moto = Moto::start(&program);
    moto.create_bucket("reeflow");
    // S3's smallest part is 5 MiB: a 12 MiB file goes up in three parts.
    let root = root(&moto, "reeflow").with_part_size(5 << 20);
    let work = tempfile::tempdir().unwrap();
    let built = work.path().join("v0001");
    std::fs::create_dir_all(built.join("normalized")).unwrap();
    let large: Vec<u8> = (0..(12u32 << 20) / 4).flat_map(|i| i.wrapping_mul(2_654_435_761).to_le_bytes()).collect();
    std::fs::write(built.join("normalized/trade.parquet"), &large).unwrap();
    let manifest = root.push("v0001", &built, None, None).await.unwrap();
    assert_eq!(manifest.files[0].size, 12 << 20);
    let copy = root.pull("v0001", &work.path().join("mirror")).await.unwrap();
    assert_eq!(std::fs::read(copy.join("normalized/trade.parquet")).unwrap(), large);
    // Another writer that chose the same id stops at the claim, before uploading anything.
    let error = root.push("v0001", &built, None, None).await.unwrap_err();
    assert!(matches!(error, PublishError::VersionExists { .. }), "{error}");
    assert_eq!(root.read("v0001", "normalized/trade.parquet").await.unwrap().len(), 12 << 20);
}
