//! Accounts, their jurisdiction, logins with throttling, sessions and API tokens.

use std::collections::HashMap;

use linli_core::accounts::throttle::{self, Failures};
use linli_core::kernel::labels::Labelled;
use linli_core::{CoreError, JurisdictionPath, NewPassword, NodeKind, Role, Scope, Username};
use serde::Serialize;
use serde_json::json;
use sqlx::Row;

use crate::infra::audit::{self, AuditEntry};
use crate::infra::secret::{self, random_token, token_hash};
use crate::tree::unique_to_conflict;
use crate::{Db, Page, StoreError};

/// A session ends after this long without a request…
pub const SESSION_IDLE_MS: i64 = 12 * 3600 * 1000;
/// …and at the latest this long after login.
pub const SESSION_MAX_MS: i64 = 7 * 24 * 3600 * 1000;
/// `last_seen_at` is written at most this often, to spare SQLite's single writer.
const TOUCH_EVERY_MS: i64 = 60 * 1000;

/// An account as shown to admins. The password hash never leaves this module.
#[derive(Debug, Clone, Serialize)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub disabled: bool,
    pub nodes: Vec<BoundNode>,
    pub created_at: i64,
}

/// A node an account is bound to.
#[derive(Debug, Clone, Serialize)]
pub struct BoundNode {
    pub id: i64,
    pub name: String,
    pub kind: NodeKind,
    #[serde(skip)]
    pub path: JurisdictionPath,
}

/// An account to create, as typed.
#[derive(Debug, Clone)]
pub struct NewUser<'a> {
    pub username: &'a str,
    pub display_name: Option<&'a str>,
    pub password: &'a str,
    pub role: &'a str,
    pub node_ids: &'a [i64],
}

/// A signed-in caller: the account, its scope, and how it authenticated.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user: User,
    pub scope: Scope,
    /// The session's CSRF token; `None` for bearer tokens, which no browser sends by itself.
    pub csrf_token: Option<String>,
}

/// A new session after a successful login: the cookie value (shown once) and its CSRF token.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub token: String,
    pub csrf_token: String,
    pub user: User,
}

/// Why a login did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("wrong login name or password")]
    BadCredentials,
    #[error("too many failed logins; try again in {retry_after_s} s")]
    Throttled { retry_after_s: i64 },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for LoginError {
    fn from(e: sqlx::Error) -> Self {
        LoginError::Store(StoreError::Db(e))
    }
}

fn user_from_row(row: &sqlx::any::AnyRow) -> Result<User, StoreError> {
    let role: String = row.try_get("role")?;
    Ok(User {
        id: row.try_get("id")?,
        username: row.try_get("username")?,
        display_name: row.try_get("display_name")?,
        role: role
            .parse()
            .map_err(|e: CoreError| StoreError::Internal(e.to_string()))?,
        disabled: row.try_get::<i64, _>("disabled")? != 0,
        nodes: Vec::new(),
        created_at: row.try_get("created_at")?,
    })
}

const USER_COLUMNS: &str = "id, username, display_name, role, disabled, created_at";

async fn bound_nodes<'e, E>(exec: E, user_id: i64) -> Result<Vec<BoundNode>, StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let rows = sqlx::query(
        "SELECT n.id, n.name, n.kind, n.path FROM user_node un JOIN node n ON n.id = un.node_id \
         WHERE un.user_id = $1 ORDER BY n.path",
    )
    .bind(user_id)
    .fetch_all(exec)
    .await?;
    rows.iter()
        .map(|r| {
            let kind: String = r.try_get("kind")?;
            let path: String = r.try_get("path")?;
            Ok(BoundNode {
                id: r.try_get("id")?,
                name: r.try_get("name")?,
                kind: kind
                    .parse()
                    .map_err(|e: CoreError| StoreError::Internal(e.to_string()))?,
                path: JurisdictionPath::parse(&path)
                    .map_err(|e| StoreError::Internal(e.to_string()))?,
            })
        })
        .collect()
}

async fn load_user(db: &Db, id: i64) -> Result<Option<User>, StoreError> {
    let row = sqlx::query(&format!(
        "SELECT {USER_COLUMNS} FROM app_user WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(db.pool())
    .await?;
    match row {
        Some(r) => {
            let mut u = user_from_row(&r)?;
            u.nodes = bound_nodes(db.pool(), u.id).await?;
            Ok(Some(u))
        }
        None => Ok(None),
    }
}

/// The scope of an account: its role and the paths of its (open) nodes.
fn scope_of(user: &User) -> Scope {
    Scope::for_user(
        user.id,
        &user.username,
        user.role,
        user.nodes.iter().map(|n| n.path.clone()).collect(),
    )
}

/// Checks an account's fields and its nodes; the nodes must exist, be open, be visible to the
/// creator, and suit the role (a grid worker is bound to grids).
async fn check_binding(
    db: &Db,
    scope: &Scope,
    role: Role,
    node_ids: &[i64],
    errors: &mut Vec<CoreError>,
) -> Result<(), StoreError> {
    if role == Role::Admin {
        if !node_ids.is_empty() {
            errors.push(CoreError::invalid("node_ids", "管理员不绑定节点"));
        }
        return Ok(());
    }
    if node_ids.is_empty() {
        errors.push(CoreError::invalid(
            "node_ids",
            "请至少绑定一个节点：账号只能看到所绑定节点内的数据",
        ));
    }
    for id in node_ids {
        match crate::tree::get(db, scope, *id).await {
            Ok(n) if !n.is_open() => {
                errors.push(CoreError::invalid("node_ids", format!("节点 {id} 已撤销")))
            }
            Ok(n) if role == Role::GridWorker && n.kind != NodeKind::Grid => {
                errors.push(CoreError::invalid(
                    "node_ids",
                    format!("网格员只能绑定网格；节点 {id} 是{}", n.kind.label_zh()),
                ))
            }
            Ok(_) => {}
            Err(StoreError::NotFound) => errors.push(CoreError::invalid(
                "node_ids",
                format!("没有编号为 {id} 的节点"),
            )),
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Creates an account (admins only). Audited; the password is never logged.
pub async fn create(
    db: &Db,
    scope: &Scope,
    new: NewUser<'_>,
    now: i64,
) -> Result<User, StoreError> {
    if !scope.can_manage_users() {
        return Err(StoreError::Forbidden("只有管理员可以管理账号".into()));
    }
    let mut errors = Vec::new();
    let username = Username::parse(new.username)
        .map_err(|e| errors.push(e))
        .ok();
    let password = NewPassword::parse(new.password)
        .map_err(|e| errors.push(e))
        .ok();
    let role = new.role.parse::<Role>().map_err(|e| errors.push(e)).ok();
    let display_name = new.display_name.map(str::trim).filter(|s| !s.is_empty());
    if display_name.is_some_and(|d| d.chars().count() > 50 || d.chars().any(char::is_control)) {
        errors.push(CoreError::invalid(
            "display_name",
            "姓名最多 50 个字符，且不能包含控制字符",
        ));
    }
    if let Some(role) = role {
        check_binding(db, scope, role, new.node_ids, &mut errors).await?;
    }
    let (Some(username), Some(password), Some(role), true) =
        (username, password, role, errors.is_empty())
    else {
        return Err(StoreError::Invalid(errors));
    };
    let hash = secret::hash_password(password.expose().to_owned()).await?;
    let mut tx = db.begin_write().await?;
    let row = sqlx::query(
        "INSERT INTO app_user (username, display_name, role, password_hash, disabled, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, 0, $5, $5) RETURNING id",
    )
    .bind(username.as_str())
    .bind(display_name.unwrap_or(username.as_str()))
    .bind(role.as_str())
    .bind(hash)
    .bind(now)
    .fetch_one(&mut *tx)
    .await
    .map_err(unique_to_conflict)?;
    let id: i64 = row.try_get(0)?;
    let mut node_ids = new.node_ids.to_vec();
    node_ids.sort_unstable();
    node_ids.dedup();
    for node_id in &node_ids {
        sqlx::query("INSERT INTO user_node (user_id, node_id) VALUES ($1, $2)")
            .bind(id)
            .bind(*node_id)
            .execute(&mut *tx)
            .await?;
    }
    audit::commit_recorded(
        tx,
        AuditEntry::by(scope, "user.create", "user")
            .entity_id(id)
            .detail(
                json!({"username": username.as_str(), "role": role.as_str(), "node_ids": node_ids}),
            ),
        now,
    )
    .await?;
    load_user(db, id).await?.ok_or(StoreError::NotFound)
}

/// One account (admins only).
pub async fn get(db: &Db, scope: &Scope, id: i64) -> Result<User, StoreError> {
    if !scope.can_manage_users() {
        return Err(StoreError::Forbidden("只有管理员可以管理账号".into()));
    }
    load_user(db, id).await?.ok_or(StoreError::NotFound)
}

/// Finds an account by login name (admins and the operator only).
pub async fn find(db: &Db, scope: &Scope, username: &str) -> Result<Option<User>, StoreError> {
    if !scope.can_manage_users() {
        return Err(StoreError::Forbidden("只有管理员可以管理账号".into()));
    }
    let row = sqlx::query("SELECT id FROM app_user WHERE username = $1")
        .bind(username.trim().to_ascii_lowercase())
        .fetch_optional(db.pool())
        .await?;
    match row {
        Some(r) => load_user(db, r.try_get(0)?).await,
        None => Ok(None),
    }
}

/// All accounts by login name, paged by id (admins only).
pub async fn list(db: &Db, scope: &Scope, page: Page) -> Result<Vec<User>, StoreError> {
    if !scope.can_manage_users() {
        return Err(StoreError::Forbidden("只有管理员可以管理账号".into()));
    }
    let rows = sqlx::query(&format!(
        "SELECT {USER_COLUMNS} FROM app_user WHERE id > $1 ORDER BY id LIMIT $2"
    ))
    .bind(page.after.unwrap_or(0))
    .bind(page.limit)
    .fetch_all(db.pool())
    .await?;
    let mut users = Vec::with_capacity(rows.len());
    for r in &rows {
        let mut u = user_from_row(r)?;
        u.nodes = bound_nodes(db.pool(), u.id).await?;
        users.push(u);
    }
    Ok(users)
}

/// Resets another account's password (admins, and the operator at the command line). Ends that
/// account's sessions. Audited. One's own password is changed with [`change_own_password`],
/// which asks for the current one: a stolen session must not become a permanent takeover.
pub async fn set_password(
    db: &Db,
    scope: &Scope,
    user_id: i64,
    password: &str,
    now: i64,
) -> Result<(), StoreError> {
    if scope.user_id() == Some(user_id) {
        return Err(StoreError::Forbidden(
            "修改自己的密码需要输入当前密码".into(),
        ));
    }
    if !scope.can_manage_users() {
        return Err(StoreError::Forbidden("您只能修改自己的密码".into()));
    }
    let password = NewPassword::parse(password)?;
    let user = load_user(db, user_id).await?.ok_or(StoreError::NotFound)?;
    write_password(db, scope, &user, password, now).await
}

/// Changes the caller's own password after checking the current one. A wrong current password
/// counts as a failed login of the account from `ip` (same delays), so a stolen session cannot
/// guess it faster than the login page allows. Ends every session of the account, this one
/// included. Audited.
pub async fn change_own_password(
    db: &Db,
    scope: &Scope,
    current: &str,
    password: &str,
    ip: &str,
    now: i64,
) -> Result<(), LoginError> {
    let user_id = scope
        .user_id()
        .ok_or_else(|| StoreError::Forbidden("命令行操作员没有自己的密码".into()))?;
    let user = load_user(db, user_id).await?.ok_or(StoreError::NotFound)?;
    let password = NewPassword::parse(password).map_err(StoreError::from)?;
    check_password(db, &user.username, current, ip, now, "user.password.failed").await?;
    write_password(db, scope, &user, password, now).await?;
    Ok(())
}

async fn write_password(
    db: &Db,
    scope: &Scope,
    user: &User,
    password: NewPassword,
    now: i64,
) -> Result<(), StoreError> {
    let user_id = user.id;
    let hash = secret::hash_password(password.expose().to_owned()).await?;
    let mut tx = db.begin_write().await?;
    sqlx::query("UPDATE app_user SET password_hash = $1, updated_at = $2 WHERE id = $3")
        .bind(hash)
        .bind(now)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM session WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    audit::commit_recorded(
        tx,
        AuditEntry::by(scope, "user.password", "user")
            .entity_id(user_id)
            .detail(json!({"username": user.username})),
        now,
    )
    .await?;
    db.caches.principals.clear();
    Ok(())
}

/// Changes an account's role, nodes or disabled flag (admins only). Disabling ends its sessions
/// and revokes its tokens. Audited with old and new values.
pub async fn update(
    db: &Db,
    scope: &Scope,
    user_id: i64,
    role: Option<&str>,
    node_ids: Option<&[i64]>,
    disabled: Option<bool>,
    now: i64,
) -> Result<User, StoreError> {
    if !scope.can_manage_users() {
        return Err(StoreError::Forbidden("只有管理员可以管理账号".into()));
    }
    let user = load_user(db, user_id).await?.ok_or(StoreError::NotFound)?;
    let mut errors = Vec::new();
    let new_role = match role {
        Some(r) => r
            .parse::<Role>()
            .map_err(|e| errors.push(e))
            .ok()
            .unwrap_or(user.role),
        None => user.role,
    };
    let current: Vec<i64> = user.nodes.iter().map(|n| n.id).collect();
    let new_nodes = node_ids
        .map(<[i64]>::to_vec)
        .unwrap_or_else(|| current.clone());
    if role.is_some() || node_ids.is_some() {
        check_binding(db, scope, new_role, &new_nodes, &mut errors).await?;
    }
    if scope.user_id() == Some(user_id) && (disabled == Some(true) || new_role != Role::Admin) {
        errors.push(CoreError::invalid(
            "role",
            "不能停用自己的账号，也不能取消自己的管理员角色",
        ));
    }
    if !errors.is_empty() {
        return Err(StoreError::Invalid(errors));
    }
    let new_disabled = disabled.unwrap_or(user.disabled);
    let mut tx = db.begin_write().await?;
    sqlx::query("UPDATE app_user SET role = $1, disabled = $2, updated_at = $3 WHERE id = $4")
        .bind(new_role.as_str())
        .bind(i64::from(new_disabled))
        .bind(now)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    if node_ids.is_some() || new_role == Role::Admin {
        sqlx::query("DELETE FROM user_node WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        if new_role != Role::Admin {
            let mut ids = new_nodes.clone();
            ids.sort_unstable();
            ids.dedup();
            for node_id in ids {
                sqlx::query("INSERT INTO user_node (user_id, node_id) VALUES ($1, $2)")
                    .bind(user_id)
                    .bind(node_id)
                    .execute(&mut *tx)
                    .await?;
            }
        }
    }
    if new_disabled && !user.disabled {
        sqlx::query("DELETE FROM session WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE api_token SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    }
    audit::commit_recorded(
        tx,
        AuditEntry::by(scope, "user.update", "user")
            .entity_id(user_id)
            .detail(json!({
                "username": user.username,
                "role": [user.role.as_str(), new_role.as_str()],
                "node_ids": [current, new_nodes],
                "disabled": [user.disabled, new_disabled],
            })),
        now,
    )
    .await?;
    db.caches.principals.clear();
    load_user(db, user_id).await?.ok_or(StoreError::NotFound)
}

/// The failures on record that bear on a login of `name` from `ip` at `now`.
async fn failures(db: &Db, name: &str, ip: &str, now: i64) -> Result<Failures, StoreError> {
    let pair = sqlx::query(
        "SELECT COUNT(*), MAX(at) FROM login_failure WHERE username = $1 AND ip = $2 AND at > $3",
    )
    .bind(name)
    .bind(ip)
    .bind(now - throttle::PAIR_WINDOW_MS)
    .fetch_one(db.pool())
    .await?;
    let address =
        sqlx::query("SELECT COUNT(*), MIN(at) FROM login_failure WHERE ip = $1 AND at > $2")
            .bind(ip)
            .bind(now - throttle::ADDRESS_WINDOW_MS)
            .fetch_one(db.pool())
            .await?;
    Ok(Failures {
        pair: pair.try_get(0)?,
        pair_last_at: pair.try_get(1)?,
        address: address.try_get(0)?,
        address_oldest_at: address.try_get(1)?,
    })
}

/// Checks a login name and password, throttled per account and address and per address (the
/// rule: `linli_core::accounts::throttle`), and opens a
/// session. Every attempt — success, failure, refusal — is audited.
pub async fn login(
    db: &Db,
    username: &str,
    password: &str,
    ip: &str,
    user_agent: Option<&str>,
    now: i64,
) -> Result<NewSession, LoginError> {
    let name = username.trim().to_ascii_lowercase();
    let user_id = check_password(db, &name, password, ip, now, "login.failed").await?;
    let user = load_user(db, user_id).await?.ok_or(StoreError::NotFound)?;
    let token = random_token(32);
    let csrf_token = random_token(32);
    let mut tx = db.begin_write().await?;
    // Only this address's record is wiped: a guesser elsewhere keeps the delays earned.
    sqlx::query("DELETE FROM login_failure WHERE username = $1 AND ip = $2")
        .bind(&name)
        .bind(ip)
        .execute(&mut *tx)
        .await?;
    // Expired sessions and failures are swept here rather than by a job: logins are frequent
    // enough.
    sqlx::query("DELETE FROM login_failure WHERE at < $1")
        .bind(now - throttle::PAIR_WINDOW_MS)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM session WHERE expires_at < $1 OR last_seen_at < $2")
        .bind(now)
        .bind(now - SESSION_IDLE_MS)
        .execute(&mut *tx)
        .await?;
    let row = sqlx::query(
        "INSERT INTO session (token_hash, user_id, csrf_token, created_at, last_seen_at, expires_at, ip, user_agent) \
         VALUES ($1, $2, $3, $4, $4, $5, $6, $7) RETURNING id",
    )
    .bind(token_hash(&token))
    .bind(user_id)
    .bind(&csrf_token)
    .bind(now)
    .bind(now + SESSION_MAX_MS)
    .bind(ip)
    .bind(user_agent.map(|ua| ua.chars().take(200).collect::<String>()))
    .fetch_one(&mut *tx)
    .await?;
    let session_id: i64 = row.try_get(0)?;
    let mut entry = AuditEntry::by_name(Some(user_id), &name, "login", "session")
        .entity_id(session_id)
        .ip(Some(ip));
    if let Some(first) = user.nodes.first() {
        entry = entry.node_path(&first.path);
    }
    audit::commit_recorded(tx, entry, now).await?;
    Ok(NewSession {
        token,
        csrf_token,
        user,
    })
}

/// Checks a password of the account `name` (lowercase) typed from `ip`: refused while the
/// throttle says wait, and each failure recorded (and audited as `failed_action`) so that it
/// counts towards the next delay. Returns the account's id.
async fn check_password(
    db: &Db,
    name: &str,
    password: &str,
    ip: &str,
    now: i64,
    failed_action: &str,
) -> Result<i64, LoginError> {
    let f = failures(db, name, ip, now).await?;
    if let Some(wait) = throttle::wait_ms(&f, now) {
        // Rounded up: "retry in 0 s" would invite an immediate, refused retry.
        let retry_after_s = (wait + 999) / 1000;
        audit::record(
            db.pool(),
            AuditEntry::by_name(None, name, "login.throttled", "session")
                .ip(Some(ip))
                .detail(json!({"failures_pair": f.pair, "failures_address": f.address})),
            now,
        )
        .await?;
        return Err(LoginError::Throttled { retry_after_s });
    }
    let row = sqlx::query("SELECT id, password_hash, disabled FROM app_user WHERE username = $1")
        .bind(name)
        .fetch_optional(db.pool())
        .await?;
    let (user_id, hash, disabled) = match &row {
        Some(r) => (
            Some(r.try_get::<i64, _>(0)?),
            r.try_get::<String, _>(1)?,
            r.try_get::<i64, _>(2)? != 0,
        ),
        None => (None, secret::dummy_hash().await.to_owned(), false),
    };
    let ok = secret::verify_password(password.to_owned(), hash).await?;
    match user_id {
        Some(id) if ok && !disabled => Ok(id),
        _ => {
            let mut tx = db.begin_write().await?;
            sqlx::query("INSERT INTO login_failure (username, ip, at) VALUES ($1, $2, $3)")
                .bind(name)
                .bind(ip)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            let reason = match (user_id, ok, disabled) {
                (None, _, _) => "unknown account",
                (Some(_), true, true) => "account disabled",
                _ => "wrong password",
            };
            audit::commit_recorded(
                tx,
                AuditEntry::by_name(user_id, name, failed_action, "session")
                    .ip(Some(ip))
                    .detail(json!({"reason": reason})),
                now,
            )
            .await?;
            Err(LoginError::BadCredentials)
        }
    }
}

/// How long a resolved caller is reused without asking the database again. Every request
/// resolves its caller (token → account → bound nodes); under a burst of check-ins that lookup
/// would cost more than the check-in itself. Changes made through this process (logout,
/// password, account update, token revocation, node moves and closures) clear the cache at
/// once; a change made by another process (`linli user …` beside `linli serve`, a second app
/// server) is seen within this time.
pub const PRINCIPAL_TTL: std::time::Duration = std::time::Duration::from_secs(1);
/// Beyond this many live entries the cache starts over (it holds one entry per active session
/// or token, so this is only a bound against a flood of distinct valid tokens).
const PRINCIPAL_CACHE_MAX: usize = 10_000;

/// Recently resolved callers, by the SHA-256 of their session or bearer token.
#[derive(Default)]
pub(crate) struct PrincipalCache {
    entries: std::sync::Mutex<HashMap<(bool, String), (std::time::Instant, Principal)>>,
}

impl std::fmt::Debug for PrincipalCache {
    // Never prints the callers it holds.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PrincipalCache")
    }
}

impl PrincipalCache {
    fn get(&self, bearer: bool, hash: &str) -> Option<Principal> {
        let entries = self.entries.lock().ok()?;
        let (at, p) = entries.get(&(bearer, hash.to_owned()))?;
        (at.elapsed() < PRINCIPAL_TTL).then(|| p.clone())
    }

    fn put(&self, bearer: bool, hash: String, p: &Principal) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= PRINCIPAL_CACHE_MAX {
                entries.clear();
            }
            entries.insert((bearer, hash), (std::time::Instant::now(), p.clone()));
        }
    }

    /// Forgets every resolved caller: accounts, sessions or jurisdictions changed.
    pub(crate) fn clear(&self) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.clear();
        }
    }
}

/// The columns of the account and of its bound nodes, for the one-query lookups below (a row
/// per bound node; the node columns are NULL for an account bound to none).
const PRINCIPAL_COLUMNS: &str =
    "u.id, u.username, u.display_name, u.role, u.disabled, u.created_at, \
     n.id AS node_id, n.name AS node_name, n.kind AS node_kind, n.path AS node_path";
const PRINCIPAL_JOINS: &str =
    "LEFT JOIN user_node un ON un.user_id = u.id LEFT JOIN node n ON n.id = un.node_id";

/// The account of the first row with the bound nodes of all rows (every request resolves its
/// caller, so this is one query rather than three).
fn principal_user(rows: &[sqlx::any::AnyRow]) -> Result<Option<User>, StoreError> {
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let mut user = user_from_row(first)?;
    for r in rows {
        let Some(id) = r.try_get::<Option<i64>, _>("node_id")? else {
            continue;
        };
        let kind: String = r.try_get("node_kind")?;
        let path: String = r.try_get("node_path")?;
        user.nodes.push(BoundNode {
            id,
            name: r.try_get("node_name")?,
            kind: kind
                .parse()
                .map_err(|e: CoreError| StoreError::Internal(e.to_string()))?,
            path: JurisdictionPath::parse(&path)
                .map_err(|e| StoreError::Internal(e.to_string()))?,
        });
    }
    Ok(Some(user))
}

/// The caller behind a session cookie, if the session is live and the account enabled.
pub async fn principal_for_session(
    db: &Db,
    token: &str,
    now: i64,
) -> Result<Option<Principal>, StoreError> {
    let hash = token_hash(token);
    if let Some(p) = db.caches.principals.get(false, &hash) {
        return Ok(Some(p));
    }
    let rows = sqlx::query(&format!(
        "SELECT s.id AS session_id, s.csrf_token, s.last_seen_at, {PRINCIPAL_COLUMNS} \
         FROM session s JOIN app_user u ON u.id = s.user_id {PRINCIPAL_JOINS} \
         WHERE s.token_hash = $1 AND s.expires_at > $2 AND s.last_seen_at > $3 AND u.disabled = 0 \
         ORDER BY n.path"
    ))
    .bind(&hash)
    .bind(now)
    .bind(now - SESSION_IDLE_MS)
    .fetch_all(db.pool())
    .await?;
    let Some(user) = principal_user(&rows)? else {
        return Ok(None);
    };
    let first = &rows[0];
    let session_id: i64 = first.try_get("session_id")?;
    let csrf: String = first.try_get("csrf_token")?;
    let last_seen: i64 = first.try_get("last_seen_at")?;
    if now - last_seen > TOUCH_EVERY_MS {
        sqlx::query("UPDATE session SET last_seen_at = $1 WHERE id = $2")
            .bind(now)
            .bind(session_id)
            .execute(db.pool())
            .await?;
    }
    let p = Principal {
        scope: scope_of(&user),
        user,
        csrf_token: Some(csrf),
    };
    db.caches.principals.put(false, hash, &p);
    Ok(Some(p))
}

/// The caller behind a bearer token, if the token is live and the account enabled.
pub async fn principal_for_token(
    db: &Db,
    token: &str,
    now: i64,
) -> Result<Option<Principal>, StoreError> {
    let hash = token_hash(token);
    if let Some(p) = db.caches.principals.get(true, &hash) {
        return Ok(Some(p));
    }
    let rows = sqlx::query(&format!(
        "SELECT t.id AS token_id, t.last_used_at, {PRINCIPAL_COLUMNS} \
         FROM api_token t JOIN app_user u ON u.id = t.user_id {PRINCIPAL_JOINS} \
         WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND u.disabled = 0 ORDER BY n.path"
    ))
    .bind(&hash)
    .fetch_all(db.pool())
    .await?;
    let Some(user) = principal_user(&rows)? else {
        return Ok(None);
    };
    let token_id: i64 = rows[0].try_get("token_id")?;
    let last_used: Option<i64> = rows[0].try_get("last_used_at")?;
    if last_used.is_none_or(|t| now - t > TOUCH_EVERY_MS) {
        sqlx::query("UPDATE api_token SET last_used_at = $1 WHERE id = $2")
            .bind(now)
            .bind(token_id)
            .execute(db.pool())
            .await?;
    }
    let p = Principal {
        scope: scope_of(&user),
        user,
        csrf_token: None,
    };
    db.caches.principals.put(true, hash, &p);
    Ok(Some(p))
}

/// Ends a session (logout). Audited.
pub async fn logout(db: &Db, token: &str, ip: &str, now: i64) -> Result<(), StoreError> {
    let row = sqlx::query(
        "SELECT s.id, s.user_id, u.username FROM session s JOIN app_user u ON u.id = s.user_id WHERE s.token_hash = $1",
    )
    .bind(token_hash(token))
    .fetch_optional(db.pool())
    .await?;
    if let Some(row) = row {
        let session_id: i64 = row.try_get(0)?;
        let user_id: i64 = row.try_get(1)?;
        let username: String = row.try_get(2)?;
        let mut tx = db.begin_write().await?;
        sqlx::query("DELETE FROM session WHERE id = $1")
            .bind(session_id)
            .execute(&mut *tx)
            .await?;
        audit::commit_recorded(
            tx,
            AuditEntry::by_name(Some(user_id), &username, "logout", "session")
                .entity_id(session_id)
                .ip(Some(ip)),
            now,
        )
        .await?;
        db.caches.principals.clear();
    }
    Ok(())
}

/// Issues a bearer token for scripts; the token is returned once and only its hash is kept.
/// Admins and the operator only. Audited.
pub async fn issue_token(
    db: &Db,
    scope: &Scope,
    user_id: i64,
    label: &str,
    now: i64,
) -> Result<String, StoreError> {
    if !scope.can_manage_users() {
        return Err(StoreError::Forbidden("只有管理员可以签发 API 令牌".into()));
    }
    let user = load_user(db, user_id).await?.ok_or(StoreError::NotFound)?;
    if user.disabled {
        return Err(StoreError::invalid("username", "该账号已停用"));
    }
    let label = label.trim();
    if label.is_empty() || label.chars().count() > 100 {
        return Err(StoreError::invalid("label", "标签须为 1 到 100 个字符"));
    }
    let token = format!("linli_{}", random_token(32));
    let mut tx = db.begin_write().await?;
    audit::insert_recorded(
        &mut tx,
        sqlx::query(
            "INSERT INTO api_token (user_id, label, token_hash, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(user_id)
        .bind(label)
        .bind(token_hash(&token))
        .bind(now),
        AuditEntry::by(scope, "token.issue", "api_token")
            .detail(json!({"username": user.username, "label": label})),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(token)
}

/// Revokes every live token of an account. Audited. Returns how many were revoked.
pub async fn revoke_tokens(
    db: &Db,
    scope: &Scope,
    user_id: i64,
    now: i64,
) -> Result<u64, StoreError> {
    if !scope.can_manage_users() {
        return Err(StoreError::Forbidden("只有管理员可以吊销 API 令牌".into()));
    }
    let mut tx = db.begin_write().await?;
    let n = sqlx::query(
        "UPDATE api_token SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(user_id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    audit::commit_recorded(
        tx,
        AuditEntry::by(scope, "token.revoke", "api_token")
            .entity_id(user_id)
            .detail(json!({"revoked": n})),
        now,
    )
    .await?;
    db.caches.principals.clear();
    Ok(n)
}

/// How many accounts exist (the CLI's `init` refuses to run twice).
pub async fn count(db: &Db) -> Result<i64, StoreError> {
    let row = sqlx::query("SELECT COUNT(*) FROM app_user")
        .fetch_one(db.pool())
        .await?;
    Ok(row.try_get(0)?)
}

/// The display names of the accounts `ids`, for those who read the audit log (which names its
/// actors by login name and id). Ids that are no account are left out.
pub async fn display_names(
    db: &Db,
    scope: &Scope,
    ids: &[i64],
) -> Result<HashMap<i64, String>, StoreError> {
    if !scope.can_read_audit() {
        return Err(StoreError::Forbidden("您的角色不能查看审计日志".into()));
    }
    let mut names = HashMap::new();
    if ids.is_empty() {
        return Ok(names);
    }
    let mut params = crate::infra::db::Params::new();
    let list: Vec<String> = ids.iter().map(|&id| params.int(id)).collect();
    let sql = format!(
        "SELECT id, display_name FROM app_user WHERE id IN ({})",
        list.join(", ")
    );
    for r in params.bind(sqlx::query(&sql)).fetch_all(db.pool()).await? {
        names.insert(r.try_get(0)?, r.try_get(1)?);
    }
    Ok(names)
}

/// The display names of the accounts whose login names are `logins` (records keep who acted by
/// login name; pages show the person). Login names that are no account are left out.
pub async fn names_by_login(
    db: &Db,
    logins: &[&str],
) -> Result<HashMap<String, String>, StoreError> {
    let mut names = HashMap::new();
    if logins.is_empty() {
        return Ok(names);
    }
    let mut params = crate::infra::db::Params::new();
    let list: Vec<String> = logins.iter().map(|l| params.text(*l)).collect();
    let sql = format!(
        "SELECT username, display_name FROM app_user WHERE username IN ({})",
        list.join(", ")
    );
    for r in params.bind(sqlx::query(&sql)).fetch_all(db.pool()).await? {
        names.insert(r.try_get(0)?, r.try_get(1)?);
    }
    Ok(names)
}
