//! The epidemic dashboard: a node's figures over its whole subtree, and the same figures per
//! child node, computed from the records (never typed again) so they add up the tree.
//!
//! Each table is read once with a range scan on `node_path` over the node's subtree; every row is
//! assigned to the child whose subtree holds it by a `CASE` on the children's path bounds (0 =
//! placed on the node itself, 本级直属) and counted with `GROUP BY`. The node's own figures are
//! the sum of those groups, so a parent always equals the sum of its rows.

use linli_core::kernel::clock::format_date;
use linli_core::{NodeKind, Scope};
use serde::Serialize;
use sqlx::Row;

use crate::infra::db::Params;
use crate::tree::{self, Node};
use crate::{Db, Page, StoreError};

/// The figures of one node (its subtree) or of one child row.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Figures {
    /// Arrival screenings whose arrival date is today (pending review ones included).
    pub arrivals_today: i64,
    /// Open observations (not released) by measure.
    pub centralized_quarantine: i64,
    pub home_quarantine: i64,
    pub health_monitoring: i64,
    /// Unhandled fever alerts.
    pub fevers_open: i64,
    /// Unhandled overdue check-in alerts.
    pub overdue_open: i64,
    /// Open observations whose last day is today or earlier.
    pub releases_due: i64,
}

impl Figures {
    /// Everyone under observation now, whatever the measure.
    pub fn under_observation(&self) -> i64 {
        self.centralized_quarantine + self.home_quarantine + self.health_monitoring
    }

    fn add(&mut self, o: &Figures) {
        self.arrivals_today += o.arrivals_today;
        self.centralized_quarantine += o.centralized_quarantine;
        self.home_quarantine += o.home_quarantine;
        self.health_monitoring += o.health_monitoring;
        self.fevers_open += o.fevers_open;
        self.overdue_open += o.overdue_open;
        self.releases_due += o.releases_due;
    }
}

/// One row of the per-child table.
#[derive(Debug, Clone, Serialize)]
pub struct ChildFigures {
    pub node_id: i64,
    pub name: String,
    pub kind: NodeKind,
    pub closed: bool,
    pub figures: Figures,
}

/// The dashboard of one node.
#[derive(Debug, Clone, Serialize)]
pub struct EpidemicDashboard {
    pub node_id: i64,
    pub node_name: String,
    pub node_kind: NodeKind,
    /// The China date the figures are for (`YYYY-MM-DD`).
    pub today: String,
    /// Over the whole subtree: the sum of `children` and `direct`.
    pub total: Figures,
    /// Records placed on the node itself, not under any child.
    pub direct: Figures,
    /// Every child node (closed ones too: their records still count), by id.
    pub children: Vec<ChildFigures>,
}

/// Children with more than this many rows are not broken down (a CASE arm per child).
const MAX_CHILDREN: usize = 2_000;

/// The epidemic dashboard of `node_id` on the China date `today`. A node outside the caller's
/// jurisdiction is `NotFound`; since the node is readable, so is its whole subtree.
pub async fn epidemic_dashboard(
    db: &Db,
    scope: &Scope,
    node_id: i64,
    today: time::Date,
) -> Result<EpidemicDashboard, StoreError> {
    let node = tree::get(db, scope, node_id).await?;
    let children = child_nodes(db, scope, &node).await?;
    let today_s = format_date(today);

    let mut per: std::collections::HashMap<i64, Figures> = Default::default();

    // Arrivals of the day.
    let mut p = Params::new();
    let (child, range) = grouping(&node, &children, &mut p);
    let t = p.text(today_s.clone());
    let sql = format!(
        "SELECT {child} AS child, COUNT(*) FROM arrival WHERE {range} AND arrived_on = {t} GROUP BY 1"
    );
    for r in p.bind(sqlx::query(&sql)).fetch_all(db.pool()).await? {
        per.entry(r.try_get(0)?).or_default().arrivals_today = r.try_get(1)?;
    }

    // Open observations by measure, and those due for release.
    let mut p = Params::new();
    let (child, range) = grouping(&node, &children, &mut p);
    let t = p.text(today_s.clone());
    let open = super::observations::open_on("", || t.clone());
    let sql = format!(
        "SELECT {child} AS child, measure, COUNT(*), COUNT(CASE WHEN until_on <= {t} THEN 1 END) \
         FROM observation WHERE {range} AND {open} GROUP BY 1, 2"
    );
    for r in p.bind(sqlx::query(&sql)).fetch_all(db.pool()).await? {
        let f = per.entry(r.try_get(0)?).or_default();
        let measure: String = r.try_get(1)?;
        let n: i64 = r.try_get(2)?;
        match measure.as_str() {
            "centralized_quarantine" => f.centralized_quarantine += n,
            "home_quarantine" => f.home_quarantine += n,
            "health_monitoring" => f.health_monitoring += n,
            other => return Err(StoreError::Internal(format!("unknown measure `{other}`"))),
        }
        f.releases_due += r.try_get::<i64, _>(3)?;
    }

    // Open alerts by kind.
    let mut p = Params::new();
    let (child, range) = grouping(&node, &children, &mut p);
    let open = super::alerts::open_at("", || p.int(linli_core::kernel::clock::day_bounds(today).1));
    let sql = format!(
        "SELECT {child} AS child, kind, COUNT(*) FROM alert WHERE {range} AND {open} \
         GROUP BY 1, 2"
    );
    for r in p.bind(sqlx::query(&sql)).fetch_all(db.pool()).await? {
        let f = per.entry(r.try_get(0)?).or_default();
        let kind: String = r.try_get(1)?;
        let n: i64 = r.try_get(2)?;
        match kind.as_str() {
            "fever" => f.fevers_open += n,
            "overdue" => f.overdue_open += n,
            other => {
                return Err(StoreError::Internal(format!(
                    "unknown alert kind `{other}`"
                )))
            }
        }
    }

    let mut total = Figures::default();
    for f in per.values() {
        total.add(f);
    }
    let direct = per.get(&0).copied().unwrap_or_default();
    let rows = children
        .iter()
        .map(|c| ChildFigures {
            node_id: c.id,
            name: c.name.clone(),
            kind: c.kind,
            closed: !c.is_open(),
            figures: per.get(&c.id).copied().unwrap_or_default(),
        })
        .collect();
    Ok(EpidemicDashboard {
        node_id: node.id,
        node_name: node.name,
        node_kind: node.kind,
        today: today_s,
        total,
        direct,
        children: rows,
    })
}

/// The node a dashboard opens on when none is asked for: the caller's first node (an admin's
/// first root); `None` when the caller has none.
pub async fn default_node(db: &Db, scope: &Scope) -> Result<Option<i64>, StoreError> {
    if let Some(root) = scope.roots().first() {
        return Ok(Some(root.id()));
    }
    if scope.is_admin() {
        let roots = tree::visible_roots(db, scope).await?;
        return Ok(roots.first().map(|r| r.node.id));
    }
    Ok(None)
}

/// The node's children, by id (closed ones included), in one query.
async fn child_nodes(db: &Db, scope: &Scope, node: &Node) -> Result<Vec<Node>, StoreError> {
    let children = tree::children(db, scope, node.id, true, Page::all()).await?;
    if children.len() > MAX_CHILDREN {
        return Err(StoreError::Internal(format!(
            "node {} has {} children: too many to break down",
            node.id,
            children.len()
        )));
    }
    Ok(children.into_iter().map(|s| s.node).collect())
}

/// The SQL expression naming each row's child (its id, 0 for the node itself) and the range
/// condition over the node's subtree (the dashboard's and the daily report's counts).
pub(crate) fn grouping(node: &Node, children: &[Node], p: &mut Params) -> (String, String) {
    let (lo, hi) = node.path.subtree_bounds();
    let range = format!("node_path >= {} AND node_path < {}", p.text(lo), p.text(hi));
    if children.is_empty() {
        return ("CAST(0 AS BIGINT)".to_owned(), range);
    }
    let mut case = String::from("CAST(CASE");
    for c in children {
        let (clo, chi) = c.path.subtree_bounds();
        let (a, b) = (p.text(clo), p.text(chi));
        // Ids come from the database as integers: safe to write into the SQL.
        case.push_str(&format!(
            " WHEN node_path >= {a} AND node_path < {b} THEN {}",
            c.id
        ));
    }
    case.push_str(" ELSE 0 END AS BIGINT)");
    (case, range)
}
