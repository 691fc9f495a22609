//! A cached answer rendered for one client: the client's ID, question case and EDNS size
//! come from the input, and so does the answer. Whatever they are, the rendering parses,
//! carries the client's ID and question, and fits the client's UDP limit.
#![no_main]

use dns_sidecar_proxy::answer::{Answer, Serve};
use dns_sidecar_proxy::wire;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (u16, u16, u16, u8, u32, &[u8])| {
    let (id, edns_size, case_mask, how, age, data) = input;
    let Ok(answer) = Answer::from_upstream(data) else {
        return;
    };
    let Ok(name_end) = wire::skip_name(data, wire::HEADER_LEN) else {
        return;
    };
    // A client query for the answer's question: its own ID and case, EDNS or not.
    let mut client = vec![0u8; wire::HEADER_LEN];
    client[..2].copy_from_slice(&id.to_be_bytes());
    client[2] = 0x01 | (how & 0x10); // RD, and CD when the input says
    client[5] = 1;
    client.extend_from_slice(&data[wire::HEADER_LEN..name_end + 4]);
    for (i, b) in client[wire::HEADER_LEN..name_end].iter_mut().enumerate() {
        if case_mask & (1 << (i % 16)) != 0 && b.is_ascii_alphabetic() {
            *b ^= 0x20;
        }
    }
    if how & 1 != 0 {
        wire::push_opt(&mut client, how & 2 != 0, 0);
        let n = client.len();
        client[n - 8..n - 6].copy_from_slice(&edns_size.to_be_bytes());
        client[11] = 1;
    }
    let Ok(q) = wire::parse_query(&client) else {
        return;
    };
    let serve = match how >> 5 {
        0 => Serve::AsReceived,
        1 => Serve::Stale,
        _ => Serve::Cached {
            age: age % 4000,
            entry_ttl: age % 3000,
            cap: 3600,
        },
    };
    let limit = if how & 4 != 0 { 65535 } else { q.udp_limit() };
    let mut out = Vec::new();
    answer.render(&client, &q, serve, limit, &mut out);
    assert!(
        out.len()
            <= limit.max(wire::HEADER_LEN + (name_end + 4 - wire::HEADER_LEN) + wire::OPT_LEN)
    );
    assert_eq!(&out[..2], &id.to_be_bytes());
    assert_eq!(
        &out[wire::HEADER_LEN..name_end],
        &client[wire::HEADER_LEN..name_end]
    );
    let s = wire::scan_response(&out).expect("a rendering parses");
    assert_eq!(
        s.opt.is_some(),
        q.edns.is_some(),
        "OPT exactly when the client sent it"
    );
});
