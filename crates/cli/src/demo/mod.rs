//! `linli demo`: a district shaped like the one in the source reports — 香格里拉市 with two
//! streets (建塘镇, 小中甸镇) and three communities. 里布嘎社区 is the one of the source reports:
//! 10 compounds (8,652 households) and 6 village groups (971 households), split into grids of
//! 300–400 households, with buildings. 北门社区 (a town community) and 和平社区 (a village
//! community of 小中甸镇) are smaller. Workers hold posts in every community and grid, one
//! account each. `--small` builds 里布嘎社区 only.

use linli_core::kernel::clock::now_ms;
use linli_core::{NewNode, NodeInput, Scope};
use linli_store::accounts::{self, NewUser};
use linli_store::tree::{self, Node};
use linli_store::{infra::secret, Db};

use crate::CliError;

pub mod history;
pub mod month;
pub mod people;

/// A community of the demo: its street, name and division code, its compounds (name and
/// households; each splits evenly into grids of 300–400 households) and its village grids
/// (each spans two village groups, 村民小组, and their households).
pub struct CommunityPlan {
    pub street: (&'static str, &'static str),
    pub name: &'static str,
    pub code: &'static str,
    /// The letters its worker logins start with (`libuga-w03`).
    pub login: &'static str,
    pub compounds: &'static [(&'static str, i64)],
    pub village_grids: &'static [[(&'static str, i64); 2]],
}

pub const DISTRICT: (&str, &str) = ("香格里拉市", "533401");
pub const STREET: (&str, &str) = ("建塘镇", "533401100");
pub const STREET_2: (&str, &str) = ("小中甸镇", "533401101");

/// The communities, 里布嘎社区 first (the one `--small` builds). Names are illustrative; the
/// household totals of 里布嘎社区 are the ones in the source reports.
pub const COMMUNITIES: [CommunityPlan; 3] = [
    CommunityPlan {
        street: STREET,
        name: "里布嘎社区",
        code: "533401100003",
        login: "libuga",
        compounds: &[
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
        ],
        village_grids: &[
            [("一组", 182), ("六组", 146)],
            [("二组", 165), ("五组", 149)],
            [("三组", 158), ("四组", 171)],
        ],
    },
    CommunityPlan {
        street: STREET,
        name: "北门社区",
        code: "533401100007",
        login: "beimen",
        compounds: &[("北门小区", 380), ("古城花园", 340)],
        village_grids: &[],
    },
    CommunityPlan {
        street: STREET_2,
        name: "和平社区",
        code: "533401101001",
        login: "heping",
        compounds: &[("和平新村", 310)],
        village_grids: &[[("上村", 170), ("下村", 160)]],
    },
];

/// The first community: the one of the source reports, and all that `--small` builds.
pub const COMMUNITY: &CommunityPlan = &COMMUNITIES[0];

/// The compound whose gate the demo history keeps (passes and scans).
pub const COMPOUND_WITH_GATE: &str = "康珠小区";

/// Households per building in the compounds, on average.
const HOUSEHOLDS_PER_BUILDING: i64 = 36;

/// The seed `linli demo` generates residents and history with unless `--seed` says otherwise.
pub const DEFAULT_SEED: u64 = 2020;

/// How many of the communities a build makes: all, or (`--small`) the first.
pub fn planned(small: bool) -> &'static [CommunityPlan] {
    if small {
        &COMMUNITIES[..1]
    } else {
        &COMMUNITIES[..]
    }
}

/// The name path of a community of the plan.
pub fn path_of(plan: &CommunityPlan) -> [&'static str; 3] {
    [DISTRICT.0, plan.street.0, plan.name]
}

/// The demo communities that exist, in the order of the plan.
pub async fn communities(db: &Db) -> Result<Vec<(&'static CommunityPlan, Node)>, CliError> {
    let mut out = Vec::new();
    for plan in &COMMUNITIES {
        if let Some(n) = tree::find_by_names(db, &Scope::operator(), &path_of(plan)).await? {
            out.push((plan, n));
        }
    }
    if out.is_empty() {
        return Err(CliError::Usage("the demo community is missing".into()));
    }
    Ok(out)
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

/// The day the demo's records begin: the tree, sites and stores exist from then.
pub fn opening_ms() -> i64 {
    history::at(time::macros::date!(2020 - 01 - 15), 9, 0)
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
    Ok(tree::create(db, &Scope::operator(), new, opening_ms()).await?)
}

/// The node at `path`, made (with `make`'s kind and code) when missing; counts what it made.
async fn find_or_add(
    db: &Db,
    parent: Option<&Node>,
    path: &[&str],
    kind: &str,
    code: &str,
    created: &mut usize,
) -> Result<Node, CliError> {
    if let Some(n) = tree::find_by_names(db, &Scope::operator(), path).await? {
        return Ok(n);
    }
    *created += 1;
    let name = path.last().copied().unwrap_or_default();
    add(db, parent, kind, name, Some(code), None).await
}

/// Builds the demo tree unless its first community is there already: the district, the
/// streets and the planned communities with their compounds, grids, buildings and village
/// groups, then the departments. Returns the number of nodes created.
pub async fn build_tree(db: &Db, small: bool) -> Result<usize, CliError> {
    let op = Scope::operator();
    if tree::find_by_names(db, &op, &path_of(COMMUNITY))
        .await?
        .is_some()
    {
        return Ok(0);
    }
    let mut created = 0usize;
    let district = find_or_add(
        db,
        None,
        &[DISTRICT.0],
        "district",
        DISTRICT.1,
        &mut created,
    )
    .await?;
    for plan in planned(small) {
        let street = find_or_add(
            db,
            Some(&district),
            &[DISTRICT.0, plan.street.0],
            "street",
            plan.street.1,
            &mut created,
        )
        .await?;
        created += build_community(db, &street, plan).await?;
    }
    seed_departments(db).await?;
    Ok(created)
}

/// One community: its compounds split into grids of buildings, then its village grids of
/// village groups. Grids are numbered through the community (第01网格 …).
async fn build_community(db: &Db, street: &Node, plan: &CommunityPlan) -> Result<usize, CliError> {
    let community = add(
        db,
        Some(street),
        "community",
        plan.name,
        Some(plan.code),
        None,
    )
    .await?;
    let mut created = 1usize;
    let mut grid_no = 0;
    for (ci, (name, households)) in plan.compounds.iter().enumerate() {
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
            let grid = add(
                db,
                Some(&compound),
                "grid",
                &format!("第{grid_no:02}网格"),
                Some(&format!("G{grid_no:02}")),
                Some(grid_households),
            )
            .await?;
            created += 1;
            let buildings =
                (grid_households + HOUSEHOLDS_PER_BUILDING - 1) / HOUSEHOLDS_PER_BUILDING;
            for _ in 0..buildings {
                building_no += 1;
                let name = format!("{building_no}栋");
                add(db, Some(&grid), "building", &name, None, None).await?;
                created += 1;
            }
        }
    }
    for groups in plan.village_grids {
        grid_no += 1;
        let total: i64 = groups.iter().map(|(_, h)| h).sum();
        let grid = add(
            db,
            Some(&community),
            "grid",
            &format!("第{grid_no:02}网格"),
            Some(&format!("G{grid_no:02}")),
            Some(total),
        )
        .await?;
        created += 1;
        for (name, _) in groups {
            let name = format!("村民小组{name}");
            add(db, Some(&grid), "compound", &name, None, None).await?;
            created += 1;
        }
    }
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

/// One printed login.
pub struct Login {
    pub username: String,
    pub role: &'static str,
    pub password: String,
    pub node: String,
}

/// The workers in posts besides the four printed accounts: how many, and their password.
pub struct Posts {
    pub count: usize,
    pub password: String,
}

/// Names of the workers in posts, given in turn (illustrative).
const WORKER_NAMES: &[&str] = &[
    "和建华",
    "扎西平措",
    "木丽萍",
    "鲁茸卓玛",
    "杨志文",
    "此里拉姆",
    "王秀兰",
    "七林多吉",
    "李玉梅",
    "斯那央金",
    "段国庆",
    "农布次仁",
    "赵春花",
    "白玛曲珍",
    "孔德明",
    "达瓦旺堆",
    "余金凤",
    "松吉拉姆",
    "杜永福",
    "格桑德吉",
    "施红梅",
    "尼玛江村",
    "谷文华",
    "阿称永宗",
    "熊家豪",
    "鲁茸追玛",
    "胡桂英",
    "扎西索朗",
    "罗燕",
    "此里品初",
    "马子轩",
    "央宗",
    "高丽华",
    "格桑洛桑",
    "林萍",
    "七林取措",
    "何斌",
    "斯那都吉",
    "周敏",
    "达瓦此姆",
];

/// The posts of the demo: a staff member for each community (里布嘎社区 has 李秀英), an official
/// for 小中甸镇, and a grid worker for each grid (第01网格 of 里布嘎社区 has 格桑): login,
/// display name, role, node.
async fn posts(db: &Db) -> Result<Vec<(String, String, &'static str, Node)>, CliError> {
    let op = Scope::operator();
    let mut out = Vec::new();
    let mut names = WORKER_NAMES.iter().cycle();
    let mut next_name = || names.next().copied().unwrap_or("网格员").to_owned();
    if let Some(street) = tree::find_by_names(db, &op, &[DISTRICT.0, STREET_2.0]).await? {
        out.push(("xzd-official".to_owned(), next_name(), "official", street));
    }
    for (plan, community) in communities(db).await? {
        let first = std::ptr::eq(plan, COMMUNITY);
        if !first {
            let login = format!("{}-staff", plan.login);
            out.push((login, next_name(), "staff", community.clone()));
        }
        let mut grids: Vec<Node> = tree::subtree(db, &op, Some(community.id))
            .await?
            .into_iter()
            .filter(|n| n.kind == linli_core::NodeKind::Grid)
            .collect();
        grids.sort_by(|a, b| a.name.cmp(&b.name));
        for (k, grid) in grids.into_iter().enumerate() {
            if first && k == 0 {
                continue;
            }
            let login = format!("{}-w{:02}", plan.login, k + 1);
            out.push((login, next_name(), "grid_worker", grid));
        }
    }
    Ok(out)
}

/// Makes the account, or resets its password when it exists.
async fn ensure_account(
    db: &Db,
    username: &str,
    display: &str,
    role: &str,
    node: Option<&Node>,
    password: &str,
) -> Result<(), CliError> {
    let op = Scope::operator();
    let node_ids: Vec<i64> = node.iter().map(|n| n.id).collect();
    match accounts::find(db, &op, username).await? {
        Some(existing) => accounts::set_password(db, &op, existing.id, password, now_ms()).await?,
        None => {
            let user = NewUser {
                username,
                display_name: Some(display),
                password,
                role,
                node_ids: &node_ids,
            };
            accounts::create(db, &op, user, now_ms()).await?;
        }
    }
    Ok(())
}

/// Creates the demo accounts and the workers in posts, or resets their passwords when they
/// exist. Without `password` each printed account gets a random one, and the posts share one.
pub async fn accounts(db: &Db, password: Option<&str>) -> Result<(Vec<Login>, Posts), CliError> {
    let op = Scope::operator();
    let pw = || {
        password
            .map(str::to_owned)
            .unwrap_or_else(|| secret::random_token(6))
    };
    let mut out = Vec::new();
    for (username, display, role, path) in ACCOUNTS {
        let password = pw();
        let node = if path.is_empty() {
            None
        } else {
            Some(tree::find_by_names(db, &op, path).await?.ok_or_else(|| {
                CliError::Usage(format!("demo node {} is missing", path.join("/")))
            })?)
        };
        ensure_account(db, username, display, role, node.as_ref(), &password).await?;
        out.push(Login {
            username: username.to_owned(),
            role,
            password,
            node: node.map_or_else(|| "全部辖区".to_owned(), |n| n.name),
        });
    }
    let shared = pw();
    let posts = posts(db).await?;
    for (login, display, role, node) in &posts {
        ensure_account(db, login, display, role, Some(node), &shared).await?;
    }
    Ok((
        out,
        Posts {
            count: posts.len(),
            password: shared,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_matches_the_source_reports() {
        let city: i64 = COMMUNITY.compounds.iter().map(|(_, h)| h).sum();
        assert_eq!(city, 8_652);
        let village: i64 = COMMUNITY
            .village_grids
            .iter()
            .flatten()
            .map(|(_, h)| h)
            .sum();
        assert_eq!(village, 971);
        assert_eq!(COMMUNITY.village_grids.iter().flatten().count(), 6);
    }

    #[test]
    fn every_grid_holds_300_to_400_households() {
        for plan in &COMMUNITIES {
            for (name, h) in plan.compounds {
                for g in split_evenly(*h, grids_for(*h)) {
                    assert!((300..=400).contains(&g), "{name}: grid of {g}");
                }
            }
            for groups in plan.village_grids {
                let g: i64 = groups.iter().map(|(_, h)| h).sum();
                assert!((300..=400).contains(&g), "village grid of {g}");
            }
        }
    }

    #[test]
    fn splitting_keeps_the_total() {
        assert_eq!(split_evenly(1064, 3), vec![355, 355, 354]);
        assert_eq!(split_evenly(400, 1), vec![400]);
    }
}
