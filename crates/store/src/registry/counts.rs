//! The registry's numbers of a node (issue 19 item 3): dwellings and how many are lived in,
//! households, persons by residence type, age band and key group, beside the grids' typed
//! estimate of households. Counted live over the node's subtree, like the reports — no batch
//! table — within the caller's jurisdiction; only active persons count (not moved out or
//! deceased).

use std::collections::BTreeMap;

use linli_core::kernel::clock::{format_date, today};
use linli_core::{JurisdictionPath, Scope};
use serde::Serialize;
use sqlx::Row;
use time::Date;

use crate::infra::db::Params;
use crate::tree::{self, Node};
use crate::{Db, Page, StoreError};

/// Age bands as the street's forms count them: minors, working age, the elderly, the very old.
pub const AGE_BANDS: [(&str, &str); 5] = [
    ("0-17", "未成年"),
    ("18-59", "18—59 岁"),
    ("60-79", "60—79 岁"),
    ("80+", "80 岁以上"),
    ("unknown", "出生日期不详"),
];

/// The numbers of one node's subtree.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub dwellings: i64,
    /// Dwellings where at least one active person is registered.
    pub occupied: i64,
    pub households: i64,
    /// Active persons.
    pub persons: i64,
    /// By residence type (`registered` 户籍, `resident` 常住, `floating` 流动).
    pub by_residence: BTreeMap<String, i64>,
    /// By age band ([`AGE_BANDS`] keys), age on the day counted.
    pub by_age: BTreeMap<String, i64>,
    /// By key group (tag name); tags nobody carries are left out.
    pub by_tag: BTreeMap<String, i64>,
    /// The typed household estimates of the grids in the subtree, when any carries one.
    pub estimate_households: Option<i64>,
}

/// One line of a breakdown: a child, or the records placed on the node itself (`node` none).
#[derive(Debug, Clone, Serialize)]
pub struct CountLine {
    pub node: Option<Node>,
    pub counts: Counts,
}

/// The records within `path`'s subtree, or exactly on it (`only_here`), in the caller's scope.
fn within(
    path: &JurisdictionPath,
    only_here: bool,
    scope: &Scope,
    col: &str,
    p: &mut Params,
) -> String {
    if only_here {
        let at = p.text(path.as_str());
        let scoped = crate::scope_filter(scope, col, p);
        format!("{col} = {at} AND {scoped}")
    } else {
        crate::under_node(path, scope, col, p)
    }
}

/// The first day of birth of someone `years` old on `on` (born after it: younger).
fn born_after(on: Date, years: i32) -> String {
    let y = on.year() - years;
    let d = Date::from_calendar_date(y, on.month(), on.day())
        .or_else(|_| Date::from_calendar_date(y, on.month(), 28))
        .unwrap_or(on);
    format_date(d)
}

async fn count_at(
    db: &Db,
    scope: &Scope,
    path: &JurisdictionPath,
    only_here: bool,
) -> Result<Counts, StoreError> {
    let mut c = Counts::default();
    let one = |sql: String, p: Params| async move {
        let row = p.bind(sqlx::query(&sql)).fetch_one(db.pool()).await?;
        Ok::<i64, StoreError>(row.try_get(0)?)
    };
    let mut p = Params::new();
    let w = within(path, only_here, scope, "node_path", &mut p);
    c.dwellings = one(format!("SELECT COUNT(*) FROM dwelling WHERE {w}"), p).await?;
    let mut p = Params::new();
    let w = within(path, only_here, scope, "node_path", &mut p);
    c.households = one(format!("SELECT COUNT(*) FROM household WHERE {w}"), p).await?;
    let mut p = Params::new();
    let w = within(path, only_here, scope, "node_path", &mut p);
    c.occupied = one(
        format!(
            "SELECT COUNT(DISTINCT dwelling_id) FROM person \
             WHERE {w} AND state = 'active' AND dwelling_id IS NOT NULL"
        ),
        p,
    )
    .await?;

    // Residence types and age bands in one pass over the persons.
    let on = today();
    let mut p = Params::new();
    let w = within(path, only_here, scope, "node_path", &mut p);
    let (a18, a60, a80) = (
        p.text(born_after(on, 18)),
        p.text(born_after(on, 60)),
        p.text(born_after(on, 80)),
    );
    let sql = format!(
        "SELECT category, \
         SUM(CASE WHEN birth_date IS NULL OR birth_date = '' THEN 1 ELSE 0 END), \
         SUM(CASE WHEN birth_date > {a18} THEN 1 ELSE 0 END), \
         SUM(CASE WHEN birth_date > {a60} AND birth_date <= {a18} THEN 1 ELSE 0 END), \
         SUM(CASE WHEN birth_date > {a80} AND birth_date <= {a60} THEN 1 ELSE 0 END), \
         SUM(CASE WHEN birth_date <= {a80} AND birth_date <> '' THEN 1 ELSE 0 END), \
         COUNT(*) \
         FROM person WHERE {w} AND state = 'active' GROUP BY category"
    );
    for r in p.bind(sqlx::query(&sql)).fetch_all(db.pool()).await? {
        let category: String = r.try_get(0)?;
        let n: i64 = r.try_get(6)?;
        c.persons += n;
        *c.by_residence.entry(category).or_default() += n;
        for (k, (band, _)) in [
            AGE_BANDS[4],
            AGE_BANDS[0],
            AGE_BANDS[1],
            AGE_BANDS[2],
            AGE_BANDS[3],
        ]
        .iter()
        .enumerate()
        {
            let v: Option<i64> = r.try_get(k + 1)?;
            *c.by_age.entry((*band).to_owned()).or_default() += v.unwrap_or(0);
        }
    }

    let mut p = Params::new();
    let w = within(path, only_here, scope, "p.node_path", &mut p);
    let sql = format!(
        "SELECT g.name, COUNT(*) FROM person_tag pt JOIN tag g ON g.id = pt.tag_id \
         JOIN person p ON p.id = pt.person_id WHERE {w} AND p.state = 'active' GROUP BY g.name"
    );
    for r in p.bind(sqlx::query(&sql)).fetch_all(db.pool()).await? {
        c.by_tag.insert(r.try_get(0)?, r.try_get(1)?);
    }
    Ok(c)
}

/// The numbers of `node_id`'s subtree (outside the caller's jurisdiction: `NotFound`).
pub async fn counts(db: &Db, scope: &Scope, node_id: i64) -> Result<Counts, StoreError> {
    let summary = tree::summary(db, scope, node_id).await?;
    let mut c = count_at(db, scope, &summary.node.path, false).await?;
    c.estimate_households = summary.counts.households;
    Ok(c)
}

/// The numbers of each open child of `node_id`, then of the records placed on the node itself
/// (when there are any): the lines add up to [`counts`] of the node.
pub async fn counts_by_children(
    db: &Db,
    scope: &Scope,
    node_id: i64,
) -> Result<Vec<CountLine>, StoreError> {
    let node = tree::get(db, scope, node_id).await?;
    let mut out = Vec::new();
    for child in tree::children(db, scope, node.id, false, Page::all()).await? {
        let mut c = count_at(db, scope, &child.node.path, false).await?;
        c.estimate_households = child.counts.households;
        out.push(CountLine {
            node: Some(child.node),
            counts: c,
        });
    }
    let here = count_at(db, scope, &node.path, true).await?;
    if here != Counts::default() {
        out.push(CountLine {
            node: None,
            counts: here,
        });
    }
    Ok(out)
}
