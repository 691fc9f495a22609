//! What a ServiceAccount may do, as the real RBAC authorizer lists it
//! (`kubectl auth can-i --list`), against the table "What each ServiceAccount may do" of docs/install.md.

use std::collections::BTreeSet;

use super::Kube;
use crate::repo_root;

/// The table's rows for one install: (namespace or "any", resource, verb).
pub fn readme_rights(install: &str) -> Vec<(String, String, String)> {
    let readme = std::fs::read_to_string(repo_root().join("docs/install.md")).unwrap();
    let section = readme
        .split("### What each ServiceAccount may do")
        .nth(1)
        .expect("docs/install.md: What each ServiceAccount may do");
    let mut rows = Vec::new();
    for line in section
        .lines()
        .filter(|l| l.starts_with(&format!("| {install} |")))
    {
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        for verb in cells[4].split_whitespace().filter(|v| *v != "none") {
            rows.push((cells[2].to_string(), cells[3].to_string(), verb.to_string()));
        }
    }
    assert!(
        !rows.is_empty() || install == "node-cache",
        "docs/install.md lists nothing for {install}"
    );
    rows
}

/// (resource, verb) pairs `kubectl auth can-i --list` gives a ServiceAccount (NS:NAME) in
/// a namespace, without those every authenticated user has.
pub fn can_i(k: &Kube, sa: &str, ns: &str) -> BTreeSet<(String, String)> {
    let out = k.ok(&[
        "auth",
        "can-i",
        "--list",
        &format!("--as=system:serviceaccount:{sa}"),
        "-n",
        ns,
    ]);
    let mut set = BTreeSet::new();
    for line in out.lines().skip(1).filter(|l| !l.starts_with(' ')) {
        let Some(resource) = line.split_whitespace().next() else {
            continue;
        };
        if resource.starts_with("selfsubject") {
            continue;
        }
        let verbs = line
            .rsplit_once('[')
            .map(|(_, v)| v.trim_end_matches(']'))
            .unwrap_or("");
        for v in verbs.split_whitespace() {
            set.insert((resource.to_string(), v.to_string()));
        }
    }
    set
}

/// The ServiceAccount's rights in kube-system, the webhook's namespace and default are
/// exactly the table's rows for `install`.
pub fn assert_rights(k: &Kube, install: &str, sa: &str) {
    let rows = readme_rights(install);
    for ns in ["kube-system", super::WEBHOOK_NS, "default"] {
        let want: BTreeSet<(String, String)> = rows
            .iter()
            .filter(|(n, _, _)| n == "any" || n == ns)
            .map(|(_, r, v)| (r.clone(), v.clone()))
            .collect();
        assert_eq!(
            can_i(k, sa, ns),
            want,
            "{install}: {sa} in {ns}, against docs/install.md"
        );
    }
}
