//! Options of a `<select>`, and a person as a row of a list.

use linli_core::kernel::labels::Labelled;
use linli_core::NodeKind;
use linli_store::registry::PersonHit;
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

impl Choice {
    /// A list filter's options: 全部 (no filter, the empty value) first, then `options` as
    /// (value, label); the one whose value is `current` (trimmed) is selected.
    pub fn filter(
        current: &str,
        options: impl IntoIterator<Item = (String, String)>,
    ) -> Vec<Choice> {
        let current = current.trim();
        std::iter::once((String::new(), "全部".to_owned()))
            .chain(options)
            .map(|(value, label)| Choice {
                selected: value == current,
                value,
                label,
            })
            .collect()
    }

    /// [`Choice::filter`] over a labelled code table (statuses, kinds …).
    pub fn filter_of<E: linli_core::kernel::labels::Labelled>(current: &str) -> Vec<Choice> {
        let codes = E::ALL
            .iter()
            .map(|e| (e.as_str().to_owned(), e.label_zh().to_owned()));
        Choice::filter(current, codes)
    }

    /// A node as an option: its name and kind, indented by its depth below `base` (capped, so
    /// a deep tree stays readable).
    pub fn node(n: &Node, base: i64, selected: bool) -> Choice {
        Choice {
            value: n.id.to_string(),
            label: format!(
                "{}{}（{}）",
                "　".repeat((n.depth - base).clamp(0, 6) as usize),
                n.name,
                crate::ui::short_label(n.kind)
            ),
            selected,
        }
    }
}

/// The nodes a list may be narrowed to, as options: every open node of the caller's
/// jurisdiction down to grids (compounds and buildings hold too few to list by), `current`
/// selected.
pub async fn node_picker(
    db: &linli_store::Db,
    user: &linli_store::accounts::Principal,
    current: i64,
) -> Result<Vec<Choice>, linli_store::StoreError> {
    let tree = linli_store::tree::subtree(db, &user.scope, None).await?;
    let shown: Vec<_> = tree
        .iter()
        .filter(|n| n.is_open() && !matches!(n.kind, NodeKind::Building | NodeKind::Compound))
        .collect();
    let base = shown.iter().map(|n| n.depth).min().unwrap_or(0);
    Ok(shown
        .iter()
        .map(|n| Choice::node(n, base, n.id == current))
        .collect())
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

impl From<PersonHit> for HitRow {
    fn from(h: PersonHit) -> HitRow {
        HitRow {
            id: h.id,
            name: h.name,
            gender: h
                .gender
                .map(|g| g.label_zh().to_owned())
                .unwrap_or_default(),
            birth_date: h.birth_date.unwrap_or_default(),
            id_masked: h.id_number_masked.unwrap_or_default(),
            phone_masked: h.phone_masked.unwrap_or_default(),
            place: match h.address {
                Some(a) => format!("{} {a}", h.node_name),
                None => h.node_name,
            },
            active: h.state.counted(),
            state: h.state.label_zh().to_owned(),
        }
    }
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
