//! The persons list (人员名单) and its key groups (重点人群, issue 19 item 5): the persons under a
//! node in the caller's jurisdiction, filtered by key-group tag, residence type, age, building,
//! state and a search string, a page at a time in pinyin order (keyset paging: the next page
//! starts after the last person shown), with the number of all matches. Numbers are masked;
//! the export gives them in clear only to a role that may unmask.

use std::collections::HashMap;

use linli_core::kernel::clock::format_date;
use linli_core::kernel::labels::Labelled;
use linli_core::registry::age::{age_on, birth_bounds, check_range, parse_age};
use linli_core::registry::{Category, DwellingAddress, PersonState};
use linli_core::{CoreError, DocumentKind, Gender, IdDocument, Scope};
use serde::Serialize;
use sqlx::Row;
use time::Date;

use super::{address_of, mask_document, parse_opt, prefix_upper, SearchKind, ID_HASH, PHONE_HASH};
use crate::infra::db::Params;
use crate::infra::errors::internal;
use crate::infra::secret::Keyring;
use crate::tree::{self, Node};
use crate::{Db, StoreError};

/// A page's rows when none is asked for, and the most a page holds.
pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 200;
/// The most rows one export holds.
pub const MAX_EXPORT: i64 = 100_000;

/// The filters as typed (a query string or a form): checked by [`list`], every bad field named.
#[derive(Debug, Clone, Default)]
pub struct RollFilter {
    /// The node whose subtree is listed (any node: a street, a grid, a building); none: the
    /// caller's whole jurisdiction.
    pub node_id: Option<i64>,
    /// Key groups by tag name: a person must carry every one named.
    pub tags: Vec<String>,
    /// Residence type: `registered`, `floating` … or its Chinese name.
    pub residence: Option<String>,
    /// Whole years, inclusive, on the day listed.
    pub min_age: Option<String>,
    pub max_age: Option<String>,
    /// The building's number as typed (`3` or `3栋`).
    pub building: Option<String>,
    /// `active` (the default when none), `away`, `moved_out`, `deceased`, or `all`.
    pub state: Option<String>,
    /// Name or its start, pinyin initials or prefix, an ID number or phone, last four, or a
    /// key group's name (as the registry's search reads it).
    pub q: Option<String>,
}

/// One person in the list: numbers masked.
#[derive(Debug, Clone, Serialize)]
pub struct Listed {
    pub id: i64,
    pub name: String,
    pub gender: Option<Gender>,
    pub birth_date: Option<String>,
    /// Whole years on the day listed.
    pub age: Option<i32>,
    pub id_number_masked: Option<String>,
    pub phone_masked: Option<String>,
    pub node_id: i64,
    pub node_name: String,
    pub address: Option<String>,
    pub category: Category,
    pub state: PersonState,
    pub tags: Vec<String>,
}

/// A page of the list.
#[derive(Debug, Clone, Serialize)]
pub struct Roll {
    pub items: Vec<Listed>,
    /// Where the next page starts (the last person's id), none on the last page.
    pub next: Option<i64>,
    /// All the persons that match, over every page.
    pub total: i64,
    /// The node listed under, none for the whole jurisdiction.
    #[serde(skip)]
    pub node: Option<Node>,
}

/// One exported person: the clear numbers only in an unmasked export.
#[derive(Debug, Clone)]
pub struct Exported {
    pub person: Listed,
    pub id_number: Option<String>,
    pub phone: Option<String>,
}

/// The filters, checked.
struct Checked {
    node: Option<Node>,
    tag_ids: Vec<i64>,
    residence: Option<Category>,
    born_from: Option<String>,
    born_to: Option<String>,
    building: Option<String>,
    state: Option<PersonState>,
    q: Option<(SearchKind, String)>,
}

fn keep<T>(errors: &mut Vec<CoreError>, r: Result<T, CoreError>) -> Option<T> {
    r.map_err(|e| errors.push(e)).ok()
}

fn blank(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

async fn check(db: &Db, scope: &Scope, f: &RollFilter, on: Date) -> Result<Checked, StoreError> {
    let mut errors: Vec<CoreError> = Vec::new();
    let residence = blank(&f.residence).and_then(|r| {
        keep(
            &mut errors,
            r.parse::<Category>().map_err(|_| {
                CoreError::invalid(
                    "residence",
                    format!(
                        "人口类别「{r}」不存在，应为：{}",
                        Category::ALL
                            .iter()
                            .map(|c| c.label_zh())
                            .collect::<Vec<_>>()
                            .join("、")
                    ),
                )
            }),
        )
    });
    let state = match blank(&f.state) {
        None => Some(PersonState::Active),
        Some("all") | Some("全部") => None,
        Some(s) => keep(
            &mut errors,
            s.parse::<PersonState>().map_err(|_| {
                CoreError::invalid(
                    "state",
                    format!("状态「{s}」不存在，应为在册、暂时外出、迁出、死亡或全部"),
                )
            }),
        ),
    };
    let min = keep(
        &mut errors,
        parse_age("min_age", f.min_age.as_deref().unwrap_or("")),
    )
    .flatten();
    let max = keep(
        &mut errors,
        parse_age("max_age", f.max_age.as_deref().unwrap_or("")),
    )
    .flatten();
    keep(&mut errors, check_range(min, max));
    let building = blank(&f.building).and_then(|b| {
        keep(
            &mut errors,
            DwellingAddress::from_parts(b, "", "1").map(|a| a.building),
        )
    });
    let (earliest, latest) = birth_bounds(on, min, max);

    // Tags by name, every unknown one named.
    let mut tag_ids = Vec::new();
    let mut unknown = Vec::new();
    for t in f.tags.iter().map(|t| t.trim()).filter(|t| !t.is_empty()) {
        let row = sqlx::query("SELECT id FROM tag WHERE name = $1")
            .bind(t)
            .fetch_optional(db.pool())
            .await?;
        match row {
            Some(r) => tag_ids.push(r.try_get::<i64, _>(0)?),
            None => unknown.push(t),
        }
    }
    if !unknown.is_empty() {
        errors.push(CoreError::invalid(
            "tag",
            format!("重点人群「{}」不在标签列表中", unknown.join("」「")),
        ));
    }
    if !errors.is_empty() {
        return Err(StoreError::Invalid(errors));
    }
    let node = match f.node_id {
        Some(id) => Some(tree::get(db, scope, id).await?),
        None => None,
    };
    Ok(Checked {
        node,
        tag_ids,
        residence,
        born_from: earliest.map(format_date),
        born_to: latest.map(format_date),
        building,
        state,
        q: blank(&f.q).and_then(super::classify),
    })
}

const FROM: &str =
    "person p JOIN node n ON n.id = p.node_id LEFT JOIN dwelling d ON d.id = p.dwelling_id";
const COLUMNS: &str = "p.id, p.name, p.name_pinyin, p.gender, p.birth_date, p.id_kind, \
     p.id_cipher, p.phone_cipher, p.node_id, n.name AS node_name, d.building, d.unit, d.room, \
     p.category, p.state";

/// The WHERE clause of the filters, into `p`. Key groups are `p.id IN (…)` of the tag's index
/// rather than a correlated `EXISTS`, so the planner can start from the tag's members (and,
/// for `q`, OR them with the name index) instead of testing every person of the subtree.
fn conditions(c: &Checked, scope: &Scope, keys: &Keyring, p: &mut Params) -> String {
    let mut w = vec![match &c.node {
        Some(node) => crate::under_node(&node.path, scope, "p.node_path", p),
        None => crate::scope_filter(scope, "p.node_path", p),
    }];
    if let Some(s) = c.state {
        w.push(format!("p.state = {}", p.text(s.as_str())));
    }
    if let Some(r) = c.residence {
        w.push(format!("p.category = {}", p.text(r.as_str())));
    }
    for id in &c.tag_ids {
        w.push(format!(
            "p.id IN (SELECT pt.person_id FROM person_tag pt WHERE pt.tag_id = {})",
            p.int(*id)
        ));
    }
    if let Some(b) = &c.born_to {
        w.push(format!("p.birth_date <= {}", p.text(b.clone())));
    }
    if let Some(b) = &c.born_from {
        w.push(format!(
            "p.birth_date >= {} AND p.birth_date <> ''",
            p.text(b.clone())
        ));
    }
    if let Some(b) = &c.building {
        w.push(format!("d.building = {}", p.text(b.clone())));
    }
    if let Some((kind, term)) = &c.q {
        w.push(search_condition(*kind, term, keys, p));
    }
    w.join(" AND ")
}

/// The registry search's matching (see [`super::search`]) as one condition.
fn search_condition(kind: SearchKind, term: &str, keys: &Keyring, p: &mut Params) -> String {
    let range = |col: &str, p: &mut Params| {
        format!(
            "({col} >= {} AND {col} < {})",
            p.text(term.to_owned()),
            p.text(prefix_upper(term))
        )
    };
    match kind {
        SearchKind::IdNumber => {
            match IdDocument::parse(
                DocumentKind::ResidentId,
                term,
                linli_core::kernel::clock::today(),
            ) {
                Ok(d) => format!(
                    "p.id_hash = {}",
                    p.text(keys.lookup_hash(ID_HASH, d.as_str()))
                ),
                Err(_) => "1 = 0".to_owned(),
            }
        }
        SearchKind::Phone => format!(
            "p.phone_hash = {}",
            p.text(keys.lookup_hash(PHONE_HASH, term))
        ),
        SearchKind::Last4 => {
            let t = p.text(term.to_owned());
            format!("(p.id_last4 = {t} OR p.phone_last4 = {t})")
        }
        SearchKind::Pinyin => format!(
            "({} OR {})",
            range("p.name_initials", p),
            range("p.name_pinyin", p)
        ),
        SearchKind::Name => {
            let t = p.text(term.to_owned());
            format!(
                "(p.id IN (SELECT pt.person_id FROM person_tag pt JOIN tag g ON g.id = pt.tag_id \
                 WHERE g.name = {t}) OR {})",
                range("p.name", p)
            )
        }
    }
}

fn listed_of(keys: &Keyring, r: &sqlx::any::AnyRow, on: Date) -> Result<Listed, StoreError> {
    let birth: Option<String> = r.try_get("birth_date")?;
    let age = birth
        .as_deref()
        .and_then(|b| linli_core::kernel::clock::parse_date("birth_date", b).ok())
        .map(|b| age_on(b, on));
    let category: String = r.try_get("category")?;
    let state: String = r.try_get("state")?;
    Ok(Listed {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        gender: parse_opt(r.try_get("gender")?)?,
        birth_date: birth,
        age,
        id_number_masked: mask_document(
            keys,
            parse_opt(r.try_get("id_kind")?)?,
            r.try_get("id_cipher")?,
        )?,
        phone_masked: keys.masked_phone(r.try_get("phone_cipher")?)?,
        node_id: r.try_get("node_id")?,
        node_name: r.try_get("node_name")?,
        address: address_of(r)?,
        category: category.parse().map_err(internal)?,
        state: state.parse().map_err(internal)?,
        tags: Vec::new(),
    })
}

/// The tags of `people`, each person's in the tag list's order.
async fn attach_tags(db: &Db, people: &mut [Listed]) -> Result<(), StoreError> {
    let mut by_id: HashMap<i64, Vec<String>> = HashMap::new();
    for chunk in people.chunks(200) {
        let mut p = Params::new();
        let ids: Vec<String> = chunk.iter().map(|x| p.int(x.id)).collect();
        let sql = format!(
            "SELECT pt.person_id, t.name FROM person_tag pt JOIN tag t ON t.id = pt.tag_id \
             WHERE pt.person_id IN ({}) ORDER BY t.id",
            ids.join(", ")
        );
        for r in p.bind(sqlx::query(&sql)).fetch_all(db.pool()).await? {
            by_id.entry(r.try_get(0)?).or_default().push(r.try_get(1)?);
        }
    }
    for x in people {
        x.tags = by_id.remove(&x.id).unwrap_or_default();
    }
    Ok(())
}

/// A page of the persons the filters select, in pinyin order, starting after the person
/// `after` (the previous page's `next`), at most `limit` ([`DEFAULT_LIMIT`] when none, at most
/// [`MAX_LIMIT`]); ages as on `on`. Bad filters are `Invalid`, each field named; a node outside
/// the caller's jurisdiction is `NotFound`.
pub async fn list(
    db: &Db,
    scope: &Scope,
    filter: &RollFilter,
    after: Option<i64>,
    limit: Option<i64>,
    on: Date,
) -> Result<Roll, StoreError> {
    let keys = db.keys()?;
    let c = check(db, scope, filter, on).await?;
    let limit = limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);

    let mut p = Params::new();
    let w = conditions(&c, scope, keys, &mut p);
    let total: i64 = p
        .bind(sqlx::query(&format!(
            "SELECT COUNT(*) FROM {FROM} WHERE {w}"
        )))
        .fetch_one(db.pool())
        .await?
        .try_get(0)?;

    let mut p = Params::new();
    let mut w = conditions(&c, scope, keys, &mut p);
    if let Some(after) = after {
        // The cursor is a person the caller may read; its place in the order is looked up.
        let mut q = Params::new();
        let id = q.int(after);
        let scoped = crate::scope_filter(scope, "node_path", &mut q);
        let row = q
            .bind(sqlx::query(&format!(
                "SELECT name_pinyin FROM person WHERE id = {id} AND {scoped}"
            )))
            .fetch_optional(db.pool())
            .await?
            .ok_or_else(|| StoreError::invalid("after", "翻页位置无效，请从第一页重新查看"))?;
        let pinyin: String = row.try_get(0)?;
        let (pp, pp2, aid) = (p.text(pinyin.clone()), p.text(pinyin), p.int(after));
        w = format!("{w} AND (p.name_pinyin > {pp} OR (p.name_pinyin = {pp2} AND p.id > {aid}))");
    }
    let sql = format!(
        "SELECT {COLUMNS} FROM {FROM} WHERE {w} ORDER BY p.name_pinyin, p.id LIMIT {}",
        p.int(limit + 1)
    );
    let rows = p.bind(sqlx::query(&sql)).fetch_all(db.pool()).await?;
    let more = rows.len() as i64 > limit;
    let mut items = rows
        .iter()
        .take(limit as usize)
        .map(|r| listed_of(keys, r, on))
        .collect::<Result<Vec<_>, _>>()?;
    attach_tags(db, &mut items).await?;
    let next = if more {
        items.last().map(|x| x.id)
    } else {
        None
    };
    Ok(Roll {
        items,
        next,
        total,
        node: c.node,
    })
}

/// Whether the caller may take clear numbers out of the list under `node` (or their whole
/// jurisdiction): the roles that may unmask one person, over all of it.
pub fn may_unmask(scope: &Scope, node: Option<&Node>) -> bool {
    match node {
        Some(n) => scope.can_unmask(&n.path),
        None => {
            scope.is_admin()
                || (!scope.roots().is_empty() && scope.roots().iter().all(|r| scope.can_unmask(r)))
        }
    }
}

/// Every person the filters select (up to [`MAX_EXPORT`]), in the list's order, with the node
/// listed under, for a spreadsheet. Numbers are masked unless `unmask`, which needs a role that
/// may unmask (as the roster export; `Forbidden` otherwise). The caller audits the export.
pub async fn export(
    db: &Db,
    scope: &Scope,
    filter: &RollFilter,
    unmask: bool,
    on: Date,
) -> Result<(Option<Node>, Vec<Exported>), StoreError> {
    let keys = db.keys()?;
    let c = check(db, scope, filter, on).await?;
    if unmask && !may_unmask(scope, c.node.as_ref()) {
        return Err(StoreError::Forbidden("网格员只能导出遮蔽后的号码".into()));
    }
    let mut p = Params::new();
    let w = conditions(&c, scope, keys, &mut p);
    let sql = format!(
        "SELECT {COLUMNS} FROM {FROM} WHERE {w} ORDER BY p.name_pinyin, p.id LIMIT {}",
        p.int(MAX_EXPORT)
    );
    let rows = p.bind(sqlx::query(&sql)).fetch_all(db.pool()).await?;
    let mut people = rows
        .iter()
        .map(|r| listed_of(keys, r, on))
        .collect::<Result<Vec<_>, _>>()?;
    attach_tags(db, &mut people).await?;
    let mut out = Vec::with_capacity(people.len());
    for (person, r) in people.into_iter().zip(rows.iter()) {
        let (id_number, phone) = if unmask {
            let idc: Option<Vec<u8>> = r.try_get("id_cipher")?;
            let phc: Option<Vec<u8>> = r.try_get("phone_cipher")?;
            (
                idc.map(|c| keys.decrypt(&c)).transpose()?,
                phc.map(|c| keys.decrypt(&c)).transpose()?,
            )
        } else {
            (person.id_number_masked.clone(), person.phone_masked.clone())
        };
        out.push(Exported {
            person,
            id_number,
            phone,
        });
    }
    Ok((c.node, out))
}

/// A bare search (`q` alone, no filter or cursor): the registry search's own plan — each arm
/// one index range read in order, stopping at `limit` — then those persons as the list shows
/// them, in the search's order. No count over the jurisdiction is made (`total` is the number
/// found, `next` none), so a search stays an index probe however many persons there are.
pub async fn search(
    db: &Db,
    scope: &Scope,
    q: &str,
    limit: Option<i64>,
    on: Date,
) -> Result<Roll, StoreError> {
    let keys = db.keys()?;
    let limit = limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
    let (_, hits) = super::search(db, scope, q, limit).await?;
    if hits.is_empty() {
        return Ok(Roll {
            items: Vec::new(),
            next: None,
            total: 0,
            node: None,
        });
    }
    let mut p = Params::new();
    let ids: Vec<String> = hits.iter().map(|h| p.int(h.id)).collect();
    let scoped = crate::scope_filter(scope, "p.node_path", &mut p);
    let sql = format!(
        "SELECT {COLUMNS} FROM {FROM} WHERE p.id IN ({}) AND {scoped}",
        ids.join(", ")
    );
    let rows = p.bind(sqlx::query(&sql)).fetch_all(db.pool()).await?;
    let mut by_id: HashMap<i64, Listed> = HashMap::new();
    for r in &rows {
        let x = listed_of(keys, r, on)?;
        by_id.insert(x.id, x);
    }
    let mut items: Vec<Listed> = hits.iter().filter_map(|h| by_id.remove(&h.id)).collect();
    attach_tags(db, &mut items).await?;
    Ok(Roll {
        total: items.len() as i64,
        items,
        next: None,
        node: None,
    })
}
