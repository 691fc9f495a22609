//! `dig` as the client, its output parsed.

use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::require;

/// What `dig` printed, parsed.
#[derive(Debug, Clone, Default)]
pub struct Dig {
    pub status: String,
    pub flags: Vec<String>,
    /// (name, ttl, type, data) of the answer section.
    pub answers: Vec<(String, u32, String, String)>,
    pub authority: Vec<(String, u32, String, String)>,
    pub took: Duration,
    pub raw: String,
}

impl Dig {
    /// Answer records' (type, data), sorted, for comparing two servers.
    pub fn rrset(&self) -> Vec<(String, String)> {
        let mut v: Vec<_> = self
            .answers
            .iter()
            .map(|a| (a.2.clone(), a.3.clone()))
            .collect();
        v.sort();
        v
    }
}

/// Runs `dig @server -p port ARGS` with one try and a 3 s timeout.
pub fn dig(server: SocketAddr, args: &[&str]) -> Dig {
    let dig = require("dig", "bind9-dnsutils");
    let start = Instant::now();
    let out = Command::new(dig)
        .arg(format!("@{}", server.ip()))
        .args(["-p", &server.port().to_string()])
        .args([
            "+tries=1",
            "+time=3",
            "+nocookie",
            "+noall",
            "+comments",
            "+answer",
            "+authority",
        ])
        .args(args)
        .output()
        .expect("run dig");
    let took = start.elapsed();
    let raw = String::from_utf8_lossy(&out.stdout).to_string();
    let mut d = Dig {
        took,
        raw: raw.clone(),
        ..Dig::default()
    };
    let mut section = "";
    for line in raw.lines() {
        if let Some(rest) = line.split("status: ").nth(1) {
            d.status = rest.split(',').next().unwrap_or("").to_string();
        } else if let Some(rest) = line.strip_prefix(";; flags: ") {
            d.flags = rest
                .split(';')
                .next()
                .unwrap_or("")
                .split_whitespace()
                .map(String::from)
                .collect();
        } else if line.starts_with(";; ANSWER SECTION") {
            section = "answer";
        } else if line.starts_with(";; AUTHORITY SECTION") {
            section = "authority";
        } else if line.starts_with(";;") || line.trim().is_empty() {
            if line.trim().is_empty() {
                section = "";
            }
        } else if !line.starts_with(';') {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() >= 5 {
                let rr = (
                    f[0].to_string(),
                    f[1].parse().unwrap_or(0),
                    f[3].to_string(),
                    f[4..].join(" "),
                );
                match section {
                    "answer" => d.answers.push(rr),
                    "authority" => d.authority.push(rr),
                    _ => {}
                }
            }
        }
    }
    if d.status.is_empty() {
        d.status = if raw.contains("timed out") || raw.contains("no servers") {
            "TIMEOUT".into()
        } else {
            "NONE".into()
        };
    }
    d
}
