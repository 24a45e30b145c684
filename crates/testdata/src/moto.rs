//! A real S3 server for the tests of remote data roots: moto's (PyPI `moto[server]` 5.2.1, which
//! implements `If-None-Match: *` and `If-Match` on PutObject), started on a free port of
//! 127.0.0.1 and killed when dropped. `.ci/run` installs it into `~/.cache/reeflow/moto-venv`;
//! `REEFLOW_MOTO_SERVER` names another. Under CI its absence is a failure; elsewhere the caller is
//! told it did not run.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The access key the tests give (moto accepts any).
pub const ACCESS_KEY: &str = "reeflow-test";
/// A secret no output may contain.
pub const SECRET_KEY: &str = "reeflow-test-secret-d41d8cd9";

/// The `moto_server` program, or None (with a note) when it is not installed outside CI.
pub fn server_program() -> Option<PathBuf> {
    let path = std::env::var_os("REEFLOW_MOTO_SERVER").map(PathBuf::from).or_else(|| {
        std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache/reeflow/moto-venv/bin/moto_server"))
    });
    let found = path.filter(|p| p.exists());
    if found.is_none() {
        assert!(std::env::var_os("CI").is_none(), "CI is set but moto_server is missing: .ci/run installs it");
        eprintln!("moto_server not found (.ci/run installs it): this S3 test did not run");
    }
    found
}

/// The Python of moto's venv (it has pyarrow too: the tests read a published version with it).
pub fn python() -> Option<PathBuf> {
    server_program().map(|p| p.with_file_name("python"))
}

/// A running moto S3 server.
pub struct Moto {
    child: Child,
    pub port: u16,
}

impl Moto {
    /// Starts the server and waits until it listens.
    pub fn start(program: &PathBuf) -> Self {
        // Tests of one binary start servers from several threads: from picking a free port until
        // the server listens on it, no other thread may pick (the port is free in between, and a
        // second server on it would fail to bind while the first answered in its place).
        static STARTING: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _one_at_a_time = STARTING.lock().unwrap_or_else(|e| e.into_inner());
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut child = Command::new(program)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(child.try_wait().unwrap().is_none(), "moto_server exited before listening on {port}");
            assert!(started.elapsed() < Duration::from_secs(30), "moto_server did not listen on {port}");
            std::thread::sleep(Duration::from_millis(100));
        }
        Self { child, port }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Creates a bucket (moto accepts unsigned requests).
    pub fn create_bucket(&self, name: &str) {
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

    /// The standard AWS variables that point a client at this server.
    pub fn aws_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY.to_string()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.to_string()),
            ("AWS_REGION", "us-east-1".to_string()),
            ("AWS_ENDPOINT", self.endpoint()),
            ("AWS_ALLOW_HTTP", "true".to_string()),
        ]
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
