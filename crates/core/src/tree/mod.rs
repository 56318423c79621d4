//! The jurisdiction tree: node kinds, division codes and materialised paths.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::kernel::division::PROVINCE_PREFIXES;
use crate::kernel::labels::Labelled;
use crate::labelled;
use crate::CoreError;

labelled! {
    /// The kind of a jurisdiction node, from the province down to a building's unit. The order
    /// is the levels' order, highest first.
    #[derive(Hash, PartialOrd, Ord, Deserialize, strum::Display)]
    pub enum NodeKind: "kind" {
        #[strum(serialize = "province", props(zh = "省"))]
        Province,
        #[strum(serialize = "city", props(zh = "市/州"))]
        City,
        #[strum(serialize = "district", props(zh = "区县"))]
        District,
        #[strum(serialize = "street", props(zh = "街道/乡镇"))]
        Street,
        #[strum(serialize = "community", props(zh = "社区/村"))]
        Community,
        #[strum(serialize = "compound", props(zh = "小区/村民小组"))]
        Compound,
        #[strum(serialize = "grid", props(zh = "网格"))]
        Grid,
        #[strum(serialize = "building", props(zh = "楼栋"))]
        Building,
        #[strum(serialize = "unit", props(zh = "单元"))]
        Unit,
    }
}

impl NodeKind {
    /// Whether residents reach this node directly (a request link, a poster): a community and
    /// what lies in it; a street or district hands them to its communities.
    pub fn serves_residents(self) -> bool {
        !self.is_upper_level()
    }

    /// A level of government above the community (province to street): it governs through
    /// its communities, holds no residents of its own and keeps reserves rather than stores.
    pub fn is_upper_level(self) -> bool {
        matches!(
            self,
            NodeKind::Province | NodeKind::City | NodeKind::District | NodeKind::Street
        )
    }

    /// Which kinds may sit directly under this one: a lower kind. Levels may be skipped (a
    /// province holds districts directly where it has no cities; a village community has no
    /// compounds; a building may have no units), and grids and compounds nest either way: a
    /// city compound is split into grids, while a village grid spans several village groups.
    pub fn may_contain(self, child: NodeKind) -> bool {
        use NodeKind::*;
        match self {
            Province => matches!(child, City | District),
            City => matches!(child, District),
            District => matches!(child, Street | Community),
            Street => matches!(child, Community),
            Community => matches!(child, Compound | Grid | Building),
            Compound => matches!(child, Grid | Building),
            Grid => matches!(child, Compound | Building),
            Building => matches!(child, Unit),
            Unit => false,
        }
    }

    /// The number of digits of the statistical division code this kind carries, if it has one.
    pub fn division_code_len(self) -> Option<usize> {
        match self {
            NodeKind::Province | NodeKind::City | NodeKind::District => Some(6),
            NodeKind::Street => Some(9),
            NodeKind::Community => Some(12),
            _ => None,
        }
    }
}

impl FromStr for NodeKind {
    type Err = CoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        NodeKind::from_code(s).ok_or_else(|| {
            CoreError::invalid(
                "kind",
                format!(
                    "「{s}」不是有效的节点类型，应为以下之一：{}",
                    Self::choices()
                ),
            )
        })
    }
}

/// A node's code. Districts carry the six-digit GB/T 2260 code of a county-level division,
/// streets the nine-digit and communities the twelve-digit statistical division code, each
/// extending its parent's. Compounds, grids and buildings carry a free local code.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct NodeCode(String);

impl NodeCode {
    /// Parses `raw` as the code of a node of `kind`. Surrounding spaces are trimmed.
    pub fn parse(kind: NodeKind, raw: &str) -> Result<NodeCode, CoreError> {
        let code = raw.trim();
        match kind.division_code_len() {
            Some(len) => {
                if code.len() != len || !code.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(CoreError::invalid(
                        "code",
                        format!(
                            "「{code}」不是{label}代码：{label}代码为 {len} 位数字",
                            label = kind.label_zh()
                        ),
                    ));
                }
                let province = code[..2].parse::<u8>().unwrap_or(0);
                if !PROVINCE_PREFIXES.contains(&province) {
                    return Err(CoreError::invalid(
                        "code",
                        format!(
                            "前两位「{}」不是省级行政区划代码（GB/T 2260），请核对",
                            &code[..2]
                        ),
                    ));
                }
                // GB/T 2260: a province's code ends in 0000 (530000), a city's in 00 (533400);
                // the digits any other level adds may not be all zero (533400 is no county,
                // 533401000 no street).
                let (added, zeros) = match (kind, len) {
                    (NodeKind::Province, _) => (&code[2..2], &code[2..6]),
                    (NodeKind::City, _) => (&code[2..4], &code[4..6]),
                    (_, 6) => (&code[4..6], ""),
                    (_, 9) => (&code[6..9], ""),
                    _ => (&code[9..12], ""),
                };
                if !zeros.bytes().all(|b| b == b'0') {
                    return Err(CoreError::invalid(
                        "code",
                        format!(
                            "「{code}」不是{}代码：{}代码末 {} 位为 0",
                            kind.label_zh(),
                            kind.label_zh(),
                            zeros.len()
                        ),
                    ));
                }
                if !added.is_empty() && added.bytes().all(|b| b == b'0') {
                    return Err(CoreError::invalid(
                        "code",
                        format!(
                            "「{code}」末 {} 位全为 0，是上级区划的代码，不是{}代码",
                            added.len(),
                            kind.label_zh()
                        ),
                    ));
                }
            }
            None => {
                if code.is_empty()
                    || code.len() > 32
                    || !code
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                {
                    return Err(CoreError::invalid(
                        "code",
                        "自编代码应为 1 至 32 位英文字母、数字、「-」或「_」",
                    ));
                }
            }
        }
        Ok(NodeCode(code.to_owned()))
    }

    /// Checks that a division code extends the nearest ancestor division code: a street's nine
    /// digits begin with its district's six. Local codes are not constrained.
    pub fn check_extends(
        &self,
        kind: NodeKind,
        ancestor: Option<&NodeCode>,
    ) -> Result<(), CoreError> {
        let (Some(_), Some(parent)) = (kind.division_code_len(), ancestor) else {
            return Ok(());
        };
        // A province's and a city's codes pad their prefix with zeros (530000, 533400).
        let mut prefix = parent.0.as_str();
        while prefix.len() > 2 && prefix.len() <= 6 && prefix.ends_with("00") {
            prefix = &prefix[..prefix.len() - 2];
        }
        if parent.0.bytes().all(|b| b.is_ascii_digit()) && !self.0.starts_with(prefix) {
            return Err(CoreError::invalid(
                "code",
                format!(
                    "「{}」不在上级区划「{}」之内：下级代码应以上级代码开头",
                    self.0, parent.0
                ),
            ));
        }
        Ok(())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for NodeCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A node's display name: 1 to 100 characters after trimming, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct NodeName(String);

impl NodeName {
    pub fn parse(raw: &str) -> Result<NodeName, CoreError> {
        let name = raw.trim();
        let chars = name.chars().count();
        if chars == 0 {
            return Err(CoreError::invalid("name", "请填写名称"));
        }
        if chars > 100 {
            return Err(CoreError::invalid("name", "名称不能超过 100 个字"));
        }
        if name.chars().any(char::is_control) {
            return Err(CoreError::invalid("name", "名称中不能含有不可见的控制字符"));
        }
        Ok(NodeName(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for NodeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_labels_stay_as_stored_and_shown() {
        use crate::kernel::labels::assert_table;
        assert_table(&[
            (NodeKind::Province, "province", "省"),
            (NodeKind::City, "city", "市/州"),
            (NodeKind::District, "district", "区县"),
            (NodeKind::Street, "street", "街道/乡镇"),
            (NodeKind::Community, "community", "社区/村"),
            (NodeKind::Compound, "compound", "小区/村民小组"),
            (NodeKind::Grid, "grid", "网格"),
            (NodeKind::Building, "building", "楼栋"),
            (NodeKind::Unit, "unit", "单元"),
        ]);
    }

    #[test]
    fn division_codes_are_checked_for_shape() {
        NodeCode::parse(NodeKind::District, "533401").unwrap();
        NodeCode::parse(NodeKind::District, " 533401 ").unwrap();
        assert!(NodeCode::parse(NodeKind::District, "53340").is_err());
        assert!(NodeCode::parse(NodeKind::District, "5334010").is_err());
        assert!(NodeCode::parse(NodeKind::District, "53340a").is_err());
        // 99 is no province; 533400 is a prefecture, not a county.
        assert!(NodeCode::parse(NodeKind::District, "993401").is_err());
        assert!(NodeCode::parse(NodeKind::District, "533400").is_err());
        NodeCode::parse(NodeKind::Street, "533401100").unwrap();
        assert!(NodeCode::parse(NodeKind::Street, "533401000").is_err());
        NodeCode::parse(NodeKind::Community, "533401100001").unwrap();
        assert!(NodeCode::parse(NodeKind::Community, "533401100").is_err());
        NodeCode::parse(NodeKind::Grid, "G-01").unwrap();
        assert!(NodeCode::parse(NodeKind::Grid, "网格").is_err());
        assert!(NodeCode::parse(NodeKind::Building, "").is_err());
        // A province ends in 0000, a city in 00 (and is not its province).
        NodeCode::parse(NodeKind::Province, "530000").unwrap();
        assert!(NodeCode::parse(NodeKind::Province, "533400").is_err());
        assert!(NodeCode::parse(NodeKind::Province, "990000").is_err());
        NodeCode::parse(NodeKind::City, "533400").unwrap();
        assert!(NodeCode::parse(NodeKind::City, "533401").is_err());
        assert!(NodeCode::parse(NodeKind::City, "530000").is_err());
    }

    #[test]
    fn division_codes_extend_their_parent() {
        let district = NodeCode::parse(NodeKind::District, "533401").unwrap();
        let street = NodeCode::parse(NodeKind::Street, "533401100").unwrap();
        let foreign = NodeCode::parse(NodeKind::Street, "530102001").unwrap();
        assert!(street
            .check_extends(NodeKind::Street, Some(&district))
            .is_ok());
        assert!(foreign
            .check_extends(NodeKind::Street, Some(&district))
            .is_err());
        street.check_extends(NodeKind::Street, None).unwrap();
        // Under a city and a province, whose codes pad their prefix with zeros.
        let province = NodeCode::parse(NodeKind::Province, "530000").unwrap();
        let city = NodeCode::parse(NodeKind::City, "533400").unwrap();
        city.check_extends(NodeKind::City, Some(&province)).unwrap();
        district
            .check_extends(NodeKind::District, Some(&city))
            .unwrap();
        let kunming = NodeCode::parse(NodeKind::District, "530102").unwrap();
        assert!(kunming
            .check_extends(NodeKind::District, Some(&city))
            .is_err());
        let sichuan = NodeCode::parse(NodeKind::City, "510100").unwrap();
        assert!(sichuan
            .check_extends(NodeKind::City, Some(&province))
            .is_err());
    }

    #[test]
    fn kinds_nest_as_on_the_ground() {
        use NodeKind::*;
        assert!(District.may_contain(Community)); // a street level skipped
        assert!(Compound.may_contain(Grid));
        assert!(Grid.may_contain(Compound)); // a village grid over village groups
        assert!(!Building.may_contain(Grid));
        assert!(!Community.may_contain(Street));
        assert!(!Grid.may_contain(Grid));
        // Province → city → district, a city skipped, units in buildings and nothing below.
        assert!(Province.may_contain(City) && City.may_contain(District));
        assert!(Province.may_contain(District));
        assert!(!City.may_contain(Street) && !District.may_contain(City));
        assert!(Building.may_contain(Unit) && !Unit.may_contain(Building));
        assert!(!Grid.may_contain(Unit));
        // Only the levels below the street serve residents directly.
        for k in NodeKind::ALL {
            assert_eq!(k.serves_residents(), *k >= Community, "{k:?}");
        }
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(
            NodeName::parse("  里布嘎社区 ").unwrap().as_str(),
            "里布嘎社区"
        );
        assert!(NodeName::parse("   ").is_err());
        assert!(NodeName::parse(&"名".repeat(101)).is_err());
        assert!(NodeName::parse("a\u{7}b").is_err());
    }
}

/// A node about to be created, every field parsed.
#[derive(Debug, Clone)]
pub struct NewNode {
    pub parent_id: Option<i64>,
    pub kind: NodeKind,
    pub name: NodeName,
    pub code: Option<NodeCode>,
    pub household_estimate: Option<i64>,
    pub opened_on: time::Date,
}

/// The raw fields of a node form or API body.
#[derive(Debug, Clone, Default)]
pub struct NodeInput<'a> {
    pub parent_id: Option<i64>,
    pub kind: &'a str,
    pub name: &'a str,
    pub code: Option<&'a str>,
    pub household_estimate: Option<i64>,
    pub opened_on: Option<&'a str>,
}

impl NewNode {
    /// Parses every field, reporting all that are wrong at once.
    pub fn parse(input: NodeInput<'_>) -> Result<NewNode, Vec<CoreError>> {
        let mut errors = Vec::new();
        let kind = input
            .kind
            .parse::<NodeKind>()
            .map_err(|e| errors.push(e))
            .ok();
        let name = NodeName::parse(input.name).map_err(|e| errors.push(e)).ok();
        let code = match (kind, input.code.map(str::trim).filter(|c| !c.is_empty())) {
            (Some(kind), Some(raw)) => NodeCode::parse(kind, raw).map_err(|e| errors.push(e)).ok(),
            (Some(kind), None) if kind.division_code_len().is_some() => {
                errors.push(CoreError::invalid(
                    "code",
                    format!(
                        "{}必须填写 {} 位区划代码",
                        kind.label_zh(),
                        kind.division_code_len().unwrap_or_default()
                    ),
                ));
                None
            }
            _ => None,
        };
        check_household_estimate(kind, input.household_estimate, &mut errors);
        let opened_on = match input.opened_on.map(str::trim).filter(|s| !s.is_empty()) {
            Some(raw) => crate::kernel::clock::parse_date("opened_on", raw)
                .map_err(|e| errors.push(e))
                .ok(),
            None => Some(crate::kernel::clock::today()),
        };
        match (kind, name, opened_on) {
            (Some(kind), Some(name), Some(opened_on)) if errors.is_empty() => Ok(NewNode {
                parent_id: input.parent_id,
                kind,
                name,
                code,
                household_estimate: input.household_estimate,
                opened_on,
            }),
            _ => Err(errors),
        }
    }
}

/// The household estimate (户数) is kept on grids, where it is the grid worker's workload;
/// higher levels sum their grids.
pub fn check_household_estimate(
    kind: Option<NodeKind>,
    estimate: Option<i64>,
    errors: &mut Vec<CoreError>,
) {
    if let Some(n) = estimate {
        if kind.is_some_and(|k| k != NodeKind::Grid) {
            errors.push(CoreError::invalid(
                "household_estimate",
                "户数只在网格上填写，上级的户数由所辖网格汇总",
            ));
        } else if !(0..=100_000).contains(&n) {
            errors.push(CoreError::invalid(
                "household_estimate",
                "网格户数应在 0 至 100000 之间",
            ));
        }
    }
}

#[cfg(test)]
mod new_node_tests {
    use super::*;

    #[test]
    fn all_bad_fields_are_reported_together() {
        let errs = NewNode::parse(NodeInput {
            kind: "street",
            name: " ",
            code: Some("12"),
            opened_on: Some("2020-13-01"),
            ..NodeInput::default()
        })
        .unwrap_err();
        let fields: Vec<_> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, vec!["name", "code", "opened_on"]);
    }

    #[test]
    fn division_kinds_need_a_code_and_others_may_omit_it() {
        let e = NewNode::parse(NodeInput {
            kind: "community",
            name: "里布嘎社区",
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(e[0].field, "code");
        let b = NewNode::parse(NodeInput {
            kind: "building",
            name: "3栋",
            code: Some(""),
            ..Default::default()
        })
        .unwrap();
        assert!(b.code.is_none());
    }

    #[test]
    fn household_estimates_belong_to_grids() {
        let g = NewNode::parse(NodeInput {
            kind: "grid",
            name: "第一网格",
            household_estimate: Some(350),
            ..Default::default()
        });
        assert_eq!(g.unwrap().household_estimate, Some(350));
        let c = NewNode::parse(NodeInput {
            kind: "compound",
            name: "小区",
            household_estimate: Some(350),
            ..Default::default()
        });
        assert_eq!(c.unwrap_err()[0].field, "household_estimate");
    }
}
