//! The registry's numbers of a node (issue 19 item 3): dwellings and how many are lived in,
//! households, persons by residence type, age band and key group, beside the grids' typed
//! estimate of households. Counted live over the node's subtree, like the reports — no batch
//! table — within the caller's jurisdiction; persons count while in the registry (active or
//! away for a while, not moved out or deceased). The counting is kept per process by path and
//! brought up to date from the change marks on each read ([`CountsCache`]); every write to
//! persons, households, dwellings or tags marks its paths (`infra::marks::touch`).

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::Arc;

use linli_core::kernel::clock::{format_date, today};
use linli_core::kernel::labels::Labelled;
use linli_core::registry::{consistency_rate, Category};
use linli_core::{JurisdictionPath, NodeKind, Scope};
use serde::Serialize;
use sqlx::Row;
use time::Date;

use crate::infra::db::Params;
use crate::infra::marks;
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
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Counts {
    pub dwellings: i64,
    /// Dwellings where at least one active person (not away) is registered.
    pub occupied: i64,
    pub households: i64,
    /// Persons in the registry here: active, or away for a while (暂时外出).
    pub persons: i64,
    /// Of `persons`, those away for a while (暂时外出).
    pub away: i64,
    /// By residence type, every [`Category`] code present (zeros included).
    pub by_residence: BTreeMap<String, i64>,
    /// 人户一致率 ([`consistency_rate`]); none when nobody is registered here.
    pub consistency_rate: Option<f64>,
    /// By age band ([`AGE_BANDS`] keys), age on the day counted.
    pub by_age: BTreeMap<String, i64>,
    /// By key group (tag name); tags nobody carries are left out.
    pub by_tag: BTreeMap<String, i64>,
    /// The typed household estimates of the grids in the subtree, when any carries one.
    pub estimate_households: Option<i64>,
}

impl Counts {
    /// Whether no record at all is counted here (the estimate aside).
    pub fn is_empty(&self) -> bool {
        self.dwellings == 0 && self.households == 0 && self.persons == 0
    }
}

/// Residence types counted ([`Category::ALL`], in its order).
const TYPES: usize = 5;

/// The numbers of one path or node while they are added up: plain arrays, so that rolling up
/// tens of thousands of paths allocates nothing; [`Tally::counts`] names them.
#[derive(Debug, Clone, Default)]
struct Tally {
    dwellings: i64,
    occupied: i64,
    households: i64,
    persons: i64,
    away: i64,
    /// By [`Category::ALL`] position.
    residence: [i64; TYPES],
    /// By [`AGE_BANDS`] position.
    ages: [i64; 5],
    /// By position in the tag names [`tally`] returns.
    tags: Vec<i64>,
}

impl Tally {
    fn add(&mut self, o: &Tally) {
        self.dwellings += o.dwellings;
        self.occupied += o.occupied;
        self.households += o.households;
        self.persons += o.persons;
        self.away += o.away;
        for (a, b) in self.residence.iter_mut().zip(o.residence) {
            *a += b;
        }
        for (a, b) in self.ages.iter_mut().zip(o.ages) {
            *a += b;
        }
        if self.tags.len() < o.tags.len() {
            self.tags.resize(o.tags.len(), 0);
        }
        for (a, b) in self.tags.iter_mut().zip(&o.tags) {
            *a += b;
        }
    }

    fn is_empty(&self) -> bool {
        self.dwellings == 0 && self.households == 0 && self.persons == 0
    }

    /// As [`Counts`]: every residence type and age band (zeros included), the key groups
    /// carried, and the rate derived.
    fn counts(&self, tag_names: &[String]) -> Counts {
        let by_residence: BTreeMap<String, i64> = Category::ALL
            .iter()
            .zip(self.residence)
            .map(|(c, n)| (c.as_str().to_owned(), n))
            .collect();
        let of = |c: Category| by_residence.get(c.as_str()).copied().unwrap_or(0);
        let rate = consistency_rate(of(Category::Registered), of(Category::RegisteredAway));
        Counts {
            dwellings: self.dwellings,
            occupied: self.occupied,
            households: self.households,
            persons: self.persons,
            away: self.away,
            consistency_rate: rate,
            by_age: AGE_BANDS
                .iter()
                .zip(self.ages)
                .map(|((band, _), n)| ((*band).to_owned(), n))
                .collect(),
            by_tag: tag_names
                .iter()
                .zip(&self.tags)
                .filter(|(_, n)| **n > 0)
                .map(|(g, n)| (g.clone(), *n))
                .collect(),
            by_residence,
            estimate_households: None,
        }
    }
}

/// One line of a breakdown: a child, or the records placed on the node itself (`node` none).
#[derive(Debug, Clone, Serialize)]
pub struct CountLine {
    pub node: Option<Node>,
    pub counts: Counts,
}

/// The first day of birth of someone `years` old on `on` (born after it: younger).
fn born_after(on: Date, years: i32) -> String {
    let y = on.year() - years;
    let d = Date::from_calendar_date(y, on.month(), on.day())
        .or_else(|_| Date::from_calendar_date(y, on.month(), 28))
        .unwrap_or(on);
    format_date(d)
}

/// How [`tally`] groups the records: all in one, or by the exact path they are placed on.
#[derive(Clone, Copy, PartialEq, Eq)]
enum By {
    Total,
    Path,
}

/// Which records [`tally`] counts.
#[derive(Clone, Copy)]
enum Select<'a> {
    /// A node's subtree, within the caller's jurisdiction.
    Under(&'a JurisdictionPath, &'a Scope),
    /// Every record of the registry (the process's tallies, see [`CountsCache`]).
    All,
    /// The records placed on exactly these paths.
    On(&'a [String]),
}

impl Select<'_> {
    fn condition(self, column: &str, p: &mut Params) -> String {
        match self {
            Select::Under(path, scope) => crate::under_node(path, scope, column, p),
            Select::All => "1 = 1".to_owned(),
            Select::On(paths) => {
                let list: Vec<String> = paths.iter().map(|x| p.text(x.as_str())).collect();
                format!("{column} IN ({})", list.join(", "))
            }
        }
    }
}

/// The records [`Select`]ed, counted by `by`: four queries in all
/// (persons, dwellings, households, key groups), whatever the size of the subtree. With
/// [`By::Path`] each record counts on the path it is placed on only; [`roll_up`] adds them to
/// the nodes above.
async fn tally(
    db: &Db,
    select: Select<'_>,
    by: By,
) -> Result<(HashMap<String, Tally>, Vec<String>), StoreError> {
    let mut out: HashMap<String, Tally> = HashMap::new();
    let key = |col: &str| match by {
        By::Total => "''".to_owned(),
        By::Path => col.to_owned(),
    };
    let group = |col: &str| match by {
        By::Total => String::new(),
        By::Path => format!(" GROUP BY {col}"),
    };
    let read_key = |r: &sqlx::any::AnyRow| -> Result<String, StoreError> {
        Ok(match by {
            By::Total => String::new(),
            By::Path => r.try_get(0)?,
        })
    };

    // Persons: residence types, away, age bands and occupied dwellings in one pass. The
    // columns of `person_counts_idx` are all it reads.
    let on = today();
    let mut p = Params::new();
    let w = select.condition("node_path", &mut p);
    let (a18, a60, a80) = (
        p.text(born_after(on, 18)),
        p.text(born_after(on, 60)),
        p.text(born_after(on, 80)),
    );
    let residence: Vec<String> = Category::ALL
        .iter()
        .map(|c| {
            format!(
                "SUM(CASE WHEN category = '{}' THEN 1 ELSE 0 END)",
                c.as_str()
            )
        })
        .collect();
    let sql = format!(
        "SELECT {k}, COUNT(*), SUM(CASE WHEN state = 'away' THEN 1 ELSE 0 END), \
         COUNT(DISTINCT CASE WHEN state = 'active' THEN dwelling_id END), \
         SUM(CASE WHEN birth_date > {a18} THEN 1 ELSE 0 END), \
         SUM(CASE WHEN birth_date > {a60} AND birth_date <= {a18} THEN 1 ELSE 0 END), \
         SUM(CASE WHEN birth_date > {a80} AND birth_date <= {a60} THEN 1 ELSE 0 END), \
         SUM(CASE WHEN birth_date <= {a80} AND birth_date <> '' THEN 1 ELSE 0 END), \
         SUM(CASE WHEN birth_date IS NULL OR birth_date = '' THEN 1 ELSE 0 END), {res} \
         FROM person WHERE {w} AND state IN ('active', 'away'){g}",
        k = key("node_path"),
        res = residence.join(", "),
        g = group("node_path"),
    );
    for r in p.bind(sqlx::query(&sql)).fetch_all(db.pool()).await? {
        let persons: i64 = r.try_get(1)?;
        if persons == 0 {
            continue;
        }
        let num = |i: usize| -> Result<i64, StoreError> {
            Ok(r.try_get::<Option<i64>, _>(i)?.unwrap_or(0))
        };
        let c = out.entry(read_key(&r)?).or_default();
        c.persons += persons;
        c.away += num(2)?;
        c.occupied += num(3)?;
        for (i, n) in c.ages.iter_mut().enumerate() {
            *n += num(4 + i)?;
        }
        for (i, n) in c.residence.iter_mut().enumerate() {
            *n += num(9 + i)?;
        }
    }

    for (table, set) in [
        ("dwelling", (|c, n| c.dwellings += n) as fn(&mut Tally, i64)),
        ("household", |c, n| c.households += n),
    ] {
        let mut p = Params::new();
        let w = select.condition("node_path", &mut p);
        let sql = format!(
            "SELECT {}, COUNT(*) FROM {table} WHERE {w}{}",
            key("node_path"),
            group("node_path")
        );
        for r in p.bind(sqlx::query(&sql)).fetch_all(db.pool()).await? {
            let n: i64 = r.try_get(1)?;
            if n > 0 {
                set(out.entry(read_key(&r)?).or_default(), n);
            }
        }
    }

    let mut p = Params::new();
    let w = select.condition("p.node_path", &mut p);
    let sql = format!(
        "SELECT {}, g.name, COUNT(*) FROM person_tag pt JOIN tag g ON g.id = pt.tag_id \
         JOIN person p ON p.id = pt.person_id WHERE {w} AND p.state IN ('active', 'away') \
         GROUP BY {}g.name",
        key("p.node_path"),
        if by == By::Path { "p.node_path, " } else { "" },
    );
    let mut names: Vec<String> = Vec::new();
    for r in p.bind(sqlx::query(&sql)).fetch_all(db.pool()).await? {
        let name: String = r.try_get(1)?;
        let i = match names.iter().position(|n| *n == name) {
            Some(i) => i,
            None => {
                names.push(name);
                names.len() - 1
            }
        };
        let c = out.entry(read_key(&r)?).or_default();
        if c.tags.len() <= i {
            c.tags.resize(i + 1, 0);
        }
        c.tags[i] += r.try_get::<i64, _>(2)?;
    }
    Ok((out, names))
}

// ---------------------------------------------------------------------------------------------
// The process's tallies by path, kept live from the change marks.

/// The registry's records counted by the exact path they are placed on, for the whole
/// database, as this process last brought them up to date. Every read first asks the database
/// whether anything changed (one read of the change marks, see migration `0034`); if so, it
/// re-counts only the paths whose version moved, so the numbers are those of the moment the
/// read began — live, with no batch table — while a district's every-node figures cost a walk
/// over the tallies instead of a scan of every person. Ages move with the calendar, so a new
/// day counts everything again once.
#[derive(Debug, Default)]
pub(crate) struct CountsCache(tokio::sync::Mutex<Option<Arc<Snapshot>>>);

/// What the tallies were counted from: the change marks, and the highest record ids as a net
/// for a write that forgot its mark (seen as new ids with no version moved: count all again).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Marks {
    versions_sum: i64,
    paths: i64,
    max_person: i64,
    max_household: i64,
    max_dwelling: i64,
    max_node: i64,
}

#[derive(Debug, Clone)]
struct Snapshot {
    day: Date,
    marks: Marks,
    versions: HashMap<String, i64>,
    /// By exact path; a path with nothing on it is absent.
    exact: BTreeMap<String, Tally>,
    /// Tag names, by the positions the tallies' `tags` use.
    names: Vec<String>,
    /// Every node, depth-first (as `tree::subtree`), read again when the tree's mark moves or
    /// a new node appears: thirty thousand rows cost more to read than the counts to add up.
    nodes: Arc<Vec<Node>>,
}

/// Beyond this many changed paths, counting everything again is cheaper than listing them.
const RECOUNT_ALL_ABOVE: usize = 5_000;

/// Drops this process's tallies: the next read counts everything (the bench's first read of a
/// day; a test that wrote records by hand).
pub async fn forget(db: &Db) {
    *db.caches.counts.0.lock().await = None;
}

async fn read_marks(db: &Db) -> Result<Marks, StoreError> {
    let r = sqlx::query(
        "SELECT (SELECT CAST(COALESCE(SUM(version), 0) AS BIGINT) FROM registry_change), \
         (SELECT COUNT(*) FROM registry_change), \
         (SELECT COALESCE(MAX(id), 0) FROM person), \
         (SELECT COALESCE(MAX(id), 0) FROM household), \
         (SELECT COALESCE(MAX(id), 0) FROM dwelling), \
         (SELECT COALESCE(MAX(id), 0) FROM node)",
    )
    .fetch_one(db.pool())
    .await?;
    Ok(Marks {
        versions_sum: r.try_get(0)?,
        paths: r.try_get(1)?,
        max_person: r.try_get(2)?,
        max_household: r.try_get(3)?,
        max_dwelling: r.try_get(4)?,
        max_node: r.try_get(5)?,
    })
}

async fn read_versions(db: &Db) -> Result<HashMap<String, i64>, StoreError> {
    let rows = sqlx::query("SELECT path, version FROM registry_change")
        .fetch_all(db.pool())
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect()
}

/// Every path's tally, counted now.
async fn count_everything(
    db: &Db,
    day: Date,
    marks: Marks,
    versions: HashMap<String, i64>,
) -> Result<Snapshot, StoreError> {
    let (exact, names) = tally(db, Select::All, By::Path).await?;
    Ok(Snapshot {
        day,
        marks,
        versions,
        exact: exact.into_iter().collect(),
        names,
        nodes: Arc::new(tree::subtree(db, &Scope::operator(), None).await?),
    })
}

/// The tallies, brought up to date (see [`CountsCache`]).
async fn snapshot(db: &Db) -> Result<Arc<Snapshot>, StoreError> {
    let mut slot = db.caches.counts.0.lock().await;
    let day = today();
    // The marks before the versions before the records: a write committed in between is
    // seen as a change on the next read, never missed.
    let marks = read_marks(db).await?;
    let old = match slot.take() {
        Some(s) if s.day == day && s.marks == marks => {
            *slot = Some(s.clone());
            return Ok(s);
        }
        Some(s) if s.day == day => Some(s),
        _ => None,
    };
    let versions = read_versions(db).await?;
    let changed: Option<Vec<String>> = old.as_ref().and_then(|s| {
        let unmarked_write = s.marks.versions_sum == marks.versions_sum
            && s.marks.paths == marks.paths
            && (
                s.marks.max_person,
                s.marks.max_household,
                s.marks.max_dwelling,
            ) != (marks.max_person, marks.max_household, marks.max_dwelling);
        let changed: Vec<String> = versions
            .iter()
            .filter(|(path, v)| *path != marks::TREE && s.versions.get(*path) != Some(*v))
            .map(|(path, _)| path.clone())
            .collect();
        let everything = unmarked_write
            || changed.len() > RECOUNT_ALL_ABOVE
            || changed.iter().any(|p| p == marks::EPOCH);
        (!everything).then_some(changed)
    });
    let next = match (old, changed) {
        (Some(old), Some(changed)) => {
            let mut next = Arc::unwrap_or_clone(old);
            recount(db, &mut next, &changed).await?;
            if next.marks.max_node != marks.max_node
                || next.versions.get(marks::TREE) != versions.get(marks::TREE)
            {
                next.nodes = Arc::new(tree::subtree(db, &Scope::operator(), None).await?);
            }
            next.marks = marks;
            next.versions = versions;
            next
        }
        _ => count_everything(db, day, marks, versions).await?,
    };
    let next = Arc::new(next);
    *slot = Some(next.clone());
    Ok(next)
}

/// Counts `paths` again into `snap`, its tag positions kept (new tags appended).
async fn recount(db: &Db, snap: &mut Snapshot, paths: &[String]) -> Result<(), StoreError> {
    for chunk in paths.chunks(500) {
        let (fresh, names) = tally(db, Select::On(chunk), By::Path).await?;
        let at: Vec<usize> = names
            .into_iter()
            .map(|n| match snap.names.iter().position(|m| *m == n) {
                Some(i) => i,
                None => {
                    snap.names.push(n);
                    snap.names.len() - 1
                }
            })
            .collect();
        for path in chunk {
            snap.exact.remove(path);
        }
        for (path, mut t) in fresh {
            let mut tags = vec![0; snap.names.len()];
            for (i, n) in t.tags.iter().enumerate() {
                if let Some(j) = at.get(i) {
                    tags[*j] = *n;
                }
            }
            t.tags = tags;
            if !t.is_empty() {
                snap.exact.insert(path, t);
            }
        }
    }
    Ok(())
}

/// The tallies of `path`'s subtree that the caller may read, by exact path.
fn within<'a>(
    snap: &'a Snapshot,
    scope: &'a Scope,
    path: &JurisdictionPath,
) -> impl Iterator<Item = (&'a str, &'a Tally)> + 'a {
    let (lo, hi) = path.subtree_bounds();
    snap.exact
        .range::<str, _>((Bound::Included(lo.as_str()), Bound::Excluded(hi.as_str())))
        .filter(move |(p, _)| {
            scope.is_admin() || scope.roots().iter().any(|r| p.starts_with(r.as_str()))
        })
        .map(|(p, t)| (p.as_str(), t))
}

/// The numbers of `node_id`'s subtree (outside the caller's jurisdiction: `NotFound`).
pub async fn counts(db: &Db, scope: &Scope, node_id: i64) -> Result<Counts, StoreError> {
    let summary = tree::summary(db, scope, node_id).await?;
    let snap = snapshot(db).await?;
    let mut total = Tally::default();
    for (_, t) in within(&snap, scope, &summary.node.path) {
        total.add(t);
    }
    let mut c = total.counts(&snap.names);
    c.estimate_households = summary.counts.households;
    Ok(c)
}

/// [`counts`] counted from the records themselves, now, without the process's tallies: what
/// the tallies are checked against (tests, the bench).
pub async fn counts_direct(db: &Db, scope: &Scope, node_id: i64) -> Result<Counts, StoreError> {
    let summary = tree::summary(db, scope, node_id).await?;
    let (mut t, names) = tally(db, Select::Under(&summary.node.path, scope), By::Total).await?;
    let mut c = t.remove("").unwrap_or_default().counts(&names);
    c.estimate_households = summary.counts.households;
    Ok(c)
}

/// The records counted on each exact path, added to the nodes of `nodes` above or at it
/// (`nodes` sorted or not; a path of no node in `nodes` is added to its nearest ancestors
/// that are). Returns the rolled-up numbers by node id.
fn roll_up<'a>(
    nodes: &[&Node],
    exact: impl Iterator<Item = (&'a str, &'a Tally)>,
) -> HashMap<i64, Tally> {
    let by_path: HashMap<&str, i64> = nodes.iter().map(|n| (n.path.as_str(), n.id)).collect();
    let mut out: HashMap<i64, Tally> = nodes.iter().map(|n| (n.id, Tally::default())).collect();
    for (path, c) in exact {
        for id in self_and_ancestors(path).filter_map(|p| by_path.get(p)) {
            if let Some(acc) = out.get_mut(id) {
                acc.add(c);
            }
        }
    }
    out
}

/// `path` and the paths above it: `/1/5/17/`, then `/1/5/`, then `/1/`.
fn self_and_ancestors(path: &str) -> impl Iterator<Item = &str> {
    std::iter::successors(Some(path), |p| {
        let end = p.get(..p.len().checked_sub(1)?)?.rfind('/')? + 1;
        (end > 1).then(|| &p[..end])
    })
    .filter(|p| p.len() > 1)
}
/// The typed household estimates of the open grids, rolled up like the records: by node id,
/// present where some grid at or below carries one.
fn estimates(nodes: &[&Node]) -> HashMap<i64, i64> {
    let by_path: HashMap<&str, i64> = nodes.iter().map(|n| (n.path.as_str(), n.id)).collect();
    let mut out = HashMap::new();
    for n in nodes {
        let (NodeKind::Grid, Some(est), None) = (n.kind, n.household_estimate, &n.closed_on) else {
            continue;
        };
        for id in self_and_ancestors(n.path.as_str()).filter_map(|p| by_path.get(p)) {
            *out.entry(*id).or_insert(0) += est;
        }
    }
    out
}

/// The numbers of each open child of `node_id`, then of the records placed on the node itself
/// (when there are any): the lines add up to [`counts`] of the node. One pass over the
/// subtree's records (grouped by the path they are on), added up to the children.
pub async fn counts_by_children(
    db: &Db,
    scope: &Scope,
    node_id: i64,
) -> Result<Vec<CountLine>, StoreError> {
    let node = tree::get(db, scope, node_id).await?;
    let children = tree::children(db, scope, node.id, false, Page::all()).await?;
    let snap = snapshot(db).await?;
    let names = &snap.names;
    let mut nodes: Vec<&Node> = children.iter().map(|c| &c.node).collect();
    nodes.push(&node);
    let mut rolled = roll_up(&nodes, within(&snap, scope, &node.path));
    let mut out = Vec::new();
    for child in children {
        let mut c = rolled
            .remove(&child.node.id)
            .unwrap_or_default()
            .counts(names);
        c.estimate_households = child.counts.households;
        out.push(CountLine {
            node: Some(child.node),
            counts: c,
        });
    }
    let here = snap
        .exact
        .get(node.path.as_str())
        .filter(|_| scope.can_read(&node.path))
        .cloned()
        .unwrap_or_default();
    if !here.is_empty() {
        out.push(CountLine {
            node: None,
            counts: here.counts(names),
        });
    }
    Ok(out)
}

/// The numbers of every open node of `root`'s subtree at once, rolled up (each equal to
/// [`counts`] of that node): the same four queries as one node's, grouped by path, and the
/// sums made here. In the tree's depth-first order.
pub async fn counts_all(
    db: &Db,
    scope: &Scope,
    root: i64,
) -> Result<Vec<(Node, Counts)>, StoreError> {
    let node = tree::get(db, scope, root).await?;
    let snap = snapshot(db).await?;
    let (lo, hi) = node.path.subtree_bounds();
    let nodes: Vec<&Node> = snap
        .nodes
        .iter()
        .filter(|n| {
            let p = n.path.as_str();
            p >= lo.as_str() && p < hi.as_str() && n.closed_on.is_none() && scope.can_read(&n.path)
        })
        .collect();
    let mut rolled = roll_up(&nodes, within(&snap, scope, &node.path));
    let est = estimates(&nodes);
    Ok(nodes
        .into_iter()
        .map(|n| {
            let mut c = rolled.remove(&n.id).unwrap_or_default().counts(&snap.names);
            c.estimate_households = est.get(&n.id).copied();
            (n.clone(), c)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::self_and_ancestors;

    #[test]
    fn a_path_and_the_paths_above_it_up_to_the_root() {
        let up: Vec<&str> = self_and_ancestors("/1/5/17/").collect();
        assert_eq!(up, ["/1/5/17/", "/1/5/", "/1/"]);
        assert_eq!(self_and_ancestors("/1/").collect::<Vec<_>>(), ["/1/"]);
        assert_eq!(self_and_ancestors("").count(), 0);
    }
}
