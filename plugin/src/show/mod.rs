//! The sidecar's JSON as readable text, one function per command; pure, so each is tested
//! with the JSON alone.

mod table;

use serde_json::Value;
use table::{age, ms, percent, text, Table};

/// `status`: the pod's upstreams and how they are, the budget, discovery, the cache.
pub fn status(pod: &str, v: &Value) -> String {
    let s = &v["settings"];
    let mut modes = vec![format!("upstream mode {}", text(&s["upstream_mode"]))];
    if s["ttl_strict"] == true {
        modes.push("TTL-strict".into());
    }
    if s["upstream_tcp"] == true {
        modes.push("TCP upstream".into());
    }
    let names = if s["debug_names"] == true {
        "shown"
    } else {
        "hidden"
    };
    let b = &v["pool"]["budget"];
    let c = &v["cache"];
    let mut out = format!(
        "{pod}: dns-sidecar {} ({}), pool {}, query names {names}\n",
        text(&v["version"]),
        modes.join(", "),
        text(&v["pool"]["state"]),
    );
    out += &format!(
        "retry budget: {} of {} extra attempts left ({} first, {} extra in the last 10s)\n",
        text(&b["left"]),
        text(&b["allowed"]),
        text(&b["first_attempts"]),
        text(&b["extra_attempts"]),
    );
    out += &format!(
        "cache: {} entries, {} KiB, {} evicted; {} failed resolutions since start\n\n",
        text(&c["entries"]),
        c["bytes"].as_u64().unwrap_or(0).div_ceil(1024),
        text(&c["evictions"]),
        text(&v["failures_total"]),
    );
    let mut t = Table::new(&[
        "UPSTREAM",
        "TIER",
        "SOURCE",
        "STATE",
        "SRTT",
        "RTTVAR",
        "IN FLIGHT",
        "FAILS",
        "LOSS",
        "LAST TROUBLE",
    ]);
    for u in v["upstreams"].as_array().into_iter().flatten() {
        let trouble = match &u["last_trouble"] {
            Value::Null => "-".to_string(),
            t => format!("{}, {} ago", text(&t["what"]), age(&t["ago_s"])),
        };
        let mut state = text(&u["state"]);
        if u["state"] == "down" {
            state = format!("down {}", age(&u["down_for_s"]));
        }
        t.row(vec![
            text(&u["address"]),
            text(&u["tier"]),
            text(&u["source"]),
            state,
            ms(&u["srtt_ms"]),
            ms(&u["rttvar_ms"]),
            text(&u["inflight"]),
            text(&u["failures_total"]),
            percent(&u["loss"]),
            trouble,
        ]);
    }
    out += &t.render();
    let d = &v["discovery"];
    if !d.is_null() {
        let last = match &d["last"] {
            Value::Null => "no lookup yet".to_string(),
            l => {
                let n = l["addresses"].as_array().map_or(0, Vec::len);
                let ttl = match &l["ttl_s"] {
                    Value::Null => String::new(),
                    t => format!(" (TTL {}s)", text(t)),
                };
                match l["result"].as_str() {
                    Some("found") => format!("found {n} addresses {} ago{ttl}", age(&l["ago_s"])),
                    _ => format!("{} {} ago", text(&l["result"]), age(&l["ago_s"])),
                }
            }
        };
        let failed = match d["failed_in_a_row"].as_u64() {
            Some(n) if n > 0 => format!(", {n} rounds in a row without an answer"),
            _ => String::new(),
        };
        out += &format!(
            "\ndiscovery: {}:{}, {last}{failed}, next lookup in {}\n",
            text(&d["name"]),
            text(&d["port"]),
            age(&d["next_in_s"]),
        );
    }
    out
}

/// `top`: the most asked names over the window.
pub fn top(pod: &str, v: &Value) -> String {
    let names = v["names"].as_array().cloned().unwrap_or_default();
    let mut out = format!(
        "{pod}: the {} most asked names over the last {} ({} counters)\n",
        names.len(),
        age(&v["window_s"]),
        text(&v["counters"]),
    );
    let mut t = Table::new(&[
        "NAME", "TYPE", "QUERIES", "MISSES", "NXDOMAIN", "SERVFAIL", "STALE",
    ]);
    for n in &names {
        let q = n["queries"].as_u64().unwrap_or(0);
        let over = n["overcount_at_most"].as_u64().unwrap_or(0);
        let queries = if over == 0 {
            q.to_string()
        } else {
            format!("{}-{q}", q - over.min(q))
        };
        t.row(vec![
            text(&n["name"]),
            text(&n["type"]),
            queries,
            text(&n["misses"]),
            text(&n["nxdomain"]),
            text(&n["servfail"]),
            text(&n["stale"]),
        ]);
    }
    if t.is_empty() {
        out += "no query in the window\n";
    } else {
        out += &t.render();
    }
    out
}

fn freshness(e: &Value) -> String {
    match e["state"].as_str() {
        Some("fresh") => format!("fresh, {} of {} left", age(&e["left_s"]), age(&e["ttl_s"])),
        Some("stale") => format!(
            "stale: expired {} ago, served only while upstreams fail, for {} more",
            age(&e["expired_ago_s"]),
            age(&e["stale_left_s"])
        ),
        _ => format!(
            "expired {} ago: the next query asks upstream",
            age(&e["expired_ago_s"])
        ),
    }
}

fn refresh(r: &Value) -> String {
    let when = text(&r["when"]);
    match (&r["at_left_s"], &r["in_s"]) {
        (Value::Null, Value::Null) => when,
        (Value::Null, i) => format!("{when} (in {})", age(i)),
        (at, i) => format!(
            "refreshed by the first query once {} are left (in {})",
            age(at),
            age(i)
        ),
    }
}

/// `cache`: what is held for a name.
pub fn cache(pod: &str, v: &Value) -> String {
    let types: Vec<String> = v["types"]
        .as_array()
        .into_iter()
        .flatten()
        .map(text)
        .collect();
    let under: Vec<String> = v["looked_under"]
        .as_array()
        .into_iter()
        .flatten()
        .map(text)
        .collect();
    let held = v["held"].as_array().cloned().unwrap_or_default();
    let question = format!("{} ({})", text(&v["question"]), types.join(", "));
    if held.is_empty() {
        return format!(
            "{pod}: nothing held for {question}; looked under {}\n",
            under.join(", ")
        );
    }
    let mut out = format!("{pod}: held for {question}\n");
    for e in &held {
        let mut flags = String::new();
        if e["dnssec_ok"] == true {
            flags += " +DO";
        }
        if e["checking_disabled"] == true {
            flags += " +CD";
        }
        out += &format!(
            "\n{} {}{flags}: {} {}, {}; {}\n",
            text(&e["name"]),
            text(&e["type"]),
            text(&e["kind"]),
            text(&e["rcode"]),
            freshness(e),
            refresh(&e["refresh"]),
        );
        let mut t = Table::new(&["SECTION", "NAME", "TYPE", "TTL", "RECEIVED", "DATA"]);
        for r in e["records"].as_array().into_iter().flatten() {
            t.row(vec![
                text(&r["section"]),
                text(&r["name"]),
                text(&r["type"]),
                text(&r["ttl"]),
                text(&r["ttl_received"]),
                text(&r["data"]),
            ]);
        }
        if !t.is_empty() {
            out += &t.render();
        }
    }
    out
}

fn tried(f: &Value) -> String {
    let mut parts: Vec<String> = f["tried"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| {
            let resend = if a["resend"] == true { " (resent)" } else { "" };
            format!("{}{resend} {}", text(&a["address"]), text(&a["result"]))
        })
        .collect();
    if let Some(n) = f["more_attempts"].as_u64().filter(|n| *n > 0) {
        parts.push(format!("{n} more"));
    }
    for (why, n) in f["extra_attempts_denied"].as_object().into_iter().flatten() {
        parts.push(format!("{} extra denied ({why})", text(n)));
    }
    if parts.is_empty() {
        "nothing sent".into()
    } else {
        parts.join("; ")
    }
}

/// `recent`: the last failures, newest first.
pub fn recent(pod: &str, v: &Value) -> String {
    let names = if v["names"] == "shown" {
        "names shown"
    } else {
        "names hidden: the sidecar runs without --debug-names"
    };
    let failures = v["failures"].as_array().cloned().unwrap_or_default();
    let mut out = format!(
        "{pod}: {} failed resolutions since start, the last {} kept ({names})\n",
        text(&v["failures_total"]),
        text(&v["kept"]),
    );
    let mut t = Table::new(&["AGO", "NAME", "TYPE", "WHAT", "CLIENT GOT", "TOOK", "TRIED"]);
    for f in &failures {
        t.row(vec![
            age(&f["ago_s"]),
            text(&f["name"]),
            text(&f["type"]),
            text(&f["what"]),
            text(&f["client_got"]),
            ms(&f["took_ms"]),
            tried(f),
        ]);
    }
    if t.is_empty() {
        out += "no failure\n";
    } else {
        out += &t.render();
    }
    out
}

#[cfg(test)]
mod tests;
