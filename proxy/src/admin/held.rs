//! `/debug/cache?name=&type=`: what the cache holds for a question, found as the pod's
//! resolver would look for it (a name without a final dot is tried with each search domain
//! of the pod's resolv.conf, then as it is), each entry with its records as a client would
//! get them now (what is left of each TTL beside the TTL received), whether it is fresh,
//! stale or expired, and when it will be refreshed. Reading leaves the cache as it is.

use std::str::FromStr;
use std::time::Duration;

use hickory_proto::op::Message;
use hickory_proto::rr::{Record, RecordType};

use super::json::J;
use crate::answer::{Answer, Kind, Serve};
use crate::cache::Held;
use crate::engine::Engine;
use crate::obj;
use crate::wire::{self, Key, KeyBuf, CLASS_IN};

/// Types shown when none is asked for: what glibc and musl ask for every name.
const DEFAULT_TYPES: [u16; 2] = [wire::TYPE_A, wire::TYPE_AAAA];

/// A type as asked (`A`, `aaaa`, `TYPE65`, `65`).
pub fn parse_type(s: &str) -> Result<u16, String> {
    if let Ok(n) = s.parse::<u16>() {
        return Ok(n);
    }
    let up = s.to_ascii_uppercase();
    if let Some(n) = up.strip_prefix("TYPE").and_then(|n| n.parse::<u16>().ok()) {
        return Ok(n);
    }
    match RecordType::from_str(&up) {
        Ok(t) if !matches!(t, RecordType::Unknown(_)) => Ok(u16::from(t)),
        _ => Err(format!(
            "{s:?} is not a DNS type (A, AAAA, SRV, TYPE65, ...)"
        )),
    }
}

/// The names to look under, in wire form: `name` itself when it ends with a dot;
/// otherwise `name` under each search domain, then `name` itself.
pub fn candidates(name: &str, domains: &[Vec<u8>]) -> Result<Vec<Vec<u8>>, String> {
    let wire = wire::encode_name(name)?;
    if name.ends_with('.') || name.is_empty() {
        return Ok(vec![wire]);
    }
    let stem = &wire[..wire.len() - 1];
    let mut out: Vec<Vec<u8>> = domains
        .iter()
        .map(|d| [stem, d].concat())
        .filter(|n| n.len() <= 255)
        .collect();
    out.push(wire);
    Ok(out)
}

/// An answer's records as a client asking `key` would get them under `serve`.
fn records(answer: &Answer, key: Key<'_>, serve: Serve) -> Vec<(&'static str, Record)> {
    let mut query = Vec::with_capacity(64);
    wire::build_upstream_query(key, 0, true, &mut query);
    let Ok(q) = wire::parse_query(&query) else {
        return Vec::new();
    };
    let mut out = Vec::with_capacity(512);
    answer.render(&query, &q, serve, u16::MAX as usize, &mut out);
    let Ok(m) = Message::from_vec(&out) else {
        return Vec::new();
    };
    let sections = [
        ("answer", m.answers),
        ("authority", m.authorities),
        ("additional", m.additionals),
    ];
    sections
        .into_iter()
        .flat_map(|(s, rs)| rs.into_iter().map(move |r| (s, r)))
        .collect()
}

fn entry(key: Key<'_>, h: &Held) -> J {
    let serve = h.serve.unwrap_or(Serve::AsReceived);
    let now_records = records(&h.answer, key, serve);
    let received = records(&h.answer, key, Serve::AsReceived);
    let list = now_records
        .iter()
        .zip(&received)
        .map(|((section, r), (_, first))| {
            obj! {
                "section" => *section,
                "name" => r.name.to_string(),
                "type" => r.record_type().to_string(),
                "ttl" => r.ttl,
                "ttl_received" => first.ttl,
                "data" => r.data.to_string(),
            }
        })
        .collect::<Vec<_>>();
    let life = Duration::from_secs(h.ttl as u64);
    let (state, left, past) = match h.serve {
        Some(Serve::Cached { .. }) => ("fresh", Some(life.saturating_sub(h.age)), None),
        Some(_) => ("stale", None, Some(h.age.saturating_sub(life))),
        None => ("expired", None, Some(h.age.saturating_sub(life))),
    };
    let stale_left = match (h.serve, h.stale_window, past) {
        (Some(Serve::Stale), Some(w), Some(p)) => Some(J::secs(w.saturating_sub(p))),
        _ => None,
    };
    let refresh = match (state, h.prefetching, h.prefetch_at, left) {
        ("fresh", true, _, _) => obj! { "when" => "refreshing now" },
        ("fresh", false, Some(at), Some(left)) => obj! {
            "when" => "by the first query once this much TTL is left",
            "at_left_s" => at,
            "in_s" => J::secs(left.saturating_sub(Duration::from_secs(at as u64))),
        },
        ("fresh", false, _, Some(left)) => obj! {
            "when" => "not ahead of expiry (too short-lived, or --prefetch=false): the next query after it expires",
            "in_s" => J::secs(left),
        },
        ("stale", ..) => {
            obj! { "when" => "the next query asks upstream, and gets this only if upstreams fail" }
        }
        _ => obj! { "when" => "the next query asks upstream; this entry is dropped then" },
    };
    obj! {
        "name" => wire::name_to_string(key.name()),
        "type" => super::debug::type_name(key.qtype()),
        "dnssec_ok" => key.dnssec_ok(),
        "checking_disabled" => key.checking_disabled(),
        "kind" => match h.answer.kind() {
            Kind::Positive => "positive",
            Kind::Negative => "negative",
            Kind::Failure => "failure",
        },
        "rcode" => wire::rcode::name(h.answer.rcode()),
        "state" => state,
        "stored_ago_s" => J::secs(h.age),
        "ttl_s" => h.ttl,
        "left_s" => left.map(J::secs),
        "expired_ago_s" => past.map(J::secs),
        "stale_left_s" => stale_left,
        "refresh" => refresh,
        "records" => list,
    }
}

/// `/debug/cache`: every entry held for `name` (each candidate name, each of `types` or
/// A and AAAA, each DO/CD variant), or an empty list.
pub fn cache(e: &Engine, name: &str, types: Option<u16>) -> Result<J, String> {
    let names = candidates(name, &e.search_domains())?;
    let types = types.map_or(DEFAULT_TYPES.to_vec(), |t| vec![t]);
    let mut held = Vec::new();
    for n in &names {
        for &t in &types {
            for (dnssec_ok, cd) in [(false, false), (true, false), (false, true), (true, true)] {
                let kb = KeyBuf::new(n, t, CLASS_IN, dnssec_ok, cd);
                if let Some(h) = e.peek(kb.key()) {
                    held.push(entry(kb.key(), &h));
                }
            }
        }
    }
    Ok(obj! {
        "format" => super::debug::FORMAT,
        "question" => name,
        "types" => types.iter().map(|t| J::from(super::debug::type_name(*t))).collect::<Vec<_>>(),
        "looked_under" => names.iter().map(|n| J::from(wire::name_to_string(n))).collect::<Vec<_>>(),
        "held" => held,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::{Cache, CachePolicy};
    use crate::testutil;
    use crate::Instant;
    use hickory_proto::op::ResponseCode;
    use std::num::NonZeroUsize;

    fn field<'a>(j: &'a J, key: &str) -> &'a J {
        match j {
            J::Obj(v) => &v.iter().find(|(k, _)| *k == key).unwrap().1,
            _ => panic!("{j:?} is not an object"),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn an_entry_shows_each_ttl_left_then_stale_then_expired() {
        let mut cache = Cache::new(CachePolicy {
            capacity: NonZeroUsize::new(10).unwrap(),
            max_bytes: 1 << 20,
            min_ttl: 0,
            max_ttl: 3600,
            negative_ttl: 60,
            soa_less_negative_ttl: 0,
            servfail_ttl: 2,
            stale_window: Some(Duration::from_secs(60)),
            prefetch: true,
        });
        let buf = testutil::response(
            0,
            "web.shop.",
            RecordType::A,
            ResponseCode::NoError,
            vec![
                testutil::a("web.shop.", 100, [10, 0, 0, 1]),
                testutil::a("web.shop.", 300, [10, 0, 0, 2]),
            ],
            vec![],
            false,
        );
        let kb = KeyBuf::plain(&wire::encode_name("web.shop.").unwrap(), wire::TYPE_A);
        let key = kb.key();
        cache.insert(
            key.bytes(),
            Answer::from_upstream(&buf).unwrap(),
            Instant::now(),
        );
        tokio::time::advance(Duration::from_secs(40)).await;
        let j = entry(key, &cache.peek(key.bytes(), Instant::now()).unwrap());
        assert_eq!(field(&j, "state"), &J::from("fresh"));
        assert_eq!(field(&j, "ttl_s"), &J::from(100u32));
        assert_eq!(field(&j, "left_s"), &J::secs(Duration::from_secs(60)));
        let J::Arr(records) = field(&j, "records") else {
            panic!()
        };
        let ttls: Vec<_> = records
            .iter()
            .map(|r| {
                (
                    field(r, "ttl").clone(),
                    field(r, "ttl_received").clone(),
                    field(r, "data").clone(),
                )
            })
            .collect();
        assert_eq!(
            ttls,
            [
                (J::from(60u32), J::from(100u32), J::from("10.0.0.1")),
                (J::from(260u32), J::from(300u32), J::from("10.0.0.2")),
            ],
            "each record counts down from its own TTL"
        );
        let refresh = field(&j, "refresh");
        let at = field(refresh, "at_left_s");
        assert!(matches!(at, J::Int(5..=15)), "{at:?}");
        tokio::time::advance(Duration::from_secs(70)).await;
        let j = entry(key, &cache.peek(key.bytes(), Instant::now()).unwrap());
        assert_eq!(field(&j, "state"), &J::from("stale"));
        assert_eq!(field(&j, "stale_left_s"), &J::secs(Duration::from_secs(50)));
        tokio::time::advance(Duration::from_secs(60)).await;
        let j = entry(key, &cache.peek(key.bytes(), Instant::now()).unwrap());
        assert_eq!(field(&j, "state"), &J::from("expired"));
        assert_eq!(
            field(&j, "expired_ago_s"),
            &J::secs(Duration::from_secs(70))
        );
    }

    #[test]
    fn types_parse_by_mnemonic_or_number_and_bad_ones_say_so() {
        assert_eq!(parse_type("aaaa"), Ok(28));
        assert_eq!(parse_type("SRV"), Ok(33));
        assert_eq!(parse_type("TYPE65"), Ok(65));
        assert_eq!(parse_type("99"), Ok(99));
        assert!(parse_type("bogus").unwrap_err().contains("not a DNS type"));
    }

    #[test]
    fn a_relative_name_is_looked_for_under_each_search_domain_then_as_is() {
        let domains = [
            wire::encode_name("shop.svc.cluster.local").unwrap(),
            wire::encode_name("svc.cluster.local").unwrap(),
        ];
        let got: Vec<String> = candidates("web", &domains)
            .unwrap()
            .iter()
            .map(|n| wire::name_to_string(n))
            .collect();
        assert_eq!(
            got,
            [
                "web.shop.svc.cluster.local.",
                "web.svc.cluster.local.",
                "web."
            ]
        );
        assert_eq!(candidates("web.", &domains).unwrap().len(), 1);
        assert!(candidates("no spaces", &domains).is_err());
    }
}
