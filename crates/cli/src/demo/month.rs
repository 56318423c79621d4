//! `linli demo`, the work around the outbreak, made by the app's own operations at the instants
//! they happened and by the workers in their posts: the streets' centralised quarantine sites
//! and their rooms (set up before the first arrival, so screenings place people in rooms), the
//! supply stores with a month of receipts and issues and a request from 里布嘎社区 to its street,
//! the businesses and their reopening in February 2020, and residents' requests (诉求) day by
//! day — received, dispatched to the grid, handled, rated and closed.

use std::collections::HashMap;

use linli_core::enterprises::{
    credit_check_char, ChecklistItem, EnterpriseInput, InspectionInput, NotReopened,
    ReopeningDecision, ReopeningInput,
};
use linli_core::epidemic::sites::room_block;
use linli_core::kernel::clock::format_date;
use linli_core::kernel::labels::Labelled;
use linli_core::requests::{Action, Channel, Rating, RequestDraft, RequestInput, Target};
use linli_core::supplies::{Movement, Quantity, SiteDraft};
use linli_core::{NodeKind, Role, Scope};
use linli_store::epidemic::sites::{self as qsites, SiteInput};
use linli_store::tree::{self, Node};
use linli_store::{accounts, enterprises, requests, supplies, Db, Page};
use time::{macros::date, Date, Duration};

use super::history::at;
use super::people::Resident;
use super::CommunityPlan;
use crate::bench::Rng;
use crate::CliError;

fn usage(e: impl std::fmt::Debug) -> CliError {
    CliError::Usage(format!("{e:?}"))
}

/// The quarantine sites made, and their beds.
#[derive(Debug, Default)]
pub struct Sites {
    pub sites: usize,
    pub beds: usize,
}

/// The scope of each post's worker by the node they hold it at (grids, communities, streets):
/// who acts in the demo's records. The operator stands in where no one holds the post.
pub struct Posts(HashMap<i64, Scope>);

impl Posts {
    /// The workers of the demo's accounts, by node.
    pub async fn load(db: &Db) -> Result<Posts, CliError> {
        let op = Scope::operator();
        let mut out = HashMap::new();
        for user in accounts::list(db, &op, Page::all()).await? {
            if user.role == Role::Admin || user.disabled {
                continue;
            }
            let roots = user.nodes.iter().map(|n| n.path.clone()).collect();
            let scope = Scope::for_user(user.id, &user.username, user.role, roots);
            for n in &user.nodes {
                out.entry(n.id).or_insert_with(|| scope.clone());
            }
        }
        Ok(Posts(out))
    }

    /// Who works at `node_id`, or the operator.
    pub fn at(&self, node_id: i64) -> Scope {
        self.0
            .get(&node_id)
            .cloned()
            .unwrap_or_else(Scope::operator)
    }
}

/// The quarantine sites of the streets, set up on 21 January 2020: a hotel of 5 floors × 12
/// single rooms for 建塘镇 (2 floors × 10 with `small`), a guesthouse of 10 rooms for 小中甸镇.
pub async fn quarantine_sites(db: &Db, streets: &[Node], small: bool) -> Result<Sites, CliError> {
    let mut made = Sites::default();
    let now = at(date!(2020 - 01 - 21), 10, 0);
    for (k, street) in streets.iter().enumerate() {
        let (name, address, floors, rooms) = match (k, small) {
            (0, false) => (
                "建塘镇集中医学观察点",
                "建塘镇长征大道 8 号",
                (2, 6),
                (1, 12),
            ),
            (0, true) => (
                "建塘镇集中医学观察点",
                "建塘镇长征大道 8 号",
                (2, 3),
                (1, 10),
            ),
            _ => (
                "小中甸镇集中医学观察点",
                "小中甸镇和平村 1 号",
                (2, 2),
                (1, 10),
            ),
        };
        let input = SiteInput {
            name,
            address: Some(address),
            phone: Some("0887-8221234"),
            open: true,
        };
        let op = Scope::operator();
        let site = qsites::create_site(db, &op, street.id, &input, now).await?;
        let block = room_block(floors, rooms, 1).map_err(usage)?;
        made.beds += qsites::add_rooms(db, &op, site.id, &block, now).await?;
        made.sites += 1;
    }
    Ok(made)
}

/// An item's id by its preset name.
async fn item_ids(db: &Db) -> Result<HashMap<String, i64>, CliError> {
    Ok(supplies::items(db)
        .await?
        .into_iter()
        .map(|i| (i.name, i.id))
        .collect())
}

fn item(ids: &HashMap<String, i64>, name: &str) -> Result<i64, CliError> {
    ids.get(name)
        .copied()
        .ok_or_else(|| CliError::Usage(format!("preset item {name} is missing")))
}

/// The stores and their ledgers: each street's reserve and each community's store, stocked on
/// 21 January; the community stores issue masks and disinfectant every day of the outbreak (to
/// the gates, the quarantined households and the workers), the reserves take in donations each
/// week, and 里布嘎社区 asks its street for more masks on 3 February (approved and sent the next
/// day, received the day after). A threshold shows the community store running low.
pub async fn supplies_month(
    db: &Db,
    posts: &Posts,
    streets: &[Node],
    communities: &[(&CommunityPlan, Node)],
    last: Date,
    rng: &mut Rng,
) -> Result<usize, CliError> {
    let ids = item_ids(db).await?;
    let first = date!(2020 - 01 - 21);
    let site = |name: &str, upper: bool| SiteDraft::parse(name, None, upper).map_err(usage);
    let mut entries = 0usize;
    let mut reserves = HashMap::new();
    for street in streets {
        // Officials keep no ledger: the reserve is kept by the street's stores office, which
        // has no account in the demo.
        let official = Scope::operator();
        let name = format!("{}应急物资储备库", street.name);
        let s = supplies::create_site(
            db,
            &official,
            street.id,
            &site(&name, true)?,
            at(first, 9, 0),
        )
        .await?;
        for (name, q) in [
            ("医用外科口罩", 20_000),
            ("N95口罩", 2_000),
            ("消毒液", 500),
            ("防护服", 300),
            ("测温枪", 40),
            ("手套", 5_000),
            ("护目镜", 200),
        ] {
            let m = Movement::parse("receipt", q, None).map_err(usage)?;
            let note = Some("县应急管理局调拨");
            supplies::record(
                db,
                &official,
                s.id,
                item(&ids, name)?,
                &m,
                note,
                at(first, 9, 30),
            )
            .await?;
            entries += 1;
        }
        reserves.insert(street.id, s);
    }
    let mut stores = Vec::new();
    for (_, community) in communities {
        let staff = posts.at(community.id);
        let name = format!("{}物资点", community.name);
        let s = supplies::create_site(
            db,
            &staff,
            community.id,
            &site(&name, false)?,
            at(first, 10, 0),
        )
        .await?;
        for (name, q) in [
            ("医用外科口罩", 1_200),
            ("消毒液", 60),
            ("测温枪", 8),
            ("手套", 400),
        ] {
            let m = Movement::parse("receipt", q, None).map_err(usage)?;
            supplies::record(
                db,
                &staff,
                s.id,
                item(&ids, name)?,
                &m,
                Some("街道首批下发"),
                at(first, 10, 30),
            )
            .await?;
            entries += 1;
        }
        stores.push((staff, s, community.clone()));
    }
    let masks = item(&ids, "医用外科口罩")?;
    let disinfectant = item(&ids, "消毒液")?;
    if let Some((staff, store, _)) = stores.first() {
        supplies::set_threshold(db, staff, store.id, masks, Some(1_000), at(first, 11, 0)).await?;
    }
    // Balances kept here so an issue never exceeds the stock.
    let mut held: HashMap<(i64, i64), i64> = HashMap::new();
    for (_, s, _) in &stores {
        held.insert((s.id, masks), 1_200);
        held.insert((s.id, disinfectant), 60);
    }
    let mut day = date!(2020 - 01 - 24);
    while day <= last {
        for (k, (staff, s, _)) in stores.iter().enumerate() {
            let scale = if k == 0 { 1 } else { 3 };
            for (it, q, note) in [
                (
                    masks,
                    (60 + rng.below(90) as i64) / scale,
                    "发放卡口值守和隔离户",
                ),
                (disinfectant, 1 + rng.below(3) as i64, "楼道、电梯消杀"),
            ] {
                let have = held.entry((s.id, it)).or_default();
                if q == 0 || *have < q {
                    continue;
                }
                let m = Movement::parse("issue", q, None).map_err(usage)?;
                supplies::record(
                    db,
                    staff,
                    s.id,
                    it,
                    &m,
                    Some(note),
                    at(day, 16, rng.below(60) as i64),
                )
                .await?;
                *have -= q;
                entries += 1;
            }
        }
        if day.weekday() == time::Weekday::Monday {
            for reserve in reserves.values() {
                let official = Scope::operator();
                let m = Movement::parse("receipt", 2_000 + 500 * rng.below(4) as i64, None)
                    .map_err(usage)?;
                supplies::record(
                    db,
                    &official,
                    reserve.id,
                    masks,
                    &m,
                    Some("社会捐赠"),
                    at(day, 11, 0),
                )
                .await?;
                entries += 1;
            }
        }
        if day == date!(2020 - 02 - 03) {
            entries += supply_request(
                db,
                posts,
                &stores,
                &reserves,
                masks,
                disinfectant,
                &mut held,
            )
            .await?;
        }
        day += Duration::days(1);
    }
    // The month ends with 里布嘎社区's store handing masks out to its compounds' gates, down
    // to 900 — below its threshold of 1,000, so the stock page shows it low — and 200 of them
    // in the cabinet of 康珠小区.
    if let Some((staff, store, community)) = stores.first() {
        let have = held.get(&(store.id, masks)).copied().unwrap_or(0);
        let (kind, q, note) = if have >= 900 {
            ("issue", have - 900, "月末下发各小区卡口")
        } else {
            ("receipt", 900 - have, "街道补充")
        };
        if q > 0 {
            let m = Movement::parse(kind, q, None).map_err(usage)?;
            supplies::record(db, staff, store.id, masks, &m, Some(note), at(last, 17, 30)).await?;
            entries += 1;
        }
        let path = [
            super::DISTRICT.0,
            super::STREET.0,
            community.name.as_str(),
            super::COMPOUND_WITH_GATE,
        ];
        if let Some(compound) = tree::find_by_names(db, staff, &path).await? {
            let cabinet = supplies::create_site(
                db,
                staff,
                compound.id,
                &site("康珠小区物资柜", false)?,
                at(last, 17, 40),
            )
            .await?;
            let m = Movement::parse("receipt", 200, None).map_err(usage)?;
            supplies::record(
                db,
                staff,
                cabinet.id,
                masks,
                &m,
                Some("卡口值守用"),
                at(last, 17, 45),
            )
            .await?;
            entries += 1;
        }
    }
    Ok(entries)
}

/// 里布嘎社区's request of 3 February: 2,000 masks and 50 litres of disinfectant, approved in
/// full the next morning by the street, sent from its reserve and received on the 5th.
async fn supply_request(
    db: &Db,
    posts: &Posts,
    stores: &[(Scope, supplies::Site, Node)],
    reserves: &HashMap<i64, supplies::Site>,
    masks: i64,
    disinfectant: i64,
    held: &mut HashMap<(i64, i64), i64>,
) -> Result<usize, CliError> {
    let Some((staff, store, community)) = stores.first() else {
        return Ok(0);
    };
    let Some(street_id) = community.parent_id else {
        return Ok(0);
    };
    let Some(reserve) = reserves.get(&street_id) else {
        return Ok(0);
    };
    let official = posts.at(street_id);
    let q = |n: &str| Quantity::parse("quantity", n).map_err(usage);
    let lines = [(masks, q("2000")?), (disinfectant, q("50")?)];
    let asked = date!(2020 - 02 - 03);
    let note = Some("返乡人员增多，卡口和隔离户用量大");
    let r = supplies::create_request(db, staff, store.id, &lines, note, at(asked, 15, 0)).await?;
    supplies::submit_request(db, staff, r.id, at(asked, 15, 5)).await?;
    let next = asked + Duration::days(1);
    supplies::approve_request(
        db,
        &official,
        r.id,
        &[(masks, 2_000), (disinfectant, 50)],
        at(next, 9, 30),
    )
    .await?;
    supplies::fulfil_request(db, &official, r.id, reserve.id, &lines, at(next, 10, 0)).await?;
    let sent = supplies::transfers(db, staff, community.id, Some("sent")).await?;
    for t in sent {
        supplies::receive_transfer(db, staff, t.id, at(next + Duration::days(1), 9, 0)).await?;
    }
    *held.entry((store.id, masks)).or_default() += 2_000;
    *held.entry((store.id, disinfectant)).or_default() += 50;
    Ok(4)
}

/// The businesses of a community and where they are in reopening (复工复产), as of late
/// February 2020: `approved` (and inspected), `submitted`, `rejected`, or a not-reopened reason.
const BUSINESSES: &[(&str, &str, Option<&str>, &str, &str)] = &[
    (
        "格桑商贸有限公司",
        "enterprise",
        Some("91533401MA6K3A7B2"),
        "46",
        "approved",
    ),
    (
        "藏香猪食品有限公司",
        "enterprise",
        Some("91533401MA6K5C9D4"),
        "28",
        "submitted",
    ),
    (
        "扎西超市",
        "individual",
        Some("92533401MA6K7E1F6"),
        "5",
        "rejected",
    ),
    (
        "建材有限公司",
        "enterprise",
        Some("91533401MA6K9J3K5"),
        "30",
        "workers_short",
    ),
    (
        "卓玛藏式餐馆",
        "individual",
        Some("92533401MA6K8G2H9"),
        "8",
        "no_protective_supplies",
    ),
    ("次仁修车铺", "individual", None, "2", "no_demand"),
    (
        "高原牦牛肉加工厂",
        "enterprise",
        Some("91533401MA6KBL4M7"),
        "64",
        "approved",
    ),
    (
        "松赞酒店管理有限公司",
        "enterprise",
        Some("91533401MA6KCN5P8"),
        "52",
        "approved",
    ),
];

/// A community's businesses: registered on 5 February by its staff; those that apply do so
/// between 8 and 20 February and are decided the next morning; approved ones are inspected two
/// days later. Credit codes are made valid by the GB 32100 check of `linli_core::enterprises`;
/// each community gets its own codes and names.
pub async fn enterprises_month(
    db: &Db,
    posts: &Posts,
    communities: &[(&CommunityPlan, Node)],
    rng: &mut Rng,
) -> Result<usize, CliError> {
    let all: Vec<String> = ChecklistItem::ALL
        .iter()
        .map(|i| i.as_str().to_owned())
        .collect();
    fn apply(items: &[String]) -> ReopeningInput<'_> {
        ReopeningInput {
            checked: items,
            ..Default::default()
        }
    }
    let mut made = 0;
    for (ci, (plan, community)) in communities.iter().enumerate() {
        let staff = posts.at(community.id);
        let count = if ci == 0 { BUSINESSES.len() } else { 4 };
        let grids = grids_of(db, community).await?;
        for (k, (name, kind, body, employees, state)) in BUSINESSES.iter().take(count).enumerate() {
            // Another community's businesses get other names and codes (the 11th character).
            let prefix = match (ci, *kind) {
                (0, "enterprise") => "香格里拉市",
                (0, _) => "",
                _ => plan.name.trim_end_matches("社区"),
            };
            let name = format!("{prefix}{name}");
            let code = body.map(|b| {
                let mut b = b.to_owned();
                if ci > 0 {
                    b.replace_range(10..11, &char::from(b'P' + ci as u8).to_string());
                }
                credit_check_char(b.as_bytes()).map(|c| format!("{b}{c}"))
            });
            let code = code.flatten();
            // Individual businesses sit in a grid, enterprises at the community.
            let at_node = match (*kind, grids.get(k % grids.len().max(1))) {
                ("individual", Some(g)) => g.id,
                _ => community.id,
            };
            let phone = format!("139888{:05}", 70_001 + ci * 100 + k);
            let registered = at(date!(2020 - 02 - 05), 10, k as i64);
            let e = enterprises::create(
                db,
                &staff,
                at_node,
                &EnterpriseInput {
                    name: &name,
                    kind,
                    credit_code: code.as_deref(),
                    employees: Some(employees),
                    contact_phone: Some(&phone),
                    ..Default::default()
                },
                registered,
            )
            .await?
            .enterprise;
            made += 1;
            let applied = date!(2020 - 02 - 08) + Duration::days(rng.below(13) as i64);
            let decided = at(applied + Duration::days(1), 10, k as i64);
            match *state {
                "approved" => {
                    let r = enterprises::apply(db, &staff, e.id, &apply(&all), at(applied, 15, 0))
                        .await?;
                    let ok = ReopeningDecision::Approve { note: None };
                    enterprises::decide(db, &staff, r.id, &ok, decided).await?;
                    let on = applied + Duration::days(3);
                    let check = InspectionInput {
                        inspected_on: &format_date(on),
                        inspector: "李秀英",
                        findings: Some("体温计、消毒记录、员工登记齐全"),
                        passed: Some("合格"),
                    };
                    enterprises::add_inspection(db, &staff, e.id, &check, at(on, 15, 0)).await?;
                }
                "submitted" => {
                    enterprises::apply(db, &staff, e.id, &apply(&all), at(applied, 15, 0)).await?;
                }
                "rejected" => {
                    let partial = &all[..3];
                    let r =
                        enterprises::apply(db, &staff, e.id, &apply(partial), at(applied, 15, 0))
                            .await?;
                    let no =
                        ReopeningDecision::parse("reject", Some("员工信息未登记，请补齐后再申请"))
                            .map_err(usage)?;
                    enterprises::decide(db, &staff, r.id, &no, decided).await?;
                }
                reason => {
                    let r = NotReopened::parse(reason, None).map_err(usage)?;
                    enterprises::set_not_reopened(db, &staff, e.id, Some(&r), decided).await?;
                }
            }
        }
    }
    Ok(made)
}

/// The grids of a community, by name.
async fn grids_of(db: &Db, community: &Node) -> Result<Vec<Node>, CliError> {
    let mut grids: Vec<Node> = tree::subtree(db, &Scope::operator(), Some(community.id))
        .await?
        .into_iter()
        .filter(|n| n.kind == NodeKind::Grid)
        .collect();
    grids.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(grids)
}

/// What residents asked for in early 2020, by category code: most of it ordinary.
const ASKS: &[(&str, &str)] = &[
    ("general", "楼道里堆放杂物，影响通行，请物业清理"),
    ("general", "小区垃圾桶满了没人清运"),
    ("general", "家里老人独居，隔离期间买不到菜，请帮忙代购"),
    ("general", "想了解返乡人员需要办理哪些登记手续"),
    ("general", "楼上装修噪音太大，影响休息"),
    ("general", "小区大门只开一个，早上排队太久"),
    ("general", "药店买不到口罩，请问社区能否统一发放"),
    ("general", "流浪狗在小区里乱窜，孩子害怕"),
    ("utilities", "停水一天了，还没有通知什么时候恢复"),
    ("utilities", "单元楼道灯坏了，晚上看不见"),
    ("utilities", "家里暖气不热，老人受不了"),
    ("complex", "隔壁商铺疫情期间仍在营业聚集，请有关部门处理"),
    ("complex", "小区外墙砖脱落，存在安全隐患"),
    ("emergency", "楼下闻到很重的煤气味"),
];

/// What the grid worker says they did.
const OUTCOMES: &[&str] = &[
    "已上门核实并处理，居民表示认可",
    "已联系物业，当日处理完毕",
    "已协调志愿者代购送达",
    "已电话答复居民，说明相关政策",
    "已联系供水公司，当晚恢复供水",
];

/// A request's path through the day: received, dispatched to its grid within the hour,
/// accepted, started, resolved within days (most of them), rated and closed. A few are still
/// being handled at the end of the month; they are resolved in the first days of March.
pub async fn requests_month(
    db: &Db,
    posts: &Posts,
    communities: &[(&CommunityPlan, Node)],
    residents: &[Resident],
    last: Date,
    small: bool,
    rng: &mut Rng,
) -> Result<usize, CliError> {
    let op = Scope::operator();
    let mut made = 0usize;
    let mut grid_of: HashMap<i64, i64> = HashMap::new();
    for (_, c) in communities {
        let nodes = tree::subtree(db, &op, Some(c.id)).await?;
        let parents: HashMap<i64, &Node> = nodes.iter().map(|n| (n.id, n)).collect();
        for n in &nodes {
            // A building's or village group's grid: the nearest grid above it.
            let mut cur = Some(n);
            while let Some(x) = cur {
                if x.kind == NodeKind::Grid {
                    grid_of.insert(n.id, x.id);
                    break;
                }
                cur = x.parent_id.and_then(|p| parents.get(&p).copied());
            }
        }
    }
    let mut day = date!(2020 - 01 - 20);
    while day <= last {
        for (ci, (_, community)) in communities.iter().enumerate() {
            let here: Vec<&Resident> = residents
                .iter()
                .filter(|r| r.community == community.id && r.age >= 18)
                .collect();
            if here.is_empty() {
                continue;
            }
            let n = match (small, ci) {
                (true, _) => 1,
                (false, 0) => 3 + rng.below(3) as usize,
                _ => rng.below(2) as usize,
            };
            for _ in 0..n {
                let who = *rng.pick(&here);
                let Some(grid) = grid_of.get(&who.node_id).copied() else {
                    continue;
                };
                one_request(db, posts, community, grid, who, day, last, rng).await?;
                made += 1;
            }
        }
        requests::run_overdue(db, at(day, 23, 50)).await?;
        day += Duration::days(1);
    }
    Ok(made)
}

#[allow(clippy::too_many_arguments)]
async fn one_request(
    db: &Db,
    posts: &Posts,
    community: &Node,
    grid: i64,
    who: &Resident,
    day: Date,
    last: Date,
    rng: &mut Rng,
) -> Result<(), CliError> {
    let staff = posts.at(community.id);
    let worker = posts.at(grid);
    let (category, text) = *rng.pick(ASKS);
    let received = at(day, 8 + rng.below(11) as i64, rng.below(60) as i64);
    let channel = if rng.chance(55) {
        Channel::Hotline
    } else {
        Channel::Patrol
    };
    let phone = format!("13{}{:08}", 5 + rng.below(5), rng.below(100_000_000));
    let input = RequestInput {
        description: text,
        address: None,
        lat: None,
        long: None,
        reporter_name: None,
        reporter_phone: Some(&phone),
        phone_required: false,
    };
    let draft = RequestDraft::parse(&input).map_err(usage)?;
    let by = if channel == Channel::Patrol {
        &worker
    } else {
        &staff
    };
    let r = requests::create(db, by, who.node_id, category, channel, &draft, received).await?;
    let mut t = received + (20 + rng.below(60) as i64) * 60_000;
    let dispatch = Action::Dispatch {
        target: Target::Node(grid),
    };
    requests::transition(db, &staff, r.id, &dispatch, t).await?;
    t += (10 + rng.below(120) as i64) * 60_000;
    requests::transition(db, &worker, r.id, &Action::Accept, t).await?;
    t += (30 + rng.below(180) as i64) * 60_000;
    requests::transition(db, &worker, r.id, &Action::Start, t).await?;
    // Most are done within two days; complex ones take up to ten; those of the last days run
    // on into March.
    let days = match category {
        "complex" => 3 + rng.below(8) as i64,
        "emergency" => 0,
        _ => rng.below(3) as i64,
    };
    let done = (day + Duration::days(days)).max(day);
    let done = if done > last && rng.chance(50) {
        last + Duration::days(2)
    } else {
        done
    };
    let t = t.max(at(done, 17, rng.below(60) as i64));
    let outcome = rng.pick(OUTCOMES).to_string();
    requests::transition(db, &worker, r.id, &Action::Resolve { outcome }, t).await?;
    let rating = match rng.below(20) {
        0 => Rating::Dissatisfied,
        1..=3 => Rating::FairlySatisfied,
        _ => Rating::Satisfied,
    };
    let comment = String::new();
    let t = t + 3_600_000;
    let satisfied = rating.is_satisfied();
    // A satisfied rating closes the request; an unsatisfied one is explained and closed.
    requests::transition(db, &staff, r.id, &Action::Rate { rating, comment }, t).await?;
    if !satisfied {
        let note = "已向居民解释处理结果".to_owned();
        requests::transition(db, &staff, r.id, &Action::Close { note }, t + 600_000).await?;
    }
    Ok(())
}

/// Volunteers of early 2020 (志愿服务): in each community its staff form a team on 27 January,
/// register four outside volunteers with skills, and run two activities — deliveries for
/// households in quarantine and a mask-sorting afternoon — with sign-ups, attendance and
/// confirmed hours; one volunteer reports hours herself and waits for the organiser.
pub async fn volunteers_month(
    db: &Db,
    posts: &Posts,
    communities: &[(&CommunityPlan, Node)],
) -> Result<usize, CliError> {
    use linli_core::participation::volunteers::ActivityInput;
    use linli_store::participation::volunteers::{self as vol, VolunteerInput, Who};
    const PEOPLE: [(&str, &str); 4] = [
        ("扎西平措", "驾驶"),
        ("卓玛央金", "医疗"),
        ("和志强", "跑腿代购"),
        ("杨春梅", "心理"),
    ];
    let mut made = 0;
    for (ci, (plan, community)) in communities.iter().enumerate() {
        let staff = posts.at(community.id);
        let formed = at(date!(2020 - 01 - 27), 9, 0);
        let team = vol::create_team(
            db,
            &staff,
            community.id,
            &format!("{}志愿服务队", plan.name.trim_end_matches("社区")),
            None,
            formed,
        )
        .await?;
        let mut ids = Vec::new();
        for (k, (name, skill)) in PEOPLE.iter().enumerate() {
            let phone = format!("1378870{:04}", ci * 10 + k);
            let v = vol::create_volunteer(
                db,
                &staff,
                &VolunteerInput {
                    who: Who::Outside {
                        name,
                        phone: &phone,
                    },
                    node_id: Some(community.id),
                    skills: vec![(*skill).to_owned()],
                    availability: Some("疫情期间每天下午"),
                    weekdays: vec![],
                    team_ids: vec![team.id],
                },
                formed + k as i64 * 60_000,
            )
            .await?;
            ids.push(v.id);
            made += 1;
        }
        let activities = [
            (
                "为居家隔离户代购配送",
                date!(2020 - 02 - 03),
                vec![(Some("驾驶"), 1), (Some("跑腿代购"), 2)],
            ),
            ("分装防疫物资", date!(2020 - 02 - 10), vec![(None, 4)]),
        ];
        for (ai, (title, day, needs)) in activities.into_iter().enumerate() {
            let a = vol::create_activity(
                db,
                &staff,
                community.id,
                &ActivityInput {
                    title,
                    place: Some("社区居委会"),
                    starts_at: Some(at(day, 14, 0)),
                    ends_at: Some(at(day, 17, 0)),
                    description: None,
                    needs,
                },
                at(day - Duration::days(2), 10, 0),
            )
            .await?;
            for (k, v) in ids.iter().enumerate().take(3) {
                vol::sign_up(
                    db,
                    &staff,
                    a.id,
                    *v,
                    at(day - Duration::days(1), 9, k as i64),
                )
                .await?;
            }
            let after = at(day, 18, 0);
            vol::confirm_hours(db, &staff, a.id, ids[0], "3", after).await?;
            vol::confirm_hours(db, &staff, a.id, ids[1], "2.5", after).await?;
            if ai == 1 {
                // 和志强 reports his hours through the link; the organiser has not decided yet.
                vol::report_hours_by_code(
                    db,
                    &a.code,
                    &format!("1378870{:04}", ci * 10 + 2),
                    "2",
                    None,
                    after,
                )
                .await?;
            } else {
                vol::mark_absent(db, &staff, a.id, ids[2], after).await?;
            }
        }
    }
    Ok(made)
}
