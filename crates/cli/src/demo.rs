//! `linli demo`: a community shaped like the one in the source reports — 香格里拉市 → 建塘镇 →
//! 里布嘎社区, 10 compounds (8,652 households) and 6 village groups (971 households), split into
//! grids of 300–400 households, with buildings — and one account per role.

use linli_core::kernel::clock::now_ms;
use linli_core::kernel::labels::Labelled;
use linli_core::{NewNode, NodeInput, Scope};
use linli_store::accounts::{self, NewUser};
use linli_store::tree::{self, Node};
use linli_store::{infra::secret, Db};

use crate::CliError;

/// Compounds and their households. Each splits evenly into grids of 300–400 households.
/// (Names are illustrative; the household total is the one in the source reports.)
const COMPOUNDS: [(&str, i64); 10] = [
    ("康珠小区", 1240),
    ("香巴拉小区", 1064),
    ("月光城小区", 980),
    ("独克宗花园", 912),
    ("金龙苑", 780),
    ("吉祥家园", 760),
    ("建塘新村", 1150),
    ("白塔小区", 700),
    ("松赞林小区", 666),
    ("和谐家园", 400),
];

/// The compound whose gate the demo history keeps (passes and scans).
pub const COMPOUND_WITH_GATE: &str = COMPOUNDS[0].0;

/// Village grids: each spans two village groups (村民小组) and their households.
const VILLAGE_GRIDS: [[(&str, i64); 2]; 3] = [
    [("一组", 182), ("六组", 146)],
    [("二组", 165), ("五组", 149)],
    [("三组", 158), ("四组", 171)],
];

/// Households per building in the compounds, on average.
const HOUSEHOLDS_PER_BUILDING: i64 = 36;

pub const DISTRICT: (&str, &str) = ("香格里拉市", "533401");
pub const STREET: (&str, &str) = ("建塘镇", "533401100");
pub const COMMUNITY: (&str, &str) = ("里布嘎社区", "533401100003");

/// The seed `linli demo` generates residents and history with unless `--seed` says otherwise.
pub const DEFAULT_SEED: u64 = 2020;

/// The demo community's node.
pub async fn community(db: &Db) -> Result<Node, CliError> {
    tree::find_by_names(db, &Scope::operator(), &[DISTRICT.0, STREET.0, COMMUNITY.0])
        .await?
        .ok_or_else(|| CliError::Usage("the demo community is missing".into()))
}

/// The demo accounts: login, display name, role, and which node (by name path) they work in.
const ACCOUNTS: [(&str, &str, &str, &[&str]); 4] = [
    ("admin", "系统管理员", "admin", &[]),
    ("official", "和丽华", "official", &["香格里拉市", "建塘镇"]),
    (
        "staff",
        "李秀英",
        "staff",
        &["香格里拉市", "建塘镇", "里布嘎社区"],
    ),
    (
        "gridworker",
        "格桑",
        "grid_worker",
        &["香格里拉市", "建塘镇", "里布嘎社区", "康珠小区", "第01网格"],
    ),
];

/// Splits `total` into `parts` near-equal whole numbers.
pub fn split_evenly(total: i64, parts: i64) -> Vec<i64> {
    let base = total / parts;
    let extra = total % parts;
    (0..parts).map(|i| base + i64::from(i < extra)).collect()
}

/// The fewest grids of at most 400 households; the demo's figures keep every grid at 300 or more.
pub fn grids_for(households: i64) -> i64 {
    (households + 399) / 400
}

async fn add(
    db: &Db,
    parent: Option<&Node>,
    kind: &str,
    name: &str,
    code: Option<&str>,
    households: Option<i64>,
) -> Result<Node, CliError> {
    let new = NewNode::parse(NodeInput {
        parent_id: parent.map(|p| p.id),
        kind,
        name,
        code,
        household_estimate: households,
        opened_on: Some("2020-01-01"),
    })
    .map_err(linli_store::StoreError::Invalid)?;
    Ok(tree::create(db, &Scope::operator(), new, now_ms()).await?)
}

/// Builds the demo tree unless it is there already. Returns the number of nodes created.
pub async fn build_tree(db: &Db) -> Result<usize, CliError> {
    let op = Scope::operator();
    if tree::find_by_names(db, &op, &[DISTRICT.0, STREET.0, COMMUNITY.0])
        .await?
        .is_some()
    {
        return Ok(0);
    }
    let mut created = 0usize;
    let district = match tree::find_by_names(db, &op, &[DISTRICT.0]).await? {
        Some(d) => d,
        None => {
            created += 1;
            add(db, None, "district", DISTRICT.0, Some(DISTRICT.1), None).await?
        }
    };
    let street = match tree::find_by_names(db, &op, &[DISTRICT.0, STREET.0]).await? {
        Some(s) => s,
        None => {
            created += 1;
            add(
                db,
                Some(&district),
                "street",
                STREET.0,
                Some(STREET.1),
                None,
            )
            .await?
        }
    };
    let community = add(
        db,
        Some(&street),
        "community",
        COMMUNITY.0,
        Some(COMMUNITY.1),
        None,
    )
    .await?;
    created += 1;
    let mut grid_no = 0;
    for (ci, (name, households)) in COMPOUNDS.iter().enumerate() {
        let compound = add(
            db,
            Some(&community),
            "compound",
            name,
            Some(&format!("C{:02}", ci + 1)),
            None,
        )
        .await?;
        created += 1;
        let mut building_no = 0;
        for grid_households in split_evenly(*households, grids_for(*households)) {
            grid_no += 1;
            let grid_name = format!("第{grid_no:02}网格");
            let grid = add(
                db,
                Some(&compound),
                "grid",
                &grid_name,
                Some(&format!("G{grid_no:02}")),
                Some(grid_households),
            )
            .await?;
            created += 1;
            let buildings =
                (grid_households + HOUSEHOLDS_PER_BUILDING - 1) / HOUSEHOLDS_PER_BUILDING;
            for _ in 0..buildings {
                building_no += 1;
                add(
                    db,
                    Some(&grid),
                    "building",
                    &format!("{building_no}栋"),
                    None,
                    None,
                )
                .await?;
                created += 1;
            }
        }
    }
    for groups in VILLAGE_GRIDS {
        grid_no += 1;
        let total: i64 = groups.iter().map(|(_, h)| h).sum();
        let grid_name = format!("第{grid_no:02}网格");
        let grid = add(
            db,
            Some(&community),
            "grid",
            &grid_name,
            Some(&format!("G{grid_no:02}")),
            Some(total),
        )
        .await?;
        created += 1;
        for (name, _) in groups {
            add(
                db,
                Some(&grid),
                "compound",
                &format!("村民小组{name}"),
                None,
                None,
            )
            .await?;
            created += 1;
        }
    }
    seed_supplies(db, &street, &community).await?;
    seed_enterprises(db, &community).await?;
    seed_departments(db).await?;
    Ok(created)
}

/// The departments a street summons most often (吹哨报到), so the whistle form has someone to
/// call in the demo. Missing ones are added; existing ones are kept.
pub async fn seed_departments(db: &Db) -> Result<(), CliError> {
    use linli_store::requests;
    let have: Vec<String> = requests::departments(db)
        .await?
        .into_iter()
        .map(|d| d.name)
        .collect();
    for name in [
        "城管执法中队",
        "派出所",
        "市场监管所",
        "住建局",
        "供水公司",
        "供电所",
    ] {
        if !have.iter().any(|h| h == name) {
            requests::create_department(
                db,
                &Scope::operator(),
                name,
                linli_core::kernel::clock::now_ms(),
            )
            .await?;
        }
    }
    Ok(())
}

/// Demo enterprises of 里布嘎社区, one in each state: reopened (and inspected), waiting for the
/// community's decision, rejected, and not reopened for each of a few reasons. Credit codes
/// are made valid by the GB 32100 check of `linli_core::enterprises`.
pub async fn seed_enterprises(db: &Db, community: &Node) -> Result<(), CliError> {
    use linli_core::enterprises::{
        credit_check_char, ChecklistItem, EnterpriseInput, InspectionInput, NotReopened,
        ReopeningDecision, ReopeningInput,
    };
    use linli_store::enterprises;
    let op = Scope::operator();
    let grid = tree::find_by_names(
        db,
        &op,
        &[
            DISTRICT.0,
            STREET.0,
            COMMUNITY.0,
            COMPOUNDS[0].0,
            "第01网格",
        ],
    )
    .await?
    .ok_or_else(|| CliError::Usage("demo grid is missing".into()))?;
    let bad = |e: Vec<linli_core::CoreError>| CliError::Usage(format!("{e:?}"));
    let all: Vec<String> = ChecklistItem::ALL
        .iter()
        .map(|i| i.as_str().to_owned())
        .collect();
    // (where, name, kind, code body, employees, state): state is approved, submitted,
    // rejected, or a not-reopened reason.
    let rows = [
        (
            community,
            "香格里拉市格桑商贸有限公司",
            "enterprise",
            Some("91533401MA6K3A7B2"),
            "46",
            "approved",
        ),
        (
            community,
            "迪庆藏香猪食品有限公司",
            "enterprise",
            Some("91533401MA6K5C9D4"),
            "28",
            "submitted",
        ),
        (
            &grid,
            "康珠小区扎西超市",
            "individual",
            Some("92533401MA6K7E1F6"),
            "5",
            "rejected",
        ),
        (
            community,
            "独克宗建材有限公司",
            "enterprise",
            Some("91533401MA6K9J3K5"),
            "30",
            "workers_short",
        ),
        (
            &grid,
            "卓玛藏式餐馆",
            "individual",
            Some("92533401MA6K8G2H9"),
            "8",
            "no_protective_supplies",
        ),
        (&grid, "次仁修车铺", "individual", None, "2", "no_demand"),
    ];
    for (at, name, kind, body, employees, state) in rows {
        let code = body.and_then(|b| credit_check_char(b.as_bytes()).map(|c| format!("{b}{c}")));
        let e = enterprises::create(
            db,
            &op,
            at.id,
            &EnterpriseInput {
                name,
                kind,
                credit_code: code.as_deref(),
                employees: Some(employees),
                contact_phone: Some("13988870001"),
                ..Default::default()
            },
            now_ms(),
        )
        .await?
        .enterprise;
        let partial = &all[..3];
        fn apply(items: &[String]) -> ReopeningInput<'_> {
            ReopeningInput {
                checked: items,
                ..Default::default()
            }
        }
        match state {
            "approved" => {
                let r = enterprises::apply(db, &op, e.id, &apply(&all), now_ms()).await?;
                let ok = ReopeningDecision::Approve { note: None };
                enterprises::decide(db, &op, r.id, &ok, now_ms()).await?;
                let today =
                    linli_core::kernel::clock::format_date(linli_core::kernel::clock::today());
                let check = InspectionInput {
                    inspected_on: &today,
                    inspector: "李秀英",
                    findings: Some("体温计、消毒记录、员工登记齐全"),
                    passed: Some("合格"),
                };
                enterprises::add_inspection(db, &op, e.id, &check, now_ms()).await?;
            }
            "submitted" => {
                enterprises::apply(db, &op, e.id, &apply(&all), now_ms()).await?;
            }
            "rejected" => {
                let r = enterprises::apply(db, &op, e.id, &apply(partial), now_ms()).await?;
                let no = ReopeningDecision::parse("reject", Some("员工信息未登记，请补齐后再申请"))
                    .map_err(bad)?;
                enterprises::decide(db, &op, r.id, &no, now_ms()).await?;
            }
            reason => {
                let r = NotReopened::parse(reason, None).map_err(bad)?;
                enterprises::set_not_reopened(db, &op, e.id, Some(&r), now_ms()).await?;
            }
        }
    }
    Ok(())
}

/// Demo supplies: the street's reserve, the community's store and a compound's cabinet, with
/// receipts, a few issues (so days of cover show) and a threshold the community is below.
pub async fn seed_supplies(db: &Db, street: &Node, community: &Node) -> Result<(), CliError> {
    use linli_core::supplies::{Movement, SiteDraft};
    use linli_store::supplies;
    let op = Scope::operator();
    let now = linli_core::kernel::clock::now_ms();
    let items = supplies::items(db).await?;
    let item = |name: &str| {
        items
            .iter()
            .find(|i| i.name == name)
            .map(|i| i.id)
            .ok_or_else(|| CliError::Usage(format!("preset item {name} is missing")))
    };
    let site = |name: &str, upper: bool| {
        SiteDraft::parse(name, None, upper).map_err(|e| CliError::Usage(format!("{e:?}")))
    };
    let compound = tree::find_by_names(
        db,
        &op,
        &[DISTRICT.0, STREET.0, COMMUNITY.0, COMPOUNDS[0].0],
    )
    .await?
    .ok_or_else(|| CliError::Usage("demo compound is missing".into()))?;
    let reserve = supplies::create_site(
        db,
        &op,
        street.id,
        &site("建塘镇应急物资储备库", true)?,
        now,
    )
    .await?;
    let store = supplies::create_site(
        db,
        &op,
        community.id,
        &site("里布嘎社区物资点", false)?,
        now,
    )
    .await?;
    let cabinet =
        supplies::create_site(db, &op, compound.id, &site("康珠小区物资柜", false)?, now).await?;
    let moves: [(&supplies::Site, &str, &str, i64); 14] = [
        (&reserve, "医用外科口罩", "receipt", 20_000),
        (&reserve, "N95口罩", "receipt", 2_000),
        (&reserve, "消毒液", "receipt", 500),
        (&reserve, "防护服", "receipt", 300),
        (&reserve, "测温枪", "receipt", 40),
        (&reserve, "手套", "receipt", 5_000),
        (&reserve, "护目镜", "receipt", 200),
        (&store, "医用外科口罩", "receipt", 1_200),
        (&store, "医用外科口罩", "issue", 300),
        (&store, "消毒液", "receipt", 60),
        (&store, "消毒液", "issue", 14),
        (&store, "测温枪", "receipt", 8),
        (&store, "手套", "receipt", 400),
        (&cabinet, "医用外科口罩", "receipt", 200),
    ];
    for (at, name, kind, q) in moves {
        let m = Movement::parse(kind, q, None).map_err(|e| CliError::Usage(format!("{e:?}")))?;
        supplies::record(db, &op, at.id, item(name)?, &m, Some("演示数据"), now).await?;
    }
    supplies::set_threshold(db, &op, store.id, item("医用外科口罩")?, Some(1_000), now).await?;
    Ok(())
}

/// One printed login.
pub struct Login {
    pub username: &'static str,
    pub role: &'static str,
    pub password: String,
    pub node: String,
}

/// Creates the demo accounts, or resets their passwords when they exist.
pub async fn accounts(db: &Db, password: Option<&str>) -> Result<Vec<Login>, CliError> {
    let op = Scope::operator();
    let mut out = Vec::new();
    for (username, display, role, path) in ACCOUNTS {
        let pw = password
            .map(str::to_owned)
            .unwrap_or_else(|| secret::random_token(6));
        let node = if path.is_empty() {
            None
        } else {
            Some(tree::find_by_names(db, &op, path).await?.ok_or_else(|| {
                CliError::Usage(format!("demo node {} is missing", path.join("/")))
            })?)
        };
        let node_ids: Vec<i64> = node.iter().map(|n| n.id).collect();
        match accounts::find(db, &op, username).await? {
            Some(existing) => accounts::set_password(db, &op, existing.id, &pw, now_ms()).await?,
            None => {
                accounts::create(
                    db,
                    &op,
                    NewUser {
                        username,
                        display_name: Some(display),
                        password: &pw,
                        role,
                        node_ids: &node_ids,
                    },
                    now_ms(),
                )
                .await?;
            }
        }
        out.push(Login {
            username,
            role,
            password: pw,
            node: node.map_or_else(|| "全部辖区".to_owned(), |n| n.name),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_matches_the_source_reports() {
        let city: i64 = COMPOUNDS.iter().map(|(_, h)| h).sum();
        assert_eq!(city, 8_652);
        let village: i64 = VILLAGE_GRIDS.iter().flatten().map(|(_, h)| h).sum();
        assert_eq!(village, 971);
        assert_eq!(VILLAGE_GRIDS.iter().flatten().count(), 6);
    }

    #[test]
    fn every_grid_holds_300_to_400_households() {
        for (name, h) in COMPOUNDS {
            for g in split_evenly(h, grids_for(h)) {
                assert!((300..=400).contains(&g), "{name}: grid of {g}");
            }
        }
        for groups in VILLAGE_GRIDS {
            let g: i64 = groups.iter().map(|(_, h)| h).sum();
            assert!((300..=400).contains(&g), "village grid of {g}");
        }
    }

    #[test]
    fn splitting_keeps_the_total() {
        assert_eq!(split_evenly(1064, 3), vec![355, 355, 354]);
        assert_eq!(split_evenly(400, 1), vec![400]);
    }
}
