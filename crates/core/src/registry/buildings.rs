//! Rooms belong to buildings (issue 19 item 2): where in the tree a dwelling with an address like
//! 3栋2单元501室 lands when it is registered at a node, and the address derived from the building
//! and unit nodes it lands under, so that 3栋 is typed once, as the building's name.
//!
//! The rule: a room lands under the building its address names — the building node itself
//! when registered there, else the one building of that number in the node's subtree, else a
//! new building node made under the node (when the node may hold buildings). The unit part
//! lands on a unit node when the building is organised in units (has unit nodes: a new unit
//! node is made when the named one is missing); a building without unit nodes keeps the unit
//! in the room's address, as most buildings are run as a whole.

use crate::registry::{address_part, DwellingAddress, BUILDING_SUFFIXES, UNIT_SUFFIXES};
use crate::tree::NodeKind;
use crate::CoreError;

/// A building's number from its node name (`3栋`, `12号楼`, `５幢` → `3`, `12`, `5`), upper
/// case for matching; `None` for a name that is not a number (综合楼): rooms can be registered
/// in such a building, but no address names it.
pub fn building_label(name: &str) -> Option<String> {
    label(name, BUILDING_SUFFIXES)
}

/// A unit's number from its node name (`2单元` → `2`).
pub fn unit_label(name: &str) -> Option<String> {
    label(name, UNIT_SUFFIXES)
}

fn label(name: &str, suffixes: &[&str]) -> Option<String> {
    let t = address_part(name, suffixes);
    let ok =
        !t.is_empty() && t.len() <= 20 && t.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    ok.then(|| t.to_uppercase())
}

/// The name a building node made for an address gets: `3栋`.
pub fn building_node_name(building: &str) -> String {
    format!("{building}栋")
}

/// The name a unit node made for an address gets: `2单元`.
pub fn unit_node_name(unit: &str) -> String {
    format!("{unit}单元")
}

/// A node as the rule needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HomeNode {
    pub id: i64,
    pub parent_id: Option<i64>,
    pub kind: NodeKind,
    pub name: String,
}

/// Where a room goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Landing {
    /// On this node: the node registered at, or a building or unit in its subtree.
    At(i64),
    /// On a new building node, to be made under node `under` with this name.
    NewBuilding { under: i64, name: String },
    /// On a new unit node, to be made under the building node `building`.
    NewUnit { building: i64, name: String },
    /// The address names a building number that `count` buildings below node `at` carry (1栋
    /// in each compound of a community): which one is meant cannot be told. A registration
    /// refuses it ([`Landing::ambiguity`]); an import keeps the room on `at` as typed and
    /// counts it.
    Ambiguous { at: i64, count: usize },
}

impl Landing {
    /// Why a room with an ambiguous building cannot be registered at `home_name`.
    pub fn ambiguity(home_name: &str, building: &str, count: usize) -> CoreError {
        CoreError::invalid(
            "address",
            format!(
                "「{home_name}」下有 {count} 栋楼叫「{}」，请到它所在的小区或网格下登记",
                building_node_name(building)
            ),
        )
    }
}

/// Where a room lands and its address as stored (building and unit derived from the nodes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Landed {
    pub landing: Landing,
    pub address: DwellingAddress,
}

/// Where the room at `address`, registered at `home`, lands. `building_above` is the building
/// a unit `home` belongs to; `below` the open building and unit nodes of `home`'s subtree.
pub fn land(
    home: &HomeNode,
    building_above: Option<&HomeNode>,
    below: &[HomeNode],
    address: &DwellingAddress,
) -> Result<Landed, CoreError> {
    let wanted_b = address.building.to_uppercase();
    let wanted_u = address.unit.to_uppercase();
    match home.kind {
        NodeKind::Unit => {
            let building = building_above.and_then(|b| building_label(&b.name));
            check_part("building", "楼栋", building_above, &building, &wanted_b)?;
            let unit = unit_label(&home.name);
            check_part("unit", "单元", Some(home), &unit, &wanted_u)?;
            Ok(Landed {
                landing: Landing::At(home.id),
                address: derived(address, building, unit),
            })
        }
        NodeKind::Building => in_building(home, below, address),
        kind if kind.may_contain(NodeKind::Building) && !wanted_b.is_empty() => {
            let found: Vec<&HomeNode> = below
                .iter()
                .filter(|n| {
                    n.kind == NodeKind::Building
                        && building_label(&n.name).as_deref() == Some(wanted_b.as_str())
                })
                .collect();
            match found.as_slice() {
                [one] => in_building(one, below, address),
                [] => Ok(Landed {
                    landing: Landing::NewBuilding {
                        under: home.id,
                        name: building_node_name(&address.building),
                    },
                    address: address.clone(),
                }),
                many => Ok(Landed {
                    landing: Landing::Ambiguous {
                        at: home.id,
                        count: many.len(),
                    },
                    address: address.clone(),
                }),
            }
        }
        // No building named, or a node that holds no buildings (a street): the room stays on
        // the node, its address as typed.
        _ => Ok(Landed {
            landing: Landing::At(home.id),
            address: address.clone(),
        }),
    }
}

/// The room in `building`: on one of its unit nodes when it has them.
fn in_building(
    building: &HomeNode,
    below: &[HomeNode],
    address: &DwellingAddress,
) -> Result<Landed, CoreError> {
    let label = building_label(&building.name);
    check_part(
        "building",
        "楼栋",
        Some(building),
        &label,
        &address.building.to_uppercase(),
    )?;
    let units: Vec<&HomeNode> = below
        .iter()
        .filter(|n| n.kind == NodeKind::Unit && n.parent_id == Some(building.id))
        .collect();
    let wanted_u = address.unit.to_uppercase();
    if wanted_u.is_empty() || units.is_empty() {
        return Ok(Landed {
            landing: Landing::At(building.id),
            address: derived(address, label, None),
        });
    }
    let landing = match units
        .iter()
        .find(|u| unit_label(&u.name).as_deref() == Some(wanted_u.as_str()))
    {
        Some(u) => Landing::At(u.id),
        None => Landing::NewUnit {
            building: building.id,
            name: unit_node_name(&address.unit),
        },
    };
    Ok(Landed {
        landing,
        address: derived(address, label, Some(wanted_u)),
    })
}

/// An address part typed beside a node it must agree with: empty, or the node's number.
fn check_part(
    field: &str,
    what: &str,
    node: Option<&HomeNode>,
    label: &Option<String>,
    wanted: &str,
) -> Result<(), CoreError> {
    // A node whose name is no number (甲1栋, 综合楼) cannot be compared: the address is kept as
    // typed beside it.
    if wanted.is_empty() || label.is_none() || label.as_deref() == Some(wanted) {
        return Ok(());
    }
    let name = node.map_or("—", |n| n.name.as_str());
    Err(CoreError::invalid(
        field,
        format!("登记在{what}「{name}」，地址中的{what}却是「{wanted}」：请只填房号，或到对应的{what}下登记"),
    ))
}

/// The address with the building and unit the nodes give, where they give one.
fn derived(
    address: &DwellingAddress,
    building: Option<String>,
    unit: Option<String>,
) -> DwellingAddress {
    DwellingAddress {
        building: building.unwrap_or_else(|| address.building.clone()),
        unit: unit.unwrap_or_else(|| address.unit.clone()),
        room: address.room.clone(),
    }
}

/// Rooms to add to a building at once, for the door-to-door sweep to see the empty ones too:
/// floors `floor_from` to `floor_to`, `per_floor` rooms on each, numbered as most buildings
/// are (floor × 100 + n: 101, 102 … 1806), in unit `unit` when one is given. Every broken
/// rule is reported at once.
pub fn room_plan(
    unit: &str,
    floor_from: &str,
    floor_to: &str,
    per_floor: &str,
) -> Result<Vec<DwellingAddress>, Vec<CoreError>> {
    let mut errors = Vec::new();
    let mut number = |field: &str, raw: &str, max: u32| match raw.trim().parse::<u32>() {
        Ok(n) if (1..=max).contains(&n) => Some(n),
        _ => {
            errors.push(CoreError::invalid(
                field,
                format!("请填写 1 到 {max} 之间的整数"),
            ));
            None
        }
    };
    let from = number("floor_from", floor_from, 99);
    let to = number("floor_to", floor_to, 99);
    let per = number("per_floor", per_floor, 30);
    if let (Some(f), Some(t)) = (from, to) {
        if f > t {
            errors.push(CoreError::invalid("floor_to", "最高层不能低于起始层"));
        }
    }
    let unit = address_part(unit, UNIT_SUFFIXES);
    if unit.len() > 20 || !unit.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        errors.push(CoreError::invalid(
            "unit",
            format!("「{unit}」不是有效的单元号（数字、字母和「-」）"),
        ));
    }
    let (Some(from), Some(to), Some(per), true) = (from, to, per, errors.is_empty()) else {
        return Err(errors);
    };
    Ok((from..=to)
        .flat_map(|floor| (1..=per).map(move |n| floor * 100 + n))
        .map(|room| DwellingAddress {
            building: String::new(),
            unit: unit.clone(),
            room: room.to_string(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: i64, parent: i64, kind: NodeKind, name: &str) -> HomeNode {
        HomeNode {
            id,
            parent_id: Some(parent),
            kind,
            name: name.to_owned(),
        }
    }

    fn addr(s: &str) -> DwellingAddress {
        DwellingAddress::parse(s).unwrap()
    }

    #[test]
    fn labels_come_from_node_names() {
        assert_eq!(building_label("3栋").as_deref(), Some("3"));
        assert_eq!(building_label("12号楼").as_deref(), Some("12"));
        assert_eq!(building_label("５幢").as_deref(), Some("5"));
        assert_eq!(building_label("a座"), None);
        assert_eq!(building_label("b2栋").as_deref(), Some("B2"));
        assert_eq!(building_label("综合楼"), None);
        assert_eq!(unit_label("2单元").as_deref(), Some("2"));
    }

    #[test]
    fn a_grid_room_lands_in_its_building_or_a_new_one() {
        let grid = node(10, 1, NodeKind::Grid, "一网格");
        let b3 = node(11, 10, NodeKind::Building, "3号楼");
        let below = vec![b3.clone()];
        let l = land(&grid, None, &below, &addr("3栋2单元501室")).unwrap();
        assert_eq!(l.landing, Landing::At(11));
        assert_eq!(l.address.to_string(), "3栋2单元501室");
        let l = land(&grid, None, &below, &addr("5栋101")).unwrap();
        assert_eq!(
            l.landing,
            Landing::NewBuilding {
                under: 10,
                name: "5栋".into()
            }
        );
        // No building in the address: the room stays on the grid (a village house number).
        let l = land(&grid, None, &below, &addr("12号")).unwrap();
        assert_eq!(l.landing, Landing::At(10));
    }

    #[test]
    fn units_are_used_where_the_building_has_them() {
        let b = node(11, 10, NodeKind::Building, "3栋");
        let u1 = node(12, 11, NodeKind::Unit, "1单元");
        let with_units = vec![b.clone(), u1.clone()];
        let l = land(&b, None, &with_units, &addr("3栋1单元201")).unwrap();
        assert_eq!(l.landing, Landing::At(12));
        let l = land(&b, None, &with_units, &addr("2单元201")).unwrap();
        assert_eq!(
            l.landing,
            Landing::NewUnit {
                building: 11,
                name: "2单元".into()
            }
        );
        assert_eq!(l.address.to_string(), "3栋2单元201室");
        // A building run as a whole keeps the unit in the room's address.
        let l = land(&b, None, std::slice::from_ref(&b), &addr("2单元201")).unwrap();
        assert_eq!(l.landing, Landing::At(11));
        assert_eq!(l.address.to_string(), "3栋2单元201室");
        // At a unit node: only the room is needed.
        let l = land(&u1, Some(&b), &[], &addr("301")).unwrap();
        assert_eq!(l.landing, Landing::At(12));
        assert_eq!(l.address.to_string(), "3栋1单元301室");
    }

    #[test]
    fn an_address_naming_another_building_is_refused() {
        let b = node(11, 10, NodeKind::Building, "3栋");
        let e = land(&b, None, &[], &addr("5栋101")).unwrap_err();
        assert_eq!(e.field, "building");
        assert!(e.message.contains("3栋"), "{}", e.message);
        let u = node(12, 11, NodeKind::Unit, "1单元");
        let e = land(&u, Some(&b), &[], &addr("3栋2单元101")).unwrap_err();
        assert_eq!(e.field, "unit");
        // A building named otherwise than by a number keeps the address as typed.
        let named = node(13, 10, NodeKind::Building, "甲1栋");
        let l = land(&named, None, &[], &addr("3栋2单元501")).unwrap();
        assert_eq!(l.landing, Landing::At(13));
        assert_eq!(l.address.to_string(), "3栋2单元501室");
    }

    #[test]
    fn two_buildings_of_one_number_need_the_nearer_node() {
        let c = node(5, 1, NodeKind::Community, "里布嘎社区");
        let below = vec![
            node(11, 6, NodeKind::Building, "3栋"),
            node(21, 7, NodeKind::Building, "3栋"),
        ];
        let l = land(&c, None, &below, &addr("3栋101")).unwrap();
        assert_eq!(l.landing, Landing::Ambiguous { at: 5, count: 2 });
        let e = Landing::ambiguity(&c.name, &l.address.building, 2);
        assert!(e.message.contains("2 栋楼叫「3栋」"), "{}", e.message);
        // A street holds no buildings: the room stays there as typed.
        let s = node(2, 1, NodeKind::Street, "建塘镇");
        assert_eq!(
            land(&s, None, &[], &addr("3栋101")).unwrap().landing,
            Landing::At(2)
        );
    }

    #[test]
    fn a_room_plan_numbers_floors_and_refuses_nonsense() {
        let rooms = room_plan("2单元", "1", "18", "6").unwrap();
        assert_eq!(rooms.len(), 108);
        assert_eq!(rooms[0].room, "101");
        assert_eq!(rooms[107].room, "1806");
        assert_eq!(rooms[0].unit, "2");
        let e = room_plan("", "5", "3", "0").unwrap_err();
        let fields: Vec<&str> = e.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["per_floor", "floor_to"]);
    }
}
