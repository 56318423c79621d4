//! `linli bench search --persons N`: seeds N synthetic persons into a fresh database (the demo
//! tree), then measures each kind of registry search through HTTP, as a community worker and as
//! a grid worker, beside two baselines on the same database and server: a bare indexed point
//! query on the pool (no HTTP) and a `/healthz` round trip (HTTP with no search).

use linli_core::kernel::clock::now_ms;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use linli_core::kernel::idnumber::check_char;
use linli_core::registry::{PersonDraft, PersonInput};
use linli_core::{kernel::clock, NodeKind, Scope};
use linli_store::accounts::{self, NewUser};
use linli_store::infra::secret::{random_token, Keyring};
use linli_store::registry::{self, BulkPerson};
use linli_store::tree::{self, Node};
use linli_store::Db;

use crate::CliError;

const SURNAMES: &str = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段钱汤尹黎易常武乔贺赖龚文";
const GIVEN: &str = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建国志文斌辉鹏飞宇浩然子轩梓涵一诺欣怡雨桐扎西卓玛多吉次仁央金拉姆格桑措";

/// A deterministic pseudo-random sequence (SplitMix64), so every run asks the same questions
/// (and `linli demo --seed N` builds the same community).
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// True `percent` times in a hundred.
    pub(crate) fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// One of `items` (which must not be empty).
    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// An index drawn with the given weights.
    pub(crate) fn weighted(&mut self, weights: &[u64]) -> usize {
        let mut x = self.below(weights.iter().sum());
        for (i, w) in weights.iter().enumerate() {
            if x < *w {
                return i;
            }
            x -= w;
        }
        weights.len().saturating_sub(1)
    }
}

/// The synthetic person number `i`: a name, a valid and unique ID number, a unique mobile.
pub(crate) fn synthetic(i: u64) -> (String, String, String) {
    let s: Vec<char> = SURNAMES.chars().collect();
    let g: Vec<char> = GIVEN.chars().collect();
    let (ns, ng) = (s.len() as u64, g.len() as u64);
    let mut name = String::new();
    name.push(s[(i % ns) as usize]);
    name.push(g[((i / ns) % ng) as usize]);
    if !(i / (ns * ng)).is_multiple_of(3) {
        name.push(g[((i / (ns * ng * 3)) % ng) as usize]);
    }
    // 1,000 sequence numbers per birth date, over 32,000 days from 1935: unique below 32M, and
    // the last four characters spread as in real numbers.
    let seq = i % 1000;
    let day = ((i / 1000) % 32_000) as i64;
    let birth = clock::parse_date("birth_date", "1935-01-01")
        .map(|d| d + time::Duration::days(day))
        .unwrap_or(clock::today());
    let body = format!(
        "533401{:04}{:02}{:02}{:03}",
        birth.year(),
        u8::from(birth.month()),
        birth.day(),
        seq % 1000
    );
    let id = format!("{body}{}", check_char(body.as_bytes()));
    let phone = format!("139{:08}", i % 100_000_000);
    (name, id, phone)
}

struct Stats {
    p50: Duration,
    p99: Duration,
    mean: Duration,
}

fn stats(mut samples: Vec<Duration>) -> Stats {
    samples.sort_unstable();
    let n = samples.len().max(1);
    let at = |q: f64| {
        samples
            .get(
                ((n as f64 * q).ceil() as usize)
                    .saturating_sub(1)
                    .min(n - 1),
            )
            .copied()
            .unwrap_or_default()
    };
    let total: Duration = samples.iter().sum();
    Stats {
        p50: at(0.50),
        p99: at(0.99),
        mean: total / n as u32,
    }
}

fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1000.0)
}

pub struct SearchBench {
    pub persons: u64,
    pub queries: usize,
    pub database_url: Option<String>,
}

pub async fn search(args: SearchBench) -> Result<(), CliError> {
    let scratch = Scratch::open(args.database_url.as_deref()).await?;
    let result = run(&scratch.db, &args).await;
    scratch.finish().await?;
    result
}

/// A bench's throw-away database: a fresh SQLite directory, or a fresh schema on the PostgreSQL
/// at the given URL; migrated, with a generated key.
pub(crate) struct Scratch {
    pub db: Db,
    dir: PathBuf,
    /// The PostgreSQL schema, when on PostgreSQL.
    schema: Option<String>,
}

impl Scratch {
    pub async fn open(database_url: Option<&str>) -> Result<Scratch, CliError> {
        let dir = std::env::temp_dir().join(format!("linli-bench-{}", random_token(6)));
        std::fs::create_dir_all(&dir)?;
        let schema = format!("bench_{}", random_token(6));
        let db = match database_url {
            Some(url) => Db::connect(url, Some(&schema)).await?,
            None => Db::open_sqlite_dir(&dir).await?,
        };
        db.migrate(now_ms()).await?;
        let db = db.with_keys(Keyring::generate().0);
        db.check_key().await?;
        Ok(Scratch {
            db,
            dir,
            schema: database_url.map(|_| schema),
        })
    }

    /// Removes it; with `LINLI_BENCH_KEEP=1` keeps it (for reading query plans by hand) and
    /// says where.
    pub async fn finish(self) -> Result<(), CliError> {
        if std::env::var_os("LINLI_BENCH_KEEP").is_some() {
            match &self.schema {
                Some(schema) => println!("Kept schema {schema}."),
                None => println!("Kept {}.", self.dir.display()),
            }
            self.db.close().await;
            return Ok(());
        }
        if let Some(schema) = &self.schema {
            self.db.drop_schema(schema).await?;
        }
        self.db.close().await;
        let _ = std::fs::remove_dir_all(&self.dir);
        Ok(())
    }
}

/// The demo tree, built afresh in the scratch database, as the operator reads it.
pub(crate) async fn demo_nodes(db: &Db) -> Result<Vec<Node>, CliError> {
    crate::demo::build_tree(db, true).await?;
    Ok(tree::subtree(db, &Scope::operator(), None).await?)
}

/// The buildings among `nodes`.
pub(crate) fn buildings(nodes: &[Node]) -> Vec<&Node> {
    nodes
        .iter()
        .filter(|n| n.kind == NodeKind::Building)
        .collect()
}

/// The first node of `kind` among `nodes`; a usage error naming `what` when there is none.
pub(crate) fn first_of<'a>(
    nodes: &'a [Node],
    kind: NodeKind,
    what: &str,
) -> Result<&'a Node, CliError> {
    nodes
        .iter()
        .find(|n| n.kind == kind)
        .ok_or_else(|| CliError::Usage(what.to_owned()))
}

/// A bench account of `role` on `node`, created by the operator.
pub(crate) async fn bench_account(
    db: &Db,
    username: &str,
    password: &str,
    role: &str,
    node: i64,
) -> Result<accounts::User, CliError> {
    let new = NewUser {
        username,
        display_name: None,
        password,
        role,
        node_ids: &[node],
    };
    Ok(accounts::create(db, &Scope::operator(), new, now_ms()).await?)
}

/// Serves `app` on an ephemeral port in this process; its address.
pub(crate) async fn serve_here(app: axum::Router) -> Result<std::net::SocketAddr, CliError> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = linli_web::serve(listener, app).await;
    });
    Ok(addr)
}

async fn run(db: &Db, args: &SearchBench) -> Result<(), CliError> {
    let op = Scope::operator();
    let tree = demo_nodes(db).await?;
    // People live in buildings, and in the village groups (which have no buildings).
    let homes: Vec<&Node> = tree
        .iter()
        .filter(|n| {
            n.kind == NodeKind::Building
                || (n.kind == NodeKind::Compound && n.name.starts_with("村民小组"))
        })
        .collect();
    let community = first_of(&tree, NodeKind::Community, "no community")?;
    let grid = first_of(&tree, NodeKind::Grid, "no grid")?;
    println!(
        "Seeding {} persons into {} homes ({} database)…",
        args.persons,
        homes.len(),
        db.backend().as_str()
    );
    let bar = ProgressBar::new(args.persons);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} {per_sec} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let started = Instant::now();
    let today = clock::today();
    let batch = 10_000u64;
    let mut i = 0u64;
    while i < args.persons {
        let end = (i + batch).min(args.persons);
        let mut rows = Vec::with_capacity((end - i) as usize);
        for k in i..end {
            let (name, id, phone) = synthetic(k);
            let input = PersonInput {
                name: &name,
                id_number: Some(&id),
                phone: Some(&phone),
                ..Default::default()
            };
            let (draft, _) = PersonDraft::parse(&input, today)
                .map_err(|e| CliError::Usage(format!("synthetic person {k} is invalid: {e:?}")))?;
            rows.push(BulkPerson::new(
                homes[(k % homes.len() as u64) as usize],
                draft,
            ));
        }
        registry::bulk_insert(db, &op, &rows, now_ms()).await?;
        bar.set_position(end);
        i = end;
    }
    bar.finish_and_clear();
    let seed_time = started.elapsed();
    println!(
        "Seeded {} persons in {:.1} s ({:.0} persons/s, with encryption, hashes, pinyin and history).",
        args.persons,
        seed_time.as_secs_f64(),
        args.persons as f64 / seed_time.as_secs_f64().max(1e-9)
    );

    // The server, in this process, on an ephemeral port.
    let app = linli_web::app(db.clone(), linli_web::WebConfig::default());
    let base = format!("http://{}", serve_here(app).await?);
    let password = format!("bench-{}", random_token(8));
    let staff_user = format!("bench_staff_{}", random_token(3));
    let grid_user = format!("bench_grid_{}", random_token(3));
    bench_account(db, &staff_user, &password, "staff", community.id).await?;
    bench_account(db, &grid_user, &password, "grid_worker", grid.id).await?;
    let client = |user: String| {
        let base = base.clone();
        let password = password.clone();
        async move {
            let c = reqwest::Client::builder()
                .cookie_store(true)
                .build()
                .map_err(|e| CliError::Usage(format!("http client: {e}")))?;
            let r = c
                .post(format!("{base}/api/v1/session"))
                .json(&serde_json::json!({"username": user, "password": password}))
                .send()
                .await
                .map_err(|e| CliError::Usage(format!("login: {e}")))?;
            if !r.status().is_success() {
                return Err(CliError::Usage(format!("login failed: {}", r.status())));
            }
            Ok::<_, CliError>(c)
        }
    };
    let staff = client(staff_user).await?;
    let worker = client(grid_user).await?;

    let mut rng = Rng(0x5EED);
    let sample: Vec<u64> = (0..args.queries).map(|_| rng.below(args.persons)).collect();
    let queries = |kind: &str| -> Vec<String> {
        sample
            .iter()
            .map(|&k| {
                let (name, id, phone) = synthetic(k);
                let (full, initials) = linli_core::registry::PersonName::parse(&name)
                    .map(|n| n.pinyin())
                    .unwrap_or_default();
                match kind {
                    "id_number" => id,
                    "last4" => id[14..].to_owned(),
                    "phone" => phone,
                    "name" => name.chars().take(2).collect(),
                    "pinyin_initials" => initials,
                    _ => full.chars().take(6).collect(),
                }
            })
            .collect()
    };
    let measure = |c: reqwest::Client, qs: Vec<String>| {
        let base = base.clone();
        async move {
            let mut times = Vec::with_capacity(qs.len());
            let mut hits = 0usize;
            for q in qs {
                let t = Instant::now();
                let r = c
                    .get(format!("{base}/api/v1/persons"))
                    .query(&[("q", q.as_str()), ("limit", "20")])
                    .send()
                    .await
                    .map_err(|e| CliError::Usage(format!("search: {e}")))?;
                let body: serde_json::Value = r
                    .json()
                    .await
                    .map_err(|e| CliError::Usage(format!("search: {e}")))?;
                times.push(t.elapsed());
                hits += body["items"].as_array().map_or(0, Vec::len);
            }
            Ok::<_, CliError>((stats(times), hits))
        }
    };

    println!();
    println!(
        "{:<34} {:>9} {:>9} {:>9} {:>9}",
        "measure", "p50 ms", "p99 ms", "mean ms", "hits/q"
    );
    // Baseline 1: the bare indexed point query, on the same pool, no HTTP.
    let keys_probe = queries("id_number");
    let mut bare = Vec::new();
    for q in &keys_probe {
        let t = Instant::now();
        linli_store::registry::search_id_hash_baseline(db, q).await?;
        bare.push(t.elapsed());
    }
    let s = stats(bare);
    println!(
        "{:<34} {:>9} {:>9} {:>9} {:>9}",
        "baseline: indexed point query",
        ms(s.p50),
        ms(s.p99),
        ms(s.mean),
        "-"
    );
    // Baseline 2: an HTTP round trip that does no search.
    let mut rt = Vec::new();
    for _ in 0..args.queries {
        let t = Instant::now();
        staff
            .get(format!("{base}/healthz"))
            .send()
            .await
            .map_err(|e| CliError::Usage(e.to_string()))?;
        rt.push(t.elapsed());
    }
    let s = stats(rt);
    println!(
        "{:<34} {:>9} {:>9} {:>9} {:>9}",
        "baseline: HTTP GET /healthz",
        ms(s.p50),
        ms(s.p99),
        ms(s.mean),
        "-"
    );
    for (who, c) in [
        ("staff (community)", &staff),
        ("grid worker (1 grid)", &worker),
    ] {
        for kind in [
            "id_number",
            "last4",
            "phone",
            "name",
            "pinyin_initials",
            "pinyin_full",
        ] {
            let (s, hits) = measure(c.clone(), queries(kind)).await?;
            println!(
                "{:<34} {:>9} {:>9} {:>9} {:>9.1}",
                format!("{who}: {kind}"),
                ms(s.p50),
                ms(s.p99),
                ms(s.mean),
                hits as f64 / args.queries.max(1) as f64
            );
        }
    }
    Ok(())
}

pub struct ImportBench {
    pub rows: u64,
    pub pg_url: String,
}

/// The baseline tables: the roster's columns with indexes standing in for the person table's
/// nine (unique ID number, phone, both last-four suffixes, three name orders, dwelling,
/// household), so the baseline pays for the same B-tree inserts.
const BASELINE_SCHEMA: &str = "CREATE TABLE roster (seq TEXT, name TEXT, gender TEXT, ethnic TEXT, \
     id_kind TEXT, id_number TEXT, birth TEXT, phone TEXT, relation TEXT, hukou TEXT, address TEXT, \
     category TEXT, tags TEXT);
     CREATE UNIQUE INDEX roster_id ON roster (id_number);
     CREATE INDEX roster_phone ON roster (phone);
     CREATE INDEX roster_id4 ON roster (substr(id_number, 15), address);
     CREATE INDEX roster_phone4 ON roster (substr(phone, 8), address);
     CREATE INDEX roster_name ON roster (name, address);
     CREATE INDEX roster_name2 ON roster (name, hukou, address);
     CREATE INDEX roster_name3 ON roster (relation, name, address);
     CREATE INDEX roster_address ON roster (address);
     CREATE INDEX roster_household ON roster (hukou, address);";

/// `linli bench import --rows N`: writes a roster of N synthetic people (template layout,
/// addresses and relations filled) as CSV and as xlsx, and imports each with `linli import
/// persons` (a child process, as staff would run it, so its time and peak memory are its own)
/// into a fresh SQLite database under the demo community, and the CSV into PostgreSQL; beside
/// them, the baselines on the same files: `sqlite3 .import` and `psql \copy` into a table with
/// equivalent indexes, and a bare read of the xlsx.
pub async fn import(args: ImportBench) -> Result<(), CliError> {
    let dir = std::env::temp_dir().join(format!("linli-bench-{}", random_token(6)));
    std::fs::create_dir_all(&dir)?;
    let result = import_in(&dir, &args).await;
    // LINLI_BENCH_KEEP=1 keeps the rosters and databases (to rerun one import by hand).
    if std::env::var_os("LINLI_BENCH_KEEP").is_some() {
        println!("Kept {}.", dir.display());
    } else {
        let _ = std::fs::remove_dir_all(&dir);
    }
    result
}

/// One synthetic roster row (four people to a household, each household in its own room).
fn roster_row(i: u64) -> Vec<String> {
    let (name, id, phone) = synthetic(i);
    let household = i / 4;
    let address = format!(
        "{}栋{}单元{}室",
        household / 400 + 1,
        household / 100 % 4 + 1,
        household % 100 + 101
    );
    vec![
        (i + 1).to_string(),
        name,
        String::new(),
        "汉族".into(),
        "居民身份证".into(),
        id,
        String::new(),
        phone,
        if i.is_multiple_of(4) {
            "户主".into()
        } else {
            "其他".into()
        },
        "云南省香格里拉市".into(),
        address,
        "户籍人口".into(),
        String::new(),
    ]
}

fn write_rosters(dir: &std::path::Path, rows: u64) -> Result<(PathBuf, PathBuf), CliError> {
    use std::io::Write;
    let csv_path = dir.join("roster.csv");
    let mut csv = std::io::BufWriter::new(std::fs::File::create(&csv_path)?);
    let header: Vec<String> = linli_core::registry::roster::TEMPLATE_HEADER
        .iter()
        .map(|h| (*h).to_owned())
        .collect();
    csv.write_all(linli_core::registry::roster::to_csv(std::slice::from_ref(&header)).as_bytes())?;
    let mut xlsx = linli_core::registry::sheet::XlsxOut::new("花名册")?;
    xlsx.header(&header)?;
    let mut block = Vec::with_capacity(10_000);
    for i in 0..rows {
        let row = roster_row(i);
        xlsx.row(&row)?;
        block.push(row);
        if block.len() == 10_000 || i + 1 == rows {
            let text = linli_core::registry::roster::to_csv(&block);
            csv.write_all(text.trim_start_matches('\u{FEFF}').as_bytes())?;
            block.clear();
        }
    }
    csv.flush()?;
    let xlsx_path = dir.join("roster.xlsx");
    xlsx.save(&xlsx_path)?;
    Ok((csv_path, xlsx_path))
}

/// A measured run of a command: wall time, and the child's peak memory when it reports it.
struct Run {
    time: Duration,
    peak_mb: Option<f64>,
}

fn run_child(cmd: &mut std::process::Command) -> Result<Run, CliError> {
    let started = Instant::now();
    let out = cmd
        .env("LINLI_REPORT_PEAK_RSS", "1")
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| CliError::Usage(format!("cannot run {cmd:?}: {e}")))?;
    let time = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        return Err(CliError::Usage(format!(
            "{cmd:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            stderr
        )));
    }
    let peak_mb = stderr
        .lines()
        .find_map(|l| l.strip_prefix("peak_rss "))
        .and_then(|v| v.trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kb| kb / 1024.0);
    Ok(Run { time, peak_mb })
}

fn linli_cmd(
    data: &std::path::Path,
    database_url: Option<&str>,
) -> Result<std::process::Command, CliError> {
    let mut cmd = std::process::Command::new(std::env::current_exe()?);
    cmd.arg("--data").arg(data);
    match database_url {
        Some(url) => cmd.env("LINLI_DATABASE_URL", url),
        None => cmd.env_remove("LINLI_DATABASE_URL"),
    };
    cmd.env_remove("LINLI_KEY");
    Ok(cmd)
}

/// Builds the demo tree in a fresh database and imports `file` under its community.
fn import_run(
    data: &std::path::Path,
    database_url: Option<&str>,
    file: &std::path::Path,
) -> Result<Run, CliError> {
    run_child(linli_cmd(data, database_url)?.args(["demo", "--password", "bench-pass-2020"]))?;
    run_child(
        linli_cmd(data, database_url)?
            .args(["import", "persons"])
            .arg(file)
            .args(["--node", "3"]),
    )
}

async fn import_in(dir: &std::path::Path, args: &ImportBench) -> Result<(), CliError> {
    let started = Instant::now();
    let (csv_path, xlsx_path) = write_rosters(dir, args.rows)?;
    println!(
        "Roster of {} rows written in {:.1} s: CSV {:.1} MB, xlsx {:.1} MB.",
        args.rows,
        started.elapsed().as_secs_f64(),
        std::fs::metadata(&csv_path)?.len() as f64 / 1e6,
        std::fs::metadata(&xlsx_path)?.len() as f64 / 1e6
    );
    let mut table: Vec<(String, Option<Run>)> = Vec::new();

    // SQLite: CSV, then xlsx, each into its own fresh database.
    let csv_sqlite = import_run(&dir.join("sqlite-csv"), None, &csv_path)?;
    table.push(("linli import CSV → SQLite".into(), Some(csv_sqlite)));
    let base = dir.join("baseline.db");
    let baseline = std::process::Command::new("sqlite3")
        .arg(&base)
        .arg("PRAGMA journal_mode = WAL;")
        .arg("PRAGMA synchronous = NORMAL;")
        .arg(BASELINE_SCHEMA)
        .output();
    let sqlite_import = match baseline {
        Ok(o) if o.status.success() => Some(run_child(
            std::process::Command::new("sqlite3")
                .arg(&base)
                .arg("PRAGMA synchronous = NORMAL;")
                .arg(format!(
                    ".import --csv --skip 1 {} roster",
                    csv_path.display()
                )),
        )?),
        _ => None,
    };
    table.push((
        "baseline: sqlite3 .import, same indexes".into(),
        sqlite_import,
    ));

    let xlsx_sqlite = import_run(&dir.join("sqlite-xlsx"), None, &xlsx_path)?;
    table.push(("linli import xlsx → SQLite".into(), Some(xlsx_sqlite)));
    // The importer's own read of the xlsx: decode, find the table, judge every row, store
    // nothing — to set beside the bare read (storing is what the two database baselines bound).
    let xlsx_read = run_child(
        linli_cmd(&dir.join("sqlite-xlsx"), None)?
            .args(["import", "persons"])
            .arg(&xlsx_path)
            .args(["--node", "3", "--dry-run"]),
    )?;
    table.push((
        "linli import xlsx --dry-run (read, judge)".into(),
        Some(xlsx_read),
    ));
    let bare = Instant::now();
    let mut cells = 0usize;
    linli_core::registry::sheet::read_rows(&xlsx_path, |_, _, row| {
        cells += row.len();
        true
    })?;
    table.push((
        format!("baseline: bare read of the xlsx ({cells} cells)"),
        Some(Run {
            time: bare.elapsed(),
            peak_mb: None,
        }),
    ));

    // PostgreSQL, in throw-away schemas.
    if args.pg_url != "none" {
        let schema = format!("linli_bench_{}", random_token(4));
        let base_schema = format!("{schema}_base");
        let sep = if args.pg_url.contains('?') { '&' } else { '?' };
        let url = format!("{}{sep}options=-c%20search_path%3D{schema}", args.pg_url);
        let made = async {
            Db::connect(&args.pg_url, Some(&schema))
                .await?
                .close()
                .await;
            Db::connect(&args.pg_url, Some(&base_schema))
                .await?
                .close()
                .await;
            Ok::<(), CliError>(())
        };
        match made.await {
            Ok(()) => {
                let pg = import_run(&dir.join("pg"), Some(&url), &csv_path);
                let psql = |sql: String| {
                    std::process::Command::new("psql")
                        .arg(&args.pg_url)
                        .args(["-v", "ON_ERROR_STOP=1", "-q", "-c"])
                        .arg(sql)
                        .env("PGOPTIONS", format!("-c search_path={base_schema}"))
                        .output()
                };
                let copy = match psql(BASELINE_SCHEMA.to_owned()) {
                    Ok(o) if o.status.success() => Some(run_child(
                        std::process::Command::new("psql")
                            .arg(&args.pg_url)
                            .args(["-v", "ON_ERROR_STOP=1", "-q", "-c"])
                            .arg(format!(
                                "\\copy roster FROM '{}' WITH (FORMAT csv, HEADER true)",
                                csv_path.display()
                            ))
                            .env("PGOPTIONS", format!("-c search_path={base_schema}")),
                    )?),
                    _ => None,
                };
                let _ = psql(format!(
                    "DROP SCHEMA {schema} CASCADE; DROP SCHEMA {base_schema} CASCADE"
                ));
                table.push(("linli import CSV → PostgreSQL".into(), Some(pg?)));
                table.push(("baseline: psql \\copy, same indexes".into(), copy));
            }
            Err(e) => println!("PostgreSQL skipped ({e})"),
        }
    }

    println!();
    println!(
        "{:<46} {:>9} {:>10} {:>10}",
        "measure", "seconds", "rows/s", "peak MB"
    );
    for (what, run) in &table {
        match run {
            Some(r) => println!(
                "{:<46} {:>9.2} {:>10.0} {:>10}",
                what,
                r.time.as_secs_f64(),
                args.rows as f64 / r.time.as_secs_f64().max(1e-9),
                r.peak_mb
                    .map(|m| format!("{m:.0}"))
                    .unwrap_or_else(|| "–".into())
            ),
            None => println!("{what:<46} (tool not found: install sqlite3 / psql to compare)"),
        }
    }
    Ok(())
}

/// Arrivals from 420111 today get 7 days of centralised quarantine with two check-ins a day:
/// the 9th edition republished with today's date and 420111 declared high-risk from today. The
/// benches that need observations running today seed with this; the origin to screen from.
pub(crate) async fn quarantine_from_today(
    db: &linli_store::Db,
) -> Result<linli_core::epidemic::policy::DivisionCode, CliError> {
    use linli_core::epidemic::policy::{DivisionCode, RiskArea, RiskLevel};
    use linli_core::kernel::clock;
    use linli_store::epidemic;
    let op = linli_core::Scope::operator();
    let usage = |e: linli_core::CoreError| CliError::Usage(e.to_string());
    let mut ninth = linli_core::epidemic::policy::presets()
        .into_iter()
        .find(|p| p.key() == "ninth-edition")
        .ok_or_else(|| CliError::Usage("no 9th-edition preset".into()))?
        .to_draft();
    ninth.version = epidemic::policies::next_version(db, "ninth-edition").await?;
    ninth.effective_from = clock::today();
    let ninth = ninth
        .validate()
        .map_err(|e| CliError::Usage(format!("{:?}", e.0)))?;
    epidemic::policies::publish(db, &op, &ninth, now_ms()).await?;
    let origin = DivisionCode::parse("420111").map_err(usage)?;
    let area = RiskArea::new(
        origin.clone(),
        Some("武汉市洪山区"),
        RiskLevel::High,
        clock::today(),
        None,
    )
    .map_err(usage)?;
    epidemic::add_risk_area(db, &op, &area, now_ms()).await?;
    Ok(origin)
}

/// `count` synthetic persons screened on arrival today from the high-risk area of
/// [`quarantine_from_today`] (which it sets up), spread over `homes`: each under centralised
/// quarantine from today. The observations' ids, in order; progress every 10,000.
pub(crate) async fn observed_today(
    db: &linli_store::Db,
    homes: &[&linli_store::tree::Node],
    count: u64,
) -> Result<Vec<i64>, CliError> {
    use linli_store::epidemic::{self, ArrivalInput, ArrivalPerson, ArrivalSource};
    let origin = quarantine_from_today(db).await?;
    let normal = linli_core::epidemic::policy::Temperature::parse("36.5")
        .map_err(|e| CliError::Usage(e.to_string()))?;
    if homes.is_empty() {
        return Err(CliError::Usage("the demo tree has no buildings".into()));
    }
    let op = linli_core::Scope::operator();
    let started = std::time::Instant::now();
    let mut observations = Vec::with_capacity(count as usize);
    for k in 0..count {
        let name = synthetic(k).0;
        let r = epidemic::record_arrival(
            db,
            &op,
            ArrivalInput {
                person: ArrivalPerson::New {
                    placement: linli_store::registry::Placement {
                        node_id: homes[(k % homes.len() as u64) as usize].id,
                        ..Default::default()
                    },
                    input: linli_core::registry::PersonInput {
                        name: &name,
                        ..Default::default()
                    },
                },
                origin_code: origin.clone(),
                arrived_on: linli_core::kernel::clock::today(),
                purpose: None,
                symptoms: Vec::new(),
                temperature: Some(normal),
                source: ArrivalSource::Worker,
            },
            now_ms(),
        )
        .await?;
        observations.push(r.observation_id.ok_or_else(|| {
            CliError::Usage(format!(
                "the republished 9th edition put arrival {} under no observation",
                r.id
            ))
        })?);
        if (k + 1) % 10_000 == 0 {
            println!(
                "  {} seeded ({:.0} s)",
                k + 1,
                started.elapsed().as_secs_f64()
            );
        }
    }
    Ok(observations)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_people_are_valid_and_distinct() {
        let today = clock::today();
        let mut ids = std::collections::HashSet::new();
        for i in (0..200_000u64).step_by(997) {
            let (name, id, phone) = synthetic(i);
            let input = PersonInput {
                name: &name,
                id_number: Some(&id),
                phone: Some(&phone),
                ..Default::default()
            };
            assert!(
                PersonDraft::parse(&input, today).is_ok(),
                "{i}: {name} {id} {phone}"
            );
            assert!(ids.insert(id));
        }
    }

    #[test]
    fn percentiles_pick_the_right_sample() {
        let s = stats((1..=100).map(Duration::from_millis).collect());
        assert_eq!(s.p50, Duration::from_millis(50));
        assert_eq!(s.p99, Duration::from_millis(99));
    }
}
