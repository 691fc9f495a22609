//! The question as the cache files it and upstream is asked it. A key's bytes are the
//! lowercased wire name, the type, the class and a flag byte (DO, CD): the byte layout lives
//! here and nowhere else. `KeyBuf` builds one on the stack (the hit path allocates nothing),
//! `Key` reads one, and `Ask` is what a resolution carries: a shared key and the RD bit.

use std::sync::Arc;

use super::{CLASS_IN, KEY_MAX};

const FLAG_DO: u8 = 2;
const FLAG_CD: u8 = 1;

/// A key's bytes, read by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key<'a>(&'a [u8]);

impl<'a> Key<'a> {
    /// `. IN NS`, no flags: what the prober asks (as CoreDNS's forward plugin does).
    pub const PROBE: Key<'static> = Key(&[0, 0, 2, 0, 1, 0]);

    /// Reads bytes made by `KeyBuf` (or kept from one), as the cache stores them.
    pub fn of(bytes: &'a [u8]) -> Key<'a> {
        debug_assert!(bytes.len() >= 6, "a key is a name and five bytes");
        Key(bytes)
    }

    pub fn bytes(self) -> &'a [u8] {
        self.0
    }

    /// The lowercased wire name, with its final zero label.
    pub fn name(self) -> &'a [u8] {
        &self.0[..self.0.len() - 5]
    }

    pub fn qtype(self) -> u16 {
        let n = self.0.len() - 5;
        u16::from_be_bytes([self.0[n], self.0[n + 1]])
    }

    pub fn qclass(self) -> u16 {
        let n = self.0.len() - 3;
        u16::from_be_bytes([self.0[n], self.0[n + 1]])
    }

    pub fn dnssec_ok(self) -> bool {
        self.0[self.0.len() - 1] & FLAG_DO != 0
    }

    pub fn checking_disabled(self) -> bool {
        self.0[self.0.len() - 1] & FLAG_CD != 0
    }
}

/// A key built on the stack.
pub struct KeyBuf {
    bytes: [u8; KEY_MAX],
    len: usize,
}

impl KeyBuf {
    /// The key of a question: `name` in wire format (at most 255 bytes, lowercased here;
    /// length bytes are below 64 and so untouched by ASCII lowercasing).
    pub fn new(name: &[u8], qtype: u16, qclass: u16, dnssec_ok: bool, cd: bool) -> KeyBuf {
        let n = name.len().min(KEY_MAX - 5);
        let mut bytes = [0u8; KEY_MAX];
        for (o, b) in bytes[..n].iter_mut().zip(name) {
            *o = b.to_ascii_lowercase();
        }
        bytes[n..n + 2].copy_from_slice(&qtype.to_be_bytes());
        bytes[n + 2..n + 4].copy_from_slice(&qclass.to_be_bytes());
        bytes[n + 4] = if dnssec_ok { FLAG_DO } else { 0 } | if cd { FLAG_CD } else { 0 };
        KeyBuf { bytes, len: n + 5 }
    }

    /// A plain question in class IN, no DO, no CD.
    pub fn plain(name: &[u8], qtype: u16) -> KeyBuf {
        KeyBuf::new(name, qtype, CLASS_IN, false, false)
    }

    pub fn key(&self) -> Key<'_> {
        Key(&self.bytes[..self.len])
    }
}

/// What one resolution asks upstream: the key (shared by the tasks that ask) and the
/// client's RD bit, which is not part of the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ask {
    key: Arc<[u8]>,
    pub rd: bool,
}

impl Ask {
    pub fn new(key: Key<'_>, rd: bool) -> Ask {
        Ask {
            key: Arc::from(key.bytes()),
            rd,
        }
    }

    /// The prober's question, `. IN NS` without RD.
    pub fn probe() -> Ask {
        Ask::new(Key::PROBE, false)
    }

    pub fn key(&self) -> Key<'_> {
        Key(&self.key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_reads_back_what_built_it() {
        let kb = KeyBuf::new(b"\x03WwW\x07example\x00", 28, 1, true, false);
        let k = kb.key();
        assert_eq!(k.name(), b"\x03www\x07example\x00", "lowercased");
        assert_eq!((k.qtype(), k.qclass()), (28, 1));
        assert_eq!((k.dnssec_ok(), k.checking_disabled()), (true, false));
        let cd = KeyBuf::new(b"\x00", 2, 1, false, true);
        assert_eq!(cd.key().bytes(), &[0, 0, 2, 0, 1, 1]);
        assert_eq!(KeyBuf::plain(b"\x00", 2).key(), Key::PROBE);
        assert_eq!(Ask::probe().key().qtype(), 2);
    }
}
