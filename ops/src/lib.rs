//! dns-sidecar-ops: what the proxy and the webhook share to be operated. The grammar of flag
//! values (`values`: the webhook writes proxy flags from annotations, so both must read a
//! duration or a size the same way), the log line (`logger`) and the latency histogram
//! (`histogram`) both export. Nothing else of the proxy is linked into the webhook.

#![forbid(unsafe_code)]

pub mod defaults;
pub mod histogram;
pub mod logger;
pub mod values;
