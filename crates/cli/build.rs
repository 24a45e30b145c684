//! Records the commit the binary is built from, for `reeflow --version`: `git rev-parse` when the
//! source is a git checkout, else `REEFLOW_GIT_COMMIT` from the environment, else `unknown`.

fn main() {
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|output| output.status.success())
        .and_then(|output| String::from_utf8(output.stdout).ok())
        .map(|text| text.trim().to_string())
        .filter(|text| !text.is_empty())
        .or_else(|| std::env::var("REEFLOW_GIT_COMMIT").ok())
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=REEFLOW_GIT_COMMIT={commit}");
    // Build again when HEAD moves (a commit, a checkout); paths are relative to crates/cli.
    for path in ["../../.git/HEAD", "../../.git/refs/heads", "../../.git/packed-refs"] {
        if std::path::Path::new(path).exists() {
            println!("cargo:rerun-if-changed={path}");
        }
    }
    println!("cargo:rerun-if-env-changed=REEFLOW_GIT_COMMIT");
}
