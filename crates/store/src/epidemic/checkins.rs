//! Check-ins, written in batches.
//!
//! A quarantine site's morning round sends thousands of check-ins within minutes. One
//! transaction per check-in would make SQLite's single writer the bottleneck (a commit, a
//! WAL append and a lock hand-over each), so [`CheckinWriter`] queues the check-ins of all
//! requests and one task writes whatever has queued up in one transaction: one read of the
//! observations for the whole batch, multi-row inserts, one commit. Each caller gets its own
//! answer only after that commit, so an acknowledged check-in is stored. Under light load a
//! batch is a single check-in and nothing waits for a timer.
//!
//! On SQLite the writer opens a connection of its own, locks sqlx's worker thread out of it
//! while busy, and runs each batch directly on its raw handle ([`raw`]): one
//! `BEGIN IMMEDIATE`, per distinct observation one indexed lookup, per check-in one step of a
//! prepared INSERT, one commit — no hand-over through sqlx's worker thread per statement and
//! row. WAL checkpoints run beside it on a second connection, so their copying and fsync do
//! not stall the batches. PostgreSQL (and a SQLite database without a file) takes the generic
//! path through the pool; both paths apply the same rules ([`check`]) and write the same rows.

mod raw;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use linli_core::epidemic::observation::CheckinChannel;
use linli_core::epidemic::policy::Temperature;
use linli_core::kernel::clock::{display, format_date, parse_date};
use linli_core::kernel::labels::Labelled;
use linli_core::{JurisdictionPath, Scope};
use sqlx::Row;
use tokio::sync::{mpsc, oneshot};

use super::{internal, real_symptoms, CheckinInput, CheckinRecorded};
use crate::infra::db::Params;
use crate::{Db, StoreError};

/// At most this many check-ins per transaction (9 parameters each, 500 per statement).
const MAX_BATCH: usize = 2_000;
const ROWS_PER_STATEMENT: usize = 500;
/// Requests waiting beyond this many wait for room in the queue (back-pressure, not memory).
const QUEUE: usize = 8_192;
/// Check-ins written between two nudges of the checkpointer (about as many WAL pages).
const CHECKPOINT_EVERY: usize = 4_000;
/// How long an idle writer keeps its connection.
const KEEP_IDLE: std::time::Duration = std::time::Duration::from_millis(500);

/// One check-in to write, with the caller's scope and the time it was received (what "the
/// future" is judged against and the row's `recorded_at`: each job keeps its own, whichever
/// batch it lands in).
pub struct CheckinJob {
    pub scope: Scope,
    pub observation_id: i64,
    pub input: CheckinInput,
    pub now: i64,
    /// Who entered it: the API, a worker's round (代录) or the person's own link.
    pub channel: CheckinChannel,
}

struct Queued {
    job: CheckinJob,
    reply: oneshot::Sender<Result<CheckinRecorded, StoreError>>,
}

/// The batching writer. Cheap to clone; the writing task starts with the first check-in (it
/// needs a running Tokio runtime, which a caller of the async [`CheckinWriter::add`] has).
#[derive(Clone)]
pub struct CheckinWriter {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    tx: mpsc::Sender<Queued>,
    rx: Mutex<Option<mpsc::Receiver<Queued>>>,
}

impl CheckinWriter {
    pub fn new(db: Db) -> CheckinWriter {
        let (tx, rx) = mpsc::channel(QUEUE);
        CheckinWriter {
            inner: Arc::new(Inner {
                db,
                tx,
                rx: Mutex::new(Some(rx)),
            }),
        }
    }

    /// Records a check-in (the rules of [`super::add_checkin`]) and answers after its batch has
    /// committed.
    pub async fn add(&self, job: CheckinJob) -> Result<CheckinRecorded, StoreError> {
        self.start();
        let (reply, answer) = oneshot::channel();
        self.inner
            .tx
            .send(Queued { job, reply })
            .await
            .map_err(|_| StoreError::Internal("check-in writer stopped".into()))?;
        answer
            .await
            .map_err(|_| StoreError::Internal("check-in writer stopped".into()))?
    }

    fn start(&self) {
        let rx = match self.inner.rx.lock() {
            Ok(mut slot) => slot.take(),
            // A panic while holding this lock can only have happened after the take.
            Err(_) => None,
        };
        if let Some(rx) = rx {
            let db = self.inner.db.clone();
            // The writer gets a thread and a runtime of its own: on the shared runtime it waits
            // behind every connection's task at each of its awaits, and under load that
            // queueing, not the database, set the pace.
            let spawned = std::thread::Builder::new()
                .name("checkin-writer".into())
                .spawn(move || {
                    match tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                    {
                        Ok(rt) => rt.block_on(run(db, rx)),
                        Err(e) => tracing::error!(error = %e, "check-in writer: no runtime"),
                    }
                });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "check-in writer: no thread");
            }
        }
    }
}

async fn run(db: Db, mut rx: mpsc::Receiver<Queued>) {
    while let Some(first) = rx.recv().await {
        let first = match db.backend() {
            crate::Backend::Sqlite => match serve_sqlite(&db, &mut rx, first).await {
                None => continue,
                // No connection of its own: the generic path still works, slower.
                Some(first) => first,
            },
            crate::Backend::Postgres => first,
        };
        serve_pooled(&db, &mut rx, first).await;
    }
}

/// The next batch: `first` and whatever else has queued up.
fn take_batch(rx: &mut mpsc::Receiver<Queued>, first: Queued) -> Vec<Queued> {
    let mut batch = vec![first];
    while batch.len() < MAX_BATCH {
        match rx.try_recv() {
            Ok(q) => batch.push(q),
            Err(_) => break,
        }
    }
    batch
}

fn reply(batch: Vec<Queued>, results: Vec<Result<CheckinRecorded, StoreError>>) {
    for (q, result) in batch.into_iter().zip(results) {
        // The caller may have gone (client disconnected); the check-in is stored anyway.
        let _ = q.reply.send(result);
    }
}

/// The next job, or `None` when the writer has been idle for [`KEEP_IDLE`] or is stopped: an
/// idle writer gives its connection back (a pool being closed — shutdown, the end of a test —
/// waits for every connection, and would wait for a kept one forever).
async fn next_or_idle(rx: &mut mpsc::Receiver<Queued>) -> Option<Queued> {
    tokio::time::timeout(KEEP_IDLE, rx.recv())
        .await
        .ok()
        .flatten()
}

/// Writes batches on a pool connection kept while busy: its page cache stays warm between
/// batches (a pooled connection would often be one whose cache another connection's commit
/// had invalidated).
async fn serve_pooled(db: &Db, rx: &mut mpsc::Receiver<Queued>, first: Queued) {
    let mut kept: Option<sqlx::pool::PoolConnection<sqlx::Any>> = None;
    let mut next = Some(first);
    while let Some(first) = next.take() {
        let batch = take_batch(rx, first);
        let jobs: Vec<&CheckinJob> = batch.iter().map(|q| &q.job).collect();
        let results = match write_kept(db, &mut kept, &jobs).await {
            Ok(results) => results,
            Err(e) => {
                // The transaction failed as a whole (the database, not a row: rows are checked
                // before they are written). Write each alone so every caller gets its own
                // real answer.
                tracing::warn!(error = %e, size = jobs.len(), "check-in batch failed; writing one by one");
                let mut results = Vec::with_capacity(jobs.len());
                for job in &jobs {
                    results.push(single(write_kept(db, &mut kept, &[*job]).await));
                }
                results
            }
        };
        drop(jobs);
        reply(batch, results);
        next = next_or_idle(rx).await;
    }
}

fn single(
    written: Result<Vec<Result<CheckinRecorded, StoreError>>, StoreError>,
) -> Result<CheckinRecorded, StoreError> {
    match written {
        Ok(mut r) => r
            .pop()
            .unwrap_or_else(|| Err(StoreError::Internal("check-in batch lost a row".into()))),
        Err(e) => Err(e),
    }
}

/// Writes a batch on the kept pool connection (acquired when missing; dropped after an error,
/// so a broken connection is not reused).
async fn write_kept(
    db: &Db,
    kept: &mut Option<sqlx::pool::PoolConnection<sqlx::Any>>,
    jobs: &[&CheckinJob],
) -> Result<Vec<Result<CheckinRecorded, StoreError>>, StoreError> {
    let mut conn = match kept.take() {
        Some(c) => c,
        None => db.pool().acquire().await?,
    };
    let result = write_batch(db, &mut conn, jobs).await;
    if result.is_ok() {
        *kept = Some(conn);
    }
    result
}

/// On SQLite: opens a connection of the writer's own, locks sqlx's worker thread out of it for
/// as long as the writer stays busy (taking the lock costs a round trip to that thread, so it
/// is not taken per batch), and writes batches on its raw handle with statements prepared
/// once. Gives `first` back when there is no such connection.
async fn serve_sqlite(db: &Db, rx: &mut mpsc::Receiver<Queued>, first: Queued) -> Option<Queued> {
    // The writer's own automatic checkpoint is a safety net: under a steady stream the
    // checkpointer copies the pages but rarely catches up at the very moment the writer
    // begins, which is when the WAL could start over; at 20,000 pages (80 MB) the writer does
    // that, finding nearly every page already copied. (At 10,000 pages, with the WAL cut back
    // each time, the bench's p99 doubled.)
    let mut conn = match open_sqlite(db, "20000").await {
        Ok(Some(conn)) => conn,
        Ok(None) => return Some(first),
        Err(e) => {
            tracing::warn!(error = %e, "check-in writer: no SQLite connection of its own");
            return Some(first);
        }
    };
    let nudge = checkpointer(db).await;
    let rest = match conn.lock_handle().await {
        Ok(mut handle) => {
            serve_raw(&raw::Raw::new(&mut handle), rx, first, nudge.as_ref()).await;
            None
        }
        Err(e) => {
            tracing::warn!(error = %e, "check-in writer: cannot lock its SQLite connection");
            Some(first)
        }
    };
    let _ = sqlx::Connection::close(conn).await;
    rest
}

/// Checkpoints the WAL on a connection (and sqlx worker thread) of its own each time the
/// writer nudges it; ends when the writer drops the sender. Done by the writer itself, the copy
/// back into the database file and its fsync (tens of milliseconds) stopped every waiting
/// check-in, which set the bench's p99. PASSIVE: it never waits for, nor blocks, the writer.
async fn checkpointer(db: &Db) -> Option<mpsc::Sender<()>> {
    let mut conn = match open_sqlite(db, "1000").await {
        Ok(Some(conn)) => conn,
        Ok(None) => return None,
        Err(e) => {
            tracing::warn!(error = %e, "check-in writer: no checkpoint connection");
            return None;
        }
    };
    let (tx, mut nudged) = mpsc::channel::<()>(1);
    // On the writer's runtime: polled between batches, while the work runs on sqlx's thread.
    tokio::spawn(async move {
        while nudged.recv().await.is_some() {
            if let Err(e) =
                sqlx::Executor::execute(&mut conn, "PRAGMA wal_checkpoint(PASSIVE)").await
            {
                tracing::warn!(error = %e, "check-in writer: checkpoint failed");
            }
        }
        let _ = sqlx::Connection::close(conn).await;
    });
    Some(tx)
}

async fn serve_raw(
    raw: &raw::Raw<'_>,
    rx: &mut mpsc::Receiver<Queued>,
    first: Queued,
    nudge: Option<&mpsc::Sender<()>>,
) {
    let mut stmts = None;
    let mut written = 0;
    let mut next = Some(first);
    while let Some(first) = next.take() {
        let batch = take_batch(rx, first);
        let jobs: Vec<&CheckinJob> = batch.iter().map(|q| &q.job).collect();
        let (results, failed) = match write_batch_raw(raw, &mut stmts, &jobs) {
            Ok(results) => (results, false),
            Err(e) => {
                // As in serve_pooled; then the connection is closed and opened afresh.
                tracing::warn!(error = %e, size = jobs.len(), "check-in batch failed; writing one by one");
                stmts = None;
                let results = jobs
                    .iter()
                    .map(|job| single(write_batch_raw(raw, &mut stmts, &[*job])))
                    .collect();
                (results, true)
            }
        };
        drop(jobs);
        written += results.iter().filter(|r| r.is_ok()).count();
        if written >= CHECKPOINT_EVERY {
            // Full: a checkpoint is still under way; nudge again after the next batch.
            if nudge.is_some_and(|n| n.try_send(()).is_ok()) {
                written = 0;
            }
        }
        reply(batch, results);
        if failed {
            return;
        }
        next = next_or_idle(rx).await;
    }
}

/// Opens a connection of the writer's own on the pool's SQLite file, with the pool's settings
/// (see `Db::connect`); `None` for a database without a file (in memory).
async fn open_sqlite(
    db: &Db,
    autocheckpoint: &str,
) -> Result<Option<sqlx::sqlite::SqliteConnection>, StoreError> {
    use sqlx::sqlite::{SqliteConnectOptions, SqliteSynchronous};
    let file: String = sqlx::query("SELECT file FROM pragma_database_list WHERE name = 'main'")
        .fetch_one(db.pool())
        .await?
        .try_get(0)?;
    if file.is_empty() {
        return Ok(None);
    }
    let options = SqliteConnectOptions::new()
        .filename(&file)
        .busy_timeout(std::time::Duration::from_secs(5))
        .foreign_keys(true)
        .synchronous(SqliteSynchronous::Normal)
        .pragma("cache_size", "-65536")
        .pragma("temp_store", "MEMORY")
        .pragma("wal_autocheckpoint", autocheckpoint.to_owned())
        // A WAL grown past the safety net (a long reader kept it from starting over) is cut
        // back to 128 MB when it does; below that its file is reused as it is.
        .pragma("journal_size_limit", "134217728");
    Ok(Some(
        <sqlx::sqlite::SqliteConnection as sqlx::Connection>::connect_with(&options).await?,
    ))
}

/// What a check-in needs to know about its observation.
struct Target {
    person_id: i64,
    path: JurisdictionPath,
    person_path: JurisdictionPath,
    start: time::Date,
    until: time::Date,
    released: bool,
}

/// A check-in that passed the rules, ready to insert.
struct Accepted<'a> {
    job: usize,
    obs: i64,
    target: &'a Target,
    input: &'a CheckinInput,
    symptoms: Vec<String>,
    fever: bool,
    /// When the check-in was received.
    now: i64,
}

impl Accepted<'_> {
    /// The job's answer once it is stored as `id` (with the fever alert it raised, if any).
    fn recorded(&self, id: i64, alert_id: Option<i64>) -> CheckinRecorded {
        CheckinRecorded {
            id,
            observation_id: self.obs,
            alert_id,
        }
    }
}

/// Writes check-ins in one transaction: every job gets its answer (a rule broken by one job is
/// that job's error only); `Err` only when the transaction itself failed.
pub(crate) async fn write_batch(
    db: &Db,
    conn: &mut sqlx::AnyConnection,
    jobs: &[&CheckinJob],
) -> Result<Vec<Result<CheckinRecorded, StoreError>>, StoreError> {
    use sqlx::Connection;
    // The observations, read once for the batch and outside the transaction: on SQLite a
    // transaction that reads before it writes fails at once when another writer got in between.
    let mut ids: Vec<i64> = jobs.iter().map(|j| j.observation_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut targets: HashMap<i64, Target> = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(ROWS_PER_STATEMENT) {
        let mut params = Params::new();
        let list: Vec<String> = chunk.iter().map(|id| params.int(*id)).collect();
        let rows = params
            .bind(sqlx::query(&format!(
                "SELECT o.id, o.person_id, o.node_path, o.start_on, o.until_on, o.released_on, p.node_path \
                 FROM observation o JOIN person p ON p.id = o.person_id WHERE o.id IN ({})",
                list.join(", ")
            )))
            .fetch_all(&mut *conn)
            .await?;
        for r in rows {
            let id: i64 = r.try_get(0)?;
            targets.insert(
                id,
                Target {
                    person_id: r.try_get(1)?,
                    path: JurisdictionPath::parse(&r.try_get::<String, _>(2)?).map_err(internal)?,
                    start: parse_date("start_on", &r.try_get::<String, _>(3)?).map_err(internal)?,
                    until: parse_date("until_on", &r.try_get::<String, _>(4)?).map_err(internal)?,
                    released: r.try_get::<Option<String>, _>(5)?.is_some(),
                    person_path: JurisdictionPath::parse(&r.try_get::<String, _>(6)?)
                        .map_err(internal)?,
                },
            );
        }
    }

    let (mut results, accepted) = judge(jobs, |id| targets.get(&id));

    if !accepted.is_empty() {
        let mut tx = conn.begin().await?;
        for part in accepted.chunks(ROWS_PER_STATEMENT) {
            let mut params = Params::for_bulk(db.backend());
            let mut values = Vec::with_capacity(part.len());
            for a in part {
                values.push(format!(
                    "({}, {}, {}, {}, {}, {}, {}, {}, {})",
                    params.int(a.obs),
                    params.int(a.target.path.root_id()),
                    params.text(a.target.path.as_str()),
                    params.int(a.input.at),
                    params.opt_int(tenths(a.input.temperature)),
                    params.text(symptoms_json(&a.symptoms)),
                    params.text(jobs[a.job].scope.actor()),
                    params.int(a.now),
                    params.text(jobs[a.job].channel.as_str()),
                ));
            }
            let insert = format!(
                "INSERT INTO checkin (observation_id, district_id, node_path, at, temperature_tenths, \
                 symptoms_json, recorded_by, recorded_at, channel) VALUES {}",
                values.join(", ")
            );
            let mut ids = match db.backend() {
                // SQLite gives the rows of one INSERT consecutive rowids (max(rowid)+1 each,
                // under its single writer), so the last id names them all — and no row has to
                // come back through the driver's per-row channel (a profile showed that cost).
                crate::Backend::Sqlite => {
                    params.bind(sqlx::query(&insert)).execute(&mut *tx).await?;
                    // (sqlx's `Any` result does not carry SQLite's last rowid: ask for it.)
                    let last: i64 = sqlx::query("SELECT last_insert_rowid()")
                        .fetch_one(&mut *tx)
                        .await?
                        .try_get(0)?;
                    let first = last + 1 - part.len() as i64;
                    (first..=last).collect::<Vec<i64>>()
                }
                // PostgreSQL numbers the rows of one INSERT in the order of its VALUES (nextval
                // row by row) but not consecutively under concurrent writers: ask for them.
                crate::Backend::Postgres => params
                    .bind(sqlx::query(&format!("{insert} RETURNING id")))
                    .fetch_all(&mut *tx)
                    .await?
                    .iter()
                    .map(|r| r.try_get::<i64, _>(0))
                    .collect::<Result<Vec<_>, _>>()?,
            };
            if ids.len() != part.len() {
                return Err(StoreError::Internal(format!(
                    "inserted {} check-ins, expected {}",
                    ids.len(),
                    part.len()
                )));
            }
            ids.sort_unstable();
            for (a, id) in part.iter().zip(ids) {
                let alert_id = if a.fever {
                    Some(raise_fever(&mut tx, a).await?)
                } else {
                    None
                };
                results[a.job] = Some(Ok(a.recorded(id, alert_id)));
            }
        }
        tx.commit().await?;
    }
    Ok(finish(results))
}

/// The rules a check-in must meet: visible and writable by the caller, observation open, `at`
/// inside its period (China dates, both ends included) and not in the future.
fn check<'a>(job: &CheckinJob, target: Option<&'a Target>) -> Result<&'a Target, StoreError> {
    let target = target.ok_or(StoreError::NotFound)?;
    if !job.scope.can_read(&target.path) {
        return Err(StoreError::NotFound);
    }
    if !job.scope.can_write_records(&target.path) {
        return Err(StoreError::Forbidden("您的角色不能登记健康打卡".into()));
    }
    if target.released {
        return Err(StoreError::invalid(
            "observation_id",
            "该医学观察已解除，不能再打卡",
        ));
    }
    // A minute of clock skew between a phone and the server is not "the future".
    if job.input.at > job.now + 60_000 {
        return Err(StoreError::invalid("at", "打卡时间不能晚于现在"));
    }
    let day = linli_core::kernel::clock::date_of(job.input.at);
    if day < target.start || day > target.until {
        return Err(StoreError::invalid(
            "at",
            format!(
                "打卡日期 {} 不在观察期 {} 至 {} 之内",
                format_date(day),
                format_date(target.start),
                format_date(target.until)
            ),
        ));
    }
    Ok(target)
}

/// Applies the rules to every job: the refused get their answer now, the accepted are returned
/// to be written (with the answer's place).
#[allow(clippy::type_complexity)]
fn judge<'a>(
    jobs: &[&'a CheckinJob],
    targets: impl Fn(i64) -> Option<&'a Target>,
) -> (
    Vec<Option<Result<CheckinRecorded, StoreError>>>,
    Vec<Accepted<'a>>,
) {
    let mut results: Vec<Option<Result<CheckinRecorded, StoreError>>> =
        (0..jobs.len()).map(|_| None).collect();
    let mut accepted = Vec::with_capacity(jobs.len());
    for (i, job) in jobs.iter().enumerate() {
        match check(job, targets(job.observation_id)) {
            Ok(target) => {
                let symptoms = real_symptoms(&job.input.symptoms);
                let fever =
                    job.input.temperature.is_some_and(|t| t.is_fever()) || !symptoms.is_empty();
                accepted.push(Accepted {
                    job: i,
                    obs: job.observation_id,
                    target,
                    input: &job.input,
                    symptoms,
                    fever,
                    now: job.now,
                });
            }
            Err(e) => results[i] = Some(Err(e)),
        }
    }
    (results, accepted)
}

fn finish(
    results: Vec<Option<Result<CheckinRecorded, StoreError>>>,
) -> Vec<Result<CheckinRecorded, StoreError>> {
    results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(StoreError::Internal("check-in not judged".into()))))
        .collect()
}

fn symptoms_json(symptoms: &[String]) -> String {
    if symptoms.is_empty() {
        return "[]".into();
    }
    serde_json::to_string(symptoms).unwrap_or_else(|_| "[]".into())
}

fn tenths(t: Option<Temperature>) -> Option<i64> {
    t.map(|t| i64::from(t.tenths()))
}

/// What a fever alert says about the check-in that raised it.
fn fever_detail(a: &Accepted<'_>) -> String {
    let mut said = Vec::new();
    if let Some(t) = a.input.temperature.filter(|t| t.is_fever()) {
        said.push(format!("体温 {:.1}℃", t.celsius()));
    }
    if !a.symptoms.is_empty() {
        said.push(format!("症状：{}", a.symptoms.join("、")));
    }
    format!("打卡（{}）{}", display(a.input.at), said.join("；"))
}

async fn raise_fever(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    a: &Accepted<'_>,
) -> Result<i64, StoreError> {
    let row = sqlx::query(
        "INSERT INTO alert (kind, person_id, observation_id, arrival_id, district_id, node_path, raised_at, detail) \
         VALUES ('fever', $1, $2, NULL, $3, $4, $5, $6) RETURNING id",
    )
    .bind(a.target.person_id)
    .bind(a.obs)
    .bind(a.target.person_path.root_id())
    .bind(a.target.person_path.as_str())
    .bind(a.now)
    .bind(fever_detail(a))
    .fetch_one(&mut **tx)
    .await?;
    Ok(row.try_get(0)?)
}

/// The statements of the raw path, prepared once per connection.
struct Statements<'c> {
    lookup: raw::Stmt<'c>,
    insert: raw::Stmt<'c>,
    alert: raw::Stmt<'c>,
}

impl<'c> Statements<'c> {
    fn prepare(raw: &'c raw::Raw<'c>) -> Result<Statements<'c>, StoreError> {
        Ok(Statements {
            lookup: raw.prepare(
                c"SELECT o.person_id, o.node_path, o.start_on, o.until_on, o.released_on, p.node_path \
                  FROM observation o JOIN person p ON p.id = o.person_id WHERE o.id = ?1",
            )?,
            insert: raw.prepare(
                c"INSERT INTO checkin (observation_id, district_id, node_path, at, temperature_tenths, \
                  symptoms_json, recorded_by, recorded_at, channel) \
                  VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?,
            alert: raw.prepare(
                c"INSERT INTO alert (kind, person_id, observation_id, arrival_id, district_id, \
                  node_path, raised_at, detail) VALUES ('fever', ?1, ?2, NULL, ?3, ?4, ?5, ?6)",
            )?,
        })
    }
}

/// [`write_batch`] on SQLite's raw handle: the same rules and the same rows, in one
/// `BEGIN IMMEDIATE` transaction. The observations are read inside it — the write lock is held
/// from its start, so no release or purge can come between the check and the insert.
fn write_batch_raw<'c>(
    raw: &'c raw::Raw<'c>,
    stmts: &mut Option<Statements<'c>>,
    jobs: &[&CheckinJob],
) -> Result<Vec<Result<CheckinRecorded, StoreError>>, StoreError> {
    let stmts = match stmts {
        Some(s) => s,
        None => stmts.insert(Statements::prepare(raw)?),
    };
    raw.exec(c"BEGIN IMMEDIATE")?;
    let written = write_in_transaction(raw, stmts, jobs).and_then(|results| {
        raw.exec(c"COMMIT")?;
        Ok(results)
    });
    if written.is_err() && raw.in_transaction() {
        // Nothing of a failed batch is kept; its callers are answered one by one.
        let _ = raw.exec(c"ROLLBACK");
    }
    written
}

fn write_in_transaction(
    raw: &raw::Raw<'_>,
    stmts: &mut Statements<'_>,
    jobs: &[&CheckinJob],
) -> Result<Vec<Result<CheckinRecorded, StoreError>>, StoreError> {
    let mut targets: HashMap<i64, Option<Target>> = HashMap::with_capacity(jobs.len());
    let lookup = &mut stmts.lookup;
    for job in jobs {
        let id = job.observation_id;
        if targets.contains_key(&id) {
            continue;
        }
        lookup.bind_int(1, id)?;
        let found = lookup.step().and_then(|row| {
            if !row {
                return Ok(None);
            }
            let text = |col| {
                lookup.text(col)?.ok_or_else(|| {
                    StoreError::Internal(format!("observation {id}: column {col} is NULL"))
                })
            };
            Ok(Some(Target {
                person_id: lookup.int(0)?,
                path: JurisdictionPath::parse(&text(1)?).map_err(internal)?,
                start: parse_date("start_on", &text(2)?).map_err(internal)?,
                until: parse_date("until_on", &text(3)?).map_err(internal)?,
                released: lookup.text(4)?.is_some(),
                person_path: JurisdictionPath::parse(&text(5)?).map_err(internal)?,
            }))
        });
        // Reset at once, also after an error: a statement left on a row keeps its snapshot.
        lookup.reset();
        targets.insert(id, found?);
    }

    let (mut results, accepted) = judge(jobs, |id| targets.get(&id).and_then(Option::as_ref));
    for a in &accepted {
        let insert = &mut stmts.insert;
        insert.bind_int(1, a.obs)?;
        insert.bind_int(2, a.target.path.root_id())?;
        insert.bind_text(3, a.target.path.as_str())?;
        insert.bind_int(4, a.input.at)?;
        insert.bind_opt_int(5, tenths(a.input.temperature))?;
        insert.bind_text(6, &symptoms_json(&a.symptoms))?;
        insert.bind_text(7, jobs[a.job].scope.actor())?;
        insert.bind_int(8, a.now)?;
        insert.bind_text(9, jobs[a.job].channel.as_str())?;
        let stepped = insert.step();
        insert.reset();
        stepped?;
        let id = raw.last_insert_rowid();
        let alert_id = if a.fever {
            let alert = &mut stmts.alert;
            alert.bind_int(1, a.target.person_id)?;
            alert.bind_int(2, a.obs)?;
            alert.bind_int(3, a.target.person_path.root_id())?;
            alert.bind_text(4, a.target.person_path.as_str())?;
            alert.bind_int(5, a.now)?;
            alert.bind_text(6, &fever_detail(a))?;
            let stepped = alert.step();
            alert.reset();
            stepped?;
            Some(raw.last_insert_rowid())
        } else {
            None
        };
        results[a.job] = Some(Ok(a.recorded(id, alert_id)));
    }
    Ok(finish(results))
}
