//! The flags of both binaries as a whole: each documented in README (README is part of the
//! code), each also read from `DNS_SIDECAR_<FLAG>`; and every annotation documented.

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

#[test]
fn every_flag_reads_its_environment_variable() {
    for cmd in [
        dns_sidecar_proxy::config::Args::command(),
        dns_sidecar_webhook::config::Args::command(),
    ] {
        let bin = cmd.get_name().to_string();
        for arg in cmd.get_arguments() {
            let Some(long) = arg.get_long() else { continue };
            if long == "help" || long == "version" {
                continue;
            }
            let want = format!("DNS_SIDECAR_{}", long.to_uppercase().replace('-', "_"));
            let got = arg.get_env().map(|e| e.to_string_lossy().to_string());
            assert_eq!(got.as_deref(), Some(want.as_str()), "{bin} --{long}");
        }
    }
}

/// README's layout names every module file of both product crates, so the map stays true.
#[test]
fn every_module_is_on_the_readme_map() {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    for krate in ["proxy", "webhook", "ops", "plugin"] {
        let src = repo_root().join(krate).join("src");
        let mut stack = vec![src.clone()];
        let mut missing = Vec::new();
        while let Some(dir) = stack.pop() {
            for e in std::fs::read_dir(&dir).unwrap() {
                let path = e.unwrap().path();
                let rel = path
                    .strip_prefix(&src)
                    .unwrap()
                    .to_string_lossy()
                    .to_string();
                if path.is_dir() {
                    stack.push(path);
                } else if rel.ends_with(".rs")
                    && !rel.ends_with("tests.rs")
                    && !rel.contains("/tests/")
                    && !readme.contains(&format!("`{rel}`"))
                {
                    missing.push(rel);
                }
            }
        }
        assert!(
            missing.is_empty(),
            "{krate}/src files not in README's layout: {missing:?}"
        );
    }
}
