//! TLS from a certificate and key on disk (a mounted Secret), reloaded when the files
//! change, as cert-manager and Secret rotation rewrite them. Each new handshake gets the
//! current pair; open connections keep theirs. A bad new pair is logged and the old kept.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {0}: {1}")]
    Read(PathBuf, std::io::Error),
    #[error("{0} holds no PEM certificate")]
    NoCert(PathBuf),
    #[error("{0} holds no PEM private key")]
    NoKey(PathBuf),
    #[error("{0}: {1}")]
    Bad(PathBuf, String),
}

fn read(p: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(p).map_err(|e| TlsError::Read(p.to_path_buf(), e))
}

/// Parses a PEM certificate chain and key and checks that they belong together.
pub fn load(
    cert_pem: &[u8],
    key_pem: &[u8],
    cert: &Path,
    key: &Path,
) -> Result<CertifiedKey, TlsError> {
    let chain: Vec<_> = rustls_pemfile::certs(&mut &cert_pem[..])
        .collect::<Result<_, _>>()
        .map_err(|e| TlsError::Bad(cert.to_path_buf(), e.to_string()))?;
    if chain.is_empty() {
        return Err(TlsError::NoCert(cert.to_path_buf()));
    }
    let der = rustls_pemfile::private_key(&mut &key_pem[..])
        .map_err(|e| TlsError::Bad(key.to_path_buf(), e.to_string()))?
        .ok_or_else(|| TlsError::NoKey(key.to_path_buf()))?;
    let provider = rustls::crypto::ring::default_provider();
    let signing = provider
        .key_provider
        .load_private_key(der)
        .map_err(|e| TlsError::Bad(key.to_path_buf(), e.to_string()))?;
    let ck = CertifiedKey::new(chain, signing);
    ck.keys_match().map_err(|e| {
        TlsError::Bad(
            key.to_path_buf(),
            format!("does not match {}: {e}", cert.display()),
        )
    })?;
    Ok(ck)
}

#[derive(Debug)]
pub struct ReloadingCert {
    cert: PathBuf,
    key: PathBuf,
    current: RwLock<(Arc<CertifiedKey>, Vec<u8>)>,
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .0
                .clone(),
        )
    }
}

impl ReloadingCert {
    /// Loads the pair once; a failure here stops start-up.
    pub fn new(cert: &Path, key: &Path) -> Result<Arc<ReloadingCert>, TlsError> {
        let (c, k) = (read(cert)?, read(key)?);
        let ck = load(&c, &k, cert, key)?;
        Ok(Arc::new(ReloadingCert {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
            current: RwLock::new((Arc::new(ck), [c, k].concat())),
        }))
    }

    /// Reads the files again; swaps in a changed, valid pair. Returns whether it swapped.
    pub fn reload(&self) -> Result<bool, TlsError> {
        let (c, k) = (read(&self.cert)?, read(&self.key)?);
        let both = [c.clone(), k.clone()].concat();
        if self.current.read().unwrap_or_else(|e| e.into_inner()).1 == both {
            return Ok(false);
        }
        let ck = load(&c, &k, &self.cert, &self.key)?;
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = (Arc::new(ck), both);
        Ok(true)
    }

    /// Polls the files (Secret volumes swap a symlink, so polling is the robust way).
    pub async fn watch(self: Arc<Self>, every: Duration) {
        let mut last_err = String::new();
        loop {
            tokio::time::sleep(every).await;
            match self.reload() {
                Ok(true) => {
                    last_err.clear();
                    log::info!("reloaded TLS certificate from {}", self.cert.display());
                }
                Ok(false) => {}
                Err(e) => {
                    // A rotation writes two files: say it once, not every poll.
                    let msg = e.to_string();
                    if msg != last_err {
                        log::warn!("keeping the current TLS certificate: {msg}");
                        last_err = msg;
                    }
                }
            }
        }
    }
}

/// TLS 1.2 and 1.3 only, HTTP/2 and HTTP/1.1 by ALPN, the pair from `certs`.
pub fn server_config(certs: Arc<ReloadingCert>) -> Result<ServerConfig, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_cert_resolver(certs);
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(cfg)
}
