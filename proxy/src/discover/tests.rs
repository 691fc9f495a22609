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

fn found(addrs: &[&str], ttl: Option<u32>) -> Option<Found> {
    Some(Found {
        addrs: addrs.iter().map(|a| sa(a)).collect(),
        ttl,
    })
}

#[test]
fn addresses_take_a_and_aaaa_with_the_port_and_the_shortest_ttl() {
    let got = addresses(&answer(ResponseCode::NoError, &["10.0.0.2", "fd00::3"]), 53);
    assert_eq!(got, found(&["10.0.0.2:53", "[fd00::3]:53"], Some(5)));
    assert_eq!(
        addresses(&answer(ResponseCode::NXDomain, &[]), 53),
        found(&[], None)
    );
    assert_eq!(addresses(&answer(ResponseCode::ServFail, &[]), 53), None);
    assert_eq!(addresses(&[1, 2, 3], 53), None, "garbage");
}

#[test]
fn a_round_is_found_empty_or_failed() {
    let a = found(&["10.0.0.3:53", "10.0.0.2:53"], Some(30));
    assert_eq!(
        combine(&[a.clone(), None]),
        RoundResult::Found(vec![sa("10.0.0.2:53"), sa("10.0.0.3:53")], Some(30)),
        "an AAAA timeout does not lose the A records"
    );
    assert_eq!(
        combine(&[a, found(&["[fd00::1]:53"], Some(5))]),
        RoundResult::Found(
            vec![sa("10.0.0.2:53"), sa("10.0.0.3:53"), sa("[fd00::1]:53")],
            Some(5)
        ),
        "both families, the shorter TTL"
    );
    assert_eq!(
        combine(&[found(&[], None), found(&[], None)]),
        RoundResult::Empty
    );
    assert_eq!(combine(&[found(&[], None), None]), RoundResult::Failed);
}

#[test]
fn the_set_follows_answers_and_never_empties() {
    let current = [sa("10.0.0.2:53"), sa("10.0.0.3:53")];
    let found = RoundResult::Found(vec![sa("10.0.0.4:53")], Some(5));
    assert_eq!(next_set(&found, &current), vec![sa("10.0.0.4:53")]);
    assert_eq!(
        next_set(&RoundResult::Empty, &current),
        current.to_vec(),
        "no ready replica listed: keep the last known ones"
    );
    assert_eq!(
        next_set(&RoundResult::Failed, &current),
        current.to_vec(),
        "a lost packet keeps the replicas and their health"
    );
}

#[test]
fn the_next_lookup_is_at_the_ttl_within_bounds() {
    let d = Discover {
        name: "x".into(),
        name_wire: vec![],
        port: 53,
        min_interval: Duration::from_secs(2),
        max_interval: Duration::from_secs(30),
    };
    let at = |ttl| next_interval(&RoundResult::Found(vec![sa("10.0.0.2:53")], ttl), &d, 0);
    assert_eq!(at(Some(5)), Duration::from_secs(5), "CoreDNS's default ttl");
    assert_eq!(at(Some(0)), Duration::from_secs(2), "never a busy loop");
    assert_eq!(
        at(Some(3600)),
        Duration::from_secs(30),
        "at least every 30 s"
    );
    assert_eq!(at(None), Duration::from_secs(30));
    assert_eq!(
        next_interval(&RoundResult::Failed, &d, 1),
        Duration::from_secs(2),
        "without an answer, soon again"
    );
    let backoff: Vec<u64> = (1..=6)
        .map(|n| next_interval(&RoundResult::Failed, &d, n).as_secs())
        .collect();
    assert_eq!(
        backoff,
        [2, 4, 8, 16, 30, 30],
        "then backing off to the longest"
    );
    assert_eq!(
        next_interval(&RoundResult::Empty, &d, 0),
        Duration::from_secs(2),
        "answered with no replica: replicas may be on their way"
    );
}

#[test]
fn waits_are_jittered_within_the_ttl_and_the_bounds() {
    let d = Discover {
        name: "x".into(),
        name_wire: vec![],
        port: 53,
        min_interval: Duration::from_secs(2),
        max_interval: Duration::from_secs(30),
    };
    let found = RoundResult::Found(vec![sa("10.0.0.2:53")], Some(30));
    let waits: Vec<_> = [0.0, 0.5, 0.999]
        .iter()
        .map(|r| next_wait(&found, &d, 0, *r))
        .collect();
    assert_eq!(waits[0], Duration::from_secs(30), "never past the TTL");
    assert_eq!(waits[1], Duration::from_secs(27));
    assert!(waits[2] > Duration::from_secs(24), "{:?}", waits[2]);
    assert_eq!(
        next_wait(&RoundResult::Failed, &d, 1, 0.9),
        Duration::from_secs(2),
        "never under the shortest bound"
    );
    assert_eq!(early_wait(&d, 0.0), Duration::from_secs(2));
    assert_eq!(early_wait(&d, 0.5), Duration::from_millis(2200));
}

#[test]
fn a_round_asks_the_family_the_replicas_have() {
    assert_eq!(qtypes(&[sa("10.0.0.2:53"), sa("10.0.0.3:53")]), &[1]);
    assert_eq!(qtypes(&[sa("[fd00::2]:53")]), &[28]);
    assert_eq!(
        qtypes(&[sa("10.0.0.2:53"), sa("[fd00::2]:53")]),
        &[1, 28],
        "dual-stack: both"
    );
    assert_eq!(qtypes(&[]), &[1, 28], "none known yet: both");
}
