//! `linli`: the one binary. Reads configuration, opens the database (migrating it), and runs
//! the command.

mod bench;
mod bench_checkins;
mod bench_counts;
mod bench_observations;
mod bench_report;
mod demo;
mod import;

/// Prints a line to stdout; a closed pipe (`linli node list | head`) ends the program quietly
/// instead of panicking.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if let Err(e) = writeln!(std::io::stdout().lock(), $($arg)*) {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                std::process::exit(0);
            }
        }
    }};
}

use linli_core::kernel::clock::now_ms;
use linli_core::kernel::labels::Labelled;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use linli_core::{kernel::clock, NewNode, NodeInput, Scope};
use linli_store::accounts::{self, NewUser};
use linli_store::tree;
use linli_store::{redact_url, Db, Page, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Usage(String),
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Core(#[from] linli_core::CoreError),
}

/// 邻里 Linli — community governance and epidemic response.
#[derive(Parser, Debug)]
#[command(name = "linli", version, about)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Debug, Clone)]
struct Global {
    /// Data directory: the SQLite database (linli.db) and local files such as keys.
    #[arg(
        long,
        global = true,
        env = "LINLI_DATA",
        default_value = "./linli-data"
    )]
    data: PathBuf,
    /// PostgreSQL URL (postgres://…); the embedded SQLite database is used when absent.
    #[arg(long, global = true, env = "LINLI_DATABASE_URL")]
    database_url: Option<String>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Create the database and the `admin` account.
    Init {
        /// The admin's password (else LINLI_ADMIN_PASSWORD, else a prompt).
        #[arg(long, env = "LINLI_ADMIN_PASSWORD", hide_env_values = true)]
        admin_password: Option<String>,
    },
    /// Serve the web app and the API.
    Serve(ServeArgs),
    /// Apply pending database migrations.
    Migrate,
    /// Build the demo community and its accounts (and optionally serve it).
    Demo {
        /// One password for every demo account (else random ones are printed).
        #[arg(long, env = "LINLI_DEMO_PASSWORD", hide_env_values = true)]
        password: Option<String>,
        /// Serve the demo at this address once it is built.
        #[arg(long, value_name = "ADDR")]
        serve: Option<String>,
        /// A small demo for tests: three buildings of residents and a short history.
        #[arg(long)]
        small: bool,
        /// The seed of the generated residents and history (the same seed builds the same demo).
        #[arg(long, default_value_t = demo::DEFAULT_SEED)]
        seed: u64,
        /// Serve as if the date in China were this day (YYYY-MM-DD), e.g. 2020-02-10 in the
        /// outbreak weeks of the history (with --serve; `linli serve --as-of` later does the same).
        #[arg(long, value_name = "DATE", value_parser = parse_as_of, requires = "serve")]
        as_of: Option<time::Date>,
    },
    /// Manage accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage the jurisdiction tree.
    #[command(subcommand)]
    Node(NodeCommand),
    /// Import a roster (花名册).
    #[command(subcommand)]
    Import(ImportCommand),
    /// Measure whole workloads on a fresh database (SQLite, or PostgreSQL with --database-url).
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Manage Open311 API keys.
    #[command(subcommand)]
    Apikey(ApikeyCommand),
}

#[derive(Subcommand, Debug)]
enum ApikeyCommand {
    /// Create a key bound to a node (printed once): requests posted with it land in its inbox.
    Add {
        #[arg(long)]
        name: String,
        #[arg(long)]
        node: i64,
    },
    /// List the keys (never the keys themselves): node, creator, use, revoked or not.
    List,
    /// Revoke a key by its id: its next call is refused.
    Revoke { id: i64 },
}

#[derive(Subcommand, Debug)]
enum ImportCommand {
    /// Persons from a roster (xlsx, xls, or CSV in UTF-8, GBK or GB18030, detected): every row
    /// judged, the good ones stored in one transaction.
    Persons {
        file: PathBuf,
        /// The node (community, compound, grid or building) the people are registered under.
        #[arg(long)]
        node: i64,
        /// Judge every row and report, store nothing.
        #[arg(long)]
        dry_run: bool,
        /// Store the good rows even when some are rejected.
        #[arg(long)]
        partial: bool,
        /// A row whose ID number is already registered: skip it, update the stored person
        /// from the row's non-empty cells, or fail the whole import.
        #[arg(long, value_parser = ["skip", "update", "fail"], default_value = "skip")]
        on_duplicate: String,
        /// Write the per-row verdicts as JSON here.
        #[arg(long)]
        report: Option<PathBuf>,
        /// Write the rejected rows, as the file had them plus a reason column, to this xlsx.
        #[arg(long)]
        rejects: Option<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
enum BenchCommand {
    /// Health check-ins posted over HTTP by many clients, written in batches and acknowledged
    /// after commit, beside a no-op endpoint of the same server.
    Checkins {
        /// Persons under observation to spread the check-ins over (at most 20,000).
        #[arg(long, default_value_t = 2_000, value_parser = clap::value_parser!(u64).range(1..=20_000))]
        observations: u64,
        /// Seconds each run lasts.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Concurrent HTTP clients (connections).
        #[arg(long, default_value_t = 64)]
        clients: usize,
    },
    /// The 正在观察 list at a street with many people under observation, in the store and
    /// through HTTP, beside a plain indexed count.
    Observations {
        /// Persons under observation, spread over the street's buildings.
        #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
        observations: u64,
        /// Timed queries per measure.
        #[arg(long, default_value_t = 50)]
        queries: usize,
    },
    /// One day's daily report for every node of a district (10,000 grids, a month of records),
    /// live, beside a plain GROUP BY over the same tables.
    Report {
        #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=100_000))]
        grids: u64,
        #[arg(long, default_value_t = 3_000, value_parser = clap::value_parser!(u64).range(1..=100_000))]
        arrivals_per_day: u64,
        #[arg(long, default_value_t = 7)]
        runs: usize,
    },
    /// The registry's numbers (issue 19) of a district of 1,000,000 persons in 10,000 grids
    /// with 300,000 rooms: every node at once, one community, the per-child breakdown, beside a
    /// plain GROUP BY over the persons.
    Counts {
        #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1..=5_000_000))]
        persons: u64,
        #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=100_000))]
        grids: u64,
        /// Rooms (dwellings), 15 to a building node.
        #[arg(long, default_value_t = 300_000, value_parser = clap::value_parser!(u64).range(1..=2_000_000))]
        rooms: u64,
        #[arg(long, default_value_t = 7)]
        runs: usize,
    },
    /// Registry search through HTTP at scale, beside a bare indexed query.
    Search {
        /// How many synthetic persons to seed.
        #[arg(long, default_value_t = 100_000)]
        persons: u64,
        /// Queries per search kind.
        #[arg(long, default_value_t = 300)]
        queries: usize,
    },
    /// Roster import of a synthetic roster (CSV and xlsx) into SQLite and PostgreSQL, beside
    /// `sqlite3 .import`, `psql \copy` and a bare read of the xlsx.
    Import {
        /// Rows in the roster.
        #[arg(long, default_value_t = 100_000)]
        rows: u64,
        /// PostgreSQL to measure on (a throw-away schema is made there); `none` to skip.
        #[arg(
            long,
            env = "LINLI_BENCH_PG_URL",
            default_value = "postgres://postgres@127.0.0.1:5432/test"
        )]
        pg_url: String,
    },
}

#[derive(Args, Debug)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "LINLI_LISTEN", default_value = "127.0.0.1:8080")]
    listen: String,
    /// Mark cookies Secure (when served over HTTPS).
    #[arg(long, env = "LINLI_SECURE_COOKIES")]
    secure_cookies: bool,
    /// Take client addresses from the rightmost X-Forwarded-For hop (only behind one trusted
    /// proxy that appends the address it saw).
    #[arg(long, env = "LINLI_TRUST_FORWARDED_FOR")]
    trust_forwarded_for: bool,
    /// The address residents reach the server at, printed in QR codes and posters
    /// (e.g. https://linli.example.org); by default the address each browser used.
    #[arg(long, env = "LINLI_PUBLIC_URL", value_parser = parse_public_url)]
    public_url: Option<String>,
    /// Days epidemic records are kept after release before they are anonymised.
    #[arg(long, env = "LINLI_RETENTION_DAYS", default_value_t = linli_store::epidemic::RETENTION_DAYS, value_parser = clap::value_parser!(i64).range(0..))]
    retention_days: i64,
    /// Run as if the date in China were this day (YYYY-MM-DD), the time of day kept: pages,
    /// API and background jobs all see it. Demo databases only (made by `linli demo`).
    #[arg(long, env = "LINLI_AS_OF", value_name = "DATE", value_parser = parse_as_of)]
    as_of: Option<time::Date>,
}

#[derive(Subcommand, Debug)]
enum UserCommand {
    /// Create an account.
    Add {
        username: String,
        /// admin, official, staff or grid_worker
        #[arg(long)]
        role: String,
        /// Node id the account works in (repeatable; not for admins).
        #[arg(long = "node")]
        nodes: Vec<i64>,
        #[arg(long)]
        display_name: Option<String>,
        /// The password (else a prompt).
        #[arg(long, hide_env_values = true)]
        password: Option<String>,
    },
    /// List accounts.
    List,
    /// Set an account's password.
    Passwd {
        username: String,
        #[arg(long)]
        password: Option<String>,
    },
    /// Issue a bearer API token for an account (printed once), or revoke its tokens.
    Token {
        username: String,
        /// What the token is for.
        #[arg(long, default_value = "script")]
        label: String,
        /// Revoke every live token of the account instead.
        #[arg(long)]
        revoke: bool,
    },
}

#[derive(Subcommand, Debug)]
enum NodeCommand {
    /// Add a node.
    Add {
        /// Parent node id (omit for a root district).
        #[arg(long)]
        parent: Option<i64>,
        /// district, street, community, compound, grid or building
        #[arg(long)]
        kind: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        code: Option<String>,
        /// Households (grids only).
        #[arg(long)]
        households: Option<i64>,
        /// YYYY-MM-DD (today by default).
        #[arg(long)]
        opened_on: Option<String>,
    },
    /// List the tree (or the subtree under --root).
    List {
        #[arg(long)]
        root: Option<i64>,
        /// Include closed nodes.
        #[arg(long)]
        all: bool,
    },
    /// Move a node and its subtree under another parent.
    Move {
        id: i64,
        #[arg(long)]
        parent: i64,
    },
    /// Close a node and its subtree (kept in history).
    Close {
        id: i64,
        /// YYYY-MM-DD (today by default).
        #[arg(long)]
        on: Option<String>,
    },
}

fn init_tracing(default: &str) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("LINLI_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let json = std::env::var("LINLI_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour codes only for a terminal, not for log files and journals.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// Opens and migrates the configured database.
async fn open(global: &Global) -> Result<Db, CliError> {
    std::fs::create_dir_all(&global.data)?;
    let db = match global
        .database_url
        .as_deref()
        .filter(|u| !u.trim().is_empty())
    {
        Some(url) => {
            tracing::info!(database = %redact_url(url), "using PostgreSQL");
            Db::connect(url, None).await?
        }
        None => {
            tracing::info!(data = %global.data.display(), "using the embedded SQLite database");
            Db::open_sqlite_dir(&global.data).await?
        }
    };
    db.migrate(now_ms()).await?;
    // Keys stay in the data directory (or LINLI_KEY) whichever database holds the data.
    let db = db.with_keys(linli_store::infra::secret::Keyring::load_or_create(
        &global.data,
    )?);
    db.check_key().await?;
    Ok(db)
}

/// A password from the command line, or typed at the terminal (twice).
fn password_or_prompt(given: Option<String>, what: &str) -> Result<String, CliError> {
    if let Some(p) = given {
        return Ok(p);
    }
    let first = rpassword::prompt_password(format!("{what}: ")).map_err(|e| {
        CliError::Usage(format!(
            "cannot read a password ({e}); pass it with --password"
        ))
    })?;
    let again = rpassword::prompt_password("Again: ").map_err(|e| {
        CliError::Usage(format!(
            "cannot read a password ({e}); pass it with --password"
        ))
    })?;
    if first != again {
        return Err(CliError::Usage("the passwords differ".into()));
    }
    Ok(first)
}

async fn find_user(db: &Db, username: &str) -> Result<accounts::User, CliError> {
    accounts::find(db, &Scope::operator(), username)
        .await?
        .ok_or_else(|| CliError::Usage(format!("no account `{username}`")))
}

async fn serve(db: Db, args: &ServeArgs) -> Result<(), CliError> {
    if let Some(day) = args.as_of {
        // Checked before the clock moves and before anything is served: a shifted clock writes
        // records dated on another day, which only a demo's made-up data may receive.
        if !db.is_demo().await? {
            return Err(CliError::Usage(format!(
                "--as-of {} (LINLI_AS_OF) is for demo databases only: this database was not \
                 made by `linli demo`",
                clock::format_date(day)
            )));
        }
        clock::set_as_of(day)?;
    }
    let config = linli_web::WebConfig {
        secure_cookies: args.secure_cookies,
        trust_forwarded_for: args.trust_forwarded_for,
        public_url: args.public_url.clone(),
    };
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .map_err(|e| CliError::Usage(format!("cannot listen on {}: {e}", args.listen)))?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, backend = db.backend().as_str(), "serving");
    say!("Linli is serving at http://{addr}/");
    if let Some(day) = clock::as_of() {
        say!(
            "Showing the demo as of {} (China date; the time of day runs on).",
            clock::format_date(day)
        );
    }
    // To the log, not stdout: scripts read the address line and may close the pipe after it.
    if args.public_url.is_none() {
        tracing::warn!(
            fallback = %format!("http://{addr}/"),
            "no --public-url (LINLI_PUBLIC_URL): QR codes and posters carry the address each \
             browser used to reach this server"
        );
    }
    // Overdue check-in alerts, every minute (idempotent, so several servers may all run it).
    let overdue = tokio::spawn(overdue_alerts(db.clone()));
    let retention = tokio::spawn(retention_job(db.clone(), args.retention_days));
    // Residents' requests past their deadlines, every minute, under a database lease so that
    // of several servers only one escalates.
    let deadlines = tokio::spawn(linli_store::requests::deadlines_every_minute(
        db.clone(),
        clock::now_ms,
    ));
    linli_web::serve(listener, linli_web::app(db.clone(), config)).await?;
    overdue.abort();
    retention.abort();
    deadlines.abort();
    db.close().await;
    Ok(())
}

/// Raises overdue check-in alerts and closes the ones a late check-in filled, once a minute.
async fn overdue_alerts(db: Db) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match linli_store::epidemic::alerts::raise_overdue(&db, clock::now_ms()).await {
            Ok(run) if run.raised + run.closed > 0 => {
                tracing::info!(
                    raised = run.raised,
                    closed = run.closed,
                    "overdue check-ins"
                )
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "overdue check-in job failed"),
        }
    }
}

/// Anonymises epidemic records past their purge date: at start, then daily (idempotent).
async fn retention_job(db: Db, days: i64) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(24 * 60 * 60));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match linli_store::epidemic::retention::anonymise_due(&db, clock::today(), days, now_ms())
            .await
        {
            Ok(run) if run.total() > 0 => tracing::info!(?run, "retention: records anonymised"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "retention job failed"),
        }
    }
}

async fn run(cli: Cli) -> Result<(), CliError> {
    let op = Scope::operator();
    match cli.command {
        Command::Init { admin_password } => {
            let db = open(&cli.global).await?;
            if accounts::count(&db).await? > 0 {
                return Err(CliError::Usage(
                    "already initialised: accounts exist (use `linli user passwd admin`)".into(),
                ));
            }
            let pw = password_or_prompt(admin_password, "Password for admin")?;
            accounts::create(
                &db,
                &op,
                NewUser {
                    username: "admin",
                    display_name: Some("系统管理员"),
                    password: &pw,
                    role: "admin",
                    node_ids: &[],
                },
                now_ms(),
            )
            .await?;
            say!(
                "Initialised the {} database; created the account `admin`.",
                db.backend().as_str()
            );
        }
        Command::Serve(args) => {
            let db = open(&cli.global).await?;
            serve(db, &args).await?;
        }
        Command::Migrate => {
            let db = open(&cli.global).await?;
            say!("The {} database is up to date.", db.backend().as_str());
        }
        Command::Demo {
            password,
            serve: addr,
            small,
            seed,
            as_of,
        } => {
            let build = DemoBuild { small, seed };
            demo(open(&cli.global).await?, password, addr, as_of, build).await?
        }
        Command::User(cmd) => user(&open(&cli.global).await?, &op, cmd).await?,
        Command::Import(ImportCommand::Persons {
            file,
            node,
            dry_run,
            partial,
            on_duplicate,
            report,
            rejects,
        }) => {
            let db = open(&cli.global).await?;
            import::persons(
                &db,
                import::ImportArgs {
                    file: &file,
                    node,
                    dry_run,
                    partial,
                    on_duplicate: match on_duplicate.as_str() {
                        "fail" => linli_store::registry::OnDuplicate::Fail,
                        "update" => linli_store::registry::OnDuplicate::Update,
                        _ => linli_store::registry::OnDuplicate::Skip,
                    },
                    report: report.as_deref(),
                    rejects: rejects.as_deref(),
                },
            )
            .await?;
        }
        Command::Bench(BenchCommand::Checkins {
            observations,
            seconds,
            clients,
        }) => {
            bench_checkins::checkins(bench_checkins::CheckinsBench {
                observations,
                seconds,
                clients: clients.max(1),
                database_url: cli.global.database_url.clone(),
            })
            .await?;
        }
        Command::Bench(BenchCommand::Observations {
            observations,
            queries,
        }) => {
            bench_observations::observations(bench_observations::ObservationsBench {
                observations,
                queries,
                database_url: cli.global.database_url.clone(),
            })
            .await?;
        }
        Command::Bench(BenchCommand::Report {
            grids,
            arrivals_per_day,
            runs,
        }) => {
            let database_url = cli.global.database_url.clone();
            bench_report::report(bench_report::ReportBench {
                grids,
                arrivals_per_day,
                runs,
                database_url,
            })
            .await?;
        }
        Command::Bench(BenchCommand::Counts {
            persons,
            grids,
            rooms,
            runs,
        }) => {
            let database_url = cli.global.database_url.clone();
            bench_counts::counts(bench_counts::CountsBench {
                persons,
                grids,
                dwellings: rooms,
                runs,
                database_url,
            })
            .await?;
        }
        Command::Bench(BenchCommand::Import { rows, pg_url }) => {
            bench::import(bench::ImportBench { rows, pg_url }).await?;
        }
        Command::Bench(BenchCommand::Search { persons, queries }) => {
            bench::search(bench::SearchBench {
                persons,
                queries,
                database_url: cli.global.database_url.clone(),
            })
            .await?;
        }
        Command::Apikey(ApikeyCommand::Add { name, node }) => {
            let db = open(&cli.global).await?;
            let (k, key) =
                linli_store::requests::create_api_key(&db, &op, &name, node, clock::now_ms())
                    .await?;
            say!(
                "Created Open311 API key `{}` (id {}) for node {}; it is shown only now:\n{key}",
                k.name,
                k.id,
                k.node_id
            );
        }
        Command::Apikey(ApikeyCommand::List) => {
            let db = open(&cli.global).await?;
            for k in linli_store::requests::list_api_keys(&db, &op).await? {
                let state = match k.revoked_at {
                    Some(at) => format!("revoked {}", clock::rfc3339(at)),
                    None => "live".to_owned(),
                };
                say!(
                    "{}\t{}\tnode {} {}\tcreated {} by {}\t{} requests\t{state}",
                    k.id,
                    k.name,
                    k.node_id,
                    k.node_name,
                    clock::rfc3339(k.created_at),
                    k.created_by,
                    k.requests
                );
            }
        }
        Command::Apikey(ApikeyCommand::Revoke { id }) => {
            let db = open(&cli.global).await?;
            linli_store::requests::revoke_api_key(&db, &op, id, clock::now_ms()).await?;
            say!("Revoked Open311 API key {id}.");
        }
        Command::Node(cmd) => node(&open(&cli.global).await?, &op, cmd).await?,
    }
    Ok(())
}

/// What `linli demo` generates besides the tree.
struct DemoBuild {
    small: bool,
    seed: u64,
}

/// `linli demo`: builds the demo tree, its residents and accounts, prints the logins, and
/// serves when asked. A demo that exists already is kept as it is (only passwords are reset).
async fn demo(
    db: Db,
    password: Option<String>,
    addr: Option<String>,
    as_of: Option<time::Date>,
    build: DemoBuild,
) -> Result<(), CliError> {
    let started = std::time::Instant::now();
    let created = demo::build_tree(&db, build.small).await?;
    // Demo-only modes (`serve --as-of`) look for this mark.
    db.mark_demo(now_ms()).await?;
    let (logins, posts) = demo::accounts(&db, password.as_deref()).await?;
    if created == 0 {
        say!("The demo community exists already; resetting the demo accounts' passwords.");
    } else {
        let communities = demo::communities(&db).await?;
        let names: Vec<&str> = communities.iter().map(|(p, _)| p.name).collect();
        say!(
            "Built the demo district: {created} nodes (香格里拉市 → {}).",
            names.join("、")
        );
        let mut rng = bench::Rng(build.seed);
        let people = demo::people::populate(&db, &communities, build.small, &mut rng).await?;
        say!(
            "Registered {} residents in {} households ({} dwellings).",
            people.persons,
            people.households,
            people.dwellings
        );
        let op = Scope::operator();
        let mut streets: Vec<linli_store::tree::Node> = Vec::new();
        for (_, c) in &communities {
            if let Some(pid) = c.parent_id {
                if !streets.iter().any(|s| s.id == pid) {
                    streets.push(linli_store::tree::get(&db, &op, pid).await?);
                }
            }
        }
        let sites = demo::month::quarantine_sites(&db, &streets, build.small).await?;
        let places: Vec<demo::history::Place<'_>> = communities
            .iter()
            .filter_map(|(plan, c)| {
                let street = streets.iter().find(|s| Some(s.id) == c.parent_id)?;
                let households: i64 = plan.compounds.iter().map(|(_, h)| h).sum::<i64>()
                    + plan
                        .village_grids
                        .iter()
                        .flatten()
                        .map(|(_, h)| h)
                        .sum::<i64>();
                Some(demo::history::Place {
                    community: c,
                    street,
                    scale: households as f64 / 9_623.0,
                })
            })
            .collect();
        let h = demo::history::build(&db, &places, &people.list, build.small, &mut rng).await?;
        say!(
            "History of January–February 2020: {} arrivals, {} observations, {} check-ins, \
             {} alerts handled, {} cases and {} close contacts, {} passes and {} gate scans, \
             {} trips, {} released, {} daily reports; {} quarantine sites with {} beds.",
            h.arrivals,
            h.observations,
            h.checkins,
            h.alerts_handled,
            h.cases,
            h.contacts,
            h.passes,
            h.scans,
            h.trips,
            h.released,
            h.reports,
            sites.sites,
            sites.beds
        );
        let staff = demo::month::Posts::load(&db).await?;
        let last = demo::history::last_day(build.small);
        let ledger =
            demo::month::supplies_month(&db, &staff, &streets, &communities, last, &mut rng)
                .await?;
        let businesses =
            demo::month::enterprises_month(&db, &staff, &communities, &mut rng).await?;
        let volunteers = demo::month::volunteers_month(&db, &staff, &communities).await?;
        let asked = demo::month::requests_month(
            &db,
            &staff,
            &communities,
            &people.list,
            last,
            build.small,
            &mut rng,
        )
        .await?;
        say!(
            "The month's work: {asked} residents' requests, {ledger} supply ledger entries, \
             {businesses} businesses and their reopening, {volunteers} volunteers."
        );
        say!("Built in {:.1} s.", started.elapsed().as_secs_f64());
    }
    say!("\nDemo accounts:");
    say!("  {:<12} {:<12} {:<16} 辖区", "login", "role", "password");
    for l in &logins {
        say!(
            "  {:<12} {:<12} {:<16} {}",
            l.username,
            l.role,
            l.password,
            l.node
        );
    }
    say!(
        "  and {} workers in posts (every community and grid; 账号 lists them), password {}",
        posts.count,
        posts.password
    );
    if let Some(listen) = addr {
        let args = ServeArgs {
            listen,
            secure_cookies: false,
            trust_forwarded_for: false,
            public_url: None,
            retention_days: linli_store::epidemic::RETENTION_DAYS,
            as_of,
        };
        serve(db, &args).await?;
    }
    Ok(())
}

/// `linli user …`
async fn user(db: &Db, op: &Scope, cmd: UserCommand) -> Result<(), CliError> {
    match cmd {
        UserCommand::Add {
            username,
            role,
            nodes,
            display_name,
            password,
        } => {
            let pw = password_or_prompt(password, &format!("Password for {username}"))?;
            let u = accounts::create(
                db,
                op,
                NewUser {
                    username: &username,
                    display_name: display_name.as_deref(),
                    password: &pw,
                    role: &role,
                    node_ids: &nodes,
                },
                now_ms(),
            )
            .await?;
            say!("Created `{}` ({}), id {}.", u.username, u.role, u.id);
        }
        UserCommand::List => {
            say!(
                "{:>5}  {:<20} {:<12} {:<8} nodes",
                "id",
                "login",
                "role",
                "status"
            );
            for u in accounts::list(db, op, Page::all()).await? {
                let nodes: Vec<String> = u
                    .nodes
                    .iter()
                    .map(|n| format!("{}#{}", n.name, n.id))
                    .collect();
                let status = if u.disabled { "disabled" } else { "active" };
                say!(
                    "{:>5}  {:<20} {:<12} {:<8} {}",
                    u.id,
                    u.username,
                    u.role.as_str(),
                    status,
                    nodes.join(", ")
                );
            }
        }
        UserCommand::Passwd { username, password } => {
            let u = find_user(db, &username).await?;
            let pw = password_or_prompt(password, &format!("New password for {username}"))?;
            accounts::set_password(db, op, u.id, &pw, now_ms()).await?;
            say!("Password of `{username}` changed; its sessions were ended.");
        }
        UserCommand::Token {
            username,
            label,
            revoke,
        } => {
            let u = find_user(db, &username).await?;
            if revoke {
                let n = accounts::revoke_tokens(db, op, u.id, now_ms()).await?;
                say!("Revoked {n} token(s) of `{username}`.");
            } else {
                let token = accounts::issue_token(db, op, u.id, &label, now_ms()).await?;
                eprintln!(
                    "API token for `{username}` (shown once; send as `Authorization: Bearer …`):"
                );
                say!("{token}");
            }
        }
    }
    Ok(())
}

/// `linli node …`
async fn node(db: &Db, op: &Scope, cmd: NodeCommand) -> Result<(), CliError> {
    match cmd {
        NodeCommand::Add {
            parent,
            kind,
            name,
            code,
            households,
            opened_on,
        } => {
            let new = NewNode::parse(NodeInput {
                parent_id: parent,
                kind: &kind,
                name: &name,
                code: code.as_deref(),
                household_estimate: households,
                opened_on: opened_on.as_deref(),
            })
            .map_err(StoreError::Invalid)?;
            let n = tree::create(db, op, new, now_ms()).await?;
            say!(
                "Created {} `{}`, id {}, path {}.",
                n.kind,
                n.name,
                n.id,
                n.path
            );
        }
        NodeCommand::List { root, all } => {
            for n in tree::subtree(db, op, root).await? {
                if !all && !n.is_open() {
                    continue;
                }
                let indent = "  ".repeat(usize::try_from(n.depth).unwrap_or(0));
                let code = n
                    .code
                    .as_deref()
                    .map(|c| format!(" [{c}]"))
                    .unwrap_or_default();
                let hh = n
                    .household_estimate
                    .map(|h| format!(" {h}户"))
                    .unwrap_or_default();
                let closed = n
                    .closed_on
                    .as_deref()
                    .map(|c| format!(" (closed {c})"))
                    .unwrap_or_default();
                say!(
                    "{:>6} {indent}{} {}{code}{hh}{closed}",
                    n.id,
                    n.kind.label_zh(),
                    n.name
                );
            }
        }
        NodeCommand::Move { id, parent } => {
            let n = tree::move_subtree(db, op, id, parent, now_ms()).await?;
            say!("Moved `{}` to {}.", n.name, n.path);
        }
        NodeCommand::Close { id, on } => {
            let on = on
                .as_deref()
                .map(|d| clock::parse_date("on", d))
                .transpose()
                .map_err(StoreError::from)?;
            let n = tree::close(db, op, id, on, now_ms()).await?;
            say!(
                "Closed `{}` and everything under it on {}.",
                n.name,
                n.closed_on.unwrap_or_default()
            );
        }
    }
    Ok(())
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    // Servers log their requests; one-shot commands only say what went wrong.
    let serving = matches!(
        cli.command,
        Command::Serve(_) | Command::Demo { serve: Some(_), .. }
    );
    // sqlx's slow-statement warnings print whole statements (bulk inserts run to megabytes).
    init_tracing(if serving {
        "info,sqlx=error"
    } else {
        "warn,sqlx=error"
    });
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run(cli));
    // For `linli bench import`, which runs imports as child processes and reports their peak
    // memory (the kernel's high-water mark of resident memory).
    if std::env::var_os("LINLI_REPORT_PEAK_RSS").is_some() {
        if let Some(kb) = std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("VmHWM:"))
                    .map(str::to_owned)
            })
        {
            eprintln!("peak_rss {}", kb.trim_start_matches("VmHWM:").trim());
        }
    }
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// `--as-of`: a calendar date `YYYY-MM-DD`.
fn parse_as_of(raw: &str) -> Result<time::Date, String> {
    clock::parse_date("as_of", raw).map_err(|e| e.message)
}

/// `--public-url`: an http(s) address with a host and nothing after it but an optional path.
fn parse_public_url(raw: &str) -> Result<String, String> {
    let url = raw.trim().trim_end_matches('/');
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or("should start with http:// or https://")?;
    let ok = !rest.is_empty()
        && !rest.starts_with('/')
        && rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:[]/_~".contains(&b));
    if !ok {
        return Err("should be an address such as https://linli.example.org".into());
    }
    Ok(url.to_owned())
}
