//! Names on the wire: skipping and checking them (compression pointers only to labels seen
//! before), comparing them, and converting to and from presentation text.

use super::{Rr, WireError, TYPE_SOA};

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
pub(super) fn check_name(
    buf: &[u8],
    start: usize,
    labels: &mut Vec<u16>,
) -> Result<usize, WireError> {
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
pub(super) fn check_rdata_names(
    buf: &[u8],
    rr: &Rr,
    labels: &mut Vec<u16>,
) -> Result<(), WireError> {
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
pub(super) fn question_name_end(buf: &[u8], mut off: usize) -> Result<usize, WireError> {
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

/// A possibly compressed name written out whole (uncompressed, case kept), and the offset
/// just after the name where it is written; None when it does not parse.
pub fn expand_name(buf: &[u8], start: usize) -> Option<(Vec<u8>, usize)> {
    let mut out = Vec::with_capacity(64);
    let mut off = follow(buf, start)?;
    let mut after = None;
    if off != start {
        after = Some(start + 2);
    }
    loop {
        let len = *buf.get(off)? as usize;
        if len > 63 {
            return None;
        }
        if len == 0 {
            out.push(0);
            return (out.len() <= 255).then(|| (out, after.unwrap_or(off + 1)));
        }
        out.extend_from_slice(buf.get(off..off + 1 + len)?);
        if out.len() > 255 {
            return None;
        }
        let next = off + 1 + len;
        off = follow(buf, next)?;
        if off != next && after.is_none() {
            after = Some(next + 2);
        }
    }
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
