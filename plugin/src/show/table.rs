//! Columns as kubectl prints them (upper-case headers, left-aligned, three spaces apart), and
//! the few ways a value is written: durations as kubectl's ages, milliseconds, shares.

use serde_json::Value;

pub struct Table {
    headers: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(headers: &[&'static str]) -> Table {
        Table {
            headers: headers.to_vec(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn render(&self) -> String {
        let n = self.headers.len();
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.len()).collect();
        for r in &self.rows {
            for (w, c) in widths.iter_mut().zip(r) {
                *w = (*w).max(c.chars().count());
            }
        }
        let mut out = String::new();
        let head: Vec<String> = self.headers.iter().map(|h| h.to_string()).collect();
        for r in std::iter::once(&head).chain(&self.rows) {
            let mut line = String::new();
            for (i, c) in r.iter().enumerate().take(n) {
                line.push_str(c);
                if i + 1 < n {
                    let pad = widths[i] + 3 - c.chars().count();
                    line.extend(std::iter::repeat_n(' ', pad));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// Seconds as kubectl writes an age: `450ms`, `12s`, `3m10s`, `5h2m`, `4d`; `-` for none.
pub fn age(v: &Value) -> String {
    let Some(s) = v.as_f64() else {
        return "-".into();
    };
    if s < 1.0 {
        return format!("{}ms", (s * 1000.0).round() as u64);
    }
    let s = s.round() as u64;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 if s.is_multiple_of(60) => format!("{}m", s / 60),
        60..=3599 => format!("{}m{}s", s / 60, s % 60),
        3600..=86399 => format!("{}h{}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d", s / 86400),
    }
}

/// Milliseconds: `0.42ms`, `12ms`; `-` for none.
pub fn ms(v: &Value) -> String {
    match v.as_f64() {
        None => "-".into(),
        Some(x) if x < 10.0 => format!("{x:.2}ms"),
        Some(x) => format!("{}ms", x.round() as u64),
    }
}

/// A share in [0, 1] as a percentage.
pub fn percent(v: &Value) -> String {
    v.as_f64()
        .map_or("-".into(), |x| format!("{}%", (x * 100.0).round() as u64))
}

/// A number or string as text; `-` for none.
pub fn text(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        v => v.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn columns_line_up_and_values_read_as_kubectl_writes_them() {
        let mut t = Table::new(&["NAME", "QUERIES"]);
        t.row(vec!["www.example.".into(), "5".into()]);
        t.row(vec!["a.".into(), "120".into()]);
        assert_eq!(
            t.render(),
            "NAME           QUERIES\nwww.example.   5\na.             120\n"
        );
        assert_eq!(age(&json!(0.25)), "250ms");
        assert_eq!(age(&json!(12.4)), "12s");
        assert_eq!(age(&json!(190)), "3m10s");
        assert_eq!(age(&json!(18120)), "5h2m");
        assert_eq!(age(&json!(null)), "-");
        assert_eq!(ms(&json!(0.4213)), "0.42ms");
        assert_eq!(ms(&json!(125.2)), "125ms");
        assert_eq!(percent(&json!(0.125)), "13%");
        assert_eq!(text(&json!("up")), "up");
    }
}
