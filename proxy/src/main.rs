//! `dns-sidecar-proxy`: parse flags, build the runtime, run.

#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;
use dns_sidecar_proxy::config::{Args, Config};

/// mimalloc keeps small long-lived cache entries apart from short-lived task memory by size
/// class. With glibc's malloc, entries carved out of freed task chunks fragmented the heap:
/// 15-25 MiB RSS for 10,000 cached names holding 3 MiB (see README, Benchmarks).
/// Version 2 (feature `v2`): v3, the crate's default, touched ~90 KiB more of every idle
/// pod's memory for the same work, at the same CPU per answer.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Readiness events taken per poll: a sidecar watches a few sockets (listeners, admin,
/// queries in flight), and tokio's default of 1024 is 12 KiB of every pod's memory.
const IO_EVENTS: usize = 256;

fn main() -> ExitCode {
    let args = Args::parse();
    let resolv = if args.upstream.is_empty() {
        std::fs::read_to_string(&args.resolv_conf).ok()
    } else {
        None
    };
    let cfg = match Config::from_args(args, resolv.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("dns-sidecar-proxy: {e}");
            return ExitCode::from(2);
        }
    };
    dns_sidecar_proxy::logger::init(cfg.log_level);
    let rt = if cfg.threads == 1 {
        tokio::runtime::Builder::new_current_thread()
            .max_io_events_per_tick(IO_EVENTS)
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(cfg.threads)
            .max_io_events_per_tick(IO_EVENTS)
            .enable_all()
            .build()
    };
    let rt = match rt {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("dns-sidecar-proxy: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(dns_sidecar_proxy::app::run(cfg)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dns-sidecar-proxy: {e:#}");
            ExitCode::FAILURE
        }
    }
}
