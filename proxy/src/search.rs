//! The pod's search list and `ndots`, from the resolv.conf the sidecar shares with the app
//! (kubelet writes one per pod), re-read when it changes: what autopath needs to know which
//! names the app's resolver will try, in which order.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use crate::wire::encode_name;

/// glibc's and musl's default.
const DEFAULT_NDOTS: u8 = 1;
/// Both clamp `ndots` to 15.
const MAX_NDOTS: u8 = 15;

/// The search domains in wire form (lowercase) and `ndots`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchList {
    pub domains: Vec<Vec<u8>>,
    pub ndots: u8,
}

/// Reads `search` (or `domain`; the last such line wins, as in glibc) and `options ndots:N`.
/// Domains that are not DNS names are skipped.
pub fn parse(text: &str) -> SearchList {
    let mut list = SearchList {
        domains: Vec::new(),
        ndots: DEFAULT_NDOTS,
    };
    for line in text.lines() {
        let mut words = line.split_whitespace();
        match words.next() {
            Some("search" | "domain") => {
                list.domains = words.filter_map(|d| encode_name(d).ok()).collect();
                list.domains.retain(|d| d.len() > 1);
            }
            Some("options") => {
                for opt in words {
                    if let Some(n) = opt.strip_prefix("ndots:") {
                        if let Ok(n) = n.parse::<u32>() {
                            list.ndots = n.min(MAX_NDOTS as u32) as u8;
                        }
                    }
                }
            }
            _ => {}
        }
    }
    list
}

/// The current search list, shared by the engine and replaced by `watch`.
#[derive(Default)]
pub struct Searches(RwLock<Arc<SearchList>>);

impl Searches {
    pub fn new(list: SearchList) -> Searches {
        Searches(RwLock::new(Arc::new(list)))
    }

    pub fn get(&self) -> Arc<SearchList> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn set(&self, list: SearchList) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(list);
    }
}

/// Re-reads `path` every `every` (a few hundred bytes; kubelet rewrites it in place, so its
/// modification time is not a reliable signal) and swaps in a changed search list.
pub async fn watch(path: PathBuf, target: Arc<Searches>, every: Duration) {
    loop {
        tokio::time::sleep(every).await;
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let list = parse(&text);
                if list != *target.get() {
                    log::info!("{}: search list changed", path.display());
                    target.set(list);
                }
            }
            Err(e) => log::debug!("{}: {e}", path.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Vec<u8> {
        encode_name(s).unwrap()
    }

    #[test]
    fn search_and_ndots_as_kubelet_writes_them() {
        let text = "search shop.svc.cluster.local svc.cluster.local cluster.local corp.example\n\
                    nameserver 127.0.0.1\noptions ndots:5 edns0\n";
        let l = parse(text);
        assert_eq!(
            l.domains,
            vec![
                w("shop.svc.cluster.local"),
                w("svc.cluster.local"),
                w("cluster.local"),
                w("corp.example")
            ]
        );
        assert_eq!(l.ndots, 5);
    }

    #[test]
    fn defaults_last_line_wins_and_bad_values_are_skipped() {
        assert_eq!(parse("").ndots, 1);
        assert!(parse("").domains.is_empty());
        let l = parse("search a.example\nsearch B.example bad..name .\noptions ndots:99\n");
        assert_eq!(l.domains, vec![w("b.example")]);
        assert_eq!(l.ndots, 15);
        assert_eq!(parse("options ndots:x\n").ndots, 1);
        assert_eq!(
            parse("domain corp.example\n").domains,
            vec![w("corp.example")]
        );
    }

    #[tokio::test]
    async fn a_changed_file_is_read_again() {
        let dir = std::env::temp_dir().join(format!("dns-sidecar-search-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("resolv.conf");
        std::fs::write(&path, "search a.svc.cluster.local\noptions ndots:5\n").unwrap();
        let s = Arc::new(Searches::new(parse(
            &std::fs::read_to_string(&path).unwrap(),
        )));
        let task = tokio::spawn(watch(path.clone(), s.clone(), Duration::from_millis(20)));
        std::fs::write(&path, "search b.svc.cluster.local\noptions ndots:2\n").unwrap();
        let mut changed = false;
        for _ in 0..200 {
            tokio::time::sleep(Duration::from_millis(10)).await;
            if s.get().ndots == 2 {
                changed = true;
                break;
            }
        }
        task.abort();
        let _ = std::fs::remove_dir_all(&dir);
        assert!(changed, "the new search list was picked up");
        assert_eq!(s.get().domains, vec![w("b.svc.cluster.local")]);
    }
}
