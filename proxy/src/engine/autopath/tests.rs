//! Which questions start a `cname` walk.

use super::*;
use crate::cache::Cache;
use crate::config::{Args, Config};
use crate::metrics::Metrics;
use crate::search::{parse, Searches};
use crate::upstream::Pool;
use crate::wire::encode_name;
use clap::Parser;

fn engine(level: &str) -> Engine {
    let args = Args::try_parse_from([
        "dns-sidecar-proxy",
        "--upstream=127.0.0.1:1",
        &format!("--autopath={level}"),
    ])
    .unwrap();
    let cfg = Config::from_args(args, None).unwrap();
    let metrics = Arc::new(Metrics::default());
    let pool = Pool::new(&cfg.upstreams, cfg.pool.clone(), metrics.clone());
    let searches = Searches::new(parse(
        "search shop.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n",
    ));
    Engine::new(
        Cache::new(cfg.cache.clone()),
        pool,
        metrics,
        cfg.engine.clone(),
        Arc::new(searches),
    )
}

#[test]
fn only_plain_a_and_aaaa_questions_start_a_cname_walk() {
    let e = engine("cname");
    let name = encode_name("api.example.com.shop.svc.cluster.local").unwrap();
    let walks = |e: &Engine, qtype, dnssec_ok, cd| {
        e.cname_walk(KeyBuf::new(&name, qtype, CLASS_IN, dnssec_ok, cd).key())
            .is_some()
    };
    assert!(walks(&e, TYPE_A, false, false));
    assert!(walks(&e, TYPE_AAAA, false, false));
    assert!(!walks(&e, TYPE_A, true, false), "DO: the real answer");
    assert!(!walks(&e, TYPE_AAAA, false, true), "CD: the real answer");
    assert!(!walks(&e, 16, false, false), "TXT: the real answer");
    assert!(
        !walks(&engine("nxdomain"), TYPE_A, false, false),
        "cname only"
    );
    let other = encode_name("redis.shop.svc.cluster.local").unwrap();
    assert!(
        e.cname_walk(KeyBuf::plain(&other, TYPE_A).key()).is_none(),
        "not a walk's first name"
    );
}
