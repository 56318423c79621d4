//! What every area's JSON API shares: pages of results and their cursor, and nodes as every
//! area shows them.

use std::collections::BTreeMap;

use linli_core::kernel::clock::rfc3339;
use linli_core::kernel::labels::Labelled;
use linli_store::tree::{Node, NodeSummary};
use linli_store::Page;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// A page of results; `next_after` is the cursor for the next page, absent on the last.
#[derive(Debug, Serialize, ToSchema)]
pub struct List<T> {
    pub items: Vec<T>,
    pub next_after: Option<i64>,
}

pub fn list_of<T>(items: Vec<T>, page: Page, id: impl Fn(&T) -> i64) -> List<T> {
    let next_after = if items.len() as i64 == page.limit {
        items.last().map(&id)
    } else {
        None
    };
    List { items, next_after }
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct PageQuery {
    /// At most this many (1–500, default 100).
    pub limit: Option<i64>,
    /// The cursor: the last id of the previous page.
    pub after: Option<i64>,
    /// Include closed nodes (children listings).
    pub include_closed: Option<bool>,
}

impl PageQuery {
    pub fn page(&self) -> Page {
        Page::new(self.limit, self.after)
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NodeOut {
    pub id: i64,
    pub parent_id: Option<i64>,
    /// province, city, district, street, community, compound, grid, building or unit
    pub kind: String,
    /// The kind in Chinese, as shown in the UI.
    pub kind_label: String,
    pub name: String,
    pub code: Option<String>,
    /// Materialised path of ids, `/1/7/42/`.
    pub path: String,
    pub depth: i64,
    /// Households of a grid (the grid worker's workload).
    pub household_estimate: Option<i64>,
    pub opened_on: String,
    pub closed_on: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    /// What lies below (open nodes), when listed with counts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counts: Option<CountsOut>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CountsOut {
    /// Open descendants by kind.
    pub by_kind: BTreeMap<String, i64>,
    /// Households of the grids below.
    pub households: Option<i64>,
}

impl NodeOut {
    pub fn from_node(n: Node) -> NodeOut {
        NodeOut {
            id: n.id,
            parent_id: n.parent_id,
            kind: n.kind.as_str().to_owned(),
            kind_label: n.kind.label_zh().to_owned(),
            name: n.name,
            code: n.code,
            path: n.path.as_str().to_owned(),
            depth: n.depth,
            household_estimate: n.household_estimate,
            opened_on: n.opened_on,
            closed_on: n.closed_on,
            created_at: rfc3339(n.created_at),
            updated_at: rfc3339(n.updated_at),
            counts: None,
        }
    }

    pub fn from_summary(s: NodeSummary) -> NodeOut {
        let counts = CountsOut {
            by_kind: s
                .counts
                .by_kind
                .iter()
                .map(|(k, v)| (k.as_str().to_owned(), *v))
                .collect(),
            households: s.counts.households,
        };
        NodeOut {
            counts: Some(counts),
            ..NodeOut::from_node(s.node)
        }
    }
}
