//! Who may do what, where: roles and the caller's scope.

use std::str::FromStr;

use serde::Deserialize;

use crate::kernel::labels::Labelled;
use crate::kernel::path::JurisdictionPath;
use crate::labelled;
use crate::CoreError;

labelled! {
    /// A user's one role.
    #[derive(Hash, Deserialize, strum::Display)]
    pub enum Role: "role" {
        /// Everything, everywhere.
        #[strum(serialize = "admin", props(zh = "系统管理员"))]
        Admin,
        /// Street or district official: reads the subtree, dispatches, approves.
        #[strum(serialize = "official", props(zh = "街道/区县干部"))]
        Official,
        /// Community worker: reads and writes the subtree.
        #[strum(serialize = "staff", props(zh = "社区工作者"))]
        Staff,
        /// Grid worker: reads and writes their own grid(s) only.
        #[strum(serialize = "grid_worker", props(zh = "网格员"))]
        GridWorker,
    }
}

impl FromStr for Role {
    type Err = CoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::from_code(s).ok_or_else(|| {
            CoreError::invalid(
                "role",
                format!("「{s}」不是有效的角色，应为以下之一：{}", Self::choices()),
            )
        })
    }
}

/// What the caller may see and change, computed once per request from their account.
/// Every store function that reads or writes jurisdiction data takes one; a non-admin scope
/// with no roots sees nothing (fail closed).
#[derive(Debug, Clone)]
pub struct Scope {
    user_id: Option<i64>,
    actor: String,
    role: Role,
    roots: Vec<JurisdictionPath>,
}

impl Scope {
    /// The scope of a signed-in user bound to `roots`.
    pub fn for_user(
        user_id: i64,
        username: &str,
        role: Role,
        roots: Vec<JurisdictionPath>,
    ) -> Scope {
        Scope {
            user_id: Some(user_id),
            actor: username.to_owned(),
            role,
            roots,
        }
    }

    /// The operator at the command line (`linli node add`, `linli demo`): acts as admin and is
    /// recorded in the audit log as `cli`.
    pub fn operator() -> Scope {
        Scope {
            user_id: None,
            actor: "cli".to_owned(),
            role: Role::Admin,
            roots: Vec::new(),
        }
    }

    /// A resident acting through a link of their own (a self check-in): may read and write
    /// records at `path` (their observation's node) and its subtree only, as a grid worker
    /// would; recorded as `actor`. Never given to a session: the link's code is the authority.
    pub fn for_link(actor: &str, path: JurisdictionPath) -> Scope {
        Scope {
            user_id: None,
            actor: actor.to_owned(),
            role: Role::GridWorker,
            roots: vec![path],
        }
    }

    pub fn user_id(&self) -> Option<i64> {
        self.user_id
    }

    pub fn actor(&self) -> &str {
        &self.actor
    }

    pub fn role(&self) -> Role {
        self.role
    }

    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// The roots of the caller's jurisdiction; empty for an admin, who has no limit.
    pub fn roots(&self) -> &[JurisdictionPath] {
        &self.roots
    }

    pub fn can_read(&self, path: &JurisdictionPath) -> bool {
        self.is_admin() || self.roots.iter().any(|r| path.is_within(r))
    }

    /// Changing the tree (add, rename, move, close): admins anywhere; staff strictly below
    /// their own roots (a community worker adds buildings but cannot close the community).
    pub fn can_edit_node(&self, path: &JurisdictionPath) -> bool {
        match self.role {
            Role::Admin => true,
            Role::Staff => self.roots.iter().any(|r| path.is_within(r) && path != r),
            Role::Official | Role::GridWorker => false,
        }
    }

    /// Adding a child under `parent`: admins anywhere, staff within their roots.
    pub fn can_add_under(&self, parent: &JurisdictionPath) -> bool {
        match self.role {
            Role::Admin => true,
            Role::Staff => self.can_read(parent),
            Role::Official | Role::GridWorker => false,
        }
    }

    /// Writing records about people and their events (registry, screening, check-ins): everyone
    /// but officials, who read and approve; always within the caller's jurisdiction.
    pub fn can_write_records(&self, path: &JurisdictionPath) -> bool {
        self.role != Role::Official && self.can_read(path)
    }

    /// Seeing one person's full ID or phone number (each time audited): staff and above.
    pub fn can_unmask(&self, path: &JurisdictionPath) -> bool {
        self.role != Role::GridWorker && self.can_read(path)
    }

    pub fn can_manage_users(&self) -> bool {
        self.is_admin()
    }

    /// Declaring risk areas and publishing quarantine policy: district-wide decisions taken by
    /// officials (and admins); every worker reads them.
    pub fn can_manage_policy(&self) -> bool {
        matches!(self.role, Role::Admin | Role::Official)
    }

    /// Admins read the whole audit log, officials the part within their jurisdiction.
    pub fn can_read_audit(&self) -> bool {
        matches!(self.role, Role::Admin | Role::Official)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_labels_stay_as_stored_and_shown() {
        use crate::kernel::labels::assert_table;
        assert_table(&[
            (Role::Admin, "admin", "系统管理员"),
            (Role::Official, "official", "街道/区县干部"),
            (Role::Staff, "staff", "社区工作者"),
            (Role::GridWorker, "grid_worker", "网格员"),
        ]);
    }

    fn path(s: &str) -> JurisdictionPath {
        JurisdictionPath::parse(s).unwrap()
    }

    #[test]
    fn roles_parse_from_their_names_only() {
        for &r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>().unwrap(), r);
        }
        assert!("root".parse::<Role>().is_err());
        assert!("Admin".parse::<Role>().is_err());
    }

    #[test]
    fn a_grid_worker_reads_only_their_grid() {
        let s = Scope::for_user(5, "wg", Role::GridWorker, vec![path("/1/2/3/10/")]);
        assert!(s.can_read(&path("/1/2/3/10/")));
        assert!(s.can_read(&path("/1/2/3/10/99/")));
        assert!(!s.can_read(&path("/1/2/3/11/")));
        assert!(!s.can_read(&path("/1/2/3/")));
        assert!(!s.can_read(&path("/1/2/3/100/")));
        assert!(!s.can_edit_node(&path("/1/2/3/10/99/")));
        assert!(!s.can_manage_users());
    }

    #[test]
    fn an_empty_scope_sees_nothing() {
        let s = Scope::for_user(5, "x", Role::Staff, vec![]);
        assert!(!s.can_read(&path("/1/")));
        assert!(!s.can_add_under(&path("/1/")));
    }

    #[test]
    fn staff_edit_below_their_root_but_not_the_root() {
        let s = Scope::for_user(5, "st", Role::Staff, vec![path("/1/2/3/")]);
        assert!(s.can_edit_node(&path("/1/2/3/4/")));
        assert!(!s.can_edit_node(&path("/1/2/3/")));
        assert!(s.can_add_under(&path("/1/2/3/")));
        assert!(!s.can_add_under(&path("/1/2/")));
    }
}
