//! Centralised quarantine sites (集中隔离点): sites kept by a street or district, their rooms, and
//! stays — who is in which room from which night to which. The rules (which room, beds taken on
//! a day, what a stay may not do, who sees and runs a site) are pure, in
//! `linli_core::epidemic::sites`; this module keeps the records and asks them before it writes.
//!
//! - A site is seen by its node's jurisdiction and by everyone below it, whom it serves; it is
//!   run (details, rooms, placements, moves, check-outs) by staff, officials and admins within
//!   its node. Its page names an occupant only to a viewer whose jurisdiction holds the person.
//! - An observation that opens or reaches a centralised stage gets a room by itself
//!   ([`place_after_observe`], in the screening's or the contact's transaction): the first free
//!   room of the open sites covering the person (nearest first), a family member's room first.
//!   None free is no failure: the screening is recorded and says 暂无空床.
//! - Releasing an observation checks its stay out on the release day.

use linli_core::epidemic::policy::{Measure, StagePlan};
use linli_core::epidemic::sites::{
    self as rules, can_manage_site, centralised_span, check_stay, choose_room, may_see_occupant,
    site_visible, stay_for, Beds, NewRoom, Period, Room, SiteName, Stay,
};
use linli_core::kernel::clock::{date_of, format_date, parse_date};
use linli_core::{CoreError, JurisdictionPath, Phone, Scope};
use serde::Serialize;
use serde_json::json;
use sqlx::Row;
use time::Date;

use crate::infra::audit::{self, AuditEntry};
use crate::infra::db::{row_by_id, Params};
use crate::infra::errors::internal;
use crate::{scope_filter, tree, Db, StoreError};

/// What the notice says when no room could be given (the screening is recorded all the same).
pub const NO_BED_ZH: &str = "暂无空床，请联系隔离点";

fn path_of(raw: &str) -> Result<JurisdictionPath, StoreError> {
    JurisdictionPath::parse(raw).map_err(internal)
}

fn date_col(field: &str, raw: &str) -> Result<Date, StoreError> {
    parse_date(field, raw).map_err(internal)
}

/// The paths of a node and of every node above it (`/1/`, `/1/7/`, `/1/7/42/`): the nodes whose
/// sites cover it.
fn self_and_ancestors(path: &JurisdictionPath) -> Vec<String> {
    let mut out = Vec::new();
    let mut s = String::from("/");
    for id in path.ids() {
        s.push_str(&format!("{id}/"));
        out.push(s.clone());
    }
    out
}

/// The SQL condition "the caller may see the site whose path is in `column`"
/// ([`rules::site_visible`]): within the caller's jurisdiction, or on a node above one of its
/// roots. Nothing for a non-admin without roots.
fn visible_filter(scope: &Scope, column: &str, params: &mut Params) -> String {
    if scope.is_admin() {
        return "1 = 1".to_owned();
    }
    if scope.roots().is_empty() {
        return "1 = 0".to_owned();
    }
    let within = scope_filter(scope, column, params);
    let above: Vec<String> = scope
        .roots()
        .iter()
        .flat_map(self_and_ancestors)
        .map(|p| params.text(p))
        .collect();
    format!("({within} OR {column} IN ({}))", above.join(", "))
}

// ---------------------------------------------------------------------------------------------
// Sites

/// A site as entered.
#[derive(Debug, Clone, Default)]
pub struct SiteInput<'a> {
    pub name: &'a str,
    pub address: Option<&'a str>,
    pub phone: Option<&'a str>,
    pub open: bool,
}

struct ParsedSite {
    name: SiteName,
    address: Option<String>,
    phone: Option<String>,
    open: bool,
}

impl SiteInput<'_> {
    /// Every fault at once; nothing stored when there is one.
    fn parse(&self) -> Result<ParsedSite, StoreError> {
        let mut errors = Vec::new();
        let name = SiteName::parse(self.name).map_err(|e| errors.push(e)).ok();
        let address = self.address.map(str::trim).filter(|a| !a.is_empty());
        if address.is_some_and(|a| a.chars().count() > 100) {
            errors.push(CoreError::invalid("address", "地址最多 100 个字"));
        }
        let phone = match self.phone.map(str::trim).filter(|p| !p.is_empty()) {
            Some(p) => Phone::parse(p).map_err(|e| errors.push(e)).ok(),
            None => None,
        };
        match name {
            Some(name) if errors.is_empty() => Ok(ParsedSite {
                name,
                address: address.map(str::to_owned),
                phone: phone.map(|p| p.as_str().to_owned()),
                open: self.open,
            }),
            _ => Err(StoreError::Invalid(errors)),
        }
    }
}

/// A site.
#[derive(Debug, Clone, Serialize)]
pub struct Site {
    pub id: i64,
    pub node_id: i64,
    pub node_name: String,
    #[serde(skip)]
    pub node_path: JurisdictionPath,
    pub name: String,
    pub address: Option<String>,
    /// The front desk's number (an institution's, not a person's: shown in clear).
    pub phone: Option<String>,
    pub open: bool,
}

const SITE_COLUMNS: &str =
    "s.id, s.node_id, n.name, s.node_path, s.name, s.address, s.phone, s.is_open \
     FROM quarantine_site s JOIN node n ON n.id = s.node_id";

fn site_of(r: &sqlx::any::AnyRow) -> Result<Site, StoreError> {
    Ok(Site {
        id: r.try_get(0)?,
        node_id: r.try_get(1)?,
        node_name: r.try_get(2)?,
        node_path: path_of(&r.try_get::<String, _>(3)?)?,
        name: r.try_get(4)?,
        address: r.try_get(5)?,
        phone: r.try_get(6)?,
        open: r.try_get::<i64, _>(7)? != 0,
    })
}

fn name_taken(e: sqlx::Error, node_name: &str, name: &str) -> StoreError {
    match e {
        sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Conflict {
            field: "name".into(),
            message: format!("「{node_name}」已有名为「{name}」的隔离点"),
        },
        other => StoreError::Db(other),
    }
}

/// Sets up a site at a node (a street or a district, usually): staff, officials and admins
/// within their jurisdiction. Names are unique per node. Audited.
pub async fn create_site(
    db: &Db,
    scope: &Scope,
    node_id: i64,
    input: &SiteInput<'_>,
    now: i64,
) -> Result<Site, StoreError> {
    let node = tree::get(db, scope, node_id).await?;
    if !can_manage_site(scope, &node.path) {
        return Err(StoreError::Forbidden(
            "只有社区工作者、街道/区县干部和管理员可以设置隔离点".into(),
        ));
    }
    if !node.is_open() {
        return Err(StoreError::invalid(
            "node_id",
            "该辖区已撤销，不能设置隔离点",
        ));
    }
    let p = input.parse()?;
    let mut tx = db.begin_write().await?;
    let row = sqlx::query(
        "INSERT INTO quarantine_site (node_id, district_id, node_path, name, address, phone, is_open, \
         created_at, created_by, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $8) RETURNING id",
    )
    .bind(node.id)
    .bind(node.path.root_id())
    .bind(node.path.as_str())
    .bind(p.name.as_str())
    .bind(p.address.clone())
    .bind(p.phone.clone())
    .bind(i64::from(p.open))
    .bind(now)
    .bind(scope.actor())
    .fetch_one(&mut *tx)
    .await
    .map_err(|e| name_taken(e, &node.name, p.name.as_str()))?;
    let id: i64 = row.try_get(0)?;
    audit::commit_recorded(
        tx,
        AuditEntry::by(scope, "quarantine_site.create", "quarantine_site")
            .entity_id(id)
            .node_path(&node.path)
            .detail(json!({"name": p.name.as_str(), "open": p.open})),
        now,
    )
    .await?;
    Ok(Site {
        id,
        node_id: node.id,
        node_name: node.name,
        node_path: node.path,
        name: p.name.as_str().to_owned(),
        address: p.address,
        phone: p.phone,
        open: p.open,
    })
}

/// Changes a site's name, address, phone, and whether it takes people (a closed site keeps its
/// stays; it gets no new ones). Whoever may run it. Audited.
pub async fn update_site(
    db: &Db,
    scope: &Scope,
    id: i64,
    input: &SiteInput<'_>,
    now: i64,
) -> Result<Site, StoreError> {
    let site = site(db, scope, id).await?;
    if !can_manage_site(scope, &site.node_path) {
        return Err(StoreError::Forbidden(
            "您只能查看这个隔离点，不能修改".into(),
        ));
    }
    let p = input.parse()?;
    let mut tx = db.begin_write().await?;
    sqlx::query(
        "UPDATE quarantine_site SET name = $1, address = $2, phone = $3, is_open = $4, updated_at = $5 \
         WHERE id = $6",
    )
    .bind(p.name.as_str())
    .bind(p.address.clone())
    .bind(p.phone.clone())
    .bind(i64::from(p.open))
    .bind(now)
    .bind(id)
    .execute(&mut *tx)
    .await
    .map_err(|e| name_taken(e, &site.node_name, p.name.as_str()))?;
    audit::commit_recorded(
        tx,
        AuditEntry::by(scope, "quarantine_site.update", "quarantine_site")
            .entity_id(id)
            .node_path(&site.node_path)
            .detail(json!({"name": p.name.as_str(), "open": p.open})),
        now,
    )
    .await?;
    Ok(Site {
        name: p.name.as_str().to_owned(),
        address: p.address,
        phone: p.phone,
        open: p.open,
        ..site
    })
}

/// One site the caller may see (404 otherwise).
pub async fn site(db: &Db, scope: &Scope, id: i64) -> Result<Site, StoreError> {
    let mut params = Params::new();
    let filter = visible_filter(scope, "s.node_path", &mut params);
    let id_param = params.int(id);
    let row = params
        .one_row(
            db,
            &format!("SELECT {SITE_COLUMNS} WHERE s.id = {id_param} AND {filter}"),
        )
        .await?;
    let site = site_of(&row)?;
    // The SQL said so; the rule says it again (fail closed on an odd path).
    if !site_visible(scope, &site.node_path) {
        return Err(StoreError::NotFound);
    }
    Ok(site)
}

// ---------------------------------------------------------------------------------------------
// Rooms

/// Adds rooms to a site, all or none: a number the site already has (or one given twice) refuses
/// the lot, naming the numbers. Whoever may run the site. Audited as one entry.
pub async fn add_rooms(
    db: &Db,
    scope: &Scope,
    site_id: i64,
    rooms: &[NewRoom],
    now: i64,
) -> Result<usize, StoreError> {
    let site = site(db, scope, site_id).await?;
    if !can_manage_site(scope, &site.node_path) {
        return Err(StoreError::Forbidden(
            "您只能查看这个隔离点，不能添加房间".into(),
        ));
    }
    if rooms.is_empty() {
        return Err(StoreError::invalid("number", "请至少给出一个房间"));
    }
    if rooms.len() > rules::MAX_ROOMS_AT_ONCE {
        return Err(StoreError::invalid(
            "number",
            format!("一次最多添加 {} 间", rules::MAX_ROOMS_AT_ONCE),
        ));
    }
    let mut tx = db.begin_write().await?;
    let existing: std::collections::HashSet<String> =
        sqlx::query("SELECT number FROM quarantine_room WHERE site_id = $1")
            .bind(site_id)
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| r.try_get::<String, _>(0))
            .collect::<Result<_, _>>()?;
    let mut seen = std::collections::HashSet::new();
    let clashes: Vec<&str> = rooms
        .iter()
        .map(|r| r.number.as_str())
        .filter(|n| existing.contains(*n) || !seen.insert(*n))
        .collect();
    if !clashes.is_empty() {
        let shown: Vec<&str> = clashes.iter().take(10).copied().collect();
        return Err(StoreError::Conflict {
            field: "number".into(),
            message: format!(
                "房间号已存在或重复：{}{}（共 {} 个），未添加任何房间",
                shown.join("、"),
                if clashes.len() > shown.len() {
                    "…"
                } else {
                    ""
                },
                clashes.len()
            ),
        });
    }
    for chunk in rooms.chunks(200) {
        let mut params = Params::new();
        let rows: Vec<String> = chunk
            .iter()
            .map(|r| {
                format!(
                    "({}, {}, {}, {}, {})",
                    params.int(site_id),
                    params.int(r.floor),
                    params.text(r.number.as_str()),
                    params.int(r.beds),
                    params.int(now)
                )
            })
            .collect();
        params
            .bind(sqlx::query(&format!(
                "INSERT INTO quarantine_room (site_id, floor, number, beds, created_at) VALUES {}",
                rows.join(", ")
            )))
            .execute(&mut *tx)
            .await?;
    }
    audit::commit_recorded(
        tx,
        AuditEntry::by(scope, "quarantine_room.create", "quarantine_site")
            .entity_id(site_id)
            .node_path(&site.node_path)
            .detail(json!({
                "rooms": rooms.len(),
                "beds": rooms.iter().map(|r| r.beds).sum::<i64>(),
                "first": rooms.first().map(|r| r.number.as_str()),
                "last": rooms.last().map(|r| r.number.as_str()),
            })),
        now,
    )
    .await?;
    Ok(rooms.len())
}

/// Changes a room's beds: never below the people it holds today or later. Whoever may run the
/// site. Audited.
pub async fn set_room_beds(
    db: &Db,
    scope: &Scope,
    room_id: i64,
    beds: i64,
    now: i64,
) -> Result<(), StoreError> {
    let (site, room) = room_in(db, scope, room_id).await?;
    if !can_manage_site(scope, &site.node_path) {
        return Err(StoreError::Forbidden(
            "您只能查看这个隔离点，不能修改房间".into(),
        ));
    }
    if !(1..=rules::MAX_BEDS).contains(&beds) {
        return Err(StoreError::invalid(
            "beds",
            format!("每间床位数应为 1–{}", rules::MAX_BEDS),
        ));
    }
    let today = date_of(now);
    let mut tx = db.begin_write().await?;
    let stays = room_stays(&mut tx, room.id, today, None).await?;
    let ahead = Period {
        from: today,
        until: stays
            .iter()
            .map(|(_, s)| s.last_night(today))
            .max()
            .unwrap_or(today)
            .max(today),
    };
    let plain: Vec<Stay> = stays.iter().map(|(_, s)| *s).collect();
    let mut day = ahead.from;
    while day <= ahead.until {
        let taken = rules::beds_taken(&plain, day, today);
        if taken > beds {
            return Err(StoreError::invalid(
                "beds",
                format!("{day} 该房间住有 {taken} 人，床位不能少于 {taken}"),
            ));
        }
        day = match day.next_day() {
            Some(d) => d,
            None => break,
        };
    }
    sqlx::query("UPDATE quarantine_room SET beds = $1 WHERE id = $2")
        .bind(beds)
        .bind(room.id)
        .execute(&mut *tx)
        .await?;
    audit::commit_recorded(
        tx,
        AuditEntry::by(scope, "quarantine_room.update", "quarantine_room")
            .entity_id(room.id)
            .node_path(&site.node_path)
            .detail(json!({"site_id": site.id, "number": room.number, "beds": beds})),
        now,
    )
    .await?;
    Ok(())
}

/// A room's row.
#[derive(Debug, Clone)]
struct RoomRow {
    id: i64,
    floor: i64,
    number: String,
    beds: i64,
}

/// The room and its site, when the caller may see the site.
async fn room_in(db: &Db, scope: &Scope, room_id: i64) -> Result<(Site, RoomRow), StoreError> {
    let row = row_by_id(
        db,
        "SELECT id, site_id, floor, number, beds FROM quarantine_room WHERE id = $1",
        room_id,
    )
    .await?;
    let site = site(db, scope, row.try_get(1)?).await?;
    Ok((
        site,
        RoomRow {
            id: row.try_get(0)?,
            floor: row.try_get(2)?,
            number: row.try_get(3)?,
            beds: row.try_get(4)?,
        },
    ))
}

/// The stays of a room that may take a night on or after `from` (open ones whatever their dates,
/// since an overdue one takes today), with their ids; `except` left out (a stay being moved).
async fn room_stays(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    room_id: i64,
    from: Date,
    except: Option<i64>,
) -> Result<Vec<(i64, Stay)>, StoreError> {
    let rows = sqlx::query(
        "SELECT id, from_on, until_on, left_on, household_id FROM quarantine_stay \
         WHERE room_id = $1 AND (left_on IS NULL OR left_on >= $2) AND id <> $3",
    )
    .bind(room_id)
    .bind(format_date(from))
    .bind(except.unwrap_or(0))
    .fetch_all(&mut **tx)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get(0)?, stay_of(r, 1)?)))
        .collect()
}

/// A stay read from columns `from_on, until_on, left_on, household_id` starting at `at`.
fn stay_of(r: &sqlx::any::AnyRow, at: usize) -> Result<Stay, StoreError> {
    Ok(Stay {
        from: date_col("from_on", &r.try_get::<String, _>(at)?)?,
        until: date_col("until_on", &r.try_get::<String, _>(at + 1)?)?,
        left: r
            .try_get::<Option<String>, _>(at + 2)?
            .map(|d| date_col("left_on", &d))
            .transpose()?,
        household: r.try_get(at + 3)?,
    })
}

// ---------------------------------------------------------------------------------------------
// Lists and occupancy

/// What to list.
#[derive(Debug, Clone, Default)]
pub struct SiteFilter {
    /// Only the sites serving this node: on it, above it or below it (it must be in scope).
    pub node_id: Option<i64>,
    /// A part of the name or address.
    pub q: Option<String>,
    /// Open (`Some(true)`) or closed sites only.
    pub open: Option<bool>,
    /// Only sites with a free bed on the day.
    pub with_free: bool,
}

/// A site with its rooms and beds on a day.
#[derive(Debug, Clone, Serialize)]
pub struct SiteSummary {
    #[serde(flatten)]
    pub site: Site,
    pub rooms: i64,
    pub beds: Beds,
}

/// One page of sites, and how many match in all.
#[derive(Debug, Clone)]
pub struct SitePage {
    pub items: Vec<SiteSummary>,
    pub total: i64,
    /// Beds of every match together.
    pub beds: Beds,
}

/// The most sites one list considers (a district has tens).
const MAX_SITES: i64 = 2_000;

/// The sites the caller may see, by node and name, with their beds on `on`; `limit` from
/// `offset`. The filters on beds need the day's figures, so the matches (at most 2,000) are
/// counted in memory and paged there.
pub async fn sites(
    db: &Db,
    scope: &Scope,
    filter: &SiteFilter,
    on: Date,
    now: i64,
    limit: i64,
    offset: i64,
) -> Result<SitePage, StoreError> {
    let mut params = Params::new();
    let mut conds = vec![visible_filter(scope, "s.node_path", &mut params)];
    if let Some(node_id) = filter.node_id {
        let node = tree::get(db, scope, node_id).await?;
        let (lo, hi) = node.path.subtree_bounds();
        let above: Vec<String> = self_and_ancestors(&node.path)
            .into_iter()
            .map(|p| params.text(p))
            .collect();
        conds.push(format!(
            "((s.node_path >= {} AND s.node_path < {}) OR s.node_path IN ({}))",
            params.text(lo),
            params.text(hi),
            above.join(", ")
        ));
    }
    if let Some(q) = filter
        .q
        .as_deref()
        .map(|q| q.trim().replace(['%', '_', '\\'], ""))
        .filter(|q| !q.is_empty())
    {
        let like = params.text(format!("%{q}%"));
        conds.push(format!(
            "(s.name LIKE {like} OR COALESCE(s.address, '') LIKE {like})"
        ));
    }
    if let Some(open) = filter.open {
        conds.push(format!("s.is_open = {}", params.int(i64::from(open))));
    }
    let rows = params
        .bind(sqlx::query(&format!(
            "SELECT {SITE_COLUMNS} WHERE {} ORDER BY s.node_path, s.name, s.id LIMIT {MAX_SITES}",
            conds.join(" AND ")
        )))
        .fetch_all(db.pool())
        .await?;
    let mut found = Vec::new();
    for r in &rows {
        let site = site_of(r)?;
        if site_visible(scope, &site.node_path) {
            found.push(site);
        }
    }
    let ids: Vec<i64> = found.iter().map(|s| s.id).collect();
    let rooms = rooms_with_stays(
        db,
        &ids,
        Period {
            from: on,
            until: on,
        },
    )
    .await?;
    let today = date_of(now);
    let mut all = Vec::new();
    for site in found {
        let site_rooms: Vec<Room> = rooms
            .iter()
            .filter(|(sid, _, _)| *sid == site.id)
            .map(|(_, _, r)| r.clone())
            .collect();
        let beds = Beds::of(&site_rooms, on, today);
        if filter.with_free && beds.free() == 0 {
            continue;
        }
        all.push(SiteSummary {
            site,
            rooms: site_rooms.len() as i64,
            beds,
        });
    }
    let total = all.len() as i64;
    let beds = all.iter().fold(Beds::default(), |acc, s| Beds {
        total: acc.total + s.beds.total,
        occupied: acc.occupied + s.beds.occupied,
    });
    let items = all
        .into_iter()
        .skip(usize::try_from(offset.max(0)).unwrap_or(0))
        .take(usize::try_from(limit.clamp(1, MAX_SITES)).unwrap_or(1))
        .collect();
    Ok(SitePage { items, total, beds })
}

/// The rooms of `site_ids` (site id, room row, the rules' room with the stays that may take a
/// night of `nights`), in fill order: floor, then number.
async fn rooms_with_stays(
    db: &Db,
    site_ids: &[i64],
    nights: Period,
) -> Result<Vec<(i64, RoomRow, Room)>, StoreError> {
    if site_ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for chunk in site_ids.chunks(500) {
        let mut params = Params::new();
        let list: Vec<String> = chunk.iter().map(|id| params.int(*id)).collect();
        let list = list.join(", ");
        let first = params.text(format_date(nights.from));
        let last = params.text(format_date(nights.until));
        let stays = params
            .bind(sqlx::query(&format!(
                "SELECT room_id, from_on, until_on, left_on, household_id FROM quarantine_stay \
                 WHERE site_id IN ({list}) AND from_on <= {last} AND (left_on IS NULL OR left_on >= {first})"
            )))
            .fetch_all(db.pool())
            .await?;
        let mut by_room: std::collections::HashMap<i64, Vec<Stay>> = Default::default();
        for r in &stays {
            by_room
                .entry(r.try_get(0)?)
                .or_default()
                .push(stay_of(r, 1)?);
        }
        let mut params = Params::new();
        let list: Vec<String> = chunk.iter().map(|id| params.int(*id)).collect();
        let rooms = params
            .bind(sqlx::query(&format!(
                "SELECT site_id, id, floor, number, beds FROM quarantine_room WHERE site_id IN ({}) \
                 ORDER BY site_id, floor, number, id",
                list.join(", ")
            )))
            .fetch_all(db.pool())
            .await?;
        for r in &rooms {
            let row = RoomRow {
                id: r.try_get(1)?,
                floor: r.try_get(2)?,
                number: r.try_get(3)?,
                beds: r.try_get(4)?,
            };
            let room = Room {
                id: row.id,
                beds: row.beds,
                stays: by_room.remove(&row.id).unwrap_or_default(),
            };
            out.push((r.try_get(0)?, row, room));
        }
    }
    Ok(out)
}

/// Someone in a room on the day.
#[derive(Debug, Clone, Serialize)]
pub struct Occupant {
    pub stay_id: i64,
    /// The person, when the viewer's jurisdiction holds them; `None` for 辖区外人员 (an occupied
    /// bed, nothing more).
    pub person_id: Option<i64>,
    pub person_name: Option<String>,
    pub from: String,
    pub until: String,
    /// The planned last night has passed and nobody checked the person out.
    pub overdue: bool,
}

/// A room on the day.
#[derive(Debug, Clone, Serialize)]
pub struct RoomView {
    pub id: i64,
    pub floor: i64,
    pub number: String,
    pub beds: i64,
    pub occupants: Vec<Occupant>,
}

impl RoomView {
    pub fn free(&self) -> i64 {
        (self.beds - self.occupants.len() as i64).max(0)
    }
}

/// A site on a day: its beds, and every room with who is in it.
#[derive(Debug, Clone, Serialize)]
pub struct SiteDay {
    pub site: Site,
    pub date: String,
    pub beds: Beds,
    pub rooms: Vec<RoomView>,
    /// The caller may run the site (rooms, moves, check-outs).
    pub can_manage: bool,
}

/// Who is in which room of a site on `on`: names only of people the caller's jurisdiction holds
/// ([`may_see_occupant`]); the others are occupied beds without a name or id.
pub async fn site_day(
    db: &Db,
    scope: &Scope,
    site_id: i64,
    on: Date,
    now: i64,
) -> Result<SiteDay, StoreError> {
    let site = site(db, scope, site_id).await?;
    let today = date_of(now);
    let rooms = rooms_with_stays(
        db,
        &[site.id],
        Period {
            from: on,
            until: on,
        },
    )
    .await?;
    let plain: Vec<Room> = rooms.iter().map(|(_, _, r)| r.clone()).collect();
    let beds = Beds::of(&plain, on, today);
    let rows = sqlx::query(
        "SELECT st.id, st.room_id, st.person_id, p.name, st.node_path, st.from_on, st.until_on, st.left_on, \
         st.household_id FROM quarantine_stay st LEFT JOIN person p ON p.id = st.person_id \
         WHERE st.site_id = $1 AND st.from_on <= $2 AND (st.left_on IS NULL OR st.left_on >= $2) \
         ORDER BY st.from_on, st.id",
    )
    .bind(site.id)
    .bind(format_date(on))
    .fetch_all(db.pool())
    .await?;
    let mut by_room: std::collections::HashMap<i64, Vec<Occupant>> = Default::default();
    for r in &rows {
        let stay = stay_of(r, 5)?;
        if !stay.occupies(on, today) {
            continue;
        }
        let path = path_of(&r.try_get::<String, _>(4)?)?;
        let seen = may_see_occupant(scope, &path);
        let person_id: Option<i64> = r.try_get(2)?;
        by_room.entry(r.try_get(1)?).or_default().push(Occupant {
            stay_id: r.try_get(0)?,
            person_id: person_id.filter(|_| seen),
            person_name: r.try_get::<Option<String>, _>(3)?.filter(|_| seen),
            from: format_date(stay.from),
            until: format_date(stay.until),
            overdue: stay.left.is_none() && stay.until < today,
        });
    }
    let rooms = rooms
        .into_iter()
        .map(|(_, row, _)| RoomView {
            occupants: by_room.remove(&row.id).unwrap_or_default(),
            id: row.id,
            floor: row.floor,
            number: row.number,
            beds: row.beds,
        })
        .collect();
    Ok(SiteDay {
        can_manage: can_manage_site(scope, &site.node_path),
        site,
        date: format_date(on),
        beds,
        rooms,
    })
}

/// The beds on `on` of the open sites serving `node_id` (on it, above it or below it): the
/// dashboard's 隔离床位 tile. A node outside the caller's jurisdiction is `NotFound`.
pub async fn beds_serving(
    db: &Db,
    scope: &Scope,
    node_id: i64,
    on: Date,
    now: i64,
) -> Result<Beds, StoreError> {
    let page = sites(
        db,
        scope,
        &SiteFilter {
            node_id: Some(node_id),
            open: Some(true),
            ..Default::default()
        },
        on,
        now,
        1,
        0,
    )
    .await?;
    Ok(page.beds)
}

// ---------------------------------------------------------------------------------------------
// Stays

/// Where a person was put.
#[derive(Debug, Clone, Serialize)]
pub struct Placed {
    pub stay_id: i64,
    pub site_id: i64,
    pub site_name: String,
    pub site_phone: Option<String>,
    pub floor: i64,
    pub room: String,
    pub from: String,
    pub until: String,
}

impl Placed {
    /// `建塘宾馆 3 楼 305 室`: what the observation's place and the notices say.
    pub fn place_zh(&self) -> String {
        format!("{} {} 楼 {} 室", self.site_name, self.floor, self.room)
    }

    /// The sentence added to a screening's explanation.
    pub fn sentence_zh(&self) -> String {
        format!(
            "集中隔离地点：{}，{} 至 {}。",
            self.place_zh(),
            self.from,
            self.until
        )
    }
}

/// What [`place_after_observe`] did.
#[derive(Debug, Clone)]
pub enum Placement {
    /// The observation has no centralised stage ahead: no room needed.
    NotNeeded,
    /// A room was given now.
    Placed(Placed),
    /// The person already had a room for this observation (its last night follows the
    /// observation's).
    Kept(Placed),
    /// No open site covering the person has a free room: 暂无空床.
    NoBed,
}

impl Placement {
    /// The sentence a screening's explanation gains (none when no room is needed).
    pub fn sentence_zh(&self) -> Option<String> {
        match self {
            Placement::NotNeeded => None,
            Placement::Placed(p) | Placement::Kept(p) => Some(p.sentence_zh()),
            Placement::NoBed => Some(format!("{NO_BED_ZH}。")),
        }
    }

    pub fn placed(&self) -> Option<&Placed> {
        match self {
            Placement::Placed(p) | Placement::Kept(p) => Some(p),
            _ => None,
        }
    }
}

/// An observation as a stay needs it.
struct ObservationRow {
    person_id: i64,
    node_path: JurisdictionPath,
    period: Period,
    span: Option<Period>,
    released: bool,
}

async fn observation_row(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    id: i64,
) -> Result<ObservationRow, StoreError> {
    let r = sqlx::query(
        "SELECT person_id, node_path, measure, stages_json, start_on, until_on, released_on \
         FROM observation WHERE id = $1 AND person_id IS NOT NULL",
    )
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(StoreError::NotFound)?;
    let measure: Measure = r.try_get::<String, _>(2)?.parse().map_err(internal)?;
    let stages: Vec<StagePlan> =
        serde_json::from_str(&r.try_get::<String, _>(3)?).unwrap_or_default();
    let period = Period::new(
        date_col("start_on", &r.try_get::<String, _>(4)?)?,
        date_col("until_on", &r.try_get::<String, _>(5)?)?,
    )
    .map_err(internal)?;
    Ok(ObservationRow {
        person_id: r.try_get(0)?,
        node_path: path_of(&r.try_get::<String, _>(1)?)?,
        span: centralised_span(measure, &stages, period),
        period,
        released: r.try_get::<Option<String>, _>(6)?.is_some(),
    })
}

/// The person's stays that may take a night on or after `from` (see [`room_stays`]).
async fn person_stays(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    person_id: i64,
    from: Date,
    except: Option<i64>,
) -> Result<Vec<Stay>, StoreError> {
    let rows = sqlx::query(
        "SELECT from_on, until_on, left_on, household_id FROM quarantine_stay \
         WHERE person_id = $1 AND (left_on IS NULL OR left_on >= $2) AND id <> $3",
    )
    .bind(person_id)
    .bind(format_date(from))
    .bind(except.unwrap_or(0))
    .fetch_all(&mut **tx)
    .await?;
    rows.iter().map(|r| stay_of(r, 0)).collect()
}

/// Writes a stay after the rules allowed it, and names the observation's place after it.
#[allow(clippy::too_many_arguments)]
async fn insert_stay(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    site: (i64, &str, Option<&str>),
    room: &RoomRow,
    person: (i64, Option<i64>, &JurisdictionPath),
    observation_id: i64,
    period: Period,
    actor: &str,
    now: i64,
) -> Result<Placed, StoreError> {
    let (person_id, household, path) = person;
    let row = sqlx::query(
        "INSERT INTO quarantine_stay (site_id, room_id, person_id, household_id, observation_id, district_id, \
         node_path, from_on, until_on, created_at, created_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
    )
    .bind(site.0)
    .bind(room.id)
    .bind(person_id)
    .bind(household)
    .bind(observation_id)
    .bind(path.root_id())
    .bind(path.as_str())
    .bind(format_date(period.from))
    .bind(format_date(period.until))
    .bind(now)
    .bind(actor)
    .fetch_one(&mut **tx)
    .await?;
    let placed = Placed {
        stay_id: row.try_get(0)?,
        site_id: site.0,
        site_name: site.1.to_owned(),
        site_phone: site.2.map(str::to_owned),
        floor: room.floor,
        room: room.number.clone(),
        from: format_date(period.from),
        until: format_date(period.until),
    };
    sqlx::query("UPDATE observation SET place = $1 WHERE id = $2")
        .bind(placed.place_zh())
        .bind(observation_id)
        .execute(&mut **tx)
        .await?;
    Ok(placed)
}

/// The open stay of an observation, with its room and site.
async fn open_stay_of(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    observation_id: i64,
) -> Result<Option<(Placed, Stay)>, StoreError> {
    let Some(r) = sqlx::query(
        "SELECT st.id, st.site_id, s.name, s.phone, r.floor, r.number, st.from_on, st.until_on, st.left_on, \
         st.household_id FROM quarantine_stay st JOIN quarantine_room r ON r.id = st.room_id \
         JOIN quarantine_site s ON s.id = st.site_id \
         WHERE st.observation_id = $1 AND st.left_on IS NULL ORDER BY st.id DESC LIMIT 1",
    )
    .bind(observation_id)
    .fetch_optional(&mut **tx)
    .await?
    else {
        return Ok(None);
    };
    let stay = stay_of(&r, 6)?;
    Ok(Some((
        Placed {
            stay_id: r.try_get(0)?,
            site_id: r.try_get(1)?,
            site_name: r.try_get(2)?,
            site_phone: r.try_get(3)?,
            floor: r.try_get(4)?,
            room: r.try_get(5)?,
            from: format_date(stay.from),
            until: format_date(stay.until),
        },
        stay,
    )))
}

/// Gives a room to the person of an observation that has just opened, changed or been kept by a
/// screening or a contact link, in the caller's transaction — when its centralised stage lies
/// ahead. A stay already open for it follows the stage's new last night. Otherwise the rules
/// choose ([`choose_room`]) among the rooms of the open sites covering the person, nearest
/// site first; none free is [`Placement::NoBed`], never an error. Audited (`auto`).
pub(crate) async fn place_after_observe(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    scope: &Scope,
    person: &crate::registry::Person,
    observation_id: i64,
    now: i64,
) -> Result<Placement, StoreError> {
    let today = date_of(now);
    let obs = observation_row(tx, observation_id).await?;
    let Some(span) = obs.span else {
        return Ok(Placement::NotNeeded);
    };
    if let Some((mut placed, stay)) = open_stay_of(tx, observation_id).await? {
        if stay.until != span.until && span.until >= stay.from {
            sqlx::query("UPDATE quarantine_stay SET until_on = $1 WHERE id = $2")
                .bind(format_date(span.until))
                .bind(placed.stay_id)
                .execute(&mut **tx)
                .await?;
            placed.until = format_date(span.until);
        }
        // An upgrade rewrote the observation's place: it is still this room.
        sqlx::query("UPDATE observation SET place = $1 WHERE id = $2")
            .bind(placed.place_zh())
            .bind(observation_id)
            .execute(&mut **tx)
            .await?;
        return Ok(Placement::Kept(placed));
    }
    let Some(period) = stay_for(span, today) else {
        return Ok(Placement::NotNeeded);
    };
    // The rooms of the open sites covering the person, nearest site first.
    let mut params = Params::new();
    let covering: Vec<String> = self_and_ancestors(&person.node_path)
        .into_iter()
        .map(|p| params.text(p))
        .collect();
    let from = params.text(format_date(period.from));
    let until = params.text(format_date(period.until));
    let rows = params
        .bind(sqlx::query(&format!(
            "SELECT s.id, s.name, s.phone, r.id, r.floor, r.number, r.beds, \
             st.from_on, st.until_on, st.left_on, st.household_id \
             FROM quarantine_site s JOIN quarantine_room r ON r.site_id = s.id \
             LEFT JOIN quarantine_stay st ON st.room_id = r.id AND st.from_on <= {until} \
               AND (st.left_on IS NULL OR st.left_on >= {from}) \
             WHERE s.is_open = 1 AND s.node_path IN ({}) \
             ORDER BY LENGTH(s.node_path) DESC, s.id, r.floor, r.number, r.id",
            covering.join(", ")
        )))
        .fetch_all(&mut **tx)
        .await?;
    let mut rooms: Vec<Room> = Vec::new();
    let mut info: std::collections::HashMap<i64, (i64, String, Option<String>, RoomRow)> =
        Default::default();
    for r in &rows {
        let room_id: i64 = r.try_get(3)?;
        if rooms.last().is_none_or(|x| x.id != room_id) {
            let row = RoomRow {
                id: room_id,
                floor: r.try_get(4)?,
                number: r.try_get(5)?,
                beds: r.try_get(6)?,
            };
            rooms.push(Room {
                id: room_id,
                beds: row.beds,
                stays: Vec::new(),
            });
            info.insert(room_id, (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, row));
        }
        if r.try_get::<Option<String>, _>(7)?.is_some() {
            if let Some(last) = rooms.last_mut() {
                last.stays.push(stay_of(r, 7)?);
            }
        }
    }
    let Some(room_id) = choose_room(&rooms, period, person.household_id, today) else {
        return Ok(Placement::NoBed);
    };
    let chosen = rooms.iter().find(|r| r.id == room_id);
    let (Some(chosen), Some((site_id, site_name, site_phone, row))) = (chosen, info.get(&room_id))
    else {
        return Err(StoreError::Internal("chosen room vanished".into()));
    };
    let own = person_stays(tx, obs.person_id, period.from, None).await?;
    if let Err(e) = check_stay(period, obs.period, chosen.beds, &chosen.stays, &own, today) {
        // The person already has a room elsewhere (an older observation's): leave it to staff.
        tracing::warn!(observation_id, error = %e, "automatic room refused");
        return Ok(Placement::NoBed);
    }
    let placed = insert_stay(
        tx,
        (*site_id, site_name, site_phone.as_deref()),
        row,
        (person.id, person.household_id, &person.node_path),
        observation_id,
        period,
        scope.actor(),
        now,
    )
    .await?;
    audit::record(
        &mut **tx,
        AuditEntry::by(scope, "quarantine_stay.assign", "quarantine_stay")
            .entity_id(placed.stay_id)
            .node_path(&person.node_path)
            .detail(json!({
                "auto": true, "person_id": person.id, "observation_id": observation_id,
                "site_id": site_id, "room_id": row.id, "from": placed.from, "until": placed.until,
            })),
        now,
    )
    .await?;
    Ok(Placement::Placed(placed))
}

/// Puts the person of an open observation in a room by hand, for the observation's centralised
/// stage from today: whoever runs the site, for a person in their jurisdiction. Refused: a
/// closed site, no centralised stage ahead, a second stay over the same nights, a full room.
/// Audited.
pub async fn assign(
    db: &Db,
    scope: &Scope,
    observation_id: i64,
    room_id: i64,
    now: i64,
) -> Result<Placed, StoreError> {
    let (site, room) = room_in(db, scope, room_id).await?;
    if !can_manage_site(scope, &site.node_path) {
        return Err(StoreError::Forbidden(
            "您只能查看这个隔离点，不能安排房间".into(),
        ));
    }
    if !site.open {
        return Err(StoreError::invalid(
            "room_id",
            "该隔离点已关闭，不再接收人员",
        ));
    }
    let today = date_of(now);
    let mut tx = db.begin_write().await?;
    let obs = observation_row(&mut tx, observation_id).await?;
    if !scope.can_read(&obs.node_path) {
        return Err(StoreError::NotFound);
    }
    if obs.released {
        return Err(StoreError::invalid("observation_id", "该医学观察已解除"));
    }
    let Some(period) = obs.span.and_then(|s| stay_for(s, today)) else {
        return Err(StoreError::invalid(
            "observation_id",
            "该医学观察今天起没有集中隔离阶段，无需安排房间",
        ));
    };
    let stays: Vec<Stay> = room_stays(&mut tx, room.id, period.from, None)
        .await?
        .into_iter()
        .map(|(_, s)| s)
        .collect();
    let own = person_stays(&mut tx, obs.person_id, period.from, None).await?;
    check_stay(period, obs.period, room.beds, &stays, &own, today)?;
    let household: Option<i64> = sqlx::query("SELECT household_id FROM person WHERE id = $1")
        .bind(obs.person_id)
        .fetch_one(&mut *tx)
        .await?
        .try_get(0)?;
    let placed = insert_stay(
        &mut tx,
        (site.id, &site.name, site.phone.as_deref()),
        &room,
        (obs.person_id, household, &obs.node_path),
        observation_id,
        period,
        scope.actor(),
        now,
    )
    .await?;
    audit::commit_recorded(
        tx,
        AuditEntry::by(scope, "quarantine_stay.assign", "quarantine_stay")
            .entity_id(placed.stay_id)
            .node_path(&obs.node_path)
            .detail(json!({
                "auto": false, "person_id": obs.person_id, "observation_id": observation_id,
                "site_id": site.id, "room_id": room.id, "from": placed.from, "until": placed.until,
            })),
        now,
    )
    .await?;
    Ok(placed)
}

/// An open stay the caller may run: its site (run by the caller) and its rules' view.
struct OpenStay {
    id: i64,
    site: Site,
    room_id: i64,
    person_id: Option<i64>,
    household: Option<i64>,
    observation_id: i64,
    node_path: JurisdictionPath,
    stay: Stay,
}

async fn open_stay(db: &Db, scope: &Scope, stay_id: i64) -> Result<OpenStay, StoreError> {
    let r = row_by_id(db, "SELECT id, site_id, room_id, person_id, observation_id, node_path, from_on, until_on, left_on, \
         household_id FROM quarantine_stay WHERE id = $1", stay_id).await?;
    let site = site(db, scope, r.try_get(1)?).await?;
    if !can_manage_site(scope, &site.node_path) {
        return Err(StoreError::Forbidden(
            "您只能查看这个隔离点，不能调整入住".into(),
        ));
    }
    let stay = stay_of(&r, 6)?;
    if stay.left.is_some() {
        return Err(StoreError::invalid("stay_id", "此人已退房"));
    }
    Ok(OpenStay {
        id: r.try_get(0)?,
        site,
        room_id: r.try_get(2)?,
        person_id: r.try_get(3)?,
        observation_id: r.try_get(4)?,
        node_path: path_of(&r.try_get::<String, _>(5)?)?,
        household: stay.household,
        stay,
    })
}

/// Moves an open stay to another room of a site the caller runs, from tonight: the old room is
/// kept until last night (a move on the first day leaves it no night), the new stay runs to the
/// same last night. Audited.
pub async fn move_stay(
    db: &Db,
    scope: &Scope,
    stay_id: i64,
    room_id: i64,
    now: i64,
) -> Result<Placed, StoreError> {
    let old = open_stay(db, scope, stay_id).await?;
    let (site, room) = room_in(db, scope, room_id).await?;
    if !can_manage_site(scope, &site.node_path) {
        return Err(StoreError::Forbidden(
            "您只能查看这个隔离点，不能安排房间".into(),
        ));
    }
    if room.id == old.room_id {
        return Err(StoreError::invalid("room_id", "已在该房间"));
    }
    if !site.open {
        return Err(StoreError::invalid(
            "room_id",
            "该隔离点已关闭，不再接收人员",
        ));
    }
    let Some(person_id) = old.person_id else {
        return Err(StoreError::NotFound);
    };
    let today = date_of(now);
    let period = Period::new(old.stay.from.max(today), old.stay.until.max(today))?;
    let mut tx = db.begin_write().await?;
    let obs = observation_row(&mut tx, old.observation_id).await?;
    let stays: Vec<Stay> = room_stays(&mut tx, room.id, period.from, None)
        .await?
        .into_iter()
        .map(|(_, s)| s)
        .collect();
    let own = person_stays(&mut tx, person_id, period.from, Some(old.id)).await?;
    // An overdue stay moved today runs to today: the observation allows what it already spans.
    let allowed = Period {
        from: obs.period.from.min(period.from),
        until: obs.period.until.max(period.until),
    };
    check_stay(period, allowed, room.beds, &stays, &own, today)?;
    let last_night = today.previous_day().unwrap_or(today);
    sqlx::query(
        "UPDATE quarantine_stay SET left_on = $1, left_by = $2 WHERE id = $3 AND left_on IS NULL",
    )
    .bind(format_date(last_night))
    .bind(scope.actor())
    .bind(old.id)
    .execute(&mut *tx)
    .await?;
    let placed = insert_stay(
        &mut tx,
        (site.id, &site.name, site.phone.as_deref()),
        &room,
        (person_id, old.household, &old.node_path),
        old.observation_id,
        period,
        scope.actor(),
        now,
    )
    .await?;
    audit::commit_recorded(
        tx,
        AuditEntry::by(scope, "quarantine_stay.move", "quarantine_stay")
            .entity_id(placed.stay_id)
            .node_path(&old.node_path)
            .detail(json!({
                "from_stay": old.id, "from_site_id": old.site.id, "from_room_id": old.room_id,
                "site_id": site.id, "room_id": room.id, "from": placed.from,
            })),
        now,
    )
    .await?;
    Ok(placed)
}

/// Checks a stay out on `on` (today, or a day not before its first night − 1 to cancel it): its
/// bed is free from the next day. Whoever runs the site. Audited.
pub async fn check_out(
    db: &Db,
    scope: &Scope,
    stay_id: i64,
    on: Date,
    now: i64,
) -> Result<(), StoreError> {
    let stay = open_stay(db, scope, stay_id).await?;
    let today = date_of(now);
    if on > today {
        return Err(StoreError::invalid("on", "退房日期不能晚于今天"));
    }
    if stay.stay.from.previous_day().is_some_and(|d| on < d) {
        return Err(StoreError::invalid(
            "on",
            format!("退房日期不能早于入住日期 {}", format_date(stay.stay.from)),
        ));
    }
    let mut tx = db.begin_write().await?;
    let changed = sqlx::query(
        "UPDATE quarantine_stay SET left_on = $1, left_by = $2 WHERE id = $3 AND left_on IS NULL",
    )
    .bind(format_date(on))
    .bind(scope.actor())
    .bind(stay.id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if changed != 1 {
        return Err(StoreError::Conflict {
            field: "stay_id".into(),
            message: "此人刚刚已被他人办理退房".into(),
        });
    }
    audit::commit_recorded(
        tx,
        AuditEntry::by(scope, "quarantine_stay.check_out", "quarantine_stay")
            .entity_id(stay.id)
            .node_path(&stay.node_path)
            .detail(
                json!({"site_id": stay.site.id, "room_id": stay.room_id, "on": format_date(on)}),
            ),
        now,
    )
    .await?;
    Ok(())
}

/// Checks out the open stays of released observations on the release day, in the release's
/// transaction.
pub(crate) async fn check_out_released(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    observation_id: i64,
    on: Date,
    actor: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE quarantine_stay SET left_on = $1, left_by = $2 WHERE observation_id = $3 AND left_on IS NULL",
    )
    .bind(format_date(on))
    .bind(actor)
    .bind(observation_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The room of an observation the caller may read: its open stay, else its latest.
pub async fn stay_of_observation(
    db: &Db,
    scope: &Scope,
    observation_id: i64,
) -> Result<Option<Placed>, StoreError> {
    let Some(r) = sqlx::query(
        "SELECT st.id, st.site_id, s.name, s.phone, r.floor, r.number, st.from_on, st.until_on, st.node_path \
         FROM quarantine_stay st JOIN quarantine_room r ON r.id = st.room_id \
         JOIN quarantine_site s ON s.id = st.site_id \
         WHERE st.observation_id = $1 AND st.anonymised_at IS NULL \
         ORDER BY CASE WHEN st.left_on IS NULL THEN 0 ELSE 1 END, st.id DESC LIMIT 1",
    )
    .bind(observation_id)
    .fetch_optional(db.pool())
    .await?
    else {
        return Ok(None);
    };
    if !scope.can_read(&path_of(&r.try_get::<String, _>(8)?)?) {
        return Err(StoreError::NotFound);
    }
    Ok(Some(Placed {
        stay_id: r.try_get(0)?,
        site_id: r.try_get(1)?,
        site_name: r.try_get(2)?,
        site_phone: r.try_get(3)?,
        floor: r.try_get(4)?,
        room: r.try_get(5)?,
        from: r.try_get(6)?,
        until: r.try_get(7)?,
    }))
}

/// Whom a room is being found for: an open observation the caller may read, its person, where
/// they live, and the last night of its centralised stage from today (none: no room needed).
#[derive(Debug, Clone)]
pub struct RoomSeeker {
    pub observation_id: i64,
    pub person_id: i64,
    pub person_name: String,
    pub node_id: i64,
    pub until: Option<Date>,
}

/// The observation a room is sought for (see [`RoomSeeker`]); a released one is refused.
pub async fn room_seeker(
    db: &Db,
    scope: &Scope,
    observation_id: i64,
    now: i64,
) -> Result<RoomSeeker, StoreError> {
    let mut tx = db.pool().begin().await?;
    let obs = observation_row(&mut tx, observation_id).await?;
    drop(tx);
    if !scope.can_read(&obs.node_path) {
        return Err(StoreError::NotFound);
    }
    if obs.released {
        return Err(StoreError::invalid("observation_id", "该医学观察已解除"));
    }
    let name: String = sqlx::query("SELECT name FROM person WHERE id = $1")
        .bind(obs.person_id)
        .fetch_one(db.pool())
        .await?
        .try_get(0)?;
    Ok(RoomSeeker {
        observation_id,
        person_id: obs.person_id,
        person_name: name,
        node_id: obs.node_path.id(),
        until: obs
            .span
            .and_then(|s| stay_for(s, date_of(now)))
            .map(|p| p.until),
    })
}

/// The rooms of a site with a free bed every night from today to `until`, for the move form.
pub async fn rooms_free(
    db: &Db,
    scope: &Scope,
    site_id: i64,
    until: Date,
    now: i64,
) -> Result<Vec<(i64, String)>, StoreError> {
    let site = site(db, scope, site_id).await?;
    let today = date_of(now);
    let Ok(period) = Period::new(today, until.max(today)) else {
        return Ok(Vec::new());
    };
    let rooms = rooms_with_stays(db, &[site.id], period).await?;
    Ok(rooms
        .into_iter()
        .filter(|(_, _, r)| check_stay(period, period, r.beds, &r.stays, &[], today).is_ok())
        .map(|(_, row, _)| (row.id, format!("{} 楼 {} 室", row.floor, row.number)))
        .collect())
}
