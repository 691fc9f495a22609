//! What clients ask: a query's question and EDNS read in place, refused the way RFC 1035 and
//! 6891 say when odd, and the cache key it is filed under.

use std::ops::Range;

use super::key::KeyBuf;
use super::name::question_name_end;
use super::*;

/// What to do with a query that cannot be served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reject {
    /// Not even a header, or a response: answering could start a loop or a reflection.
    Drop,
    /// Answer with this RCODE, echoing the header.
    Respond(u16),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Edns {
    pub udp_size: u16,
    pub dnssec_ok: bool,
}

/// A parsed client query. Ranges index the original buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub id: u16,
    pub flags: u16,
    /// The question name's wire bytes, including the final zero label.
    pub qname: Range<usize>,
    pub qtype: u16,
    pub qclass: u16,
    pub edns: Option<Edns>,
}

impl Query {
    pub fn question_end(&self) -> usize {
        self.qname.end + 4
    }
    pub fn recursion_desired(&self) -> bool {
        self.flags & FLAG_RD != 0
    }
    pub fn checking_disabled(&self) -> bool {
        self.flags & FLAG_CD != 0
    }
    pub fn dnssec_ok(&self) -> bool {
        self.edns.is_some_and(|e| e.dnssec_ok)
    }
    /// The largest UDP answer this client accepts (RFC 6891: never below 512).
    pub fn udp_limit(&self) -> usize {
        match self.edns {
            Some(e) => e.udp_size.clamp(512, EDNS_UDP_SIZE) as usize,
            None => 512,
        }
    }
}

/// Parses a client query. Anything odd is refused the way RFC 1035/6891 say.
pub fn parse_query(buf: &[u8]) -> Result<Query, Reject> {
    if buf.len() < HEADER_LEN {
        return Err(Reject::Drop);
    }
    let id = u16::from_be_bytes([buf[0], buf[1]]);
    let flags = u16::from_be_bytes([buf[2], buf[3]]);
    if flags & FLAG_QR != 0 {
        return Err(Reject::Drop);
    }
    if flags & OPCODE_MASK != 0 {
        return Err(Reject::Respond(rcode::NOTIMP));
    }
    let formerr = Reject::Respond(rcode::FORMERR);
    let [qd, an, ns, ar] = counts(buf).map_err(|_| formerr)?;
    if qd != 1 {
        return Err(formerr);
    }
    let qname_end = question_name_end(buf, HEADER_LEN).map_err(|_| formerr)?;
    let qtype = u16_at(buf, qname_end).map_err(|_| formerr)?;
    let qclass = u16_at(buf, qname_end + 2).map_err(|_| formerr)?;
    let mut off = qname_end + 4;
    let mut edns = None;
    for i in 0..(an as u32 + ns as u32 + ar as u32) {
        let rr = read_rr(buf, off).map_err(|_| formerr)?;
        if rr.rtype == TYPE_OPT && i >= an as u32 + ns as u32 {
            if edns.is_some() || buf[rr.start] != 0 {
                return Err(formerr);
            }
            let ttl = u32_at(buf, rr.ttl_off).map_err(|_| formerr)?;
            if (ttl >> 16) & 0xFF != 0 {
                return Err(Reject::Respond(rcode::BADVERS));
            }
            edns = Some(Edns {
                udp_size: rr.class,
                dnssec_ok: ttl & DO_BIT != 0,
            });
        }
        off = rr.end;
    }
    Ok(Query {
        id,
        flags,
        qname: HEADER_LEN..qname_end,
        qtype,
        qclass,
        edns,
    })
}

/// The cache key of a parsed query: its name (lowercased), type, class, DO and CD.
pub fn cache_key(buf: &[u8], q: &Query) -> KeyBuf {
    KeyBuf::new(
        &buf[q.qname.clone()],
        q.qtype,
        q.qclass,
        q.dnssec_ok(),
        q.checking_disabled(),
    )
}

/// The first well-formed OPT record of a message that did not parse as a query, if the
/// walk gets that far: for the OPT an error reply must carry.
pub(super) fn sniff_edns(buf: &[u8]) -> Option<Edns> {
    let [qd, an, ns, ar] = counts(buf).ok()?;
    let mut off = HEADER_LEN;
    for _ in 0..qd {
        off = skip_name(buf, off).ok()? + 4;
    }
    for i in 0..(an as u32 + ns as u32 + ar as u32) {
        let rr = read_rr(buf, off).ok()?;
        if rr.rtype == TYPE_OPT && i >= an as u32 + ns as u32 && buf[rr.start] == 0 {
            let ttl = u32_at(buf, rr.ttl_off).ok()?;
            return Some(Edns {
                udp_size: rr.class,
                dnssec_ok: ttl & DO_BIT != 0,
            });
        }
        off = rr.end;
    }
    None
}
