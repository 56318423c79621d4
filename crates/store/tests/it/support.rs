//! What the store crate's integration tests share: the operator's scope, nodes and the two
//! usual trees, registered residents, screened arrivals, and small query helpers. Each test
//! file keeps only its own world and the helpers that differ from these.
#![allow(dead_code)]

use linli_core::epidemic::contact::CaseKind;
use linli_core::epidemic::policy::{ContactKind, DivisionCode, RiskArea, RiskLevel, Temperature};
use linli_core::kernel::clock::now_ms;
use linli_core::kernel::clock::parse_date;
use linli_core::kernel::idnumber::check_char;
use linli_core::registry::PersonInput;
use linli_core::{Role, Scope};
use linli_store::epidemic::contacts::{self, ContactInput, ContactRecorded};
use linli_store::epidemic::{self, ArrivalInput, ArrivalPerson, ArrivalRecorded, ArrivalSource};
use linli_store::infra::audit::{self, AuditFilter, AuditRecord};
use linli_store::registry::{self, FieldWarning, Person, Placement};
use linli_store::tree::Node;
use linli_store::{Db, Page, StoreError};

/// The operator's scope: the whole tree, every role.
pub fn op() -> Scope {
    Scope::operator()
}

/// A `YYYY-MM-DD` date.
pub fn date(s: &str) -> time::Date {
    parse_date("date", s).unwrap()
}

/// A valid ID number: the 17-digit `body` and its check character.
pub fn id(body: &str) -> String {
    format!("{body}{}", check_char(body.as_bytes()))
}

pub use linli_store::testing::{node, node_opened};

/// District 香格里拉市, its community 里布嘎社区 and the community's grids A and B.
pub struct Tree {
    pub district: Node,
    pub community: Node,
    pub grid_a: Node,
    pub grid_b: Node,
}

impl Tree {
    /// Grid worker 11, `worker_a`, on grid A.
    pub fn worker_a(&self) -> Scope {
        Scope::for_user(
            11,
            "worker_a",
            Role::GridWorker,
            vec![self.grid_a.path.clone()],
        )
    }

    /// Grid worker 12, `worker_b`, on grid B.
    pub fn worker_b(&self) -> Scope {
        Scope::for_user(
            12,
            "worker_b",
            Role::GridWorker,
            vec![self.grid_b.path.clone()],
        )
    }

    /// Official 13, `official`, over the community.
    pub fn official(&self) -> Scope {
        Scope::for_user(
            13,
            "official",
            Role::Official,
            vec![self.community.path.clone()],
        )
    }
}

/// Creates the [`Tree`], in that order (district, community, grid A, grid B).
pub async fn tree(db: &Db) -> Tree {
    let district = node(db, None, "district", "香格里拉市", Some("533401")).await;
    let community = node(
        db,
        Some(district.id),
        "community",
        "里布嘎社区",
        Some("533401100003"),
    )
    .await;
    let grid_a = node(db, Some(community.id), "grid", "甲网格", None).await;
    let grid_b = node(db, Some(community.id), "grid", "乙网格", None).await;
    Tree {
        district,
        community,
        grid_a,
        grid_b,
    }
}

/// District 香格里拉市, street 建塘镇, its communities A (里布嘎社区) and B (北门社区), and a grid
/// under community A.
pub struct Street {
    pub district: Node,
    pub street: Node,
    pub community_a: Node,
    pub community_b: Node,
    pub grid_a: Node,
}

/// Creates the [`Street`] tree in that order, every node opened on `opened_on` when given.
pub async fn street_tree(db: &Db, opened_on: Option<&str>) -> Street {
    let district = node_opened(
        db,
        None,
        "district",
        "香格里拉市",
        Some("533401"),
        opened_on,
    )
    .await;
    let street = node_opened(
        db,
        Some(district.id),
        "street",
        "建塘镇",
        Some("533401100"),
        opened_on,
    )
    .await;
    let community_a = node_opened(
        db,
        Some(street.id),
        "community",
        "里布嘎社区",
        Some("533401100003"),
        opened_on,
    )
    .await;
    let community_b = node_opened(
        db,
        Some(street.id),
        "community",
        "北门社区",
        Some("533401100004"),
        opened_on,
    )
    .await;
    let grid_a = node_opened(db, Some(community_a.id), "grid", "甲网格", None, opened_on).await;
    Street {
        district,
        street,
        community_a,
        community_b,
        grid_a,
    }
}

/// Registers `input` at node `at` as `who`, with no dwelling or household given; the person and
/// the warnings.
pub async fn register(
    db: &Db,
    who: &Scope,
    at: i64,
    input: &PersonInput<'_>,
) -> Result<(Person, Vec<FieldWarning>), StoreError> {
    let placement = Placement {
        node_id: at,
        ..Default::default()
    };
    registry::create(db, who, &placement, input, now_ms()).await
}

/// Registers `name` at `at` (a node of the tree) as the operator with nothing else known; the
/// person's id.
pub async fn named(db: &Db, at: &Node, name: &str) -> i64 {
    let input = PersonInput {
        name,
        ..Default::default()
    };
    register(db, &op(), at.id, &input).await.unwrap().0.id
}

/// Registers `name` at `at` as the operator, with the ID number of `body` and `address`; the
/// person's id.
pub async fn registered(db: &Db, at: &Node, name: &str, body: &str, address: Option<&str>) -> i64 {
    let n = id(body);
    let input = PersonInput {
        name,
        id_number: Some(&n),
        address,
        ..Default::default()
    };
    register(db, &op(), at.id, &input).await.unwrap().0.id
}

/// Registers a resident of `at` living at 3栋2单元501室 (see [`registered`]); the person's id.
pub async fn resident(db: &Db, at: &Node, name: &str, body: &str) -> i64 {
    registered(db, at, name, body, Some("3栋2单元501室")).await
}

/// A worker's screening of registered `person` arriving on `on` from `origin`, to return home
/// (返乡), at 36.5 °C and without symptoms; tests override the fields they need.
pub fn arrival(person: i64, origin: &str, on: &str) -> ArrivalInput<'static> {
    ArrivalInput {
        person: ArrivalPerson::Registered(person),
        origin_code: DivisionCode::parse(origin).unwrap(),
        arrived_on: date(on),
        purpose: Some("返乡".into()),
        symptoms: Vec::new(),
        temperature: Some(Temperature::parse("36.5").unwrap()),
        source: ArrivalSource::Worker,
    }
}

/// Records `input` as the operator.
pub async fn arrive(db: &Db, input: ArrivalInput<'_>) -> Result<ArrivalRecorded, StoreError> {
    epidemic::record_arrival(db, &op(), input, now_ms()).await
}

/// Records `input` as the operator; the observation it opened (which it must open).
pub async fn observe(db: &Db, input: ArrivalInput<'_>) -> i64 {
    arrive(db, input).await.unwrap().observation_id.unwrap()
}

/// Declares 420111 (武汉市洪山区) a high-risk area from 2022-06-30 on, with no end.
pub async fn high_risk_area(db: &Db) {
    area_from_june_30(db, "420111", RiskLevel::High, None).await;
}

/// Declares `code` a risk area of `level` from 2022-06-30 to 2022-07-10.
pub async fn risk_area(db: &Db, code: &str, level: RiskLevel) {
    area_from_june_30(db, code, level, Some("2022-07-10")).await;
}

async fn area_from_june_30(db: &Db, code: &str, level: RiskLevel, until: Option<&str>) {
    epidemic::add_risk_area(
        db,
        &op(),
        &RiskArea::new(
            DivisionCode::parse(code).unwrap(),
            None,
            level,
            date("2022-06-30"),
            until.map(date),
        )
        .unwrap(),
        now_ms(),
    )
    .await
    .unwrap();
}

/// Registers `name` at `at` and screens their arrival on `on` from 420111, with no stated
/// purpose, at 38.4 °C when `fever` and 36.5 °C otherwise; what the screening recorded.
pub async fn screening(
    db: &Db,
    at: &Node,
    name: &str,
    body: &str,
    on: &str,
    fever: bool,
) -> ArrivalRecorded {
    let person = registered(db, at, name, body, None).await;
    let input = ArrivalInput {
        purpose: None,
        temperature: Some(Temperature::parse(if fever { "38.4" } else { "36.5" }).unwrap()),
        ..arrival(person, "420111", on)
    };
    epidemic::record_arrival(db, &op(), input, now_ms())
        .await
        .unwrap()
}

/// A [`screening`]'s observation id.
pub async fn screened(db: &Db, at: &Node, name: &str, body: &str, on: &str, fever: bool) -> i64 {
    screening(db, at, name, body, on, fever)
        .await
        .observation_id
        .unwrap()
}

/// The number of observations ever opened for `person`.
pub async fn observations_of(db: &Db, person: i64) -> i64 {
    let c: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM observation WHERE person_id = $1")
        .bind(person)
        .fetch_one(db.pool())
        .await
        .unwrap();
    c.0
}

/// A contact of `person` with `source`, of `kind`, last in contact on `on`.
pub fn link(person: i64, source: i64, kind: ContactKind, on: &str) -> ContactInput {
    ContactInput {
        person_id: person,
        source_person_id: source,
        kind,
        last_contact_on: date(on),
    }
}

/// Marks `person` a case of `kind`, diagnosed `on`.
pub async fn make_case(db: &Db, person: i64, kind: CaseKind, on: &str) {
    contacts::mark_case(db, &op(), person, kind, date(on), now_ms())
        .await
        .unwrap();
}

/// Records a contact link (see [`link`]).
pub async fn add_contact(db: &Db, input: ContactInput) -> ContactRecorded {
    contacts::record_contact(db, &op(), &input, now_ms())
        .await
        .unwrap()
}

/// The number of rows in `table`.
pub async fn count(db: &Db, table: &str) -> i64 {
    let c: (i64,) = sqlx::query_as(&format!("SELECT COUNT(*) FROM {table}"))
        .fetch_one(db.pool())
        .await
        .unwrap();
    c.0
}

/// Runs `sql` with `id` bound to `$1`.
pub async fn exec(db: &Db, sql: &str, id: i64) {
    sqlx::query(sql).bind(id).execute(db.pool()).await.unwrap();
}

/// The field an invalid or conflicting input was refused for (the error itself otherwise).
pub fn field_of(e: &StoreError) -> String {
    match e {
        StoreError::Invalid(errs) => errs[0].field.clone(),
        StoreError::Conflict { field, .. } => field.clone(),
        other => format!("{other:?}"),
    }
}

/// The audit entries whose action starts with `prefix`, newest first (the first page), as the
/// operator reads them.
pub async fn audited(db: &Db, prefix: &str) -> Vec<AuditRecord> {
    let filter = AuditFilter {
        action_prefix: Some(prefix.into()),
        ..Default::default()
    };
    audit::list(db, &op(), &filter, Page::new(None, None))
        .await
        .unwrap()
}
