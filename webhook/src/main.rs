//! `dns-sidecar-webhook`: parse flags, load the certificate, find the upstreams, serve.

#![forbid(unsafe_code)]

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use dns_sidecar_webhook::config::Args;
use dns_sidecar_webhook::inject::UpstreamSource;
use dns_sidecar_webhook::mirror;
use dns_sidecar_webhook::server::{self, AppState};
use dns_sidecar_webhook::tls::{self, ReloadingCert};
use dns_sidecar_webhook::upstreams::{self, Upstreams};

fn main() -> ExitCode {
    let args = Args::parse();
    dns_sidecar_ops::logger::init(args.log_level);
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("dns-sidecar-webhook: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dns-sidecar-webhook: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    args.check()?;
    let certs = ReloadingCert::new(&args.tls_cert, &args.tls_key).with_context(|| {
        format!(
            "--tls-cert {} / --tls-key {}",
            args.tls_cert.display(),
            args.tls_key.display()
        )
    })?;
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls::server_config(certs.clone())?));
    tokio::spawn(certs.watch(args.tls_reload_interval));

    let mut namespaces = None;
    let ups = if !args.upstreams.is_empty() {
        log::info!("static upstreams {:?}", args.upstreams);
        Upstreams::fixed(args.upstreams.clone())
    } else {
        match kube::Client::try_default().await {
            Ok(client) => {
                let ns = dns_sidecar_webhook::namespaces::Namespaces::new();
                tokio::spawn(dns_sidecar_webhook::namespaces::watch(
                    client.clone(),
                    ns.clone(),
                ));
                namespaces = Some(ns);
                let ns = args.dns_namespace.clone();
                match (&args.discover_service.0, args.upstream_source.as_str()) {
                    (Some(svc), "endpointslices") if args.mirror() => {
                        // Read CoreDNS's own Service; write the copy in our namespace.
                        let from = args.mirror_from.0.clone().unwrap_or_default();
                        let u = Upstreams::watched(UpstreamSource::EndpointSlices);
                        tokio::spawn(upstreams::watch_endpoint_slices(
                            client.clone(),
                            ns,
                            from,
                            u.clone(),
                        ));
                        tokio::spawn(mirror::run(
                            client,
                            args.namespace.clone(),
                            svc.clone(),
                            u.clone(),
                        ));
                        u
                    }
                    (Some(svc), "endpointslices") => {
                        let u = Upstreams::watched(UpstreamSource::EndpointSlices);
                        tokio::spawn(upstreams::watch_endpoint_slices(
                            client,
                            ns,
                            svc.clone(),
                            u.clone(),
                        ));
                        u
                    }
                    _ => {
                        let u = Upstreams::watched(UpstreamSource::Services);
                        tokio::spawn(upstreams::watch_services(client, ns, u.clone()));
                        u
                    }
                }
            }
            Err(e) => {
                // Pods must still be admitted: inject with the cluster DNS VIP and say so.
                log::error!("no Kubernetes API ({e}); sidecars will forward to --cluster-dns");
                Upstreams::fixed(Vec::new())
            }
        }
    };
    let state = Arc::new(AppState {
        settings: args.settings(),
        upstreams: ups,
        namespaces,
        metrics: Default::default(),
        draining: Default::default(),
    });
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot bind --listen {}", args.listen))?;
    log::info!("serving https on {}", args.listen);
    let serving = tokio::spawn(server::serve(
        listener,
        acceptor,
        server::router(state.clone()),
    ));
    tokio::select! {
        _ = serving => {}
        _ = shutdown() => {
            log::info!("terminating: still serving for {:?} (--drain)", args.drain);
            state.draining.store(true, std::sync::atomic::Ordering::Relaxed);
            tokio::time::sleep(args.drain).await;
        }
    }
    Ok(())
}

async fn shutdown() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(_) => std::future::pending().await,
    }
}
