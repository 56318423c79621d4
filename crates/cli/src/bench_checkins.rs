//! `linli bench checkins`: health check-ins posted over HTTP by many clients at once, against the
//! embedded SQLite database (or `--database-url`), written through the batching writer that
//! answers only after commit — beside a no-op endpoint of the same server that authenticates
//! and parses the same JSON body but writes nothing. Both run in this process on one runtime,
//! so the load generator shares the machine's cores with the server, as it would on a 2-core
//! box; the no-op run says what that costs.

use linli_core::kernel::clock::now_ms;
use std::time::{Duration, Instant};

use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use linli_core::epidemic::policy::{DivisionCode, RiskArea, RiskLevel, Temperature};
use linli_core::kernel::idnumber::check_char;
use linli_core::registry::PersonInput;
use linli_core::{kernel::clock, NodeKind, Scope};
use linli_store::accounts::{self, NewUser};
use linli_store::epidemic::{self, ArrivalInput, ArrivalPerson, ArrivalSource};
use linli_store::infra::secret::random_token;
use linli_store::registry::Placement;
use linli_store::tree::{self, Node};
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
    crate::demo::build_tree(db).await?;
    let tree = tree::subtree(db, &op, None).await?;
    let homes: Vec<&Node> = tree
        .iter()
        .filter(|n| n.kind == NodeKind::Building)
        .collect();
    let community = tree
        .iter()
        .find(|n| n.kind == NodeKind::Community)
        .ok_or_else(|| CliError::Usage("no community".into()))?;
    if homes.is_empty() {
        return Err(CliError::Usage("the demo tree has no buildings".into()));
    }

    // People under home quarantine: arrivals from another province on 2020-02-01, classified by
    // the 2020 preset (14 days at home, check-ins twice a day). Check-ins are then dated inside
    // that period — entered late, as the API allows.
    println!(
        "Seeding {} persons under observation ({} database)…",
        args.observations,
        db.backend().as_str()
    );
    let started = Instant::now();
    let area = RiskArea::new(
        DivisionCode::parse("110101").map_err(|e| CliError::Usage(e.to_string()))?,
        Some("北京市东城区"),
        RiskLevel::High,
        clock::parse_date("from", "2020-01-20").map_err(|e| CliError::Usage(e.to_string()))?,
        None,
    )
    .map_err(|e| CliError::Usage(e.to_string()))?;
    epidemic::add_risk_area(db, &op, &area, now_ms()).await?;
    let arrived_on = clock::parse_date("arrived_on", "2020-02-01")
        .map_err(|e| CliError::Usage(e.to_string()))?;
    let origin = DivisionCode::parse("110101").map_err(|e| CliError::Usage(e.to_string()))?;
    let temperature = Temperature::parse("36.5").map_err(|e| CliError::Usage(e.to_string()))?;
    let mut observations = Vec::with_capacity(args.observations as usize);
    for k in 0..args.observations {
        // Distinct for k < 21,000 (lcm of 10, 12, 28 and 1000).
        let body = format!(
            "110101198{}{:02}{:02}{:03}",
            k % 10,
            1 + k % 12,
            1 + k % 28,
            k % 1000
        );
        let id = format!("{body}{}", check_char(body.as_bytes()));
        let name = crate::bench::synthetic(k).0;
        let r = epidemic::record_arrival(
            db,
            &op,
            ArrivalInput {
                person: ArrivalPerson::New {
                    placement: Placement {
                        node_id: homes[(k % homes.len() as u64) as usize].id,
                        ..Default::default()
                    },
                    input: PersonInput {
                        name: &name,
                        id_number: Some(&id),
                        ..Default::default()
                    },
                },
                origin_code: origin.clone(),
                arrived_on,
                purpose: Some("返乡".into()),
                symptoms: Vec::new(),
                temperature: Some(temperature),
                source: ArrivalSource::Worker,
            },
            now_ms(),
        )
        .await?;
        let obs = r.observation_id.ok_or_else(|| {
            CliError::Usage(format!(
                "the 2020 preset put arrival {} under no observation",
                r.id
            ))
        })?;
        observations.push(obs);
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
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let app = linli_web::app_with(db.clone(), linli_web::WebConfig::default(), noop);
    tokio::spawn(async move {
        let _ = linli_web::serve(listener, app).await;
    });
    let user = format!("bench_staff_{}", random_token(3));
    let created = accounts::create(
        db,
        &op,
        NewUser {
            username: &user,
            display_name: None,
            password: &format!("bench-{}", random_token(8)),
            role: "staff",
            node_ids: &[community.id],
        },
        now_ms(),
    )
    .await?;
    let token = accounts::issue_token(db, &op, created.id, "bench", now_ms()).await?;

    println!(
        "\n{} clients, {} s per run, {} observations; check-ins dated inside their periods.\n",
        args.clients, args.seconds, args.observations
    );
    println!(
        "{:<40} {:>10} {:>9} {:>9} {:>9} {:>7}",
        "run", "req/s", "p50 ms", "p99 ms", "max ms", "errors"
    );
    let duration = Duration::from_secs(args.seconds.max(1));
    for (label, prefix) in [
        ("baseline: no-op endpoint (auth + JSON)", "/bench"),
        ("check-ins (batched, acked after commit)", "/api/v1"),
    ] {
        // A short warm-up opens the connections and fills the caches.
        let warm = Duration::from_millis(500);
        let _ = phase(addr, prefix, &token, &observations, args.clients, warm).await?;
        let p = phase(addr, prefix, &token, &observations, args.clients, duration).await?;
        let (p50, p99, max) = percentiles(p.latencies);
        println!(
            "{:<40} {:>10.0} {:>9.2} {:>9.2} {:>9.2} {:>7}",
            label,
            p.requests as f64 / p.elapsed.as_secs_f64().max(1e-9),
            ms(p50),
            ms(p99),
            ms(max),
            p.errors
        );
    }
    Ok(())
}

/// One run: `clients` connections, each posting check-ins one after another (keep-alive, no
/// pipelining) until `duration` has passed.
async fn phase(
    addr: std::net::SocketAddr,
    prefix: &str,
    token: &str,
    observations: &[i64],
    clients: usize,
    duration: Duration,
) -> Result<Phase, CliError> {
    // 2020-02-03 08:00 China time: inside every seeded observation's period.
    let first_at = clock::parse_instant("at", "2020-02-03T08:00:00+08:00")
        .map_err(|e| CliError::Usage(e.to_string()))?;
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(clients);
    for c in 0..clients {
        let prefix = prefix.to_owned();
        let token = token.to_owned();
        let observations = observations.to_vec();
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::open(addr).await?;
            let mut latencies = Vec::new();
            let mut errors = 0u64;
            let mut i = c;
            while started.elapsed() < duration {
                let obs = observations[i % observations.len()];
                // One in a hundred is a fever, which raises an alert in the same transaction.
                let temperature = if i % 100 == 99 { "37.6" } else { "36.5" };
                let at = clock::rfc3339(first_at + (i as i64 % 86_400) * 1000);
                let body = format!(r#"{{"temperature":{temperature},"at":"{at}"}}"#);
                let request = format!(
                    "POST {prefix}/observations/{obs}/checkins HTTP/1.1\r\nhost: bench\r\n\
                     authorization: Bearer {token}\r\ncontent-type: application/json\r\n\
                     content-length: {}\r\n\r\n{body}",
                    body.len()
                );
                let t = Instant::now();
                let (status, answer) = conn.exchange(request.as_bytes()).await?;
                if status == 201 {
                    latencies.push(t.elapsed());
                } else {
                    errors += 1;
                    if errors == 1 {
                        eprintln!(
                            "unexpected answer {status}: {}",
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
