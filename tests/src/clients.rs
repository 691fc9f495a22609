//! Client resolvers other than glibc's, built from source here: `tests/clients/gai.c`
//! linked statically with musl-gcc (Debian's musl-tools) is musl's own resolver, as in an
//! Alpine container; `tests/clients/gai.go` built with CGO_ENABLED=0 is Go's own stub
//! resolver, as in a distroless Go service.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::require;

/// Builds `name` once per test process with the command `build` makes for an output path,
/// under a name of this process's own and then renamed: test binaries run at once.
fn built(name: &str, build: impl FnOnce(&Path) -> Command) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/test-clients");
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join(name);
    let tmp = dir.join(format!("{name}.{}", std::process::id()));
    let mut cmd = build(&tmp);
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("building {name}: {e}"));
    assert!(status.success(), "could not build {name}: {cmd:?}");
    std::fs::rename(&tmp, &out).unwrap();
    out
}

fn source(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("clients")
        .join(file)
}

/// The static musl getaddrinfo client.
pub fn musl_gai() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let cc = require("musl-gcc", "musl-tools");
        built("gai-musl", |out| {
            let mut c = Command::new(cc);
            c.args(["-static", "-O2", "-o"])
                .arg(out)
                .arg(source("gai.c"));
            c
        })
    })
    .clone()
}

/// The Go client, Go's own resolver (no cgo).
pub fn go_gai() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let go = require("go", "golang-go");
        let cache = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/test-clients/go");
        built("gai-go", |out| {
            let mut c = Command::new(go);
            c.args(["build", "-o"])
                .arg(out)
                .arg(source("gai.go"))
                .env("CGO_ENABLED", "0")
                .env("GOTOOLCHAIN", "local")
                .env("GOCACHE", cache.join("cache"))
                .env("GOPATH", cache.join("path"))
                .env("HOME", &cache);
            c
        })
    })
    .clone()
}
