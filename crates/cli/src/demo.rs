//! `linli demo`: a community shaped like the one in the source reports — 香格里拉市 → 建塘镇 →
//! 里布嘎社区, 10 compounds (8,652 households) and 6 village groups (971 households), split into
//! grids of 300–400 households, with buildings — and one account per role.

use linli_core::{NewNode, NodeInput, Scope};
use linli_store::nodes::{self, Node};
use linli_store::users::{self, NewUser};
use linli_store::{secret, Db};

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
    Ok(nodes::create(db, &Scope::operator(), new).await?)
}

/// Builds the demo tree unless it is there already. Returns the number of nodes created.
pub async fn build_tree(db: &Db) -> Result<usize, CliError> {
    let op = Scope::operator();
    if nodes::find_by_names(db, &op, &[DISTRICT.0, STREET.0, COMMUNITY.0])
        .await?
        .is_some()
    {
        return Ok(0);
    }
    let mut created = 0usize;
    let district = match nodes::find_by_names(db, &op, &[DISTRICT.0]).await? {
        Some(d) => d,
        None => {
            created += 1;
            add(db, None, "district", DISTRICT.0, Some(DISTRICT.1), None).await?
        }
    };
    let street = match nodes::find_by_names(db, &op, &[DISTRICT.0, STREET.0]).await? {
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
    Ok(created)
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
            Some(nodes::find_by_names(db, &op, path).await?.ok_or_else(|| {
                CliError::Usage(format!("demo node {} is missing", path.join("/")))
            })?)
        };
        let node_ids: Vec<i64> = node.iter().map(|n| n.id).collect();
        match users::find(db, &op, username).await? {
            Some(existing) => users::set_password(db, &op, existing.id, &pw).await?,
            None => {
                users::create(
                    db,
                    &op,
                    NewUser {
                        username,
                        display_name: Some(display),
                        password: &pw,
                        role,
                        node_ids: &node_ids,
                    },
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
