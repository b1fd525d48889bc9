//! Benches of sending deliveries over HTTPS to a loopback receiver (tests/support/https.rs,
//! answering 204 without verifying, the same for both contenders).
//!
//! - `send_1kib/transport` vs `send_1kib/reqwest`: one 1 KiB delivery over a kept-alive
//!   HTTPS connection, through `HttpsTransport::attempt` (guard, timeouts, body prefix,
//!   `Attempt` record) against plain reqwest posting the same bytes and headers to the same
//!   receiver with the same TLS setup. Target: the transport within 1.10× of reqwest.
//! - `send_64_in_flight/transport` vs `…/reqwest`: 64 deliveries in flight at once
//!   (deliveries per second).
//!
//! Run: `cargo bench --all-features --bench send`.
#![allow(clippy::unwrap_used)]

#[path = "../tests/support/https.rs"]
mod https;

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use https::{Cert, Receiver, Reply, signed};
use tokio::runtime::Runtime;
use tokio::task::JoinSet;
use webhook_kit::send::{HttpsTransport, StaticResolver, USER_AGENT};
use webhook_kit::{Delivery, Outcome, Secret, Transport};

const HOST: &str = "hooks.example.test";
const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const IN_FLIGHT: usize = 64;

struct Setup {
    _receiver: Receiver,
    transport: HttpsTransport,
    plain: reqwest::Client,
    delivery: Delivery,
    url: String,
}

fn setup(runtime: &Runtime) -> Setup {
    let cert = Cert::new(&[HOST]);
    let receiver = runtime.block_on(Receiver::start(&cert, Reply::status(204)));
    let url = format!("https://{HOST}:{}/hook", receiver.port());
    let transport = HttpsTransport::builder()
        .resolver(StaticResolver::new().with(HOST, [LOOPBACK]))
        .allow_network("127.0.0.0/8".parse().unwrap())
        .add_root_certificates_pem(cert.pem.as_bytes())
        .build()
        .unwrap();
    let plain = reqwest::Client::builder()
        .tls_backend_preconfigured(client_tls(&cert))
        .http1_only()
        .no_proxy()
        .user_agent(USER_AGENT)
        .resolve(HOST, SocketAddr::new(LOOPBACK, 0))
        .build()
        .unwrap();
    let delivery = signed(&url, &Secret::generate(), &[b'a'; 1024]);
    Setup {
        _receiver: receiver,
        transport,
        plain,
        delivery,
        url,
    }
}

/// The TLS setup of the baseline: rustls on ring trusting the receiver's certificate.
fn client_tls(cert: &Cert) -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    for der in rustls::pki_types::pem::PemObject::pem_slice_iter(cert.pem.as_bytes()) {
        roots.add(der.unwrap()).unwrap();
    }
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    config
}

/// What plain reqwest sends: the same URL, headers and bytes.
async fn post_plain(client: &reqwest::Client, url: &str, delivery: &Delivery) -> u16 {
    let mut request = client
        .post(url)
        .body(Bytes::from_owner(Arc::clone(delivery.shared_body())));
    for (name, value) in delivery.header_pairs() {
        request = request.header(name, value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    response.bytes().await.unwrap();
    status
}

fn one_delivery(c: &mut Criterion) {
    let runtime = runtime();
    let setup = setup(&runtime);
    let mut group = c.benchmark_group("send_1kib");
    group.throughput(Throughput::Bytes(1024));
    group.bench_function("reqwest", |b| {
        b.to_async(&runtime).iter(|| async {
            let status = post_plain(&setup.plain, &setup.url, black_box(&setup.delivery)).await;
            assert_eq!(status, 204);
        });
    });
    group.bench_function("transport", |b| {
        b.to_async(&runtime).iter(|| async {
            let attempt = setup.transport.attempt(black_box(&setup.delivery)).await;
            assert_eq!(attempt.outcome(), Outcome::Delivered);
        });
    });
    group.finish();
}

fn in_flight(c: &mut Criterion) {
    let runtime = runtime();
    let setup = setup(&runtime);
    let mut group = c.benchmark_group("send_64_in_flight");
    group.throughput(Throughput::Elements(IN_FLIGHT as u64));
    group.bench_function("transport", |b| {
        b.to_async(&runtime).iter(|| async {
            let mut tasks = JoinSet::new();
            for _ in 0..IN_FLIGHT {
                let (transport, delivery) = (setup.transport.clone(), setup.delivery.clone());
                tasks.spawn(async move { transport.attempt(&delivery).await.outcome() });
            }
            while let Some(outcome) = tasks.join_next().await {
                assert_eq!(outcome.unwrap(), Outcome::Delivered);
            }
        });
    });
    group.bench_function("reqwest", |b| {
        b.to_async(&runtime).iter(|| async {
            let mut tasks = JoinSet::new();
            for _ in 0..IN_FLIGHT {
                let (client, url, delivery) = (
                    setup.plain.clone(),
                    setup.url.clone(),
                    setup.delivery.clone(),
                );
                tasks.spawn(async move { post_plain(&client, &url, &delivery).await });
            }
            while let Some(status) = tasks.join_next().await {
                assert_eq!(status.unwrap(), 204);
            }
        });
    });
    group.finish();
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// `send_1kib` again, measured so that load from other processes cancels out: the two run
/// in short alternating batches (as `examples/interleaved_speed.rs` does for signing).
/// Prints each one's fastest and median batch and the ratios.
fn interleaved(_: &mut Criterion) {
    const ROUNDS: usize = 30;
    const CALLS: usize = 200;
    let runtime = runtime();
    let setup = setup(&runtime);
    let (mut transport, mut plain) = (Vec::new(), Vec::new());
    runtime.block_on(async {
        for _ in 0..ROUNDS {
            let start = Instant::now();
            for _ in 0..CALLS {
                let attempt = setup.transport.attempt(black_box(&setup.delivery)).await;
                assert_eq!(attempt.outcome(), Outcome::Delivered);
            }
            transport.push(start.elapsed().as_secs_f64() * 1e6 / CALLS as f64);
            let start = Instant::now();
            for _ in 0..CALLS {
                let status = post_plain(&setup.plain, &setup.url, black_box(&setup.delivery)).await;
                assert_eq!(status, 204);
            }
            plain.push(start.elapsed().as_secs_f64() * 1e6 / CALLS as f64);
        }
    });
    for times in [&mut transport, &mut plain] {
        times.sort_by(f64::total_cmp);
    }
    let (fastest, median) = (0, ROUNDS / 2);
    println!(
        "send_1kib interleaved ({ROUNDS} batches of {CALLS}): fastest transport {:.1} µs, \
         reqwest {:.1} µs, ratio {:.3}; median transport {:.1} µs, reqwest {:.1} µs, ratio {:.3}",
        transport[fastest],
        plain[fastest],
        transport[fastest] / plain[fastest],
        transport[median],
        plain[median],
        transport[median] / plain[median],
    );
}

criterion_group!(benches, one_delivery, in_flight, interleaved);
criterion_main!(benches);
