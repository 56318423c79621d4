//! Options of a `<select>`, and a person as a row of a list.

use linli_core::kernel::labels::Labelled;
use linli_core::NodeKind;
use linli_store::tree::Node;

/// One option of a `<select>`.
pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

pub fn choices<'a>(items: impl Iterator<Item = (&'a str, &'a str)>, current: &str) -> Vec<Choice> {
    items
        .map(|(v, l)| Choice {
            value: v.to_owned(),
            label: l.to_owned(),
            selected: v == current,
        })
        .collect()
}

/// A person found by a search, as a row of a list (masked).
pub struct HitRow {
    pub id: i64,
    pub name: String,
    pub gender: String,
    pub birth_date: String,
    pub id_masked: String,
    pub phone_masked: String,
    pub place: String,
    pub state: String,
    pub active: bool,
}

pub struct ParentOption {
    pub id: i64,
    pub label: String,
}

/// The nodes of `tree` a key or an account may be bound to: open ones above the buildings,
/// indented by depth (capped, so a deep tree stays readable).
pub fn node_options(tree: Vec<Node>) -> Vec<ParentOption> {
    tree.into_iter()
        .filter(|n| n.is_open() && n.kind != NodeKind::Building)
        .map(|n| ParentOption {
            id: n.id,
            label: format!(
                "{}{} · {}",
                "　".repeat(n.depth.clamp(0, 6) as usize),
                n.kind.label_zh(),
                n.name
            ),
        })
        .collect()
}
