//! Jurisdiction paths: where a record sits in the tree, as one indexed string range.

use std::fmt;

use serde::Serialize;

use crate::CoreError;

/// The materialised path of a node: its ancestors' ids and its own, `/1/7/42/`.
/// Everything under a node is the half-open string range `[path, path_upper)`, where the upper
/// bound replaces the last `/` by `0` (the next byte), so a subtree is one indexed range scan.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct JurisdictionPath(String);

impl JurisdictionPath {
    pub fn root(id: i64) -> JurisdictionPath {
        JurisdictionPath(format!("/{id}/"))
    }

    pub fn parse(raw: &str) -> Result<JurisdictionPath, CoreError> {
        let bad = || {
            CoreError::invalid(
                "path",
                format!("「{raw}」不是有效的辖区路径，格式应如 /1/7/42/"),
            )
        };
        let inner = raw
            .strip_prefix('/')
            .and_then(|s| s.strip_suffix('/'))
            .ok_or_else(bad)?;
        if inner.is_empty() {
            return Err(bad());
        }
        for seg in inner.split('/') {
            let ok = !seg.is_empty()
                && seg.bytes().all(|b| b.is_ascii_digit())
                && !seg.starts_with('0')
                && seg.parse::<i64>().is_ok();
            if !ok {
                return Err(bad());
            }
        }
        Ok(JurisdictionPath(raw.to_owned()))
    }

    pub fn child(&self, id: i64) -> JurisdictionPath {
        JurisdictionPath(format!("{}{id}/", self.0))
    }

    /// The ids from the root down to this node.
    pub fn ids(&self) -> Vec<i64> {
        self.0
            .split('/')
            .filter(|s| !s.is_empty())
            .filter_map(|s| s.parse().ok())
            .collect()
    }

    pub fn id(&self) -> i64 {
        self.ids().last().copied().unwrap_or_default()
    }

    /// The id of the root of the tree this path is in: the district, Linli's distribution key.
    pub fn root_id(&self) -> i64 {
        self.ids().first().copied().unwrap_or_default()
    }

    pub fn depth(&self) -> i64 {
        self.ids().len() as i64 - 1
    }

    /// True when `self` is `other` or lies below it.
    pub fn is_within(&self, other: &JurisdictionPath) -> bool {
        self.0.starts_with(&other.0)
    }

    /// `[lower, upper)` such that a path `p` lies within `self` iff `lower <= p < upper`
    /// in byte order.
    pub fn subtree_bounds(&self) -> (String, String) {
        let mut upper = self.0.clone();
        upper.pop();
        upper.push('0');
        (self.0.clone(), upper)
    }

    /// Rewrites a path under `from` to lie under `to` instead (moving a subtree).
    pub fn rebase(
        &self,
        from: &JurisdictionPath,
        to: &JurisdictionPath,
    ) -> Option<JurisdictionPath> {
        self.0
            .strip_prefix(&from.0)
            .map(|rest| JurisdictionPath(format!("{}{rest}", to.0)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for JurisdictionPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn paths_parse_and_move() {
        let p = JurisdictionPath::parse("/1/7/42/").unwrap();
        assert_eq!(p.ids(), vec![1, 7, 42]);
        assert_eq!(p.depth(), 2);
        assert_eq!(p.id(), 42);
        assert_eq!(p.root_id(), 1);
        for bad in ["", "/", "1/7/", "/1/7", "/1//7/", "/01/", "/a/"] {
            assert!(JurisdictionPath::parse(bad).is_err(), "{bad}");
        }
        let from = JurisdictionPath::parse("/1/7/").unwrap();
        // Node 7 moves under node 9: its subtree follows.
        let to = JurisdictionPath::parse("/1/9/").unwrap().child(7);
        assert_eq!(p.rebase(&from, &to).unwrap().as_str(), "/1/9/7/42/");
        assert!(JurisdictionPath::parse("/2/7/")
            .unwrap()
            .rebase(&from, &to)
            .is_none());
    }

    proptest! {
        /// The string range of a subtree holds exactly the paths within it.
        #[test]
        fn subtree_bounds_match_is_within(a in proptest::collection::vec(1i64..200, 1..5),
                                          b in proptest::collection::vec(1i64..200, 1..5)) {
            let build = |ids: &[i64]| {
                let mut p = JurisdictionPath::root(ids[0]);
                for id in &ids[1..] { p = p.child(*id); }
                p
            };
            let (pa, pb) = (build(&a), build(&b));
            let (lo, hi) = pa.subtree_bounds();
            let in_range = pb.as_str() >= lo.as_str() && pb.as_str() < hi.as_str();
            prop_assert_eq!(in_range, pb.is_within(&pa));
            prop_assert_eq!(JurisdictionPath::parse(pb.as_str()).unwrap(), pb.clone());
        }
    }
}
