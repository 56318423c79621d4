//! The resident registry: dwellings, households, persons and their key-group tags, with
//! encrypted ID and phone numbers, field-level history, and scoped search.

pub mod bench;
pub mod counts;
pub mod dwellings;
pub(crate) mod import;
pub mod roll;

use linli_core::kernel::clock::{format_date, today};
use linli_core::kernel::labels::Labelled;
use linli_core::registry::{
    state_change, Category, DwellingAddress, PersonDraft, PersonInput, PersonState, Relation,
    StateChange, StateFields,
};
use linli_core::{CoreError, DocumentKind, Gender, IdDocument, JurisdictionPath, Phone, Scope};
use serde::Serialize;
use serde_json::json;
use sqlx::{FromRow, Row};

use crate::infra::audit::{self, AuditEntry};
use crate::infra::db::{row_by_id, Params};
use crate::infra::errors::internal;
use crate::infra::secret::Keyring;
use crate::{Db, StoreError};

/// Hash domains of the lookup hashes.
pub(crate) const ID_HASH: &str = "id_number";
pub(crate) const PHONE_HASH: &str = "phone";

/// A warning kept with a record (e.g. a gender that disagrees with the ID number).
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct FieldWarning {
    pub field: String,
    pub message: String,
}

/// A person as shown: ID and phone numbers masked.
#[derive(Debug, Clone, Serialize)]
pub struct Person {
    pub id: i64,
    pub node_id: i64,
    pub node_name: String,
    #[serde(skip)]
    pub node_path: JurisdictionPath,
    pub dwelling_id: Option<i64>,
    /// `3栋2单元501室`
    pub address: Option<String>,
    pub household_id: Option<i64>,
    pub relation: Option<Relation>,
    pub name: String,
    pub gender: Option<Gender>,
    pub birth_date: Option<String>,
    pub ethnic_group: Option<String>,
    pub id_kind: Option<DocumentKind>,
    pub id_number_masked: Option<String>,
    pub phone_masked: Option<String>,
    pub hukou_address: Option<String>,
    pub category: Category,
    pub state: PersonState,
    pub moved_out_on: Option<String>,
    pub moved_to: Option<String>,
    pub deceased_on: Option<String>,
    /// Since when a person is away (暂时外出), and where to.
    pub away_since: Option<String>,
    pub away_to: Option<String>,
    pub tags: Vec<String>,
    pub warnings: Vec<FieldWarning>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The clear values, for a deliberate, audited unmask.
#[derive(Debug, Clone, Serialize)]
pub struct Unmasked {
    pub id_number: Option<String>,
    pub phone: Option<String>,
}

/// One change of one field.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Change {
    pub id: i64,
    pub at: i64,
    pub actor: String,
    pub field: String,
    pub old_value: Option<String>,
    pub new_value: Option<String>,
}

/// Where a new person lives and in which household.
#[derive(Debug, Clone, Default)]
pub struct Placement {
    /// The node (community, compound, grid or building) the person is registered under.
    pub node_id: i64,
    /// Join this household (it must be at the same node). Otherwise, with an address: join the
    /// dwelling's only household, or found a new one there.
    pub household_id: Option<i64>,
    /// A collective household (dormitory, care home) when a new one is founded.
    pub collective: bool,
}

/// Changes to a person; `None` leaves a field as it is, `Some("")` clears an optional one.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct PersonPatch {
    pub name: Option<String>,
    pub gender: Option<String>,
    pub birth_date: Option<String>,
    pub ethnic_group: Option<String>,
    pub id_kind: Option<String>,
    pub id_number: Option<String>,
    pub phone: Option<String>,
    pub hukou_address: Option<String>,
    pub category: Option<String>,
    pub tags: Option<Vec<String>>,
    pub relation: Option<String>,
    /// `active`, `away` (with `away_since` and `away_to`), `moved_out` (with `moved_out_on` and
    /// `moved_to`) or `deceased` (with `deceased_on`).
    pub state: Option<String>,
    pub moved_out_on: Option<String>,
    pub moved_to: Option<String>,
    pub deceased_on: Option<String>,
    pub away_since: Option<String>,
    pub away_to: Option<String>,
}

/// A search hit.
#[derive(Debug, Clone, Serialize)]
pub struct PersonHit {
    pub id: i64,
    pub name: String,
    pub gender: Option<Gender>,
    pub birth_date: Option<String>,
    pub id_number_masked: Option<String>,
    pub phone_masked: Option<String>,
    pub node_name: String,
    pub address: Option<String>,
    pub state: PersonState,
}

/// What a search string was taken to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SearchKind {
    IdNumber,
    Phone,
    Last4,
    Pinyin,
    Name,
}

fn parse_opt<T: std::str::FromStr<Err = CoreError>>(
    v: Option<String>,
) -> Result<Option<T>, StoreError> {
    v.map(|s| s.parse::<T>()).transpose().map_err(internal)
}

fn mask_document(
    keys: &Keyring,
    kind: Option<DocumentKind>,
    cipher: Option<Vec<u8>>,
) -> Result<Option<String>, StoreError> {
    let (Some(kind), Some(c)) = (kind, cipher) else {
        return Ok(None);
    };
    let clear = keys.decrypt(&c)?;
    Ok(Some(match IdDocument::parse(kind, &clear, today()) {
        Ok(d) => d.masked(),
        Err(_) => crate::infra::secret::mask_all_but_last4(&clear),
    }))
}

const PERSON_SELECT: &str = "SELECT p.id, p.node_id, n.name AS node_name, p.node_path, p.dwelling_id, \
    d.building, d.unit, d.room, p.household_id, p.relation, p.name, p.gender, p.birth_date, p.ethnic_group, \
    p.id_kind, p.id_cipher, p.phone_cipher, p.hukou_address, p.category, p.state, p.moved_out_on, p.moved_to, \
    p.deceased_on, p.away_since, p.away_to, p.warnings_json, p.created_at, p.updated_at \
    FROM person p JOIN node n ON n.id = p.node_id LEFT JOIN dwelling d ON d.id = p.dwelling_id";

pub(crate) fn address_of(row: &sqlx::any::AnyRow) -> Result<Option<String>, StoreError> {
    let room: Option<String> = row.try_get("room")?;
    let Some(room) = room else { return Ok(None) };
    let a = DwellingAddress {
        building: row.try_get("building")?,
        unit: row.try_get("unit")?,
        room,
    };
    Ok(Some(a.to_string()))
}

fn person_from_row(
    keys: &Keyring,
    row: &sqlx::any::AnyRow,
    tags: Vec<String>,
) -> Result<Person, StoreError> {
    let path: String = row.try_get("node_path")?;
    let id_kind: Option<DocumentKind> = parse_opt(row.try_get("id_kind")?)?;
    let warnings: String = row.try_get("warnings_json")?;
    let category: String = row.try_get("category")?;
    let state: String = row.try_get("state")?;
    Ok(Person {
        id: row.try_get("id")?,
        node_id: row.try_get("node_id")?,
        node_name: row.try_get("node_name")?,
        node_path: JurisdictionPath::parse(&path).map_err(internal)?,
        dwelling_id: row.try_get("dwelling_id")?,
        address: address_of(row)?,
        household_id: row.try_get("household_id")?,
        relation: parse_opt(row.try_get("relation")?)?,
        name: row.try_get("name")?,
        gender: parse_opt(row.try_get("gender")?)?,
        birth_date: row.try_get("birth_date")?,
        ethnic_group: row.try_get("ethnic_group")?,
        id_number_masked: mask_document(keys, id_kind, row.try_get("id_cipher")?)?,
        id_kind,
        phone_masked: keys.masked_phone(row.try_get("phone_cipher")?)?,
        hukou_address: row.try_get("hukou_address")?,
        category: category.parse().map_err(internal)?,
        state: state.parse().map_err(internal)?,
        moved_out_on: row.try_get("moved_out_on")?,
        moved_to: row.try_get("moved_to")?,
        deceased_on: row.try_get("deceased_on")?,
        away_since: row.try_get("away_since")?,
        away_to: row.try_get("away_to")?,
        tags,
        warnings: serde_json::from_str(&warnings).unwrap_or_default(),
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

async fn tags_of<'e, E>(exec: E, person_id: i64) -> Result<Vec<String>, StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let rows = sqlx::query("SELECT t.name FROM person_tag pt JOIN tag t ON t.id = pt.tag_id WHERE pt.person_id = $1 ORDER BY t.id")
        .bind(person_id)
        .fetch_all(exec)
        .await?;
    rows.iter()
        .map(|r| Ok(r.try_get::<String, _>(0)?))
        .collect()
}

/// A person the caller may read; `NotFound` otherwise.
pub async fn get(db: &Db, scope: &Scope, id: i64) -> Result<Person, StoreError> {
    let keys = db.keys()?;
    let row = row_by_id(db, &format!("{PERSON_SELECT} WHERE p.id = $1"), id).await?;
    let path: String = row.try_get("node_path")?;
    if !scope.can_read(&JurisdictionPath::parse(&path).map_err(internal)?) {
        return Err(StoreError::NotFound);
    }
    let tags = tags_of(db.pool(), id).await?;
    person_from_row(keys, &row, tags)
}

/// Resolves tag names to ids; unknown tags are an error (the list is kept by admins).
pub(crate) async fn tag_ids(
    tx: &mut sqlx::AnyConnection,
    tags: &[String],
) -> Result<Vec<i64>, StoreError> {
    let mut ids = Vec::new();
    let mut unknown = Vec::new();
    for t in tags {
        let row = sqlx::query("SELECT id FROM tag WHERE name = $1")
            .bind(t)
            .fetch_optional(&mut *tx)
            .await?;
        match row {
            Some(r) => ids.push(r.try_get::<i64, _>(0)?),
            None => unknown.push(t.as_str()),
        }
    }
    if !unknown.is_empty() {
        return Err(StoreError::invalid(
            "tags",
            format!(
                "标签「{}」不在重点人群标签列表中，请联系管理员添加",
                unknown.join("」「")
            ),
        ));
    }
    Ok(ids)
}

pub(crate) async fn log_change(
    tx: &mut sqlx::AnyConnection,
    scope: &Scope,
    (entity, entity_id, path): (&str, i64, &JurisdictionPath),
    field: &str,
    old: Option<&str>,
    new: Option<&str>,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO change_log (at, actor_id, actor, entity, entity_id, node_path, field, old_value, new_value) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(now)
    .bind(scope.user_id())
    .bind(scope.actor())
    .bind(entity)
    .bind(entity_id)
    .bind(path.as_str())
    .bind(field)
    .bind(old)
    .bind(new)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// The node a person may be registered under: open, in the caller's scope and writable by them,
/// at community level or below.
pub(crate) async fn writable_node(
    db: &Db,
    scope: &Scope,
    node_id: i64,
) -> Result<crate::tree::Node, StoreError> {
    let may_write = |node: &crate::tree::Node| {
        if scope.can_write_records(&node.path) {
            Ok(())
        } else {
            Err(StoreError::Forbidden("您的角色不能修改人口台账".into()))
        }
    };
    crate::tree::registration_node(
        db,
        scope,
        node_id,
        may_write,
        "居民只能登记在社区/村、小区/村民小组、网格或楼栋之下",
    )
    .await
}

/// The path of a person, household or dwelling the caller may read; `NotFound` for one that is
/// missing or outside the scope (the two are not told apart).
pub(crate) async fn readable_path<'e, E>(
    exec: E,
    scope: &Scope,
    entity: &str,
    id: i64,
) -> Result<JurisdictionPath, StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let table = match entity {
        "person" => "person",
        "household" => "household",
        "dwelling" => "dwelling",
        _ => return Err(StoreError::NotFound),
    };
    let row = sqlx::query(&format!("SELECT node_path FROM {table} WHERE id = $1"))
        .bind(id)
        .fetch_optional(exec)
        .await?
        .ok_or(StoreError::NotFound)?;
    let path = JurisdictionPath::parse(&row.try_get::<String, _>(0)?).map_err(internal)?;
    if !scope.can_read(&path) {
        return Err(StoreError::NotFound);
    }
    Ok(path)
}

/// Turns a unique-index violation into a conflict on `field` with `message` (the index names
/// are the same for every caller, the wording is not).
pub(crate) fn conflict_on(
    field: &'static str,
    message: &'static str,
) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |e| match crate::tree::unique_to_conflict(e) {
        StoreError::Conflict { .. } => StoreError::Conflict {
            field: field.into(),
            message: message.into(),
        },
        other => other,
    }
}

/// Founds a household at a dwelling, with its history row.
pub(crate) async fn found_household(
    tx: &mut sqlx::AnyConnection,
    scope: &Scope,
    node: &crate::tree::Node,
    dwelling_id: i64,
    kind: &str,
    now: i64,
) -> Result<i64, StoreError> {
    let row = sqlx::query(
        "INSERT INTO household (dwelling_id, district_id, node_path, kind, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $5) RETURNING id",
    )
    .bind(dwelling_id)
    .bind(node.path.root_id())
    .bind(node.path.as_str())
    .bind(kind)
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    let id: i64 = row.try_get(0)?;
    crate::infra::marks::touch(tx, &[node.path.as_str()]).await?;
    log_change(
        tx,
        scope,
        ("household", id, &node.path),
        "created",
        None,
        Some(kind),
        now,
    )
    .await?;
    Ok(id)
}

/// Finds the dwelling at `node` with this address, or creates it; says whether it was created.
pub(crate) async fn dwelling_at(
    tx: &mut sqlx::AnyConnection,
    scope: &Scope,
    node: &crate::tree::Node,
    address: &DwellingAddress,
    now: i64,
) -> Result<(i64, bool), StoreError> {
    let key = address.key();
    let found = sqlx::query("SELECT id FROM dwelling WHERE node_id = $1 AND address_key = $2")
        .bind(node.id)
        .bind(&key)
        .fetch_optional(&mut *tx)
        .await?;
    if let Some(r) = found {
        return Ok((r.try_get(0)?, false));
    }
    let row = sqlx::query(
        "INSERT INTO dwelling (node_id, district_id, node_path, building, unit, room, address_key, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING id",
    )
    .bind(node.id)
    .bind(node.path.root_id())
    .bind(node.path.as_str())
    .bind(&address.building)
    .bind(&address.unit)
    .bind(&address.room)
    .bind(&key)
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    let id: i64 = row.try_get(0)?;
    crate::infra::marks::touch(tx, &[node.path.as_str()]).await?;
    log_change(
        tx,
        scope,
        ("dwelling", id, &node.path),
        "created",
        None,
        Some(&address.to_string()),
        now,
    )
    .await?;
    Ok((id, true))
}

/// The person registered with this document, if any, and their node path (whoever may see
/// them: callers decide what to tell).
pub(crate) async fn registered_with(
    db: &Db,
    document: &IdDocument,
) -> Result<Option<(i64, String)>, StoreError> {
    let hash = db.keys()?.lookup_hash(ID_HASH, document.as_str());
    let row = sqlx::query("SELECT id, node_path FROM person WHERE id_hash = $1")
        .bind(hash)
        .fetch_optional(db.pool())
        .await?;
    Ok(match row {
        Some(r) => Some((r.try_get(0)?, r.try_get(1)?)),
        None => None,
    })
}

/// Registers a person. ID and phone numbers are encrypted; a number already registered is a
/// conflict (naming the record only when the caller may see it). Warnings (a gender that
/// disagrees with the ID number) are stored with the record. Audited, with history.
pub async fn create(
    db: &Db,
    scope: &Scope,
    placement: &Placement,
    input: &PersonInput<'_>,
    now: i64,
) -> Result<(Person, Vec<FieldWarning>), StoreError> {
    let keys = db.keys()?;
    let (draft, warnings) = PersonDraft::parse(input, today()).map_err(StoreError::Invalid)?;
    let node = writable_node(db, scope, placement.node_id).await?;
    let warnings: Vec<FieldWarning> = warnings
        .into_iter()
        .map(|w| FieldWarning {
            field: w.field,
            message: w.message,
        })
        .collect();
    if let Some(document) = &draft.document {
        if let Some((other, path)) = registered_with(db, document).await? {
            let visible = JurisdictionPath::parse(&path)
                .map(|p| scope.can_read(&p))
                .unwrap_or(false);
            let message = if visible {
                format!("该证件号码已登记（居民编号 {other}）")
            } else {
                "该证件号码已在其他辖区登记".to_owned()
            };
            return Err(StoreError::Conflict {
                field: "id_number".into(),
                message,
            });
        }
    }
    let mut tx = db.begin_write().await?;
    let tag_ids = tag_ids(&mut tx, &draft.tags).await?;
    // The room lands in its building (made now if the address names a new one): the person,
    // their household and the room are placed there.
    // A new member of a household, with no address of their own, joins its room.
    let (node, dwelling_id) = match (&draft.address, placement.household_id) {
        (Some(a), _) => {
            let (home, a) = dwellings::land_in(&mut tx, scope, &node, a, now).await?;
            let d = dwelling_at(&mut tx, scope, &home, &a, now).await?.0;
            (home, Some(d))
        }
        (None, Some(h)) => {
            let home = dwellings::home_of_household(&mut tx, scope, h, dwellings::HomeCheck::Write)
                .await?;
            match home.dwelling_id {
                Some(d) => (home.node, Some(d)),
                None => (node, None),
            }
        }
        (None, None) => (node, None),
    };
    // Household: the one asked for, else the dwelling's only one, else a new one.
    let household_id = match (placement.household_id, dwelling_id) {
        (Some(h), _) => match readable_path(&mut *tx, scope, "household", h).await {
            Ok(_) => Some(h),
            Err(StoreError::NotFound) => {
                return Err(StoreError::invalid("household_id", "您的辖区内没有这一户"))
            }
            Err(e) => return Err(e),
        },
        (None, Some(d)) => {
            let rows =
                sqlx::query("SELECT id FROM household WHERE dwelling_id = $1 ORDER BY id LIMIT 2")
                    .bind(d)
                    .fetch_all(&mut *tx)
                    .await?;
            match rows.as_slice() {
                [only] if draft.relation != Some(Relation::Head) => {
                    Some(only.try_get::<i64, _>(0)?)
                }
                _ => {
                    let kind = if placement.collective {
                        "collective"
                    } else {
                        "family"
                    };
                    let hid = found_household(&mut tx, scope, &node, d, kind, now).await?;
                    Some(hid)
                }
            }
        }
        (None, None) => None,
    };
    let person = BulkPerson {
        node: &node,
        draft,
        dwelling_id,
        household_id,
        warnings,
    };
    let mut params = Params::new();
    let values = person_values(&mut params, keys, &person, now)?;
    let BulkPerson {
        draft, warnings, ..
    } = person;
    let row = params
        .bind_owned(sqlx::query(&format!(
            "INSERT INTO person ({PERSON_COLUMNS}) VALUES ({}) RETURNING id",
            values.join(", ")
        )))
        .fetch_one(&mut *tx)
        .await
        .map_err(conflict_on("id_number", "该证件号码已登记"))?;
    let id: i64 = row.try_get(0)?;
    for t in tag_ids {
        sqlx::query("INSERT INTO person_tag (person_id, tag_id) VALUES ($1, $2)")
            .bind(id)
            .bind(t)
            .execute(&mut *tx)
            .await?;
    }
    if let (Some(h), Some(Relation::Head)) = (household_id, draft.relation) {
        sqlx::query("UPDATE household SET head_person_id = $1, updated_at = $2 WHERE id = $3")
            .bind(id)
            .bind(now)
            .bind(h)
            .execute(&mut *tx)
            .await?;
    }
    crate::infra::marks::touch(&mut tx, &[node.path.as_str()]).await?;
    log_change(
        &mut tx,
        scope,
        ("person", id, &node.path),
        "created",
        None,
        Some(draft.name.as_str()),
        now,
    )
    .await?;
    audit::commit_recorded(
        tx,
        AuditEntry::by(scope, "person.create", "person")
            .entity_id(id)
            .node_path(&node.path)
            .detail(json!({"warnings": warnings.len()})),
        now,
    )
    .await?;
    Ok((get(db, scope, id).await?, warnings))
}

/// The clear ID and phone numbers of one person, for staff and above; every call is audited.
pub async fn unmask(
    db: &Db,
    scope: &Scope,
    id: i64,
    ip: Option<&str>,
    now: i64,
) -> Result<Unmasked, StoreError> {
    let keys = db.keys()?;
    let row = row_by_id(
        db,
        "SELECT node_path, id_cipher, phone_cipher FROM person WHERE id = $1",
        id,
    )
    .await?;
    let path = JurisdictionPath::parse(&row.try_get::<String, _>(0)?).map_err(internal)?;
    if !scope.can_read(&path) {
        return Err(StoreError::NotFound);
    }
    if !scope.can_unmask(&path) {
        return Err(StoreError::Forbidden("网格员只能查看脱敏后的号码".into()));
    }
    let id_cipher: Option<Vec<u8>> = row.try_get(1)?;
    let phone_cipher: Option<Vec<u8>> = row.try_get(2)?;
    let out = Unmasked {
        id_number: id_cipher.map(|c| keys.decrypt(&c)).transpose()?,
        phone: phone_cipher.map(|c| keys.decrypt(&c)).transpose()?,
    };
    audit::record(
        db.pool(),
        AuditEntry::by(scope, "person.unmask", "person")
            .entity_id(id)
            .node_path(&path)
            .ip(ip)
            .detail(json!({"fields": ["id_number", "phone"]})),
        now,
    )
    .await?;
    Ok(out)
}

/// Changes a person's fields (the whole record is re-validated), records each changed field in
/// the history — ID and phone numbers masked — and audits the change.
pub async fn update(
    db: &Db,
    scope: &Scope,
    id: i64,
    patch: &PersonPatch,
    now: i64,
) -> Result<(Person, Vec<FieldWarning>), StoreError> {
    let mut tx = db.begin_write().await?;
    let warnings = update_in(db, &mut tx, scope, id, patch, now).await?;
    tx.commit().await?;
    Ok((get(db, scope, id).await?, warnings))
}

/// [`update`] inside the caller's transaction (an import that updates the persons it finds
/// already registered); returns the warnings.
pub(crate) async fn update_in(
    db: &Db,
    tx: &mut sqlx::AnyConnection,
    scope: &Scope,
    id: i64,
    patch: &PersonPatch,
    now: i64,
) -> Result<Vec<FieldWarning>, StoreError> {
    let keys = db.keys()?;
    let current = get(db, scope, id).await?;
    if !scope.can_write_records(&current.node_path) {
        return Err(StoreError::Forbidden("您的角色不能修改人口台账".into()));
    }
    let row = sqlx::query("SELECT id_cipher, phone_cipher FROM person WHERE id = $1")
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
    let clear = |i: usize| -> Result<Option<String>, StoreError> {
        row.try_get::<Option<Vec<u8>>, _>(i)?
            .map(|c| keys.decrypt(&c))
            .transpose()
    };
    let (id_clear, phone_clear) = (clear(0)?, clear(1)?);
    let edited = Edited::of(&current, patch, &id_clear, &phone_clear);
    let (draft, warnings) =
        PersonDraft::parse(&edited.input(), today()).map_err(StoreError::Invalid)?;
    fn edited_or_stored<'a>(
        typed: &'a Option<String>,
        stored: &'a Option<String>,
    ) -> Option<&'a str> {
        typed.as_deref().or(stored.as_deref())
    }
    let fields = StateFields {
        moved_out_on: edited_or_stored(&patch.moved_out_on, &current.moved_out_on),
        moved_to: edited_or_stored(&patch.moved_to, &current.moved_to),
        deceased_on: edited_or_stored(&patch.deceased_on, &current.deceased_on),
        away_since: edited_or_stored(&patch.away_since, &current.away_since),
        away_to: edited_or_stored(&patch.away_to, &current.away_to),
    };
    let state = state_change(patch.state.as_deref(), current.state, fields, today())
        .map_err(StoreError::Invalid)?;
    let warnings: Vec<FieldWarning> = warnings
        .into_iter()
        .map(|w| FieldWarning {
            field: w.field,
            message: w.message,
        })
        .collect();
    write_update(
        tx,
        keys,
        id,
        &draft,
        &state,
        &warnings,
        (&id_clear, &phone_clear),
        now,
    )
    .await?;
    // The edit may change residence type, state, birth date or tags: the person's path counts
    // again (an edit never moves a person).
    crate::infra::marks::touch(tx, &[current.node_path.as_str()]).await?;
    let changed = log_update(tx, scope, &current, &draft, &state, now).await?;
    if !changed.is_empty() {
        audit::record(
            &mut *tx,
            AuditEntry::by(scope, "person.update", "person")
                .entity_id(id)
                .node_path(&current.node_path)
                .detail(json!({"fields": changed})),
            now,
        )
        .await?;
    }
    Ok(warnings)
}

/// A person's fields after an edit: each edited one, else the stored one.
struct Edited {
    name: String,
    gender: Option<String>,
    birth_date: Option<String>,
    ethnic_group: Option<String>,
    id_kind: Option<String>,
    id_number: Option<String>,
    phone: Option<String>,
    hukou_address: Option<String>,
    category: Option<String>,
    relation: Option<String>,
    tags: Vec<String>,
}

impl Edited {
    fn of(
        current: &Person,
        patch: &PersonPatch,
        id_clear: &Option<String>,
        phone_clear: &Option<String>,
    ) -> Edited {
        let pick = |new: &Option<String>, old: Option<String>| new.clone().or(old);
        Edited {
            name: pick(&patch.name, Some(current.name.clone())).unwrap_or_default(),
            gender: pick(&patch.gender, current.gender.map(|g| g.as_str().to_owned())),
            birth_date: pick(&patch.birth_date, current.birth_date.clone()),
            ethnic_group: pick(&patch.ethnic_group, current.ethnic_group.clone()),
            id_kind: pick(
                &patch.id_kind,
                current.id_kind.map(|k| k.as_str().to_owned()),
            ),
            id_number: pick(&patch.id_number, id_clear.clone()),
            phone: pick(&patch.phone, phone_clear.clone()),
            hukou_address: pick(&patch.hukou_address, current.hukou_address.clone()),
            category: pick(&patch.category, Some(current.category.as_str().to_owned())),
            relation: pick(
                &patch.relation,
                current.relation.map(|r| r.as_str().to_owned()),
            ),
            tags: patch.tags.clone().unwrap_or_else(|| current.tags.clone()),
        }
    }

    fn input(&self) -> PersonInput<'_> {
        PersonInput {
            name: &self.name,
            gender: self.gender.as_deref(),
            birth_date: self.birth_date.as_deref(),
            ethnic_group: self.ethnic_group.as_deref(),
            id_kind: self.id_kind.as_deref(),
            id_number: self.id_number.as_deref(),
            phone: self.phone.as_deref(),
            hukou_address: self.hukou_address.as_deref(),
            category: self.category.as_deref(),
            tags: &self.tags,
            relation: self.relation.as_deref(),
            address: None,
        }
    }
}

/// Writes an edited person: the row, the ID and phone numbers where they changed (an unchanged
/// one keeps its stored cipher), and the tags.
#[allow(clippy::too_many_arguments)]
async fn write_update(
    tx: &mut sqlx::AnyConnection,
    keys: &Keyring,
    id: i64,
    draft: &PersonDraft,
    state: &StateChange,
    warnings: &[FieldWarning],
    (id_clear, phone_clear): (&Option<String>, &Option<String>),
    now: i64,
) -> Result<(), StoreError> {
    let tag_ids = tag_ids(tx, &draft.tags).await?;
    let (name_pinyin, name_initials) = draft.name.pinyin();
    sqlx::query(
        "UPDATE person SET name = $1, name_pinyin = $2, name_initials = $3, gender = $4, birth_date = $5, \
         ethnic_group = $6, hukou_address = $7, category = $8, relation = $9, state = $10, moved_out_on = $11, \
         moved_to = $12, deceased_on = $13, warnings_json = $14, updated_at = $15, away_since = $16, \
         away_to = $17 WHERE id = $18",
    )
    .bind(draft.name.as_str())
    .bind(&name_pinyin)
    .bind(&name_initials)
    .bind(draft.gender.map(|g| g.as_str()))
    .bind(draft.birth_date.map(format_date))
    .bind(draft.ethnic_group.as_ref().map(|e| e.as_str().to_owned()))
    .bind(draft.hukou_address.clone())
    .bind(draft.category.as_str())
    .bind(draft.relation.map(|r| r.as_str()))
    .bind(state.state.as_str())
    .bind(state.moved_out_on.clone())
    .bind(state.moved_to.clone())
    .bind(state.deceased_on.clone())
    .bind(serde_json::to_string(warnings).unwrap_or_else(|_| "[]".into()))
    .bind(now)
    .bind(state.away_since.clone())
    .bind(state.away_to.clone())
    .bind(id)
    .execute(&mut *tx)
    .await?;
    // An unchanged number keeps its stored cipher; a new or removed one is written.
    let id_unchanged =
        matches!((&draft.document, id_clear), (Some(d), Some(old)) if d.as_str() == old);
    if !id_unchanged {
        let cipher = match &draft.document {
            Some(d) => Some(keys.encrypt(d.as_str())?),
            None => None,
        };
        sqlx::query("UPDATE person SET id_kind = $1, id_cipher = $2, id_hash = $3, id_last4 = $4 WHERE id = $5")
            .bind(draft.document.as_ref().map(|d| d.kind().as_str()))
            .bind(cipher)
            .bind(draft.document.as_ref().map(|d| keys.lookup_hash(ID_HASH, d.as_str())))
            .bind(draft.document.as_ref().map(|d| d.last4().to_owned()))
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(conflict_on("id_number", "该证件号码已登记在其他居民名下"))?;
    }
    let phone_unchanged =
        matches!((&draft.phone, phone_clear), (Some(p), Some(old)) if p.as_str() == old);
    if !phone_unchanged {
        let cipher = match &draft.phone {
            Some(p) => Some(keys.encrypt(p.as_str())?),
            None => None,
        };
        sqlx::query(
            "UPDATE person SET phone_cipher = $1, phone_hash = $2, phone_last4 = $3 WHERE id = $4",
        )
        .bind(cipher)
        .bind(
            draft
                .phone
                .as_ref()
                .map(|p| keys.lookup_hash(PHONE_HASH, p.as_str())),
        )
        .bind(draft.phone.as_ref().map(|p| p.last4().to_owned()))
        .bind(id)
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query("DELETE FROM person_tag WHERE person_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    for t in tag_ids {
        sqlx::query("INSERT INTO person_tag (person_id, tag_id) VALUES ($1, $2)")
            .bind(id)
            .bind(t)
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

/// Records each changed field of an edited person in its history, ID and phone numbers
/// masked; returns the names of the changed fields.
async fn log_update(
    tx: &mut sqlx::AnyConnection,
    scope: &Scope,
    current: &Person,
    draft: &PersonDraft,
    state: &StateChange,
    now: i64,
) -> Result<Vec<&'static str>, StoreError> {
    let label = |l: &str| Some(l.to_owned());
    let diffs: [(&'static str, Option<String>, Option<String>); 16] = [
        (
            "name",
            Some(current.name.clone()),
            Some(draft.name.as_str().to_owned()),
        ),
        (
            "gender",
            current.gender.and_then(|g| label(g.label_zh())),
            draft.gender.and_then(|g| label(g.label_zh())),
        ),
        (
            "birth_date",
            current.birth_date.clone(),
            draft.birth_date.map(format_date),
        ),
        (
            "ethnic_group",
            current.ethnic_group.clone(),
            draft.ethnic_group.as_ref().map(|e| e.as_str().to_owned()),
        ),
        (
            "id_number",
            current.id_number_masked.clone(),
            draft.document.as_ref().map(IdDocument::masked),
        ),
        (
            "phone",
            current.phone_masked.clone(),
            draft.phone.as_ref().map(Phone::masked),
        ),
        (
            "hukou_address",
            current.hukou_address.clone(),
            draft.hukou_address.clone(),
        ),
        (
            "category",
            label(current.category.label_zh()),
            label(draft.category.label_zh()),
        ),
        (
            "relation",
            current.relation.and_then(|r| label(r.label_zh())),
            draft.relation.and_then(|r| label(r.label_zh())),
        ),
        (
            "tags",
            Some(current.tags.join("、")),
            Some(draft.tags.join("、")),
        ),
        (
            "state",
            label(current.state.label_zh()),
            label(state.state.label_zh()),
        ),
        (
            "moved_out_on",
            current.moved_out_on.clone(),
            state.moved_out_on.clone(),
        ),
        ("moved_to", current.moved_to.clone(), state.moved_to.clone()),
        (
            "deceased_on",
            current.deceased_on.clone(),
            state.deceased_on.clone(),
        ),
        (
            "away_since",
            current.away_since.clone(),
            state.away_since.clone(),
        ),
        ("away_to", current.away_to.clone(), state.away_to.clone()),
    ];
    let mut changed = Vec::new();
    for (field, old, new) in diffs {
        // An unchanged ID or phone re-masks identically, so equality is enough here too.
        if old != new {
            log_change(
                tx,
                scope,
                ("person", current.id, &current.node_path),
                field,
                old.as_deref(),
                new.as_deref(),
                now,
            )
            .await?;
            changed.push(field);
        }
    }
    Ok(changed)
}

/// The change history of a person, household or dwelling the caller may read, newest first.
pub async fn history(
    db: &Db,
    scope: &Scope,
    entity: &str,
    id: i64,
) -> Result<Vec<Change>, StoreError> {
    readable_path(db.pool(), scope, entity, id).await?;
    let rows = sqlx::query(
        "SELECT id, at, actor, field, old_value, new_value FROM change_log WHERE entity = $1 AND entity_id = $2 ORDER BY id DESC",
    )
    .bind(entity)
    .bind(id)
    .fetch_all(db.pool())
    .await?;
    Ok(rows
        .iter()
        .map(Change::from_row)
        .collect::<Result<_, _>>()?)
}

/// The byte-order upper bound of all strings starting with `prefix` (U+10FFFF is the largest
/// scalar value, and its UTF-8 form sorts after every other sequence).
fn prefix_upper(prefix: &str) -> String {
    format!("{prefix}\u{10FFFF}")
}

/// Decides what a search string is.
pub fn classify(q: &str) -> Option<(SearchKind, String)> {
    let t: String = q.trim().chars().filter(|c| !c.is_whitespace()).collect();
    if t.is_empty() {
        return None;
    }
    let digits_x = t
        .chars()
        .all(|c| c.is_ascii_digit() || c == 'x' || c == 'X');
    if digits_x && (t.len() == 18 || t.len() == 15) {
        return Some((SearchKind::IdNumber, t));
    }
    if let Ok(p) = Phone::parse(&t) {
        if t.chars().filter(char::is_ascii_digit).count() >= 7 {
            return Some((SearchKind::Phone, p.as_str().to_owned()));
        }
    }
    if digits_x && t.len() == 4 {
        return Some((SearchKind::Last4, t.to_uppercase()));
    }
    if t.chars().all(|c| c.is_ascii_alphabetic()) {
        return Some((SearchKind::Pinyin, t.to_ascii_lowercase()));
    }
    Some((SearchKind::Name, t))
}

/// Searches the caller's jurisdiction by full ID number, its last four characters, phone,
/// name prefix, pinyin initials (`zs`) or full pinyin prefix (`zhangs`), or a key group's name
/// (`独居老人`: its members). Exact numbers are found
/// through their keyed hash, so nothing is decrypted to search.
pub async fn search(
    db: &Db,
    scope: &Scope,
    q: &str,
    limit: i64,
) -> Result<(SearchKind, Vec<PersonHit>), StoreError> {
    let keys = db.keys()?;
    let Some((kind, term)) = classify(q) else {
        return Ok((SearchKind::Name, Vec::new()));
    };
    // Each arm is one index range or equality, read in index order, so LIMIT stops the scan
    // early; arms are merged in order and de-duplicated.
    let mut arms: Vec<(String, Vec<String>, &str)> = Vec::new();
    match kind {
        SearchKind::IdNumber => {
            // Normalise as registration did; an unparseable number matches nothing.
            if let Ok(d) = IdDocument::parse(DocumentKind::ResidentId, &term, today()) {
                arms.push((
                    "p.id_hash = {0}".into(),
                    vec![keys.lookup_hash(ID_HASH, d.as_str())],
                    "p.id",
                ));
            }
        }
        SearchKind::Phone => {
            arms.push((
                "p.phone_hash = {0}".into(),
                vec![keys.lookup_hash(PHONE_HASH, &term)],
                "p.id",
            ));
        }
        SearchKind::Last4 => {
            arms.push(("p.id_last4 = {0}".into(), vec![term.clone()], "p.node_path"));
            arms.push(("p.phone_last4 = {0}".into(), vec![term], "p.node_path"));
        }
        SearchKind::Pinyin => {
            let range = vec![term.clone(), prefix_upper(&term)];
            arms.push((
                "p.name_initials >= {0} AND p.name_initials < {1}".into(),
                range.clone(),
                "p.name_initials, p.name",
            ));
            arms.push((
                "p.name_pinyin >= {0} AND p.name_pinyin < {1}".into(),
                range,
                "p.name_pinyin, p.name",
            ));
        }
        SearchKind::Name => {
            // A key group's name (独居老人, 党员 …) lists its members.
            arms.push((
                "p.id IN (SELECT pt.person_id FROM person_tag pt JOIN tag g ON g.id = pt.tag_id \
                 WHERE g.name = {0})"
                    .into(),
                vec![term.clone()],
                "p.name",
            ));
            arms.push((
                "p.name >= {0} AND p.name < {1}".into(),
                vec![term.clone(), prefix_upper(&term)],
                "p.name",
            ));
        }
    }
    let limit = limit.clamp(1, 200);
    let mut rows = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (condition, values, order) in arms {
        let mut params = Params::new();
        let mut condition = condition;
        for (i, v) in values.into_iter().enumerate() {
            condition = condition.replace(&format!("{{{i}}}"), &params.text(v));
        }
        let scope_sql = crate::scope_filter(scope, "p.node_path", &mut params);
        let sql = format!(
            "SELECT {HIT_COLUMNS} FROM person p JOIN node n ON n.id = p.node_id \
             LEFT JOIN dwelling d ON d.id = p.dwelling_id \
             WHERE {condition} AND {scope_sql} ORDER BY {order}, p.id LIMIT {}",
            params.int(limit)
        );
        for r in params.bind(sqlx::query(&sql)).fetch_all(db.pool()).await? {
            let id: i64 = r.try_get("id")?;
            if rows.len() < limit as usize && seen.insert(id) {
                rows.push(r);
            }
        }
        if rows.len() >= limit as usize {
            break;
        }
    }
    let hits = rows
        .iter()
        .map(|r| hit_of(keys, r))
        .collect::<Result<Vec<_>, StoreError>>()?;
    Ok((kind, hits))
}

/// The columns a [`PersonHit`] is read from (`p` person, `n` node, `d` dwelling).
pub(crate) const HIT_COLUMNS: &str =
    "p.id, p.name, p.gender, p.birth_date, p.id_kind, p.id_cipher, p.phone_cipher, \
     n.name AS node_name, d.building, d.unit, d.room, p.state";

pub(crate) fn hit_of(
    keys: &crate::infra::secret::Keyring,
    r: &sqlx::any::AnyRow,
) -> Result<PersonHit, StoreError> {
    let state: String = r.try_get("state")?;
    Ok(PersonHit {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        gender: parse_opt(r.try_get("gender")?)?,
        birth_date: r.try_get("birth_date")?,
        id_number_masked: mask_document(
            keys,
            parse_opt(r.try_get("id_kind")?)?,
            r.try_get("id_cipher")?,
        )?,
        phone_masked: keys.masked_phone(r.try_get("phone_cipher")?)?,
        node_name: r.try_get("node_name")?,
        address: address_of(r)?,
        state: state.parse().map_err(internal)?,
    })
}

/// The active residents of a node (in the caller's scope), by where they live and household,
/// optionally those whose name starts with `name_prefix`; at most `limit`. For pick lists that
/// name several people at once (an organised trip's passengers).
pub async fn residents(
    db: &Db,
    scope: &Scope,
    node_id: i64,
    name_prefix: &str,
    limit: i64,
) -> Result<Vec<PersonHit>, StoreError> {
    let keys = db.keys()?;
    let node = crate::tree::get(db, scope, node_id).await?;
    let (lo, hi) = node.path.subtree_bounds();
    let mut params = Params::new();
    let mut conds = vec![
        format!("p.node_path >= {}", params.text(lo)),
        format!("p.node_path < {}", params.text(hi)),
        "p.state IN ('active', 'away')".to_owned(),
        crate::scope_filter(scope, "p.node_path", &mut params),
    ];
    if !name_prefix.trim().is_empty() {
        conds.push(params.prefix_like("p.name", name_prefix.trim()));
    }
    let sql = format!(
        "SELECT {HIT_COLUMNS} FROM person p JOIN node n ON n.id = p.node_id \
         LEFT JOIN dwelling d ON d.id = p.dwelling_id WHERE {} \
         ORDER BY p.node_path, p.household_id, p.id LIMIT {}",
        conds.join(" AND "),
        params.int(limit.clamp(1, 1000))
    );
    params
        .bind(sqlx::query(&sql))
        .fetch_all(db.pool())
        .await?
        .iter()
        .map(|r| hit_of(keys, r))
        .collect()
}

/// The key-group tags, in the order they were added.
pub async fn tags(db: &Db) -> Result<Vec<String>, StoreError> {
    let rows = sqlx::query("SELECT name FROM tag ORDER BY id")
        .fetch_all(db.pool())
        .await?;
    rows.iter()
        .map(|r| Ok(r.try_get::<String, _>(0)?))
        .collect()
}

/// Adds a tag to the list (admins only). Audited.
pub async fn add_tag(db: &Db, scope: &Scope, name: &str, now: i64) -> Result<(), StoreError> {
    if !scope.is_admin() {
        return Err(StoreError::Forbidden(
            "只有管理员可以修改重点人群标签列表".into(),
        ));
    }
    let name = linli_core::registry::parse_tag(name)?;
    let mut tx = db.begin_write().await?;
    sqlx::query("INSERT INTO tag (name, created_at) VALUES ($1, $2)")
        .bind(&name)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(conflict_on("tags", "该标签已存在"))?;
    audit::commit_recorded(
        tx,
        AuditEntry::by(scope, "tag.create", "tag").detail(json!({"name": name})),
        now,
    )
    .await?;
    Ok(())
}

/// The members of a household the caller may read.
pub async fn household_members(
    db: &Db,
    scope: &Scope,
    household_id: i64,
) -> Result<Vec<Person>, StoreError> {
    let keys = db.keys()?;
    readable_path(db.pool(), scope, "household", household_id).await?;
    let rows = sqlx::query(&format!(
        "{PERSON_SELECT} WHERE p.household_id = $1 ORDER BY p.id"
    ))
    .bind(household_id)
    .fetch_all(db.pool())
    .await?;
    let mut out = Vec::new();
    for r in &rows {
        let id: i64 = r.try_get("id")?;
        out.push(person_from_row(keys, r, tags_of(db.pool(), id).await?)?);
    }
    Ok(out)
}

/// One person for [`bulk_insert`]: where, the parsed fields, and (for imports) the dwelling
/// and household already resolved.
pub struct BulkPerson<'a> {
    pub node: &'a crate::tree::Node,
    pub draft: PersonDraft,
    pub dwelling_id: Option<i64>,
    pub household_id: Option<i64>,
    /// Kept with the record, as [`create`] keeps them (a flagged import row's warnings).
    pub warnings: Vec<FieldWarning>,
}

impl<'a> BulkPerson<'a> {
    pub fn new(node: &'a crate::tree::Node, draft: PersonDraft) -> BulkPerson<'a> {
        BulkPerson {
            node,
            draft,
            dwelling_id: None,
            household_id: None,
            warnings: Vec::new(),
        }
    }
}

/// Rows per multi-row INSERT: 500 rows of 23 values stay under SQLite's limit of 32,766 bound
/// parameters (PostgreSQL's is 65,535).
const BULK_ROWS: usize = 500;

/// Registers many persons in one transaction with multi-row inserts (the fast path for
/// benchmarks): encrypted numbers, lookup hashes, pinyin, and one `created` history row each;
/// one audit entry for the batch. A duplicate ID number fails the whole batch, which then stores
/// nothing.
pub async fn bulk_insert(
    db: &Db,
    scope: &Scope,
    persons: &[BulkPerson<'_>],
    now: i64,
) -> Result<u64, StoreError> {
    let mut tx = db.begin_write().await?;
    let ids = insert_persons(db, &mut tx, scope, persons, now).await?;
    let paths: Vec<&str> = persons.iter().map(|p| p.node.path.as_str()).collect();
    crate::infra::marks::touch(&mut tx, &paths).await?;
    audit::commit_recorded(
        tx,
        AuditEntry::by(scope, "person.bulk_create", "person").detail(json!({"count": ids.len()})),
        now,
    )
    .await?;
    Ok(ids.len() as u64)
}

/// Inserts persons (and their history rows and tags) inside the caller's transaction, 500 to a
/// statement; returns their ids in order.
pub(crate) async fn insert_persons(
    db: &Db,
    tx: &mut sqlx::AnyConnection,
    scope: &Scope,
    persons: &[BulkPerson<'_>],
    now: i64,
) -> Result<Vec<i64>, StoreError> {
    let keys = db.keys()?;
    for p in persons {
        if !scope.can_write_records(&p.node.path) {
            return Err(StoreError::Forbidden(
                "您的角色不能修改此处的人口台账".into(),
            ));
        }
    }
    let tag_ids: std::collections::HashMap<String, i64> = sqlx::query("SELECT name, id FROM tag")
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| Ok((r.try_get::<String, _>(0)?, r.try_get::<i64, _>(1)?)))
        .collect::<Result<_, StoreError>>()?;
    let mut ids = Vec::with_capacity(persons.len());
    // While one statement runs on the database (SQLite: sqlx's worker thread; PostgreSQL: the
    // server), the next one is built here — encryption, hashes and pinyin are most of this
    // side's work — so the two overlap instead of taking turns.
    let chunks: Vec<&[BulkPerson<'_>]> = persons.chunks(BULK_ROWS).collect();
    let build = |chunk: &[BulkPerson<'_>]| build_person_rows(db.backend(), keys, chunk, now);
    let mut next = chunks.first().map(|c| build(c)).transpose()?;
    for (k, chunk) in chunks.iter().enumerate() {
        let Some((sql, params)) = next.take() else {
            break;
        };
        let following = chunks.get(k + 1);
        let (created, built) = tokio::join!(
            params.bind_owned(sqlx::query(&sql)).fetch_all(&mut *tx),
            async { following.map(|c| build(c)).transpose() }
        );
        next = built?;
        // Ids come back sorted: both databases number a multi-row VALUES list in its order,
        // whatever order RETURNING reports them in.
        let mut created: Vec<i64> = created
            .map_err(conflict_on("id_number", "该证件号码已登记"))?
            .iter()
            .map(|r| r.try_get::<i64, _>(0))
            .collect::<Result<_, _>>()?;
        created.sort_unstable();
        let mut tag_params = Params::for_bulk(db.backend());
        let mut tag_rows = Vec::new();
        let mut created_rows = Vec::with_capacity(created.len());
        for (&id, p) in created.iter().zip(chunk.iter()) {
            created_rows.push((id, p.node.path.as_str(), p.draft.name.as_str()));
            for t in &p.draft.tags {
                let tag = tag_ids.get(t).ok_or_else(|| {
                    StoreError::invalid("tags", format!("没有「{t}」这个标签；标签由管理员维护"))
                })?;
                let (a, b) = (tag_params.int(id), tag_params.int(*tag));
                tag_rows.push(format!("({a}, {b})"));
            }
            ids.push(id);
        }
        log_created_many(db, tx, scope, "person", &created_rows, now).await?;
        if !tag_rows.is_empty() {
            let sql = format!(
                "{} INTO person_tag (person_id, tag_id) VALUES {}",
                db.backend().bulk_insert(),
                tag_rows.join(", ")
            );
            tag_params
                .bind_owned(sqlx::query(&sql))
                .execute(&mut *tx)
                .await?;
        }
    }
    Ok(ids)
}

/// One `created` history row per new record, `(id, node path, label)`, 500 to a statement.
pub(crate) async fn log_created_many(
    db: &Db,
    tx: &mut sqlx::AnyConnection,
    scope: &Scope,
    entity: &str,
    rows: &[(i64, &str, &str)],
    now: i64,
) -> Result<(), StoreError> {
    for chunk in rows.chunks(BULK_ROWS) {
        let mut params = Params::for_bulk(db.backend());
        let values: Vec<String> = chunk
            .iter()
            .map(|row| {
                format!(
                    "({})",
                    created_values(&mut params, scope, entity, row, now).join(", ")
                )
            })
            .collect();
        let sql = format!(
            "{} INTO change_log ({CHANGE_LOG_COLUMNS}) VALUES {}",
            db.backend().bulk_insert(),
            values.join(", ")
        );
        params
            .bind_owned(sqlx::query(&sql))
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

/// The columns of a `created` history row, in the order of [`created_values`].
const CHANGE_LOG_COLUMNS: &str =
    "at, actor_id, actor, entity, entity_id, node_path, field, old_value, new_value";

/// The values of one `created` history row, `(id, node path, label)`; returns their placeholders.
fn created_values(
    params: &mut Params,
    scope: &Scope,
    entity: &str,
    (id, path, label): &(i64, &str, &str),
    now: i64,
) -> [String; 9] {
    [
        params.int(now),
        params.opt_int(scope.user_id()),
        params.text(scope.actor()),
        params.text(entity),
        params.int(*id),
        params.text(*path),
        params.text("created"),
        params.opt_text(None),
        params.text(*label),
    ]
}

/// The columns of a new person row, in the order of [`person_values`].
const PERSON_COLUMNS: &str = "node_id, district_id, node_path, dwelling_id, household_id, relation, \
     name, name_pinyin, name_initials, gender, birth_date, ethnic_group, id_kind, id_cipher, id_hash, \
     id_last4, phone_cipher, phone_hash, phone_last4, hukou_address, category, state, warnings_json, \
     created_at, updated_at";

/// One multi-row `INSERT INTO person` for `chunk`: the statement and its values (numbers
/// encrypted and hashed, names with their pinyin).
fn build_person_rows(
    backend: crate::Backend,
    keys: &Keyring,
    chunk: &[BulkPerson<'_>],
    now: i64,
) -> Result<(String, Params), StoreError> {
    let mut params = Params::for_bulk(backend);
    let mut rows = Vec::with_capacity(chunk.len());
    for p in chunk {
        // Each placeholder is used once, in order, as anonymous `?` placeholders require.
        rows.push(format!(
            "({})",
            person_values(&mut params, keys, p, now)?.join(", ")
        ));
    }
    let sql = format!(
        "{} INTO person ({PERSON_COLUMNS}) VALUES {} RETURNING id",
        backend.bulk_insert(),
        rows.join(", ")
    );
    Ok((sql, params))
}

/// The values of one new person row (numbers encrypted and hashed, the name's pinyin), in
/// [`PERSON_COLUMNS`] order; returns their placeholders.
fn person_values(
    params: &mut Params,
    keys: &Keyring,
    p: &BulkPerson<'_>,
    now: i64,
) -> Result<Vec<String>, StoreError> {
    let d = &p.draft;
    let (pinyin, initials) = d.name.pinyin();
    let id_cipher = d
        .document
        .as_ref()
        .map(|doc| keys.encrypt(doc.as_str()))
        .transpose()?;
    let phone_cipher = d
        .phone
        .as_ref()
        .map(|ph| keys.encrypt(ph.as_str()))
        .transpose()?;
    Ok(vec![
        params.int(p.node.id),
        params.int(p.node.path.root_id()),
        params.text(p.node.path.as_str()),
        params.opt_int(p.dwelling_id),
        params.opt_int(p.household_id),
        params.opt_text(d.relation.map(|r| r.as_str().to_owned())),
        params.text(d.name.as_str()),
        params.text(pinyin),
        params.text(initials),
        params.opt_text(d.gender.map(|g| g.as_str().to_owned())),
        params.opt_text(d.birth_date.map(format_date)),
        params.opt_text(d.ethnic_group.as_ref().map(|e| e.as_str().to_owned())),
        params.opt_text(
            d.document
                .as_ref()
                .map(|doc| doc.kind().as_str().to_owned()),
        ),
        params.opt_bytes(id_cipher),
        params.opt_text(
            d.document
                .as_ref()
                .map(|doc| keys.lookup_hash(ID_HASH, doc.as_str())),
        ),
        params.opt_text(d.document.as_ref().map(|doc| doc.last4().to_owned())),
        params.opt_bytes(phone_cipher),
        params.opt_text(
            d.phone
                .as_ref()
                .map(|ph| keys.lookup_hash(PHONE_HASH, ph.as_str())),
        ),
        params.opt_text(d.phone.as_ref().map(|ph| ph.last4().to_owned())),
        params.opt_text(d.hukou_address.clone()),
        params.text(d.category.as_str()),
        params.text("active"),
        params.text(serde_json::to_string(&p.warnings).unwrap_or_else(|_| "[]".into())),
        params.int(now),
        params.int(now),
    ])
}

/// `n` new person ids, drawn from the sequence (for [`copy_persons`]).
pub(crate) async fn draw_person_ids(
    conn: &mut sqlx::PgConnection,
    n: usize,
) -> Result<Vec<i64>, StoreError> {
    // The sequence's name is looked up once (MATERIALIZED): called per row, the lookup took
    // nine tenths of the draw's time.
    let ids: Vec<i64> = sqlx::query_scalar(
        "WITH s AS MATERIALIZED (SELECT pg_get_serial_sequence('person', 'id')::regclass AS seq) \
         SELECT nextval(s.seq) FROM s, generate_series(1, $1)",
    )
    .bind(n as i64)
    .fetch_all(&mut *conn)
    .await?;
    if ids.len() != n {
        return Err(StoreError::Internal("person ids: short draw".into()));
    }
    Ok(ids)
}

/// [`insert_persons`] on a PostgreSQL connection of the driver's own type, by `COPY`, with the
/// ids drawn by [`draw_person_ids`]: the persons, their `created` history rows and their
/// tags each go in as one `COPY` (PostgreSQL docs, "Populating a Database": `COPY` loads rows
/// faster than any `INSERT`; measured in BENCHMARKS.md). Sent 500 rows at a time, so the server
/// stores each block while the next is encrypted and hashed here.
pub(crate) async fn copy_persons(
    db: &Db,
    conn: &mut sqlx::PgConnection,
    scope: &Scope,
    persons: &[BulkPerson<'_>],
    ids: &[i64],
    now: i64,
) -> Result<(), StoreError> {
    let keys = db.keys()?;
    for p in persons {
        if !scope.can_write_records(&p.node.path) {
            return Err(StoreError::Forbidden(
                "您的角色不能修改此处的人口台账".into(),
            ));
        }
    }
    if persons.is_empty() {
        return Ok(());
    }
    let tag_ids: std::collections::HashMap<String, i64> =
        sqlx::query_as::<_, (String, i64)>("SELECT name, id FROM tag")
            .fetch_all(&mut *conn)
            .await?
            .into_iter()
            .collect();
    let mut tag_rows = Vec::new();
    for p in persons {
        for t in &p.draft.tags {
            let tag = tag_ids.get(t).ok_or_else(|| {
                StoreError::invalid("tags", format!("没有「{t}」这个标签；标签由管理员维护"))
            })?;
            tag_rows.push(*tag);
        }
    }
    if ids.len() != persons.len() {
        return Err(StoreError::Internal("person ids: one per person".into()));
    }
    let duplicate = conflict_on("id_number", "该证件号码已登记");
    let mut copy = conn
        .copy_in_raw(&format!("COPY person (id, {PERSON_COLUMNS}) FROM STDIN"))
        .await?;
    let mut block = Vec::new();
    let mut params = Params::new();
    for (chunk, chunk_ids) in persons.chunks(BULK_ROWS).zip(ids.chunks(BULK_ROWS)) {
        block.clear();
        for (p, id) in chunk.iter().zip(chunk_ids) {
            params.values.clear();
            person_values(&mut params, keys, p, now)?;
            block.extend_from_slice(id.to_string().as_bytes());
            for v in &params.values {
                block.push(b'\t');
                v.write_copy(&mut block);
            }
            block.push(b'\n');
        }
        if let Err(e) = copy.send(block.as_slice()).await {
            return Err(duplicate(e));
        }
    }
    copy.finish().await.map_err(duplicate)?;

    let logged: Vec<(i64, &str, &str)> = ids
        .iter()
        .zip(persons)
        .map(|(id, p)| (*id, p.node.path.as_str(), p.draft.name.as_str()))
        .collect();
    copy_created(conn, scope, "person", &logged, now).await?;
    if !tag_rows.is_empty() {
        let mut copy = conn
            .copy_in_raw("COPY person_tag (person_id, tag_id) FROM STDIN")
            .await?;
        let mut data = Vec::new();
        let mut tags = tag_rows.iter();
        for (id, p) in ids.iter().zip(persons) {
            for tag in tags.by_ref().take(p.draft.tags.len()) {
                data.extend_from_slice(format!("{id}\t{tag}\n").as_bytes());
            }
        }
        copy.send(data).await?;
        copy.finish().await?;
    }
    Ok(())
}

/// [`log_created_many`] on a PostgreSQL connection of the driver's own type, by `COPY`.
pub(crate) async fn copy_created(
    conn: &mut sqlx::PgConnection,
    scope: &Scope,
    entity: &str,
    rows: &[(i64, &str, &str)],
    now: i64,
) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut copy = conn
        .copy_in_raw(&format!(
            "COPY change_log ({CHANGE_LOG_COLUMNS}) FROM STDIN"
        ))
        .await?;
    let mut block = Vec::new();
    let mut params = Params::new();
    for chunk in rows.chunks(BULK_ROWS * 4) {
        block.clear();
        for row in chunk {
            params.values.clear();
            created_values(&mut params, scope, entity, row, now);
            for (k, v) in params.values.iter().enumerate() {
                if k > 0 {
                    block.push(b'\t');
                }
                v.write_copy(&mut block);
            }
            block.push(b'\n');
        }
        copy.send(block.as_slice()).await?;
    }
    copy.finish().await?;
    Ok(())
}

pub use crate::registry::import::{
    import_persons, ImportOutcome, ImportRow, NewHome, OnDuplicate, PersonImport,
};

/// One person as a row of the roster template (`linli_core::registry::roster::TEMPLATE_HEADER`).
pub type ExportRow = Vec<String>;

/// Every active person registered under `node_id` (its whole subtree), as rows of the roster
/// template with a header row first. Numbers are masked unless `unmask` is asked for, which needs
/// a role that may unmask. Every export is audited, with how many persons and whether unmasked.
pub async fn export(
    db: &Db,
    scope: &Scope,
    node_id: i64,
    unmask: bool,
    ip: Option<&str>,
    now: i64,
) -> Result<Vec<ExportRow>, StoreError> {
    let keys = db.keys()?;
    let node = crate::tree::get(db, scope, node_id).await?;
    if unmask && !scope.can_unmask(&node.path) {
        return Err(StoreError::Forbidden("网格员只能导出遮蔽后的号码".into()));
    }
    let (lo, hi) = node.path.subtree_bounds();
    let rows = sqlx::query(&format!(
        "{PERSON_SELECT} WHERE p.node_path >= $1 AND p.node_path < $2 AND p.state IN ('active', 'away') ORDER BY p.node_path, p.household_id, p.id"
    ))
    .bind(&lo)
    .bind(&hi)
    .fetch_all(db.pool())
    .await?;
    let tag_rows = sqlx::query(
        "SELECT pt.person_id, t.name FROM person_tag pt JOIN tag t ON t.id = pt.tag_id \
         JOIN person p ON p.id = pt.person_id WHERE p.node_path >= $1 AND p.node_path < $2 ORDER BY t.id",
    )
    .bind(&lo)
    .bind(&hi)
    .fetch_all(db.pool())
    .await?;
    let mut tags: std::collections::HashMap<i64, Vec<String>> = std::collections::HashMap::new();
    for r in &tag_rows {
        tags.entry(r.try_get(0)?).or_default().push(r.try_get(1)?);
    }
    let mut out = vec![linli_core::registry::roster::TEMPLATE_HEADER
        .iter()
        .map(|h| (*h).to_owned())
        .collect::<Vec<_>>()];
    for (n, r) in rows.iter().enumerate() {
        let id: i64 = r.try_get("id")?;
        let p = person_from_row(keys, r, tags.remove(&id).unwrap_or_default())?;
        let (id_number, phone) = if unmask {
            let idc: Option<Vec<u8>> = r.try_get("id_cipher")?;
            let phc: Option<Vec<u8>> = r.try_get("phone_cipher")?;
            (
                idc.map(|c| keys.decrypt(&c)).transpose()?,
                phc.map(|c| keys.decrypt(&c)).transpose()?,
            )
        } else {
            (p.id_number_masked.clone(), p.phone_masked.clone())
        };
        out.push(vec![
            (n + 1).to_string(),
            p.name,
            p.gender
                .map(|g| g.label_zh().to_owned())
                .unwrap_or_default(),
            p.ethnic_group.unwrap_or_default(),
            p.id_kind
                .map(|k| k.label_zh().to_owned())
                .unwrap_or_default(),
            id_number.unwrap_or_default(),
            p.birth_date.unwrap_or_default(),
            phone.unwrap_or_default(),
            p.relation
                .map(|r| r.label_zh().to_owned())
                .unwrap_or_default(),
            p.hukou_address.unwrap_or_default(),
            p.address.unwrap_or_default(),
            p.category.label_zh().to_owned(),
            p.tags.join(";"),
        ]);
    }
    audit::record(
        db.pool(),
        AuditEntry::by(scope, "person.export", "node")
            .entity_id(node.id)
            .node_path(&node.path)
            .ip(ip)
            .detail(json!({"persons": out.len() - 1, "unmasked": unmask})),
        now,
    )
    .await?;
    Ok(out)
}

/// The benchmark's baseline: the bare indexed point query behind an ID-number search (keyed
/// hash, then one index lookup), without scope, masking or HTTP.
pub async fn search_id_hash_baseline(db: &Db, id_number: &str) -> Result<Option<i64>, StoreError> {
    let hash = db.keys()?.lookup_hash(ID_HASH, id_number);
    let row = sqlx::query("SELECT id FROM person WHERE id_hash = $1")
        .bind(hash)
        .fetch_optional(db.pool())
        .await?;
    Ok(row.map(|r| r.try_get(0)).transpose()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_strings_are_classified() {
        assert_eq!(
            classify("533401198503120011").map(|c| c.0),
            Some(SearchKind::IdNumber)
        );
        assert_eq!(
            classify("136 1234 8609").map(|c| c.0),
            Some(SearchKind::Phone)
        );
        assert_eq!(classify("2186").map(|c| c.0), Some(SearchKind::Last4));
        assert_eq!(
            classify("201x"),
            Some((SearchKind::Last4, "201X".to_owned()))
        );
        assert_eq!(classify("ZS"), Some((SearchKind::Pinyin, "zs".to_owned())));
        assert_eq!(classify("张三").map(|c| c.0), Some(SearchKind::Name));
        assert_eq!(classify("  "), None);
    }

    #[test]
    fn prefix_ranges_hold_every_extension() {
        let hi = prefix_upper("张");
        for s in ["张", "张三", "张𠀀", "张\u{FFFF}"] {
            assert!(s >= "张" && s < hi.as_str(), "{s}");
        }
        assert!("弟" >= hi.as_str() || "弟" < "张");
    }
}
