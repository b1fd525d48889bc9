//! Real HTTPS receivers on loopback for the `send` tests and bench: a self-signed
//! certificate made here (rcgen), TLS (tokio-rustls on ring), HTTP/1.1 (hyper). Each
//! receiver records what reached it and answers as its `Reply` says.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::convert::Infallible;
use std::future::Future as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use webhook_kit::{
    AccountFilter, AccountType, Delivery, Event, EventId, Scope, Secret, Verifier, Webhook,
    WebhookId, WebhookParts,
};

/// A certificate and its key, for the names (DNS names or IP addresses) it was made for.
#[derive(Clone)]
pub struct Cert {
    /// The certificate in PEM, to trust as a root: it is self-signed.
    pub pem: String,
    der: rustls::pki_types::CertificateDer<'static>,
    key: Arc<rustls::pki_types::PrivateKeyDer<'static>>,
}

impl Cert {
    /// A self-signed certificate for `names`.
    pub fn new(names: &[&str]) -> Self {
        let names: Vec<String> = names.iter().map(|name| (*name).to_owned()).collect();
        let certified = rcgen::generate_simple_self_signed(names).unwrap();
        let key = rustls::pki_types::PrivateKeyDer::try_from(certified.signing_key.serialize_der())
            .unwrap();
        Self {
            pem: certified.cert.pem(),
            der: certified.cert.der().clone(),
            key: Arc::new(key),
        }
    }

    fn server_config(&self) -> rustls::ServerConfig {
        rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![self.der.clone()], self.key.clone_key())
        .unwrap()
    }
}

/// `body` signed with `secret` for a webhook at `url`, timestamped now.
pub fn signed(url: &str, secret: &Secret, body: &[u8]) -> Delivery {
    let scope = Scope::new("org_1".parse().unwrap(), AccountType::Live);
    let webhook = Webhook::from_parts(WebhookParts::new(
        WebhookId::generate(),
        scope.clone(),
        url.parse().unwrap(),
        true,
        AccountFilter::all(),
        chrono::Utc::now(),
        secret.clone(),
    ));
    let event = Event::new(
        EventId::generate(),
        scope,
        "acc_1".parse().unwrap(),
        body.to_vec(),
    );
    Delivery::new(webhook, &event, chrono::Utc::now().timestamp()).unwrap()
}

/// How a receiver answers.
#[derive(Clone)]
pub enum Reply {
    /// Verifies the signature with `Verifier`: `status` when it verifies, 401 when not.
    Verify(Verifier, u16),
    /// This status with these headers and body.
    Status(u16, Vec<(&'static str, String)>, Bytes),
    /// Reads the request, then never answers.
    Never,
    /// Waits this long, then answers this status: requests that overlap.
    Slow(std::time::Duration, u16),
    /// This status, then a chunked body that breaks after its first 3 bytes.
    Broken(u16),
    /// The n-th request (from 1) waits until the n-th `Notify` is notified, then gets the
    /// n-th status; requests past the list get the last status at once: attempts held in
    /// flight while others go through.
    Hold(Vec<(Arc<tokio::sync::Notify>, u16)>, u16),
}

impl Reply {
    /// `status` with no headers and an empty body.
    pub fn status(status: u16) -> Self {
        Self::Status(status, Vec::new(), Bytes::new())
    }
}

/// A request as it reached a receiver.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    /// Header names (lower case) and values, in the order received.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Whether the signature verified (`Reply::Verify` only).
    pub verified: bool,
}

/// A running receiver.
pub struct Receiver {
    pub addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    connections: Arc<AtomicUsize>,
    in_flight: Arc<InFlight>,
}

/// The requests being handled now, and the most ever handled at once.
#[derive(Default)]
struct InFlight {
    now: AtomicUsize,
    most: AtomicUsize,
}

/// Counts one request in flight until dropped (answered, or its connection gone).
struct Handling(Arc<InFlight>);

impl Handling {
    fn start(in_flight: &Arc<InFlight>) -> Self {
        let now = in_flight.now.fetch_add(1, Ordering::SeqCst) + 1;
        in_flight.most.fetch_max(now, Ordering::SeqCst);
        Self(Arc::clone(in_flight))
    }
}

impl Drop for Handling {
    fn drop(&mut self) {
        self.0.now.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Receiver {
    /// Serves `reply` over TLS with `cert` on a fresh 127.0.0.1 port, in the background.
    pub async fn start(cert: &Cert, reply: Reply) -> Self {
        Self::start_on(0, cert, reply).await
    }

    /// The same on 127.0.0.1:`port` (0 for a fresh one).
    pub async fn start_on(port: u16, cert: &Cert, reply: Reply) -> Self {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let acceptor = TlsAcceptor::from(Arc::new(cert.server_config()));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(AtomicUsize::new(0));
        let in_flight = Arc::new(InFlight::default());
        let reply = Arc::new(reply);
        let (task_seen, task_connections) = (Arc::clone(&seen), Arc::clone(&connections));
        let task_in_flight = Arc::clone(&in_flight);
        tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                task_connections.fetch_add(1, Ordering::SeqCst);
                let (acceptor, seen, reply, in_flight) = (
                    acceptor.clone(),
                    Arc::clone(&task_seen),
                    Arc::clone(&reply),
                    Arc::clone(&task_in_flight),
                );
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let service = service_fn(move |request| {
                        let handling = Handling::start(&in_flight);
                        let answer = handle(request, Arc::clone(&seen), Arc::clone(&reply));
                        async move {
                            let response = answer.await;
                            drop(handling);
                            response
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tls), service)
                        .await;
                });
            }
        });
        Self {
            addr,
            seen,
            connections,
            in_flight,
        }
    }

    /// The requests received so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// How many requests were received so far (without copying them).
    pub fn count(&self) -> usize {
        self.seen.lock().unwrap().len()
    }

    /// The TCP connections accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// The most requests this receiver was handling at once: a request counts from its
    /// arrival until its answer is handed to the connection.
    pub fn most_in_flight(&self) -> usize {
        self.in_flight.most.load(Ordering::SeqCst)
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }
}

async fn handle(
    request: Request<Incoming>,
    seen: Arc<Mutex<Vec<Seen>>>,
    reply: Arc<Reply>,
) -> Result<Response<BoxBody<Bytes, std::io::Error>>, Infallible> {
    let (parts, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let verified = match reply.as_ref() {
        Reply::Verify(verifier, _) => verifier.verify(&parts.headers, &body).is_ok(),
        _ => false,
    };
    let number = {
        let mut seen = seen.lock().unwrap();
        seen.push(Seen {
            method: parts.method.to_string(),
            path: parts.uri.path().to_owned(),
            headers: parts
                .headers
                .iter()
                .map(|(name, value)| {
                    (
                        name.as_str().to_owned(),
                        value.to_str().unwrap_or("").to_owned(),
                    )
                })
                .collect(),
            body: body.to_vec(),
            verified,
        });
        seen.len()
    };
    let response = match reply.as_ref() {
        Reply::Verify(_, status) => {
            let status = if verified { *status } else { 401 };
            let mut response = Response::new(full(Bytes::from_static(b"thanks")));
            *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
            response
        }
        Reply::Status(status, headers, body) => {
            let mut response = Response::new(full(body.clone()));
            *response.status_mut() = hyper::StatusCode::from_u16(*status).unwrap();
            for (name, value) in headers {
                response
                    .headers_mut()
                    .insert(*name, hyper::header::HeaderValue::from_str(value).unwrap());
            }
            response
        }
        Reply::Never => std::future::pending().await,
        Reply::Slow(delay, status) => {
            tokio::time::sleep(*delay).await;
            let mut response = Response::new(full(Bytes::new()));
            *response.status_mut() = hyper::StatusCode::from_u16(*status).unwrap();
            response
        }
        Reply::Hold(held, rest) => {
            let status = match held.get(number - 1) {
                Some((release, status)) => {
                    release.notified().await;
                    *status
                }
                None => *rest,
            };
            let mut response = Response::new(full(Bytes::new()));
            *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
            response
        }
        Reply::Broken(status) => {
            let mut response = Response::new(BoxBody::new(BrokenBody {
                sent: false,
                pause: Box::pin(tokio::time::sleep(std::time::Duration::from_millis(50))),
            }));
            *response.status_mut() = hyper::StatusCode::from_u16(*status).unwrap();
            response
        }
    };
    Ok(response)
}

fn full(bytes: Bytes) -> BoxBody<Bytes, std::io::Error> {
    Full::new(bytes).map_err(|never| match never {}).boxed()
}

/// A body of unknown length (sent chunked) that fails a moment after its first chunk (once
/// hyper has flushed the head and the chunk): hyper then drops the connection in the middle
/// of the body.
struct BrokenBody {
    sent: bool,
    pause: std::pin::Pin<Box<tokio::time::Sleep>>,
}

impl hyper::body::Body for BrokenBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        context: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, Self::Error>>> {
        if !self.sent {
            self.sent = true;
            let chunk = hyper::body::Frame::data(Bytes::from_static(b"abc"));
            return std::task::Poll::Ready(Some(Ok(chunk)));
        }
        std::task::ready!(self.pause.as_mut().poll(context));
        std::task::Poll::Ready(Some(Err(std::io::Error::other("broken"))))
    }
}
