//! `linli bench counts`: the registry's numbers (issue 19 item 3) for a district of 1,000,000
//! persons in 10,000 grids with 300,000 rooms under 20,000 building nodes — every node at
//! once, one community, the district's per-child breakdown — beside a plain
//! `GROUP BY node_path, category` over every person, timed in the same run.
//!
//! The measures are the list [`MEASURES`]: one more is a variant of [`Measure`] and an arm in
//! [`Measure::run`]. `LINLI_BENCH_KEEP=1` keeps the seeded database to read plans by hand.

use std::time::{Duration, Instant};

use linli_core::kernel::clock::{now_ms, today};
use linli_core::registry::PersonInput;
use linli_core::Scope;
use linli_store::registry::bench::{self, CountsBenchSeed, CountsBenchSize};
use linli_store::registry::{self, counts, dwellings, roll};
use linli_store::{tree, Db};

use crate::CliError;

pub struct CountsBench {
    pub persons: u64,
    pub grids: u64,
    pub dwellings: u64,
    pub runs: usize,
    pub database_url: Option<String>,
}

/// One timed measure; its goal (ms) where the issue sets one.
#[derive(Debug, Clone, Copy)]
enum Measure {
    EveryNodeCold,
    EveryNode,
    OneCommunity,
    DistrictChildren,
    BuildingPage,
    KeyGroupList,
    PlainGroupBy,
}

const MEASURES: [(Measure, &str, Option<f64>); 7] = [
    (
        Measure::EveryNodeCold,
        "every node at once, first read of the process or the day",
        None,
    ),
    (
        Measure::EveryNode,
        "every node at once, a person registered since the last read",
        Some(200.0),
    ),
    (Measure::OneCommunity, "one community (counts)", None),
    (
        Measure::DistrictChildren,
        "the district's per-child breakdown",
        None,
    ),
    (
        Measure::BuildingPage,
        "a building's page (its node, crumbs and rooms)",
        Some(20.0),
    ),
    (
        Measure::KeyGroupList,
        "a key-group list page (a community's largest key group, 50 a page)",
        Some(50.0),
    ),
    (
        Measure::PlainGroupBy,
        "baseline: SELECT node_path, category, COUNT(*) GROUP BY 1, 2",
        None,
    ),
];

impl Measure {
    /// What happens before each run, untimed: the cold read starts with no tallies; the live
    /// one follows a registration (its path is counted again).
    async fn prepare(self, db: &Db, op: &Scope, seed: &CountsBenchSeed) -> Result<(), CliError> {
        match self {
            Measure::EveryNodeCold => counts::forget(db).await,
            Measure::EveryNode => {
                let input = PersonInput {
                    name: "测试居民",
                    category: Some("floating"),
                    birth_date: Some("1990-01-01"),
                    ..Default::default()
                };
                let placement = registry::Placement {
                    node_id: seed.building_id,
                    ..Default::default()
                };
                registry::create(db, op, &placement, &input, now_ms()).await?;
            }
            _ => {}
        }
        Ok(())
    }

    /// Runs once; returns how many lines it produced (checked to be non-zero).
    async fn run(
        self,
        db: &Db,
        op: &Scope,
        seed: &CountsBenchSeed,
        group: &str,
    ) -> Result<usize, CliError> {
        Ok(match self {
            Measure::EveryNodeCold | Measure::EveryNode => {
                counts::counts_all(db, op, 1).await?.len()
            }
            Measure::OneCommunity => {
                usize::from(counts::counts(db, op, seed.community_id).await?.persons > 0)
            }
            Measure::DistrictChildren => counts::counts_by_children(db, op, 1).await?.len(),
            Measure::BuildingPage => {
                // What `/nodes/{id}/rooms` reads.
                let node = tree::get(db, op, seed.building_id).await?;
                tree::ancestors(db, op, &node).await?;
                dwellings::rooms(db, op, seed.building_id).await?.len()
            }
            Measure::KeyGroupList => {
                let filter = roll::RollFilter {
                    node_id: Some(seed.community_id),
                    tags: vec![group.to_owned()],
                    ..Default::default()
                };
                roll::list(db, op, &filter, None, Some(50), today())
                    .await?
                    .items
                    .len()
            }
            Measure::PlainGroupBy => bench::plain_group_by(db).await?,
        })
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

pub async fn counts(args: CountsBench) -> Result<(), CliError> {
    let scratch = crate::bench::Scratch::open(args.database_url.as_deref()).await?;
    let result = run(&scratch.db, &args).await;
    scratch.finish().await?;
    result
}

async fn run(db: &Db, args: &CountsBench) -> Result<(), CliError> {
    let op = Scope::operator();
    println!(
        "Seeding a district of {} persons, {} grids and {} rooms ({} database)…",
        args.persons,
        args.grids,
        args.dwellings,
        db.backend().as_str()
    );
    let started = Instant::now();
    let seed = bench::seed_counts_benchmark(
        db,
        &op,
        CountsBenchSize {
            persons: args.persons,
            grids: args.grids,
            dwellings: args.dwellings,
        },
    )
    .await?;
    println!(
        "Seeded {} nodes ({} buildings), {} rooms, {} households, {} persons ({} tagged) in {:.1} s.",
        seed.nodes,
        seed.buildings,
        seed.dwellings,
        seed.households,
        seed.persons,
        seed.tagged,
        started.elapsed().as_secs_f64()
    );
    // Warm up, and check every node at once against the district's own numbers counted from
    // the records.
    let all = counts::counts_all(db, &op, 1).await?;
    let district = counts::counts_direct(db, &op, 1).await?;
    match all.first() {
        Some((n, c)) if n.id == 1 && *c == district => {}
        _ => {
            return Err(CliError::Usage(
                "every node at once differs from the district's own numbers".into(),
            ))
        }
    }
    println!(
        "District: {} persons ({} away), {} households, {} rooms ({} lived in), 人户一致率 {}",
        district.persons,
        district.away,
        district.households,
        district.dwellings,
        district.occupied,
        district
            .consistency_rate
            .map_or_else(|| "—".to_owned(), |r| format!("{:.1}%", r * 100.0))
    );
    // The key-group list lists the community's largest group.
    let group = counts::counts(db, &op, seed.community_id)
        .await?
        .by_tag
        .into_iter()
        .max_by_key(|(_, n)| *n)
        .map(|(g, _)| g)
        .unwrap_or_default();
    println!();
    println!("Median of {} runs:", args.runs.max(1));
    for (m, label, goal) in MEASURES {
        let mut times = Vec::new();
        for _ in 0..args.runs.max(1) {
            m.prepare(db, &op, &seed).await?;
            let t = Instant::now();
            let lines = m.run(db, &op, &seed, &group).await?;
            times.push(t.elapsed());
            if lines == 0 {
                return Err(CliError::Usage(format!("{label}: nothing counted")));
            }
        }
        let ms = median(times).as_secs_f64() * 1000.0;
        let verdict = match goal {
            Some(g) if ms <= g => format!("  (goal < {g:.0} ms: met)"),
            Some(g) => format!("  (goal < {g:.0} ms: missed by {:.0} ms)", ms - g),
            None => String::new(),
        };
        println!("  {label:<62} {ms:>9.1} ms{verdict}");
    }
    // The tallies kept up with the registrations made between the runs.
    let all = counts::counts_all(db, &op, 1).await?;
    let district = counts::counts_direct(db, &op, 1).await?;
    if all.first().map(|(_, c)| c) != Some(&district) {
        return Err(CliError::Usage(
            "after the registrations, every node at once differs from the records".into(),
        ));
    }
    Ok(())
}
