//! The publish protocol against a real S3 server on 127.0.0.1: moto's (PyPI `moto[server]`
//! 5.2.1, which implements `If-None-Match: *` and `If-Match` on PutObject), started for the test.
//! `.ci/run` installs it into `~/.cache/reeflow/moto-venv`; `REEFLOW_MOTO_SERVER` names another.
//! Under CI its absence is a failure; elsewhere the test says it did not run. Built with the `s3`
//! feature only: `cargo test -p reeflow-publish --features s3` (part of the README's test command).
#![cfg(feature = "s3")]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use object_store::aws::AmazonS3Builder;
use reeflow_publish::{PublishError, Root};

fn moto_server() -> Option<PathBuf> {
    let path = std::env::var_os("REEFLOW_MOTO_SERVER").map(PathBuf::from).or_else(|| {
        std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache/reeflow/moto-venv/bin/moto_server"))
    });
    let found = path.filter(|p| p.exists());
    if found.is_none() {
        assert!(std::env::var_os("CI").is_none(), "CI is set but moto_server is missing: .ci/run installs it");
        eprintln!("moto_server not found (.ci/run installs it): the S3 test did not run");
    }
    found
}

/// A moto S3 server on a free port of 127.0.0.1, killed when dropped.
struct Moto {
    child: Child,
    port: u16,
}

impl Moto {
    fn start(program: &PathBuf) -> Self {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(program)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < Duration::from_secs(30), "moto_server did not listen on {port}");
            std::thread::sleep(Duration::from_millis(100));
        }
        Self { child, port }
    }

    /// Creates a bucket (moto accepts unsigned requests).
    fn create_bucket(&self, name: &str) {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        write!(
            stream,
            "PUT /{name} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.port
        )
        .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }

    fn root(&self, bucket: &str) -> Root {
        let store = AmazonS3Builder::new()
            .with_endpoint(format!("http://127.0.0.1:{}", self.port))
            .with_allow_http(true)
            .with_bucket_name(bucket)
            .with_region("us-east-1")
            .with_access_key_id("reeflow-test")
            .with_secret_access_key("reeflow-test-secret")
            .build()
            .unwrap();
        Root::new(Arc::new(store), "published")
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn versions_publish_to_an_s3_bucket_and_a_stale_writer_loses() {
    let Some(program) = moto_server() else { return };
    let moto = Moto::start(&program);
    moto.create_bucket("reeflow");
    let root = moto.root("reeflow");
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
    assert!(!lost.to_string().contains("reeflow-test-secret"));
}
