//! README is part of the code: every flag of both binaries and every annotation the webhook
//! reads must be documented there.

use clap::CommandFactory;
use dns_sidecar_tests::repo_root;

fn flags(cmd: clap::Command) -> Vec<String> {
    cmd.get_arguments()
        .filter_map(|a| a.get_long().map(String::from))
        .filter(|f| f != "help" && f != "version")
        .collect()
}

#[test]
fn every_flag_and_annotation_is_in_the_readme() {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    for (bin, fl) in [
        (
            "dns-sidecar-proxy",
            flags(dns_sidecar_proxy::config::Args::command()),
        ),
        (
            "dns-sidecar-webhook",
            flags(dns_sidecar_webhook::config::Args::command()),
        ),
    ] {
        assert!(fl.len() > 10, "{bin}: {fl:?}");
        for f in fl {
            // In a table cell: `--flag`, or `--a` / `--b` pairs.
            assert!(
                readme.contains(&format!("`--{f}`")),
                "{bin} --{f} is not in README.md"
            );
        }
    }
    for (key, _, _) in dns_sidecar_webhook::annotations::table() {
        assert!(
            readme.contains(&format!("`{key}`")),
            "annotation {key} is not in README.md"
        );
    }
}
