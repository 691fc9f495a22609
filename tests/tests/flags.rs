//! The real binary's start-up: a bad flag stops it with exit code 2 and a message naming
//! the flag.

#[test]
fn bad_flags_stop_startup_naming_the_flag() {
    let bin = dns_sidecar_tests::proxy_bin();
    for (flags, want) in [
        (vec!["--min-ttl", "soon"], "--min-ttl"),
        (
            vec!["--upstream", "127.0.0.1", "--listen", "127.0.0.1:53"],
            "--upstream 127.0.0.1:53",
        ),
        (
            vec!["--upstream", "10.0.0.1", "--admin", "nonsense"],
            "--admin",
        ),
    ] {
        let out = std::process::Command::new(&bin)
            .args(&flags)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{flags:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(want), "{flags:?}: {err}");
    }
}
