//! DNS wire format, just enough for a forwarding cache, on borrowed bytes so a cache hit
//! allocates nothing. By direction: `query` reads what clients ask, `response` walks and
//! checks what upstreams answer, `write` makes the few messages the proxy writes itself,
//! and `name` holds the name rules all three share. This file holds the constants and the
//! record walk under them.

mod key;
mod name;
mod query;
mod response;
mod write;

pub use key::{Ask, Key, KeyBuf};
pub use name::{encode_name, expand_name, name_to_string, names_equal, skip_name};
pub use query::{cache_key, parse_query, Edns, Query, Reject};
pub use response::{check_response, scan_response, without_opt, Mismatch, RecordPos, ResponseScan};
pub use write::{build_upstream_query, push_opt, write_error};

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

    /// The header's 4-bit RCODE of a message at least a header long (checked by the caller).
    pub fn of(msg: &[u8]) -> u16 {
        u16::from(msg[3] & 0xF)
    }

    /// The RCODE's mnemonic (RFC 6895), or "other".
    pub fn name(code: u16) -> &'static str {
        match code {
            NOERROR => "NOERROR",
            FORMERR => "FORMERR",
            SERVFAIL => "SERVFAIL",
            NXDOMAIN => "NXDOMAIN",
            NOTIMP => "NOTIMP",
            REFUSED => "REFUSED",
            BADVERS => "BADVERS",
            _ => "other",
        }
    }
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
pub const TYPE_CNAME: u16 = 5;
pub const TYPE_A: u16 = 1;
pub const TYPE_AAAA: u16 = 28;
pub const TYPE_DNAME: u16 = 39;
const TYPE_RRSIG: u16 = 46;
const TYPE_ANY: u16 = 255;

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

/// One resource record's position, as walked.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rr {
    pub(crate) start: usize,
    pub(crate) rtype: u16,
    pub(crate) class: u16,
    pub(crate) ttl_off: usize,
    pub(crate) rdata: usize,
    pub(crate) end: usize,
}

pub(crate) fn read_rr(buf: &[u8], off: usize) -> Result<Rr, WireError> {
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

pub(crate) fn counts(buf: &[u8]) -> Result<[u16; 4], WireError> {
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

#[cfg(test)]
mod tests;
