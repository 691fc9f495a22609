//! The messages the proxy writes itself: the upstream query for a cache key, OPT records,
//! and the error replies it makes for clients.

use super::query::sniff_edns;
use super::*;

/// Builds the query the proxy sends upstream for a key: our own ID, the client's RD and CD
/// bits, the lowercased question and an OPT record with our buffer size and the DO bit.
pub fn build_upstream_query(key: Key<'_>, id: u16, rd: bool, out: &mut Vec<u8>) {
    let mut flags = 0u16;
    if rd {
        flags |= FLAG_RD;
    }
    if key.checking_disabled() {
        flags |= FLAG_CD;
    }
    out.clear();
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&flags.to_be_bytes());
    out.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 1]);
    out.extend_from_slice(key.name());
    out.extend_from_slice(&key.qtype().to_be_bytes());
    out.extend_from_slice(&key.qclass().to_be_bytes());
    push_opt(out, key.dnssec_ok(), 0);
}

/// Appends an OPT record with no options (RFC 6891 §6.1.2).
pub fn push_opt(out: &mut Vec<u8>, dnssec_ok: bool, ext_rcode: u8) {
    let ttl = (ext_rcode as u32) << 24 | if dnssec_ok { DO_BIT } else { 0 };
    out.push(0);
    out.extend_from_slice(&TYPE_OPT.to_be_bytes());
    out.extend_from_slice(&EDNS_UDP_SIZE.to_be_bytes());
    out.extend_from_slice(&ttl.to_be_bytes());
    out.extend_from_slice(&[0, 0]);
}

/// Writes an answer the proxy makes itself (FORMERR, SERVFAIL, NOTIMP, ...): the client's
/// header and, when it could be parsed, its question.
pub fn write_error(buf: &[u8], q: Option<&Query>, code: u16, out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(&buf[..2.min(buf.len())]);
    out.resize(HEADER_LEN, 0);
    let client_flags = if buf.len() >= 4 {
        u16::from_be_bytes([buf[2], buf[3]])
    } else {
        0
    };
    let flags =
        FLAG_QR | (client_flags & (OPCODE_MASK | FLAG_RD | FLAG_CD)) | FLAG_RA | (code & 0xF);
    put_u16(out, 2, flags);
    // RFC 6891 §7: a query that carried OPT gets OPT back, even when it was refused.
    let edns = match q {
        Some(q) => q.edns,
        None => sniff_edns(buf),
    };
    if let Some(q) = q {
        out.extend_from_slice(&buf[HEADER_LEN..q.question_end()]);
        put_u16(out, 4, 1);
    }
    if code > 0xF || edns.is_some() {
        push_opt(out, edns.is_some_and(|e| e.dnssec_ok), (code >> 4) as u8);
        put_u16(out, 10, 1);
    }
}
