//! `--discover`: follow CoreDNS scaling by re-resolving a headless Service name through the
//! current upstreams and using its A/AAAA records as the upstream set. A name that has no
//! records puts the configured upstreams back; a lookup that fails keeps the set it has,
//! since one lost packet must not throw away the health of every replica.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use hickory_proto::op::Message;
use hickory_proto::rr::RData;

use crate::config::Discover;
use crate::upstream::Pool;
use crate::wire;

/// What one round of lookups (A and AAAA) learned.
#[derive(Debug, Clone, PartialEq)]
pub enum RoundResult {
    /// Some addresses, sorted and without duplicates.
    Found(Vec<SocketAddr>),
    /// Every lookup was answered (NOERROR or NXDOMAIN) with no address: no ready replica.
    Empty,
    /// Nothing found, and some lookup got no usable answer (timeout, SERVFAIL, garbage).
    Failed,
}

/// The addresses in an answer's A and AAAA records with `port`, or None when the answer
/// is not a usable one (unparsable, or an RCODE other than NOERROR and NXDOMAIN).
pub fn addresses(answer: &[u8], port: u16) -> Option<Vec<SocketAddr>> {
    let msg = Message::from_vec(answer).ok()?;
    let rc = u16::from(msg.metadata.response_code);
    if rc != wire::rcode::NOERROR && rc != wire::rcode::NXDOMAIN {
        return None;
    }
    Some(
        msg.answers
            .iter()
            .filter_map(|r| match &r.data {
                RData::A(a) => Some(IpAddr::V4(a.0)),
                RData::AAAA(a) => Some(IpAddr::V6(a.0)),
                _ => None,
            })
            .map(|ip| SocketAddr::new(ip, port))
            .collect(),
    )
}

/// Folds the per-type results (None for a failed lookup) into one round's outcome.
pub fn combine(results: &[Option<Vec<SocketAddr>>]) -> RoundResult {
    let mut found: Vec<SocketAddr> = results.iter().flatten().flatten().copied().collect();
    found.sort();
    found.dedup();
    if !found.is_empty() {
        RoundResult::Found(found)
    } else if results.iter().all(Option::is_some) {
        RoundResult::Empty
    } else {
        RoundResult::Failed
    }
}

/// The upstream set after a round. On failure the current set stays while some of it is
/// up; when all of it is down, the configured upstreams join it, so a sidecar whose
/// discovered replicas all vanished can still reach the cluster's DNS.
pub fn next_set(
    outcome: &RoundResult,
    current: &[SocketAddr],
    configured: &[SocketAddr],
    any_up: bool,
) -> Vec<SocketAddr> {
    match outcome {
        RoundResult::Found(v) => v.clone(),
        RoundResult::Empty => configured.to_vec(),
        RoundResult::Failed if any_up => current.to_vec(),
        RoundResult::Failed => {
            let mut v = current.to_vec();
            v.extend(configured.iter().filter(|a| !current.contains(a)));
            v
        }
    }
}

pub async fn run(pool: Arc<Pool>, d: Discover, configured: Vec<SocketAddr>) {
    let mut current: Vec<SocketAddr> = configured.clone();
    loop {
        let mut results = [None, None];
        for (slot, qtype) in results.iter_mut().zip([1u16, 28]) {
            let ask = wire::Ask::new(wire::KeyBuf::plain(&d.name_wire, qtype).key(), true);
            if let Ok(Ok(resp)) = tokio::time::timeout(d.interval, pool.forward(&ask)).await {
                *slot = addresses(&resp, d.port);
            }
        }
        let outcome = combine(&results);
        if outcome == RoundResult::Failed {
            log::warn!("--discover {}: lookup failed", d.name);
        }
        let next = next_set(&outcome, &current, &configured, pool.any_up());
        if next != current {
            log::info!("--discover {}: upstreams now {:?}", d.name, next);
            pool.set_upstreams(&next);
            current = next;
        }
        tokio::time::sleep(d.interval).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
    use hickory_proto::rr::{Name, RData, Record, RecordType};
    use std::str::FromStr;

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn answer(rcode: ResponseCode, ips: &[&str]) -> Vec<u8> {
        let name = Name::from_str("kube-dns-upstreams.kube-system.svc.cluster.local.").unwrap();
        let mut m = Message::new(7, MessageType::Response, OpCode::Query);
        m.metadata.response_code = rcode;
        m.add_query(Query::query(name.clone(), RecordType::A));
        for ip in ips {
            let rd = match ip.parse::<IpAddr>().unwrap() {
                IpAddr::V4(a) => RData::A(a.into()),
                IpAddr::V6(a) => RData::AAAA(a.into()),
            };
            m.add_answer(Record::from_rdata(name.clone(), 5, rd));
        }
        m.to_vec().unwrap()
    }

    #[test]
    fn addresses_take_a_and_aaaa_with_the_port() {
        let got = addresses(&answer(ResponseCode::NoError, &["10.0.0.2", "fd00::3"]), 53);
        assert_eq!(got, Some(vec![sa("10.0.0.2:53"), sa("[fd00::3]:53")]));
        assert_eq!(
            addresses(&answer(ResponseCode::NXDomain, &[]), 53),
            Some(vec![])
        );
        assert_eq!(addresses(&answer(ResponseCode::ServFail, &[]), 53), None);
        assert_eq!(addresses(&[1, 2, 3], 53), None, "garbage");
    }

    #[test]
    fn a_round_is_found_empty_or_failed() {
        let a = Some(vec![sa("10.0.0.3:53"), sa("10.0.0.2:53")]);
        assert_eq!(
            combine(&[a.clone(), None]),
            RoundResult::Found(vec![sa("10.0.0.2:53"), sa("10.0.0.3:53")]),
            "an AAAA timeout does not lose the A records"
        );
        assert_eq!(combine(&[Some(vec![]), Some(vec![])]), RoundResult::Empty);
        assert_eq!(combine(&[Some(vec![]), None]), RoundResult::Failed);
    }

    #[test]
    fn the_set_follows_answers_and_survives_failed_lookups() {
        let configured = [sa("10.96.0.10:53")];
        let current = [sa("10.0.0.2:53"), sa("10.0.0.3:53")];
        let found = RoundResult::Found(vec![sa("10.0.0.4:53")]);
        assert_eq!(
            next_set(&found, &current, &configured, true),
            vec![sa("10.0.0.4:53")]
        );
        assert_eq!(
            next_set(&RoundResult::Empty, &current, &configured, true),
            configured.to_vec(),
            "no ready replica: back to the configured upstreams"
        );
        assert_eq!(
            next_set(&RoundResult::Failed, &current, &configured, true),
            current.to_vec(),
            "a lost packet keeps the replicas and their health"
        );
        assert_eq!(
            next_set(&RoundResult::Failed, &current, &configured, false),
            vec![sa("10.0.0.2:53"), sa("10.0.0.3:53"), sa("10.96.0.10:53")],
            "all down and no answer: the configured ones join"
        );
        assert_eq!(
            next_set(&RoundResult::Failed, &configured, &configured, false),
            configured.to_vec(),
            "no duplicates"
        );
    }
}
