//! A JSON value built by the debug endpoints and written out, with strings escaped per
//! RFC 8259. Thirty lines instead of serde in every pod: the proxy only ever writes JSON,
//! a few kilobytes per request, and never reads it.

use std::fmt::Write;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq)]
pub enum J {
    Null,
    Bool(bool),
    Int(i64),
    Num(f64),
    Str(String),
    Arr(Vec<J>),
    Obj(Vec<(&'static str, J)>),
}

/// An object from `key => value` pairs, each value anything `J::from` takes.
#[macro_export]
macro_rules! obj {
    ($($k:literal => $v:expr),* $(,)?) => {
        $crate::admin::json::J::Obj(vec![$(($k, $crate::admin::json::J::from($v))),*])
    };
}

impl J {
    /// Seconds, to the millisecond.
    pub fn secs(d: Duration) -> J {
        J::Num((d.as_secs_f64() * 1000.0).round() / 1000.0)
    }

    /// Milliseconds, to the microsecond.
    pub fn ms(d: Duration) -> J {
        J::Num((d.as_secs_f64() * 1e6).round() / 1000.0)
    }

    pub fn write(&self, out: &mut String) {
        match self {
            J::Null => out.push_str("null"),
            J::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            J::Int(n) => {
                let _ = write!(out, "{n}");
            }
            J::Num(x) if x.is_finite() => {
                let _ = write!(out, "{x}");
            }
            J::Num(_) => out.push_str("null"),
            J::Str(s) => string(s, out),
            J::Arr(v) => {
                out.push('[');
                for (i, x) in v.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    x.write(out);
                }
                out.push(']');
            }
            J::Obj(v) => {
                out.push('{');
                for (i, (k, x)) in v.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    string(k, out);
                    out.push(':');
                    x.write(out);
                }
                out.push('}');
            }
        }
    }

    /// The value as JSON text, with a final newline (for curl).
    pub fn text(&self) -> String {
        let mut s = String::with_capacity(1024);
        self.write(&mut s);
        s.push('\n');
        s
    }
}

fn string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

impl From<bool> for J {
    fn from(b: bool) -> J {
        J::Bool(b)
    }
}

macro_rules! from_int {
    ($($t:ty),*) => {$(
        impl From<$t> for J {
            fn from(n: $t) -> J {
                J::Int(i64::try_from(n).unwrap_or(i64::MAX))
            }
        }
    )*};
}
from_int!(u16, u32, u64, usize, i64);

impl From<f64> for J {
    fn from(x: f64) -> J {
        J::Num(x)
    }
}

impl From<&str> for J {
    fn from(s: &str) -> J {
        J::Str(s.to_string())
    }
}

impl From<String> for J {
    fn from(s: String) -> J {
        J::Str(s)
    }
}

impl From<Vec<J>> for J {
    fn from(v: Vec<J>) -> J {
        J::Arr(v)
    }
}

impl<T: Into<J>> From<Option<T>> for J {
    fn from(o: Option<T>) -> J {
        o.map_or(J::Null, Into::into)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped_and_numbers_stay_numbers() {
        let v = obj! {
            "name" => "a\"b\\c\u{1}.",
            "n" => 3u32,
            "x" => J::ms(Duration::from_micros(1500)),
            "inf" => f64::INFINITY,
            "none" => None::<u32>,
            "list" => vec![J::Bool(true), J::Null],
        };
        assert_eq!(
            v.text(),
            "{\"name\":\"a\\\"b\\\\c\\u0001.\",\"n\":3,\"x\":1.5,\"inf\":null,\"none\":null,\"list\":[true,null]}\n"
        );
    }
}
