//! `linli bench report`: one day's epidemic daily report for EVERY node of a district — 10
//! streets, 100 communities, 10,000 grids — over a month of epidemic records sized for a district
//! of 1,000,000 people, computed live from the records (no batch table), beside a plain
//! `GROUP BY node_path` over the same tables with the same conditions.
//!
//! The report reads the epidemic tables only (arrival, observation, alert, reopening), never the
//! person table, so no persons are seeded: the records carry no person (as anonymised records
//! do). Seeding (`reports::seed_benchmark`) writes literal multi-row INSERTs, one transaction per
//! table. `LINLI_BENCH_KEEP=1` keeps the seeded database (SQLite directory or PostgreSQL
//! schema, printed at the end) to read query plans by hand.
//!
//! The baseline runs `reports::group_by_path_queries` one after another, as they were before
//! migration 0014 (one query per table, same conditions); linli's own queries
//! (`reports::tree_queries`, observations read in two index ranges) run side by side.

use std::time::{Duration, Instant};

use linli_core::kernel::clock::parse_date;
use linli_core::reports::EPIDEMIC_DAILY;
use linli_core::Scope;
use linli_store::reports;
use linli_store::tree;
use linli_store::Db;

use crate::CliError;

pub struct ReportBench {
    pub grids: u64,
    pub arrivals_per_day: u64,
    pub runs: usize,
    pub database_url: Option<String>,
}

/// The report date; the month of records ends on it.
const DAY: &str = "2022-07-02";
const DAYS: i64 = reports::BENCH_DAYS;

pub async fn report(args: ReportBench) -> Result<(), CliError> {
    let scratch = crate::bench::Scratch::open(args.database_url.as_deref()).await?;
    let result = run(&scratch.db, &args).await;
    scratch.finish().await?;
    result
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

async fn run(db: &Db, args: &ReportBench) -> Result<(), CliError> {
    let op = Scope::operator();
    let day = parse_date("date", DAY)?;
    println!(
        "Seeding a district of {} grids and {} days of records ({} arrivals a day, {} database)…",
        args.grids,
        DAYS,
        args.arrivals_per_day,
        db.backend().as_str()
    );
    let started = Instant::now();
    let tree = reports::seed_benchmark(db, &op, args.grids, args.arrivals_per_day, day).await?;
    let records = tree.records;
    println!(
        "Seeded {} nodes and {records} records in {:.1} s.",
        tree.nodes,
        started.elapsed().as_secs_f64()
    );
    let district = tree::get(db, &op, 1).await?;
    let stored = reports::template_on(db, EPIDEMIC_DAILY, day).await?;

    // Warm up, and check the whole-tree figures against the node-by-node computation.
    let all = reports::computed_tree(db, &op, EPIDEMIC_DAILY, district.id, day).await?;
    let one = reports::computed(db, &op, EPIDEMIC_DAILY, district.id, day).await?;
    if all.get(&district.id) != Some(&one) {
        return Err(CliError::Usage(format!(
            "the whole-tree figures {:?} differ from the district's {one:?}",
            all.get(&district.id)
        )));
    }
    println!("District on {DAY}: {one:?}");

    let mut tree_times = Vec::new();
    let mut plain_times = Vec::new();
    let mut query_times = Vec::new();
    let mut page_times = Vec::new();
    for _ in 0..args.runs.max(1) {
        let t = Instant::now();
        let all = reports::computed_tree(db, &op, EPIDEMIC_DAILY, district.id, day).await?;
        tree_times.push(t.elapsed());
        if all.len() != tree.nodes {
            return Err(CliError::Usage("not every node got its figures".into()));
        }
        let t = Instant::now();
        let mut groups = 0;
        for q in reports::group_by_path_queries(&stored.template, &district, day) {
            groups += q.run(db).await?;
        }
        plain_times.push(t.elapsed());
        if groups == 0 {
            return Err(CliError::Usage("the plain GROUP BY found nothing".into()));
        }
        let t = Instant::now();
        for q in reports::tree_queries(db.backend(), &stored.template, &district, day) {
            q.run(db).await?;
        }
        query_times.push(t.elapsed());
        let t = Instant::now();
        reports::report(db, &op, EPIDEMIC_DAILY, district.id, day).await?;
        page_times.push(t.elapsed());
    }
    // Node by node: the district, its streets and communities (the levels people open).
    let upper: Vec<i64> = tree::subtree(db, &op, Some(district.id))
        .await?
        .into_iter()
        .filter(|n| n.kind != linli_core::NodeKind::Grid)
        .map(|n| n.id)
        .collect();
    let t = Instant::now();
    for id in &upper {
        reports::computed(db, &op, EPIDEMIC_DAILY, *id, day).await?;
    }
    let by_node = t.elapsed();

    println!();
    println!(
        "One day's report, every node of the district ({} nodes), median of {} runs:",
        tree.nodes,
        args.runs.max(1)
    );
    println!(
        "  linli: all nodes, live (GROUP BY node_path + roll-up)   {}",
        ms(median(tree_times))
    );
    println!(
        "    its GROUP BY queries alone, one after another         {}",
        ms(median(query_times))
    );
    println!(
        "  baseline: the plain GROUP BY node_path queries alone    {}",
        ms(median(plain_times))
    );
    println!(
        "  the district's report page (a row per street)          {}",
        ms(median(page_times))
    );
    println!(
        "  node by node, {} nodes above the grids (one scan each)   {} ({:.2} ms a node)",
        upper.len(),
        ms(by_node),
        by_node.as_secs_f64() * 1000.0 / upper.len().max(1) as f64
    );
    Ok(())
}
