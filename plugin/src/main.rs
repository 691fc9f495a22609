//! `kubectl dns-sidecar`: what a pod's DNS sidecar sees (`status`), asks most (`top`),
//! holds for a name (`cache`) and failed at (`recent`), read from its admin port through the
//! API server's pod proxy with the user's own kubectl: no port-forward, no exec (the sidecar
//! has no shell), and RBAC on `pods/proxy` decides who may look.

mod kubectl;
mod show;
mod sidecar;

use clap::{Parser, Subcommand};
use serde_json::Value;

use kubectl::{ApiError, Kubectl};
use sidecar::{NotThere, Sidecar};

/// The debug format this plugin reads (`format` in every endpoint's JSON).
const FORMAT: u64 = 1;

#[derive(Parser)]
#[command(
    name = "kubectl-dns_sidecar",
    bin_name = "kubectl dns-sidecar",
    version,
    about = "What a pod's DNS sidecar sees, holds and failed at, read through the API server"
)]
struct Cli {
    /// The pod's namespace (default: the context's).
    #[arg(short = 'n', long, global = true)]
    namespace: Option<String>,
    /// The kubeconfig context to use.
    #[arg(long, global = true)]
    context: Option<String>,
    /// Path to the kubeconfig file.
    #[arg(long, global = true)]
    kubeconfig: Option<String>,
    /// Output format: a readable table, or the sidecar's own JSON.
    #[arg(short = 'o', long, global = true, default_value = "table", value_parser = ["table", "json"])]
    output: String,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// The upstreams the sidecar uses and how each is, the retry budget, discovery.
    Status { pod: String },
    /// The most asked names over the last one to two minutes.
    Top {
        pod: String,
        /// How many names.
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u16).range(1..=256))]
        count: u16,
    },
    /// What the sidecar holds for a name (a name without a final dot is looked for under
    /// the pod's search domains, as its resolver would), A and AAAA unless TYPE is given.
    Cache {
        pod: String,
        name: String,
        #[arg(value_name = "TYPE")]
        qtype: Option<String>,
    },
    /// The last failed resolutions: what went wrong, what the client got, what was tried.
    Recent { pod: String },
}

#[derive(Debug, thiserror::Error)]
enum Error {
    #[error("pod {0} not found")]
    NoPod(String),
    #[error("you may not read pod {0}: {1}")]
    PodForbidden(String, String),
    #[error("pod {0} {1}")]
    NotThere(String, NotThere),
    #[error("you may not read {pod}'s sidecar through the API server: {msg}\n(the plugin needs `get` on `pods/proxy` in namespace {ns}; see docs/operating.md, \"Who can read what\")")]
    ProxyForbidden {
        pod: String,
        ns: String,
        msg: String,
    },
    #[error("the API server cannot reach {pod}'s sidecar on port {port}: {msg}")]
    Unreachable { pod: String, port: u16, msg: String },
    #[error("the sidecar in {pod} ({version}, image {image}) has no debug endpoints: it is older than they are; roll the workload to get the webhook's current sidecar")]
    Old {
        pod: String,
        version: String,
        image: String,
    },
    #[error("the sidecar in {pod} writes debug format {got}; this plugin reads format {FORMAT}: use the plugin of the sidecar's release")]
    Format { pod: String, got: String },
    #[error("the sidecar in {0} keeps no query names (they are private data): set the annotation dns-sidecar.io/debug-names: \"true\" on the pod template (or start the webhook with --debug-names) and roll the workload; `status` and `recent` work without them")]
    NamesOff(String),
    #[error("the sidecar in {pod} answered {path} with something that is not JSON: {err}")]
    NotJson {
        pod: String,
        path: String,
        err: String,
    },
    #[error("{0}")]
    Bad(String),
    #[error("{0}")]
    Api(#[from] ApiError),
}

/// A name as the sidecar takes it: letters, digits, `-` and `_` in labels of 1 to 63.
fn check_name(name: &str) -> Result<(), Error> {
    let trimmed = name.strip_suffix('.').unwrap_or(name);
    let ok = !trimmed.is_empty()
        && trimmed.len() <= 253
        && trimmed.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    ok.then_some(())
        .ok_or_else(|| Error::Bad(format!("{name:?} is not a DNS name")))
}

fn check_type(t: &str) -> Result<(), Error> {
    (!t.is_empty() && t.len() <= 10 && t.bytes().all(|b| b.is_ascii_alphanumeric()))
        .then_some(())
        .ok_or_else(|| {
            Error::Bad(format!(
                "{t:?} is not a DNS type (A, AAAA, SRV, TXT, TYPE65, ...)"
            ))
        })
}

struct Target<'a> {
    k: &'a Kubectl,
    ns: String,
    pod: String,
    sidecar: Sidecar,
}

impl Target<'_> {
    fn label(&self) -> String {
        format!("{}/{}", self.ns, self.pod)
    }

    /// GET `path` of the sidecar's admin port through the pod proxy.
    fn get(&self, path: &str) -> Result<Value, Error> {
        let raw = format!(
            "/api/v1/namespaces/{}/pods/{}:{}/proxy{path}",
            self.ns, self.pod, self.sidecar.admin_port
        );
        let body = self.k.raw(&raw).map_err(|e| match e {
            ApiError::Forbidden(msg) => Error::ProxyForbidden {
                pod: self.label(),
                ns: self.ns.clone(),
                msg,
            },
            ApiError::NotFound(msg) if msg.contains("pods \"") => Error::NoPod(self.label()),
            ApiError::NotFound(_) => Error::Old {
                pod: self.label(),
                version: self
                    .sidecar
                    .version
                    .as_ref()
                    .map_or("no version recorded".into(), |v| format!("dns-sidecar {v}")),
                image: self.sidecar.image.clone(),
            },
            ApiError::Unavailable(msg) => Error::Unreachable {
                pod: self.label(),
                port: self.sidecar.admin_port,
                msg,
            },
            e => Error::Api(e),
        })?;
        let v: Value = serde_json::from_str(&body).map_err(|e| Error::NotJson {
            pod: self.label(),
            path: path.to_string(),
            err: e.to_string(),
        })?;
        match v["format"].as_u64() {
            Some(FORMAT) => Ok(v),
            _ => Err(Error::Format {
                pod: self.label(),
                got: v["format"].to_string(),
            }),
        }
    }

    /// The index, to learn whether names are kept before asking for them.
    fn names_kept(&self) -> Result<bool, Error> {
        Ok(self.get("/debug")?["debug_names"] == true)
    }
}

fn run(cli: Cli) -> Result<String, Error> {
    let bin = std::env::var("KUBECTL").unwrap_or_else(|_| "kubectl".into());
    let k = Kubectl::new(bin, cli.context.as_deref(), cli.kubeconfig.as_deref());
    let ns = match cli.namespace {
        Some(ns) => ns,
        None => k.namespace()?,
    };
    let pod_arg = match &cli.cmd {
        Cmd::Status { pod }
        | Cmd::Top { pod, .. }
        | Cmd::Cache { pod, .. }
        | Cmd::Recent { pod } => pod,
    };
    let pod = pod_arg
        .strip_prefix("pod/")
        .or_else(|| pod_arg.strip_prefix("pods/"))
        .unwrap_or(pod_arg)
        .to_string();
    if let Cmd::Cache { name, qtype, .. } = &cli.cmd {
        check_name(name)?;
        if let Some(t) = qtype {
            check_type(t)?;
        }
    }
    let label = format!("{ns}/{pod}");
    let body = k
        .raw(&format!("/api/v1/namespaces/{ns}/pods/{pod}"))
        .map_err(|e| match e {
            ApiError::NotFound(_) => Error::NoPod(label.clone()),
            ApiError::Forbidden(m) => Error::PodForbidden(label.clone(), m),
            e => Error::Api(e),
        })?;
    let pod_json: Value = serde_json::from_str(&body)
        .map_err(|e| Error::Bad(format!("the API server's pod {label} is not JSON: {e}")))?;
    let sidecar = sidecar::find(&pod_json).map_err(|e| Error::NotThere(label.clone(), e))?;
    let t = Target {
        k: &k,
        ns,
        pod,
        sidecar,
    };
    let (v, text): (Value, fn(&str, &Value) -> String) = match &cli.cmd {
        Cmd::Status { .. } => (t.get("/debug/upstreams")?, show::status),
        Cmd::Recent { .. } => (t.get("/debug/recent")?, show::recent),
        Cmd::Top { count, .. } => {
            if !t.names_kept()? {
                return Err(Error::NamesOff(label));
            }
            (t.get(&format!("/debug/top?n={count}"))?, show::top)
        }
        Cmd::Cache { name, qtype, .. } => {
            if !t.names_kept()? {
                return Err(Error::NamesOff(label));
            }
            let mut path = format!("/debug/cache?name={name}");
            if let Some(q) = qtype {
                path += &format!("&type={q}");
            }
            (t.get(&path)?, show::cache)
        }
    };
    Ok(if cli.output == "json" {
        let mut s = serde_json::to_string_pretty(&v).expect("a Value serializes");
        s.push('\n');
        s
    } else {
        text(&label, &v)
    })
}

fn main() {
    let cli = Cli::parse();
    match run(cli) {
        Ok(out) => print!("{out}"),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_types_are_checked_before_anything_is_asked() {
        assert!(check_name("web").is_ok());
        assert!(check_name("web.shop.svc.cluster.local.").is_ok());
        assert!(check_name("bad name").is_err());
        assert!(check_name("a..b").is_err());
        assert!(check_name(".").is_err());
        assert!(check_type("AAAA").is_ok());
        assert!(check_type("TYPE65").is_ok());
        let e = check_type("A;rm").unwrap_err().to_string();
        assert!(e.contains("not a DNS type"), "{e}");
    }
}
