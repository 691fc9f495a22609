//! A request's query string (`?name=web&type=AAAA`), percent-decoded: the debug endpoints'
//! few parameters, without axum's serde-based extractor.

/// The value of `key` in `query` (the part after `?`), decoded; the first one if repeated.
pub fn param(query: Option<&str>, key: &str) -> Option<String> {
    query?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (decode(k)? == key).then(|| decode(v)).flatten()
    })
}

/// `%XX` escapes and `+` for a space, as forms and curl write them; None when an escape is
/// malformed or the bytes are not UTF-8.
fn decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_found_and_decoded() {
        let q = Some("name=web%2Eshop&type=AAAA&n=5&flag");
        assert_eq!(param(q, "name").as_deref(), Some("web.shop"));
        assert_eq!(param(q, "type").as_deref(), Some("AAAA"));
        assert_eq!(param(q, "flag").as_deref(), Some(""));
        assert_eq!(param(q, "missing"), None);
        assert_eq!(param(None, "name"), None);
        assert_eq!(param(Some("name=%zz"), "name"), None);
        assert_eq!(param(Some("name=a+b"), "name").as_deref(), Some("a b"));
    }
}
