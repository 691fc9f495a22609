//! What a lookup loop in a pod saw: one line per lookup from the test clients
//! (`ok|nxdomain|fail MS NAME`), read back as the netns tests' `GetentResult`s. A lookup
//! succeeded when it got the answer its name has: addresses, or "no such name" for the
//! names under `missing.` (which exist nowhere).

use std::process::Child;
use std::time::Duration;

use crate::netns::{summarize, GetentResult, Summary};

/// Waits for a loop started with `App::start_loop` and parses its lines. A loop that
/// printed nothing at all (kubectl exec failed) fails the test with its error.
pub fn collect(child: Child, what: &str) -> Vec<GetentResult> {
    let out = child.wait_with_output().expect("kubectl exec");
    let text = String::from_utf8_lossy(&out.stdout);
    let results: Vec<GetentResult> = text.lines().filter_map(parse).collect();
    assert!(
        !results.is_empty(),
        "{what}: the lookup loop printed nothing (exit {:?}): {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    results
}

/// Names that exist nowhere: NXDOMAIN is their right answer.
pub const MISSING: &str = "missing.";

fn parse(line: &str) -> Option<GetentResult> {
    let mut f = line.split_whitespace();
    let status = f.next()?;
    let ms: f64 = f.next()?.parse().ok()?;
    let missing = f.next()?.starts_with(MISSING);
    let ok = match status {
        "ok" => !missing,
        "nxdomain" => missing,
        "fail" => false,
        _ => return None,
    };
    Some(GetentResult {
        ok,
        took: Duration::from_micros((ms * 1000.0) as u64),
    })
}

/// A table row: setup, lookups, failed, median, max.
pub fn row(setup: &str, s: &Summary) -> String {
    format!(
        "| {setup} | {} | {} | {:.1} ms | {:.1} ms |",
        s.n,
        s.failures,
        s.median.as_secs_f64() * 1e3,
        s.max.as_secs_f64() * 1e3
    )
}

pub fn summary(results: &[GetentResult]) -> Summary {
    summarize(results)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_parse_and_noise_is_skipped() {
        assert!(parse("ok 12.5 kubernetes.default").unwrap().ok);
        let f = parse("fail 5004.2 x").unwrap();
        assert!(!f.ok);
        assert_eq!(f.took, Duration::from_micros(5_004_200));
        assert!(parse("nxdomain 1.0 missing.example.com").unwrap().ok);
        assert!(!parse("nxdomain 1.0 kubernetes.default").unwrap().ok);
        assert!(
            !parse("ok 1.0 missing.example.com").unwrap().ok,
            "a missing name answered"
        );
        assert!(!parse("fail 1.0 missing.example.com").unwrap().ok);
        assert!(parse("Defaulted container").is_none());
        assert!(parse("ok notanumber x").is_none());
    }
}
