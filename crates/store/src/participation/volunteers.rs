//! Volunteers (志愿者), teams (志愿服务队), service activities (服务活动), sign-ups, attendance and
//! hours. The rules are pure (`linli_core::participation::volunteers`); this module keeps the
//! records.
//!
//! - A volunteer is a registry person (`person_id`, read through `registry::get`, so only one
//!   the caller may see) or an outside person whose phone is stored like a person's. A person's
//!   own name and phone are read from the registry at display time (one record, one truth).
//! - An activity's public link (`/v/{code}`) signs a volunteer up by phone: a volunteer of the
//!   activity's community with that phone, else a new outside volunteer `pending` until staff
//!   confirm them. The same link takes self-reported hours (pending until the organiser decides).
//! - Sign-ups lock their activity row first (`UPDATE … SET code = code`), so two at once cannot
//!   both take the last place on PostgreSQL; SQLite has one writer anyway.
//! - Only confirmed hours count. [`confirm_hours`] returns the confirmed record with its id: the
//!   seam a points ledger entry will name when points come (issue 20 item 3).
//!
//! Access: everyone but officials writes within their jurisdiction (like the registry's
//! records); officials read.

use linli_core::kernel::clock::{date_of, day_bounds, format_date, DayRange};
use linli_core::kernel::labels::Labelled;
use linli_core::participation::volunteers::{
    certificate_number, check_room, parse_name, parse_reason, parse_skill, parse_skills,
    parse_text, parse_weekdays, ActivityDraft, ActivityInput, Hours, HoursAction, HoursStatus,
    Need, VolunteerState,
};
use linli_core::{JurisdictionPath, NodeKind, Phone, Role, Scope};
use serde::Serialize;
use serde_json::json;
use sqlx::Row;

use crate::infra::audit::{self, AuditEntry};
use crate::infra::db::{row_by_id, Params};
use crate::infra::errors::{internal, unique_to};
use crate::infra::secret::Keyring;
use crate::{Db, Listed, StoreError};

/// Hash domain of phones: the registry's, so one number finds a person and a volunteer alike.
const PHONE_HASH: &str = "phone";

fn can_write(scope: &Scope, path: &JurisdictionPath) -> bool {
    scope.role() != Role::Official && scope.can_read(path)
}

fn forbidden() -> StoreError {
    StoreError::Forbidden("领导账号只能查看志愿服务记录".into())
}

fn path_of(r: &sqlx::any::AnyRow, col: &str) -> Result<JurisdictionPath, StoreError> {
    JurisdictionPath::parse(&r.try_get::<String, _>(col)?).map_err(internal)
}

/// The node a volunteer, team or activity belongs to: in scope, writable, open, at community
/// level or below.
async fn home_node(db: &Db, scope: &Scope, node_id: i64) -> Result<crate::tree::Node, StoreError> {
    crate::tree::registration_node(
        db,
        scope,
        node_id,
        |n| {
            if can_write(scope, &n.path) {
                Ok(())
            } else {
                Err(forbidden())
            }
        },
        "志愿服务只能登记在社区/村、小区、网格或楼栋之下",
    )
    .await
}

/// The community (or village) a path lies in: its nearest ancestor of that kind, else the
/// path's own node.
async fn community_of(
    db: &Db,
    path: &JurisdictionPath,
) -> Result<(i64, String, JurisdictionPath), StoreError> {
    let ids = path.ids();
    let mut params = Params::new();
    let list: Vec<String> = ids.iter().map(|i| params.int(*i)).collect();
    let kind = params.text(NodeKind::Community.as_str());
    let sql = format!(
        "SELECT id, name, path FROM node WHERE id IN ({}) ORDER BY (kind = {kind}) DESC, depth DESC",
        list.join(", ")
    );
    let rows = params.bind(sqlx::query(&sql)).fetch_all(db.pool()).await?;
    // Prefer the community; without one, the deepest node of the path.
    let r = rows.first().ok_or(StoreError::NotFound)?;
    Ok((r.try_get(0)?, r.try_get(1)?, path_of(r, "path")?))
}

// ---------------------------------------------------------------------------------------------
// Volunteers

/// A team a volunteer belongs to.
#[derive(Debug, Clone, Serialize)]
pub struct TeamRef {
    pub id: i64,
    pub name: String,
}

/// A volunteer as shown: the phone masked.
#[derive(Debug, Clone, Serialize)]
pub struct Volunteer {
    pub id: i64,
    pub node_id: i64,
    pub node_name: String,
    #[serde(skip)]
    pub node_path: JurisdictionPath,
    pub person_id: Option<i64>,
    pub name: String,
    pub phone_masked: Option<String>,
    pub skills: Vec<String>,
    pub availability: Option<String>,
    pub weekdays: Vec<u8>,
    pub state: VolunteerState,
    pub left_on: Option<String>,
    pub teams: Vec<TeamRef>,
    pub created_at: i64,
}

const VOLUNTEER_COLUMNS: &str = "v.id, v.node_id, n.name AS node_name, v.node_path, v.person_id, \
     COALESCE(p.name, v.name) AS name, COALESCE(p.phone_cipher, v.phone_cipher) AS phone_cipher, \
     v.skills, v.availability, v.weekdays, v.state, v.left_on, v.created_at";

const VOLUNTEER_FROM: &str =
    "volunteer v JOIN node n ON n.id = v.node_id LEFT JOIN person p ON p.id = v.person_id";

fn volunteer_from_row(keys: &Keyring, r: &sqlx::any::AnyRow) -> Result<Volunteer, StoreError> {
    let skills: String = r.try_get("skills")?;
    let weekdays: String = r.try_get("weekdays")?;
    Ok(Volunteer {
        id: r.try_get("id")?,
        node_id: r.try_get("node_id")?,
        node_name: r.try_get("node_name")?,
        node_path: path_of(r, "node_path")?,
        person_id: r.try_get("person_id")?,
        name: r.try_get("name")?,
        phone_masked: keys.masked_phone(r.try_get("phone_cipher")?)?,
        skills: serde_json::from_str(&skills).map_err(internal)?,
        availability: r.try_get("availability")?,
        weekdays: weekdays
            .bytes()
            .filter(u8::is_ascii_digit)
            .map(|b| b - b'0')
            .collect(),
        state: r.try_get::<String, _>("state")?.parse().map_err(internal)?,
        left_on: r.try_get("left_on")?,
        teams: Vec::new(),
        created_at: r.try_get("created_at")?,
    })
}

/// Who a new volunteer is.
#[derive(Debug, Clone)]
pub enum Who<'a> {
    /// A person of the registry (the home node is theirs unless one is given).
    Person(i64),
    /// Someone outside the registry: name and phone.
    Outside { name: &'a str, phone: &'a str },
}

/// A new volunteer as typed.
#[derive(Debug, Clone)]
pub struct VolunteerInput<'a> {
    pub who: Who<'a>,
    /// The home node (required for an outside person).
    pub node_id: Option<i64>,
    pub skills: Vec<String>,
    pub availability: Option<&'a str>,
    pub weekdays: Vec<String>,
    pub team_ids: Vec<i64>,
}

/// Registers a volunteer. A registry person is a volunteer once (a conflict on `person_id`);
/// teams must be of the volunteer's community. Audited.
pub async fn create_volunteer(
    db: &Db,
    scope: &Scope,
    input: &VolunteerInput<'_>,
    now: i64,
) -> Result<Volunteer, StoreError> {
    let keys = db.keys()?;
    let mut errors = Vec::new();
    let skills = parse_skills(&input.skills)
        .map_err(|e| errors.push(e))
        .unwrap_or_default();
    let weekdays = parse_weekdays(&input.weekdays)
        .map_err(|e| errors.push(e))
        .unwrap_or_default();
    let availability = parse_text("availability", input.availability, 200)
        .map_err(|e| errors.push(e))
        .ok()
        .flatten();
    let (person, name, phone) = match &input.who {
        Who::Person(id) => match crate::registry::get(db, scope, *id).await {
            Ok(p) => (Some(p), String::new(), None),
            Err(StoreError::NotFound) => {
                errors.push(linli_core::CoreError::invalid(
                    "person_id",
                    "您的辖区内没有这个居民",
                ));
                (None, String::new(), None)
            }
            Err(e) => return Err(e),
        },
        Who::Outside { name, phone } => {
            let name = parse_name("name", name, "姓名")
                .map_err(|e| errors.push(e))
                .unwrap_or_default();
            let phone = Phone::parse(phone).map_err(|e| errors.push(e)).ok();
            (None, name, phone)
        }
    };
    let node_id = input
        .node_id
        .or(person.as_ref().map(|p| p.node_id))
        .ok_or_else(|| StoreError::invalid("node_id", "请选择所属社区或网格"));
    let node = match node_id {
        Ok(n) => home_node(db, scope, n).await,
        Err(e) => Err(e),
    };
    let node = match (errors.is_empty(), node) {
        (true, Ok(n)) => n,
        (_, Err(StoreError::Invalid(more))) => {
            errors.extend(more);
            return Err(StoreError::Invalid(errors));
        }
        (true, Err(e)) => return Err(e),
        (false, _) => return Err(StoreError::Invalid(errors)),
    };
    let (community_id, _, community) = community_of(db, &node.path).await?;
    let teams = teams_in(db, &input.team_ids).await?;
    if teams.iter().any(|(_, p)| !p.is_within(&community)) {
        return Err(StoreError::invalid(
            "team_ids",
            "只能加入本社区的志愿服务队",
        ));
    }
    let mut tx = db.begin_write().await?;
    let id = audit::insert_recorded_or(
        &mut tx,
        sqlx::query(
            "INSERT INTO volunteer (node_id, district_id, node_path, person_id, name, phone_cipher, phone_hash, \
             phone_last4, skills, availability, weekdays, state, created_at, created_by, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $13) RETURNING id",
        )
        .bind(node.id)
        .bind(node.path.root_id())
        .bind(node.path.as_str())
        .bind(person.as_ref().map(|p| p.id))
        .bind(person.as_ref().map(|p| p.name.clone()).unwrap_or(name))
        .bind(phone.as_ref().map(|p| keys.encrypt(p.as_str())).transpose()?)
        .bind(phone.as_ref().map(|p| keys.lookup_hash(PHONE_HASH, p.as_str())))
        .bind(phone.as_ref().map(|p| p.last4().to_owned()))
        .bind(serde_json::to_string(&skills).map_err(internal)?)
        .bind(availability)
        .bind(weekdays.iter().map(|d| d.to_string()).collect::<String>())
        .bind(VolunteerState::Active.as_str())
        .bind(now)
        .bind(scope.actor()),
        AuditEntry::by(scope, "volunteer.create", "volunteer")
            .node_path(&node.path)
            .detail(json!({"person_id": person.as_ref().map(|p| p.id), "skills": skills, "community_id": community_id})),
        now,
        |e| unique_to(e, "person_id", "该居民已登记为志愿者"),
    )
    .await?;
    for (team_id, _) in &teams {
        sqlx::query("INSERT INTO volunteer_team_member (team_id, volunteer_id) VALUES ($1, $2)")
            .bind(*team_id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    volunteer(db, scope, id).await
}

/// The teams with these ids and their paths (unknown ids refused on `team_ids`).
async fn teams_in(db: &Db, ids: &[i64]) -> Result<Vec<(i64, JurisdictionPath)>, StoreError> {
    let mut out = Vec::new();
    for id in ids {
        let row = sqlx::query("SELECT node_path FROM volunteer_team WHERE id = $1")
            .bind(*id)
            .fetch_optional(db.pool())
            .await?
            .ok_or_else(|| {
                StoreError::invalid("team_ids", format!("没有编号为 {id} 的志愿服务队"))
            })?;
        if !out.iter().any(|(t, _)| t == id) {
            out.push((*id, path_of(&row, "node_path")?));
        }
    }
    Ok(out)
}

/// One volunteer in the caller's jurisdiction, with their teams.
/// The volunteer a form or request names in field `field`: one outside the caller's
/// jurisdiction (or none) is a refusal of that field, not a missing page.
async fn named_volunteer(
    db: &Db,
    scope: &Scope,
    id: i64,
    field: &str,
) -> Result<Volunteer, StoreError> {
    match volunteer(db, scope, id).await {
        Err(StoreError::NotFound) => Err(StoreError::invalid(field, "您的辖区内没有这名志愿者")),
        other => other,
    }
}

pub async fn volunteer(db: &Db, scope: &Scope, id: i64) -> Result<Volunteer, StoreError> {
    let keys = db.keys()?;
    let row = crate::scoped_row(
        db,
        scope,
        &format!("SELECT {VOLUNTEER_COLUMNS} FROM {VOLUNTEER_FROM}"),
        "v.id",
        "v.node_path",
        id,
    )
    .await?;
    let mut v = volunteer_from_row(keys, &row)?;
    let rows = sqlx::query(
        "SELECT t.id, t.name FROM volunteer_team_member m JOIN volunteer_team t ON t.id = m.team_id \
         WHERE m.volunteer_id = $1 ORDER BY t.name",
    )
    .bind(id)
    .fetch_all(db.pool())
    .await?;
    v.teams = rows
        .iter()
        .map(|r| {
            Ok(TeamRef {
                id: r.try_get(0)?,
                name: r.try_get(1)?,
            })
        })
        .collect::<Result<_, StoreError>>()?;
    Ok(v)
}

/// What a list of volunteers is narrowed to.
#[derive(Debug, Clone, Default)]
pub struct VolunteerFilter {
    /// Words in the name, or the phone's last four digits.
    pub q: Option<String>,
    pub team_id: Option<i64>,
    pub skill: Option<String>,
    pub state: Option<VolunteerState>,
}

/// Volunteers under a node in scope, filtered, by name, a page at a time.
pub async fn volunteers(
    db: &Db,
    scope: &Scope,
    node_id: i64,
    filter: &VolunteerFilter,
    (limit, offset): (i64, i64),
) -> Result<Listed<Volunteer>, StoreError> {
    let keys = db.keys()?;
    let node = crate::tree::get(db, scope, node_id).await?;
    let skill = filter
        .skill
        .as_deref()
        .filter(|s| !s.trim().is_empty())
        .map(|s| parse_skill("skill", s))
        .transpose()?;
    let (total, rows) = crate::infra::db::counted_page(
        db,
        VOLUNTEER_COLUMNS,
        VOLUNTEER_FROM,
        |params| {
            let mut conds = vec![crate::under_node(&node.path, scope, "v.node_path", params)];
            if let Some(q) = filter.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
                if q.len() == 4 && q.bytes().all(|b| b.is_ascii_digit()) {
                    let q = params.text(q);
                    conds.push(format!(
                        "(COALESCE(p.phone_last4, v.phone_last4) = {q} OR COALESCE(p.name, v.name) LIKE '%' || {q} || '%')"
                    ));
                } else {
                    conds.push(params.contains_any(&["COALESCE(p.name, v.name)"], q));
                }
            }
            if let Some(t) = filter.team_id {
                conds.push(format!(
                    "v.id IN (SELECT volunteer_id FROM volunteer_team_member WHERE team_id = {})",
                    params.int(t)
                ));
            }
            if let Some(s) = &skill {
                conds.push(format!("v.skills LIKE {}", params.text(format!("%\"{s}\"%"))));
            }
            if let Some(s) = filter.state {
                conds.push(format!("v.state = {}", params.text(s.as_str())));
            }
            conds.join(" AND ")
        },
        "COALESCE(p.name, v.name), v.id",
        (limit.clamp(1, crate::MAX_LIST_ROWS), offset),
    )
    .await?;
    let items = rows
        .iter()
        .map(|r| volunteer_from_row(keys, r))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Listed { items, total })
}

/// A volunteer the caller may change.
async fn writable_volunteer(db: &Db, scope: &Scope, id: i64) -> Result<Volunteer, StoreError> {
    let v = volunteer(db, scope, id).await?;
    if !can_write(scope, &v.node_path) {
        return Err(forbidden());
    }
    Ok(v)
}

/// Moves a volunteer to `to` (confirming one who signed up by link, or recording that they
/// left on `left_on`, a date). Audited.
pub async fn set_state(
    db: &Db,
    scope: &Scope,
    id: i64,
    to: VolunteerState,
    left_on: Option<&str>,
    now: i64,
) -> Result<Volunteer, StoreError> {
    let v = writable_volunteer(db, scope, id).await?;
    let ok = matches!(
        (v.state, to),
        (VolunteerState::Pending, VolunteerState::Active)
            | (VolunteerState::Pending, VolunteerState::Left)
            | (VolunteerState::Active, VolunteerState::Left)
            | (VolunteerState::Left, VolunteerState::Active)
    );
    if !ok {
        return Err(StoreError::invalid(
            "state",
            format!("志愿者{}，不能改为{}", v.state.label_zh(), to.label_zh()),
        ));
    }
    let left_on = match to {
        VolunteerState::Left => Some(match left_on.map(str::trim).filter(|s| !s.is_empty()) {
            Some(d) => format_date(linli_core::kernel::clock::parse_date("left_on", d)?),
            None => format_date(date_of(now)),
        }),
        _ => None,
    };
    let mut tx = db.begin_write().await?;
    sqlx::query("UPDATE volunteer SET state = $1, left_on = $2, updated_at = $3 WHERE id = $4")
        .bind(to.as_str())
        .bind(left_on.clone())
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    audit::commit_recorded(
        tx,
        AuditEntry::by(scope, "volunteer.state", "volunteer")
            .entity_id(id)
            .node_path(&v.node_path)
            .detail(json!({"from": v.state.as_str(), "to": to.as_str(), "left_on": left_on})),
        now,
    )
    .await?;
    volunteer(db, scope, id).await
}

// ---------------------------------------------------------------------------------------------
// Teams

/// A team (志愿服务队) with its leader's name and how many members it has.
#[derive(Debug, Clone, Serialize)]
pub struct Team {
    pub id: i64,
    pub node_id: i64,
    pub node_name: String,
    #[serde(skip)]
    pub node_path: JurisdictionPath,
    pub name: String,
    pub leader_id: Option<i64>,
    pub leader_name: Option<String>,
    pub members: i64,
}

const TEAM_SELECT: &str = "SELECT t.id, t.node_id, n.name AS node_name, t.node_path, t.name, t.leader_id, \
     (SELECT COALESCE(p.name, v.name) FROM volunteer v LEFT JOIN person p ON p.id = v.person_id WHERE v.id = t.leader_id) AS leader_name, \
     (SELECT COUNT(*) FROM volunteer_team_member m WHERE m.team_id = t.id) AS members \
     FROM volunteer_team t JOIN node n ON n.id = t.node_id";

fn team_from_row(r: &sqlx::any::AnyRow) -> Result<Team, StoreError> {
    Ok(Team {
        id: r.try_get("id")?,
        node_id: r.try_get("node_id")?,
        node_name: r.try_get("node_name")?,
        node_path: path_of(r, "node_path")?,
        name: r.try_get("name")?,
        leader_id: r.try_get("leader_id")?,
        leader_name: r.try_get("leader_name")?,
        members: r.try_get("members")?,
    })
}

/// Forms a team under a node; the leader (optional) must be a volunteer of the team's
/// community, and becomes a member. A name is unique per node. Audited.
pub async fn create_team(
    db: &Db,
    scope: &Scope,
    node_id: i64,
    name: &str,
    leader_id: Option<i64>,
    now: i64,
) -> Result<Team, StoreError> {
    let name = parse_name("name", name, "队名");
    let node = home_node(db, scope, node_id).await;
    let (name, node) = match (name, node) {
        (Ok(n), Ok(node)) => (n, node),
        (Err(e), Err(StoreError::Invalid(mut more))) => {
            more.insert(0, e);
            return Err(StoreError::Invalid(more));
        }
        (Err(e), _) => return Err(e.into()),
        (_, Err(e)) => return Err(e),
    };
    let (_, _, community) = community_of(db, &node.path).await?;
    if let Some(l) = leader_id {
        let v = named_volunteer(db, scope, l, "leader_id").await?;
        if !v.node_path.is_within(&community) {
            return Err(StoreError::invalid("leader_id", "队长应是本社区的志愿者"));
        }
    }
    let mut tx = db.begin_write().await?;
    let id = audit::insert_recorded_or(
        &mut tx,
        sqlx::query(
            "INSERT INTO volunteer_team (node_id, district_id, node_path, name, leader_id, created_at, created_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(node.id)
        .bind(node.path.root_id())
        .bind(node.path.as_str())
        .bind(name.clone())
        .bind(leader_id)
        .bind(now)
        .bind(scope.actor()),
        AuditEntry::by(scope, "volunteer_team.create", "volunteer_team")
            .node_path(&node.path)
            .detail(json!({"name": name, "leader_id": leader_id})),
        now,
        |e| unique_to(e, "name", "该节点下已有同名的志愿服务队"),
    )
    .await?;
    if let Some(l) = leader_id {
        sqlx::query("INSERT INTO volunteer_team_member (team_id, volunteer_id) VALUES ($1, $2)")
            .bind(id)
            .bind(l)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    team(db, scope, id).await
}

/// One team in the caller's jurisdiction.
pub async fn team(db: &Db, scope: &Scope, id: i64) -> Result<Team, StoreError> {
    let row = crate::scoped_row(db, scope, TEAM_SELECT, "t.id", "t.node_path", id).await?;
    team_from_row(&row)
}

/// The teams under a node in scope, by name.
pub async fn teams(db: &Db, scope: &Scope, node_id: i64) -> Result<Vec<Team>, StoreError> {
    let node = crate::tree::get(db, scope, node_id).await?;
    let mut params = Params::new();
    let under = crate::under_node(&node.path, scope, "t.node_path", &mut params);
    let sql = format!("{TEAM_SELECT} WHERE {under} ORDER BY t.name, t.id LIMIT 1000");
    let rows = params.bind(sqlx::query(&sql)).fetch_all(db.pool()).await?;
    rows.iter().map(team_from_row).collect()
}

/// Adds a volunteer of the team's community to a team (again is a no-op). Audited.
pub async fn add_member(
    db: &Db,
    scope: &Scope,
    team_id: i64,
    volunteer_id: i64,
    now: i64,
) -> Result<Team, StoreError> {
    let t = team(db, scope, team_id).await?;
    if !can_write(scope, &t.node_path) {
        return Err(forbidden());
    }
    let v = named_volunteer(db, scope, volunteer_id, "volunteer_id").await?;
    let (_, _, community) = community_of(db, &t.node_path).await?;
    if !v.node_path.is_within(&community) {
        return Err(StoreError::invalid(
            "volunteer_id",
            "只能加入本社区的志愿者",
        ));
    }
    let mut tx = db.begin_write().await?;
    sqlx::query(
        "INSERT INTO volunteer_team_member (team_id, volunteer_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
    )
    .bind(team_id)
    .bind(volunteer_id)
    .execute(&mut *tx)
    .await?;
    audit::commit_recorded(
        tx,
        AuditEntry::by(scope, "volunteer_team.member", "volunteer_team")
            .entity_id(team_id)
            .node_path(&t.node_path)
            .detail(json!({"volunteer_id": volunteer_id})),
        now,
    )
    .await?;
    team(db, scope, team_id).await
}

// ---------------------------------------------------------------------------------------------
// Activities

/// A service activity (服务活动) with how many have signed up.
#[derive(Debug, Clone, Serialize)]
pub struct Activity {
    pub id: i64,
    pub node_id: i64,
    pub node_name: String,
    #[serde(skip)]
    pub node_path: JurisdictionPath,
    pub title: String,
    pub place: Option<String>,
    pub starts_at: i64,
    pub ends_at: i64,
    pub description: Option<String>,
    pub needs: Vec<Need>,
    /// The public link's short code (`/v/{code}`).
    #[serde(skip)]
    pub code: String,
    pub organiser_id: Option<i64>,
    /// The organiser's name (the account's display name).
    pub organiser: String,
    pub signed_up: i64,
    /// Confirmed hours of all sign-ups, in half hours.
    pub confirmed_halves: i64,
    pub created_at: i64,
}

impl Activity {
    pub fn capacity(&self) -> i64 {
        linli_core::participation::volunteers::capacity(&self.needs)
    }

    pub fn length(&self) -> Hours {
        Hours::activity_length(self.starts_at, self.ends_at)
    }
}

const ACTIVITY_SELECT: &str = "SELECT a.id, a.node_id, n.name AS node_name, a.node_path, a.title, a.place, \
     a.starts_at, a.ends_at, a.description, a.needs, a.code, a.organiser_id, \
     COALESCE(u.display_name, a.organiser) AS organiser, a.created_at, \
     (SELECT COUNT(*) FROM volunteer_signup s WHERE s.activity_id = a.id) AS signed_up, \
     (SELECT CAST(COALESCE(SUM(h.halves), 0) AS BIGINT) FROM volunteer_hours h WHERE h.activity_id = a.id AND h.status = 'confirmed') AS confirmed_halves \
     FROM volunteer_activity a JOIN node n ON n.id = a.node_id LEFT JOIN app_user u ON u.id = a.organiser_id";

fn activity_from_row(r: &sqlx::any::AnyRow) -> Result<Activity, StoreError> {
    let needs: String = r.try_get("needs")?;
    Ok(Activity {
        id: r.try_get("id")?,
        node_id: r.try_get("node_id")?,
        node_name: r.try_get("node_name")?,
        node_path: path_of(r, "node_path")?,
        title: r.try_get("title")?,
        place: r.try_get("place")?,
        starts_at: r.try_get("starts_at")?,
        ends_at: r.try_get("ends_at")?,
        description: r.try_get("description")?,
        needs: serde_json::from_str(&needs).map_err(internal)?,
        code: r.try_get("code")?,
        organiser_id: r.try_get("organiser_id")?,
        organiser: r.try_get("organiser")?,
        signed_up: r.try_get("signed_up")?,
        confirmed_halves: r.try_get("confirmed_halves")?,
        created_at: r.try_get("created_at")?,
    })
}

/// Creates an activity under a node, organised by the caller, with a new public link. Audited.
pub async fn create_activity(
    db: &Db,
    scope: &Scope,
    node_id: i64,
    input: &ActivityInput<'_>,
    now: i64,
) -> Result<Activity, StoreError> {
    let draft = ActivityDraft::parse(input);
    let node = home_node(db, scope, node_id).await;
    let (draft, node) = match (draft, node) {
        (Ok(d), Ok(n)) => (d, n),
        (Err(mut errors), Err(StoreError::Invalid(more))) => {
            errors.extend(more);
            return Err(StoreError::Invalid(errors));
        }
        (Err(errors), Ok(_)) => return Err(StoreError::Invalid(errors)),
        (_, Err(e)) => return Err(e),
    };
    let code = crate::infra::secret::short_code(linli_core::kernel::token::ACTIVITY);
    let mut tx = db.begin_write().await?;
    let id = audit::insert_recorded(
        &mut tx,
        sqlx::query(
            "INSERT INTO volunteer_activity (node_id, district_id, node_path, title, place, starts_at, ends_at, \
             description, needs, code, organiser_id, organiser, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id",
        )
        .bind(node.id)
        .bind(node.path.root_id())
        .bind(node.path.as_str())
        .bind(draft.title.clone())
        .bind(draft.place.clone())
        .bind(draft.starts_at)
        .bind(draft.ends_at)
        .bind(draft.description.clone())
        .bind(serde_json::to_string(&draft.needs).map_err(internal)?)
        .bind(code)
        .bind(scope.user_id())
        .bind(scope.actor())
        .bind(now),
        AuditEntry::by(scope, "activity.create", "activity")
            .node_path(&node.path)
            .detail(json!({"title": draft.title, "needs": draft.needs})),
        now,
    )
    .await?;
    tx.commit().await?;
    activity(db, scope, id).await
}

/// One activity in the caller's jurisdiction.
pub async fn activity(db: &Db, scope: &Scope, id: i64) -> Result<Activity, StoreError> {
    let row = crate::scoped_row(db, scope, ACTIVITY_SELECT, "a.id", "a.node_path", id).await?;
    activity_from_row(&row)
}

/// Which activities a list shows, by time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// Not yet ended.
    Upcoming,
    /// Ended.
    Past,
}

/// What a list of activities is narrowed to.
#[derive(Debug, Clone, Default)]
pub struct ActivityFilter {
    /// Words in the title or the place.
    pub q: Option<String>,
    pub when: Option<When>,
    /// Asking for this skill.
    pub skill: Option<String>,
}

/// Activities under a node in scope, filtered, latest start first.
pub async fn activities(
    db: &Db,
    scope: &Scope,
    node_id: i64,
    filter: &ActivityFilter,
    now: i64,
    (limit, offset): (i64, i64),
) -> Result<Listed<Activity>, StoreError> {
    let node = crate::tree::get(db, scope, node_id).await?;
    let skill = filter
        .skill
        .as_deref()
        .filter(|s| !s.trim().is_empty())
        .map(|s| parse_skill("skill", s))
        .transpose()?;
    let (total, rows) = crate::infra::db::counted_page(
        db,
        "a.id",
        "volunteer_activity a",
        |params| {
            let mut conds = vec![crate::under_node(&node.path, scope, "a.node_path", params)];
            if let Some(q) = filter.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
                conds.push(params.contains_any(&["a.title", "a.place"], q));
            }
            match filter.when {
                Some(When::Upcoming) => conds.push(format!("a.ends_at > {}", params.int(now))),
                Some(When::Past) => conds.push(format!("a.ends_at <= {}", params.int(now))),
                None => {}
            }
            if let Some(s) = &skill {
                conds.push(format!(
                    "a.needs LIKE {}",
                    params.text(format!("%\"{s}\"%"))
                ));
            }
            conds.join(" AND ")
        },
        "a.starts_at DESC, a.id DESC",
        (limit.clamp(1, crate::MAX_LIST_ROWS), offset),
    )
    .await?;
    // The page's ids, then each in full (a page is at most a few hundred).
    let ids: Vec<i64> = rows
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?;
    let mut items = Vec::with_capacity(ids.len());
    if !ids.is_empty() {
        let mut params = Params::new();
        let list: Vec<String> = ids.iter().map(|i| params.int(*i)).collect();
        let sql = format!(
            "{ACTIVITY_SELECT} WHERE a.id IN ({}) ORDER BY a.starts_at DESC, a.id DESC",
            list.join(", ")
        );
        for r in params.bind(sqlx::query(&sql)).fetch_all(db.pool()).await? {
            items.push(activity_from_row(&r)?);
        }
    }
    Ok(Listed { items, total })
}

// ---------------------------------------------------------------------------------------------
// Sign-ups

/// How a sign-up or an hours record came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Entered by staff.
    Staff,
    /// Through the activity's public link.
    Link,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Staff => "staff",
            Source::Link => "link",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Source::Staff => "工作人员登记",
            Source::Link => "扫码报名",
        }
    }

    fn parse(s: &str) -> Result<Source, StoreError> {
        match s {
            "staff" => Ok(Source::Staff),
            "link" => Ok(Source::Link),
            other => Err(internal(format!("unknown source {other}"))),
        }
    }
}

/// A record of hours: the id is what a points ledger entry will name.
#[derive(Debug, Clone, Serialize)]
pub struct HoursRecord {
    pub id: i64,
    pub signup_id: i64,
    pub activity_id: i64,
    pub volunteer_id: i64,
    #[serde(skip)]
    pub hours: Hours,
    /// The hours as a number (`2.5`).
    #[serde(rename = "hours")]
    pub hours_value: f64,
    pub status: HoursStatus,
    pub source: Source,
    pub reason: Option<String>,
    pub served_at: i64,
    pub reported_at: i64,
    pub decided_at: Option<i64>,
}

const HOURS_COLUMNS: &str =
    "h.id, h.signup_id, h.activity_id, h.volunteer_id, h.halves, h.status, \
     h.source, h.reason, h.served_at, h.reported_at, h.decided_at";

fn hours_from_row(r: &sqlx::any::AnyRow) -> Result<HoursRecord, StoreError> {
    let hours = Hours::from_halves(r.try_get("halves")?);
    Ok(HoursRecord {
        id: r.try_get("id")?,
        signup_id: r.try_get("signup_id")?,
        activity_id: r.try_get("activity_id")?,
        volunteer_id: r.try_get("volunteer_id")?,
        hours,
        hours_value: hours.as_f64(),
        status: r
            .try_get::<String, _>("status")?
            .parse()
            .map_err(internal)?,
        source: Source::parse(&r.try_get::<String, _>("source")?)?,
        reason: r.try_get("reason")?,
        served_at: r.try_get("served_at")?,
        reported_at: r.try_get("reported_at")?,
        decided_at: r.try_get("decided_at")?,
    })
}

/// One volunteer signed up for an activity, with attendance and hours.
#[derive(Debug, Clone, Serialize)]
pub struct Signup {
    pub id: i64,
    pub activity_id: i64,
    pub volunteer_id: i64,
    pub volunteer_name: String,
    pub volunteer_state: VolunteerState,
    pub phone_masked: Option<String>,
    /// The need this sign-up fills.
    pub skill: Option<String>,
    pub source: Source,
    /// `None`: not yet marked.
    pub attended: Option<bool>,
    pub hours: Option<HoursRecord>,
    pub created_at: i64,
}

/// Signs a volunteer up (`source`) inside `tx`, the activity row locked first: a full activity
/// or a second sign-up of the same volunteer is refused.
async fn insert_signup(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    activity: &Activity,
    volunteer_id: i64,
    skills: &[String],
    source: Source,
    actor: &str,
    now: i64,
) -> Result<(i64, Option<String>), StoreError> {
    sqlx::query("UPDATE volunteer_activity SET code = code WHERE id = $1")
        .bind(activity.id)
        .execute(&mut **tx)
        .await?;
    let rows =
        sqlx::query("SELECT volunteer_id, skill FROM volunteer_signup WHERE activity_id = $1")
            .bind(activity.id)
            .fetch_all(&mut **tx)
            .await?;
    let mut taken = Vec::with_capacity(rows.len());
    for r in &rows {
        if r.try_get::<i64, _>(0)? == volunteer_id {
            return Err(already_signed_up());
        }
        taken.push(r.try_get::<Option<String>, _>(1)?);
    }
    let skill = check_room(&activity.needs, &taken, skills)?;
    let row = sqlx::query(
        "INSERT INTO volunteer_signup (activity_id, volunteer_id, skill, source, created_at, created_by) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(activity.id)
    .bind(volunteer_id)
    .bind(skill.clone())
    .bind(source.as_str())
    .bind(now)
    .bind(actor)
    .fetch_one(&mut **tx)
    .await
    .map_err(|e| match unique_to(e, "volunteer_id", "") {
        StoreError::Conflict { .. } => already_signed_up(),
        other => other,
    })?;
    Ok((row.try_get(0)?, skill))
}

fn already_signed_up() -> StoreError {
    StoreError::Conflict {
        field: "volunteer_id".into(),
        message: "该志愿者已报名这次活动，不能重复报名".into(),
    }
}

/// Refuses a sign-up to an activity that has ended.
fn check_open(activity: &Activity, now: i64) -> Result<(), StoreError> {
    if now >= activity.ends_at {
        return Err(StoreError::invalid("activity", "活动已结束，不能再报名"));
    }
    Ok(())
}

/// Staff sign a volunteer of their jurisdiction up for an activity. Audited.
pub async fn sign_up(
    db: &Db,
    scope: &Scope,
    activity_id: i64,
    volunteer_id: i64,
    now: i64,
) -> Result<Signup, StoreError> {
    let a = activity(db, scope, activity_id).await?;
    if !can_write(scope, &a.node_path) {
        return Err(forbidden());
    }
    let v = named_volunteer(db, scope, volunteer_id, "volunteer_id").await?;
    if v.state == VolunteerState::Left {
        return Err(StoreError::invalid(
            "volunteer_id",
            "该志愿者已退出，不能报名",
        ));
    }
    check_open(&a, now)?;
    let mut tx = db.begin_write().await?;
    let (id, skill) = insert_signup(
        &mut tx,
        &a,
        v.id,
        &v.skills,
        Source::Staff,
        scope.actor(),
        now,
    )
    .await?;
    audit::commit_recorded(
        tx,
        AuditEntry::by(scope, "activity.signup", "activity")
            .entity_id(a.id)
            .node_path(&a.node_path)
            .detail(json!({"volunteer_id": v.id, "signup_id": id, "skill": skill})),
        now,
    )
    .await?;
    signup(db, scope, a.id, v.id).await
}

const SIGNUP_SELECT: &str = "SELECT s.id, s.activity_id, s.volunteer_id, COALESCE(p.name, v.name) AS name, v.state, \
     COALESCE(p.phone_cipher, v.phone_cipher) AS phone_cipher, s.skill, s.source, s.attended, s.created_at, \
     h.id AS h_id FROM volunteer_signup s JOIN volunteer v ON v.id = s.volunteer_id \
     LEFT JOIN person p ON p.id = v.person_id LEFT JOIN volunteer_hours h ON h.signup_id = s.id";

async fn signups_where(
    db: &Db,
    cond: &str,
    a: i64,
    b: Option<i64>,
) -> Result<Vec<Signup>, StoreError> {
    let keys = db.keys()?;
    let sql = format!("{SIGNUP_SELECT} WHERE {cond} ORDER BY s.id");
    let mut q = sqlx::query(&sql).bind(a);
    if let Some(b) = b {
        q = q.bind(b);
    }
    let rows = q.fetch_all(db.pool()).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let h_id: Option<i64> = r.try_get("h_id")?;
        let hours = match h_id {
            Some(h) => Some(hours_by_id(db, h).await?),
            None => None,
        };
        let attended: Option<i64> = r.try_get("attended")?;
        out.push(Signup {
            id: r.try_get("id")?,
            activity_id: r.try_get("activity_id")?,
            volunteer_id: r.try_get("volunteer_id")?,
            volunteer_name: r.try_get("name")?,
            volunteer_state: r.try_get::<String, _>("state")?.parse().map_err(internal)?,
            phone_masked: keys.masked_phone(r.try_get("phone_cipher")?)?,
            skill: r.try_get("skill")?,
            source: Source::parse(&r.try_get::<String, _>("source")?)?,
            attended: attended.map(|a| a != 0),
            hours,
            created_at: r.try_get("created_at")?,
        });
    }
    Ok(out)
}

async fn hours_by_id(db: &Db, id: i64) -> Result<HoursRecord, StoreError> {
    let row = row_by_id(
        db,
        &format!("SELECT {HOURS_COLUMNS} FROM volunteer_hours h WHERE h.id = $1"),
        id,
    )
    .await?;
    hours_from_row(&row)
}

/// The sign-ups of an activity in scope, in the order they came.
pub async fn signups(db: &Db, scope: &Scope, activity_id: i64) -> Result<Vec<Signup>, StoreError> {
    let a = activity(db, scope, activity_id).await?;
    signups_where(db, "s.activity_id = $1", a.id, None).await
}

/// One volunteer's sign-up for an activity in scope.
pub async fn signup(
    db: &Db,
    scope: &Scope,
    activity_id: i64,
    volunteer_id: i64,
) -> Result<Signup, StoreError> {
    let a = activity(db, scope, activity_id).await?;
    signups_where(
        db,
        "s.activity_id = $1 AND s.volunteer_id = $2",
        a.id,
        Some(volunteer_id),
    )
    .await?
    .into_iter()
    .next()
    .ok_or(StoreError::NotFound)
}

// ---------------------------------------------------------------------------------------------
// The public link

/// What an activity's public page shows: no one's personal data.
#[derive(Debug, Clone, Serialize)]
pub struct PublicActivity {
    pub id: i64,
    pub title: String,
    pub place: Option<String>,
    pub starts_at: i64,
    pub ends_at: i64,
    pub description: Option<String>,
    pub needs: Vec<Need>,
    pub community: String,
    pub signed_up: i64,
    pub capacity: i64,
}

async fn activity_by_code(db: &Db, code: &str) -> Result<Activity, StoreError> {
    let code = linli_core::kernel::token::parse_code(linli_core::kernel::token::ACTIVITY, code)
        .map_err(|_| StoreError::NotFound)?;
    let row = sqlx::query(&format!("{ACTIVITY_SELECT} WHERE a.code = $1"))
        .bind(code)
        .fetch_optional(db.pool())
        .await?
        .ok_or(StoreError::NotFound)?;
    activity_from_row(&row)
}

/// The activity behind a public code (as typed: case and dashes do not matter), or `NotFound`.
pub async fn by_code(db: &Db, code: &str) -> Result<PublicActivity, StoreError> {
    let a = activity_by_code(db, code).await?;
    let (_, community, _) = community_of(db, &a.node_path).await?;
    Ok(PublicActivity {
        capacity: a.capacity(),
        id: a.id,
        title: a.title,
        place: a.place,
        starts_at: a.starts_at,
        ends_at: a.ends_at,
        description: a.description,
        needs: a.needs,
        community,
        signed_up: a.signed_up,
    })
}

/// What a public sign-up did.
#[derive(Debug, Clone, Serialize)]
pub struct LinkSignup {
    pub signup_id: i64,
    /// A volunteer of the community had that phone.
    pub known: bool,
}

/// The volunteer of the community with this phone (the newest, should two share it).
async fn volunteer_by_phone(
    db: &Db,
    community: &JurisdictionPath,
    phone: &Phone,
) -> Result<Option<(i64, VolunteerState, Vec<String>)>, StoreError> {
    let keys = db.keys()?;
    let hash = keys.lookup_hash(PHONE_HASH, phone.as_str());
    let (lo, hi) = community.subtree_bounds();
    let row = sqlx::query(
        "SELECT v.id, v.state, v.skills FROM volunteer v LEFT JOIN person p ON p.id = v.person_id \
         WHERE COALESCE(p.phone_hash, v.phone_hash) = $1 AND v.node_path >= $2 AND v.node_path < $3 \
         ORDER BY v.id DESC LIMIT 1",
    )
    .bind(hash)
    .bind(lo)
    .bind(hi)
    .fetch_optional(db.pool())
    .await?;
    row.map(|r| {
        let skills: String = r.try_get(2)?;
        Ok((
            r.try_get(0)?,
            r.try_get::<String, _>(1)?.parse().map_err(internal)?,
            serde_json::from_str(&skills).map_err(internal)?,
        ))
    })
    .transpose()
}

/// A sign-up through the public link: a volunteer of the activity's community with this phone
/// is signed up; otherwise an outside volunteer is registered `pending` at the activity's node
/// and signed up. Audited (without the phone).
pub async fn sign_up_by_code(
    db: &Db,
    code: &str,
    name: &str,
    phone: &str,
    ip: Option<&str>,
    now: i64,
) -> Result<LinkSignup, StoreError> {
    let keys = db.keys()?;
    let a = activity_by_code(db, code).await?;
    let name = parse_name("name", name, "姓名");
    let phone = Phone::parse(phone);
    let (name, phone) = match (name, phone) {
        (Ok(n), Ok(p)) => (n, p),
        (n, p) => {
            return Err(StoreError::Invalid(
                [n.err(), p.err()].into_iter().flatten().collect(),
            ))
        }
    };
    check_open(&a, now)?;
    let (_, _, community) = community_of(db, &a.node_path).await?;
    let known = volunteer_by_phone(db, &community, &phone).await?;
    if let Some((_, VolunteerState::Left, _)) = known {
        return Err(StoreError::invalid(
            "phone",
            "该手机号暂不能在线报名，请联系社区工作人员",
        ));
    }
    let actor = "扫码报名";
    let mut tx = db.begin_write().await?;
    let (volunteer_id, skills) = match &known {
        Some((id, _, skills)) => (*id, skills.clone()),
        None => {
            let row = sqlx::query(
                "INSERT INTO volunteer (node_id, district_id, node_path, name, phone_cipher, phone_hash, phone_last4, \
                 state, created_at, created_by, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $9) RETURNING id",
            )
            .bind(a.node_id)
            .bind(a.node_path.root_id())
            .bind(a.node_path.as_str())
            .bind(name.clone())
            .bind(keys.encrypt(phone.as_str())?)
            .bind(keys.lookup_hash(PHONE_HASH, phone.as_str()))
            .bind(phone.last4())
            .bind(VolunteerState::Pending.as_str())
            .bind(now)
            .bind(actor)
            .fetch_one(&mut *tx)
            .await?;
            (row.try_get(0)?, Vec::new())
        }
    };
    let (signup_id, skill) =
        insert_signup(&mut tx, &a, volunteer_id, &skills, Source::Link, actor, now).await?;
    audit::commit_recorded(
        tx,
        AuditEntry::by_name(None, actor, "activity.signup", "activity")
            .entity_id(a.id)
            .node_path(&a.node_path)
            .ip(ip)
            .detail(json!({"volunteer_id": volunteer_id, "signup_id": signup_id, "skill": skill, "new_volunteer": known.is_none()})),
        now,
    )
    .await?;
    Ok(LinkSignup {
        signup_id,
        known: known.is_some(),
    })
}

/// A volunteer reports their own hours through the public link (phone + hours): pending until
/// the organiser decides. Only a volunteer signed up for the activity, after it started.
pub async fn report_hours_by_code(
    db: &Db,
    code: &str,
    phone: &str,
    hours: &str,
    ip: Option<&str>,
    now: i64,
) -> Result<HoursRecord, StoreError> {
    let a = activity_by_code(db, code).await?;
    let phone = Phone::parse(phone);
    let hours = Hours::parse(hours, a.length());
    let (phone, hours) = match (phone, hours) {
        (Ok(p), Ok(h)) => (p, h),
        (p, h) => {
            return Err(StoreError::Invalid(
                [p.err(), h.err()].into_iter().flatten().collect(),
            ))
        }
    };
    if now < a.starts_at {
        return Err(StoreError::invalid(
            "hours",
            "活动尚未开始，结束后再申报时长",
        ));
    }
    let (_, _, community) = community_of(db, &a.node_path).await?;
    let not_signed = || StoreError::invalid("phone", "该手机号没有报名这次活动");
    let (volunteer_id, _, _) = volunteer_by_phone(db, &community, &phone)
        .await?
        .ok_or_else(not_signed)?;
    let signup = signups_where(
        db,
        "s.activity_id = $1 AND s.volunteer_id = $2",
        a.id,
        Some(volunteer_id),
    )
    .await?
    .into_iter()
    .next()
    .ok_or_else(not_signed)?;
    let from = signup.hours.as_ref().map(|h| h.status);
    HoursStatus::apply(from, HoursAction::Report)?;
    let actor = "志愿者自报";
    let mut tx = db.begin_write().await?;
    let id = match &signup.hours {
        Some(h) => {
            // A refused report, reported again: guarded on its status.
            let done = sqlx::query(
                "UPDATE volunteer_hours SET halves = $1, status = 'pending', source = 'link', reason = NULL, \
                 reported_at = $2, decided_at = NULL, decided_by = NULL WHERE id = $3 AND status = 'rejected'",
            )
            .bind(hours.halves())
            .bind(now)
            .bind(h.id)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() != 1 {
                return Err(changed_meanwhile());
            }
            h.id
        }
        None => {
            insert_hours(
                &mut tx,
                &a,
                &signup,
                hours,
                HoursStatus::Pending,
                Source::Link,
                None,
                now,
            )
            .await?
        }
    };
    audit::commit_recorded(
        tx,
        AuditEntry::by_name(None, actor, "hours.report", "volunteer_hours")
            .entity_id(id)
            .node_path(&a.node_path)
            .ip(ip)
            .detail(
                json!({"activity_id": a.id, "volunteer_id": volunteer_id, "hours": hours.as_f64()}),
            ),
        now,
    )
    .await?;
    hours_by_id(db, id).await
}

fn changed_meanwhile() -> StoreError {
    StoreError::Conflict {
        field: "hours".into(),
        message: "服务时长刚被他人处理，请刷新后再看".into(),
    }
}

#[allow(clippy::too_many_arguments)]
async fn insert_hours(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    a: &Activity,
    s: &Signup,
    hours: Hours,
    status: HoursStatus,
    source: Source,
    decided_by: Option<&str>,
    now: i64,
) -> Result<i64, StoreError> {
    let row = sqlx::query(
        "INSERT INTO volunteer_hours (signup_id, activity_id, volunteer_id, halves, status, source, served_at, \
         reported_at, decided_at, decided_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
    )
    .bind(s.id)
    .bind(a.id)
    .bind(s.volunteer_id)
    .bind(hours.halves())
    .bind(status.as_str())
    .bind(source.as_str())
    .bind(a.starts_at)
    .bind(now)
    .bind(decided_by.map(|_| now))
    .bind(decided_by)
    .fetch_one(&mut **tx)
    .await
    .map_err(|e| match unique_to(e, "hours", "") {
        StoreError::Conflict { .. } => changed_meanwhile(),
        other => other,
    })?;
    Ok(row.try_get(0)?)
}

// ---------------------------------------------------------------------------------------------
// Attendance and hours

/// The activity and sign-up the caller may mark: the organiser and the writers of its
/// jurisdiction.
async fn markable(
    db: &Db,
    scope: &Scope,
    activity_id: i64,
    volunteer_id: i64,
) -> Result<(Activity, Signup), StoreError> {
    let a = activity(db, scope, activity_id).await?;
    if !can_write(scope, &a.node_path) {
        return Err(forbidden());
    }
    let s = match signup(db, scope, activity_id, volunteer_id).await {
        Ok(s) => s,
        Err(StoreError::NotFound) => {
            return Err(StoreError::invalid(
                "volunteer_id",
                "该志愿者没有报名这次活动",
            ))
        }
        Err(e) => return Err(e),
    };
    Ok((a, s))
}

/// The organiser marks a volunteer present and confirms their hours (`hours` as typed; the
/// rule: more than none, in half hours, at most the activity's length). A pending report is
/// confirmed with these hours; confirmed hours are final. Returns the confirmed record, whose
/// id a points ledger entry will name. Audited.
pub async fn confirm_hours(
    db: &Db,
    scope: &Scope,
    activity_id: i64,
    volunteer_id: i64,
    hours: &str,
    now: i64,
) -> Result<HoursRecord, StoreError> {
    let (a, s) = markable(db, scope, activity_id, volunteer_id).await?;
    let hours = Hours::parse(hours, a.length())?;
    if now < a.starts_at {
        return Err(StoreError::invalid("hours", "活动尚未开始，不能确认时长"));
    }
    HoursStatus::apply(s.hours.as_ref().map(|h| h.status), HoursAction::Confirm)?;
    let mut tx = db.begin_write().await?;
    sqlx::query("UPDATE volunteer_signup SET attended = 1 WHERE id = $1")
        .bind(s.id)
        .execute(&mut *tx)
        .await?;
    let id = match &s.hours {
        Some(h) => {
            let done = sqlx::query(
                "UPDATE volunteer_hours SET halves = $1, status = 'confirmed', decided_at = $2, decided_by = $3 \
                 WHERE id = $4 AND status = 'pending'",
            )
            .bind(hours.halves())
            .bind(now)
            .bind(scope.actor())
            .bind(h.id)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() != 1 {
                return Err(changed_meanwhile());
            }
            h.id
        }
        None => {
            insert_hours(
                &mut tx,
                &a,
                &s,
                hours,
                HoursStatus::Confirmed,
                Source::Staff,
                Some(scope.actor()),
                now,
            )
            .await?
        }
    };
    audit::commit_recorded(
        tx,
        AuditEntry::by(scope, "hours.confirm", "volunteer_hours")
            .entity_id(id)
            .node_path(&a.node_path)
            .detail(
                json!({"activity_id": a.id, "volunteer_id": volunteer_id, "hours": hours.as_f64()}),
            ),
        now,
    )
    .await?;
    hours_by_id(db, id).await
}

/// The organiser marks a volunteer absent (not once their hours are confirmed). Audited.
pub async fn mark_absent(
    db: &Db,
    scope: &Scope,
    activity_id: i64,
    volunteer_id: i64,
    now: i64,
) -> Result<Signup, StoreError> {
    let (a, s) = markable(db, scope, activity_id, volunteer_id).await?;
    if s.hours
        .as_ref()
        .is_some_and(|h| h.status == HoursStatus::Confirmed)
    {
        return Err(StoreError::invalid(
            "attended",
            "服务时长已确认，不能再标记缺席",
        ));
    }
    let mut tx = db.begin_write().await?;
    sqlx::query("UPDATE volunteer_signup SET attended = 0 WHERE id = $1")
        .bind(s.id)
        .execute(&mut *tx)
        .await?;
    audit::commit_recorded(
        tx,
        AuditEntry::by(scope, "activity.absent", "activity")
            .entity_id(a.id)
            .node_path(&a.node_path)
            .detail(json!({"volunteer_id": volunteer_id})),
        now,
    )
    .await?;
    signup(db, scope, activity_id, volunteer_id).await
}

/// The organiser refuses reported hours, with a reason (the volunteer may report again).
/// Audited.
pub async fn reject_hours(
    db: &Db,
    scope: &Scope,
    activity_id: i64,
    volunteer_id: i64,
    reason: &str,
    now: i64,
) -> Result<HoursRecord, StoreError> {
    let (a, s) = markable(db, scope, activity_id, volunteer_id).await?;
    let reason = parse_reason(reason)?;
    HoursStatus::apply(s.hours.as_ref().map(|h| h.status), HoursAction::Reject)?;
    let Some(h) = &s.hours else {
        return Err(StoreError::invalid("hours", "没有待确认的服务时长"));
    };
    let mut tx = db.begin_write().await?;
    let done = sqlx::query(
        "UPDATE volunteer_hours SET status = 'rejected', reason = $1, decided_at = $2, decided_by = $3 \
         WHERE id = $4 AND status = 'pending'",
    )
    .bind(&reason)
    .bind(now)
    .bind(scope.actor())
    .bind(h.id)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() != 1 {
        return Err(changed_meanwhile());
    }
    audit::commit_recorded(
        tx,
        AuditEntry::by(scope, "hours.reject", "volunteer_hours")
            .entity_id(h.id)
            .node_path(&a.node_path)
            .detail(json!({"activity_id": a.id, "volunteer_id": volunteer_id, "reason": reason})),
        now,
    )
    .await?;
    hours_by_id(db, h.id).await
}

// ---------------------------------------------------------------------------------------------
// A volunteer's service, certificates and counts

/// One activity a volunteer signed up for, with attendance and hours.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceLine {
    pub activity_id: i64,
    pub title: String,
    pub starts_at: i64,
    pub attended: Option<bool>,
    pub hours: Option<HoursRecord>,
}

/// The activities of a volunteer in scope, latest first (all of them, or those starting in
/// `[from, to)`).
pub async fn service(
    db: &Db,
    scope: &Scope,
    volunteer_id: i64,
    range: (Option<i64>, Option<i64>),
) -> Result<Vec<ServiceLine>, StoreError> {
    let v = volunteer(db, scope, volunteer_id).await?;
    let mut params = Params::new();
    let vid = params.int(v.id);
    let mut conds = vec![format!("s.volunteer_id = {vid}")];
    if let Some(f) = range.0 {
        conds.push(format!("a.starts_at >= {}", params.int(f)));
    }
    if let Some(t) = range.1 {
        conds.push(format!("a.starts_at < {}", params.int(t)));
    }
    let sql = format!(
        "SELECT a.id, a.title, a.starts_at, s.attended, h.id AS h_id FROM volunteer_signup s \
         JOIN volunteer_activity a ON a.id = s.activity_id LEFT JOIN volunteer_hours h ON h.signup_id = s.id \
         WHERE {} ORDER BY a.starts_at DESC, a.id DESC LIMIT 1000",
        conds.join(" AND ")
    );
    let rows = params.bind(sqlx::query(&sql)).fetch_all(db.pool()).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let h: Option<i64> = r.try_get("h_id")?;
        let attended: Option<i64> = r.try_get("attended")?;
        out.push(ServiceLine {
            activity_id: r.try_get("id")?,
            title: r.try_get("title")?,
            starts_at: r.try_get("starts_at")?,
            attended: attended.map(|a| a != 0),
            hours: match h {
                Some(h) => Some(hours_by_id(db, h).await?),
                None => None,
            },
        });
    }
    Ok(out)
}

/// A certificate of service hours (服务时长证明) over a period: confirmed hours only.
#[derive(Debug, Clone, Serialize)]
pub struct Certificate {
    pub number: String,
    pub volunteer: Volunteer,
    pub community: String,
    pub from: String,
    pub to: String,
    /// The activities with confirmed hours, oldest first.
    pub lines: Vec<ServiceLine>,
    #[serde(skip)]
    pub total: Hours,
}

/// The certificate of a volunteer in scope for the days `range` (both ends required). Audited,
/// as it prints a person's record.
pub async fn certificate(
    db: &Db,
    scope: &Scope,
    volunteer_id: i64,
    range: DayRange,
    now: i64,
) -> Result<Certificate, StoreError> {
    let (Some(from), Some(to)) = (range.from, range.to) else {
        return Err(StoreError::invalid("from", "请选择证明的起止日期"));
    };
    let v = volunteer(db, scope, volunteer_id).await?;
    let bounds = (Some(day_bounds(from).0), Some(day_bounds(to).1));
    let mut lines: Vec<ServiceLine> = service(db, scope, volunteer_id, bounds)
        .await?
        .into_iter()
        .filter(|l| {
            l.hours
                .as_ref()
                .is_some_and(|h| h.status == HoursStatus::Confirmed)
        })
        .collect();
    lines.reverse();
    let total = Hours::from_halves(
        lines
            .iter()
            .filter_map(|l| l.hours.as_ref())
            .map(|h| h.hours.halves())
            .sum(),
    );
    let (_, community, _) = community_of(db, &v.node_path).await?;
    audit::record(
        db.pool(),
        AuditEntry::by(scope, "volunteer.certificate", "volunteer")
            .entity_id(v.id)
            .node_path(&v.node_path)
            .detail(
                json!({"from": format_date(from), "to": format_date(to), "hours": total.as_f64()}),
            ),
        now,
    )
    .await?;
    Ok(Certificate {
        number: certificate_number(v.id, from, to),
        volunteer: v,
        community,
        from: format_date(from),
        to: format_date(to),
        lines,
        total,
    })
}

/// A node's volunteer numbers (the dashboard's, issue 20 item 7).
#[derive(Debug, Clone, Default, Serialize)]
pub struct VolunteerCounts {
    /// Volunteers in service (`active`) under the node.
    pub active: i64,
    /// Signed up by link, waiting for staff.
    pub pending: i64,
    /// Confirmed hours this month (China time) of activities under the node, in half hours.
    pub month_halves: i64,
    /// Activities starting this month.
    pub month_activities: i64,
}

impl VolunteerCounts {
    pub fn month_hours(&self) -> Hours {
        Hours::from_halves(self.month_halves)
    }
}

/// The volunteer numbers of a node in scope: volunteers active and pending, and this month's
/// confirmed hours and activities (the month of `now`, by the activity's start).
pub async fn counts(
    db: &Db,
    scope: &Scope,
    node_id: i64,
    now: i64,
) -> Result<VolunteerCounts, StoreError> {
    let node = crate::tree::get(db, scope, node_id).await?;
    let today = date_of(now);
    let first = today.replace_day(1).map_err(internal)?;
    let next = if first.month() == time::Month::December {
        time::Date::from_calendar_date(first.year() + 1, time::Month::January, 1)
    } else {
        time::Date::from_calendar_date(first.year(), first.month().next(), 1)
    }
    .map_err(internal)?;
    let (lo, hi) = (day_bounds(first).0, day_bounds(next).0);
    let mut params = Params::new();
    let under = crate::under_node(&node.path, scope, "v.node_path", &mut params);
    let rows = params
        .bind(sqlx::query(&format!(
            "SELECT v.state, COUNT(*) FROM volunteer v WHERE {under} GROUP BY v.state"
        )))
        .fetch_all(db.pool())
        .await?;
    let mut out = VolunteerCounts::default();
    for r in &rows {
        let state: String = r.try_get(0)?;
        let n: i64 = r.try_get(1)?;
        match state.parse::<VolunteerState>() {
            Ok(VolunteerState::Active) => out.active = n,
            Ok(VolunteerState::Pending) => out.pending = n,
            _ => {}
        }
    }
    let mut params = Params::new();
    let under = crate::under_node(&node.path, scope, "a.node_path", &mut params);
    let (l, h) = (params.int(lo), params.int(hi));
    let row = params
        .bind(sqlx::query(&format!(
            "SELECT COUNT(*), \
             (SELECT CAST(COALESCE(SUM(h.halves), 0) AS BIGINT) FROM volunteer_hours h JOIN volunteer_activity a ON a.id = h.activity_id \
              WHERE {under} AND h.status = 'confirmed' AND h.served_at >= {l} AND h.served_at < {h}) \
             FROM volunteer_activity a WHERE {under} AND a.starts_at >= {l} AND a.starts_at < {h}"
        )))
        .fetch_one(db.pool())
        .await?;
    out.month_activities = row.try_get(0)?;
    out.month_halves = row.try_get(1)?;
    Ok(out)
}
