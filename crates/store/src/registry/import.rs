//! Roster import into the registry: one transaction for the whole file, fed in chunks as the
//! rows are judged, so a million-row roster streams through in bounded memory and a crash, a
//! kill or an early refusal stores nothing.
//!
//! Every chunk costs a handful of multi-row statements whatever its size: duplicates are looked
//! up by hash 500 at a time, dwellings and households are found and created in bulk, persons go
//! in 500 to a statement and heads are set with one `UPDATE … CASE` — or, on PostgreSQL, person
//! ids are drawn first, households are written with their head, and persons, their history and
//! tags go in by `COPY` (see [`PersonImport::begin`]).

use linli_core::kernel::labels::Labelled;
use std::collections::HashMap;

use linli_core::kernel::clock::format_date;
use linli_core::registry::buildings::{land, Landed, Landing};
use linli_core::registry::{DwellingAddress, Relation};
use linli_core::{CoreError, JurisdictionPath, NodeKind, Scope};
use serde::Serialize;
use serde_json::json;

use crate::infra::audit::AuditEntry;
use crate::infra::db::Params;
use crate::registry::dwellings::{home_of, homes_from, homes_sql, placed_node, HomeRow, Homes};
use crate::registry::{
    copy_created, copy_persons, draw_person_ids, insert_persons, log_created_many, update_in,
    writable_node, BulkPerson, FieldWarning, PersonPatch, ID_HASH,
};
use crate::tree::{self, Node};
use crate::{Db, StoreError};

/// Values per `IN (…)` list and rows per multi-row statement.
const CHUNK: usize = 500;

/// Dwellings the import remembers before it starts over (see `PersonImport::dwellings`).
const PLACES: usize = 20_000;

/// The import connection's SQLite page cache, in KiB (pooled connections have 64 MiB). 144 MiB
/// keeps a million-row CSV import under 300 MB at its peak (BENCHMARKS.md: 128 MiB took 76 s,
/// 144 MiB 70 s, 160 MiB 61 s but 314 MB).
const IMPORT_CACHE_KIB: u32 = 147_456;

/// What to do with a row whose ID number is already in the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnDuplicate {
    /// Leave the stored person as is and skip the row.
    Skip,
    /// Overwrite the stored person's fields with the row's non-empty cells (with history).
    Update,
    /// Store nothing at all.
    Fail,
}

pub use linli_core::registry::import_job::ImportRow;

/// What an import did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ImportOutcome {
    /// How many persons were stored.
    pub stored_count: usize,
    /// (row, new person id), from [`import_persons`] only: a [`PersonImport`] hands each
    /// chunk's back from [`PersonImport::add`] instead (a million of them take 16 MB).
    pub stored: Vec<(usize, i64)>,
    /// (row, person id) of registered persons updated from the roster.
    pub updated: Vec<(usize, i64)>,
    /// (row, the existing person's id when the caller may see it)
    pub duplicates: Vec<(usize, Option<i64>)>,
    pub dwellings_created: usize,
    pub households_created: usize,
    /// The building and unit nodes the roster's addresses named that were not in the tree yet
    /// and were made (`5栋`, `3栋2单元`), in the order made; a dry run names those the import
    /// would make, by the same landing code.
    pub homes_created: Vec<NewHome>,
    /// Rooms whose building number several buildings under the import's node carry (1栋 in
    /// every compound): kept on the import's node as typed, not in a building.
    pub rooms_unplaced: usize,
}

/// A building or unit node an import made (or, in a dry run, would make).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewHome {
    /// `7栋`, or a unit with its building: `3栋2单元`.
    pub name: String,
    /// The node it is made under, by name (the grid or compound of a building, the building
    /// of a unit).
    pub under: String,
}

impl std::fmt::Display for NewHome {
    /// 「7栋（属甲网格）」.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}（属{}）", self.name, self.under)
    }
}

/// A household for a row: one already stored, or the n-th one this chunk founds.
#[derive(Debug, Clone, Copy)]
enum HouseholdRef {
    Stored(i64),
    New(usize),
}

/// An import in progress: an open transaction and what the chunks so far have created.
/// Dropping it without [`PersonImport::commit`] rolls everything back.
pub struct PersonImport<'a> {
    db: &'a Db,
    scope: &'a Scope,
    node: Node,
    on_duplicate: OnDuplicate,
    /// A connection of the import's own, inside its open transaction (see [`PersonImport::begin`]).
    link: Link,
    /// Where foreign keys are not enforced for the import (see `begin`), the largest ids
    /// before it: rows above them are checked before commit.
    before: Option<[i64; 3]>,
    /// Address key → dwelling id, for dwellings found or created lately. This and the next
    /// two are a cache, emptied when it holds `PLACES` dwellings (a million-row roster would
    /// otherwise keep ~40 MB here): past it, the database (same transaction) answers alike.
    dwellings: HashMap<String, i64>,
    /// Dwellings this import created (they have no stored household to join).
    created_dwellings: std::collections::HashSet<i64>,
    /// Dwelling → the household later rows at that dwelling join.
    households: HashMap<i64, i64>,
    /// Dwelling → the household this import founded there last, where the database could not
    /// tell it (the dwelling holds other households too): kept whole, as the cache's memory of
    /// what a lookup would get wrong. Rare: two 户主 rows at one address, or a household
    /// founded at a dwelling registered before.
    crowded: HashMap<i64, i64>,
    /// The building and unit nodes under the import's node, read at the first address.
    homes: Option<Homes>,
    /// The nodes rooms land on (the import's node, its buildings and units), by id.
    targets: HashMap<i64, Node>,
    /// Typed address key → the node the room lands on and its address as stored; a cache
    /// emptied with `dwellings`.
    landed: HashMap<String, (i64, DwellingAddress)>,
    /// Dwelling → the node it is on, for the households founded there.
    dwelling_node: HashMap<i64, i64>,
    places: usize,
    /// PostgreSQL: how many new dwellings make the import refresh the table's statistics next
    /// (see `find_or_create_dwellings`).
    analyze_at: usize,
    outcome: ImportOutcome,
    /// A dry run (see [`PersonImport::dry_run`]): rows are judged against the registry, and
    /// nothing is written.
    dry: bool,
    /// A dry run: how many building and unit nodes it has pretended to make (they get the ids
    /// -1, -2, … so later rows land on them as on made ones).
    pretended: i64,
}

impl<'a> PersonImport<'a> {
    /// Opens the import under `node_id` (which the caller must be allowed to write to).
    pub async fn begin(
        db: &'a Db,
        scope: &'a Scope,
        node_id: i64,
        on_duplicate: OnDuplicate,
    ) -> Result<PersonImport<'a>, StoreError> {
        let node = writable_node(db, scope, node_id).await?;
        // The connection is set up for this import alone and closed when the import ends,
        // committed or not: it never goes back to the pool with these settings, and closing it
        // rolls back an import that did not finish. On PostgreSQL it is one of the driver's own
        // type, which can COPY — except when rows may update registered persons: the registry's
        // update (with its history) is written for sqlx's `Any`.
        let pg = match on_duplicate {
            OnDuplicate::Update => None,
            OnDuplicate::Skip | OnDuplicate::Fail => db.pg_connection().await?,
        };
        let mut link = match pg {
            Some(conn) => Link::Pg(conn),
            None => {
                let mut conn = db.pool().acquire().await?;
                conn.close_on_drop();
                Link::Pooled(conn)
            }
        };
        let unchecked = match db.backend() {
            crate::Backend::Sqlite => {
                // A bigger page cache: the person indexes take rows at random places, and once
                // they outgrow the cache SQLite writes dirty pages out to the WAL mid-transaction
                // and reads them back (BENCHMARKS.md, roster import).
                link.execute(
                    &format!("PRAGMA cache_size = -{IMPORT_CACHE_KIB}"),
                    Params::new(),
                )
                .await?;
                // With foreign keys enforced, every multi-row INSERT keeps a statement journal
                // (a copy of each page it touches, to undo the statement alone if a check
                // fails): a tenth of the import's time. The import makes its references itself
                // inside one write transaction that nobody else can write beside (IMMEDIATE), and
                // checks them all before it commits (`check_references`).
                link.execute("PRAGMA foreign_keys = OFF", Params::new())
                    .await?;
                link.execute("BEGIN IMMEDIATE", Params::new()).await?;
                true
            }
            crate::Backend::Postgres => {
                // PostgreSQL checks foreign keys with a trigger per row and key: three lookups
                // for every person, a third of its INSERT's time (BENCHMARKS.md). Where the role
                // may turn triggers off for its session (a superuser, or one granted `SET ON
                // PARAMETER session_replication_role`), the import does so on this connection,
                // which closes with it, and checks its references before commit as on SQLite;
                // elsewhere the triggers stay. The session's only statements are the import's
                // inserts and updates, so the append-only triggers (UPDATE/DELETE of history and
                // audit) lose nothing.
                let off = link
                    .execute("SET session_replication_role = replica", Params::new())
                    .await
                    .is_ok();
                link.execute("BEGIN", Params::new()).await?;
                off
            }
        };
        let before = if unchecked {
            let (person, dwelling, household) = link
                .fetch::<(i64, i64, i64)>(
                    "SELECT (SELECT coalesce(max(id), 0) FROM person), \
                     (SELECT coalesce(max(id), 0) FROM dwelling), \
                     (SELECT coalesce(max(id), 0) FROM household)",
                    Params::new(),
                    false,
                )
                .await?
                .pop()
                .unwrap_or_default();
            Some([person, dwelling, household])
        } else {
            None
        };
        Ok(PersonImport::fresh(
            db,
            scope,
            node,
            on_duplicate,
            link,
            before,
            false,
        ))
    }

    /// A dry run of the import `begin` would open: the same checks of the node and of every
    /// chunk against the registry (`sort_out_duplicates`, the code the import runs), so the
    /// verdicts are the import's — registered ID numbers skipped, updated or failing the
    /// import per `on_duplicate` — but nothing is written, no transaction is held (on SQLite
    /// an import's holds the one write lock) and no sequence moves. What it cannot foresee is
    /// a write the database itself would refuse.
    pub async fn dry_run(
        db: &'a Db,
        scope: &'a Scope,
        node_id: i64,
        on_duplicate: OnDuplicate,
    ) -> Result<PersonImport<'a>, StoreError> {
        let node = writable_node(db, scope, node_id).await?;
        let link = Link::Pooled(db.pool().acquire().await?);
        Ok(PersonImport::fresh(
            db,
            scope,
            node,
            on_duplicate,
            link,
            None,
            true,
        ))
    }

    /// A job that has read and written nothing yet: `before` holds the largest person,
    /// dwelling and household ids when its references are checked before commit.
    fn fresh(
        db: &'a Db,
        scope: &'a Scope,
        node: Node,
        on_duplicate: OnDuplicate,
        link: Link,
        before: Option<[i64; 3]>,
        dry: bool,
    ) -> PersonImport<'a> {
        let targets = HashMap::from([(node.id, node.clone())]);
        PersonImport {
            db,
            scope,
            node,
            on_duplicate,
            link,
            before,
            dwellings: HashMap::new(),
            created_dwellings: std::collections::HashSet::new(),
            households: HashMap::new(),
            crowded: HashMap::new(),
            homes: None,
            targets,
            landed: HashMap::new(),
            dwelling_node: HashMap::new(),
            places: PLACES,
            analyze_at: 2_000,
            outcome: ImportOutcome::default(),
            dry,
            pretended: 0,
        }
    }

    /// What the import has done (or, in a dry run, would do) so far.
    pub fn outcome(&self) -> &ImportOutcome {
        &self.outcome
    }

    /// The node an import by `scope` into `node_id` would write under, or why it may not
    /// (without opening anything).
    pub async fn target(db: &Db, scope: &Scope, node_id: i64) -> Result<Node, StoreError> {
        writable_node(db, scope, node_id).await
    }

    /// Tests: how many dwellings the import remembers before it starts over (`PLACES`).
    #[doc(hidden)]
    pub fn remember_places(&mut self, places: usize) {
        self.places = places;
    }

    /// Stores a chunk of rows (in file order). Rows whose ID number is registered already are
    /// skipped, updated or fail the import, per the `OnDuplicate` given to `begin`. Returns
    /// (row, new person id) of the rows stored — until [`PersonImport::commit`], in a
    /// transaction that may still be rolled back.
    pub async fn add(
        &mut self,
        rows: Vec<ImportRow>,
        now: i64,
    ) -> Result<Vec<(usize, i64)>, StoreError> {
        let fresh = self.sort_out_duplicates(rows, now).await?;
        if self.dry {
            // Rooms land as the import would land them: the building and unit nodes it would
            // make are named (and made only in memory).
            if self.landed.len() >= self.places {
                self.landed = HashMap::new();
            }
            for r in &fresh {
                if let Some(a) = &r.draft.address {
                    self.land(a, now).await.map_err(|e| in_row(r.row, e))?;
                }
            }
            self.outcome.stored_count += fresh.len();
            return Ok(Vec::new());
        }
        // On PostgreSQL's own connection the persons' ids are drawn first, so the households
        // their 户主 rows found are written with their head (no UPDATE afterwards).
        let drawn = match &mut self.link {
            Link::Pg(conn) => Some(draw_person_ids(conn, fresh.len()).await?),
            Link::Pooled(_) => None,
        };
        let placed = self.place(&fresh, drawn.as_deref(), now).await?;
        // Households still to be given their head (where it was not known when they were
        // founded): (row in the chunk, household).
        let heads: Vec<(usize, Option<i64>)> = match drawn {
            Some(_) => Vec::new(),
            None => fresh
                .iter()
                .zip(&placed)
                .enumerate()
                .filter(|(_, (r, _))| r.draft.relation == Some(Relation::Head))
                .map(|(k, (_, (_, _, h)))| (k, *h))
                .collect(),
        };
        let numbers: Vec<usize> = fresh.iter().map(|r| r.row).collect();
        let (node, targets) = (&self.node, &self.targets);
        let bulk: Vec<BulkPerson<'_>> = fresh
            .into_iter()
            .zip(placed)
            .map(|(r, (at, dwelling_id, household_id))| BulkPerson {
                node: targets.get(&at).unwrap_or(node),
                draft: r.draft,
                dwelling_id,
                household_id,
                warnings: r
                    .warnings
                    .into_iter()
                    .map(|w| FieldWarning {
                        field: w.field,
                        message: w.message,
                    })
                    .collect(),
            })
            .collect();
        let ids = match (&mut self.link, drawn) {
            (Link::Pg(conn), Some(ids)) => {
                copy_persons(self.db, conn, self.scope, &bulk, &ids, now).await?;
                ids
            }
            (Link::Pooled(conn), None) => {
                insert_persons(self.db, conn, self.scope, &bulk, now).await?
            }
            _ => return Err(StoreError::Internal("roster import: ids not drawn".into())),
        };
        drop(bulk);
        let heads: Vec<(i64, i64)> = heads
            .into_iter()
            .filter_map(|(k, h)| Some((h?, *ids.get(k)?)))
            .collect();
        self.set_heads(&heads, now).await?;
        self.outcome.stored_count += ids.len();
        Ok(numbers.into_iter().zip(ids).collect())
    }

    /// Ends the import: one audit entry (the job: file name, counts, actor), then commit. A
    /// dry run writes nothing and returns what the import would have done: the persons stored
    /// and updated, and the building and unit nodes made (no dwellings or households are
    /// counted: none were looked for).
    pub async fn commit(
        mut self,
        source: &str,
        counts: serde_json::Value,
        now: i64,
    ) -> Result<ImportOutcome, StoreError> {
        if self.dry {
            return Ok(self.outcome);
        }
        self.check_references().await?;
        // Records land on the import's node and the buildings and units it placed rooms in.
        let mut paths: Vec<&str> = self.targets.values().map(|n| n.path.as_str()).collect();
        paths.push(self.node.path.as_str());
        for (sql, params) in crate::infra::marks::touch_statements(&paths) {
            self.link.execute(&sql, params).await?;
        }
        let (sql, params) = AuditEntry::by(self.scope, "person.import", "node")
            .entity_id(self.node.id)
            .node_path(&self.node.path)
            .detail(json!({
                "source": source,
                "rows": counts,
                "stored": self.outcome.stored_count,
                "updated": self.outcome.updated.len(),
                "duplicates": self.outcome.duplicates.len(),
                "dwellings_created": self.outcome.dwellings_created,
                "households_created": self.outcome.households_created,
                "homes_created": self.outcome.homes_created,
                "rooms_unplaced": self.outcome.rooms_unplaced,
            }))
            .insert(now);
        self.link.execute(sql, params).await?;
        self.link.execute("COMMIT", Params::new()).await?;
        Ok(self.outcome)
    }

    /// Where the import runs without foreign-key enforcement (see `begin`): every reference the
    /// import wrote points at a row that exists, or nothing is committed. (On PostgreSQL, rows
    /// other sessions committed meanwhile above the same ids are checked too; they hold.)
    async fn check_references(&mut self) -> Result<(), StoreError> {
        let Some([person, dwelling, household]) = self.before else {
            return Ok(());
        };
        let mut params = Params::new();
        params.int(person);
        params.int(dwelling);
        params.int(household);
        let (broken,) = self
            .link
            .fetch::<(i64,)>(
            "SELECT (SELECT count(*) FROM person p WHERE p.id > $1 AND ( \
               NOT EXISTS (SELECT 1 FROM node n WHERE n.id = p.node_id) \
               OR (p.dwelling_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM dwelling d WHERE d.id = p.dwelling_id)) \
               OR (p.household_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM household h WHERE h.id = p.household_id)))) \
             + (SELECT count(*) FROM person_tag pt WHERE pt.person_id > $1 AND ( \
               NOT EXISTS (SELECT 1 FROM person p WHERE p.id = pt.person_id) \
               OR NOT EXISTS (SELECT 1 FROM tag t WHERE t.id = pt.tag_id))) \
             + (SELECT count(*) FROM dwelling d WHERE d.id > $2 \
               AND NOT EXISTS (SELECT 1 FROM node n WHERE n.id = d.node_id)) \
             + (SELECT count(*) FROM household h WHERE h.id > $3 AND h.dwelling_id IS NOT NULL \
               AND NOT EXISTS (SELECT 1 FROM dwelling d WHERE d.id = h.dwelling_id))",
                params,
                false,
            )
            .await?
            .pop()
            .ok_or_else(|| StoreError::Internal("roster import: reference check gave no row".into()))?;
        if broken > 0 {
            return Err(StoreError::Internal(format!(
                "roster import: {broken} row(s) would reference a missing record; nothing was stored"
            )));
        }
        Ok(())
    }

    /// Looks the chunk's ID numbers up in the registry; returns the rows to insert.
    async fn sort_out_duplicates(
        &mut self,
        rows: Vec<ImportRow>,
        now: i64,
    ) -> Result<Vec<ImportRow>, StoreError> {
        let keys = self.db.keys()?;
        let hashes: Vec<Option<String>> = rows
            .iter()
            .map(|r| {
                r.draft
                    .document
                    .as_ref()
                    .map(|d| keys.lookup_hash(ID_HASH, d.as_str()))
            })
            .collect();
        let mut existing: HashMap<String, (i64, String)> = HashMap::new();
        let wanted: Vec<&String> = hashes.iter().flatten().collect();
        // 500 to an `IN (…)` list on both databases: one array of the chunk's 5,000 keys
        // (`= ANY($1)`, PostgreSQL) measured slower, 12 s of a 1M-row import against 9 s.
        for chunk in wanted.chunks(CHUNK) {
            let mut params = Params::for_bulk(self.db.backend());
            let list: Vec<String> = chunk.iter().map(|h| params.text((*h).clone())).collect();
            let sql = format!(
                "SELECT id_hash, id, node_path FROM person WHERE id_hash IN ({})",
                list.join(", ")
            );
            let lookup = self.lookup();
            for (hash, id, path) in self
                .link
                .fetch::<(String, i64, String)>(&sql, params, lookup)
                .await?
            {
                existing.insert(hash, (id, path));
            }
        }
        if existing.is_empty() {
            return Ok(rows);
        }
        let mut fresh = Vec::with_capacity(rows.len());
        for (r, hash) in rows.into_iter().zip(hashes) {
            let Some((id, path)) = hash.and_then(|h| existing.get(&h).cloned()) else {
                fresh.push(r);
                continue;
            };
            let path = JurisdictionPath::parse(&path).ok();
            let visible = path.as_ref().is_some_and(|p| self.scope.can_read(p));
            let writable = path
                .as_ref()
                .is_some_and(|p| self.scope.can_write_records(p));
            match self.on_duplicate {
                OnDuplicate::Fail => {
                    return Err(StoreError::Conflict {
                        field: "id_number".into(),
                        message: format!("第 {} 条数据：该证件号码已登记，未导入任何数据", r.row),
                    })
                }
                OnDuplicate::Update if writable && self.dry => {
                    self.outcome.updated.push((r.row, id));
                }
                OnDuplicate::Update if writable => {
                    let patch = patch_from(&r);
                    let Link::Pooled(conn) = &mut self.link else {
                        return Err(StoreError::Internal(
                            "roster import: updates need the pooled connection".into(),
                        ));
                    };
                    update_in(self.db, conn, self.scope, id, &patch, now)
                        .await
                        .map_err(|e| in_row(r.row, e))?;
                    self.outcome.updated.push((r.row, id));
                }
                _ => self.outcome.duplicates.push((r.row, visible.then_some(id))),
            }
        }
        Ok(fresh)
    }

    /// The dwelling and household of every row with an address. The household is the one a
    /// 户主 row of this import founded at that dwelling, else the dwelling's only stored
    /// household, else a new one.
    async fn place(
        &mut self,
        rows: &[ImportRow],
        person_ids: Option<&[i64]>,
        now: i64,
    ) -> Result<Vec<(i64, Option<i64>, Option<i64>)>, StoreError> {
        if self.dwellings.len() >= self.places {
            self.dwellings = HashMap::new();
            self.created_dwellings = std::collections::HashSet::new();
            self.households = HashMap::new();
            self.landed = HashMap::new();
            self.dwelling_node = HashMap::new();
        }
        // Where each room lands: its building (made now when new), its address as stored.
        let mut spots: Vec<Option<(i64, DwellingAddress)>> = Vec::with_capacity(rows.len());
        for r in rows {
            spots.push(match &r.draft.address {
                Some(a) => Some(self.land(a, now).await.map_err(|e| in_row(r.row, e))?),
                None => None,
            });
        }
        // Dwellings not met before, found or created in bulk.
        let mut missing: Vec<(i64, &DwellingAddress)> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for (at, a) in spots.iter().flatten() {
            let key = a.key();
            if !self.dwellings.contains_key(&key) && seen.insert(key) {
                missing.push((*at, a));
            }
        }
        self.find_or_create_dwellings(&missing, now).await?;

        // Dwellings met for the first time by a member (not a head) may have one stored
        // household to join: look them up together.
        let mut to_look_up = Vec::new();
        let mut asked = std::collections::HashSet::new();
        for (r, spot) in rows.iter().zip(&spots) {
            let Some((_, a)) = spot else { continue };
            let d = self.dwellings.get(&a.key()).copied().unwrap_or_default();
            if r.draft.relation != Some(Relation::Head)
                && !self.households.contains_key(&d)
                && !self.crowded.contains_key(&d)
                && !self.created_dwellings.contains(&d)
                && asked.insert(d)
            {
                to_look_up.push(d);
            }
        }
        let stored = self.only_households(&to_look_up).await?;

        let mut pending: HashMap<i64, HouseholdRef> = HashMap::new();
        // Dwelling and (when the ids are drawn already) head of each new household.
        let mut founded: Vec<(i64, Option<i64>)> = Vec::new();
        let mut crowded: Vec<(i64, usize)> = Vec::new();
        let mut refs = Vec::with_capacity(rows.len());
        for (k, (r, spot)) in rows.iter().zip(&spots).enumerate() {
            let Some((_, a)) = spot else {
                refs.push(None);
                continue;
            };
            let d = self.dwellings.get(&a.key()).copied().unwrap_or_default();
            let is_head = r.draft.relation == Some(Relation::Head);
            let joined = pending
                .get(&d)
                .copied()
                .or_else(|| self.households.get(&d).map(|h| HouseholdRef::Stored(*h)))
                .or_else(|| self.crowded.get(&d).map(|h| HouseholdRef::Stored(*h)))
                .or_else(|| stored.get(&d).map(|h| HouseholdRef::Stored(*h)));
            let h = match (joined, is_head) {
                (Some(h), false) => h,
                _ => {
                    // Only the first household at a dwelling this import created is one the
                    // database can name later as the dwelling's only one.
                    let first = self.created_dwellings.contains(&d)
                        && !self.households.contains_key(&d)
                        && !pending.contains_key(&d);
                    let head = person_ids
                        .filter(|_| is_head)
                        .and_then(|ids| ids.get(k).copied());
                    founded.push((d, head));
                    if !first {
                        crowded.push((d, founded.len() - 1));
                    }
                    HouseholdRef::New(founded.len() - 1)
                }
            };
            pending.insert(d, h);
            refs.push(Some((d, h)));
        }
        let new_ids = self.found_households(&founded, now).await?;
        let resolve = |h: HouseholdRef| match h {
            HouseholdRef::Stored(id) => id,
            HouseholdRef::New(k) => new_ids[k],
        };
        for (d, h) in pending {
            self.households.insert(d, resolve(h));
        }
        for (d, k) in crowded {
            self.crowded.insert(d, new_ids[k]);
        }
        Ok(refs
            .into_iter()
            .zip(&spots)
            .map(|(p, spot)| {
                let at = spot.as_ref().map_or(self.node.id, |(at, _)| *at);
                match p {
                    Some((d, h)) => (at, Some(d), Some(resolve(h))),
                    None => (at, None, None),
                }
            })
            .collect())
    }

    /// Where the room at `address` lands (core's `land`), and its address as stored; a
    /// building or unit the address names that is not in the tree yet is made, and named in
    /// the outcome.
    async fn land(
        &mut self,
        address: &DwellingAddress,
        now: i64,
    ) -> Result<(i64, DwellingAddress), StoreError> {
        if let Some(l) = self.landed.get(&address.key()) {
            return Ok(l.clone());
        }
        let homes = match self.homes.take() {
            Some(h) => h,
            None => {
                let mut p = Params::new();
                let sql = homes_sql(&self.node, &mut p);
                let rows = self.link.fetch::<HomeRow>(&sql, p, false).await?;
                homes_from(&self.node, rows)?
            }
        };
        let home = home_of(&self.node);
        let landed = land(&home, homes.above.as_ref(), &homes.below, address);
        self.homes = Some(homes);
        let Landed {
            landing,
            address: stored,
        } = landed?;
        let at = match landing {
            Landing::At(id) => {
                self.landing_node(id)?;
                id
            }
            Landing::NewBuilding { under, name } => {
                self.make_home(under, NodeKind::Building, &name, now)
                    .await?
            }
            Landing::NewUnit { building, name } => {
                self.make_home(building, NodeKind::Unit, &name, now).await?
            }
            Landing::Ambiguous { at, .. } => {
                self.outcome.rooms_unplaced += 1;
                at
            }
        };
        self.landed.insert(address.key(), (at, stored.clone()));
        Ok((at, stored))
    }

    /// Makes sure `targets` holds node `id` (the import's node or one of [`Homes`]).
    fn landing_node(&mut self, id: i64) -> Result<&Node, StoreError> {
        if !self.targets.contains_key(&id) {
            let homes = self.homes.as_ref().ok_or(StoreError::NotFound)?;
            let (h, (path, depth)) = homes
                .below
                .iter()
                .find(|h| h.id == id)
                .and_then(|h| Some((h, homes.places.get(&id)?)))
                .ok_or(StoreError::NotFound)?;
            let node = placed_node(h, path, *depth)?;
            self.targets.insert(id, node);
        }
        self.targets.get(&id).ok_or(StoreError::NotFound)
    }

    /// Makes a building or unit node under `parent` on the import's connection (a dry run:
    /// in memory only, with a negative id).
    async fn make_home(
        &mut self,
        parent: i64,
        kind: NodeKind,
        name: &str,
        now: i64,
    ) -> Result<i64, StoreError> {
        let parent = self.landing_node(parent)?.clone();
        let id = if self.dry {
            self.pretended += 1;
            -self.pretended
        } else {
            let mut p = Params::new();
            let sql = tree::home_insert(&parent, kind, name, now, &mut p);
            let (id,) = self
                .link
                .fetch::<(i64,)>(&sql, p, false)
                .await?
                .pop()
                .ok_or_else(|| StoreError::Internal("roster import: node not made".into()))?;
            id
        };
        let mut p = Params::new();
        let (node, sql) = tree::home_made(&parent, id, kind, name, now, &mut p);
        if !self.dry {
            self.link.execute(&sql, p).await?;
        }
        if let Some(homes) = self.homes.as_mut() {
            homes.below.push(home_of(&node));
            homes
                .places
                .insert(id, (node.path.as_str().to_owned(), node.depth));
        }
        self.outcome.homes_created.push(NewHome {
            name: match kind {
                NodeKind::Unit => format!("{}{name}", parent.name),
                _ => name.to_owned(),
            },
            under: parent.name.clone(),
        });
        self.targets.insert(id, node);
        Ok(id)
    }

    async fn find_or_create_dwellings(
        &mut self,
        addresses: &[(i64, &DwellingAddress)],
        now: i64,
    ) -> Result<(), StoreError> {
        let backend = self.db.backend();
        for chunk in addresses.chunks(CHUNK) {
            // Rooms land on a few nodes (the import's node, its buildings): one lookup per node.
            let mut by_node: HashMap<i64, Vec<&DwellingAddress>> = HashMap::new();
            for (at, a) in chunk {
                by_node.entry(*at).or_default().push(a);
            }
            for (at, list) in by_node {
                let mut params = Params::for_bulk(backend);
                let node = params.int(at);
                let list: Vec<String> = list.iter().map(|a| params.text(a.key())).collect();
                let sql = format!(
                    "SELECT address_key, id FROM dwelling WHERE node_id = {node} AND address_key IN ({})",
                    list.join(", ")
                );
                let lookup = self.lookup();
                for (key, id) in self
                    .link
                    .fetch::<(String, i64)>(&sql, params, lookup)
                    .await?
                {
                    self.dwellings.insert(key, id);
                    self.dwelling_node.insert(id, at);
                }
            }
            let new: Vec<&(i64, &DwellingAddress)> = chunk
                .iter()
                .filter(|(_, a)| !self.dwellings.contains_key(&a.key()))
                .collect();
            if new.is_empty() {
                continue;
            }
            let mut params = Params::for_bulk(backend);
            let values: Vec<String> = new
                .iter()
                .map(|(at, a)| {
                    let node = self.targets.get(at).unwrap_or(&self.node);
                    let v = [
                        params.int(node.id),
                        params.int(node.path.root_id()),
                        params.text(node.path.as_str()),
                        params.text(a.building.clone()),
                        params.text(a.unit.clone()),
                        params.text(a.room.clone()),
                        params.text(a.key()),
                        params.int(now),
                        params.int(now),
                    ];
                    format!("({})", v.join(", "))
                })
                .collect();
            let sql = format!(
                "{} INTO dwelling (node_id, district_id, node_path, building, unit, room, address_key, \
                 created_at, updated_at) VALUES {} RETURNING address_key, id",
                backend.bulk_insert(),
                values.join(", ")
            );
            let labels: HashMap<String, (i64, String)> = new
                .iter()
                .map(|(at, a)| (a.key(), (*at, a.to_string())))
                .collect();
            let mut by_id = Vec::with_capacity(new.len());
            for (key, id) in self.link.fetch::<(String, i64)>(&sql, params, true).await? {
                let (at, label) = labels.get(&key).cloned().unwrap_or_default();
                by_id.push((id, at, label));
                self.dwellings.insert(key, id);
                self.dwelling_node.insert(id, at);
                self.created_dwellings.insert(id);
            }
            self.outcome.dwellings_created += by_id.len();
            if backend == crate::Backend::Postgres
                && self.outcome.dwellings_created >= self.analyze_at
            {
                // The planner sizes `dwelling` from statistics taken before the import: with
                // tens of thousands of new dwellings it still expects a hundred at the node, and
                // looks addresses up by scanning the node's whole list (600 lookups took 19 s
                // at a million rows). ANALYZE inside the transaction counts its own new rows;
                // doubling the threshold keeps it to a handful of runs. Without the right to
                // analyze, PostgreSQL warns and goes on.
                self.link.execute("ANALYZE dwelling", Params::new()).await?;
                self.analyze_at = self.outcome.dwellings_created.saturating_mul(2);
            }
            let logged: Vec<(i64, &str, &str)> = by_id
                .iter()
                .map(|(id, at, label)| {
                    (*id, path_in(&self.targets, &self.node, *at), label.as_str())
                })
                .collect();
            log_created(
                &mut self.link,
                self.db,
                self.scope,
                "dwelling",
                &logged,
                now,
            )
            .await?;
        }
        Ok(())
    }

    /// For each dwelling, its stored household when it has exactly one.
    async fn only_households(
        &mut self,
        dwellings: &[i64],
    ) -> Result<HashMap<i64, i64>, StoreError> {
        let mut found: HashMap<i64, Vec<i64>> = HashMap::new();
        for chunk in dwellings.chunks(CHUNK) {
            let mut params = Params::for_bulk(self.db.backend());
            let list: Vec<String> = chunk.iter().map(|d| params.int(*d)).collect();
            let sql = format!(
                "SELECT dwelling_id, id FROM household WHERE dwelling_id IN ({})",
                list.join(", ")
            );
            let lookup = self.lookup();
            for (dwelling, id) in self.link.fetch::<(i64, i64)>(&sql, params, lookup).await? {
                found.entry(dwelling).or_default().push(id);
            }
        }
        Ok(found
            .into_iter()
            .filter_map(|(d, hs)| match hs.as_slice() {
                [only] => Some((d, *only)),
                _ => None,
            })
            .collect())
    }

    /// Founds one family household per entry (at that dwelling, with that head when known);
    /// ids in the same order.
    async fn found_households(
        &mut self,
        founded: &[(i64, Option<i64>)],
        now: i64,
    ) -> Result<Vec<i64>, StoreError> {
        let mut ids = Vec::with_capacity(founded.len());
        for chunk in founded.chunks(CHUNK) {
            let mut params = Params::for_bulk(self.db.backend());
            let values: Vec<String> = chunk
                .iter()
                .map(|(d, head)| {
                    let at = self.dwelling_node.get(d).copied().unwrap_or(self.node.id);
                    let v = [
                        params.int(*d),
                        params.int(self.node.path.root_id()),
                        params.text(path_in(&self.targets, &self.node, at)),
                        params.opt_int(*head),
                        params.int(now),
                        params.int(now),
                    ];
                    format!("({}, 'family')", v.join(", "))
                })
                .collect();
            let sql = format!(
                "{} INTO household (dwelling_id, district_id, node_path, head_person_id, created_at, \
                 updated_at, kind) VALUES {} RETURNING id",
                self.db.backend().bulk_insert(),
                values.join(", ")
            );
            // Both databases number a multi-row VALUES list in order: sorted ids match it.
            let mut created: Vec<i64> = self
                .link
                .fetch::<(i64,)>(&sql, params, true)
                .await?
                .into_iter()
                .map(|(id,)| id)
                .collect();
            created.sort_unstable();
            // Households are numbered in the order founded: each one's dwelling gives its node.
            let logged: Vec<(i64, &str, &str)> = created
                .iter()
                .zip(chunk)
                .map(|(id, (d, _))| {
                    let at = self.dwelling_node.get(d).copied().unwrap_or(self.node.id);
                    (*id, path_in(&self.targets, &self.node, at), "family")
                })
                .collect();
            log_created(
                &mut self.link,
                self.db,
                self.scope,
                "household",
                &logged,
                now,
            )
            .await?;
            ids.extend(created);
        }
        self.outcome.households_created += ids.len();
        Ok(ids)
    }

    /// `household.head_person_id` for households founded by a 户主 row: one statement per 500.
    async fn set_heads(&mut self, heads: &[(i64, i64)], now: i64) -> Result<(), StoreError> {
        for chunk in heads.chunks(CHUNK) {
            let mut params = Params::for_bulk(self.db.backend());
            let cases: Vec<String> = chunk
                .iter()
                .map(|(h, p)| format!("WHEN {} THEN {}", params.int(*h), params.int(*p)))
                .collect();
            let now = params.int(now);
            let list: Vec<String> = chunk.iter().map(|(h, _)| params.int(*h)).collect();
            let sql = format!(
                "UPDATE household SET head_person_id = CASE id {} END, updated_at = {now} WHERE id IN ({})",
                cases.join(" "),
                list.join(", ")
            );
            self.link.execute(&sql, params).await?;
        }
        Ok(())
    }

    /// Whether a lookup by a list of keys may be kept as a prepared statement: on SQLite, yes;
    /// on PostgreSQL it is planned afresh each time, because a generic plan made while the
    /// import's tables were still small keeps scanning them whole as they grow within the
    /// transaction (that made a 20,000-row import spend half its time in these lookups).
    fn lookup(&self) -> bool {
        self.db.backend() == crate::Backend::Sqlite
    }
}

/// The import's connection, inside its transaction.
enum Link {
    /// From the pool, through sqlx's `Any`: SQLite's, and PostgreSQL's when rows may update
    /// registered persons.
    Pooled(sqlx::pool::PoolConnection<sqlx::Any>),
    /// PostgreSQL's own connection type, which can `COPY` (see `registry::copy_persons`).
    Pg(sqlx::PgConnection),
}

impl Link {
    async fn execute(&mut self, sql: &str, params: Params) -> Result<(), StoreError> {
        match self {
            Link::Pooled(conn) => {
                params
                    .bind_owned(sqlx::query(sql))
                    .execute(&mut **conn)
                    .await?;
            }
            Link::Pg(conn) => {
                params
                    .bind_owned(sqlx::query(sql))
                    .execute(&mut *conn)
                    .await?;
            }
        }
        Ok(())
    }

    /// The rows of a query as tuples; `cached`: kept as a prepared statement.
    async fn fetch<T>(
        &mut self,
        sql: &str,
        params: Params,
        cached: bool,
    ) -> Result<Vec<T>, StoreError>
    where
        T: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow>
            + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>,
    {
        Ok(match self {
            Link::Pooled(conn) => params
                .bind_owned(sqlx::query(sql).persistent(cached))
                .fetch_all(&mut **conn)
                .await?
                .iter()
                .map(T::from_row)
                .collect::<Result<_, _>>()?,
            Link::Pg(conn) => params
                .bind_owned(sqlx::query(sql).persistent(cached))
                .fetch_all(&mut *conn)
                .await?
                .iter()
                .map(T::from_row)
                .collect::<Result<_, _>>()?,
        })
    }
}

/// `created` history rows for what the import made, on whichever connection it has.
async fn log_created(
    link: &mut Link,
    db: &Db,
    scope: &Scope,
    entity: &str,
    rows: &[(i64, &str, &str)],
    now: i64,
) -> Result<(), StoreError> {
    match link {
        Link::Pooled(conn) => log_created_many(db, conn, scope, entity, rows, now).await,
        Link::Pg(conn) => copy_created(conn, scope, entity, rows, now).await,
    }
}

/// The row's non-empty cells as changes to the stored person. The dwelling is left alone: a
/// move between dwellings is a registry action with its own history, not a roster cell.
fn patch_from(r: &ImportRow) -> PersonPatch {
    let d = &r.draft;
    PersonPatch {
        name: Some(d.name.as_str().to_owned()),
        gender: d.gender.map(|g| g.as_str().to_owned()),
        birth_date: d.birth_date.map(format_date),
        ethnic_group: d.ethnic_group.as_ref().map(|e| e.as_str().to_owned()),
        phone: d.phone.as_ref().map(|p| p.as_str().to_owned()),
        hukou_address: d.hukou_address.clone(),
        category: r.category_given.then(|| d.category.as_str().to_owned()),
        tags: (!d.tags.is_empty()).then(|| d.tags.clone()),
        relation: d.relation.map(|x| x.as_str().to_owned()),
        ..PersonPatch::default()
    }
}

/// Names the data row in a per-row failure that aborts the import.
/// The path of a node rooms land on (`node`, the import's, when unknown).
fn path_in<'n>(targets: &'n HashMap<i64, Node>, node: &'n Node, at: i64) -> &'n str {
    targets.get(&at).unwrap_or(node).path.as_str()
}

fn in_row(row: usize, e: StoreError) -> StoreError {
    match e {
        StoreError::Invalid(errors) => StoreError::Invalid(
            errors
                .into_iter()
                .map(|e| CoreError::invalid(e.field, format!("第 {row} 条数据：{}", e.message)))
                .collect(),
        ),
        StoreError::Conflict { field, message } => StoreError::Conflict {
            field,
            message: format!("第 {row} 条数据：{message}"),
        },
        other => other,
    }
}

/// Imports roster rows under `node_id` in ONE transaction: see [`PersonImport`]. Audited as
/// one `person.import` entry.
pub async fn import_persons(
    db: &Db,
    scope: &Scope,
    node_id: i64,
    source: &str,
    rows: Vec<ImportRow>,
    on_duplicate: OnDuplicate,
    now: i64,
) -> Result<ImportOutcome, StoreError> {
    let count = rows.len();
    let mut job = PersonImport::begin(db, scope, node_id, on_duplicate).await?;
    let stored = job.add(rows, now).await?;
    let outcome = job
        .commit(source, json!({ "to_store": count }), now)
        .await?;
    Ok(ImportOutcome { stored, ..outcome })
}
