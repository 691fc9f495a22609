//! DNS wire format, just enough for a forwarding cache: read a query's question and EDNS,
//! walk a response to find its TTLs and negative-caching SOA, and write the few messages
//! the proxy makes itself. Works on borrowed bytes so a cache hit allocates nothing.

use std::ops::Range;

pub const HEADER_LEN: usize = 12;
pub const TYPE_SOA: u16 = 6;
pub const TYPE_OPT: u16 = 41;
pub const CLASS_IN: u16 = 1;
/// What we advertise upstream and the most we send a UDP client (DNS flag day 2020).
pub const EDNS_UDP_SIZE: u16 = 1232;
/// Longest cache key: a 255-byte name, type, class and the DO/CD flag byte.
pub const KEY_MAX: usize = 255 + 5;
/// Bytes of an OPT record with no options.
pub const OPT_LEN: usize = 11;

pub mod rcode {
    pub const NOERROR: u16 = 0;
    pub const FORMERR: u16 = 1;
    pub const SERVFAIL: u16 = 2;
    pub const NXDOMAIN: u16 = 3;
    pub const NOTIMP: u16 = 4;
    pub const REFUSED: u16 = 5;
    /// Extended RCODE 16: needs an OPT record to carry its upper bits.
    pub const BADVERS: u16 = 16;
}

// Header flag bits (second 16-bit word).
pub const FLAG_QR: u16 = 0x8000;
pub const FLAG_AA: u16 = 0x0400;
pub const FLAG_TC: u16 = 0x0200;
pub const FLAG_RD: u16 = 0x0100;
pub const FLAG_RA: u16 = 0x0080;
pub const FLAG_AD: u16 = 0x0020;
pub const FLAG_CD: u16 = 0x0010;
const OPCODE_MASK: u16 = 0x7800;
const DO_BIT: u32 = 0x8000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("message shorter than a DNS header")]
    Short,
    #[error("message ends inside a record at offset {0}")]
    Truncated(usize),
    #[error("malformed name at offset {0}")]
    BadName(usize),
    #[error("expected exactly one question, found {0}")]
    QuestionCount(u16),
    #[error("more than one OPT record")]
    DuplicateOpt,
    #[error("an OPT record that is not the last record")]
    MisplacedOpt,
}

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

#[inline]
pub fn u16_at(buf: &[u8], off: usize) -> Result<u16, WireError> {
    match buf.get(off..off + 2) {
        Some(b) => Ok(u16::from_be_bytes([b[0], b[1]])),
        None => Err(WireError::Truncated(off)),
    }
}

#[inline]
pub fn u32_at(buf: &[u8], off: usize) -> Result<u32, WireError> {
    match buf.get(off..off + 4) {
        Some(b) => Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]])),
        None => Err(WireError::Truncated(off)),
    }
}

#[inline]
pub fn put_u16(buf: &mut [u8], off: usize, v: u16) {
    buf[off..off + 2].copy_from_slice(&v.to_be_bytes());
}

#[inline]
pub fn put_u32(buf: &mut [u8], off: usize, v: u32) {
    buf[off..off + 4].copy_from_slice(&v.to_be_bytes());
}

/// Skips a possibly compressed name; returns the offset just after it.
pub fn skip_name(buf: &[u8], mut off: usize) -> Result<usize, WireError> {
    let start = off;
    let mut len = 0usize;
    loop {
        let b = *buf.get(off).ok_or(WireError::Truncated(off))?;
        match b & 0xC0 {
            0x00 if b == 0 => return Ok(off + 1),
            0x00 => {
                len += b as usize + 1;
                off += b as usize + 1;
                if len > 255 {
                    return Err(WireError::BadName(start));
                }
            }
            0xC0 => {
                if off + 1 >= buf.len() {
                    return Err(WireError::Truncated(off));
                }
                return Ok(off + 2);
            }
            _ => return Err(WireError::BadName(off)),
        }
    }
}

/// Walks a name that may be compressed, checking that every pointer points at the start
/// of a label already seen in a name of this message (`labels`, offsets in increasing
/// order, to which this name's own labels are added) and that the whole is at most 255
/// bytes; returns the offset just after the name where it is written. A pointer anywhere
/// else (into a TTL, a header, rdata that is not a name) would change meaning when the
/// proxy rewrites TTLs or cuts the message; with this rule neither can break a name.
fn check_name(buf: &[u8], start: usize, labels: &mut Vec<u16>) -> Result<usize, WireError> {
    let (mut off, mut end, mut len) = (start, None, 0usize);
    loop {
        let b = *buf.get(off).ok_or(WireError::Truncated(off))?;
        match b & 0xC0 {
            0x00 if b == 0 => return Ok(end.unwrap_or(off + 1)),
            0x00 => {
                len += b as usize + 1;
                if len > 255 {
                    return Err(WireError::BadName(start));
                }
                if end.is_none() {
                    labels.push(off as u16);
                }
                off += b as usize + 1;
            }
            0xC0 => {
                let lo = *buf.get(off + 1).ok_or(WireError::Truncated(off))?;
                let target = ((b as usize & 0x3F) << 8) | lo as usize;
                if target >= off || labels.binary_search(&(target as u16)).is_err() {
                    return Err(WireError::BadName(off));
                }
                end.get_or_insert(off + 2);
                off = target;
            }
            _ => return Err(WireError::BadName(off)),
        }
    }
}

/// Checks the names inside a record's data for the types whose names may be compressed
/// (RFC 1035 §3.3, MX and SRV as their servers write them); other data is opaque.
fn check_rdata_names(buf: &[u8], rr: &Rr, labels: &mut Vec<u16>) -> Result<(), WireError> {
    let name_at = match rr.rtype {
        2 | 5 | 12 | 39 => 0,
        15 => 2,
        33 => 6,
        TYPE_SOA => {
            let second = check_name(buf, rr.rdata, labels)?;
            let end = check_name(buf, second, labels)?;
            return if end + 20 == rr.end {
                Ok(())
            } else {
                Err(WireError::Truncated(rr.rdata))
            };
        }
        _ => return Ok(()),
    };
    if rr.rdata + name_at >= rr.end || check_name(buf, rr.rdata + name_at, labels)? != rr.end {
        return Err(WireError::BadName(rr.rdata));
    }
    Ok(())
}

/// A question name: plain labels only (no compression), at most 255 bytes.
fn question_name_end(buf: &[u8], mut off: usize) -> Result<usize, WireError> {
    let start = off;
    loop {
        let b = *buf.get(off).ok_or(WireError::Truncated(off))?;
        if b == 0 {
            return if off + 1 - start > 255 {
                Err(WireError::BadName(start))
            } else {
                Ok(off + 1)
            };
        }
        if b & 0xC0 != 0 {
            return Err(WireError::BadName(off));
        }
        off += b as usize + 1;
        if off - start > 255 {
            return Err(WireError::BadName(start));
        }
    }
}

/// One resource record's position, as walked.
#[derive(Debug, Clone, Copy)]
struct Rr {
    start: usize,
    rtype: u16,
    class: u16,
    ttl_off: usize,
    rdata: usize,
    end: usize,
}

fn read_rr(buf: &[u8], off: usize) -> Result<Rr, WireError> {
    let fixed = skip_name(buf, off)?;
    let rtype = u16_at(buf, fixed)?;
    let class = u16_at(buf, fixed + 2)?;
    let rdlen = u16_at(buf, fixed + 8)? as usize;
    let rdata = fixed + 10;
    let end = rdata + rdlen;
    if end > buf.len() {
        return Err(WireError::Truncated(rdata));
    }
    Ok(Rr {
        start: off,
        rtype,
        class,
        ttl_off: fixed + 4,
        rdata,
        end,
    })
}

fn counts(buf: &[u8]) -> Result<[u16; 4], WireError> {
    if buf.len() < HEADER_LEN {
        return Err(WireError::Short);
    }
    Ok([
        u16_at(buf, 4)?,
        u16_at(buf, 6)?,
        u16_at(buf, 8)?,
        u16_at(buf, 10)?,
    ])
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

/// Writes the cache key of a query: lowercased name, type, class, DO and CD.
/// Length bytes are below 64 and so untouched by ASCII lowercasing.
pub fn cache_key<'a>(buf: &[u8], q: &Query, out: &'a mut [u8; KEY_MAX]) -> &'a [u8] {
    let name = &buf[q.qname.clone()];
    let n = name.len();
    for (o, b) in out[..n].iter_mut().zip(name) {
        *o = b.to_ascii_lowercase();
    }
    out[n..n + 2].copy_from_slice(&q.qtype.to_be_bytes());
    out[n + 2..n + 4].copy_from_slice(&q.qclass.to_be_bytes());
    out[n + 4] = (q.dnssec_ok() as u8) << 1 | q.checking_disabled() as u8;
    &out[..n + 5]
}

/// The name, type and class part of a key (the key without its flag byte).
pub fn key_question(key: &[u8]) -> (&[u8], u16, u16) {
    let n = key.len() - 5;
    let qtype = u16::from_be_bytes([key[n], key[n + 1]]);
    let qclass = u16::from_be_bytes([key[n + 2], key[n + 3]]);
    (&key[..n], qtype, qclass)
}

/// Builds the query the proxy sends upstream for a cache key: our own ID, the client's
/// RD and CD bits, the lowercased question and an OPT record with our buffer size.
pub fn build_upstream_query(key: &[u8], id: u16, rd: bool, out: &mut Vec<u8>) {
    let (name, qtype, qclass) = key_question(key);
    let flag_byte = key[key.len() - 1];
    let mut flags = 0u16;
    if rd {
        flags |= FLAG_RD;
    }
    if flag_byte & 1 != 0 {
        flags |= FLAG_CD;
    }
    out.clear();
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&flags.to_be_bytes());
    out.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 1]);
    out.extend_from_slice(name);
    out.extend_from_slice(&qtype.to_be_bytes());
    out.extend_from_slice(&qclass.to_be_bytes());
    push_opt(out, flag_byte & 2 != 0, 0);
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

/// The first well-formed OPT record of a message that did not parse as a query, if the
/// walk gets that far: for the OPT an error reply must carry.
fn sniff_edns(buf: &[u8]) -> Option<Edns> {
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

/// One record of a walked response (never OPT): where its TTL sits, where it ends, the TTL
/// it was received with, and whether it closes its RRset (the unit RFC 2181 §9 lets a
/// server leave out of the additional section).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordPos {
    pub ttl_off: u16,
    pub end: u16,
    /// As received; for an SOA in the authority section min(TTL, MINIMUM) (RFC 2308 §3).
    pub ttl: u32,
    pub flags: u8,
}

impl RecordPos {
    /// The last record of its RRset (an RRSIG counts with the set it follows).
    pub const RRSET_END: u8 = 1;
    /// An SOA in the authority section: in a negative answer, its TTL is the negative TTL.
    pub const AUTHORITY_SOA: u8 = 2;

    pub fn is(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }
}

/// A walked response: what the cache needs to store, age and trim it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseScan {
    /// Full RCODE (header bits plus OPT's extended bits).
    pub rcode: u16,
    pub qtype: u16,
    /// Records in the answer, authority and additional sections, OPT not counted.
    pub counts: [u16; 3],
    /// Every record but OPT, in wire order.
    pub records: Vec<RecordPos>,
    /// Whether the answer section holds a record of the question's type (or the question
    /// is for CNAME or ANY): a positive answer. A CNAME chain without one is NODATA.
    pub answers_qtype: bool,
    /// Smallest TTL of any record (RFC 2181 §8: a TTL with the top bit set counts as 0).
    pub min_ttl: Option<u32>,
    /// RFC 2308: min(SOA TTL, SOA MINIMUM) from the authority section.
    pub soa_negative_ttl: Option<u32>,
    /// Where the OPT record sits, so the cache can store the message without it.
    pub opt: Option<Range<usize>>,
    pub question_end: usize,
    /// Where the last record ends: bytes after it are not part of the message.
    pub end: usize,
}

const TYPE_CNAME: u16 = 5;
const TYPE_RRSIG: u16 = 46;
const TYPE_ANY: u16 = 255;

/// Walks every record of a response. Fails on anything that does not parse.
pub fn scan_response(buf: &[u8]) -> Result<ResponseScan, WireError> {
    let [qd, an, ns, ar] = counts(buf)?;
    if qd != 1 {
        return Err(WireError::QuestionCount(qd));
    }
    let flags = u16_at(buf, 2)?;
    // Where every label of every name checked so far starts: what a pointer may point at.
    let mut labels = Vec::with_capacity(32);
    let qname_end = check_name(buf, HEADER_LEN, &mut labels)?;
    let qtype = u16_at(buf, qname_end)?;
    let mut off = qname_end + 4;
    if off > buf.len() || buf.len() > u16::MAX as usize {
        return Err(WireError::Truncated(off));
    }
    let question_end = off;
    let total = an as usize + ns as usize + ar as usize;
    let mut scan = ResponseScan {
        rcode: flags & 0xF,
        qtype,
        counts: [an, ns, ar],
        records: Vec::with_capacity(total.min(64)),
        answers_qtype: false,
        min_ttl: None,
        soa_negative_ttl: None,
        opt: None,
        question_end,
        end: question_end,
    };
    // (section, owner offset, type) of the record before, to find RRset ends.
    let mut prev: Option<(u8, usize, u16)> = None;
    for i in 0..total {
        let section = if i < an as usize {
            0
        } else if i < an as usize + ns as usize {
            1
        } else {
            2
        };
        check_name(buf, off, &mut labels)?;
        let rr = read_rr(buf, off)?;
        off = rr.end;
        if rr.rtype == TYPE_OPT {
            // Last, so that taking it out moves nothing a pointer could point at.
            if section != 2 || i + 1 != total {
                return Err(WireError::MisplacedOpt);
            }
            if scan.opt.is_some() {
                return Err(WireError::DuplicateOpt);
            }
            scan.rcode |= (buf[rr.ttl_off] as u16) << 4;
            scan.opt = Some(rr.start..rr.end);
            scan.counts[2] -= 1;
            continue;
        }
        check_rdata_names(buf, &rr, &mut labels)?;
        let raw = u32_at(buf, rr.ttl_off)?;
        let mut ttl = if raw > i32::MAX as u32 { 0 } else { raw };
        let mut flags = 0;
        if section == 0 && (rr.rtype == qtype || qtype == TYPE_CNAME || qtype == TYPE_ANY) {
            scan.answers_qtype = true;
        }
        if section == 1 && rr.rtype == TYPE_SOA {
            let rdata_end = skip_name(buf, skip_name(buf, rr.rdata)?)?;
            ttl = ttl.min(u32_at(buf, rdata_end + 16)?);
            scan.soa_negative_ttl = Some(scan.soa_negative_ttl.map_or(ttl, |m| m.min(ttl)));
            flags |= RecordPos::AUTHORITY_SOA;
        }
        scan.min_ttl = Some(scan.min_ttl.map_or(ttl, |m| m.min(ttl)));
        // This record starts a new RRset unless it has the section, owner and type of the
        // one before (an RRSIG joins the set it follows).
        let same_set = prev.is_some_and(|(s, owner, t)| {
            s == section
                && (t == rr.rtype || rr.rtype == TYPE_RRSIG)
                && names_equal(buf, owner, rr.start)
        });
        if !same_set {
            if let Some(last) = scan.records.last_mut() {
                last.flags |= RecordPos::RRSET_END;
            }
        }
        let set_type = match prev {
            Some((_, _, t)) if same_set => t,
            _ => rr.rtype,
        };
        prev = Some((section, rr.start, set_type));
        scan.records.push(RecordPos {
            ttl_off: rr.ttl_off as u16,
            end: rr.end as u16,
            ttl,
            flags,
        });
    }
    if let Some(last) = scan.records.last_mut() {
        last.flags |= RecordPos::RRSET_END;
    }
    scan.end = off;
    Ok(scan)
}

/// Whether two (possibly compressed) names in one message are equal, ignoring ASCII case.
/// A malformed name is equal to nothing.
pub fn names_equal(buf: &[u8], a: usize, b: usize) -> bool {
    let (mut a, mut b) = (a, b);
    // Enough steps for a 255-byte name plus a pointer per label; more means a loop.
    for _ in 0..256 {
        a = match follow(buf, a) {
            Some(x) => x,
            None => return false,
        };
        b = match follow(buf, b) {
            Some(x) => x,
            None => return false,
        };
        let (Some(&la), Some(&lb)) = (buf.get(a), buf.get(b)) else {
            return false;
        };
        if la != lb || la & 0xC0 != 0 {
            return false;
        }
        if la == 0 {
            return true;
        }
        let n = la as usize;
        match (buf.get(a + 1..a + 1 + n), buf.get(b + 1..b + 1 + n)) {
            (Some(x), Some(y)) if x.eq_ignore_ascii_case(y) => {}
            _ => return false,
        }
        a += n + 1;
        b += n + 1;
    }
    false
}

/// Follows compression pointers at `off` to a label; None on a bad pointer or a loop.
fn follow(buf: &[u8], mut off: usize) -> Option<usize> {
    for _ in 0..64 {
        let b = *buf.get(off)?;
        if b & 0xC0 != 0xC0 {
            return Some(off);
        }
        let target = (((b & 0x3F) as usize) << 8) | *buf.get(off + 1)? as usize;
        if target >= off {
            return None;
        }
        off = target;
    }
    None
}

/// Why an upstream answer was not accepted for our query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Mismatch {
    #[error("not a parseable response")]
    Malformed,
    #[error("response ID does not match")]
    Id,
    #[error("response question does not match")]
    Question,
}

/// Accepts an upstream answer only if it is a response to exactly our ID and question.
pub fn check_response(buf: &[u8], id: u16, key: &[u8]) -> Result<(), Mismatch> {
    if buf.len() < HEADER_LEN {
        return Err(Mismatch::Malformed);
    }
    let flags = u16::from_be_bytes([buf[2], buf[3]]);
    if flags & FLAG_QR == 0 || flags & OPCODE_MASK != 0 {
        return Err(Mismatch::Malformed);
    }
    if u16::from_be_bytes([buf[0], buf[1]]) != id {
        return Err(Mismatch::Id);
    }
    if u16::from_be_bytes([buf[4], buf[5]]) != 1 {
        return Err(Mismatch::Question);
    }
    let (name, qtype, qclass) = key_question(key);
    let end = HEADER_LEN + name.len();
    let Some(got) = buf.get(HEADER_LEN..end) else {
        return Err(Mismatch::Question);
    };
    if !got.eq_ignore_ascii_case(name)
        || u16_at(buf, end) != Ok(qtype)
        || u16_at(buf, end + 2) != Ok(qclass)
    {
        return Err(Mismatch::Question);
    }
    Ok(())
}

/// Copies a message without its OPT record (the cache stores answers EDNS-free and adds
/// the client's own OPT when it serves them).
pub fn without_opt(buf: &[u8], opt: &Range<usize>) -> Vec<u8> {
    let mut out = Vec::with_capacity(buf.len() - opt.len());
    out.extend_from_slice(&buf[..opt.start]);
    out.extend_from_slice(&buf[opt.end..]);
    let ar = u16::from_be_bytes([out[10], out[11]]).saturating_sub(1);
    put_u16(&mut out, 10, ar);
    out
}

/// A wire name as presentation text (for logs), escaping what is not printable.
pub fn name_to_string(name: &[u8]) -> String {
    let mut s = String::with_capacity(name.len());
    let mut i = 0;
    while let Some(&len) = name.get(i) {
        if len == 0 || len & 0xC0 != 0 {
            break;
        }
        for &b in name.iter().skip(i + 1).take(len as usize) {
            match b {
                b'.' | b'\\' => {
                    s.push('\\');
                    s.push(b as char);
                }
                0x21..=0x7e => s.push(b as char),
                _ => s.push_str(&format!("\\{b:03}")),
            }
        }
        s.push('.');
        i += len as usize + 1;
    }
    if s.is_empty() {
        s.push('.');
    }
    s
}

/// Encodes a presentation name (`a.b.c` or `a.b.c.`) in wire format, lowercased.
pub fn encode_name(name: &str) -> Result<Vec<u8>, String> {
    let trimmed = name.strip_suffix('.').unwrap_or(name);
    let mut out = Vec::with_capacity(trimmed.len() + 2);
    if !trimmed.is_empty() {
        for label in trimmed.split('.') {
            if label.is_empty() || label.len() > 63 {
                return Err(format!("{name:?} has an empty or over-long label"));
            }
            if !label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                return Err(format!("{name:?} is not a DNS name"));
            }
            out.push(label.len() as u8);
            out.extend(label.bytes().map(|b| b.to_ascii_lowercase()));
        }
    }
    out.push(0);
    if out.len() > 255 {
        return Err(format!("{name:?} is longer than 255 bytes"));
    }
    Ok(out)
}

/// A cache key for a plain question (no DO, no CD).
pub fn question_key(name_wire: &[u8], qtype: u16) -> Vec<u8> {
    let mut k = Vec::with_capacity(name_wire.len() + 5);
    k.extend_from_slice(name_wire);
    k.extend_from_slice(&qtype.to_be_bytes());
    k.extend_from_slice(&CLASS_IN.to_be_bytes());
    k.push(0);
    k
}

#[cfg(test)]
mod tests;
