//! A real HTTPS server on 127.0.0.1 for tests: a fresh self-signed certificate (rcgen), rustls
//! with ring on the server side (tokio-rustls), and a minimal HTTP/1.1 answer written by hand
//! (axum::serve cannot speak TLS). Include it with `#[path = "support/tls.rs"] mod tls;`.

#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::TlsAcceptor;

/// The body every successful request gets.
pub const BODY: &str = "hello over tls";

/// A running HTTPS server.
pub struct TlsServer {
    /// `https://127.0.0.1:<port>`
    pub base_url: String,
    /// The server's self-signed certificate, PEM: the root a client must trust.
    pub cert_pem: String,
    /// Connections accepted (each one a handshake attempt).
    pub connections: Arc<AtomicUsize>,
    /// Handshakes that completed.
    pub handshakes: Arc<AtomicUsize>,
}

impl TlsServer {
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    pub fn handshakes(&self) -> usize {
        self.handshakes.load(Ordering::SeqCst)
    }
}

/// Starts the server on 127.0.0.1 with a random port; it runs until the test's runtime ends.
pub async fn start() -> TlsServer {
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .expect("generate a self-signed certificate");
    let cert_pem = certified.cert.pem();
    let cert_der: CertificateDer<'static> = certified.cert.der().clone();
    let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        certified.signing_key.serialize_der(),
    ));

    // The server names its provider explicitly, so the test does not depend on the process
    // default that the code under test installs.
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("ring supports the default protocol versions")
    .with_no_client_auth()
    .with_single_cert(vec![cert_der], key_der)
    .expect("a valid certificate and key");
    let acceptor = TlsAcceptor::from(Arc::new(config));

    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let port = listener.local_addr().expect("local address").port();
    let connections = Arc::new(AtomicUsize::new(0));
    let handshakes = Arc::new(AtomicUsize::new(0));

    let (connections_seen, handshakes_done) = (connections.clone(), handshakes.clone());
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            connections_seen.fetch_add(1, Ordering::SeqCst);
            let acceptor = acceptor.clone();
            let handshakes_done = handshakes_done.clone();
            tokio::spawn(async move {
                // A client that rejects our certificate aborts the handshake: nothing to serve.
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                handshakes_done.fetch_add(1, Ordering::SeqCst);
                let mut request = Vec::new();
                let mut buffer = [0u8; 4096];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buffer[..n]),
                    }
                }
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{BODY}",
                    BODY.len()
                );
                let _ = tls.write_all(response.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });

    TlsServer {
        base_url: format!("https://127.0.0.1:{port}"),
        cert_pem,
        connections,
        handshakes,
    }
}
