//! HTTPS for the sandbox (`sayso sandbox serve --tls`): a throwaway certificate authority and a
//! `127.0.0.1`/`localhost` server certificate generated at start, and a TLS listener for
//! [`axum::serve`](fn@axum::serve). Clients that insist on https (simple-salesforce, the Salesforce CLI) trust the
//! CA through the PEM written by `--cert-out` (`REQUESTS_CA_BUNDLE`, `NODE_EXTRA_CA_CERTS`,
//! `SAYSO_CA_CERT`).
//!
//! Owns certificate generation and the TLS accept loop only. Requests served over TLS carry
//! `X-Forwarded-Proto: https` (set here, replacing whatever the client sent) so that
//! [`crate::sandbox::oauth::origin`] hands out https `instance_url`s and identity URLs. Never
//! touches routes or the database.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::crypto::aws_lc_rs;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::server::TlsStream;

/// The header a TLS-served request carries so the sandbox builds https URLs.
pub const FORWARDED_PROTO: &str = "x-forwarded-proto";

/// How long a client may take to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// Key or certificate generation failed.
    #[error("cannot generate the sandbox certificate: {0}")]
    Certificate(#[from] rcgen::Error),
    /// rustls refused the generated material.
    #[error("cannot configure TLS: {0}")]
    Config(#[from] tokio_rustls::rustls::Error),
}

/// A freshly generated CA and server certificate, ready to serve.
pub struct TlsMaterial {
    /// The CA certificate (PEM) clients must trust; it signed the server certificate.
    pub ca_pem: String,
    config: Arc<ServerConfig>,
}

impl std::fmt::Debug for TlsMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsMaterial").finish_non_exhaustive()
    }
}

impl TlsMaterial {
    /// Generates a CA ("sayso sandbox CA") and a server certificate for `127.0.0.1`, `::1` and
    /// `localhost` signed by it. Keys live only in memory; a new pair is made on every start.
    ///
    /// # Errors
    /// [`TlsError`] when key generation or the rustls configuration fails.
    pub fn generate() -> Result<TlsMaterial, TlsError> {
        let ca_key = KeyPair::generate()?;
        let mut ca_params = CertificateParams::default();
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "sayso sandbox CA");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_cert = ca_params.self_signed(&ca_key)?;
        let issuer = Issuer::new(ca_params, ca_key);

        let leaf_key = KeyPair::generate()?;
        let mut leaf = CertificateParams::new(vec![
            "127.0.0.1".to_string(),
            "::1".to_string(),
            "localhost".to_string(),
        ])?;
        leaf.distinguished_name
            .push(DnType::CommonName, "sayso sandbox");
        leaf.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        leaf.use_authority_key_identifier_extension = true;
        let leaf_cert = leaf.signed_by(&leaf_key, &issuer)?;

        let chain: Vec<CertificateDer<'static>> =
            vec![leaf_cert.der().clone(), ca_cert.der().clone()];
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
        let mut config =
            ServerConfig::builder_with_provider(Arc::new(aws_lc_rs::default_provider()))
                .with_safe_default_protocol_versions()?
                .with_no_client_auth()
                .with_single_cert(chain, key)?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(TlsMaterial {
            ca_pem: ca_cert.pem(),
            config: Arc::new(config),
        })
    }
}

/// An [`axum::serve::Listener`] that yields connections whose TLS handshake completed.
/// Handshakes run on their own tasks so a slow client never holds up the others.
pub struct TlsListener {
    local: SocketAddr,
    rx: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    acceptor_task: tokio::task::JoinHandle<()>,
}

impl TlsListener {
    /// Wraps a bound TCP listener.
    ///
    /// # Errors
    /// When the listener's local address cannot be read.
    pub fn new(listener: TcpListener, material: &TlsMaterial) -> io::Result<TlsListener> {
        let local = listener.local_addr()?;
        let acceptor = TlsAcceptor::from(material.config.clone());
        let (tx, rx) = mpsc::channel(64);
        let acceptor_task = tokio::spawn(accept_loop(listener, acceptor, tx));
        Ok(TlsListener {
            local,
            rx,
            acceptor_task,
        })
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.acceptor_task.abort();
    }
}

async fn accept_loop(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    tx: mpsc::Sender<(TlsStream<TcpStream>, SocketAddr)>,
) {
    loop {
        let (tcp, addr) = match listener.accept().await {
            Ok(pair) => pair,
            Err(e) => {
                tracing::debug!("sandbox TLS accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let acceptor = acceptor.clone();
        let tx = tx.clone();
        tokio::spawn(async move {
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(stream)) => {
                    let _ = tx.send((stream, addr)).await;
                }
                Ok(Err(e)) => tracing::debug!("sandbox TLS handshake with {addr} failed: {e}"),
                Err(_) => tracing::debug!("sandbox TLS handshake with {addr} timed out"),
            }
        });
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.rx.recv().await {
            Some(pair) => pair,
            // The accept loop only ends when the listener is dropped; wait for shutdown.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(self.local)
    }
}

/// Marks a request as received over TLS (replacing any client-sent value). HTTP/2 requests carry
/// the host in `:authority` rather than `Host`; it is copied to `Host` so URLs keep the port.
async fn mark_https(mut req: Request, next: Next) -> Response {
    req.headers_mut()
        .insert(FORWARDED_PROTO, HeaderValue::from_static("https"));
    if !req.headers().contains_key(header::HOST)
        && let Some(authority) = req.uri().authority()
        && let Ok(v) = HeaderValue::from_str(authority.as_str())
    {
        req.headers_mut().insert(header::HOST, v);
    }
    next.run(req).await
}

/// Serves `app` (the sandbox's router) over HTTPS on `listener` until `shutdown` completes;
/// [`crate::sandbox::Sandbox::serve_tls`] runs the Bulk API workers around it.
///
/// # Errors
/// I/O errors from the server.
pub async fn serve_tls(
    app: axum::Router,
    listener: TcpListener,
    material: &TlsMaterial,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let tls = TlsListener::new(listener, material)?;
    let app = app.layer(middleware::from_fn(mark_https));
    axum::serve(tls, app).with_graceful_shutdown(shutdown).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ca_signs_a_loopback_server_certificate() {
        let m = TlsMaterial::generate().expect("generate");
        assert!(m.ca_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        let (_, pem) = x509_parser::pem::parse_x509_pem(m.ca_pem.as_bytes()).expect("pem");
        let ca = pem.parse_x509().expect("x509");
        assert!(ca.is_ca());
        // Two generations never share a CA.
        let other = TlsMaterial::generate().expect("generate");
        assert_ne!(m.ca_pem, other.ca_pem);
    }

    #[tokio::test]
    async fn reqwest_trusting_the_ca_gets_https_urls() {
        let m = TlsMaterial::generate().expect("generate");
        let sandbox =
            crate::sandbox::Sandbox::open(crate::sandbox::SandboxOptions::default()).expect("open");
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let ca_pem = m.ca_pem.clone();
        let server = tokio::spawn(async move {
            sandbox
                .serve_tls(listener, &m, async {
                    let _ = stop_rx.await;
                })
                .await
        });
        let cert = reqwest::Certificate::from_pem(ca_pem.as_bytes()).expect("cert");
        let client = reqwest::Client::builder()
            .tls_certs_only([cert])
            .build()
            .expect("client");
        let resp = client
            .post(format!("https://127.0.0.1:{port}/services/oauth2/token"))
            .form(&crate::sandbox::oauth::ADMIN_TOKEN_FORM)
            .send()
            .await
            .expect("token over https");
        assert_eq!(resp.status(), 200);
        let body: serde_json::Value = resp.json().await.expect("json");
        let instance = body["instance_url"].as_str().expect("instance_url");
        assert_eq!(instance, format!("https://127.0.0.1:{port}"));
        assert!(
            body["id"]
                .as_str()
                .is_some_and(|id| id.starts_with("https://127.0.0.1:"))
        );
        // The Salesforce CLI keeps instance URLs with a trailing `/` and asks for `//services/…`.
        let doubled = client
            .get(format!("https://127.0.0.1:{port}//services/data/"))
            .send()
            .await
            .expect("doubled slashes");
        assert_eq!(doubled.status(), 200);
        // A client that does not trust the CA is refused.
        let untrusting = reqwest::Client::builder()
            .tls_certs_only([])
            .build()
            .expect("client");
        assert!(
            untrusting
                .get(format!("https://127.0.0.1:{port}/services/data"))
                .send()
                .await
                .is_err()
        );
        let _ = stop_tx.send(());
        let _ = server.await;
    }
}
