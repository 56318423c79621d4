//! The resident registry's rules: names and their pinyin, relations to the head of household,
//! population categories, ethnic groups, states, and dwelling addresses (3栋2单元501室).

pub mod age;
pub mod buildings;
pub mod import_job;
pub mod limits;
pub mod roster;
pub mod sheet;

use std::fmt;

use pinyin::ToPinyin;
use serde::{Deserialize, Serialize};

use crate::labelled;
use crate::CoreError;

labelled! {
    /// A member's relation to the head of the household.
    #[derive(Hash, Deserialize, strum::Display)]
    pub enum Relation: "relation", FromStr {
        #[strum(serialize = "head", props(zh = "户主"))]
        Head,
        #[strum(serialize = "spouse", props(zh = "配偶"))]
        Spouse,
        #[strum(serialize = "son", props(zh = "子"))]
        Son,
        #[strum(serialize = "daughter", props(zh = "女"))]
        Daughter,
        #[strum(serialize = "father", props(zh = "父亲"))]
        Father,
        #[strum(serialize = "mother", props(zh = "母亲"))]
        Mother,
        #[strum(serialize = "grandson", props(zh = "孙子"))]
        Grandson,
        #[strum(serialize = "granddaughter", props(zh = "孙女"))]
        Granddaughter,
        #[strum(serialize = "other", props(zh = "其他"))]
        Other,
    }
}

labelled! {
    /// Residence type (人员类别): where a person's hukou is and where they live. Registered
    /// here and living here, registered here but living elsewhere (人户分离), hukou elsewhere
    /// and living here for long (寄住), floating, or from outside the mainland (境外人员).
    /// `short` is the label of a narrow column.
    #[derive(Hash, Deserialize, strum::Display)]
    pub enum Category: "category", FromStr {
        #[strum(
            serialize = "registered",
            props(
                zh = "户籍在本地且常住",
                short = "户籍常住",
                aliases = "户籍常住|户籍人口|户籍|户籍在本地常住|人户一致"
            )
        )]
        Registered,
        #[strum(
            serialize = "registered_away",
            props(
                zh = "人户分离（户籍在本地、不在本地居住）",
                short = "人户分离",
                aliases = "人户分离|户在人不在|户籍在本地不常住|户籍不常住|空挂户"
            )
        )]
        RegisteredAway,
        #[strum(
            serialize = "resident",
            props(
                zh = "寄住人口（户籍在外、长期居住）",
                short = "寄住",
                aliases = "寄住人口|寄住|常住人口|常住|人在户不在|户籍在外常住"
            )
        )]
        Resident,
        #[strum(
            serialize = "floating",
            props(
                zh = "流动人口",
                short = "流动",
                aliases = "流动|外来人口|暂住人口|暂住"
            )
        )]
        Floating,
        #[strum(
            serialize = "foreign",
            props(
                zh = "境外人员",
                short = "境外",
                aliases = "境外|外籍|外籍人员|外国人|港澳台|港澳台人员|港澳台居民|境外人士"
            )
        )]
        Foreign,
    }
}

impl Category {
    /// The label of a narrow column (户籍常住, 人户分离, 寄住, 流动, 境外).
    pub fn short_label(self) -> &'static str {
        use crate::kernel::labels::Labelled;
        use strum::EnumProperty;
        self.get_str("short").unwrap_or_else(|| self.label_zh())
    }
}

/// 人户一致率, the one rule: of the persons registered here (户籍在本地), the share who also
/// live here — `registered ÷ (registered + registered_away)`. `None` when nobody is registered
/// here (no rate, rather than 0 % or 100 %).
pub fn consistency_rate(registered: i64, registered_away: i64) -> Option<f64> {
    let all = registered + registered_away;
    (all > 0).then(|| registered as f64 / all as f64)
}

/// Who a room's figures count (issue 19 item 4), the one rule for the rooms list and the room
/// page alike: a person in the registry (在册; not away, moved out or dead) lives in their room
/// unless their hukou is here and they live elsewhere (人户分离).
pub fn lives_in_room(state: PersonState, category: Category) -> bool {
    state == PersonState::Active && category != Category::RegisteredAway
}

/// Whose hukou a room's figures count: a person in the registry (在册) registered here (户籍在本地),
/// living in the room or not.
pub fn registered_in_room(state: PersonState, category: Category) -> bool {
    state == PersonState::Active
        && matches!(category, Category::Registered | Category::RegisteredAway)
}

/// A room's two figures, counted by [`lives_in_room`] and [`registered_in_room`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RoomFigures {
    /// Persons who live in the room.
    pub living: i64,
    /// Persons whose hukou is in the room.
    pub registered: i64,
}

impl RoomFigures {
    /// The figures of a room with these persons (state and category of each).
    pub fn of(persons: impl IntoIterator<Item = (PersonState, Category)>) -> Self {
        let mut f = RoomFigures::default();
        for (state, category) in persons {
            f.living += i64::from(lives_in_room(state, category));
            f.registered += i64::from(registered_in_room(state, category));
        }
        f
    }
}

labelled! {
    /// Where a person stands in the registry. Records are never deleted by users. `away`
    /// (暂时外出) is still in the registry and counted here, living elsewhere for a while.
    #[derive(Hash, Deserialize, strum::Display, Default)]
    pub enum PersonState: "state", FromStr {
        #[default]
        #[strum(serialize = "active", props(zh = "在册"))]
        Active,
        #[strum(serialize = "away", props(zh = "暂时外出", aliases = "外出"))]
        Away,
        #[strum(serialize = "moved_out", props(zh = "迁出"))]
        MovedOut,
        #[strum(serialize = "deceased", props(zh = "死亡"))]
        Deceased,
    }
}

impl PersonState {
    /// Whether the person belongs here and is counted (在册 or 暂时外出).
    pub fn counted(self) -> bool {
        matches!(self, PersonState::Active | PersonState::Away)
    }
}

labelled! {
    /// A family household or a collective one (a dormitory, a care home).
    #[derive(Hash, Deserialize, strum::Display)]
    pub enum HouseholdKind: "household_kind", FromStr {
        #[strum(serialize = "family", props(zh = "家庭户"))]
        Family,
        #[strum(serialize = "collective", props(zh = "集体户"))]
        Collective,
    }
}

/// The 56 ethnic groups of GB/T 3304, by their Chinese names (without 族).
const ETHNIC_GROUPS: [&str; 56] = [
    "汉",
    "蒙古",
    "回",
    "藏",
    "维吾尔",
    "苗",
    "彝",
    "壮",
    "布依",
    "朝鲜",
    "满",
    "侗",
    "瑶",
    "白",
    "土家",
    "哈尼",
    "哈萨克",
    "傣",
    "黎",
    "傈僳",
    "佤",
    "畲",
    "高山",
    "拉祜",
    "水",
    "东乡",
    "纳西",
    "景颇",
    "柯尔克孜",
    "土",
    "达斡尔",
    "仫佬",
    "羌",
    "布朗",
    "撒拉",
    "毛南",
    "仡佬",
    "锡伯",
    "阿昌",
    "普米",
    "塔吉克",
    "怒",
    "乌孜别克",
    "俄罗斯",
    "鄂温克",
    "德昂",
    "保安",
    "裕固",
    "京",
    "塔塔尔",
    "独龙",
    "鄂伦春",
    "赫哲",
    "门巴",
    "珞巴",
    "基诺",
];

/// An ethnic group, stored as its full name (藏族); `其他` and `外国血统` are accepted too.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct EthnicGroup(String);

impl EthnicGroup {
    pub fn parse(raw: &str) -> Result<EthnicGroup, CoreError> {
        let s = raw.trim();
        if s == "其他" || s == "外国血统" || s == "外国血统中国籍人士" {
            return Ok(EthnicGroup(s.to_owned()));
        }
        let bare = s.strip_suffix('族').unwrap_or(s);
        if ETHNIC_GROUPS.contains(&bare) {
            return Ok(EthnicGroup(format!("{bare}族")));
        }
        Err(CoreError::invalid(
            "ethnic_group",
            format!(
                "「{s}」不是 56 个民族之一：应填写民族名称（如「藏族」），或填「其他」「外国血统」"
            ),
        ))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A person's name: 1 to 50 characters of letters (any script), `·` for minority and foreign
/// names, and spaces between Latin words.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct PersonName(String);

impl PersonName {
    pub fn parse(raw: &str) -> Result<PersonName, CoreError> {
        // Collapse inner whitespace; unify the middle dots people type (· • ・ .).
        let s: String = raw
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .chars()
            .map(|c| {
                if matches!(c, '•' | '・' | '.' | '．' | '∙') {
                    '·'
                } else {
                    c
                }
            })
            .collect();
        let n = s.chars().count();
        if n == 0 {
            return Err(CoreError::invalid("name", "请填写姓名"));
        }
        if n > 50 {
            return Err(CoreError::invalid("name", "姓名不能超过 50 个字"));
        }
        if let Some(bad) = s
            .chars()
            .find(|c| !(c.is_alphabetic() || *c == '·' || *c == ' '))
        {
            return Err(CoreError::invalid(
                "name",
                format!("姓名中不能含有「{bad}」：只能填写文字、间隔号「·」和空格"),
            ));
        }
        Ok(PersonName(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name in toneless pinyin without separators (`zhangsan`) and its initials (`zs`), for
    /// search. Latin letters are kept (lowercased); other characters are skipped.
    pub fn pinyin(&self) -> (String, String) {
        let mut full = String::new();
        let mut initials = String::new();
        for (c, p) in self.0.chars().zip(self.0.as_str().to_pinyin()) {
            match p {
                Some(p) => {
                    full.push_str(p.plain());
                    initials.push_str(p.first_letter());
                }
                None if c.is_ascii_alphabetic() => {
                    let l = c.to_ascii_lowercase();
                    full.push(l);
                    initials.push(l);
                }
                None => {}
            }
        }
        (full, initials)
    }
}

/// Where a household lives inside its building node: building, unit, room. Each part is
/// optional but a room is needed (a bungalow in a village group is just a house number).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct DwellingAddress {
    pub building: String,
    pub unit: String,
    pub room: String,
}

impl DwellingAddress {
    /// From separate columns: `3` / `3栋`, `2` / `2单元`, `501` / `501室`.
    pub fn from_parts(
        building: &str,
        unit: &str,
        room: &str,
    ) -> Result<DwellingAddress, CoreError> {
        let building = address_part(building, BUILDING_SUFFIXES);
        let unit = address_part(unit, UNIT_SUFFIXES);
        let room = address_part(room, &["室", "号", "户"]);
        if room.is_empty() {
            return Err(CoreError::invalid("room", "请填写房号或门牌号"));
        }
        for (field, label, v) in [
            ("building", "楼栋号", &building),
            ("unit", "单元号", &unit),
            ("room", "房号", &room),
        ] {
            // Numbers and letters only (3, 12A, B-2): a Chinese word here means an address
            // prefix was taken for a building (「里布嘎社区11栋」).
            if v.len() > 20 || !v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                return Err(CoreError::invalid(
                    field,
                    format!("「{v}」不是有效的{label}（最多 20 个字符，只能含数字、字母和「-」）"),
                ));
            }
        }
        Ok(DwellingAddress {
            building,
            unit,
            room,
        })
    }

    /// From one string as offices write it: `3栋2单元501室`, `3幢2单元501`, `12号楼501`,
    /// `3-2-501`, or just `501`.
    pub fn parse(raw: &str) -> Result<DwellingAddress, CoreError> {
        let s: String = raw
            .trim()
            .chars()
            .map(fullwidth_to_ascii)
            .filter(|c| !c.is_whitespace())
            .collect();
        if s.is_empty() {
            return Err(CoreError::invalid("address", "请填写住址"));
        }
        let dashed: Vec<&str> = s.split('-').collect();
        if dashed.len() == 3
            && dashed
                .iter()
                .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric()))
        {
            return DwellingAddress::from_parts(dashed[0], dashed[1], dashed[2]);
        }
        let mut rest = s.as_str();
        let mut building = "";
        for marker in ["号楼", "栋", "幢"] {
            if let Some(i) = rest.find(marker) {
                building = &rest[..i];
                rest = &rest[i + marker.len()..];
                break;
            }
        }
        let mut unit = "";
        if let Some(i) = rest.find("单元") {
            unit = &rest[..i];
            rest = &rest[i + "单元".len()..];
        }
        DwellingAddress::from_parts(building, unit, rest)
            .map_err(|e| CoreError::invalid("address", format!("「{raw}」：{}", e.message)))
    }

    /// A key that is equal for equal addresses, for matching.
    pub fn key(&self) -> String {
        format!(
            "{}|{}|{}",
            self.building.to_uppercase(),
            self.unit.to_uppercase(),
            self.room.to_uppercase()
        )
    }
}

impl fmt::Display for DwellingAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.building.is_empty() {
            write!(f, "{}栋", self.building)?;
        }
        if !self.unit.is_empty() {
            write!(f, "{}单元", self.unit)?;
        }
        if self.building.is_empty() && self.unit.is_empty() {
            write!(f, "{}号", self.room)
        } else {
            write!(f, "{}室", self.room)
        }
    }
}

/// The words after a building's number (3栋, 12号楼, 5幢) and a unit's (2单元).
pub(crate) const BUILDING_SUFFIXES: &[&str] = &["号楼", "栋", "幢", "楼"];
pub(crate) const UNIT_SUFFIXES: &[&str] = &["单元"];

/// One part of an address as typed, without its suffix word and in half-width characters.
pub(crate) fn address_part(s: &str, suffixes: &[&str]) -> String {
    let t: String = s.trim().chars().map(fullwidth_to_ascii).collect();
    let t = suffixes.iter().fold(t, |acc, suf| {
        acc.strip_suffix(suf).map(str::to_owned).unwrap_or(acc)
    });
    t.trim().to_owned()
}

fn fullwidth_to_ascii(c: char) -> char {
    match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        '\u{3000}' => ' ',
        _ => c,
    }
}

/// A key-group tag (独居老人, 低保, …): 1 to 20 characters, no punctuation but `-`.
pub fn parse_tag(raw: &str) -> Result<String, CoreError> {
    let t = raw.trim();
    let n = t.chars().count();
    if n == 0 || n > 20 || !t.chars().all(|c| c.is_alphanumeric() || c == '-') {
        return Err(CoreError::invalid(
            "tags",
            format!("「{t}」不是有效的标签：标签为 1 至 20 个字，只能含文字、数字和「-」"),
        ));
    }
    Ok(t.to_owned())
}

/// A person's state after an edit, with the dates and place that go with it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StateChange {
    pub state: PersonState,
    /// `YYYY-MM-DD`, for a person who moved out.
    pub moved_out_on: Option<String>,
    pub moved_to: Option<String>,
    /// `YYYY-MM-DD`, for a person who died.
    pub deceased_on: Option<String>,
    /// `YYYY-MM-DD`, since when a person is away (暂时外出).
    pub away_since: Option<String>,
    /// Where the person is while away (work, study, care: a place as typed).
    pub away_to: Option<String>,
}

/// The dates and places that go with a state, as typed or stored (an empty one is missing).
#[derive(Debug, Clone, Copy, Default)]
pub struct StateFields<'a> {
    pub moved_out_on: Option<&'a str>,
    pub moved_to: Option<&'a str>,
    pub deceased_on: Option<&'a str>,
    pub away_since: Option<&'a str>,
    pub away_to: Option<&'a str>,
}

/// The rule for a person's state: moving out needs a date and where to, a death needs a date,
/// being away (暂时外出) needs the date it began and where to; no date may be later than
/// `today`; an active person keeps none of them. `state` is the new state as typed (`None`:
/// `current` stays); `fields` are the edited values, or the stored ones where the edit left
/// them out. Every broken rule is reported at once.
pub fn state_change(
    state: Option<&str>,
    current: PersonState,
    fields: StateFields<'_>,
    today: time::Date,
) -> Result<StateChange, Vec<CoreError>> {
    let mut errors = Vec::new();
    let state = match state {
        Some(s) => s
            .parse::<PersonState>()
            .map_err(|e| errors.push(e))
            .unwrap_or(current),
        None => current,
    };
    let mut date = |field: &str, raw: Option<&str>, missing: &str| -> Option<String> {
        let Some(raw) = raw.filter(|s| !s.trim().is_empty()) else {
            errors.push(CoreError::invalid(field, missing));
            return None;
        };
        match crate::kernel::clock::parse_date(field, raw) {
            Ok(d) if d > today => {
                errors.push(CoreError::invalid(field, "日期不能晚于今天"));
                None
            }
            Ok(d) => Some(crate::kernel::clock::format_date(d)),
            Err(e) => {
                errors.push(e);
                None
            }
        }
    };
    let place = |raw: Option<&str>| raw.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    let mut change = StateChange {
        state,
        ..StateChange::default()
    };
    match state {
        PersonState::Active => {}
        PersonState::Away => {
            change.away_since = date("away_since", fields.away_since, "暂时外出须填写外出日期");
            change.away_to = place(fields.away_to);
            if change.away_to.is_none() {
                errors.push(CoreError::invalid("away_to", "暂时外出须填写去向"));
            }
        }
        PersonState::MovedOut => {
            change.moved_out_on = date("moved_out_on", fields.moved_out_on, "迁出须填写迁出日期");
            change.moved_to = place(fields.moved_to);
            if change.moved_to.is_none() {
                errors.push(CoreError::invalid("moved_to", "迁出须填写迁往地"));
            }
        }
        PersonState::Deceased => {
            change.deceased_on = date("deceased_on", fields.deceased_on, "死亡须填写死亡日期");
        }
    }
    if errors.is_empty() {
        Ok(change)
    } else {
        Err(errors)
    }
}

/// The tags a fresh database starts with (an admin edits the list).
pub const DEFAULT_TAGS: [&str; 6] = ["独居老人", "低保", "残疾", "党员", "退役军人", "社区矫正"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_room_counts_who_lives_there_and_whose_hukou_is_there() {
        use Category::*;
        use PersonState::*;
        let f = RoomFigures::of([
            (Active, Registered),
            (Active, RegisteredAway),
            (Active, Resident),
            (Active, Floating),
            (Active, Foreign),
            (Away, Registered),
            (MovedOut, Floating),
            (Deceased, Registered),
        ]);
        assert_eq!(
            f,
            RoomFigures {
                living: 4,
                registered: 2
            }
        );
    }

    #[test]
    fn names_get_pinyin_and_initials() {
        let n = PersonName::parse(" 张三 ").unwrap();
        assert_eq!(n.as_str(), "张三");
        assert_eq!(n.pinyin(), ("zhangsan".to_owned(), "zs".to_owned()));
        let tibetan = PersonName::parse("扎西•多吉").unwrap();
        assert_eq!(tibetan.as_str(), "扎西·多吉");
        assert_eq!(tibetan.pinyin().1, "zxdj");
        let latin = PersonName::parse("Anna  Li").unwrap();
        assert_eq!(latin.as_str(), "Anna Li");
        assert_eq!(latin.pinyin().0, "annali");
    }

    #[test]
    fn bad_names_are_refused() {
        assert!(PersonName::parse("").is_err());
        assert!(PersonName::parse("张3").is_err());
        assert!(PersonName::parse("张三;DROP").is_err());
        assert!(PersonName::parse(&"张".repeat(51)).is_err());
    }

    #[test]
    fn enums_take_code_names_or_chinese_labels() {
        assert_eq!("户主".parse::<Relation>().unwrap(), Relation::Head);
        assert_eq!("spouse".parse::<Relation>().unwrap(), Relation::Spouse);
        assert_eq!("流动人口".parse::<Category>().unwrap(), Category::Floating);
        let e = "boss".parse::<Relation>().unwrap_err();
        assert_eq!(e.field, "relation");
        assert!(e.message.contains("户主"));
    }

    #[test]
    fn ethnic_groups_are_the_56() {
        assert_eq!(EthnicGroup::parse("藏").unwrap().as_str(), "藏族");
        assert_eq!(EthnicGroup::parse("纳西族").unwrap().as_str(), "纳西族");
        assert!(EthnicGroup::parse("火星族").is_err());
        assert_eq!(ETHNIC_GROUPS.len(), 56);
    }

    #[test]
    fn addresses_parse_as_offices_write_them() {
        let a = DwellingAddress::parse("3栋2单元501室").unwrap();
        assert_eq!(
            (a.building.as_str(), a.unit.as_str(), a.room.as_str()),
            ("3", "2", "501")
        );
        assert_eq!(a.to_string(), "3栋2单元501室");
        assert_eq!(DwellingAddress::parse("3幢2单元501").unwrap(), a);
        assert_eq!(DwellingAddress::parse("3-2-501").unwrap(), a);
        assert_eq!(DwellingAddress::parse("３栋２单元５０１室").unwrap(), a);
        assert_eq!(
            DwellingAddress::from_parts("3栋", "2单元", "501室").unwrap(),
            a
        );
        let house = DwellingAddress::parse("17").unwrap();
        assert_eq!(house.to_string(), "17号");
        assert_eq!(DwellingAddress::parse("12号楼501").unwrap().building, "12");
        assert!(DwellingAddress::parse("3栋2单元").is_err());
        assert!(DwellingAddress::parse("里布嘎社区11栋2单元1301室").is_err());
        assert!(DwellingAddress::parse("云南省昆明市五华区华山街道").is_err());
        assert_eq!(
            DwellingAddress::parse("12A栋B-2单元301室")
                .unwrap()
                .building,
            "12A"
        );
        assert!(DwellingAddress::parse("").is_err());
    }

    #[test]
    fn tags_are_short_words() {
        assert_eq!(parse_tag(" 独居老人 ").unwrap(), "独居老人");
        assert!(parse_tag("a,b").is_err());
        assert!(parse_tag("").is_err());
    }
}

/// The raw fields of a person, as typed into a form, an API body or a roster row.
#[derive(Debug, Clone, Default)]
pub struct PersonInput<'a> {
    pub name: &'a str,
    pub gender: Option<&'a str>,
    pub birth_date: Option<&'a str>,
    pub ethnic_group: Option<&'a str>,
    /// `resident_id` when absent.
    pub id_kind: Option<&'a str>,
    pub id_number: Option<&'a str>,
    pub phone: Option<&'a str>,
    pub hukou_address: Option<&'a str>,
    pub category: Option<&'a str>,
    pub tags: &'a [String],
    pub relation: Option<&'a str>,
    /// `3栋2单元501室`
    pub address: Option<&'a str>,
}

/// A person's fields, every one parsed. Built by [`PersonDraft::parse`].
#[derive(Debug, Clone)]
pub struct PersonDraft {
    pub name: PersonName,
    pub gender: Option<crate::Gender>,
    pub birth_date: Option<time::Date>,
    pub ethnic_group: Option<EthnicGroup>,
    pub document: Option<crate::IdDocument>,
    pub phone: Option<crate::Phone>,
    pub hukou_address: Option<String>,
    pub category: Category,
    pub tags: Vec<String>,
    pub relation: Option<Relation>,
    pub address: Option<DwellingAddress>,
}

fn keep<T>(errors: &mut Vec<CoreError>, r: Result<T, CoreError>) -> Option<T> {
    r.map_err(|e| errors.push(e)).ok()
}

fn blank(v: Option<&str>) -> Option<&str> {
    v.map(str::trim).filter(|s| !s.is_empty())
}

impl PersonDraft {
    /// Parses every field, reporting all errors at once. On success, also returns warnings:
    /// entered values that disagree with the ID number (kept as entered, never overwritten).
    /// Gender and birth date missing from the input are taken from a resident ID number.
    pub fn parse(
        input: &PersonInput<'_>,
        today: time::Date,
    ) -> Result<(PersonDraft, Vec<CoreError>), Vec<CoreError>> {
        let mut errors = Vec::new();
        let name = keep(&mut errors, PersonName::parse(input.name));
        let gender =
            blank(input.gender).and_then(|g| keep(&mut errors, g.parse::<crate::Gender>()));
        let birth_date = blank(input.birth_date).and_then(|d| {
            keep(
                &mut errors,
                crate::kernel::clock::parse_date("birth_date", d),
            )
        });
        let ethnic_group =
            blank(input.ethnic_group).and_then(|e| keep(&mut errors, EthnicGroup::parse(e)));
        let id_kind = match blank(input.id_kind) {
            Some(k) => keep(
                &mut errors,
                k.parse::<crate::DocumentKind>()
                    .map_err(|e| CoreError::invalid("id_kind", e.message)),
            ),
            None => Some(crate::DocumentKind::ResidentId),
        };
        let document = match (blank(input.id_number), id_kind) {
            (Some(raw), Some(kind)) => {
                keep(&mut errors, crate::IdDocument::parse(kind, raw, today))
            }
            _ => None,
        };
        let phone = blank(input.phone).and_then(|p| keep(&mut errors, crate::Phone::parse(p)));
        let hukou_address = blank(input.hukou_address).map(str::to_owned);
        if hukou_address
            .as_deref()
            .is_some_and(|a| a.chars().count() > 200)
        {
            errors.push(CoreError::invalid(
                "hukou_address",
                "户籍地址不能超过 200 个字",
            ));
        }
        let category = match blank(input.category) {
            Some(c) => keep(&mut errors, c.parse::<Category>()),
            None => Some(Category::Resident),
        };
        let mut tags = Vec::new();
        for t in input.tags {
            if let Ok(t) = parse_tag(t).map_err(|e| errors.push(e)) {
                if !tags.contains(&t) {
                    tags.push(t);
                }
            }
        }
        let relation = blank(input.relation)
            .and_then(|r| r.parse::<Relation>().map_err(|e| errors.push(e)).ok());
        let address = blank(input.address)
            .and_then(|a| DwellingAddress::parse(a).map_err(|e| errors.push(e)).ok());
        if let Some(b) = birth_date {
            if b > today {
                errors.push(CoreError::invalid("birth_date", "出生日期不能晚于今天"));
            }
        }
        let (Some(name), Some(category), true) = (name, category, errors.is_empty()) else {
            return Err(errors);
        };
        let resident = document.as_ref().and_then(crate::IdDocument::resident);
        let warnings = resident
            .map(|r| r.conflicts(birth_date, gender))
            .unwrap_or_default();
        let draft = PersonDraft {
            gender: gender.or_else(|| resident.map(crate::ResidentId::gender)),
            birth_date: birth_date.or_else(|| resident.map(crate::ResidentId::birth_date)),
            name,
            ethnic_group,
            document,
            phone,
            hukou_address,
            category,
            tags,
            relation,
            address,
        };
        Ok((draft, warnings))
    }
}

#[cfg(test)]
mod state_tests {
    use super::*;
    use time::macros::date;

    const TODAY: time::Date = date!(2026 - 11 - 23);

    /// [`state_change`] with the moving-out and death fields only.
    fn change(
        typed: Option<&str>,
        current: PersonState,
        moved_out_on: Option<&str>,
        moved_to: Option<&str>,
        deceased_on: Option<&str>,
        today: time::Date,
    ) -> Result<StateChange, Vec<CoreError>> {
        let fields = StateFields {
            moved_out_on,
            moved_to,
            deceased_on,
            ..StateFields::default()
        };
        state_change(typed, current, fields, today)
    }

    fn fields(r: Result<StateChange, Vec<CoreError>>) -> Vec<(String, String)> {
        r.unwrap_err()
            .into_iter()
            .map(|e| (e.field, e.message))
            .collect()
    }

    #[test]
    fn each_state_asks_for_its_own_dates() {
        use PersonState::*;
        // (typed state, current, moved out on, moved to, deceased on) → state and its dates
        let ok = [
            (
                None,
                Active,
                Some("2026-01-01"),
                Some("昆明"),
                None,
                Active,
                None,
                None,
                None,
            ),
            (
                Some("moved_out"),
                Active,
                Some("2026-11-23"),
                Some(" 昆明 "),
                None,
                MovedOut,
                Some("2026-11-23"),
                Some("昆明"),
                None,
            ),
            (
                Some("死亡"),
                MovedOut,
                Some("2026-01-01"),
                Some("昆明"),
                Some("2026-02-03"),
                Deceased,
                None,
                None,
                Some("2026-02-03"),
            ),
            (
                Some("active"),
                Deceased,
                None,
                None,
                Some("2026-02-03"),
                Active,
                None,
                None,
                None,
            ),
        ];
        for (i, (typed, current, out_on, to, died_on, state, e_out, e_to, e_died)) in
            ok.into_iter().enumerate()
        {
            let c = change(typed, current, out_on, to, died_on, TODAY).unwrap();
            assert_eq!(
                c,
                StateChange {
                    state,
                    moved_out_on: e_out.map(str::to_owned),
                    moved_to: e_to.map(str::to_owned),
                    deceased_on: e_died.map(str::to_owned),
                    ..StateChange::default()
                },
                "case {i}"
            );
        }
    }

    #[test]
    fn missing_or_future_dates_are_refused_all_at_once() {
        use PersonState::*;
        assert_eq!(
            fields(change(
                Some("moved_out"),
                Active,
                Some(" "),
                None,
                None,
                TODAY
            )),
            [
                ("moved_out_on".to_owned(), "迁出须填写迁出日期".to_owned()),
                ("moved_to".to_owned(), "迁出须填写迁往地".to_owned()),
            ]
        );
        assert_eq!(
            fields(change(
                Some("deceased"),
                Active,
                None,
                None,
                Some("2026-11-24"),
                TODAY
            )),
            [("deceased_on".to_owned(), "日期不能晚于今天".to_owned())]
        );
        let e = fields(change(Some("gone"), Active, None, None, None, TODAY));
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].0, "state");
        let e = fields(change(
            Some("moved_out"),
            Active,
            Some("2026-13-01"),
            Some("x"),
            None,
            TODAY,
        ));
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].0, "moved_out_on");
    }

    #[test]
    fn away_needs_a_date_not_in_the_future_and_where_to() {
        let typed = StateFields {
            away_since: Some("2026-10-01"),
            away_to: Some(" 昆明（务工） "),
            moved_to: Some("旧的迁往地"),
            ..StateFields::default()
        };
        let c = state_change(Some("暂时外出"), PersonState::Active, typed, TODAY).unwrap();
        assert_eq!(
            c,
            StateChange {
                state: PersonState::Away,
                away_since: Some("2026-10-01".into()),
                away_to: Some("昆明（务工）".into()),
                ..StateChange::default()
            }
        );
        let future = StateFields {
            away_since: Some("2026-11-24"),
            ..StateFields::default()
        };
        assert_eq!(
            fields(state_change(
                Some("away"),
                PersonState::Active,
                future,
                TODAY
            )),
            [
                ("away_since".to_owned(), "日期不能晚于今天".to_owned()),
                ("away_to".to_owned(), "暂时外出须填写去向".to_owned()),
            ]
        );
        // Back home: an active person keeps no away date.
        let back = state_change(Some("active"), PersonState::Away, typed, TODAY).unwrap();
        assert_eq!(back, StateChange::default());
        assert!(PersonState::Away.counted() && !PersonState::MovedOut.counted());
    }

    #[test]
    fn consistency_rate_is_registered_and_living_here_over_registered_here() {
        assert_eq!(consistency_rate(0, 0), None);
        assert_eq!(consistency_rate(3, 1), Some(0.75));
        assert_eq!(consistency_rate(0, 2), Some(0.0));
    }

    #[test]
    fn residence_types_take_the_words_rosters_use() {
        use Category::*;
        for (typed, want) in [
            ("户籍常住", Registered),
            ("户籍人口", Registered),
            ("人户分离", RegisteredAway),
            ("户在人不在", RegisteredAway),
            ("常住人口", Resident),
            ("寄住", Resident),
            ("暂住人口", Floating),
            ("境外人员", Foreign),
            ("外籍", Foreign),
            ("港澳台", Foreign),
        ] {
            assert_eq!(typed.parse::<Category>(), Ok(want), "{typed}");
        }
        assert_eq!(RegisteredAway.short_label(), "人户分离");
    }
}

#[cfg(test)]
mod draft_tests {
    use super::*;
    use time::macros::date;

    const TODAY: time::Date = date!(2026 - 11 - 23);

    fn id(body: &str) -> String {
        format!(
            "{body}{}",
            crate::kernel::idnumber::check_char(body.as_bytes())
        )
    }

    #[test]
    fn gender_and_birth_date_come_from_the_id_number() {
        let n = id("53340119850312001"); // sequence 001: odd, male
        let input = PersonInput {
            name: "张三",
            id_number: Some(&n),
            ..Default::default()
        };
        let (d, warnings) = PersonDraft::parse(&input, TODAY).unwrap();
        assert!(warnings.is_empty());
        assert_eq!(d.gender, Some(crate::Gender::Male));
        assert_eq!(d.birth_date, Some(date!(1985 - 03 - 12)));
        assert_eq!(d.category, Category::Resident);
    }

    #[test]
    fn a_conflict_with_the_id_number_is_a_warning_and_the_entry_is_kept() {
        let n = id("53340119850312001");
        let input = PersonInput {
            name: "张三",
            id_number: Some(&n),
            gender: Some("女"),
            ..Default::default()
        };
        let (d, warnings) = PersonDraft::parse(&input, TODAY).unwrap();
        assert_eq!(d.gender, Some(crate::Gender::Female));
        assert_eq!(warnings.len(), 1);
        assert_eq!(warnings[0].field, "gender");
    }

    #[test]
    fn every_bad_field_is_reported() {
        let tags = vec!["a,b".to_owned()];
        let input = PersonInput {
            name: "",
            id_number: Some("123"),
            phone: Some("12345"),
            birth_date: Some("2099-01-01"),
            category: Some("alien"),
            tags: &tags,
            ..Default::default()
        };
        let errs = PersonDraft::parse(&input, TODAY).unwrap_err();
        let fields: Vec<_> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "name",
                "id_number",
                "phone",
                "category",
                "tags",
                "birth_date"
            ]
        );
    }
}
