//! The docs as part of the code: every flag of both binaries, every annotation and every
//! Helm value in the reference (docs/reference.md), each flag also read from
//! `DNS_SIDECAR_<FLAG>`; every module on the layout's map (docs/development.md); every
//! link in README.md and docs/ resolving, to a file and, with an anchor, to a heading.

use clap::CommandFactory;
use dns_sidecar_tests::repo_root;

fn flags(cmd: clap::Command) -> Vec<String> {
    cmd.get_arguments()
        .filter_map(|a| a.get_long().map(String::from))
        .filter(|f| f != "help" && f != "version")
        .collect()
}

fn doc(page: &str) -> String {
    std::fs::read_to_string(repo_root().join(page)).unwrap_or_else(|e| panic!("{page}: {e}"))
}

#[test]
fn every_flag_and_annotation_is_in_the_reference() {
    let readme = doc("docs/reference.md");
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
                "{bin} --{f} is not in docs/reference.md"
            );
        }
    }
    for (key, _, _) in dns_sidecar_webhook::annotations::table() {
        assert!(
            readme.contains(&format!("`{key}`")),
            "annotation {key} is not in docs/reference.md"
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

/// The layout names every module file of the product crates, so the map stays true.
#[test]
fn every_module_is_on_the_layout_map() {
    let readme = doc("docs/development.md");
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
            "{krate}/src files not in docs/development.md's layout: {missing:?}"
        );
    }
}

/// Every leaf of the chart's values.yaml (`a.b.c`) is named in the reference's Helm table.
#[test]
fn every_helm_value_is_in_the_reference() {
    let reference = doc("docs/reference.md");
    let values: serde_yaml::Value =
        serde_yaml::from_str(&doc("charts/dns-sidecar/values.yaml")).unwrap();
    fn leaves(v: &serde_yaml::Value, path: String, out: &mut Vec<String>) {
        match v {
            serde_yaml::Value::Mapping(m) if !path.ends_with("resources") => {
                for (k, v) in m {
                    let k = k.as_str().unwrap();
                    let p = if path.is_empty() {
                        k.to_string()
                    } else {
                        format!("{path}.{k}")
                    };
                    leaves(v, p, out);
                }
            }
            _ => out.push(path),
        }
    }
    let mut keys = Vec::new();
    leaves(&values, String::new(), &mut keys);
    assert!(keys.len() > 20, "{keys:?}");
    for k in keys {
        assert!(
            reference.contains(&format!("`{k}`")),
            "Helm value {k} is not in docs/reference.md"
        );
    }
}

/// GitHub's anchor for a heading.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == '-' || *c == ' ' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

#[test]
fn every_link_in_the_docs_resolves() {
    let mut pages = vec![repo_root().join("README.md")];
    for e in std::fs::read_dir(repo_root().join("docs")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "md") {
            pages.push(p);
        }
    }
    assert!(pages.len() >= 8, "README.md and docs/: {pages:?}");
    let mut broken = Vec::new();
    for page in &pages {
        let text = std::fs::read_to_string(page).unwrap();
        for (i, _) in text.match_indices("](") {
            let rest = &text[i + 2..];
            let Some(end) = rest.find(')') else { continue };
            let link = &rest[..end];
            if link.starts_with("http://") || link.starts_with("https://") || link.contains(' ') {
                continue;
            }
            let (file, anchor) = link.split_once('#').unwrap_or((link, ""));
            let target = if file.is_empty() {
                page.clone()
            } else {
                page.parent().unwrap().join(file)
            };
            if !target.exists() {
                broken.push(format!("{}: {link} (no such file)", page.display()));
                continue;
            }
            if !anchor.is_empty() {
                let t = std::fs::read_to_string(&target).unwrap();
                let found = t
                    .lines()
                    .filter_map(|l| {
                        l.trim_start_matches('#')
                            .strip_prefix(' ')
                            .filter(|_| l.starts_with('#'))
                    })
                    .any(|h| slug(h) == anchor);
                if !found {
                    broken.push(format!("{}: {link} (no such heading)", page.display()));
                }
            }
        }
    }
    assert!(broken.is_empty(), "broken links: {broken:#?}");
}
