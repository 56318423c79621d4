//! `linli bench observations`: the 正在观察 list for a street with many people under
//! observation (issue 18: 100,000 in under 50 ms). Seeds the demo tree with arrivals that put
//! people under centralised quarantine today, spread over every building of the street, each
//! with a check-in, then times the list at the street — in the store, and through HTTP (the API
//! and the page) — beside a plain indexed `COUNT(*)` of the same rows.

use std::time::{Duration, Instant};

use linli_core::epidemic::policy::Temperature;
use linli_core::kernel::clock::{self, now_ms};
use linli_core::{NodeKind, Scope};
use linli_store::accounts;
use linli_store::epidemic::observations::{self, ObservationFilter};
use linli_store::epidemic::{self, CheckinInput};
use linli_store::infra::secret::random_token;
use linli_store::Db;

use crate::CliError;

pub struct ObservationsBench {
    pub observations: u64,
    pub queries: usize,
    pub database_url: Option<String>,
}

pub async fn observations(args: ObservationsBench) -> Result<(), CliError> {
    let scratch = crate::bench::Scratch::open(args.database_url.as_deref()).await?;
    let result = run(&scratch.db, &args).await;
    scratch.finish().await?;
    result
}

async fn run(db: &Db, args: &ObservationsBench) -> Result<(), CliError> {
    let op = Scope::operator();
    let nodes = crate::bench::demo_nodes(db).await?;
    let homes = crate::bench::buildings(&nodes);
    let street = crate::bench::first_of(&nodes, NodeKind::Street, "the demo tree has no street")?;
    let usage = |e: linli_core::CoreError| CliError::Usage(e.to_string());

    // Arrivals from a high-risk area today: 7 days of centralised quarantine each, so everyone
    // is on day 1 and owes check-ins.
    let normal = Temperature::parse("36.5").map_err(usage)?;

    println!(
        "Seeding {} persons under observation in {} buildings ({} database)…",
        args.observations,
        homes.len(),
        db.backend().as_str()
    );
    let started = Instant::now();
    let observations = crate::bench::observed_today(db, &homes, args.observations).await?;
    // Half of them have reported once today (the list reads check-ins per row).
    for obs in observations.iter().step_by(2) {
        epidemic::add_checkin(
            db,
            &op,
            *obs,
            &CheckinInput {
                at: now_ms(),
                temperature: Some(normal),
                symptoms: Vec::new(),
            },
            now_ms(),
        )
        .await?;
    }
    println!("Seeded in {:.1} s.", started.elapsed().as_secs_f64());

    // The server, and an official of the street with an API token.
    let app = linli_web::app(db.clone(), linli_web::WebConfig::default());
    let base = format!("http://{}", crate::bench::serve_here(app).await?);
    let user = format!("bench_official_{}", random_token(3));
    let password = format!("bench-{}", random_token(8));
    let created = crate::bench::bench_account(db, &user, &password, "official", street.id).await?;
    let token = accounts::issue_token(db, &op, created.id, "bench", now_ms()).await?;
    let http = reqwest::Client::new();
    let scope = linli_store::accounts::principal_for_token(db, &token, now_ms())
        .await?
        .ok_or_else(|| CliError::Usage("bench token not accepted".into()))?
        .scope;

    println!(
        "\n{} under observation in {}; {} queries each.\n",
        args.observations, street.name, args.queries
    );
    println!(
        "{:<44} {:>9} {:>9} {:>9} {:>9}",
        "measure", "p50 ms", "p99 ms", "max ms", "rows"
    );
    let report = |label: &str, mut times: Vec<Duration>, rows: i64| {
        times.sort_unstable();
        let at =
            |q: f64| times[((times.len() as f64 * q).ceil() as usize).clamp(1, times.len()) - 1];
        println!(
            "{:<44} {:>9.2} {:>9.2} {:>9.2} {:>9}",
            label,
            ms(at(0.5)),
            ms(at(0.99)),
            ms(times[times.len() - 1]),
            rows
        );
    };
    let queries = args.queries.max(1);

    let (lo, hi) = street.path.subtree_bounds();
    let mut times = Vec::with_capacity(queries);
    let mut count = 0;
    for _ in 0..queries {
        let t = Instant::now();
        count = observations::count_open_baseline(db, &lo, &hi).await?;
        times.push(t.elapsed());
    }
    report("baseline: indexed COUNT(*) of the street", times, count);

    for (label, filter) in [
        (
            "store: page 1 (100 rows), no filter",
            ObservationFilter::default(),
        ),
        (
            "store: page 1, not yet reported today",
            ObservationFilter {
                pending: true,
                ..ObservationFilter::default()
            },
        ),
    ] {
        let mut times = Vec::with_capacity(queries);
        let mut total = 0;
        for _ in 0..queries {
            let t = Instant::now();
            let page = observations::under_observation(
                db,
                &scope,
                street.id,
                &filter,
                clock::today(),
                100,
                0,
            )
            .await?;
            times.push(t.elapsed());
            total = page.total;
        }
        report(label, times, total);
    }

    for (label, path) in [
        (
            "HTTP: GET /api/v1/observations (200 rows)",
            format!("/api/v1/observations?node_id={}", street.id),
        ),
        (
            "HTTP: GET /api/v1/observations&pending=true",
            format!("/api/v1/observations?node_id={}&pending=true", street.id),
        ),
    ] {
        let mut times = Vec::with_capacity(queries);
        let mut total = 0;
        for _ in 0..queries {
            let t = Instant::now();
            let r = http
                .get(format!("{base}{path}"))
                .bearer_auth(&token)
                .send()
                .await
                .map_err(|e| CliError::Usage(e.to_string()))?;
            let status = r.status();
            let body: serde_json::Value =
                r.json().await.map_err(|e| CliError::Usage(e.to_string()))?;
            times.push(t.elapsed());
            if !status.is_success() {
                return Err(CliError::Usage(format!("{path}: {status} {body}")));
            }
            total = body["total"].as_i64().unwrap_or_default();
        }
        report(label, times, total);
    }
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
