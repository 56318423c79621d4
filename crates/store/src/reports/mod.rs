//! Daily reports (日报告): templates stored as versioned data, submissions per template, node and
//! date, approval up the tree, completeness and timeliness per level, and reminders.
//!
//! Computed values are counted LIVE from the records over the node's whole subtree on the
//! report date — no batch tables. Each table is read once with a range scan on `node_path` over
//! the subtree; every row is assigned to the child whose subtree holds it by a `CASE` on the
//! children's path bounds (0 = placed on the node itself) and counted with `GROUP BY`, so the
//! node's value is the sum of its rows by construction. A parent's manual numbers are the sum
//! of the reported (submitted or approved) manual numbers of the reporting-level nodes below it.
//!
//! What a date means for each aggregate (dates and instants in China Standard Time):
//! - `arrivals_new`: arrivals whose `arrived_on` is the date;
//! - `under_*`, `health_monitoring`: observations started on or before the date and not released
//!   by then (`released_on` empty or after the date);
//! - `releases`: observations released on the date;
//! - `fevers_open`: fever alerts raised before the end of the date, not handled by then;
//! - `checkins_missed`: overdue check-in alerts raised on the date;
//! - `enterprises_reopened`: reopening applications approved on the date.
//!
//! Who may do what (fail closed; a node outside the caller's jurisdiction is `NotFound`):
//! - everyone reads the reports of the nodes in their jurisdiction;
//! - staff (and admins) submit the report of a node in their jurisdiction; grid workers and
//!   officials do not;
//! - officials and staff (and admins) strictly above a node approve its report and remind it;
//!   nobody approves their own level. A node above the reporting level is submitted and
//!   approved only once every open reporting-level node below it is approved.
//! - approved reports are locked: their values are the snapshot taken at approval.

use std::collections::{BTreeMap, HashMap};

use linli_core::kernel::clock::{self, day_bounds, format_date};
use linli_core::kernel::labels::Labelled;
use linli_core::reports::{
    Aggregate, ManualKind, ManualValue, ManualValues, NodeRole, Status, Template, Timeliness,
};
use linli_core::{CoreError, JurisdictionPath, NodeKind, Role, Scope};
use serde::Serialize;
use serde_json::json;
use sqlx::Row;

use crate::epidemic::dashboard::grouping;
use crate::infra::audit::{self, AuditEntry};
use crate::infra::db::Params;
use crate::infra::errors::internal;
use crate::tree::{self, Node};
use crate::{Db, Page, StoreError};

pub mod mappings;

/// Children with more than this many rows are not broken down (a CASE arm per child).
const MAX_CHILDREN: usize = 2_000;

/// A value of a report line: a number, a text, or nothing (a manual value not reported).
pub type Values = BTreeMap<String, Option<ManualValue>>;

// ---------------------------------------------------------------------------------------------
// Templates
// ---------------------------------------------------------------------------------------------

/// A stored template version.
#[derive(Debug, Clone, Serialize)]
pub struct StoredTemplate {
    pub id: i64,
    /// The first date this version applies to (`YYYY-MM-DD`).
    pub effective_from: String,
    /// When and by whom this version was published (Unix ms; 0 and `migration` for the preset).
    pub created_at: i64,
    pub created_by: String,
    pub template: Template,
}

fn template_from_row(r: &sqlx::any::AnyRow) -> Result<StoredTemplate, StoreError> {
    let json: String = r.try_get("definition_json")?;
    let template: Template = serde_json::from_str(&json).map_err(internal)?;
    Ok(StoredTemplate {
        id: r.try_get("id")?,
        effective_from: r.try_get("effective_from")?,
        created_at: r.try_get("created_at")?,
        created_by: r.try_get("created_by")?,
        template,
    })
}

/// The columns a stored version (of a template or a mapping) is read with.
const VERSION_COLUMNS: &str = "id, effective_from, created_at, created_by, definition_json";

/// Templates and mappings are not personal data: every signed-in role reads them; an empty
/// scope reads nothing (fail closed).
fn reads_layouts(scope: &Scope) -> bool {
    scope.is_admin() || !scope.roots().is_empty()
}

/// The rows of `sql` (a [`Versioned`] list), none for a scope that reads no layouts.
pub(crate) async fn read_layouts(
    db: &Db,
    scope: &Scope,
    sql: &str,
) -> Result<Vec<sqlx::any::AnyRow>, StoreError> {
    if !reads_layouts(scope) {
        return Ok(Vec::new());
    }
    Ok(sqlx::query(sql).fetch_all(db.pool()).await?)
}

/// The newest version of every template. Templates are not personal data: every signed-in role
/// reads them (the scope is taken for uniformity and to fail closed on an empty one).
pub async fn templates(db: &Db, scope: &Scope) -> Result<Vec<StoredTemplate>, StoreError> {
    let rows = read_layouts(db, scope, &Versioned::Template.newest()).await?;
    rows.iter().map(template_from_row).collect()
}

/// Every version of every template, by key, newest version first: the template list's history.
pub async fn template_versions(db: &Db, scope: &Scope) -> Result<Vec<StoredTemplate>, StoreError> {
    let rows = read_layouts(db, scope, &Versioned::Template.history()).await?;
    rows.iter().map(template_from_row).collect()
}

/// The newest version of template `key` (whatever its effective date): what an edit starts
/// from. Unknown: `NotFound`.
pub async fn latest_template(
    db: &Db,
    scope: &Scope,
    key: &str,
) -> Result<StoredTemplate, StoreError> {
    if !reads_layouts(scope) {
        return Err(StoreError::NotFound);
    }
    let row = sqlx::query(&format!(
        "SELECT {VERSION_COLUMNS} FROM report_template WHERE template_key = $1 \
         ORDER BY version DESC LIMIT 1"
    ))
    .bind(key)
    .fetch_optional(db.pool())
    .await?;
    template_from_row(&row.ok_or(StoreError::NotFound)?)
}

/// The version of template `key` in force on `date`: the newest whose effective date is not
/// after it. An unknown key (or none in force yet) is `NotFound`.
pub async fn template_on(
    db: &Db,
    key: &str,
    date: time::Date,
) -> Result<StoredTemplate, StoreError> {
    template_from_row(&Versioned::Template.in_force(db, key, date).await?)
}

/// The effective-date rule of a new version (of a template or a mapping): not in the past (a
/// past day keeps the version it was reported under), and not before the newest version's own
/// date (so versions take effect in the order they were published).
pub fn check_effective_from(
    effective_from: time::Date,
    newest: Option<&str>,
) -> Result<(), StoreError> {
    let today = clock::today();
    if effective_from < today {
        return Err(StoreError::Invalid(vec![CoreError::invalid(
            "effective_from",
            format!(
                "生效日期不能早于今天（{}）：过去的报表保留原版本",
                format_date(today)
            ),
        )]));
    }
    if let Some(newest) = newest.filter(|n| *n > format_date(effective_from).as_str()) {
        return Err(StoreError::Invalid(vec![CoreError::invalid(
            "effective_from",
            format!("生效日期不能早于最新版本的生效日期（{newest}）"),
        )]));
    }
    Ok(())
}

/// The two kinds of versioned layouts, which share one key namespace (one URL shape).
#[derive(Clone, Copy)]
pub(crate) enum Versioned {
    Template,
    Mapping,
}

impl Versioned {
    /// (its table, its key column)
    fn table(self) -> (&'static str, &'static str) {
        match self {
            Versioned::Template => ("report_template", "template_key"),
            Versioned::Mapping => ("report_mapping", "mapping_key"),
        }
    }

    /// The newest version of every key, by key.
    pub(crate) fn newest(self) -> String {
        let (table, column) = self.table();
        format!(
            "SELECT {VERSION_COLUMNS} FROM {table} v WHERE version = \
             (SELECT MAX(version) FROM {table} u WHERE u.{column} = v.{column}) \
             ORDER BY {column}"
        )
    }

    /// Every version of every key, by key, newest version first.
    pub(crate) fn history(self) -> String {
        let (table, column) = self.table();
        format!("SELECT {VERSION_COLUMNS} FROM {table} ORDER BY {column}, version DESC")
    }

    /// The version of `key` in force on `date`: the newest whose effective date is not after
    /// it. Unknown (or not yet in force): `NotFound`.
    pub(crate) async fn in_force(
        self,
        db: &Db,
        key: &str,
        date: time::Date,
    ) -> Result<sqlx::any::AnyRow, StoreError> {
        let (table, column) = self.table();
        sqlx::query(&format!(
            "SELECT {VERSION_COLUMNS} FROM {table} WHERE {column} = $1 AND effective_from <= $2 \
             ORDER BY effective_from DESC, version DESC LIMIT 1"
        ))
        .bind(key)
        .bind(format_date(date))
        .fetch_optional(db.pool())
        .await?
        .ok_or(StoreError::NotFound)
    }
}

/// In the publishing transaction: the next version number of `key`, and the faults publishing
/// it shares with the other kind — an effective date before the newest version's, and a key the
/// other kind already uses.
pub(crate) async fn next_version(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    kind: Versioned,
    key: &str,
    effective_from: time::Date,
) -> Result<(i64, Vec<CoreError>), StoreError> {
    let (table, column) = kind.table();
    let row = sqlx::query(&format!(
        "SELECT MAX(version), MAX(effective_from) FROM {table} WHERE {column} = $1"
    ))
    .bind(key)
    .fetch_one(&mut **tx)
    .await?;
    let last: Option<i64> = row.try_get(0)?;
    let newest: Option<String> = row.try_get(1)?;
    let mut errors = Vec::new();
    if let Err(StoreError::Invalid(e)) = check_effective_from(effective_from, newest.as_deref()) {
        errors.extend(e);
    }
    let (other, other_column, taken) = match kind {
        Versioned::Template => ("report_mapping", "mapping_key", "一张表样"),
        Versioned::Mapping => ("report_template", "template_key", "一个报表模板"),
    };
    let clash = sqlx::query(&format!(
        "SELECT 1 FROM {other} WHERE {other_column} = $1 LIMIT 1"
    ))
    .bind(key)
    .fetch_optional(&mut **tx)
    .await?;
    if clash.is_some() {
        errors.push(CoreError::invalid(
            "key",
            format!("「{key}」已是{taken}的代码"),
        ));
    }
    Ok((last.unwrap_or(0) + 1, errors))
}

/// Publishes a new version of a template (admins), effective from `effective_from` (today or
/// later, and not before the newest version's date). The version number is the next one for the
/// key (whatever `template.version` says); a new key starts at 1, and may not be the key of a
/// mapping. Every broken rule is reported at once; nothing is stored then. Audited.
pub async fn publish_template(
    db: &Db,
    scope: &Scope,
    template: &Template,
    effective_from: time::Date,
    now: i64,
) -> Result<StoredTemplate, StoreError> {
    if !scope.is_admin() {
        return Err(StoreError::Forbidden("只有管理员可以修改报表模板".into()));
    }
    let mut tx = db.begin_write().await?;
    let (version, mut errors) =
        next_version(&mut tx, Versioned::Template, &template.key, effective_from).await?;
    let mut t = template.clone();
    t.version = version;
    if let Err(e) = t.validate() {
        errors.splice(0..0, e);
    }
    if !errors.is_empty() {
        return Err(StoreError::Invalid(errors));
    }
    let json = serde_json::to_string(&t).map_err(internal)?;
    let row = sqlx::query(
        "INSERT INTO report_template (template_key, version, name, level, effective_from, definition_json, created_at, created_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(&t.key)
    .bind(t.version)
    .bind(&t.name)
    .bind(t.level.as_str())
    .bind(format_date(effective_from))
    .bind(&json)
    .bind(now)
    .bind(scope.actor())
    .fetch_one(&mut *tx)
    .await?;
    let id: i64 = row.try_get(0)?;
    audit::commit_recorded(tx, AuditEntry::by(scope, "report_template.publish", "report_template")
            .entity_id(id)
            .detail(json!({"key": t.key, "version": t.version, "effective_from": format_date(effective_from)})), now).await?;
    Ok(StoredTemplate {
        id,
        effective_from: format_date(effective_from),
        created_at: now,
        created_by: scope.actor().to_owned(),
        template: t,
    })
}

// ---------------------------------------------------------------------------------------------
// Live counting
// ---------------------------------------------------------------------------------------------

/// Computed values per group: the child's id, or 0 for records placed on the node itself.
type Counts = HashMap<i64, BTreeMap<Aggregate, i64>>;

fn add(counts: &mut Counts, group: i64, a: Aggregate, n: i64) {
    *counts.entry(group).or_default().entry(a).or_insert(0) += n;
}

/// Counts the template's aggregates on `date` over `node`'s subtree, grouped by child.
async fn count(
    db: &Db,
    template: &Template,
    node: &Node,
    children: &[Node],
    date: time::Date,
) -> Result<Counts, StoreError> {
    let wanted = template.aggregates();
    let has = |a: Aggregate| wanted.contains(&a);
    let day = format_date(date);
    let (start, end) = day_bounds(date);
    let mut counts = Counts::new();

    if has(Aggregate::ArrivalsNew) {
        let mut p = Params::new();
        let (child, range) = grouping(node, children, &mut p);
        let d = p.text(day.clone());
        let sql = format!(
            "SELECT {child} AS child, COUNT(*) FROM arrival WHERE {range} AND arrived_on = {d} GROUP BY 1"
        );
        for r in p.bind(sqlx::query(&sql)).fetch_all(db.pool()).await? {
            add(
                &mut counts,
                r.try_get(0)?,
                Aggregate::ArrivalsNew,
                r.try_get(1)?,
            );
        }
    }

    let observation = [
        Aggregate::UnderCentralizedQuarantine,
        Aggregate::UnderHomeQuarantine,
        Aggregate::HealthMonitoring,
        Aggregate::Releases,
    ];
    if observation.into_iter().any(has) {
        let mut p = Params::new();
        let (child, range) = grouping(node, children, &mut p);
        let d = p.text(day.clone());
        let sql = format!(
            "SELECT {child} AS child, measure, \
             COUNT(CASE WHEN start_on <= {d} AND (released_on IS NULL OR released_on > {d}) THEN 1 END), \
             COUNT(CASE WHEN released_on = {d} THEN 1 END) \
             FROM observation WHERE {range} AND (released_on IS NULL OR released_on >= {d}) GROUP BY 1, 2"
        );
        for r in p.bind(sqlx::query(&sql)).fetch_all(db.pool()).await? {
            let group: i64 = r.try_get(0)?;
            let measure: String = r.try_get(1)?;
            let under = match measure.as_str() {
                "centralized_quarantine" => Aggregate::UnderCentralizedQuarantine,
                "home_quarantine" => Aggregate::UnderHomeQuarantine,
                "health_monitoring" => Aggregate::HealthMonitoring,
                other => return Err(internal(format!("unknown measure `{other}`"))),
            };
            if has(under) {
                add(&mut counts, group, under, r.try_get(2)?);
            }
            if has(Aggregate::Releases) {
                add(&mut counts, group, Aggregate::Releases, r.try_get(3)?);
            }
        }
    }

    if has(Aggregate::FeversOpen) || has(Aggregate::CheckinsMissed) {
        let mut p = Params::new();
        let (child, range) = grouping(node, children, &mut p);
        let (s, e) = (p.int(start), p.int(end));
        // Every alert counted was raised before the end of the day and, if handled, handled on
        // or after its start; the CASEs pick open fevers and the day's overdue check-ins.
        let sql = format!(
            "SELECT {child} AS child, \
             COUNT(CASE WHEN kind = 'fever' AND (handled_at IS NULL OR handled_at >= {e}) THEN 1 END), \
             COUNT(CASE WHEN kind = 'overdue' AND raised_at >= {s} THEN 1 END) \
             FROM alert WHERE {range} AND raised_at < {e} AND (handled_at IS NULL OR handled_at >= {s}) \
             GROUP BY 1"
        );
        for r in p.bind(sqlx::query(&sql)).fetch_all(db.pool()).await? {
            let group: i64 = r.try_get(0)?;
            if has(Aggregate::FeversOpen) {
                add(&mut counts, group, Aggregate::FeversOpen, r.try_get(1)?);
            }
            if has(Aggregate::CheckinsMissed) {
                add(&mut counts, group, Aggregate::CheckinsMissed, r.try_get(2)?);
            }
        }
    }

    if has(Aggregate::EnterprisesReopened) {
        let mut p = Params::new();
        let (child, range) = grouping(node, children, &mut p);
        let (s, e) = (p.int(start), p.int(end));
        let sql = format!(
            "SELECT {child} AS child, COUNT(*) FROM reopening WHERE {range} AND status = 'approved' \
             AND decided_at >= {s} AND decided_at < {e} GROUP BY 1"
        );
        for r in p.bind(sqlx::query(&sql)).fetch_all(db.pool()).await? {
            add(
                &mut counts,
                r.try_get(0)?,
                Aggregate::EnterprisesReopened,
                r.try_get(1)?,
            );
        }
    }
    Ok(counts)
}

/// The template's computed indicators from per-aggregate counts (absent = 0), by indicator key.
fn computed_values(
    template: &Template,
    counts: Option<&BTreeMap<Aggregate, i64>>,
) -> BTreeMap<String, i64> {
    template
        .computed()
        .filter_map(|i| {
            let a = i.aggregate()?;
            let n = counts.and_then(|c| c.get(&a)).copied().unwrap_or(0);
            Some((i.key.clone(), n))
        })
        .collect()
}

fn total(counts: &Counts) -> BTreeMap<Aggregate, i64> {
    let mut out = BTreeMap::new();
    for per in counts.values() {
        for (a, n) in per {
            *out.entry(*a).or_insert(0) += n;
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Submissions
// ---------------------------------------------------------------------------------------------

/// A submission as stored.
#[derive(Debug, Clone, Serialize)]
pub struct Submission {
    pub id: i64,
    pub node_id: i64,
    pub node_kind: NodeKind,
    #[serde(skip)]
    pub node_path: JurisdictionPath,
    pub template_id: i64,
    pub status: Status,
    pub zero: bool,
    pub manual: ManualValues,
    /// The values when submitted (or approved): the locked figures of an approved report.
    pub snapshot: Values,
    pub submitted_by: String,
    pub submitted_at: i64,
    pub updated_at: i64,
    pub approved_by: Option<String>,
    pub approved_at: Option<i64>,
    /// Who sent it back, when and why (退回), while it waits to be submitted again.
    pub returned: Option<Returned>,
    /// The breakdown locked at approval (none before, or for reports approved before it was
    /// kept).
    pub lines: Option<LockedLines>,
}

/// An approved report's breakdown: each child's values and the records placed on the node
/// itself, as they were when the figures were locked, so that they still add up to them.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
pub struct LockedLines {
    pub children: BTreeMap<i64, Values>,
    pub direct: BTreeMap<String, i64>,
}

/// A report sent back by its approver.
#[derive(Debug, Clone, Serialize)]
pub struct Returned {
    pub by: String,
    pub at: i64,
    pub reason: String,
}

const SUBMISSION_SELECT: &str = "SELECT s.id, s.node_id, n.kind, n.path, s.template_id, s.status, s.zero, \
     s.manual_json, s.values_json, s.submitted_by, s.submitted_at, s.updated_at, s.approved_by, s.approved_at, \
     s.returned_by, s.returned_at, s.return_reason, s.lines_json \
     FROM report_submission s JOIN node n ON n.id = s.node_id";

fn submission_from_row(r: &sqlx::any::AnyRow) -> Result<Submission, StoreError> {
    let kind: String = r.try_get(2)?;
    let path: String = r.try_get(3)?;
    let status: String = r.try_get(5)?;
    let manual: String = r.try_get(7)?;
    let values: String = r.try_get(8)?;
    Ok(Submission {
        id: r.try_get(0)?,
        node_id: r.try_get(1)?,
        node_kind: kind.parse().map_err(|e: CoreError| internal(e))?,
        node_path: JurisdictionPath::parse(&path).map_err(internal)?,
        template_id: r.try_get(4)?,
        status: status.parse().map_err(|e: CoreError| internal(e))?,
        zero: r.try_get::<i64, _>(6)? != 0,
        manual: serde_json::from_str(&manual).map_err(internal)?,
        snapshot: serde_json::from_str(&values).map_err(internal)?,
        submitted_by: r.try_get(9)?,
        submitted_at: r.try_get(10)?,
        updated_at: r.try_get(11)?,
        approved_by: r.try_get(12)?,
        approved_at: r.try_get(13)?,
        returned: match (
            r.try_get::<Option<String>, _>(14)?,
            r.try_get::<Option<i64>, _>(15)?,
            r.try_get::<Option<String>, _>(16)?,
        ) {
            (Some(by), Some(at), Some(reason)) => Some(Returned { by, at, reason }),
            _ => None,
        },
        lines: match r.try_get::<Option<String>, _>(17)? {
            Some(json) => Some(serde_json::from_str(&json).map_err(internal)?),
            None => None,
        },
    })
}

/// Every submission of `key` on `date` for nodes in `node`'s subtree (the node included).
async fn submissions_under(
    db: &Db,
    key: &str,
    node: &Node,
    date: time::Date,
) -> Result<Vec<Submission>, StoreError> {
    let (lo, hi) = node.path.subtree_bounds();
    let rows = sqlx::query(&format!(
        "{SUBMISSION_SELECT} WHERE s.template_key = $1 AND s.report_on = $2 AND n.path >= $3 AND n.path < $4 \
         ORDER BY s.node_id"
    ))
    .bind(key)
    .bind(format_date(date))
    .bind(lo)
    .bind(hi)
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(submission_from_row).collect()
}

// ---------------------------------------------------------------------------------------------
// Reading a report
// ---------------------------------------------------------------------------------------------

/// One child's line of a report.
#[derive(Debug, Clone, Serialize)]
pub struct ChildLine {
    pub node_id: i64,
    pub name: String,
    pub kind: NodeKind,
    pub closed: bool,
    pub role: NodeRole,
    pub status: Status,
    pub zero: bool,
    pub timeliness: Option<Timeliness>,
    /// Live computed values over the child's subtree and its manual values (rolled up).
    pub values: Values,
}

/// A reminder sent to a node.
#[derive(Debug, Clone, Serialize)]
pub struct Reminder {
    pub id: i64,
    pub node_id: i64,
    pub created_at: i64,
    pub created_by: String,
}

/// What the top of the tree shows for a status: it sums its levels and submits to no one.
pub const TOP_STATUS_ZH: &str = "汇总（最高一级，无需报送）";

/// The report of one node for one date.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub template: StoredTemplate,
    pub node: Node,
    pub role: NodeRole,
    /// `YYYY-MM-DD`.
    pub date: String,
    pub status: Status,
    pub zero: bool,
    /// Every indicator by key: the live values, or the snapshot taken at approval once approved.
    pub values: Values,
    /// Computed values of records placed on the node itself (not under any child).
    pub direct: BTreeMap<String, i64>,
    pub submitted_by: Option<String>,
    pub submitted_at: Option<i64>,
    pub updated_at: Option<i64>,
    pub approved_by: Option<String>,
    pub approved_at: Option<i64>,
    /// Sent back by the approver (status `returned`), with why.
    pub returned: Option<Returned>,
    pub timeliness: Option<Timeliness>,
    /// The instant the report was due (Unix ms).
    pub due_at: i64,
    pub children: Vec<ChildLine>,
    pub reminders: Vec<Reminder>,
}

impl Report {
    /// Who approved or submitted it and when, as the report's printouts and xlsx head it:
    /// 已审核（…）, 已报送（…） or 未报送.
    pub fn status_line_zh(&self) -> String {
        if !self.submits() {
            return TOP_STATUS_ZH.to_owned();
        }
        if let Some(r) = self
            .returned
            .as_ref()
            .filter(|_| self.status == Status::Returned)
        {
            return format!("已退回（{}，{}）：{}", r.by, clock::display(r.at), r.reason);
        }
        match (
            &self.approved_by,
            self.approved_at,
            &self.submitted_by,
            self.submitted_at,
        ) {
            (Some(by), Some(at), _, _) => format!("已审核（{by}，{}）", clock::display(at)),
            (_, _, Some(by), Some(at)) => format!("已报送（{by}，{}）", clock::display(at)),
            _ => "未报送".to_owned(),
        }
    }

    /// Whether this node submits its report at all ([`Template::submits`]): the top of the
    /// tree does not, and shows no status.
    pub fn submits(&self) -> bool {
        self.template
            .template
            .submits(self.node.kind, self.node.parent_id.is_some())
    }

    /// Whether `scope` may submit this report now (role, level and status; the roll-up rule is
    /// checked on submission).
    pub fn submittable_by(&self, scope: &Scope) -> bool {
        can_submit(scope, &self.node) && self.submits() && self.status != Status::Approved
    }

    /// Whether `scope` may approve this report now (role, level and status).
    pub fn approvable_by(&self, scope: &Scope) -> bool {
        can_approve(scope, &self.node) && self.status == Status::Submitted
    }
}

/// One row of a report laid out as the offices print it.
#[derive(Debug, Clone, Serialize)]
pub struct Line {
    /// The child's id; `None` for 本级直属 (records placed on the node itself).
    pub node_id: Option<i64>,
    pub name: String,
    pub closed: bool,
    /// The child's part in the template; `None` for 本级直属.
    pub role: Option<NodeRole>,
    pub status: Status,
    pub zero: bool,
    pub timeliness: Option<Timeliness>,
    pub values: Values,
}

impl Report {
    /// The report's rows as the offices print them: one per child, then 本级直属 when records
    /// sit on the node itself (or the node has no children, or it is the reporting level and so
    /// holds its own manual values); the node's `values` are the total row. The rows add up to
    /// the total (computed: children + direct records; manual: the reporting nodes' numbers).
    pub fn lines(&self) -> Vec<Line> {
        let mut out: Vec<Line> = self
            .children
            .iter()
            .map(|c| Line {
                node_id: Some(c.node_id),
                name: c.name.clone(),
                closed: c.closed,
                role: Some(c.role),
                status: c.status,
                zero: c.zero,
                timeliness: c.timeliness,
                values: c.values.clone(),
            })
            .collect();
        let own_manual = self.children.is_empty() || self.role == NodeRole::Reporting;
        if self.direct.values().any(|n| *n != 0) || own_manual {
            let values = self
                .template
                .template
                .indicators
                .iter()
                .map(|i| {
                    let v = match self.direct.get(&i.key) {
                        Some(n) => Some(ManualValue::Number(*n)),
                        None if own_manual => self.values.get(&i.key).cloned().flatten(),
                        None => None,
                    };
                    (i.key.clone(), v)
                })
                .collect();
            out.push(Line {
                node_id: None,
                name: "本级直属".to_owned(),
                closed: false,
                role: None,
                status: Status::Draft,
                zero: false,
                timeliness: None,
                values,
            });
        }
        out
    }
}

/// Submitting: staff and admins, within their jurisdiction.
pub fn can_submit(scope: &Scope, node: &Node) -> bool {
    matches!(scope.role(), Role::Admin | Role::Staff) && scope.can_read(&node.path)
}

/// Approving and reminding: officials, staff and admins strictly above the node.
pub fn can_approve(scope: &Scope, node: &Node) -> bool {
    match scope.role() {
        Role::Admin => true,
        Role::Official | Role::Staff => scope
            .roots()
            .iter()
            .any(|r| node.path.is_within(r) && &node.path != r),
        Role::GridWorker => false,
    }
}

fn manual_of(
    template: &Template,
    role: NodeRole,
    own: Option<&Submission>,
    below: &[&Submission],
) -> Values {
    let mut out = Values::new();
    match role {
        NodeRole::Reporting => {
            for ind in template.manual() {
                let v = own
                    .filter(|s| s.status.is_reported())
                    .and_then(|s| s.manual.get(&ind.key).cloned())
                    .or_else(|| {
                        // A reported number left out (a zero report) is 0.
                        (own.is_some() && ind.manual_kind() == Some(ManualKind::Number))
                            .then_some(ManualValue::Number(0))
                    });
                out.insert(ind.key.clone(), v);
            }
        }
        NodeRole::Rollup => {
            let sums = template.sum_manual(below.iter().map(|s| &s.manual));
            for ind in template.manual() {
                out.insert(
                    ind.key.clone(),
                    sums.get(&ind.key).map(|n| ManualValue::Number(*n)),
                );
            }
        }
        NodeRole::Below => {
            for ind in template.manual() {
                out.insert(ind.key.clone(), None);
            }
        }
    }
    out
}

fn with_computed(mut values: Values, computed: BTreeMap<String, i64>) -> Values {
    for (k, n) in computed {
        values.insert(k, Some(ManualValue::Number(n)));
    }
    values
}

/// The template's values in its order of indicators, for display.
pub fn ordered<'a>(
    template: &'a Template,
    values: &'a Values,
) -> Vec<(&'a linli_core::reports::Indicator, Option<&'a ManualValue>)> {
    template
        .indicators
        .iter()
        .map(|i| (i, values.get(&i.key).and_then(Option::as_ref)))
        .collect()
}

/// Whether a node existed (opened, not closed) on a date.
fn open_on(node: &Node, day: &str) -> bool {
    node.opened_on.as_str() <= day && node.closed_on.as_deref().is_none_or(|c| c > day)
}

/// The report of `node_id` for template `key` on `date`: live computed values over the node's
/// subtree, manual values (its own, or rolled up), status, who submitted and approved it, a
/// line per child, and the reminders the node received. Outside the caller's jurisdiction:
/// `NotFound`; so is an unknown template.
pub async fn report(
    db: &Db,
    scope: &Scope,
    key: &str,
    node_id: i64,
    date: time::Date,
) -> Result<Report, StoreError> {
    let node = tree::get(db, scope, node_id).await?;
    let stored = template_on(db, key, date).await?;
    build(db, scope, stored, node, date).await
}

async fn build(
    db: &Db,
    scope: &Scope,
    stored: StoredTemplate,
    node: Node,
    date: time::Date,
) -> Result<Report, StoreError> {
    let t = &stored.template;
    let children: Vec<Node> = tree::children(db, scope, node.id, true, Page::all())
        .await?
        .into_iter()
        .map(|s| s.node)
        .collect();
    if children.len() > MAX_CHILDREN {
        return Err(internal(format!(
            "node {} has {} children: too many to break down",
            node.id,
            children.len()
        )));
    }
    let counts = count(db, t, &node, &children, date).await?;
    let subs = submissions_under(db, &t.key, &node, date).await?;
    let reported_at_level: Vec<&Submission> = subs
        .iter()
        .filter(|s| s.node_kind == t.level && s.status.is_reported())
        .collect();
    let own = subs.iter().find(|s| s.node_id == node.id);
    let role = t.role_of(node.kind);

    let live = with_computed(
        manual_of(t, role, own, &reported_at_level),
        computed_values(t, Some(&total(&counts))),
    );
    let locked = own
        .filter(|s| s.status == Status::Approved)
        .and_then(|s| s.lines.as_ref());
    let values = match own {
        Some(s) if s.status == Status::Approved => s.snapshot.clone(),
        _ => live,
    };
    let deadline = t.deadline;
    let lines = children
        .iter()
        .map(|c| {
            let child_role = t.role_of(c.kind);
            let child_own = subs.iter().find(|s| s.node_id == c.id);
            let below: Vec<&Submission> = reported_at_level
                .iter()
                .copied()
                .filter(|s| s.node_path.is_within(&c.path))
                .collect();
            ChildLine {
                node_id: c.id,
                name: c.name.clone(),
                kind: c.kind,
                closed: !c.is_open(),
                role: child_role,
                status: child_own.map_or(Status::Draft, |s| s.status),
                zero: child_own.is_some_and(|s| s.zero),
                timeliness: child_own.map(|s| Timeliness::of(deadline, date, s.submitted_at)),
                // Approved: the child's line as it was locked (a child made since has none).
                values: match locked {
                    Some(l) => l.children.get(&c.id).cloned().unwrap_or_else(|| {
                        t.indicators.iter().map(|i| (i.key.clone(), None)).collect()
                    }),
                    None => with_computed(
                        manual_of(t, child_role, child_own, &below),
                        computed_values(t, counts.get(&c.id)),
                    ),
                },
            }
        })
        .collect();
    let reminders = reminders_of(db, &t.key, node.id, date).await?;
    Ok(Report {
        role,
        date: format_date(date),
        status: own.map_or(Status::Draft, |s| s.status),
        zero: own.is_some_and(|s| s.zero),
        values,
        direct: match locked {
            Some(l) => l.direct.clone(),
            None => computed_values(t, counts.get(&0)),
        },
        submitted_by: own.map(|s| s.submitted_by.clone()),
        submitted_at: own.map(|s| s.submitted_at),
        updated_at: own.map(|s| s.updated_at),
        approved_by: own.and_then(|s| s.approved_by.clone()),
        approved_at: own.and_then(|s| s.approved_at),
        returned: own.and_then(|s| s.returned.clone()),
        timeliness: own.map(|s| Timeliness::of(deadline, date, s.submitted_at)),
        due_at: deadline.instant_on(date),
        children: lines,
        reminders,
        template: stored,
        node,
    })
}

/// The live computed values of one node on a date (no submissions read): what the roll-up
/// property test and the benchmark compare.
pub async fn computed(
    db: &Db,
    scope: &Scope,
    key: &str,
    node_id: i64,
    date: time::Date,
) -> Result<BTreeMap<String, i64>, StoreError> {
    let node = tree::get(db, scope, node_id).await?;
    let stored = template_on(db, key, date).await?;
    let counts = count(db, &stored.template, &node, &[], date).await?;
    Ok(computed_values(&stored.template, Some(&total(&counts))))
}

/// The live computed values of EVERY node of `node_id`'s subtree on a date, by node id: each
/// table is read with `GROUP BY node_path` over the subtree ([`tree_queries`]), and every
/// group is added to each node on its path from `node_id` down. Always current (no batch
/// table); what `linli bench report` times for a whole district.
pub async fn computed_tree(
    db: &Db,
    scope: &Scope,
    key: &str,
    node_id: i64,
    date: time::Date,
) -> Result<HashMap<i64, BTreeMap<String, i64>>, StoreError> {
    let node = tree::get(db, scope, node_id).await?;
    let stored = template_on(db, key, date).await?;
    let t = &stored.template;
    // Every node of the subtree gets a line, zeros included; the list is read beside the counts.
    let (lo, hi) = node.path.subtree_bounds();
    let ids = sqlx::query("SELECT id FROM node WHERE path >= $1 AND path < $2")
        .bind(lo)
        .bind(hi)
        .fetch_all(db.pool());
    let (by_path, ids) = tokio::try_join!(count_by_path(db, t, &node, date), async {
        ids.await.map_err(StoreError::from)
    })?;
    let mut per: HashMap<i64, Tally> = HashMap::with_capacity(ids.len());
    for r in ids {
        per.insert(r.try_get(0)?, [0; TALLY]);
    }
    let skip = node.path.ids().len() - 1;
    for (path, counts) in by_path {
        let path = JurisdictionPath::parse(&path).map_err(internal)?;
        for id in path.ids().into_iter().skip(skip) {
            let line = per.entry(id).or_insert([0; TALLY]);
            for (sum, n) in line.iter_mut().zip(counts) {
                *sum += n;
            }
        }
    }
    // The template's computed indicators and where each reads its count, worked out once.
    let keys: Vec<(String, usize)> = t
        .computed()
        .filter_map(|i| Some((i.key.clone(), slot(i.aggregate()?))))
        .collect();
    Ok(per
        .into_iter()
        .map(|(id, counts)| {
            let values = keys.iter().map(|(k, s)| (k.clone(), counts[*s])).collect();
            (id, values)
        })
        .collect())
}

/// How many aggregates there are: the length of a [`Tally`].
const TALLY: usize = Aggregate::ALL.len();

/// Counts by aggregate, in the order of `Aggregate::ALL` (the whole-tree roll-up adds arrays,
/// not maps: it runs once per path and ancestor).
type Tally = [i64; TALLY];

/// Where aggregate `a` sits in a [`Tally`].
fn slot(a: Aggregate) -> usize {
    Aggregate::ALL.iter().position(|x| *x == a).unwrap_or(0)
}

/// The template's aggregates on a date over a subtree, grouped by the records' own node path.
/// The queries run side by side, each on its own pooled connection (on SQLite each connection
/// steps its statement on its own thread): the wall time is the longest query's, not the sum.
async fn count_by_path(
    db: &Db,
    template: &Template,
    node: &Node,
    date: time::Date,
) -> Result<HashMap<String, Tally>, StoreError> {
    let mut running = tokio::task::JoinSet::new();
    for q in tree_queries(db.backend(), template, node, date) {
        let db = db.clone();
        running.spawn(async move {
            let slots: Vec<Option<usize>> = q.columns.iter().map(|a| a.map(slot)).collect();
            let rows = q
                .params
                .bind(sqlx::query(&q.sql))
                .fetch_all(db.pool())
                .await?;
            let mut lines: Vec<(String, Tally)> = Vec::with_capacity(rows.len());
            for r in rows {
                let mut line = [0; TALLY];
                for (i, s) in slots.iter().enumerate() {
                    if let Some(s) = s {
                        line[*s] = r.try_get::<i64, _>(i + 1)?;
                    }
                }
                lines.push((r.try_get(0)?, line));
            }
            Ok::<_, StoreError>(lines)
        });
    }
    let mut out: HashMap<String, Tally> = HashMap::new();
    while let Some(done) = running.join_next().await {
        for (path, counts) in done.map_err(internal)?? {
            let line = out.entry(path).or_insert([0; TALLY]);
            for (sum, n) in line.iter_mut().zip(counts) {
                *sum += n;
            }
        }
    }
    Ok(out)
}

/// The queries [`computed_tree`] counts with: the plain `GROUP BY node_path` queries of
/// [`group_by_path_queries`], except observations, read in two parts so that each is one
/// tight range of `observation_report_idx` (released_on, node_path, measure, start_on; migration
/// 0014), every column read from the index: the open ones (`released_on IS NULL`, in path order,
/// so grouped without a sort) and those released on or after the date (few, for a recent date).
/// The baseline's `released_on IS NULL OR released_on >= d` over the subtree reads instead
/// every observation of the subtree through (node_path, released_on) and then each row.
pub fn tree_queries(
    backend: crate::Backend,
    template: &Template,
    node: &Node,
    date: time::Date,
) -> Vec<PathQuery> {
    let wanted = template.aggregates();
    let has = |a: Aggregate| wanted.contains(&a);
    let mut out: Vec<PathQuery> = group_by_path_queries(template, node, date)
        .into_iter()
        .filter(|q| !q.observation)
        .collect();
    let measures = [
        (
            "centralized_quarantine",
            Aggregate::UnderCentralizedQuarantine,
        ),
        ("home_quarantine", Aggregate::UnderHomeQuarantine),
        ("health_monitoring", Aggregate::HealthMonitoring),
    ];
    if !(measures.iter().any(|(_, a)| has(*a)) || has(Aggregate::Releases)) {
        return out;
    }
    let day = format_date(date);
    let (lo, hi) = node.path.subtree_bounds();
    let columns: Vec<Option<Aggregate>> = measures
        .iter()
        .map(|(_, a)| has(*a).then_some(*a))
        .collect();

    // Open on the date: not released (started on or before it).
    let mut p = Params::new();
    let (l, h, d) = (p.text(lo.clone()), p.text(hi.clone()), p.text(day.clone()));
    let cols: Vec<String> = measures
        .iter()
        .map(|(m, _)| format!("COUNT(CASE WHEN measure = '{m}' THEN 1 END)"))
        .collect();
    out.push(PathQuery {
        sql: format!(
            "SELECT node_path, {} FROM observation WHERE released_on IS NULL \
             AND node_path >= {l} AND node_path < {h} AND start_on <= {d} GROUP BY node_path",
            cols.join(", ")
        ),
        params: p,
        columns: columns.clone(),
        observation: true,
    });

    // Released on the date (a release) or after it (still under observation on the date).
    // Without statistics SQLite would rather range over node_path (the whole subtree's history,
    // every row read); INDEXED BY keeps it on released_on, which suits a district-wide count of
    // a recent date (a month back it reads every release since, district-wide).
    let mut p = Params::new();
    let (l, h, d) = (p.text(lo), p.text(hi), p.text(day));
    let mut cols: Vec<String> = measures
        .iter()
        .map(|(m, _)| {
            format!(
                "COUNT(CASE WHEN measure = '{m}' AND start_on <= {d} AND released_on > {d} THEN 1 END)"
            )
        })
        .collect();
    cols.push(format!("COUNT(CASE WHEN released_on = {d} THEN 1 END)"));
    let mut columns = columns;
    columns.push(has(Aggregate::Releases).then_some(Aggregate::Releases));
    let hint = match backend {
        crate::Backend::Sqlite => " INDEXED BY observation_report_idx",
        crate::Backend::Postgres => "",
    };
    out.push(PathQuery {
        sql: format!(
            "SELECT node_path, {} FROM observation{hint} WHERE released_on >= {d} \
             AND node_path >= {l} AND node_path < {h} GROUP BY node_path",
            cols.join(", ")
        ),
        params: p,
        columns,
        observation: true,
    });
    out
}

/// One plain `GROUP BY node_path` query and the aggregate each counted column feeds.
pub struct PathQuery {
    pub sql: String,
    params: Params,
    columns: Vec<Option<Aggregate>>,
    /// Reads the observation table ([`tree_queries`] reads it its own way).
    observation: bool,
}

impl PathQuery {
    /// Runs the query alone and returns how many groups it gave: the benchmark's baseline.
    pub async fn run(&self, db: &Db) -> Result<usize, StoreError> {
        Ok(self
            .params
            .bind(sqlx::query(&self.sql))
            .fetch_all(db.pool())
            .await?
            .len())
    }
}

/// The `GROUP BY node_path` queries for the template's aggregates on a date over a subtree
/// (observations grouped by path and measure in one query).
pub fn group_by_path_queries(template: &Template, node: &Node, date: time::Date) -> Vec<PathQuery> {
    let wanted = template.aggregates();
    let has = |a: Aggregate| wanted.contains(&a);
    let day = format_date(date);
    let (start, end) = day_bounds(date);
    let (lo, hi) = node.path.subtree_bounds();
    let mut out = Vec::new();
    let range = |p: &mut Params| {
        format!(
            "node_path >= {} AND node_path < {}",
            p.text(lo.clone()),
            p.text(hi.clone())
        )
    };
    if has(Aggregate::ArrivalsNew) {
        let mut p = Params::new();
        let r = range(&mut p);
        let d = p.text(day.clone());
        out.push(PathQuery {
            sql: format!("SELECT node_path, COUNT(*) FROM arrival WHERE {r} AND arrived_on = {d} GROUP BY node_path"),
            params: p,
            columns: vec![Some(Aggregate::ArrivalsNew)],
            observation: false,
        });
    }
    let measures = [
        (
            "centralized_quarantine",
            Aggregate::UnderCentralizedQuarantine,
        ),
        ("home_quarantine", Aggregate::UnderHomeQuarantine),
        ("health_monitoring", Aggregate::HealthMonitoring),
    ];
    if measures.iter().any(|(_, a)| has(*a)) || has(Aggregate::Releases) {
        let mut p = Params::new();
        let r = range(&mut p);
        let d = p.text(day.clone());
        let mut cols = Vec::new();
        let mut columns = Vec::new();
        for (m, a) in measures {
            cols.push(format!(
                "COUNT(CASE WHEN measure = '{m}' AND start_on <= {d} AND (released_on IS NULL OR released_on > {d}) THEN 1 END)"
            ));
            columns.push(has(a).then_some(a));
        }
        cols.push(format!("COUNT(CASE WHEN released_on = {d} THEN 1 END)"));
        columns.push(has(Aggregate::Releases).then_some(Aggregate::Releases));
        out.push(PathQuery {
            sql: format!(
                "SELECT node_path, {} FROM observation WHERE {r} AND (released_on IS NULL OR released_on >= {d}) GROUP BY node_path",
                cols.join(", ")
            ),
            params: p,
            columns,
            observation: true,
        });
    }
    if has(Aggregate::FeversOpen) || has(Aggregate::CheckinsMissed) {
        let mut p = Params::new();
        let r = range(&mut p);
        let (s, e) = (p.int(start), p.int(end));
        out.push(PathQuery {
            sql: format!(
                "SELECT node_path, \
                 COUNT(CASE WHEN kind = 'fever' AND (handled_at IS NULL OR handled_at >= {e}) THEN 1 END), \
                 COUNT(CASE WHEN kind = 'overdue' AND raised_at >= {s} THEN 1 END) \
                 FROM alert WHERE {r} AND raised_at < {e} AND (handled_at IS NULL OR handled_at >= {s}) GROUP BY node_path"
            ),
            params: p,
            columns: vec![
                has(Aggregate::FeversOpen).then_some(Aggregate::FeversOpen),
                has(Aggregate::CheckinsMissed).then_some(Aggregate::CheckinsMissed),
            ],
            observation: false,
        });
    }
    if has(Aggregate::EnterprisesReopened) {
        let mut p = Params::new();
        let r = range(&mut p);
        let (s, e) = (p.int(start), p.int(end));
        out.push(PathQuery {
            sql: format!(
                "SELECT node_path, COUNT(*) FROM reopening WHERE {r} AND status = 'approved' \
                 AND decided_at >= {s} AND decided_at < {e} GROUP BY node_path"
            ),
            params: p,
            columns: vec![Some(Aggregate::EnterprisesReopened)],
            observation: false,
        });
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Submitting and approving
// ---------------------------------------------------------------------------------------------

/// A submission as typed: manual values as text by key (a JSON scalar written as text; empty =
/// not given) and the zero-report flag.
#[derive(Debug, Clone, Default)]
pub struct SubmitInput {
    pub manual: Vec<(String, String)>,
    pub zero: bool,
}

/// The open reporting-level nodes below `node` whose report for the date is not approved, with
/// their status (for the roll-up rule).
async fn unapproved_below(
    db: &Db,
    t: &Template,
    node: &Node,
    date: time::Date,
) -> Result<Vec<(String, Status)>, StoreError> {
    let expected = expected_nodes(db, t, node, date).await?;
    let subs = submissions_under(db, &t.key, node, date).await?;
    let status: HashMap<i64, Status> = subs.iter().map(|s| (s.node_id, s.status)).collect();
    Ok(expected
        .into_iter()
        .filter_map(|(id, name)| {
            let s = status.get(&id).copied().unwrap_or(Status::Draft);
            (s != Status::Approved).then_some((name, s))
        })
        .collect())
}

fn roll_up_refusal(action: &str, pending: &[(String, Status)]) -> StoreError {
    let shown: Vec<String> = pending
        .iter()
        .take(10)
        .map(|(name, s)| format!("{name}（{}）", s.label_zh()))
        .collect();
    let more = if pending.len() > 10 {
        format!(" 等 {} 个", pending.len())
    } else {
        String::new()
    };
    StoreError::invalid(
        "node_id",
        format!(
            "下级报告尚未全部审核，暂不能{action}：{}{more}",
            shown.join("、")
        ),
    )
}

/// Submits (or corrects, until approved) the report of `node_id` for `date`. Staff of the node
/// or above; a zero report is refused when the day's records show anything; a node above the
/// reporting level submits no manual values and only once every reporting node below is
/// approved. The first submission time decides on-time or late. Audited.
pub async fn submit(
    db: &Db,
    scope: &Scope,
    key: &str,
    node_id: i64,
    date: time::Date,
    input: &SubmitInput,
    now: i64,
) -> Result<Report, StoreError> {
    let node = tree::get(db, scope, node_id).await?;
    let stored = template_on(db, key, date).await?;
    let t = &stored.template;
    if !can_submit(scope, &node) {
        return Err(StoreError::Forbidden(match scope.role() {
            Role::GridWorker => "网格员不能报送日报告，请由社区工作者报送".into(),
            _ => "街道/区县干部审核报告，不能报送".into(),
        }));
    }
    let day = format_date(date);
    let role = t.role_of(node.kind);
    if role != NodeRole::Below && !t.submits(node.kind, node.parent_id.is_some()) {
        return Err(StoreError::invalid(
            "node_id",
            format!("「{}」是最高一级，汇总下级报告，无需报送", node.name),
        ));
    }
    if role == NodeRole::Below {
        return Err(StoreError::invalid(
            "node_id",
            format!(
                "「{}」由{}报送，{}不单独报送",
                t.name,
                t.level.label_zh(),
                node.kind.label_zh()
            ),
        ));
    }
    if date > clock::today() {
        return Err(StoreError::invalid("date", "不能报送未来日期的报告"));
    }
    if !open_on(&node, &day) {
        return Err(StoreError::invalid(
            "date",
            format!("「{}」在 {day} 未设立或已撤销，无需报送", node.name),
        ));
    }
    let mut manual = if role == NodeRole::Rollup {
        // Its manual numbers are its reporting nodes' sum: nothing of its own to type.
        if let Some((k, _)) = input.manual.iter().find(|(_, v)| !v.trim().is_empty()) {
            return Err(StoreError::invalid(
                &format!("manual.{k}"),
                format!(
                    "{}的人工填报数由下级{}汇总，不能另填",
                    node.kind.label_zh(),
                    t.level.label_zh()
                ),
            ));
        }
        let pending = unapproved_below(db, t, &node, date).await?;
        if !pending.is_empty() {
            return Err(roll_up_refusal("报送", &pending));
        }
        ManualValues::new()
    } else {
        t.parse_manual(&input.manual, input.zero)
            .map_err(StoreError::Invalid)?
    };
    // The live values now, checked against a zero report and kept as the snapshot.
    let report = build(db, scope, stored.clone(), node.clone(), date).await?;
    report.status.check_submit()?;
    let live_computed: BTreeMap<String, i64> = t
        .computed()
        .map(|i| match report.values.get(&i.key) {
            Some(Some(ManualValue::Number(n))) => (i.key.clone(), *n),
            _ => (i.key.clone(), 0),
        })
        .collect();
    if input.zero {
        t.check_zero(&live_computed)?;
        if role == NodeRole::Rollup {
            let sums: Vec<String> = t
                .manual()
                .filter_map(|i| match report.values.get(&i.key) {
                    Some(Some(ManualValue::Number(n))) if *n != 0 => {
                        Some(format!("{} {n}{}", i.label, i.unit))
                    }
                    _ => None,
                })
                .collect();
            if !sums.is_empty() {
                return Err(StoreError::invalid(
                    "zero",
                    format!("下级填报有数，不能报零报告：{}", sums.join("、")),
                ));
            }
        }
        // Numbers left out of a zero report are 0.
        manual.retain(|_, v| !matches!(v, ManualValue::Number(0)));
    }
    let mut snapshot = report.values.clone();
    for (k, n) in &live_computed {
        snapshot.insert(k.clone(), Some(ManualValue::Number(*n)));
    }
    if role == NodeRole::Reporting {
        for ind in t.manual() {
            let v = manual.get(&ind.key).cloned().or_else(|| {
                (ind.manual_kind() == Some(ManualKind::Number)).then_some(ManualValue::Number(0))
            });
            snapshot.insert(ind.key.clone(), v);
        }
    }
    let manual_json = serde_json::to_string(&manual).map_err(internal)?;
    let values_json = serde_json::to_string(&snapshot).map_err(internal)?;
    let mut tx = db.begin_write().await?;
    // One statement for first submission and correction; an approved row is not touched, so
    // two submitters racing an approval cannot unlock it.
    let row = sqlx::query(
        "INSERT INTO report_submission (template_key, template_id, node_id, report_on, status, zero, manual_json, \
         values_json, submitted_by, submitted_at, updated_at) \
         VALUES ($1, $2, $3, $4, 'submitted', $5, $6, $7, $8, $9, $9) \
         ON CONFLICT (template_key, node_id, report_on) DO UPDATE SET \
         template_id = excluded.template_id, zero = excluded.zero, manual_json = excluded.manual_json, \
         values_json = excluded.values_json, submitted_by = excluded.submitted_by, updated_at = excluded.updated_at, \
         status = 'submitted', returned_by = NULL, returned_at = NULL, return_reason = NULL \
         WHERE report_submission.status IN ('submitted', 'returned') RETURNING id",
    )
    .bind(&t.key)
    .bind(stored.id)
    .bind(node.id)
    .bind(&day)
    .bind(i64::from(input.zero))
    .bind(&manual_json)
    .bind(&values_json)
    .bind(scope.actor())
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else {
        return Err(StoreError::invalid(
            "status",
            "该报告已审核，数据已锁定，不能再修改",
        ));
    };
    let id: i64 = row.try_get(0)?;
    audit::commit_recorded(tx, AuditEntry::by(scope, "report.submit", "report_submission")
            .entity_id(id)
            .node_path(&node.path)
            .detail(json!({"template": t.key, "version": t.version, "date": day, "zero": input.zero, "manual": manual})), now).await?;
    build(db, scope, stored, node, date).await
}

/// Approves the submitted report of `node_id` for `date`: officials or staff strictly above the
/// node (admins anywhere). A node above the reporting level is approved only once every open
/// reporting node below is approved. The values are snapshotted and locked. Audited.
pub async fn approve(
    db: &Db,
    scope: &Scope,
    key: &str,
    node_id: i64,
    date: time::Date,
    now: i64,
) -> Result<Report, StoreError> {
    let node = tree::get(db, scope, node_id).await?;
    let stored = template_on(db, key, date).await?;
    let t = &stored.template;
    if !can_approve(scope, &node) {
        return Err(StoreError::Forbidden(match scope.role() {
            Role::GridWorker => "网格员不能审核报告".into(),
            _ => "报告由上级审核，不能审核本级的报告".into(),
        }));
    }
    let report = build(db, scope, stored.clone(), node.clone(), date).await?;
    report.status.check_approve()?;
    if report.role == NodeRole::Rollup {
        let pending = unapproved_below(db, t, &node, date).await?;
        if !pending.is_empty() {
            return Err(roll_up_refusal("审核", &pending));
        }
    }
    let day = format_date(date);
    let values_json = serde_json::to_string(&report.values).map_err(internal)?;
    // The breakdown is locked with the figures, so the two keep adding up.
    let lines = LockedLines {
        children: report
            .children
            .iter()
            .map(|c| (c.node_id, c.values.clone()))
            .collect(),
        direct: report.direct.clone(),
    };
    let lines_json = serde_json::to_string(&lines).map_err(internal)?;
    let mut tx = db.begin_write().await?;
    let row = sqlx::query(
        "UPDATE report_submission SET status = 'approved', approved_by = $1, approved_at = $2, values_json = $3, \
         lines_json = $7 \
         WHERE template_key = $4 AND node_id = $5 AND report_on = $6 AND status = 'submitted' RETURNING id",
    )
    .bind(scope.actor())
    .bind(now)
    .bind(&values_json)
    .bind(&t.key)
    .bind(node.id)
    .bind(&day)
    .bind(&lines_json)
    .fetch_optional(&mut *tx)
    .await?;
    decided(
        tx,
        row,
        AuditEntry::by(scope, "report.approve", "report_submission")
            .node_path(&node.path)
            .detail(json!({"template": t.key, "date": day})),
        now,
    )
    .await?;
    build(db, scope, stored, node, date).await
}

/// Commits an approver's decision: `row` is what its `UPDATE … RETURNING id` gave (none: the
/// report changed under them), recorded as `entry` about that submission.
async fn decided(
    tx: sqlx::Transaction<'_, sqlx::Any>,
    row: Option<sqlx::any::AnyRow>,
    entry: AuditEntry,
    now: i64,
) -> Result<(), StoreError> {
    let Some(row) = row else {
        return Err(StoreError::Conflict {
            field: "status".into(),
            message: "该报告刚被他人审核或修改，请刷新后再试".into(),
        });
    };
    let id: i64 = row.try_get(0)?;
    audit::commit_recorded(tx, entry.entity_id(id), now).await
}

/// Returns (退回) the submitted report of `node_id` for `date` with a reason: whoever may approve
/// it. The node sees the reason on its report, corrects it and submits again; until then it
/// counts as not reported. Audited with the reason.
pub async fn return_report(
    db: &Db,
    scope: &Scope,
    key: &str,
    node_id: i64,
    date: time::Date,
    reason: &str,
    now: i64,
) -> Result<Report, StoreError> {
    let node = tree::get(db, scope, node_id).await?;
    let stored = template_on(db, key, date).await?;
    if !can_approve(scope, &node) {
        return Err(StoreError::Forbidden(match scope.role() {
            Role::GridWorker => "网格员不能退回报告".into(),
            _ => "报告由上级审核，不能退回本级的报告".into(),
        }));
    }
    let report = build(db, scope, stored.clone(), node.clone(), date).await?;
    let (status, reason) = report
        .status
        .check_return(reason)
        .map_err(StoreError::Invalid)?;
    let day = format_date(date);
    let mut tx = db.begin_write().await?;
    let row = sqlx::query(
        "UPDATE report_submission SET status = $1, returned_by = $2, returned_at = $3, return_reason = $4 \
         WHERE template_key = $5 AND node_id = $6 AND report_on = $7 AND status = $8 RETURNING id",
    )
    .bind(status.as_str())
    .bind(scope.actor())
    .bind(now)
    .bind(&reason)
    .bind(&stored.template.key)
    .bind(node.id)
    .bind(&day)
    .bind(Status::Submitted.as_str())
    .fetch_optional(&mut *tx)
    .await?;
    decided(
        tx,
        row,
        AuditEntry::by(scope, "report.return", "report_submission")
            .node_path(&node.path)
            .detail(json!({"template": stored.template.key, "date": day, "reason": reason})),
        now,
    )
    .await?;
    build(db, scope, stored, node, date).await
}

// ---------------------------------------------------------------------------------------------
// Completeness, timeliness and reminders
// ---------------------------------------------------------------------------------------------

/// A node that has not reported.
#[derive(Debug, Clone, Serialize)]
pub struct MissingNode {
    pub node_id: i64,
    pub name: String,
    /// Reminders sent to it for this report.
    pub reminders: i64,
}

/// Who has reported, under a viewer node, for one template and date.
#[derive(Debug, Clone, Serialize)]
pub struct Completeness {
    /// The reporting level.
    pub level: NodeKind,
    /// Open (on the date) nodes of the reporting level under the viewer node (itself included).
    pub expected: i64,
    /// Submitted or approved.
    pub submitted: i64,
    pub approved: i64,
    pub zero: i64,
    pub on_time: i64,
    pub late: i64,
    pub missing: Vec<MissingNode>,
    pub due_at: i64,
}

/// The open reporting-level nodes of `node`'s subtree on `date`, by id: (id, name).
async fn expected_nodes(
    db: &Db,
    t: &Template,
    node: &Node,
    date: time::Date,
) -> Result<Vec<(i64, String)>, StoreError> {
    let (lo, hi) = node.path.subtree_bounds();
    let day = format_date(date);
    let rows = sqlx::query(
        "SELECT id, name FROM node WHERE path >= $1 AND path < $2 AND kind = $3 AND opened_on <= $4 \
         AND (closed_on IS NULL OR closed_on > $4) ORDER BY id",
    )
    .bind(lo)
    .bind(hi)
    .bind(t.level.as_str())
    .bind(day)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect()
}

/// Completeness and timeliness of template `key` on `date` under `node_id`.
pub async fn completeness(
    db: &Db,
    scope: &Scope,
    key: &str,
    node_id: i64,
    date: time::Date,
) -> Result<Completeness, StoreError> {
    let node = tree::get(db, scope, node_id).await?;
    let stored = template_on(db, key, date).await?;
    let t = &stored.template;
    let expected = expected_nodes(db, t, &node, date).await?;
    let subs = submissions_under(db, &t.key, &node, date).await?;
    let by_node: HashMap<i64, &Submission> = subs.iter().map(|s| (s.node_id, s)).collect();
    let day = format_date(date);
    let reminder_rows = {
        let (lo, hi) = node.path.subtree_bounds();
        sqlx::query(
            "SELECT r.node_id, COUNT(*) FROM report_reminder r JOIN node n ON n.id = r.node_id \
             WHERE r.template_key = $1 AND r.report_on = $2 AND n.path >= $3 AND n.path < $4 GROUP BY r.node_id",
        )
        .bind(&t.key)
        .bind(&day)
        .bind(lo)
        .bind(hi)
        .fetch_all(db.pool())
        .await?
    };
    let mut reminded: HashMap<i64, i64> = HashMap::new();
    for r in reminder_rows {
        reminded.insert(r.try_get(0)?, r.try_get(1)?);
    }
    let mut c = Completeness {
        level: t.level,
        expected: expected.len() as i64,
        submitted: 0,
        approved: 0,
        zero: 0,
        on_time: 0,
        late: 0,
        missing: Vec::new(),
        due_at: t.deadline.instant_on(date),
    };
    for (id, name) in expected {
        match by_node.get(&id) {
            Some(s) if s.status.is_reported() => {
                c.submitted += 1;
                if s.status == Status::Approved {
                    c.approved += 1;
                }
                if s.zero {
                    c.zero += 1;
                }
                match Timeliness::of(t.deadline, date, s.submitted_at) {
                    Timeliness::OnTime => c.on_time += 1,
                    Timeliness::Late => c.late += 1,
                }
            }
            _ => c.missing.push(MissingNode {
                node_id: id,
                reminders: reminded.get(&id).copied().unwrap_or(0),
                name,
            }),
        }
    }
    Ok(c)
}

async fn reminders_of(
    db: &Db,
    key: &str,
    node_id: i64,
    date: time::Date,
) -> Result<Vec<Reminder>, StoreError> {
    let rows = sqlx::query(
        "SELECT id, node_id, created_at, created_by FROM report_reminder \
         WHERE template_key = $1 AND node_id = $2 AND report_on = $3 ORDER BY id",
    )
    .bind(key)
    .bind(node_id)
    .bind(format_date(date))
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Reminder {
                id: r.try_get(0)?,
                node_id: r.try_get(1)?,
                created_at: r.try_get(2)?,
                created_by: r.try_get(3)?,
            })
        })
        .collect()
}

/// The reminders a node received for a report (its staff see them on the report page).
pub async fn reminders(
    db: &Db,
    scope: &Scope,
    key: &str,
    node_id: i64,
    date: time::Date,
) -> Result<Vec<Reminder>, StoreError> {
    let node = tree::get(db, scope, node_id).await?;
    template_on(db, key, date).await?;
    reminders_of(db, key, node.id, date).await
}

/// Reminds a reporting node that has not reported: officials or staff strictly above it.
/// Recorded, and audited.
pub async fn remind(
    db: &Db,
    scope: &Scope,
    key: &str,
    node_id: i64,
    date: time::Date,
    now: i64,
) -> Result<Reminder, StoreError> {
    let node = tree::get(db, scope, node_id).await?;
    let stored = template_on(db, key, date).await?;
    let t = &stored.template;
    if !can_approve(scope, &node) {
        return Err(StoreError::Forbidden("提醒由上级发出".into()));
    }
    let day = format_date(date);
    if t.role_of(node.kind) != NodeRole::Reporting || !open_on(&node, &day) {
        return Err(StoreError::invalid(
            "node_id",
            format!("「{}」不是 {day} 应报送「{}」的单位", node.name, t.name),
        ));
    }
    let subs = submissions_under(db, &t.key, &node, date).await?;
    if subs
        .iter()
        .any(|s| s.node_id == node.id && s.status.is_reported())
    {
        return Err(StoreError::invalid(
            "node_id",
            format!("「{}」已报送，无需提醒", node.name),
        ));
    }
    let mut tx = db.begin_write().await?;
    let id = audit::insert_recorded(
        &mut tx,
        sqlx::query(
            "INSERT INTO report_reminder (template_key, node_id, report_on, created_at, created_by) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(&t.key)
        .bind(node.id)
        .bind(&day)
        .bind(now)
        .bind(scope.actor()),
        AuditEntry::by(scope, "report.remind", "report_reminder")
            .node_path(&node.path)
            .detail(json!({"template": t.key, "date": day, "node": node.name})),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(Reminder {
        id,
        node_id: node.id,
        created_at: now,
        created_by: scope.actor().to_owned(),
    })
}

// ---------------------------------------------------------------------------------------------
// Benchmark data

/// Runs `INSERT INTO {head} VALUES` with the rows in chunks of 1,000, in one transaction.
async fn insert(db: &Db, head: &str, rows: &[String]) -> Result<(), StoreError> {
    let mut tx = db.begin_write().await?;
    for chunk in rows.chunks(1_000) {
        let sql = format!("INSERT INTO {head} VALUES {}", chunk.join(", "));
        sqlx::query(&sql).execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

struct BenchTree {
    /// (id, path) of every grid.
    grids: Vec<(i64, String)>,
    /// (id, path) of every community.
    communities: Vec<(i64, String)>,
    nodes: usize,
}

/// What [`seed_benchmark`] wrote.
#[derive(Debug, Clone, Copy)]
pub struct BenchSeed {
    pub nodes: usize,
    pub records: u64,
}

/// The days of records [`seed_benchmark`] writes, ending on the report date.
pub const BENCH_DAYS: i64 = 30;

/// Seeds an EMPTY database for `linli bench report`: a district (id 1) of 10 streets and 100
/// communities with `grids` grids, and `BENCH_DAYS` days of epidemic records ending on `day`
/// (`per_day` arrivals a day, an observation for each, fever and overdue alerts, reopenings).
/// Operators (admins) only; not for a database in use.
pub async fn seed_benchmark(
    db: &Db,
    scope: &Scope,
    grids: u64,
    per_day: u64,
    day: time::Date,
) -> Result<BenchSeed, StoreError> {
    if !scope.is_admin() {
        return Err(StoreError::Forbidden("只有管理员可以生成测试数据".into()));
    }
    let tree = seed_tree(db, grids).await?;
    let records = seed_records(db, &tree, per_day, day).await?;
    if db.backend() == crate::Backend::Postgres {
        sqlx::query("ANALYZE").execute(db.pool()).await?;
    }
    Ok(BenchSeed {
        nodes: tree.nodes,
        records,
    })
}

/// The district 香格里拉市 (id 1), 10 streets, 10 communities each, and the grids spread evenly
/// over the communities; ids given explicitly so the paths are known before the insert.
async fn seed_tree(db: &Db, grids: u64) -> Result<BenchTree, StoreError> {
    let mut rows = vec![
        "(1, NULL, 'district', '香格里拉市', '533401', '/1/', 0, NULL, '2020-01-01', NULL, 0, 0)"
            .to_owned(),
    ];
    let mut next = 2i64;
    let mut communities = Vec::new();
    for s in 0..10 {
        let sid = next;
        next += 1;
        let scode = format!("533401{:03}", s + 1);
        rows.push(format!(
            "({sid}, 1, 'street', '街道{s:02}', '{scode}', '/1/{sid}/', 1, NULL, '2020-01-01', NULL, 0, 0)"
        ));
        for c in 0..10 {
            let cid = next;
            next += 1;
            let path = format!("/1/{sid}/{cid}/");
            rows.push(format!(
                "({cid}, {sid}, 'community', '社区{s:02}{c:02}', '{scode}{:03}', '{path}', 2, NULL, '2020-01-01', NULL, 0, 0)",
                c + 1
            ));
            communities.push((cid, path));
        }
    }
    let mut grid_rows = Vec::new();
    for g in 0..grids {
        let (cid, cpath) = &communities[(g % communities.len() as u64) as usize];
        let gid = next;
        next += 1;
        let path = format!("{cpath}{gid}/");
        rows.push(format!(
            "({gid}, {cid}, 'grid', '网格{g:05}', NULL, '{path}', 3, 400, '2020-01-01', NULL, 0, 0)"
        ));
        grid_rows.push((gid, path));
    }
    let n = rows.len();
    insert(
        db,
        "node (id, parent_id, kind, name, code, path, depth, household_estimate, opened_on, closed_on, created_at, updated_at)",
        &rows,
    )
    .await?;
    Ok(BenchTree {
        grids: grid_rows,
        communities,
        nodes: n,
    })
}

/// Where record `i` goes: every 50th on a community itself, the others spread over the grids
/// (a multiplicative spread, so neighbours in `i` land far apart).
fn place(tree: &BenchTree, i: u64) -> &(i64, String) {
    if i.is_multiple_of(50) || tree.grids.is_empty() {
        &tree.communities[(i / 50 % tree.communities.len() as u64) as usize]
    } else {
        &tree.grids[(i.wrapping_mul(2_654_435_761) % tree.grids.len() as u64) as usize]
    }
}

/// A month of records: arrivals every day, an observation for each (released after 14 days),
/// a fever alert for one arrival in 30, overdue check-in alerts, reopenings approved. Every 50th
/// record is placed on a community itself rather than on a grid. Returns the rows written.
async fn seed_records(
    db: &Db,
    tree: &BenchTree,
    per_day: u64,
    day: time::Date,
) -> Result<u64, StoreError> {
    let mut arrivals = Vec::new();
    let mut observations = Vec::new();
    let mut alerts = Vec::new();
    let mut enterprises = Vec::new();
    let mut reopenings = Vec::new();
    let mut id = 0u64;
    let measures = [
        "centralized_quarantine",
        "home_quarantine",
        "home_quarantine",
        "health_monitoring",
        "home_quarantine",
    ];
    for back in (0..BENCH_DAYS).rev() {
        let on = day - time::Duration::days(back);
        let on_s = format_date(on);
        let until = format_date(on + time::Duration::days(14));
        let released = if on + time::Duration::days(14) <= day {
            format!("'{until}'")
        } else {
            "NULL".to_owned()
        };
        let (start, _) = day_bounds(on);
        for _ in 0..per_day {
            id += 1;
            let (node_id, path) = place(tree, id);
            arrivals.push(format!(
                "({id}, {node_id}, 1, '{path}', '420111', '{on_s}', 'worker', 'confirmed', 'home_quarantine', '', 0, 'bench')"
            ));
            observations.push(format!(
                "({id}, {id}, 1, '{path}', '{}', '[]', '{on_s}', '{until}', 2, {released}, 0)",
                measures[(id % 5) as usize]
            ));
            if id.is_multiple_of(30) {
                // Handled the next morning, except the last day's.
                let handled = if back == 0 {
                    "NULL".to_owned()
                } else {
                    (start + 86_400_000 + 9 * 3_600_000).to_string()
                };
                alerts.push(format!(
                    "('fever', {id}, 1, '{path}', {}, '', {handled})",
                    start + 10 * 3_600_000
                ));
            }
            if id.is_multiple_of(3) {
                alerts.push(format!(
                    "('overdue', {id}, 1, '{path}', {}, '', {})",
                    start + 21 * 3_600_000,
                    start + 22 * 3_600_000
                ));
            }
            if id.is_multiple_of(45) {
                enterprises.push(format!(
                    "({id}, {node_id}, 1, '{path}', '企业{id}', 'individual', 'bench{id}', 0, 'bench', 0)"
                ));
                reopenings.push(format!(
                    "({id}, 1, '{path}', 'approved', 1, 1, 1, 1, 'staff', 0, 'bench', {})",
                    start + 15 * 3_600_000
                ));
            }
        }
    }
    insert(db, "arrival (id, node_id, district_id, node_path, origin_code, arrived_on, source, status, measure, explanation, created_at, created_by)", &arrivals).await?;
    insert(db, "observation (id, arrival_id, district_id, node_path, measure, stages_json, start_on, until_on, check_ins_per_day, released_on, created_at)", &observations).await?;
    insert(
        db,
        "alert (kind, observation_id, district_id, node_path, raised_at, detail, handled_at)",
        &alerts,
    )
    .await?;
    insert(db, "enterprise (id, node_id, district_id, node_path, name, kind, link_token_hash, created_at, created_by, updated_at)", &enterprises).await?;
    insert(db, "reopening (enterprise_id, district_id, node_path, status, thermometers, disinfection, masks, staff_registration, channel, submitted_at, submitted_by, decided_at)", &reopenings).await?;
    Ok(
        (arrivals.len() + observations.len() + alerts.len() + enterprises.len() + reopenings.len())
            as u64,
    )
}
