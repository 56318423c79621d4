//! Roster import on the web: upload a spreadsheet, see every row's verdict before anything is
//! stored (a dry run), then confirm; the import runs in the background with a progress page.
//!
//! The upload is kept in memory in a small job table (`ImportJobs`), keyed by a random token
//! and owned by the account that uploaded it; another account's job is a 404. Judging is the
//! same as `linli import` (`linli_core::registry::import_job::Judge`), and storing goes through the same
//! `PersonImport` transaction: a failure or a rejected row in non-partial mode stores nothing.

use linli_core::kernel::clock::now_ms;
use linli_core::kernel::labels::Labelled;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use askama::Template;
use askama_web::WebTemplate;
use axum::body::Bytes;
use axum::extract::multipart::{Multipart, MultipartRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use linli_core::registry::import_job::{
    judge_source, Counts, Judge, Judged, Outcome, RejectedRow, RosterSource,
};
use linli_core::{kernel::clock, CoreError};
use linli_store::accounts::Principal;
use linli_store::registry::{self, OnDuplicate, PersonImport};
use linli_store::{tree, StoreError};
use serde::{Deserialize, Serialize};

use crate::auth::{csrf_ok, csrf_refused};
use crate::auth::{CsrfForm, PageUser};
use crate::ui::xlsx_response;
use crate::ui::Choice;
use crate::ui::{error_page, field_label, form_errors, store_error_page, Shell};
use crate::AppState;

/// The largest upload accepted (the whole request, with the form's other fields).
pub const MAX_UPLOAD_BYTES: usize = 64 * 1024 * 1024;
/// How long an upload waits for its confirmation, and a finished job stays to be looked at.
const JOB_TTL: Duration = Duration::from_secs(30 * 60);
/// Jobs kept at once, in all and per account, and the bytes their uploads may hold together.
const MAX_JOBS: usize = 32;
const MAX_JOBS_PER_USER: usize = 3;
const MAX_JOB_BYTES: usize = 256 * 1024 * 1024;
/// Problem rows listed on the preview page (all of them are in the file of rejected rows).
const PREVIEW_PROBLEMS: usize = 200;
/// Judged rows handed from the reading thread to the storing side at a time.
const CHUNK_ROWS: usize = 2000;

/// The import pages. The upload route takes large bodies; `upload_router` carries it with its
/// own limit, and the application puts the global 2 MB limit on the others only.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/persons/import", get(import_page))
        .route("/persons/template.xlsx", get(template))
        .route("/persons/import/{job}", get(job_page))
        .route("/persons/import/{job}/status", get(job_status))
        .route("/persons/import/{job}/rejects.xlsx", get(rejects))
        .route("/persons/import/{job}/commit", post(commit))
        .route("/static/import.js", get(script))
}

/// `POST /persons/import` (multipart), with a body limit of [`MAX_UPLOAD_BYTES`].
pub fn upload_router() -> Router<AppState> {
    Router::new()
        .route("/persons/import", post(upload))
        .layer(DefaultBodyLimit::max(MAX_UPLOAD_BYTES))
}

// ---------------------------------------------------------------------------------------------
// The job table

/// What the dry run found.
pub struct Preview {
    /// `CSV（GB18030 编码）` or `xlsx 工作表「花名册」`.
    source: String,
    counts: Counts,
    ignored: Vec<String>,
    /// The first problem rows (rejected, flagged, duplicate), masked: reasons never quote a
    /// whole ID number.
    problems: Vec<ProblemRow>,
    /// The rejected rows as an xlsx to fix and import again, when there are any.
    rejects_xlsx: Option<Vec<u8>>,
    /// The building and unit nodes the import would make, each with the node it goes under
    /// (「7栋（属甲网格）」): the import's own landing, run without writing.
    homes: Vec<String>,
}

struct ProblemRow {
    sheet_row: usize,
    outcome: &'static str,
    outcome_class: &'static str,
    field: String,
    reason: String,
}

/// What a finished import did.
#[derive(Clone)]
struct Done {
    counts: Counts,
    stored: usize,
    updated: usize,
    duplicates: usize,
    dwellings_created: usize,
    households_created: usize,
    /// Building and unit nodes the roster named that were made, each with the node it went
    /// under (「7栋（属甲网格）」).
    homes_created: Vec<String>,
    /// Rooms left on the import's node: their building number is not unique below it.
    rooms_unplaced: usize,
}

#[derive(Clone)]
enum Phase {
    Previewed,
    Running,
    Done(Done),
    Failed(String),
}

impl Phase {
    fn as_str(&self) -> &'static str {
        match self {
            Phase::Previewed => "previewed",
            Phase::Running => "running",
            Phase::Done(_) => "done",
            Phase::Failed(_) => "failed",
        }
    }
}

/// How to store: chosen on the upload form, confirmed on the preview page.
#[derive(Clone, Copy)]
struct Options {
    on_duplicate: OnDuplicate,
    partial: bool,
}

struct JobState {
    phase: Phase,
    options: Options,
    /// The upload, until the import has run (counted against the memory bound meanwhile).
    bytes: Option<Bytes>,
    /// When it last changed; the job expires [`JOB_TTL`] after that unless it is running.
    touched: Instant,
}

/// One upload: its options, its dry run, and what became of it.
pub struct Job {
    id: String,
    owner: i64,
    file_name: String,
    node_id: i64,
    node_name: String,
    preview: Preview,
    /// Rows handled by the storing side so far.
    processed: AtomicUsize,
    state: Mutex<JobState>,
}

impl Job {
    fn lock(&self) -> MutexGuard<'_, JobState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Memory the job holds (the upload and the file of rejected rows).
    fn weight(&self) -> usize {
        let upload = self.lock().bytes.as_ref().map_or(0, Bytes::len);
        upload + self.preview.rejects_xlsx.as_ref().map_or(0, Vec::len)
    }

    fn running(&self) -> bool {
        matches!(self.lock().phase, Phase::Running)
    }

    fn expired(&self, now: Instant) -> bool {
        let s = self.lock();
        !matches!(s.phase, Phase::Running) && now.duration_since(s.touched) > JOB_TTL
    }

    fn finish(&self, phase: Phase) {
        let mut s = self.lock();
        s.phase = phase;
        s.bytes = None;
        s.touched = Instant::now();
    }
}

/// The uploads waiting for confirmation and the imports running or just done, in memory: an
/// upload is worth keeping only for the half hour its uploader looks at it, and a restart
/// simply asks for the file again (a running import rolls back).
#[derive(Default)]
pub struct ImportJobs {
    jobs: Mutex<HashMap<String, Arc<Job>>>,
}

impl ImportJobs {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Arc<Job>>> {
        self.jobs.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The job, if it exists and belongs to `user` (anyone else's is as good as missing).
    fn get(&self, id: &str, user: &Principal) -> Option<Arc<Job>> {
        let mut jobs = self.lock();
        sweep(&mut jobs);
        jobs.get(id)
            .filter(|j| j.owner == user.user.id)
            .map(Arc::clone)
    }

    /// Keeps a new job, making room by dropping the owner's oldest jobs beyond their share and
    /// then anyone's oldest finished or unconfirmed ones; refuses when only running imports are
    /// left to drop.
    fn insert(&self, job: Job) -> Option<Arc<Job>> {
        let job = Arc::new(job);
        let mut jobs = self.lock();
        sweep(&mut jobs);
        let mut mine: Vec<(Instant, String)> = jobs
            .values()
            .filter(|j| j.owner == job.owner && !j.running())
            .map(|j| (j.lock().touched, j.id.clone()))
            .collect();
        mine.sort();
        while mine.len() >= MAX_JOBS_PER_USER {
            let (_, id) = mine.remove(0);
            jobs.remove(&id);
        }
        let incoming = job.weight();
        loop {
            let bytes: usize = jobs.values().map(|j| j.weight()).sum();
            if jobs.len() < MAX_JOBS && bytes + incoming <= MAX_JOB_BYTES {
                break;
            }
            let oldest = jobs
                .values()
                .filter(|j| !j.running())
                .min_by_key(|j| j.lock().touched)
                .map(|j| j.id.clone());
            match oldest {
                Some(id) => {
                    jobs.remove(&id);
                }
                None => return None,
            }
        }
        jobs.insert(job.id.clone(), Arc::clone(&job));
        Some(job)
    }
}

fn sweep(jobs: &mut HashMap<String, Arc<Job>>) {
    let now = Instant::now();
    jobs.retain(|_, j| !j.expired(now));
}

// ---------------------------------------------------------------------------------------------
// Reading and judging (the same for the dry run and the import)

/// What the reader learnt about the file.
struct Source {
    description: String,
    header_rows: Vec<Vec<String>>,
    ignored: Vec<String>,
}

/// Reads the upload row by row, judging as it goes (`import_job::judge_source`, as the CLI
/// does), and hands the judged rows to `on_chunk` in chunks; `on_chunk` returns `false` to stop
/// early (the storing side failed).
fn read_and_judge(
    bytes: &[u8],
    judge: Judge,
    on_chunk: impl FnMut(Judged) -> bool,
) -> Result<Source, CoreError> {
    let info = judge_source(RosterSource::Bytes(bytes), judge, CHUNK_ROWS, on_chunk)?;
    let description = match (&info.sheet, info.encoding) {
        (Some((format, name)), _) => format!("{} 工作表「{name}」", format.as_str()),
        (None, Some("GB18030")) => "CSV（GBK/GB18030 编码）".to_owned(),
        (None, encoding) => format!("CSV（{} 编码）", encoding.unwrap_or("UTF-8")),
    };
    Ok(Source {
        description,
        header_rows: info.header_rows,
        ignored: info.ignored,
    })
}

/// A roster field's name as the preview shows it (a person's `name` is 姓名).
fn person_field(field: &str) -> &str {
    match field {
        "name" => "姓名",
        "header" => "表头",
        other => field_label(other),
    }
}

fn add_counts(total: &mut Counts, c: Counts) {
    total.rows += c.rows;
    total.accepted += c.accepted;
    total.flagged += c.flagged;
    total.rejected += c.rejected;
    total.duplicate += c.duplicate;
}

fn outcome_class(o: Outcome) -> &'static str {
    match o {
        Outcome::Accepted => "ok",
        Outcome::Flagged => "flag",
        Outcome::Rejected => "bad",
        Outcome::Duplicate => "dup",
    }
}

/// Why a dry run gave no preview.
enum PreviewFailure {
    /// The file cannot be read (or passes a limit of `registry::limits`).
    File(CoreError),
    /// What the import itself would answer (a registered ID number with 重复时 = 报错), or a
    /// store failure, as one line.
    Store(String),
    Internal,
}

/// The dry run: every row judged, by the file and against the registry, as the import will
/// judge it (`PersonImport::dry_run`: the import's own duplicate checks, writing nothing).
/// Rows with a rejected one are still checked against the registry, so the preview also says
/// what 部分导入 would store.
async fn dry_run(
    state: &AppState,
    user: &Principal,
    node_id: i64,
    on_duplicate: OnDuplicate,
    bytes: Bytes,
    judge: Judge,
) -> Result<Preview, PreviewFailure> {
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<Judged>(4);
    let reader = tokio::task::spawn_blocking(move || {
        read_and_judge(&bytes, judge, |chunk| sender.blocking_send(chunk).is_ok())
    });
    let mut check = PersonImport::dry_run(&state.db, &user.scope, node_id, on_duplicate)
        .await
        .map_err(|e| PreviewFailure::Store(failure_text(e)))?;
    let mut counts = Counts::default();
    let mut problems = Vec::new();
    let mut rejected: Vec<RejectedRow> = Vec::new();
    while let Some(mut chunk) = receiver.recv().await {
        let before = (
            check.outcome().duplicates.len(),
            check.outcome().updated.len(),
        );
        check
            .add(std::mem::take(&mut chunk.rows), now_ms())
            .await
            .map_err(|e| PreviewFailure::Store(failure_text(e)))?;
        let outcome = check.outcome();
        let lines = &mut chunk.lines;
        for (row, existing) in outcome.duplicates.iter().skip(before.0) {
            if let Ok(k) = lines.binary_search_by_key(row, |l| l.row) {
                lines[k].registered(*existing);
            }
        }
        for (row, id) in outcome.updated.iter().skip(before.1) {
            if let Ok(k) = lines.binary_search_by_key(row, |l| l.row) {
                lines[k].updated(*id);
            }
        }
        add_counts(&mut counts, Counts::of(&chunk.lines));
        for l in &chunk.lines {
            if l.outcome == Outcome::Accepted || problems.len() >= PREVIEW_PROBLEMS {
                continue;
            }
            let reason = l.reason.clone().unwrap_or_default();
            problems.push(ProblemRow {
                sheet_row: l.sheet_row,
                outcome: l.outcome.label_zh(),
                outcome_class: outcome_class(l.outcome),
                field: l
                    .field
                    .as_deref()
                    .map(person_field)
                    .unwrap_or("")
                    .to_owned(),
                reason,
            });
        }
        rejected.extend(chunk.rejected);
    }
    let source = match reader.await {
        Ok(Ok(source)) => source,
        Ok(Err(e)) => return Err(PreviewFailure::File(e)),
        Err(e) => {
            tracing::error!(error = %e, "import preview panicked");
            return Err(PreviewFailure::Internal);
        }
    };
    let rejects_xlsx = if rejected.is_empty() {
        None
    } else {
        Some(
            linli_core::registry::import_job::rejected_rows_xlsx(&source.header_rows, &rejected)
                .map_err(PreviewFailure::File)?,
        )
    };
    let homes = check
        .outcome()
        .homes_created
        .iter()
        .map(ToString::to_string)
        .collect();
    Ok(Preview {
        source: source.description,
        counts,
        ignored: source.ignored,
        problems,
        rejects_xlsx,
        homes,
    })
}

/// The import proper: the file judged again (so nothing from the preview is trusted) and the
/// good rows stored in one transaction, while `job.processed` counts the rows handled.
async fn run_import(
    state: &AppState,
    user: &Principal,
    job: &Job,
    options: Options,
    bytes: Bytes,
) -> Phase {
    match import(state, user, job, options, bytes).await {
        Ok(done) => Phase::Done(done),
        Err(e) => Phase::Failed(e),
    }
}

/// A store failure as one line for the page (internal errors are logged, not shown).
fn failure_text(e: StoreError) -> String {
    match form_errors(e) {
        Ok(lines) => lines.join("；"),
        Err(StoreError::NotFound) => "未找到导入的节点，或它不在您的辖区内。".to_owned(),
        Err(StoreError::Forbidden(m)) => format!("无权执行此操作：{m}。"),
        Err(other) => {
            tracing::error!(error = %other, "web import failed");
            "系统内部错误，未保存任何数据；请稍后重试。".to_owned()
        }
    }
}

async fn import(
    state: &AppState,
    user: &Principal,
    job: &Job,
    options: Options,
    bytes: Bytes,
) -> Result<Done, String> {
    let tags = registry::tags(&state.db).await.map_err(failure_text)?;
    let judge = Judge::new(clock::today(), tags);
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<Judged>(4);
    let reader = tokio::task::spawn_blocking(move || {
        read_and_judge(&bytes, judge, |chunk| sender.blocking_send(chunk).is_ok())
    });
    let mut store = PersonImport::begin(&state.db, &user.scope, job.node_id, options.on_duplicate)
        .await
        .map_err(failure_text)?;
    let mut counts = Counts::default();
    while let Some(chunk) = receiver.recv().await {
        let c = Counts::of(&chunk.lines);
        add_counts(&mut counts, c);
        if c.rejected > 0 && !options.partial {
            // Dropping the import rolls it back; dropping the receiver stops the reader.
            return Err(format!(
                "第 {} 行等 {} 行被拒绝，未保存任何数据（勾选「部分导入」可只导入其余各行）。",
                chunk
                    .lines
                    .iter()
                    .find(|l| l.outcome == Outcome::Rejected)
                    .map_or(0, |l| l.sheet_row),
                c.rejected
            ));
        }
        store
            .add(chunk.rows, now_ms())
            .await
            .map_err(failure_text)?;
        job.processed
            .fetch_add(chunk.lines.len(), Ordering::Relaxed);
    }
    match reader.await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => return Err(format!("文件无法读取：{}，未保存任何数据。", e.message)),
        Err(_) => return Err("读取文件时出错，未保存任何数据。".to_owned()),
    }
    let outcome = store
        .commit(&job.file_name, serde_json::json!(counts), now_ms())
        .await
        .map_err(failure_text)?;
    Ok(Done {
        counts,
        stored: outcome.stored_count,
        updated: outcome.updated.len(),
        duplicates: outcome.duplicates.len(),
        dwellings_created: outcome.dwellings_created,
        households_created: outcome.households_created,
        homes_created: outcome
            .homes_created
            .iter()
            .map(ToString::to_string)
            .collect(),
        rooms_unplaced: outcome.rooms_unplaced,
    })
}

// ---------------------------------------------------------------------------------------------
// The upload form

#[derive(Template, WebTemplate)]
#[template(path = "registry/import.html")]
struct ImportPage {
    shell: Shell,
    nodes: Vec<Choice>,
    duplicates: Vec<Choice>,
    partial: bool,
    errors: Vec<String>,
    max_mb: usize,
}

fn duplicate_choices(current: &str) -> Vec<Choice> {
    [
        ("skip", "跳过（保留已登记的信息）"),
        ("update", "按表更新已登记的信息"),
        ("fail", "整表失败（不导入任何数据）"),
    ]
    .into_iter()
    .map(|(v, l)| Choice {
        value: v.to_owned(),
        label: l.to_owned(),
        selected: v == current,
    })
    .collect()
}

fn parse_on_duplicate(s: &str) -> OnDuplicate {
    match s {
        "update" => OnDuplicate::Update,
        "fail" => OnDuplicate::Fail,
        _ => OnDuplicate::Skip,
    }
}

fn on_duplicate_str(d: OnDuplicate) -> &'static str {
    match d {
        OnDuplicate::Skip => "skip",
        OnDuplicate::Update => "update",
        OnDuplicate::Fail => "fail",
    }
}

/// What the form had, so a refused upload comes back with the same choices.
#[derive(Default)]
struct UploadFields {
    node_id: String,
    on_duplicate: String,
    partial: bool,
}

async fn render_form(
    state: &AppState,
    user: &Principal,
    f: &UploadFields,
    status: StatusCode,
    errors: Vec<String>,
) -> Response {
    let tree = match tree::subtree(&state.db, &user.scope, None).await {
        Ok(t) => t,
        Err(e) => return store_error_page(e),
    };
    let nodes = tree
        .iter()
        .filter(|n| {
            n.is_open() && n.kind.serves_residents() && user.scope.can_write_records(&n.path)
        })
        .map(|n| Choice::node(n, 0, n.id.to_string() == f.node_id))
        .collect();
    let page = ImportPage {
        shell: Shell::of(user, "persons"),
        nodes,
        duplicates: duplicate_choices(if f.on_duplicate.is_empty() {
            "skip"
        } else {
            &f.on_duplicate
        }),
        partial: f.partial,
        errors,
        max_mb: MAX_UPLOAD_BYTES / 1024 / 1024,
    };
    (status, page).into_response()
}

#[derive(Deserialize)]
struct ImportQuery {
    node_id: Option<i64>,
}

async fn import_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Query(q): Query<ImportQuery>,
) -> Response {
    let f = UploadFields {
        node_id: q.node_id.map(|n| n.to_string()).unwrap_or_default(),
        ..UploadFields::default()
    };
    render_form(&state, &user, &f, StatusCode::OK, Vec::new()).await
}

async fn template() -> Response {
    match linli_core::registry::sheet::template_xlsx(true) {
        Ok(bytes) => xlsx_response(bytes, "居民花名册模板.xlsx"),
        Err(e) => {
            tracing::error!(error = %e, "blank template");
            error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "模板生成失败，请稍后重试。",
            )
        }
    }
}

/// A multipart form's failure as a page: a body over the limit is a 413 with the limit named.
fn multipart_error(status: StatusCode) -> Response {
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        error_page(
            status,
            &format!(
                "文件太大：上限 {} MB。请把花名册拆成几个文件分别导入。",
                MAX_UPLOAD_BYTES / 1024 / 1024
            ),
        )
    } else {
        error_page(status, "上传的表单无法解析，请返回重试。")
    }
}

/// `POST /persons/import`: the upload. Like `CsrfForm`, the session's CSRF token must come with
/// the form, and it must come first (before the file), so a forged post is refused before its
/// file is read.
async fn upload(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    multipart: Result<Multipart, MultipartRejection>,
) -> Response {
    let mut multipart = match multipart {
        Ok(m) => m,
        Err(e) => return multipart_error(e.status()),
    };
    let mut csrf_checked = false;
    let mut f = UploadFields::default();
    let mut file: Option<(String, Bytes)> = None;
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(e) => return multipart_error(e.status()),
        };
        let name = field.name().unwrap_or_default().to_owned();
        if !csrf_checked && name != "csrf" {
            return csrf_refused();
        }
        if name == "file" {
            let file_name = field.file_name().unwrap_or_default().to_owned();
            match field.bytes().await {
                Ok(b) => file = Some((file_name, b)),
                Err(e) => return multipart_error(e.status()),
            }
            continue;
        }
        let value = match field.text().await {
            Ok(v) => v,
            Err(e) => return multipart_error(e.status()),
        };
        match name.as_str() {
            "csrf" => {
                if !csrf_ok(&user, &value) {
                    return csrf_refused();
                }
                csrf_checked = true;
            }
            "node_id" => f.node_id = value,
            "on_duplicate" => f.on_duplicate = value,
            "partial" => f.partial = !value.is_empty(),
            _ => {}
        }
    }
    if !csrf_checked {
        return csrf_refused();
    }
    let refuse = |msg: String| (StatusCode::UNPROCESSABLE_ENTITY, vec![msg]);
    let checked = async {
        let node_id: i64 = f
            .node_id
            .trim()
            .parse()
            .map_err(|_| refuse("所属辖区：请选择导入到哪个社区、小区、网格或楼栋".into()))?;
        let (file_name, bytes) = match file {
            Some((n, b)) if !b.is_empty() => (n, b),
            _ => {
                return Err(refuse(
                    "文件：请选择要导入的花名册（xlsx、xls 或 CSV）".into(),
                ))
            }
        };
        // The store decides who may write where: it refuses a node outside the caller's
        // writable jurisdiction.
        let node = match PersonImport::target(&state.db, &user.scope, node_id).await {
            Ok(node) => node,
            Err(e) => {
                return Err(match form_errors(e) {
                    Ok(lines) => (StatusCode::UNPROCESSABLE_ENTITY, lines),
                    Err(StoreError::Forbidden(m)) => {
                        (StatusCode::FORBIDDEN, vec![format!("无权导入：{m}")])
                    }
                    Err(StoreError::NotFound) => (
                        StatusCode::NOT_FOUND,
                        vec!["所属辖区：您的辖区内没有这个节点".to_owned()],
                    ),
                    Err(other) => {
                        tracing::error!(error = %other, "import: opening the node");
                        (
                            StatusCode::INTERNAL_SERVER_ERROR,
                            vec!["系统内部错误，请稍后重试。".to_owned()],
                        )
                    }
                })
            }
        };
        Ok((node, file_name, bytes))
    }
    .await;
    let (node, file_name, bytes) = match checked {
        Ok(c) => c,
        Err((status, errors)) => return render_form(&state, &user, &f, status, errors).await,
    };
    let tags = match registry::tags(&state.db).await {
        Ok(t) => t,
        Err(e) => return store_error_page(e),
    };
    let judge = Judge::new(clock::today(), tags);
    let on_duplicate = parse_on_duplicate(&f.on_duplicate);
    let preview = match dry_run(&state, &user, node.id, on_duplicate, bytes.clone(), judge).await {
        Ok(p) => p,
        Err(PreviewFailure::File(e)) => {
            let errors = vec![format!("文件「{file_name}」：{}", e.message)];
            return render_form(&state, &user, &f, StatusCode::UNPROCESSABLE_ENTITY, errors).await;
        }
        Err(PreviewFailure::Store(message)) => {
            let errors = vec![format!("文件「{file_name}」：{message}")];
            return render_form(&state, &user, &f, StatusCode::UNPROCESSABLE_ENTITY, errors).await;
        }
        Err(PreviewFailure::Internal) => {
            return error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "系统内部错误，请稍后重试。",
            );
        }
    };
    let job = Job {
        id: linli_store::infra::secret::random_token(16),
        owner: user.user.id,
        file_name: clean_file_name(&file_name),
        node_id: node.id,
        node_name: node.name.clone(),
        preview,
        processed: AtomicUsize::new(0),
        state: Mutex::new(JobState {
            phase: Phase::Previewed,
            options: Options {
                on_duplicate,
                partial: f.partial,
            },
            bytes: Some(bytes),
            touched: Instant::now(),
        }),
    };
    match state.imports.insert(job) {
        Some(job) => Redirect::to(&format!("/persons/import/{}", job.id)).into_response(),
        None => error_page(
            StatusCode::SERVICE_UNAVAILABLE,
            "正在进行的导入太多，请稍后再试。",
        ),
    }
}

/// The file name as the audit log and the pages show it: the last path part (some browsers
/// send a whole path), without control characters, at most 120 characters.
fn clean_file_name(raw: &str) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let name: String = last.chars().filter(|c| !c.is_control()).take(120).collect();
    if name.trim().is_empty() {
        "花名册".to_owned()
    } else {
        name
    }
}

// ---------------------------------------------------------------------------------------------
// Preview, progress and result

struct CountRow {
    label: &'static str,
    class: &'static str,
    n: usize,
}

#[derive(Template, WebTemplate)]
#[template(path = "registry/import_preview.html")]
struct PreviewPage<'a> {
    shell: Shell,
    job: &'a Job,
    counts: Vec<CountRow>,
    duplicates: Vec<Choice>,
    partial: bool,
    more_problems: usize,
    errors: Vec<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "registry/import_job.html")]
struct ProgressPage<'a> {
    shell: Shell,
    job: &'a Job,
    running: bool,
    processed: usize,
    total: usize,
    done: Option<Done>,
    failure: Option<String>,
}

fn count_rows(c: &Counts) -> Vec<CountRow> {
    [
        Outcome::Accepted,
        Outcome::Flagged,
        Outcome::Rejected,
        Outcome::Duplicate,
    ]
    .into_iter()
    .map(|o| CountRow {
        label: o.label_zh(),
        class: outcome_class(o),
        n: match o {
            Outcome::Accepted => c.accepted,
            Outcome::Flagged => c.flagged,
            Outcome::Rejected => c.rejected,
            Outcome::Duplicate => c.duplicate,
        },
    })
    .collect()
}

fn render_job(user: &Principal, job: &Job, status: StatusCode, errors: Vec<String>) -> Response {
    let (phase, options) = {
        let s = job.lock();
        (s.phase.clone(), s.options)
    };
    let shell = Shell::of(user, "persons");
    match phase {
        Phase::Previewed => {
            let p = &job.preview;
            let problems_total = p.counts.rows - p.counts.accepted;
            let page = PreviewPage {
                shell,
                job,
                counts: count_rows(&p.counts),
                duplicates: duplicate_choices(on_duplicate_str(options.on_duplicate)),
                partial: options.partial,
                more_problems: problems_total.saturating_sub(p.problems.len()),
                errors,
            };
            (status, page).into_response()
        }
        phase => {
            let page = ProgressPage {
                shell,
                job,
                running: matches!(phase, Phase::Running),
                processed: job.processed.load(Ordering::Relaxed),
                total: job.preview.counts.rows,
                done: match &phase {
                    Phase::Done(d) => Some(d.clone()),
                    _ => None,
                },
                failure: match phase {
                    Phase::Failed(m) => Some(m),
                    _ => None,
                },
            };
            (status, page).into_response()
        }
    }
}

fn job_not_found() -> Response {
    error_page(
        StatusCode::NOT_FOUND,
        "没有这个导入任务：它可能已过期（上传后保留 30 分钟），或不是您上传的。请重新上传。",
    )
}

async fn job_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Path(id): Path<String>,
) -> Response {
    match state.imports.get(&id, &user) {
        Some(job) => render_job(&user, &job, StatusCode::OK, Vec::new()),
        None => job_not_found(),
    }
}

#[derive(Serialize)]
struct StatusOut {
    state: &'static str,
    processed: usize,
    total: usize,
}

/// `GET /persons/import/{job}/status`: the progress as JSON, for the page's poll.
async fn job_status(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Path(id): Path<String>,
) -> Response {
    match state.imports.get(&id, &user) {
        Some(job) => {
            let phase = job.lock().phase.as_str();
            (
                [(header::CACHE_CONTROL, "no-store")],
                Json(StatusOut {
                    state: phase,
                    processed: job.processed.load(Ordering::Relaxed),
                    total: job.preview.counts.rows,
                }),
            )
                .into_response()
        }
        None => crate::error::ApiError::not_found().into_response(),
    }
}

async fn rejects(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Path(id): Path<String>,
) -> Response {
    let Some(job) = state.imports.get(&id, &user) else {
        return job_not_found();
    };
    match &job.preview.rejects_xlsx {
        Some(bytes) => {
            let stem = job
                .file_name
                .rsplit_once('.')
                .map_or(job.file_name.as_str(), |(s, _)| s);
            xlsx_response(bytes.clone(), &format!("{stem}-被拒绝的行.xlsx"))
        }
        None => error_page(StatusCode::NOT_FOUND, "这个文件没有被拒绝的行。"),
    }
}

#[derive(Deserialize)]
struct CommitForm {
    #[serde(default)]
    partial: Option<String>,
    #[serde(default)]
    on_duplicate: Option<String>,
}

/// `POST /persons/import/{job}/commit`: starts the import in the background (once) and sends
/// the browser to the progress page.
async fn commit(
    State(state): State<AppState>,
    Path(id): Path<String>,
    f: CsrfForm<CommitForm>,
) -> Response {
    let user = Arc::clone(&f.user);
    let Some(job) = state.imports.get(&id, &user) else {
        return job_not_found();
    };
    let partial = f.form.partial.as_deref().is_some_and(|v| !v.is_empty());
    let on_duplicate = parse_on_duplicate(f.form.on_duplicate.as_deref().unwrap_or_default());
    let refused = job.preview.counts.rejected > 0 && !partial;
    let bytes = {
        let mut s = job.lock();
        match (&s.phase, s.bytes.clone()) {
            (Phase::Previewed, Some(bytes)) if !refused => {
                s.phase = Phase::Running;
                s.options = Options {
                    on_duplicate,
                    partial,
                };
                s.touched = Instant::now();
                Some(bytes)
            }
            (Phase::Previewed, _) => None,
            // Confirmed already (a double click, or the back button): show where it stands.
            _ => {
                drop(s);
                return Redirect::to(&format!("/persons/import/{}", job.id)).into_response();
            }
        }
    };
    let Some(bytes) = bytes else {
        let msg = format!(
            "有 {} 行被拒绝：不勾选「部分导入」时不会保存任何数据。请修改后重新上传，或勾选「部分导入」只导入其余各行。",
            job.preview.counts.rejected
        );
        return render_job(&user, &job, StatusCode::UNPROCESSABLE_ENTITY, vec![msg]);
    };
    let task_job = Arc::clone(&job);
    tokio::spawn(async move {
        let options = Options {
            on_duplicate,
            partial,
        };
        let job = Arc::clone(&task_job);
        let import =
            tokio::spawn(async move { run_import(&state, &user, &job, options, bytes).await });
        // A panic in the import must not leave the job "running" for ever.
        let phase = import.await.unwrap_or_else(|e| {
            tracing::error!(error = %e, "web import task failed");
            Phase::Failed("系统内部错误，未保存任何数据；请稍后重试。".to_owned())
        });
        task_job.finish(phase);
    });
    Redirect::to(&format!("/persons/import/{}", job.id)).into_response()
}

async fn script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../static/import.js"),
    )
        .into_response()
}
