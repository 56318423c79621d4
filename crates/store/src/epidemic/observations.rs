//! Who is under observation in a node, as a grid worker follows them day by day: measure, day
//! N of M, today's check-ins against the day's quota, the last temperature and open alerts,
//! grouped by the node each person lives in (a grid or a building).

use linli_core::epidemic::observation::{checkins_due_on, day_of, owes_checkins};
use linli_core::epidemic::policy::{Measure, Temperature};
use linli_core::kernel::clock::{self, day_bounds, format_date, parse_date};
use linli_core::kernel::labels::Labelled;
use linli_core::{JurisdictionPath, NodeKind, Scope};
use sqlx::Row;
use time::Date;

use crate::infra::db::Params;
use crate::infra::errors::internal;
use crate::{Db, StoreError};

/// What to list, besides the node.
#[derive(Debug, Clone, Default)]
pub struct ObservationFilter {
    pub measure: Option<Measure>,
    /// Only those who still owe check-ins today.
    pub pending: bool,
    /// Only those whose last day is today or past (to release).
    pub ending: bool,
    /// A name prefix.
    pub q: Option<String>,
}

/// One person under observation, as the list shows them.
#[derive(Debug, Clone)]
pub struct UnderObservation {
    pub id: i64,
    pub person_id: i64,
    pub person_name: String,
    pub measure: Measure,
    pub place: Option<String>,
    pub start_on: Date,
    pub until: Date,
    pub day: i64,
    pub days: i64,
    pub checkins_done: i64,
    pub checkins_due: i64,
    pub last_temperature: Option<Temperature>,
    pub open_alerts: i64,
    /// Where the person lives: the node of the observation, and its parent (a building's grid).
    pub node_name: String,
    pub node_kind: Option<NodeKind>,
    pub parent_name: Option<String>,
}

impl UnderObservation {
    pub fn owes_checkins(&self) -> bool {
        owes_checkins(self.checkins_done, self.checkins_due)
    }
}

/// One page of the list and how many match in all.
#[derive(Debug, Clone)]
pub struct ObservationPage {
    pub items: Vec<UnderObservation>,
    pub total: i64,
}

/// The most rows one page (and one export) holds.
pub const MAX_PAGE: i64 = 5_000;

/// Everyone under an open observation within `node_id` (in the caller's scope) as of `on`,
/// ordered by where they live and then by who came first; `limit` rows from `offset`.
pub async fn under_observation(
    db: &Db,
    scope: &Scope,
    node_id: i64,
    filter: &ObservationFilter,
    on: Date,
    limit: i64,
    offset: i64,
) -> Result<ObservationPage, StoreError> {
    let node = crate::tree::get(db, scope, node_id).await?;
    // The person is joined only to filter by name: an open observation always has its person
    // (only released ones are anonymised), and the count then reads the index alone.
    let from = if filter.q.as_deref().is_some_and(|q| !q.trim().is_empty()) {
        "FROM observation o JOIN person p ON p.id = o.person_id"
    } else {
        "FROM observation o"
    };
    // Each statement gets placeholders of its own: one binding no unused value.
    let mut params = Params::new();
    let (where_, _) = conditions(&node.path, filter, on, false, &mut params);
    let count_sql = format!("SELECT COUNT(*) {from} WHERE {where_}");
    let total: i64 = params
        .bind(sqlx::query(&count_sql))
        .fetch_one(db.pool())
        .await?
        .try_get(0)?;
    let mut params = Params::new();
    let (where_, done) = conditions(&node.path, filter, on, true, &mut params);
    let lim = params.int(limit.clamp(1, MAX_PAGE));
    let off = params.int(offset.max(0));
    // A person's alerts open on `on` (as of a past day: raised by then, not handled by then).
    let alert_open = super::alerts::open_at("a.", || params.int(day_bounds(on).1));
    // The page's ids first, then the per-row figures for those rows only: in one query the
    // sorter would compute every row's check-in count, last temperature and alerts before
    // keeping a hundred (at 100,000 under observation, most of the time). Within a place the
    // order is the observation's (who came first), not the name: so the page is a walk of the
    // open-observation index that stops after the page, with no sort of the whole subtree.
    let sql = format!(
        "SELECT o.id, o.person_id, p.name, o.measure, o.place, o.start_on, o.until_on, \
                o.check_ins_per_day, o.node_path, n.name, n.kind, pn.name, {done}, \
                (SELECT c.temperature_tenths FROM checkin c WHERE c.observation_id = o.id \
                   AND c.temperature_tenths IS NOT NULL ORDER BY c.at DESC LIMIT 1), \
                (SELECT COUNT(*) FROM alert a WHERE a.person_id = o.person_id AND {alert_open}) \
         FROM (SELECT o.id AS page_id {from} WHERE {where_} \
               ORDER BY o.node_path, o.id LIMIT {lim} OFFSET {off}) pg \
         JOIN observation o ON o.id = pg.page_id JOIN person p ON p.id = o.person_id \
         LEFT JOIN node n ON n.path = o.node_path LEFT JOIN node pn ON pn.id = n.parent_id \
         ORDER BY o.node_path, o.id"
    );
    let rows = params.bind(sqlx::query(&sql)).fetch_all(db.pool()).await?;
    let mut items = Vec::with_capacity(rows.len());
    for r in &rows {
        // Belt and braces: the subtree is the caller's, but each row is checked as elsewhere.
        let path = JurisdictionPath::parse(&r.try_get::<String, _>(8)?).map_err(internal)?;
        if !scope.can_read(&path) {
            continue;
        }
        let start_on = parse_date("start_on", &r.try_get::<String, _>(5)?).map_err(internal)?;
        let until = parse_date("until_on", &r.try_get::<String, _>(6)?).map_err(internal)?;
        let (day, days) = day_of(start_on, until, on);
        let measure: String = r.try_get(3)?;
        let kind: Option<String> = r.try_get(10)?;
        items.push(UnderObservation {
            id: r.try_get(0)?,
            person_id: r.try_get(1)?,
            person_name: r.try_get(2)?,
            measure: measure.parse().map_err(internal)?,
            place: r.try_get(4)?,
            start_on,
            until,
            day,
            days,
            checkins_due: checkins_due_on(
                u8::try_from(r.try_get::<i64, _>(7)?).unwrap_or(u8::MAX),
                start_on,
                until,
                on,
            ),
            node_name: r.try_get::<Option<String>, _>(9)?.unwrap_or_default(),
            node_kind: kind.and_then(|k| k.parse().ok()),
            parent_name: r.try_get(11)?,
            checkins_done: r.try_get(12)?,
            last_temperature: r
                .try_get::<Option<i64>, _>(13)?
                .and_then(|t| Temperature::from_tenths(t).ok()),
            open_alerts: r.try_get(14)?,
        });
    }
    Ok(ObservationPage { items, total })
}

/// The WHERE clause of the list within `path`, and the expression counting a row's check-ins
/// on `on` (used by the filter, and by the list when `with_done`; empty when neither wants it,
/// so that no statement binds a value it does not use).
/// The bench's baseline: a plain count of the open observations in a subtree (`lo..hi`, the
/// path bounds), through the same index as the list.
pub async fn count_open_baseline(db: &Db, lo: &str, hi: &str) -> Result<i64, StoreError> {
    Ok(sqlx::query(
        "SELECT COUNT(*) FROM observation WHERE released_on IS NULL \
         AND node_path >= $1 AND node_path < $2",
    )
    .bind(lo)
    .bind(hi)
    .fetch_one(db.pool())
    .await?
    .try_get(0)?)
}

/// The condition that an observation (`o`: its alias and a dot, or nothing) is open on the day
/// `day` gives (a placeholder, asked for only when used). As a rule, the ones not released: the
/// index of open observations serves it. While the process runs as of a past day (`serve
/// --as-of`, demo databases only) the records also hold that day's future, so it is the ones
/// started by then and not released by its end — as the daily report counts them.
pub(crate) fn open_on(o: &str, day: impl FnOnce() -> String) -> String {
    if clock::as_of().is_some() {
        let d = day();
        format!("({o}start_on <= {d} AND ({o}released_on IS NULL OR {o}released_on > {d}))")
    } else {
        format!("{o}released_on IS NULL")
    }
}

fn conditions(
    path: &JurisdictionPath,
    filter: &ObservationFilter,
    on: Date,
    with_done: bool,
    params: &mut Params,
) -> (String, String) {
    let (lo, hi) = path.subtree_bounds();
    let (day_start, day_end) = day_bounds(on);
    let mut conds = vec![
        open_on("o.", || params.text(format_date(on))),
        format!("o.node_path >= {}", params.text(lo)),
        format!("o.node_path < {}", params.text(hi)),
    ];
    if let Some(m) = filter.measure {
        conds.push(format!("o.measure = {}", params.text(m.as_str())));
    }
    if filter.ending {
        conds.push(format!("o.until_on <= {}", params.text(format_date(on))));
    }
    if let Some(q) = filter.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        conds.push(params.prefix_like("p.name", q));
    }
    if !(with_done || filter.pending) {
        return (conds.join(" AND "), String::new());
    }
    let ds = params.int(day_start);
    let de = params.int(day_end);
    let done = format!(
        "(SELECT COUNT(*) FROM checkin c WHERE c.observation_id = o.id AND c.at >= {ds} AND c.at < {de})"
    );
    if filter.pending {
        // `checkins_due_on` in SQL: the quota within the period, nothing outside it. The day's
        // count is the one kept on the observation (migration 0021) when `on` is the day of its
        // latest check-in, none when it is later; only an earlier day counts the rows.
        let day = params.text(format_date(on));
        let d = params.int(day_start);
        let counted = format!(
            "CASE WHEN o.last_checkin_day = {d} THEN o.last_day_checkins \
             WHEN o.last_checkin_day IS NULL OR o.last_checkin_day < {d} THEN 0 ELSE {done} END"
        );
        conds.push(format!(
            "o.start_on <= {day} AND o.until_on >= {day} AND {counted} < o.check_ins_per_day"
        ));
    }
    (conds.join(" AND "), done)
}
