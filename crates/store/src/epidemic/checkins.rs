//! Check-ins, written in batches.
//!
//! A quarantine site's morning round sends thousands of check-ins within minutes. One
//! transaction per check-in would make SQLite's single writer the bottleneck (a commit, a
//! WAL append and a lock hand-over each), so [`CheckinWriter`] queues the check-ins of all
//! requests and one task writes whatever has queued up in one transaction: one read of the
//! observations for the whole batch, multi-row inserts, one commit. Each caller gets its own
//! answer only after that commit, so an acknowledged check-in is stored. Under light load a
//! batch is a single check-in and nothing waits for a timer.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use linli_core::clock::{display, format_date, now_ms, parse_date};
use linli_core::{JurisdictionPath, Scope};
use sqlx::Row;
use tokio::sync::{mpsc, oneshot};

use super::{internal, real_symptoms, CheckinInput, CheckinRecorded};
use crate::db::Params;
use crate::{Db, StoreError};

/// At most this many check-ins per transaction (8 parameters each, 500 per statement).
const MAX_BATCH: usize = 2_000;
const ROWS_PER_STATEMENT: usize = 500;
/// Requests waiting beyond this many wait for room in the queue (back-pressure, not memory).
const QUEUE: usize = 8_192;
/// How long an idle writer keeps its connection.
const KEEP_IDLE: std::time::Duration = std::time::Duration::from_millis(500);

/// One check-in to write, with the caller's scope.
pub struct CheckinJob {
    pub scope: Scope,
    pub observation_id: i64,
    pub input: CheckinInput,
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
    // One connection kept for the writer: its page cache stays warm between batches (a pooled
    // connection would often be one whose cache another connection's commit had invalidated).
    let mut kept: Option<sqlx::pool::PoolConnection<sqlx::Any>> = None;
    loop {
        // An idle writer gives its connection back: a pool being closed (shutdown, the end of a
        // test) waits for every connection, and would wait for a kept one forever.
        let next = if kept.is_some() {
            match tokio::time::timeout(KEEP_IDLE, rx.recv()).await {
                Ok(next) => next,
                Err(_) => {
                    kept = None;
                    continue;
                }
            }
        } else {
            rx.recv().await
        };
        let Some(first) = next else { break };
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(q) => batch.push(q),
                Err(_) => break,
            }
        }
        let jobs: Vec<&CheckinJob> = batch.iter().map(|q| &q.job).collect();
        let results = match write_kept(&db, &mut kept, &jobs).await {
            Ok(results) => results,
            Err(e) => {
                // The transaction failed as a whole (the database, not a row: rows are checked
                // before it). Write each alone so every caller gets its own real answer.
                tracing::warn!(error = %e, size = jobs.len(), "check-in batch failed; writing one by one");
                let mut results = Vec::with_capacity(jobs.len());
                for job in &jobs {
                    results.push(match write_kept(&db, &mut kept, &[*job]).await {
                        Ok(mut r) => r.pop().unwrap_or_else(|| {
                            Err(StoreError::Internal("check-in batch lost a row".into()))
                        }),
                        Err(e) => Err(e),
                    });
                }
                results
            }
        };
        for (q, result) in batch.into_iter().zip(results) {
            // The caller may have gone (client disconnected); the check-in is stored anyway.
            let _ = q.reply.send(result);
        }
    }
}

/// Writes a batch on the kept connection (acquired when missing; dropped after an error, so a
/// broken connection is not reused).
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

    let now = now_ms();
    let mut results: Vec<Option<Result<CheckinRecorded, StoreError>>> =
        (0..jobs.len()).map(|_| None).collect();
    let mut accepted = Vec::with_capacity(jobs.len());
    for (i, job) in jobs.iter().enumerate() {
        match check(job, targets.get(&job.observation_id), now) {
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
                });
            }
            Err(e) => results[i] = Some(Err(e)),
        }
    }

    if !accepted.is_empty() {
        let mut tx = conn.begin().await?;
        for part in accepted.chunks(ROWS_PER_STATEMENT) {
            let mut params = Params::for_bulk(db.backend());
            let mut values = Vec::with_capacity(part.len());
            for a in part {
                values.push(format!(
                    "({}, {}, {}, {}, {}, {}, {}, {})",
                    params.int(a.obs),
                    params.int(a.target.path.root_id()),
                    params.text(a.target.path.as_str()),
                    params.int(a.input.at),
                    params.opt_int(a.input.temperature.map(|t| i64::from(t.tenths()))),
                    params.text(serde_json::to_string(&a.symptoms).unwrap_or_else(|_| "[]".into())),
                    params.text(jobs[a.job].scope.actor()),
                    params.int(now),
                ));
            }
            let insert = format!(
                "INSERT INTO checkin (observation_id, district_id, node_path, at, temperature_tenths, \
                 symptoms_json, recorded_by, recorded_at) VALUES {}",
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
                results[a.job] = Some(Ok(CheckinRecorded {
                    id,
                    observation_id: a.obs,
                    alert_id,
                }));
            }
        }
        tx.commit().await?;
    }
    Ok(results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(StoreError::Internal("check-in not judged".into()))))
        .collect())
}

/// The rules a check-in must meet: visible and writable by the caller, observation open, `at`
/// inside its period (China dates, both ends included) and not in the future.
fn check<'a>(
    job: &CheckinJob,
    target: Option<&'a Target>,
    now: i64,
) -> Result<&'a Target, StoreError> {
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
    if job.input.at > now + 60_000 {
        return Err(StoreError::invalid("at", "打卡时间不能晚于现在"));
    }
    let day = linli_core::clock::date_of(job.input.at);
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

async fn raise_fever(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    a: &Accepted<'_>,
) -> Result<i64, StoreError> {
    let mut said = Vec::new();
    if let Some(t) = a.input.temperature.filter(|t| t.is_fever()) {
        said.push(format!("体温 {:.1}℃", t.celsius()));
    }
    if !a.symptoms.is_empty() {
        said.push(format!("症状：{}", a.symptoms.join("、")));
    }
    let detail = format!("打卡（{}）{}", display(a.input.at), said.join("；"));
    let row = sqlx::query(
        "INSERT INTO alert (kind, person_id, observation_id, arrival_id, district_id, node_path, raised_at, detail) \
         VALUES ('fever', $1, $2, NULL, $3, $4, $5, $6) RETURNING id",
    )
    .bind(a.target.person_id)
    .bind(a.obs)
    .bind(a.target.person_path.root_id())
    .bind(a.target.person_path.as_str())
    .bind(now_ms())
    .bind(detail)
    .fetch_one(&mut **tx)
    .await?;
    Ok(row.try_get(0)?)
}
