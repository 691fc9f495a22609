//! A client's datagram: parsed as a query, keyed, and refused or answered with an error the
//! proxy writes itself. Never a panic; a refusal is well-formed and echoes the ID.
#![no_main]

use dns_sidecar_proxy::wire::{self, Reject};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut out = Vec::new();
    match wire::parse_query(data) {
        Ok(q) => {
            let kb = wire::cache_key(data, &q);
            let key = kb.key();
            assert_eq!((key.qtype(), key.qclass()), (q.qtype, q.qclass));
            assert_eq!(key.dnssec_ok(), q.dnssec_ok());
            assert!(key.name().len() <= 255);
            wire::write_error(data, Some(&q), wire::rcode::SERVFAIL, &mut out);
            let s = wire::scan_response(&out).expect("our SERVFAIL parses");
            assert_eq!(s.rcode, wire::rcode::SERVFAIL);
            assert!(q.udp_limit() >= 512);
        }
        Err(Reject::Respond(code)) => {
            wire::write_error(data, None, code, &mut out);
            assert_eq!(&out[..2], &data[..2], "the ID is echoed");
            assert_eq!(out[2] & 0x80, 0x80, "a response");
        }
        Err(Reject::Drop) => {}
    }
});
