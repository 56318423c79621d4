//! `linli demo`, its residents: about 25,000 persons in 里布嘎社区's buildings and village
//! groups and some 5,000 more in the two smaller communities (`--small`: three buildings of the
//! first grid of 里布嘎社区), in households of one to five
//! with a head, spouses, children and grandparents, a Shangri-La mix of ethnic groups, 户籍,
//! 常住 and 流动 residents, key-group tags and phones. They go in through the roster import
//! (`PersonImport`), one import per building, so dwellings and households are made as an
//! imported roster makes them. Deterministic: the same seed builds the same people.

use std::collections::HashSet;

use linli_core::kernel::clock;
use linli_core::kernel::idnumber::check_char;
use linli_core::registry::{PersonDraft, PersonInput};
use linli_core::{NodeKind, Scope};
use linli_store::registry::{ImportRow, OnDuplicate, PersonImport};
use linli_store::tree::{self, Node};
use linli_store::Db;

use super::CommunityPlan;
use crate::bench::Rng;
use crate::CliError;

/// What the residents' step built.
#[derive(Debug, Default)]
pub struct Residents {
    pub persons: usize,
    pub households: usize,
    pub dwellings: usize,
    /// Every resident, in the order they were registered.
    pub list: Vec<Resident>,
}

/// A registered resident, as the history step picks people.
#[derive(Debug, Clone)]
pub struct Resident {
    pub id: i64,
    /// The community they live in.
    pub community: i64,
    /// The building or village group.
    pub node_id: i64,
    /// The household's number in this build (members share it).
    pub household: usize,
    /// Age in 2020.
    pub age: i32,
    /// The division code of the ID number's hukou when it is not here (流动/常住).
    pub from: Option<&'static str>,
}

/// Ethnic groups of the community and their weights (Shangri-La: Tibetan, Han, Naxi, Lisu…).
const ETHNIC: [(&str, u64); 6] = [
    ("藏", 40),
    ("汉", 35),
    ("纳西", 10),
    ("傈僳", 6),
    ("白", 5),
    ("彝", 4),
];

const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "和", "木", "杜", "孙", "马", "罗",
    "段", "余", "鲁", "谷", "孔", "熊", "施", "朱", "胡", "郭", "何", "高", "林", "董", "蔡", "阿",
];
const HAN_MALE: &[&str] = &[
    "伟", "强", "磊", "军", "洋", "勇", "杰", "涛", "明", "超", "刚", "平", "建国", "志文", "斌",
    "辉", "鹏飞", "宇", "浩然", "子轩", "文华", "国庆", "永福", "家豪",
];
const HAN_FEMALE: &[&str] = &[
    "芳", "娜", "敏", "静", "丽", "艳", "娟", "秀英", "霞", "桂英", "玉兰", "萍", "红梅", "燕",
    "梦琪", "婷", "丽华", "雨桐", "欣怡", "梓涵", "春花", "金凤",
];
/// Tibetan names have no surname: two parts, the second one telling the gender more often.
const TIBETAN_ANY: &[&str] = &[
    "格桑", "此里", "扎西", "阿称", "七林", "鲁茸", "松吉", "农布", "白玛", "斯那", "达瓦", "尼玛",
];
const TIBETAN_MALE: &[&str] = &[
    "次仁", "多吉", "平措", "旺堆", "索朗", "洛桑", "品初", "都吉", "江村", "吾金",
];
const TIBETAN_FEMALE: &[&str] = &[
    "卓玛", "央金", "拉姆", "德吉", "曲珍", "永宗", "追玛", "此姆", "央宗", "取措",
];

/// Where a resident's hukou is: the division code of their ID number (issued where they
/// were born) and the category it gives them here.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Origin {
    /// 户籍: born here. Numbers issued before 香格里拉县 became a city (2014) start 533421.
    Local,
    /// 常住: hukou elsewhere in Yunnan, living here.
    Yunnan,
    /// 流动: hukou in another province.
    Elsewhere,
}

const YUNNAN: &[&str] = &["530102", "532901", "530702", "533422", "533423"];
/// Other provinces the floating residents come from; Hubei (42…) among them, as in 2020.
const ELSEWHERE: &[&str] = &[
    "510104", "511602", "500101", "513301", "540102", "420111", "421002", "430102", "610113",
    "440305", "330106", "420106",
];

const PHONE_PREFIXES: &[&str] = &[
    "139", "138", "137", "150", "151", "158", "187", "188", "135", "136", "152", "182", "183",
    "199", "177", "173", "133", "153", "180", "189",
];

/// The kinds of household and their weights: about 2.6 persons a household, as the
/// community's 9,623 households and ~25,000 residents give.
const KINDS: [u64; 8] = [8, 14, 12, 28, 12, 10, 12, 4];

/// One person to generate.
struct Spec {
    born: i32,
    male: bool,
    relation: &'static str,
    ethnic: &'static str,
    origin: Origin,
    region: &'static str,
    /// The family name it shares with the head (Han, Naxi, … families; not Tibetan ones).
    surname: Option<&'static str>,
    /// Lives alone (an elderly one is tagged 独居老人).
    alone: bool,
}

struct Generator<'r> {
    rng: &'r mut Rng,
    ids: HashSet<String>,
    today: time::Date,
    /// Where the community's own residents' hukou is (its street).
    hukou_here: String,
}

impl Generator<'_> {
    fn name(&mut self, ethnic: &str, male: bool, surname: Option<&str>) -> String {
        if ethnic == "藏" {
            let first = self.rng.pick(TIBETAN_ANY);
            let second = if male {
                self.rng.pick(TIBETAN_MALE)
            } else {
                self.rng.pick(TIBETAN_FEMALE)
            };
            return format!("{first}{second}");
        }
        let surname = match surname {
            Some(s) => s,
            None => *self.rng.pick(SURNAMES),
        };
        let names = if male { HAN_MALE } else { HAN_FEMALE };
        let given = self.rng.pick(names);
        // Two characters from the one-character names make most given names distinct.
        let second = match given.chars().count() == 1 && self.rng.chance(50) {
            true => *self.rng.pick(names),
            false => "",
        };
        let second = if second.chars().count() == 1 {
            second
        } else {
            ""
        };
        format!("{surname}{given}{second}")
    }

    /// A valid resident ID number, unique in the demo: region, birth date, a sequence whose
    /// last digit is odd for men, the check character.
    fn id_number(&mut self, region: &str, born: i32, male: bool) -> (String, String) {
        let month = 1 + self.rng.below(12);
        let day = 1 + self.rng.below(28);
        let birth = format!("{born:04}-{month:02}-{day:02}");
        loop {
            let seq = self.rng.below(500) * 2 + u64::from(male);
            let body = format!("{region}{born:04}{month:02}{day:02}{seq:03}");
            let id = format!("{body}{}", check_char(body.as_bytes()));
            if self.ids.insert(id.clone()) {
                return (id, birth);
            }
        }
    }

    fn phone(&mut self) -> String {
        let prefix = self.rng.pick(PHONE_PREFIXES);
        format!("{prefix}{:08}", self.rng.below(100_000_000))
    }

    fn row(&mut self, row: usize, s: &Spec, address: &str) -> Result<ImportRow, CliError> {
        let age = 2020 - s.born;
        let name = self.name(s.ethnic, s.male, s.surname);
        let region = match s.origin {
            Origin::Local if s.born < 2014 => "533421",
            Origin::Local => "533401",
            _ => s.region,
        };
        let (id, birth) = self.id_number(region, s.born, s.male);
        let phone =
            (age >= 16 && self.rng.chance(if age >= 80 { 50 } else { 95 })).then(|| self.phone());
        let hukou = match s.origin {
            Origin::Local => self.hukou_here.clone(),
            _ => linli_core::kernel::division::full_name(s.region).unwrap_or_default(),
        };
        let category = match s.origin {
            Origin::Local => "registered",
            Origin::Yunnan => "resident",
            Origin::Elsewhere => "floating",
        };
        let mut tags = Vec::new();
        if s.alone && age >= 60 {
            tags.push("独居老人".to_owned());
        }
        if age >= 25 && self.rng.chance(6) {
            tags.push("党员".to_owned());
        }
        if s.relation == "head" && self.rng.chance(3) {
            tags.push("低保".to_owned());
        }
        if self.rng.chance(2) {
            tags.push("残疾".to_owned());
        }
        if s.male && (35..=70).contains(&age) && self.rng.chance(4) {
            tags.push("退役军人".to_owned());
        }
        if age >= 18 && self.rng.below(1000) < 2 {
            tags.push("社区矫正".to_owned());
        }
        let input = PersonInput {
            name: &name,
            birth_date: Some(&birth),
            ethnic_group: Some(s.ethnic),
            id_number: Some(&id),
            phone: phone.as_deref(),
            hukou_address: Some(&hukou),
            category: Some(category),
            tags: &tags,
            relation: Some(s.relation),
            address: Some(address),
            ..Default::default()
        };
        let (draft, warnings) = PersonDraft::parse(&input, self.today)
            .map_err(|e| CliError::Usage(format!("demo person {name}: {e:?}")))?;
        Ok(ImportRow {
            row,
            draft,
            warnings,
            category_given: true,
        })
    }

    /// A whole number from `lo` to `hi`, both included.
    fn years(&mut self, lo: i32, hi: i32) -> i32 {
        lo + self.rng.below((hi - lo + 1) as u64) as i32
    }

    /// The members of one household, head first.
    fn household(&mut self) -> Vec<Spec> {
        let kind = self.rng.weighted(&KINDS);
        let ethnic = ETHNIC[self.rng.weighted(&ETHNIC.map(|(_, w)| w))].0;
        let origin = match kind {
            6 | 7 => Origin::Elsewhere,
            _ if self.rng.chance(15) => Origin::Yunnan,
            _ => Origin::Local,
        };
        let region = match origin {
            Origin::Local => "533401",
            Origin::Yunnan => self.rng.pick(YUNNAN),
            Origin::Elsewhere => self.rng.pick(ELSEWHERE),
        };
        let head_male = self.rng.chance(60);
        let head_age = match kind {
            0 => self.years(70, 92),
            1 => self.years(60, 85),
            2 => self.years(24, 58),
            3 | 4 => self.years(28, 55),
            5 => self.years(35, 52),
            6 => self.years(19, 40),
            _ => self.years(22, 40),
        };
        let head_born = 2020 - head_age;
        let surname = Some(*self.rng.pick(SURNAMES));
        let alone = matches!(kind, 0 | 6);
        let person = |born: i32, male: bool, relation: &'static str| Spec {
            born,
            male,
            relation,
            ethnic,
            origin,
            region,
            surname: match relation {
                "spouse" | "mother" => None,
                _ => surname,
            },
            alone,
        };
        let mut out = vec![person(head_born, head_male, "head")];
        if !matches!(kind, 0 | 6) {
            let spouse_born = (head_born + self.years(-4, 4)).min(2020 - 19);
            out.push(person(spouse_born, !head_male, "spouse"));
        }
        let children = match kind {
            3 => 1,
            4 => 2,
            5 => 1 + i32::from(self.rng.chance(50)),
            7 => i32::from(self.rng.chance(60)),
            _ => 0,
        };
        for _ in 0..children {
            let born = (head_born + 22 + self.rng.below(14) as i32).min(2019);
            let male = self.rng.chance(51);
            out.push(person(born, male, if male { "son" } else { "daughter" }));
        }
        if kind == 5 {
            let born = head_born - 24 - self.rng.below(10) as i32;
            let male = self.rng.chance(40);
            out.push(person(born, male, if male { "father" } else { "mother" }));
        }
        out
    }
}

/// Where a household lives: `3栋2单元501室` in a building (two rooms a floor, six floors a
/// unit), `12号` in a village group.
fn address(home: &Node, k: usize) -> String {
    if home.kind == NodeKind::Building {
        let unit = k / 12 + 1;
        let floor = (k % 12) / 2 + 1;
        let room = k % 2 + 1;
        format!("{}{unit}单元{floor}0{room}室", home.name)
    } else {
        format!("{}号", k + 1)
    }
}

/// Fills the communities' homes with residents: every building and village group, or with
/// `small` the first three buildings of the first grid of the first community.
pub async fn populate(
    db: &Db,
    communities: &[(&CommunityPlan, Node)],
    small: bool,
    rng: &mut Rng,
) -> Result<Residents, CliError> {
    let mut g = Generator {
        rng,
        ids: HashSet::new(),
        today: clock::today(),
        hukou_here: String::new(),
    };
    let mut made = Residents::default();
    for (plan, community) in communities {
        g.hukou_here = format!("云南省迪庆藏族自治州香格里拉市{}", plan.street.0);
        populate_one(db, community, small, &mut g, &mut made).await?;
        if small {
            break;
        }
    }
    Ok(made)
}

async fn populate_one(
    db: &Db,
    community: &Node,
    small: bool,
    g: &mut Generator<'_>,
    made: &mut Residents,
) -> Result<(), CliError> {
    let op = Scope::operator();
    let nodes = tree::subtree(db, &op, Some(community.id)).await?;
    let mut homes: Vec<(&Node, i64)> = Vec::new();
    for grid in nodes.iter().filter(|n| n.kind == NodeKind::Grid) {
        let under: Vec<&Node> = nodes
            .iter()
            .filter(|n| n.parent_id == Some(grid.id))
            .filter(|n| matches!(n.kind, NodeKind::Building | NodeKind::Compound))
            .collect();
        let total = grid.household_estimate.unwrap_or(0);
        let split = super::split_evenly(total, under.len().max(1) as i64);
        homes.extend(under.into_iter().zip(split));
        if small {
            homes.truncate(3);
            break;
        }
    }
    let now = super::opening_ms();
    let mut household = made.list.last().map_or(0, |r| r.household);
    for (home, households) in homes {
        let mut rows = Vec::new();
        let mut meta = Vec::new();
        for k in 0..households as usize {
            let at = address(home, k);
            household += 1;
            for spec in g.household() {
                let row = g.row(rows.len() + 1, &spec, &at)?;
                rows.push(row);
                meta.push(Resident {
                    id: 0,
                    community: community.id,
                    node_id: home.id,
                    household,
                    age: 2020 - spec.born,
                    from: (spec.origin != Origin::Local).then_some(spec.region),
                });
            }
        }
        let count = rows.len();
        let mut job = PersonImport::begin(db, &op, home.id, OnDuplicate::Fail).await?;
        for (row, id) in job.add(rows, now).await? {
            if let Some(m) = meta.get_mut(row - 1) {
                m.id = id;
            }
        }
        made.list.extend(meta.into_iter().filter(|m| m.id > 0));
        let outcome = job
            .commit("演示数据", serde_json::json!({ "to_store": count }), now)
            .await?;
        made.persons += outcome.stored_count;
        made.households += outcome.households_created;
        made.dwellings += outcome.dwellings_created;
    }
    Ok(())
}
