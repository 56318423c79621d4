//! `linli bench checkins`: health check-ins posted over HTTP by many clients at once, against the
//! embedded SQLite database (or `--database-url`), written through the batching writer that
//! answers only after commit — beside a no-op endpoint of the same server that authenticates
//! and parses the same JSON body but writes nothing. Both run in this process on one runtime,
//! so the load generator shares the machine's cores with the server, as it would on a 2-core
//! box; the no-op run says what that costs.
//!
//! Besides the API, the two ways people enter check-ins in the browser: a grid worker's round
//! page (`/epidemic/rounds`, 20 persons a form post, session and CSRF as a browser sends them)
//! and the resident's own link (`/o/{code}`, a form post, no login; each post from an address
//! of its own, as residents' phones are, so the per-address limit is not what is measured). Every mode writes through the same batching writer.

use linli_core::kernel::clock::now_ms;
use std::time::{Duration, Instant};

use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use linli_core::{NodeKind, Scope};
use linli_store::accounts;
use linli_store::epidemic;
use linli_store::infra::secret::random_token;
use linli_store::Db;
use linli_web::auth::ApiUser;

use crate::CliError;

pub struct CheckinsBench {
    pub observations: u64,
    pub seconds: u64,
    pub clients: usize,
    pub database_url: Option<String>,
}

pub async fn checkins(args: CheckinsBench) -> Result<(), CliError> {
    let scratch = crate::bench::Scratch::open(args.database_url.as_deref()).await?;
    let result = run(&scratch.db, &args).await;
    scratch.finish().await?;
    result
}

/// What one phase measured.
struct Phase {
    requests: u64,
    errors: u64,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

async fn run(db: &Db, args: &CheckinsBench) -> Result<(), CliError> {
    let op = Scope::operator();
    let tree = crate::bench::demo_nodes(db).await?;
    let homes = crate::bench::buildings(&tree);
    let community = crate::bench::first_of(&tree, NodeKind::Community, "no community")?;

    // People under centralised quarantine from today: the 9th edition republished with today's
    // date and 420111 declared high-risk, so arrivals from there today get 7 days with two
    // check-ins a day, and check-ins dated now (the self check-in page has no other) fall
    // inside every period.
    println!(
        "Seeding {} persons under observation ({} database)…",
        args.observations,
        db.backend().as_str()
    );
    let started = Instant::now();
    let observations = crate::bench::observed_today(db, &homes, args.observations).await?;
    let mut self_codes = Vec::with_capacity(observations.len());
    for obs in &observations {
        self_codes.push(
            epidemic::self_checkin::self_link(db, &op, *obs, now_ms())
                .await?
                .token,
        );
    }
    println!("Seeded in {:.1} s.", started.elapsed().as_secs_f64());

    // The server, in this process, with a no-op endpoint beside the real one.
    let noop =
        Router::new().route(
            "/bench/observations/{id}/checkins",
            post(
                |ApiUser(_user): ApiUser,
                 Path(id): Path<i64>,
                 Json(body): Json<serde_json::Value>| async move {
                    let _ = body;
                    (
                        StatusCode::CREATED,
                        Json(serde_json::json!({"id": 0, "observation_id": id, "alert_id": null})),
                    )
                },
            ),
        );
    // Behind a "proxy" that names each resident's address (the self check-in mode sends one per
    // observation), as residents' phones arrive from many addresses.
    let config = linli_web::WebConfig {
        trust_forwarded_for: true,
        ..Default::default()
    };
    let addr = crate::bench::serve_here(linli_web::app_with(db.clone(), config, noop)).await?;
    let user = format!("bench_staff_{}", random_token(3));
    let password = format!("bench-{}", random_token(8));
    let created = crate::bench::bench_account(db, &user, &password, "staff", community.id).await?;
    let token = accounts::issue_token(db, &op, created.id, "bench", now_ms()).await?;
    // The round page is a browser's: a session cookie and its CSRF token.
    let session = accounts::login(db, &user, &password, "127.0.0.1", None, now_ms())
        .await
        .map_err(|e| CliError::Usage(format!("bench login: {e}")))?;
    let seeded = Seeded {
        token,
        session: session.token,
        csrf: session.csrf_token,
        community: community.id,
        observations,
        self_codes,
    };

    println!(
        "\n{} clients, {} s per run, {} observations; check-ins dated now, inside every period.\n",
        args.clients, args.seconds, args.observations
    );
    println!(
        "{:<44} {:>9} {:>12} {:>8} {:>8} {:>8} {:>7}",
        "run", "req/s", "check-ins/s", "p50 ms", "p99 ms", "max ms", "errors"
    );
    let duration = Duration::from_secs(args.seconds.max(1));
    for (label, mode) in [
        ("baseline: no-op endpoint (auth + JSON)", Mode::Noop),
        ("API: one check-in a request", Mode::Api),
        ("round page: 20 persons a form post", Mode::Round),
        ("self check-in page /o/{code} (form post)", Mode::SelfPage),
    ] {
        // A short warm-up opens the connections and fills the caches.
        let warm = Duration::from_millis(500);
        let _ = phase(addr, mode, &seeded, args.clients, warm).await?;
        let p = phase(addr, mode, &seeded, args.clients, duration).await?;
        let (p50, p99, max) = percentiles(p.latencies);
        let rate = p.requests as f64 / p.elapsed.as_secs_f64().max(1e-9);
        println!(
            "{:<44} {:>9.0} {:>12.0} {:>8.2} {:>8.2} {:>8.2} {:>7}",
            label,
            rate,
            rate * mode.checkins_per_request() as f64,
            ms(p50),
            ms(p99),
            ms(max),
            p.errors
        );
    }
    Ok(())
}

/// What the server was seeded with, for the clients to post against.
#[derive(Clone)]
struct Seeded {
    token: String,
    session: String,
    csrf: String,
    community: i64,
    observations: Vec<i64>,
    self_codes: Vec<String>,
}

/// Persons on one round form post.
const ROUND_SIZE: usize = 20;

#[derive(Debug, Clone, Copy)]
enum Mode {
    Noop,
    Api,
    Round,
    SelfPage,
}

impl Mode {
    fn checkins_per_request(self) -> usize {
        match self {
            Mode::Round => ROUND_SIZE,
            _ => 1,
        }
    }

    /// Request `i` of this mode, and the status that means it was stored.
    fn request(self, s: &Seeded, i: usize) -> (Vec<u8>, u16) {
        // One in a hundred is a fever, which raises an alert in the same transaction.
        let temperature = |i: usize| if i % 100 == 99 { "37.6" } else { "36.5" };
        let n = s.observations.len();
        match self {
            Mode::Noop | Mode::Api => {
                let prefix = if matches!(self, Mode::Noop) {
                    "/bench"
                } else {
                    "/api/v1"
                };
                let obs = s.observations[i % n];
                let body = format!(r#"{{"temperature":{}}}"#, temperature(i));
                let head = format!(
                    "POST {prefix}/observations/{obs}/checkins HTTP/1.1\r\nhost: bench\r\n\
                     authorization: Bearer {}\r\ncontent-type: application/json\r\n\
                     content-length: {}\r\n\r\n",
                    s.token,
                    body.len()
                );
                ([head.into_bytes(), body.into_bytes()].concat(), 201)
            }
            Mode::Round => {
                let mut body = format!("csrf={}&node_id={}", s.csrf, s.community);
                for k in 0..ROUND_SIZE {
                    let j = i * ROUND_SIZE + k;
                    let obs = s.observations[j % n];
                    body.push_str(&format!("&obs={obs}&t_{obs}={}", temperature(j)));
                }
                let head = format!(
                    "POST /epidemic/rounds HTTP/1.1\r\nhost: bench\r\n\
                     cookie: linli_session={}\r\n\
                     content-type: application/x-www-form-urlencoded\r\n\
                     content-length: {}\r\n\r\n",
                    s.session,
                    body.len()
                );
                ([head.into_bytes(), body.into_bytes()].concat(), 303)
            }
            Mode::SelfPage => {
                let k = i % n;
                let body = format!("temperature={}", temperature(i));
                // Each post from an address of its own: residents' phones, not one guesser
                // (the per-address limit, 20 in 10 minutes, is a test's business, not this).
                let head = format!(
                    "POST /o/{} HTTP/1.1\r\nhost: bench\r\n\
                     x-forwarded-for: 10.{}.{}.{}\r\n\
                     content-type: application/x-www-form-urlencoded\r\n\
                     content-length: {}\r\n\r\n",
                    s.self_codes[k],
                    (i >> 16) & 255,
                    (i >> 8) & 255,
                    i & 255,
                    body.len()
                );
                ([head.into_bytes(), body.into_bytes()].concat(), 200)
            }
        }
    }
}

/// One run: `clients` connections, each posting requests of `mode` one after another
/// (keep-alive, no pipelining) until `duration` has passed.
async fn phase(
    addr: std::net::SocketAddr,
    mode: Mode,
    seeded: &Seeded,
    clients: usize,
    duration: Duration,
) -> Result<Phase, CliError> {
    // Each request is built before its timed exchange.
    let seeded = std::sync::Arc::new(seeded.clone());
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(clients);
    for c in 0..clients {
        let seeded = seeded.clone();
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::open(addr).await?;
            let mut latencies = Vec::new();
            let mut errors = 0u64;
            let mut i = c;
            while started.elapsed() < duration {
                let (request, ok) = mode.request(&seeded, i);
                let t = Instant::now();
                let (status, answer) = conn.exchange(&request).await?;
                if status == ok {
                    latencies.push(t.elapsed());
                } else {
                    errors += 1;
                    if errors == 1 {
                        eprintln!(
                            "{mode:?}: unexpected answer {status}: {}",
                            String::from_utf8_lossy(&answer)
                        );
                    }
                }
                i += clients;
            }
            Ok::<_, CliError>((latencies, errors))
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t
            .await
            .map_err(|e| CliError::Usage(format!("client task: {e}")))??;
        latencies.extend(l);
        errors += e;
    }
    Ok(Phase {
        requests: latencies.len() as u64,
        errors,
        elapsed: started.elapsed(),
        latencies,
    })
}

/// A bare HTTP/1.1 keep-alive connection: writes a prepared request, reads the status line,
/// the headers and a `content-length` body. A general client (reqwest: URL parsing, header
/// maps, a connection pool) spends more CPU per request than the server under test, and both
/// share the same two cores here; this one costs a few microseconds.
struct Conn {
    stream: tokio::net::TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    async fn open(addr: std::net::SocketAddr) -> Result<Conn, CliError> {
        let stream = tokio::net::TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Conn {
            stream,
            buf: Vec::with_capacity(4096),
        })
    }

    async fn exchange(&mut self, request: &[u8]) -> Result<(u16, Vec<u8>), CliError> {
        use tokio::io::AsyncWriteExt;
        self.stream.write_all(request).await?;
        self.buf.clear();
        let head_end = loop {
            if let Some(p) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break p + 4;
            }
            if self.read_more().await? == 0 {
                return Err(CliError::Usage("server closed the connection".into()));
            }
        };
        let head = std::str::from_utf8(&self.buf[..head_end])
            .map_err(|_| CliError::Usage("response head is not UTF-8".into()))?;
        let status: u16 = head
            .get(9..12)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| CliError::Usage(format!("bad status line: {head}")))?;
        let length: usize = head
            .lines()
            .filter_map(|l| l.split_once(':'))
            .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.trim().parse().ok())
            .ok_or_else(|| CliError::Usage(format!("response without content-length: {head}")))?;
        while self.buf.len() < head_end + length {
            if self.read_more().await? == 0 {
                return Err(CliError::Usage("server closed the connection".into()));
            }
        }
        Ok((status, self.buf[head_end..head_end + length].to_vec()))
    }

    async fn read_more(&mut self) -> Result<usize, CliError> {
        use tokio::io::AsyncReadExt;
        let mut chunk = [0u8; 4096];
        let n = self.stream.read(&mut chunk).await?;
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n)
    }
}

fn percentiles(mut v: Vec<Duration>) -> (Duration, Duration, Duration) {
    if v.is_empty() {
        return (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    }
    v.sort_unstable();
    let at = |q: f64| v[((v.len() as f64 * q).ceil() as usize).clamp(1, v.len()) - 1];
    (at(0.50), at(0.99), v[v.len() - 1])
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
