//! Client resolvers other than glibc's, built from source here: `tests/clients/gai.c`
//! linked statically with musl-gcc (Debian's musl-tools) is musl's own resolver, as in an
//! Alpine container.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use crate::require;

/// The static musl getaddrinfo client, built once per test process.
pub fn musl_gai() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        require("musl-gcc", "musl-tools");
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let dir = root.join("../target/test-clients");
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join("gai-musl");
        // Built under a name of this process's own, then renamed: test binaries run at once.
        let tmp = dir.join(format!("gai-musl.{}", std::process::id()));
        let status = Command::new("musl-gcc")
            .args(["-static", "-O2", "-o"])
            .arg(&tmp)
            .arg(root.join("clients/gai.c"))
            .status()
            .expect("musl-gcc runs");
        assert!(
            status.success(),
            "musl-gcc could not build tests/clients/gai.c"
        );
        std::fs::rename(&tmp, &out).unwrap();
        out
    })
    .clone()
}
