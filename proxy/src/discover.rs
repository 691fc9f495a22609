//! `--discover`: follow CoreDNS scaling by re-resolving a headless Service name through the
//! current upstreams and using its A/AAAA records as the upstream set. When the name has
//! no records (or cannot be resolved), the configured upstreams stay in use.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use hickory_proto::op::Message;
use hickory_proto::rr::RData;

use crate::config::Discover;
use crate::upstream::Pool;
use crate::wire;

/// The addresses in an answer's A and AAAA records, sorted, with `port`.
pub fn addresses(answer: &[u8], port: u16) -> Vec<SocketAddr> {
    let Ok(msg) = Message::from_vec(answer) else {
        return Vec::new();
    };
    let mut v: Vec<SocketAddr> = msg
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(IpAddr::V4(a.0)),
            RData::AAAA(a) => Some(IpAddr::V6(a.0)),
            _ => None,
        })
        .map(|ip| SocketAddr::new(ip, port))
        .collect();
    v.sort();
    v.dedup();
    v
}

pub async fn run(pool: Arc<Pool>, d: Discover, configured: Vec<SocketAddr>) {
    let mut current: Vec<SocketAddr> = configured.clone();
    loop {
        let mut found = Vec::new();
        for qtype in [1u16, 28] {
            let key = wire::question_key(&d.name_wire, qtype);
            if let Ok(Ok(resp)) = tokio::time::timeout(d.interval, pool.forward(&key, true)).await {
                found.extend(addresses(&resp, d.port));
            }
        }
        let next = if found.is_empty() {
            configured.clone()
        } else {
            found
        };
        if next != current {
            log::info!("--discover {}: upstreams now {:?}", d.name, next);
            pool.set_upstreams(&next);
            current = next;
        }
        tokio::time::sleep(d.interval).await;
    }
}
