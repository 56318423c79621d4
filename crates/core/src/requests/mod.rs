//! Residents' requests (群众诉求, 接诉即办): the rules a hotline supervisor would check, with no
//! database and no clock of their own (every function that needs the time is given `now`, in
//! Unix milliseconds, so tests choose it).
//!
//! - **Categories** carry their deadlines as data: respond within N hours, resolve within M
//!   days. [`DEFAULT_CATEGORIES`] are the defaults from the Beijing hotline standard draft
//!   (emergencies: feedback within 2 h; water, power, gas, heating: 24 h; general: 7 days;
//!   complex: 15 days); admins edit them as new versions (the store keeps every version).
//! - **Lifecycle**: received → dispatched (to a node or a department) → accepted, or returned
//!   with a reason → in progress → resolved (what was done) → rated (满意 / 基本满意 / 不满意)
//!   → closed. 不满意 can reopen the request. [`Status::apply`] validates every step.
//! - **Who may do what**: [`permit`] judges the actor's role, then the request's state; the
//!   store refuses with it and the pages draw their buttons from [`allowed`], its listing.
//! - **Tracking numbers**: 14 digits, the China date of intake, five random digits and a Luhn
//!   check digit (`20261205` `48392` `7`), read out over the phone and typed on a keypad.
//! - **The three rates** of 接诉即办, as pure functions over the requests of a period (see
//!   [`Rates`] for their definitions), plus the median times to respond and to resolve.
//! - **Open311** states: everything is `open` until it is closed.

pub mod open311;

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use crate::kernel::clock::{date_of, format_date};
use crate::kernel::labels::Labelled;
use crate::labelled;
use crate::{CoreError, Phone, Role};

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

/// How long a summoned department has to report after a whistle (吹哨): 30 minutes.
pub const WHISTLE_ACK_MS: i64 = 30 * 60 * 1000;

/// The longest description, address and note accepted.
pub const MAX_DESCRIPTION: usize = 2000;
pub const MAX_ADDRESS: usize = 200;
pub const MAX_NOTE: usize = 1000;

/// The largest photo a request takes (5 MB).
pub const MAX_PHOTO_BYTES: usize = 5 * 1024 * 1024;

/// The content type of a request's photo, from its bytes' signature (never from the file name
/// or what the uploader claimed): JPEG, PNG or WebP; anything else, an empty file or one over
/// [`MAX_PHOTO_BYTES`] is refused on field `photo`.
pub fn photo_type(bytes: &[u8]) -> Result<&'static str, CoreError> {
    if bytes.is_empty() {
        return Err(CoreError::invalid("photo", "照片是空文件，请重新选择"));
    }
    if bytes.len() > MAX_PHOTO_BYTES {
        return Err(CoreError::invalid(
            "photo",
            format!(
                "照片太大（{:.1} MB），上限 5 MB，请压缩或换一张",
                bytes.len() as f64 / 1024.0 / 1024.0
            ),
        ));
    }
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Ok("image/jpeg")
    } else if bytes.starts_with(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]) {
        Ok("image/png")
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Ok("image/webp")
    } else {
        Err(CoreError::invalid(
            "photo",
            "只能上传 JPEG、PNG 或 WebP 格式的照片（文件内容不是这几种图片）",
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// Channels

labelled! {
    /// Where a request came in.
    #[derive(Hash)]
    pub enum Channel: "channel" {
        /// The resident's own phone, through the public page.
        #[strum(serialize = "self_service", props(zh = "居民自助"))]
        SelfService,
        /// A hotline operator's form.
        #[strum(serialize = "hotline", props(zh = "热线"))]
        Hotline,
        /// A grid worker's patrol report.
        #[strum(serialize = "patrol", props(zh = "网格巡查"))]
        Patrol,
        /// The Open311 GeoReport v2 API.
        #[strum(serialize = "open311", props(zh = "Open311 接口"))]
        Open311,
    }
}

impl FromStr for Channel {
    type Err = CoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Channel::from_code(s.trim())
            .ok_or_else(|| {
                CoreError::invalid(
                    "channel",
                    format!("「{s}」不是有效的渠道，应为 self_service（居民自助）、hotline（热线）、patrol（网格巡查）或 open311"),
                )
            })
    }
}

// ---------------------------------------------------------------------------------------------
// Categories

labelled! {
    /// What happens when a category's deadline passes (beyond marking the request overdue).
    #[derive(Hash)]
    pub enum Escalation: "escalation" {
        /// Only marked overdue.
        #[strum(serialize = "never", props(zh = "不升级"))]
        Never,
        /// Escalated to the level above as soon as the response is late.
        #[strum(serialize = "on_late_response", props(zh = "响应超时即升级"))]
        OnLateResponse,
        /// Escalated to the level above when the resolution is late.
        #[strum(serialize = "on_late_resolution", props(zh = "办理超时即升级"))]
        OnLateResolution,
    }
}

impl FromStr for Escalation {
    type Err = CoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Escalation::from_code(s.trim())
            .ok_or_else(|| {
                CoreError::invalid(
                    "escalation",
                    format!("「{s}」不是有效的升级规则，应为 never（不升级）、on_late_response（响应超时即升级）或 on_late_resolution（办理超时即升级）"),
                )
            })
    }
}

/// A category's rule: its name and deadlines. Parsed, so the values are known good.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CategoryRule {
    /// A short ASCII code (`water`, `emergency`): stable across versions; the Open311 service code.
    pub code: String,
    pub name: String,
    pub description: String,
    /// Respond (accept the request) within this many hours of intake.
    pub respond_hours: i64,
    /// Resolve within this many days of intake.
    pub resolve_days: i64,
    pub escalation: Escalation,
}

/// The defaults (Beijing hotline standard draft): emergencies answered within 2 hours; water,
/// power, gas and heating within 24 hours; general requests resolved within 7 days, complex
/// ones within 15. Responses to non-urgent requests are due within 24 hours (the hotline's
/// "contact the caller within a day").
/// (code, name, description, respond hours, resolve days, escalation)
pub const DEFAULT_CATEGORIES: [(&str, &str, &str, i64, i64, Escalation); 4] = [
    (
        "emergency",
        "紧急诉求",
        "危及人身财产安全、需立即处置的事项",
        2,
        1,
        Escalation::OnLateResponse,
    ),
    (
        "utilities",
        "水电气热",
        "停水、停电、停气、供暖故障",
        24,
        1,
        Escalation::OnLateResolution,
    ),
    (
        "general",
        "一般诉求",
        "环境卫生、噪声、物业、邻里等一般事项",
        24,
        7,
        Escalation::OnLateResolution,
    ),
    (
        "complex",
        "复杂诉求",
        "涉及多个部门、需协调办理的事项",
        24,
        15,
        Escalation::Never,
    ),
];

impl CategoryRule {
    /// Parses a category as an admin types it; every broken field is listed.
    pub fn parse(
        code: &str,
        name: &str,
        description: &str,
        respond_hours: i64,
        resolve_days: i64,
        escalation: &str,
    ) -> Result<CategoryRule, Vec<CoreError>> {
        let mut errors = Vec::new();
        let code = code.trim();
        if code.is_empty()
            || code.len() > 32
            || !code
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            errors.push(CoreError::invalid(
                "code",
                "类别代码应为 1–32 位小写字母、数字或下划线，如 water",
            ));
        }
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 40 {
            errors.push(CoreError::invalid("name", "请填写类别名称（不超过 40 字）"));
        }
        if !(1..=24 * 30).contains(&respond_hours) {
            errors.push(CoreError::invalid(
                "respond_hours",
                "响应时限应为 1 到 720 小时",
            ));
        }
        if !(1..=365).contains(&resolve_days) {
            errors.push(CoreError::invalid(
                "resolve_days",
                "办结时限应为 1 到 365 天",
            ));
        }
        if respond_hours > resolve_days * 24 {
            errors.push(CoreError::invalid(
                "respond_hours",
                "响应时限不能长于办结时限",
            ));
        }
        let escalation = match escalation.parse::<Escalation>() {
            Ok(e) => Some(e),
            Err(e) => {
                errors.push(e);
                None
            }
        };
        match escalation {
            Some(escalation) if errors.is_empty() => Ok(CategoryRule {
                code: code.to_owned(),
                name: name.to_owned(),
                description: description.trim().chars().take(200).collect(),
                respond_hours,
                resolve_days,
                escalation,
            }),
            _ => Err(errors),
        }
    }

    /// The defaults, parsed.
    pub fn defaults() -> Vec<CategoryRule> {
        DEFAULT_CATEGORIES
            .iter()
            .map(|(code, name, description, h, d, e)| CategoryRule {
                code: (*code).to_owned(),
                name: (*name).to_owned(),
                description: (*description).to_owned(),
                respond_hours: *h,
                resolve_days: *d,
                escalation: *e,
            })
            .collect()
    }

    /// The deadlines of a request received at `received_at` (ms).
    pub fn deadlines(&self, received_at: i64) -> Deadlines {
        Deadlines {
            respond_by: received_at + self.respond_hours * HOUR_MS,
            resolve_by: received_at + self.resolve_days * DAY_MS,
        }
    }

    /// A fresh resolution deadline for a request reopened at `now`.
    pub fn resolve_by_from(&self, now: i64) -> i64 {
        now + self.resolve_days * DAY_MS
    }
}

/// When a request must be responded to and resolved (ms).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Deadlines {
    pub respond_by: i64,
    pub resolve_by: i64,
}

// ---------------------------------------------------------------------------------------------
// Ratings

labelled! {
    /// The reporter's rating of the outcome.
    #[derive(Hash)]
    pub enum Rating: "rating" {
        /// 满意
        #[strum(serialize = "satisfied", props(zh = "满意"))]
        Satisfied,
        /// 基本满意
        #[strum(serialize = "fairly_satisfied", props(zh = "基本满意"))]
        FairlySatisfied,
        /// 不满意
        #[strum(serialize = "dissatisfied", props(zh = "不满意"))]
        Dissatisfied,
    }
}

impl Rating {
    /// 满意 and 基本满意 count as satisfied.
    pub fn is_satisfied(self) -> bool {
        self != Rating::Dissatisfied
    }
}

impl FromStr for Rating {
    type Err = CoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        Rating::ALL
            .iter()
            .copied()
            .find(|r| r.as_str() == s || r.label_zh() == s)
            .ok_or_else(|| {
                CoreError::invalid(
                    "rating",
                    format!("「{s}」不是有效的评价，应为 satisfied（满意）、fairly_satisfied（基本满意）或 dissatisfied（不满意）"),
                )
            })
    }
}

// ---------------------------------------------------------------------------------------------
// Lifecycle

labelled! {
    /// Where a request stands.
    #[derive(Hash)]
    pub enum Status: "status" {
        #[strum(serialize = "received", props(zh = "已受理"))]
        Received,
        #[strum(serialize = "dispatched", props(zh = "已派单"))]
        Dispatched,
        #[strum(serialize = "accepted", props(zh = "已接单"))]
        Accepted,
        #[strum(serialize = "returned", props(zh = "已退回"))]
        Returned,
        #[strum(serialize = "in_progress", props(zh = "办理中"))]
        InProgress,
        #[strum(serialize = "resolved", props(zh = "已办结"))]
        Resolved,
        #[strum(serialize = "rated", props(zh = "已评价"))]
        Rated,
        #[strum(serialize = "closed", props(zh = "已关闭"))]
        Closed,
    }
}

impl Status {
    /// Still waiting for someone to act (the resolution clock runs). SQL lists of pending
    /// states are rendered from this slice, so the two cannot drift apart.
    pub const PENDING: [Status; 5] = [
        Status::Received,
        Status::Dispatched,
        Status::Accepted,
        Status::Returned,
        Status::InProgress,
    ];

    /// Pending and not yet taken by a handling unit (an inbox's 新诉求).
    pub const UNTAKEN: [Status; 3] = [Status::Received, Status::Dispatched, Status::Returned];

    /// Still waiting for someone to act (one of [`Status::PENDING`]).
    pub fn is_pending(self) -> bool {
        Status::PENDING.contains(&self)
    }

    /// The Open311 GeoReport v2 status: `closed` once closed, `open` before.
    pub fn open311(self) -> &'static str {
        if self == Status::Closed {
            "closed"
        } else {
            "open"
        }
    }

    /// Applies `action` to a request in this status (`rating` is the request's current
    /// rating, if rated), returning the new status or a precise refusal naming both.
    /// 满意 and 基本满意 close the request at once; 不满意 leaves it rated, for staff to
    /// reopen or close.
    pub fn apply(self, action: &Action, rating: Option<Rating>) -> Result<Status, CoreError> {
        use Status::*;
        let next = match (action, self) {
            (Action::Dispatch { .. }, Received | Returned) => Dispatched,
            (Action::Accept, Dispatched) => Accepted,
            (Action::Return { .. }, Dispatched | Accepted) => Returned,
            (Action::Start, Accepted) => InProgress,
            (Action::Resolve { .. }, Accepted | InProgress) => Resolved,
            (Action::Rate { rating, .. }, Resolved) if rating.is_satisfied() => Closed,
            (Action::Rate { .. }, Resolved) => Rated,
            (Action::Close { .. }, Resolved | Rated) => Closed,
            (Action::Reopen { .. }, Rated | Closed) => {
                if rating == Some(Rating::Dissatisfied) {
                    Received
                } else {
                    return Err(CoreError::invalid(
                        "action",
                        "只有评价为「不满意」的诉求才能重新办理",
                    ));
                }
            }
            (action, from) => {
                return Err(CoreError::invalid(
                    "action",
                    format!(
                        "诉求当前为「{}」，不能{}（{}）",
                        from.label_zh(),
                        action.label_zh(),
                        action.allowed_from()
                    ),
                ))
            }
        };
        Ok(next)
    }
}

impl FromStr for Status {
    type Err = CoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Status::from_code(s.trim())
            .ok_or_else(|| CoreError::invalid("status", format!("「{s}」不是有效的诉求状态")))
    }
}

/// Where a request is dispatched to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "id")]
pub enum Target {
    Node(i64),
    Department(i64),
}

/// One step of the lifecycle, with what it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Dispatch { target: Target },
    Accept,
    Return { reason: String },
    Start,
    Resolve { outcome: String },
    Rate { rating: Rating, comment: String },
    Close { note: String },
    Reopen { reason: String },
}

impl Action {
    pub fn as_str(&self) -> &'static str {
        match self {
            Action::Dispatch { .. } => "dispatch",
            Action::Accept => "accept",
            Action::Return { .. } => "return",
            Action::Start => "start",
            Action::Resolve { .. } => "resolve",
            Action::Rate { .. } => "rate",
            Action::Close { .. } => "close",
            Action::Reopen { .. } => "reopen",
        }
    }

    pub fn label_zh(&self) -> &'static str {
        match self {
            Action::Dispatch { .. } => "派单",
            Action::Accept => "接单",
            Action::Return { .. } => "退回",
            Action::Start => "开始办理",
            Action::Resolve { .. } => "办结",
            Action::Rate { .. } => "评价",
            Action::Close { .. } => "关闭",
            Action::Reopen { .. } => "重新办理",
        }
    }

    /// The kind of the timeline event this action writes.
    pub fn event_kind(&self) -> EventKind {
        match self {
            Action::Dispatch { .. } => EventKind::Dispatched,
            Action::Accept => EventKind::Accepted,
            Action::Return { .. } => EventKind::Returned,
            Action::Start => EventKind::Started,
            Action::Resolve { .. } => EventKind::Resolved,
            Action::Rate { .. } => EventKind::Rated,
            Action::Close { .. } => EventKind::Closed,
            Action::Reopen { .. } => EventKind::Reopened,
        }
    }

    /// The timeline events of this action when it led to `next`: its own, then 关闭 when a
    /// rating closed the request (see [`Status::apply`]).
    pub fn events(&self, next: Status) -> Vec<EventKind> {
        let mut kinds = vec![self.event_kind()];
        if next == Status::Closed && !matches!(self, Action::Close { .. }) {
            kinds.push(EventKind::Closed);
        }
        kinds
    }

    /// The step this action is, without what it carries.
    pub fn step(&self) -> Step {
        match self {
            Action::Dispatch { .. } => Step::Dispatch,
            Action::Accept => Step::Accept,
            Action::Return { .. } => Step::Return,
            Action::Start => Step::Start,
            Action::Resolve { .. } => Step::Resolve,
            Action::Rate { .. } => Step::Rate,
            Action::Close { .. } => Step::Close,
            Action::Reopen { .. } => Step::Reopen,
        }
    }

    fn allowed_from(&self) -> &'static str {
        match self {
            Action::Dispatch { .. } => "只有「已受理」或「已退回」的诉求可以派单",
            Action::Accept => "只有「已派单」的诉求可以接单",
            Action::Return { .. } => "只有「已派单」或「已接单」的诉求可以退回",
            Action::Start => "只有「已接单」的诉求可以开始办理",
            Action::Resolve { .. } => "只有「已接单」或「办理中」的诉求可以办结",
            Action::Rate { .. } => "只有「已办结」的诉求可以评价",
            Action::Close { .. } => "只有「已办结」或「已评价」的诉求可以关闭",
            Action::Reopen { .. } => "只有评价为「不满意」的诉求可以重新办理",
        }
    }

    /// The text the action carries (reason, outcome, comment, note), for the timeline.
    pub fn note(&self) -> Option<&str> {
        match self {
            Action::Return { reason } | Action::Reopen { reason } => Some(reason),
            Action::Resolve { outcome } => Some(outcome),
            Action::Rate { comment, .. } | Action::Close { note: comment } => {
                Some(comment).filter(|c| !c.is_empty()).map(String::as_str)
            }
            _ => None,
        }
    }

    /// A return with its reason (required).
    pub fn return_with(reason: &str) -> Result<Action, CoreError> {
        Ok(Action::Return {
            reason: required_text("reason", reason, "请填写退回原因")?,
        })
    }

    /// A resolution with what was done (required).
    pub fn resolve_with(outcome: &str) -> Result<Action, CoreError> {
        Ok(Action::Resolve {
            outcome: required_text("outcome", outcome, "请填写办理结果（做了什么）")?,
        })
    }

    /// A reopening with why (required).
    pub fn reopen_with(reason: &str) -> Result<Action, CoreError> {
        Ok(Action::Reopen {
            reason: required_text("reason", reason, "请填写重新办理的原因")?,
        })
    }

    /// A rating, with an optional comment.
    pub fn rate_with(rating: &str, comment: &str) -> Result<Action, CoreError> {
        Ok(Action::Rate {
            rating: rating.parse()?,
            comment: optional_text("comment", comment)?,
        })
    }

    /// A closing, with an optional note.
    pub fn close_with(note: &str) -> Result<Action, CoreError> {
        Ok(Action::Close {
            note: optional_text("note", note)?,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Who may do what

/// What can be done to a request, as its page offers it: each lifecycle [`Action`] without
/// what it carries, and 吹哨 (summoning departments, which changes no state).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Step {
    Dispatch,
    Accept,
    Return,
    Start,
    Resolve,
    Rate,
    Close,
    Reopen,
    Whistle,
}

impl Step {
    pub const ALL: [Step; 9] = [
        Step::Dispatch,
        Step::Accept,
        Step::Return,
        Step::Start,
        Step::Resolve,
        Step::Rate,
        Step::Close,
        Step::Reopen,
        Step::Whistle,
    ];

    /// The name the pages' forms carry.
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Dispatch => "dispatch",
            Step::Accept => "accept",
            Step::Return => "return",
            Step::Start => "start",
            Step::Resolve => "resolve",
            Step::Rate => "rate",
            Step::Close => "close",
            Step::Reopen => "reopen",
            Step::Whistle => "whistle",
        }
    }

    /// An action of this step to put to [`Status::apply`]: what an action carries decides
    /// which state it leads to, never which states it may start from. `None` for 吹哨.
    fn probe(self) -> Option<Action> {
        Some(match self {
            Step::Dispatch => Action::Dispatch {
                target: Target::Node(0),
            },
            Step::Accept => Action::Accept,
            Step::Return => Action::Return {
                reason: String::new(),
            },
            Step::Start => Action::Start,
            Step::Resolve => Action::Resolve {
                outcome: String::new(),
            },
            Step::Rate => Action::Rate {
                rating: Rating::Dissatisfied,
                comment: String::new(),
            },
            Step::Close => Action::Close {
                note: String::new(),
            },
            Step::Reopen => Action::Reopen {
                reason: String::new(),
            },
            Step::Whistle => return None,
        })
    }
}

/// Who acts on a request: a signed-in user in their role, or the resident who filed it (no
/// account; known by the tracking number and the last 4 digits of their phone).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    User(Role),
    Resident,
}

/// Why a step is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// This actor may never take the step, whatever the request's state.
    Forbidden(String),
    /// The request's state does not allow the step; names both.
    Invalid(CoreError),
}

/// The rule of who may take which step on a request in `status` (`rating` is its current
/// rating). The role is judged first: a refusal the actor can do nothing about comes before
/// one about the state. The store refuses with it; [`allowed`] lists what it permits.
pub fn permit(
    status: Status,
    rating: Option<Rating>,
    actor: Actor,
    step: Step,
) -> Result<(), Refusal> {
    role_may(actor, step).map_err(Refusal::Forbidden)?;
    match step.probe() {
        Some(action) => status.apply(&action, rating).map(drop),
        None if status.is_pending() => Ok(()),
        None => Err(CoreError::invalid(
            "request",
            format!("诉求已「{}」，不能再吹哨", status.label_zh()),
        )),
    }
    .map_err(Refusal::Invalid)
}

/// The steps `actor` may take on a request in `status`: the buttons its page draws.
pub fn allowed(status: Status, rating: Option<Rating>, actor: Actor) -> Vec<Step> {
    Step::ALL
        .into_iter()
        .filter(|step| permit(status, rating, actor, *step).is_ok())
        .collect()
}

/// The role half of [`permit`]. Whoever sees a request handles it (accept, return, start,
/// resolve); steering and judging it (dispatch, rate, close, reopen, 吹哨) is for everyone
/// but grid workers; the resident only rates.
fn role_may(actor: Actor, step: Step) -> Result<(), String> {
    let grid_worker_may_not = match step {
        Step::Dispatch => "派单",
        Step::Rate => "代录评价",
        Step::Close => "关闭诉求",
        Step::Reopen => "重新办理诉求",
        Step::Whistle => "吹哨",
        Step::Accept | Step::Return | Step::Start | Step::Resolve => "",
    };
    match actor {
        Actor::Resident if step == Step::Rate => Ok(()),
        Actor::Resident => Err("居民只能评价自己的诉求".to_owned()),
        Actor::User(Role::GridWorker) if !grid_worker_may_not.is_empty() => {
            Err(format!("网格员不能{grid_worker_may_not}"))
        }
        Actor::User(_) => Ok(()),
    }
}

// ---------------------------------------------------------------------------------------------
// Timeline events

labelled! {
    /// The kind of a step on a request's timeline. [`EventKind::as_str`] is what the event rows
    /// store and the API shows: never change one.
    #[derive(Hash)]
    pub enum EventKind: "kind" {
        #[strum(serialize = "received", props(zh = "受理"))]
        Received,
        #[strum(serialize = "dispatched", props(zh = "派单"))]
        Dispatched,
        #[strum(serialize = "accepted", props(zh = "接单"))]
        Accepted,
        #[strum(serialize = "returned", props(zh = "退回"))]
        Returned,
        #[strum(serialize = "started", props(zh = "开始办理"))]
        Started,
        #[strum(serialize = "resolved", props(zh = "办结"))]
        Resolved,
        #[strum(serialize = "rated", props(zh = "评价"))]
        Rated,
        #[strum(serialize = "closed", props(zh = "关闭"))]
        Closed,
        #[strum(serialize = "reopened", props(zh = "重新办理"))]
        Reopened,
        #[strum(serialize = "whistled", props(zh = "吹哨"))]
        Whistled,
        #[strum(serialize = "whistle_acknowledged", props(zh = "部门报到"))]
        WhistleAcknowledged,
        #[strum(serialize = "response_overdue", props(zh = "响应超时"))]
        ResponseOverdue,
        #[strum(serialize = "resolution_overdue", props(zh = "办理超时"))]
        ResolutionOverdue,
        #[strum(serialize = "escalated", props(zh = "升级"))]
        Escalated,
        #[strum(serialize = "photo_added", props(zh = "补充照片"))]
        PhotoAdded,
    }
}

impl EventKind {
    /// Whether the resident's status page lists it: whistles and escalations are the
    /// administration's own business.
    pub fn shown_to_resident(self) -> bool {
        !matches!(
            self,
            EventKind::Whistled | EventKind::WhistleAcknowledged | EventKind::Escalated
        )
    }
}

impl FromStr for EventKind {
    type Err = CoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EventKind::from_code(s)
            .ok_or_else(|| CoreError::invalid("kind", format!("「{s}」不是已知的诉求事件")))
    }
}

fn required_text(field: &str, raw: &str, missing: &str) -> Result<String, CoreError> {
    let t = raw.trim();
    if t.is_empty() {
        return Err(CoreError::invalid(field, missing));
    }
    optional_text(field, t)
}

fn optional_text(field: &str, raw: &str) -> Result<String, CoreError> {
    let t = raw.trim();
    if t.chars().count() > MAX_NOTE {
        return Err(CoreError::invalid(field, format!("不能超过 {MAX_NOTE} 字")));
    }
    Ok(t.to_owned())
}

// ---------------------------------------------------------------------------------------------
// Intake

/// A request as typed (by a resident, an operator, a grid worker or an Open311 client).
#[derive(Debug, Clone, Default)]
pub struct RequestInput<'a> {
    pub description: &'a str,
    pub address: Option<&'a str>,
    pub lat: Option<f64>,
    pub long: Option<f64>,
    pub reporter_name: Option<&'a str>,
    pub reporter_phone: Option<&'a str>,
    /// The resident's own page needs a phone (the status check asks for its last 4 digits).
    pub phone_required: bool,
}

/// A request ready to store.
#[derive(Debug, Clone)]
pub struct RequestDraft {
    pub description: String,
    pub address: Option<String>,
    pub lat: Option<f64>,
    pub long: Option<f64>,
    pub reporter_name: Option<String>,
    pub reporter_phone: Option<Phone>,
}

fn non_empty(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|s| !s.is_empty())
}

impl RequestDraft {
    /// Parses an intake; every broken field is listed.
    pub fn parse(input: &RequestInput<'_>) -> Result<RequestDraft, Vec<CoreError>> {
        let mut errors = Vec::new();
        let description = input.description.trim();
        if description.is_empty() {
            errors.push(CoreError::invalid("description", "请描述诉求的内容"));
        } else if description.chars().count() > MAX_DESCRIPTION {
            errors.push(CoreError::invalid(
                "description",
                format!("诉求内容不能超过 {MAX_DESCRIPTION} 字"),
            ));
        }
        let address = non_empty(input.address);
        if address.is_some_and(|a| a.chars().count() > MAX_ADDRESS) {
            errors.push(CoreError::invalid(
                "address",
                format!("地址不能超过 {MAX_ADDRESS} 字"),
            ));
        }
        match (input.lat, input.long) {
            (Some(lat), Some(long)) => {
                if !(-90.0..=90.0).contains(&lat) || !lat.is_finite() {
                    errors.push(CoreError::invalid("lat", "纬度应在 -90 到 90 之间"));
                }
                if !(-180.0..=180.0).contains(&long) || !long.is_finite() {
                    errors.push(CoreError::invalid("long", "经度应在 -180 到 180 之间"));
                }
            }
            (Some(_), None) => errors.push(CoreError::invalid("long", "给出纬度时也请给出经度")),
            (None, Some(_)) => errors.push(CoreError::invalid("lat", "给出经度时也请给出纬度")),
            (None, None) => {}
        }
        let reporter_name = non_empty(input.reporter_name);
        if reporter_name.is_some_and(|n| n.chars().count() > 40) {
            errors.push(CoreError::invalid("reporter_name", "姓名不能超过 40 字"));
        }
        let phone = match non_empty(input.reporter_phone) {
            Some(raw) => match Phone::parse(raw) {
                Ok(p) => Some(p),
                Err(e) => {
                    errors.push(CoreError::invalid("reporter_phone", e.message));
                    None
                }
            },
            None => {
                if input.phone_required {
                    errors.push(CoreError::invalid(
                        "reporter_phone",
                        "必填，查询进度时要用到它的后 4 位",
                    ));
                }
                None
            }
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(RequestDraft {
            description: description.to_owned(),
            address: address.map(str::to_owned),
            lat: input.lat,
            long: input.long,
            reporter_name: reporter_name.map(str::to_owned),
            reporter_phone: phone,
        })
    }
}

/// Checks the "last 4 digits of your phone" a resident types.
pub fn parse_last4(raw: &str) -> Result<String, CoreError> {
    let t = raw.trim();
    if t.len() == 4 && t.bytes().all(|b| b.is_ascii_digit()) {
        Ok(t.to_owned())
    } else {
        Err(CoreError::invalid(
            "phone_last4",
            "请填写手机号码的后 4 位数字",
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// Tracking numbers

/// A request's public number: `YYYYMMDD` (China date of intake) + 5 digits + a Luhn check
/// digit, 14 digits in all. The check digit catches a mistyped digit or swapped neighbours.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct TrackingNumber(String);

fn luhn_check_digit(digits: &str) -> u8 {
    // The check digit d makes the Luhn sum of digits+d divisible by 10: double every second
    // digit counting from the right of the full number, i.e. from the rightmost of `digits`.
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 0 {
                let x = d * 2;
                if x > 9 {
                    x - 9
                } else {
                    x
                }
            } else {
                d
            }
        })
        .sum();
    ((10 - (sum % 10)) % 10) as u8
}

impl TrackingNumber {
    /// The number of a request received at `at` (ms) with the serial `serial` (0..100000).
    pub fn new(at: i64, serial: u32) -> TrackingNumber {
        let date = format_date(date_of(at)).replace('-', "");
        let body = format!("{date}{:05}", serial % 100_000);
        let check = luhn_check_digit(&body);
        TrackingNumber(format!("{body}{check}"))
    }

    /// Parses a number as typed (spaces and dashes ignored).
    pub fn parse(raw: &str) -> Result<TrackingNumber, CoreError> {
        let s: String = raw
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .collect();
        if s.len() != 14 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CoreError::invalid(
                "tracking_number",
                "受理编号应为 14 位数字，如 20261205483927",
            ));
        }
        let (body, check) = s.split_at(13);
        if luhn_check_digit(body) != check.as_bytes()[0] - b'0' {
            return Err(CoreError::invalid(
                "tracking_number",
                "受理编号有误（校验位不符），请核对后重新输入",
            ));
        }
        Ok(TrackingNumber(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TrackingNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

// ---------------------------------------------------------------------------------------------
// Whistles

labelled! {
    /// Whether a summoned department reported in time.
    pub enum WhistleState: "whistle" {
        /// Not yet reported; the 30 minutes have not passed.
        #[strum(serialize = "waiting", props(zh = "待报到"))]
        Waiting,
        /// Not reported and the 30 minutes have passed: shown in red.
        #[strum(serialize = "unanswered", props(zh = "超时未报到"))]
        Unanswered,
        /// Reported within 30 minutes.
        #[strum(serialize = "on_time", props(zh = "按时报到"))]
        OnTime,
        /// Reported after 30 minutes.
        #[strum(serialize = "late", props(zh = "逾时报到"))]
        Late,
    }
}

impl WhistleState {
    /// The state of a whistle due at `due_at`, acknowledged at `acknowledged_at`, seen at `now`.
    pub fn of(due_at: i64, acknowledged_at: Option<i64>, now: i64) -> WhistleState {
        match acknowledged_at {
            Some(at) if at <= due_at => WhistleState::OnTime,
            Some(_) => WhistleState::Late,
            None if now > due_at => WhistleState::Unanswered,
            None => WhistleState::Waiting,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The three rates

/// What the rates need to know of one request received in the period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateFacts {
    pub received_at: i64,
    pub respond_by: i64,
    /// The first acceptance (the response), if any.
    pub responded_at: Option<i64>,
    /// The latest resolution, if any (cleared when the request is reopened).
    pub resolved_at: Option<i64>,
    pub status: Status,
    pub rating: Option<Rating>,
}

/// The three rates of 接诉即办 over the requests received in a period, with their counts.
///
/// - **response rate** = requests responded to (accepted) within their category's response
///   limit ÷ requests received;
/// - **resolution rate** = requests resolved ÷ requests closed, where a closed request counts
///   as resolved when it was closed after a resolution and its reporter did not rate it
///   不满意;
/// - **satisfaction rate** = (满意 + 基本满意) ÷ requests rated.
///
/// A rate whose denominator is zero is `None` (no data, not 0 %).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rates {
    pub received: i64,
    pub responded_on_time: i64,
    pub resolved: i64,
    pub closed: i64,
    pub rated: i64,
    pub satisfied: i64,
    pub response_rate: Option<f64>,
    pub resolution_rate: Option<f64>,
    pub satisfaction_rate: Option<f64>,
    /// Median time from intake to response (ms), over the requests responded to.
    pub median_response_ms: Option<i64>,
    /// Median time from intake to resolution (ms), over the requests resolved.
    pub median_resolution_ms: Option<i64>,
}

fn ratio(n: i64, d: i64) -> Option<f64> {
    (d > 0).then(|| n as f64 / d as f64)
}

/// The median of some durations (the mean of the two middle ones for an even count).
pub fn median(mut values: Vec<i64>) -> Option<i64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    let n = values.len();
    Some(if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2
    })
}

/// The response rate's numerator test: responded, and not later than the limit.
pub fn responded_on_time(f: &RateFacts) -> bool {
    f.responded_at.is_some_and(|at| at <= f.respond_by)
}

/// The resolution rate's numerator test (see [`Rates`]).
pub fn closed_resolved(f: &RateFacts) -> bool {
    f.status == Status::Closed && f.resolved_at.is_some() && f.rating != Some(Rating::Dissatisfied)
}

/// The three rates and the medians over `facts` (the requests received in the period).
pub fn rates(facts: &[RateFacts]) -> Rates {
    let received = facts.len() as i64;
    let count = |p: &dyn Fn(&RateFacts) -> bool| facts.iter().filter(|f| p(f)).count() as i64;
    let responded = count(&responded_on_time);
    let closed = count(&|f| f.status == Status::Closed);
    let resolved = count(&closed_resolved);
    let rated = count(&|f| f.rating.is_some());
    let satisfied = count(&|f| f.rating.is_some_and(Rating::is_satisfied));
    Rates {
        received,
        responded_on_time: responded,
        resolved,
        closed,
        rated,
        satisfied,
        response_rate: ratio(responded, received),
        resolution_rate: ratio(resolved, closed),
        satisfaction_rate: ratio(satisfied, rated),
        median_response_ms: median(
            facts
                .iter()
                .filter_map(|f| f.responded_at.map(|at| at - f.received_at))
                .collect(),
        ),
        median_resolution_ms: median(
            facts
                .iter()
                .filter_map(|f| f.resolved_at.map(|at| at - f.received_at))
                .collect(),
        ),
    }
}

/// What the overdue job does to one request at `now`: which deadlines have newly passed and
/// whether the category's rule escalates it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OverdueVerdict {
    pub response_overdue: bool,
    pub resolution_overdue: bool,
    pub escalate: bool,
}

/// The state the overdue job reads of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OverdueFacts {
    pub status: Status,
    pub respond_by: i64,
    pub resolve_by: i64,
    pub responded_at: Option<i64>,
    pub response_overdue_at: Option<i64>,
    pub resolution_overdue_at: Option<i64>,
    pub escalated_at: Option<i64>,
    pub escalation: Escalation,
}

/// Decides what is newly overdue at `now`. A response is late when nobody has accepted the
/// request by its limit; a resolution is late while the request is still pending after its
/// limit. Each is marked once; escalation happens once, per the category's rule.
pub fn overdue(f: &OverdueFacts, now: i64) -> OverdueVerdict {
    let response_overdue = f.response_overdue_at.is_none()
        && f.responded_at.is_none()
        && f.status.is_pending()
        && now > f.respond_by;
    let resolution_overdue =
        f.resolution_overdue_at.is_none() && f.status.is_pending() && now > f.resolve_by;
    let late_response = response_overdue || f.response_overdue_at.is_some();
    let late_resolution = resolution_overdue || f.resolution_overdue_at.is_some();
    let escalate = f.escalated_at.is_none()
        && f.status.is_pending()
        && match f.escalation {
            Escalation::Never => false,
            Escalation::OnLateResponse => late_response || late_resolution,
            Escalation::OnLateResolution => late_resolution,
        }
        && (response_overdue || resolution_overdue);
    OverdueVerdict {
        response_overdue,
        resolution_overdue,
        escalate,
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn codes_and_labels_stay_as_stored_and_shown() {
        use crate::kernel::labels::assert_table;
        assert_table(&[
            (Channel::SelfService, "self_service", "居民自助"),
            (Channel::Hotline, "hotline", "热线"),
            (Channel::Patrol, "patrol", "网格巡查"),
            (Channel::Open311, "open311", "Open311 接口"),
        ]);
        assert_table(&[
            (Escalation::Never, "never", "不升级"),
            (
                Escalation::OnLateResponse,
                "on_late_response",
                "响应超时即升级",
            ),
            (
                Escalation::OnLateResolution,
                "on_late_resolution",
                "办理超时即升级",
            ),
        ]);
        assert_table(&[
            (Rating::Satisfied, "satisfied", "满意"),
            (Rating::FairlySatisfied, "fairly_satisfied", "基本满意"),
            (Rating::Dissatisfied, "dissatisfied", "不满意"),
        ]);
        assert_table(&[
            (Status::Received, "received", "已受理"),
            (Status::Dispatched, "dispatched", "已派单"),
            (Status::Accepted, "accepted", "已接单"),
            (Status::Returned, "returned", "已退回"),
            (Status::InProgress, "in_progress", "办理中"),
            (Status::Resolved, "resolved", "已办结"),
            (Status::Rated, "rated", "已评价"),
            (Status::Closed, "closed", "已关闭"),
        ]);
        assert_table(&[
            (EventKind::Received, "received", "受理"),
            (EventKind::Dispatched, "dispatched", "派单"),
            (EventKind::Accepted, "accepted", "接单"),
            (EventKind::Returned, "returned", "退回"),
            (EventKind::Started, "started", "开始办理"),
            (EventKind::Resolved, "resolved", "办结"),
            (EventKind::Rated, "rated", "评价"),
            (EventKind::Closed, "closed", "关闭"),
            (EventKind::Reopened, "reopened", "重新办理"),
            (EventKind::Whistled, "whistled", "吹哨"),
            (
                EventKind::WhistleAcknowledged,
                "whistle_acknowledged",
                "部门报到",
            ),
            (EventKind::ResponseOverdue, "response_overdue", "响应超时"),
            (
                EventKind::ResolutionOverdue,
                "resolution_overdue",
                "办理超时",
            ),
            (EventKind::Escalated, "escalated", "升级"),
            (EventKind::PhotoAdded, "photo_added", "补充照片"),
        ]);
        assert_table(&[
            (WhistleState::Waiting, "waiting", "待报到"),
            (WhistleState::Unanswered, "unanswered", "超时未报到"),
            (WhistleState::OnTime, "on_time", "按时报到"),
            (WhistleState::Late, "late", "逾时报到"),
        ]);
    }

    #[test]
    fn photo_type_is_read_from_the_bytes() {
        assert_eq!(
            photo_type(&[0xFF, 0xD8, 0xFF, 0xE0, 0]).unwrap(),
            "image/jpeg"
        );
        assert_eq!(photo_type(b"\x89PNG\r\n\x1a\n....").unwrap(), "image/png");
        assert_eq!(photo_type(b"RIFF\0\0\0\0WEBPVP8 ").unwrap(), "image/webp");
        for bad in [
            &b""[..],
            b"hello, not a photo",
            b"RIFF\0\0\0\0WAVE",
            b"GIF89a",
        ] {
            assert_eq!(photo_type(bad).unwrap_err().field, "photo");
        }
        let mut big = vec![0xFF, 0xD8, 0xFF];
        big.resize(MAX_PHOTO_BYTES + 1, 0);
        assert!(photo_type(&big).is_err());
        big.truncate(MAX_PHOTO_BYTES);
        photo_type(&big).unwrap();
    }
    use super::*;

    fn rule(code: &str) -> CategoryRule {
        CategoryRule::defaults()
            .into_iter()
            .find(|c| c.code == code)
            .unwrap()
    }

    #[test]
    fn default_deadlines_follow_the_hotline_standard() {
        let at = 1_000_000;
        let e = rule("emergency").deadlines(at);
        assert_eq!(e.respond_by - at, 2 * HOUR_MS);
        assert_eq!(
            rule("utilities").deadlines(at).resolve_by - at,
            24 * HOUR_MS
        );
        assert_eq!(rule("general").deadlines(at).resolve_by - at, 7 * DAY_MS);
        assert_eq!(rule("complex").deadlines(at).resolve_by - at, 15 * DAY_MS);
    }

    #[test]
    fn categories_parse_with_precise_errors() {
        let ok = CategoryRule::parse("water", "供水", "", 12, 2, "never").unwrap();
        assert_eq!(ok.respond_hours, 12);
        let errs = CategoryRule::parse("Water!", "", "", 0, 0, "sometimes").unwrap_err();
        let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "code",
                "name",
                "respond_hours",
                "resolve_days",
                "escalation"
            ]
        );
        let errs = CategoryRule::parse("x", "某类", "", 72, 1, "never").unwrap_err();
        assert_eq!(errs[0].message, "响应时限不能长于办结时限");
    }

    #[test]
    fn the_whole_lifecycle_and_its_refusals() {
        use Status::*;
        let dispatch = Action::Dispatch {
            target: Target::Node(3),
        };
        let ret = Action::return_with("不属于本社区").unwrap();
        let steps = [
            (Received, dispatch.clone(), Dispatched),
            (Dispatched, ret.clone(), Returned),
            (Returned, dispatch.clone(), Dispatched),
            (Dispatched, Action::Accept, Accepted),
            (Accepted, Action::Start, InProgress),
            (
                InProgress,
                Action::resolve_with("已疏通").unwrap(),
                Resolved,
            ),
            (Resolved, Action::rate_with("不满意", "").unwrap(), Rated),
            (Resolved, Action::rate_with("满意", "").unwrap(), Closed),
            (Resolved, Action::rate_with("基本满意", "").unwrap(), Closed),
            (Rated, Action::close_with("").unwrap(), Closed),
        ];
        for (from, action, to) in steps {
            assert_eq!(from.apply(&action, None).unwrap(), to, "{action:?}");
        }
        let reopen = Action::reopen_with("还在漏水").unwrap();
        assert_eq!(
            Rated.apply(&reopen, Some(Rating::Dissatisfied)).unwrap(),
            Received
        );
        let e = Rated.apply(&reopen, Some(Rating::Satisfied)).unwrap_err();
        assert_eq!(e.message, "只有评价为「不满意」的诉求才能重新办理");
        let e = Received.apply(&Action::Accept, None).unwrap_err();
        assert_eq!(e.field, "action");
        assert_eq!(
            e.message,
            "诉求当前为「已受理」，不能接单（只有「已派单」的诉求可以接单）"
        );
        assert!(Closed.apply(&dispatch, None).is_err());
        assert!(Received
            .apply(&Action::rate_with("satisfied", "").unwrap(), None)
            .is_err());
        assert!(InProgress
            .apply(&Action::close_with("").unwrap(), None)
            .is_err());
        assert_eq!(
            Action::resolve_with("  ").unwrap_err().message,
            "请填写办理结果（做了什么）"
        );
        assert_eq!(Action::return_with("").unwrap_err().field, "reason");
    }

    #[test]
    fn a_step_writes_its_event_and_a_closing_rating_also_closed() {
        use EventKind as E;
        let rate = |r| Action::rate_with(r, "").unwrap();
        assert_eq!(rate("满意").events(Status::Closed), [E::Rated, E::Closed]);
        assert_eq!(rate("不满意").events(Status::Rated), [E::Rated]);
        let close = Action::close_with("").unwrap();
        assert_eq!(close.events(Status::Closed), [E::Closed]);
        assert_eq!(Action::Accept.events(Status::Accepted), [E::Accepted]);
    }

    /// Who may do what, over every status × rating × role: the buttons a page draws and the
    /// steps the store accepts.
    #[test]
    fn allowed_steps_by_status_rating_and_role() {
        use Rating::*;
        use Status::*;
        const ANY: &[Option<Rating>] = &[
            None,
            Some(Satisfied),
            Some(FairlySatisfied),
            Some(Dissatisfied),
        ];
        const NOT_DISSATISFIED: &[Option<Rating>] = &[None, Some(Satisfied), Some(FairlySatisfied)];
        const DISSATISFIED: &[Option<Rating>] = &[Some(Dissatisfied)];
        /// (status, ratings, admins/officials/staff, grid workers, the resident)
        type Row = (
            Status,
            &'static [Option<Rating>],
            &'static str,
            &'static str,
            &'static str,
        );
        let table: [Row; 10] = [
            (Received, ANY, "dispatch whistle", "", ""),
            (
                Dispatched,
                ANY,
                "accept return whistle",
                "accept return",
                "",
            ),
            (
                Accepted,
                ANY,
                "return start resolve whistle",
                "return start resolve",
                "",
            ),
            (Returned, ANY, "dispatch whistle", "", ""),
            (InProgress, ANY, "resolve whistle", "resolve", ""),
            (Resolved, ANY, "rate close", "", "rate"),
            (Rated, NOT_DISSATISFIED, "close", "", ""),
            (Rated, DISSATISFIED, "close reopen", "", ""),
            (Closed, NOT_DISSATISFIED, "", "", ""),
            (Closed, DISSATISFIED, "reopen", "", ""),
        ];
        let names = |steps: Vec<Step>| -> String {
            let names: Vec<&str> = steps.into_iter().map(Step::as_str).collect();
            names.join(" ")
        };
        let mut cases = 0;
        for (status, ratings, staff, grid, resident) in table {
            for rating in ratings {
                for &role in Role::ALL {
                    let want = if role == Role::GridWorker {
                        grid
                    } else {
                        staff
                    };
                    let got = names(allowed(status, *rating, Actor::User(role)));
                    assert_eq!(got, want, "{status:?} {rating:?} {role:?}");
                    cases += 1;
                }
                let got = names(allowed(status, *rating, Actor::Resident));
                assert_eq!(got, resident, "{status:?} {rating:?} resident");
                cases += 1;
            }
        }
        assert_eq!(cases, Status::ALL.len() * ANY.len() * (Role::ALL.len() + 1));
    }

    #[test]
    fn refusals_name_the_role_before_the_state() {
        let grid = Actor::User(Role::GridWorker);
        let e = permit(Status::Closed, None, grid, Step::Dispatch).unwrap_err();
        assert_eq!(e, Refusal::Forbidden("网格员不能派单".into()));
        let e = permit(Status::Resolved, None, Actor::Resident, Step::Close).unwrap_err();
        assert_eq!(e, Refusal::Forbidden("居民只能评价自己的诉求".into()));
        let staff = Actor::User(Role::Staff);
        let Err(Refusal::Invalid(e)) = permit(Status::Received, None, staff, Step::Accept) else {
            panic!("a state refusal")
        };
        assert_eq!(e.field, "action");
        let Err(Refusal::Invalid(e)) = permit(Status::Closed, None, staff, Step::Whistle) else {
            panic!("a state refusal")
        };
        assert_eq!(e.message, "诉求已「已关闭」，不能再吹哨");
    }

    #[test]
    fn event_kinds_keep_their_stored_strings() {
        let stored = [
            "received",
            "dispatched",
            "accepted",
            "returned",
            "started",
            "resolved",
            "rated",
            "closed",
            "reopened",
            "whistled",
            "whistle_acknowledged",
            "response_overdue",
            "resolution_overdue",
            "escalated",
            "photo_added",
        ];
        let kinds: Vec<&str> = EventKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(kinds, stored);
        for &k in EventKind::ALL {
            assert_eq!(k.as_str().parse::<EventKind>().unwrap(), k);
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
        }
        assert!("other".parse::<EventKind>().is_err());
    }

    #[test]
    fn open311_sees_open_until_closed() {
        for &s in Status::ALL {
            assert_eq!(
                s.open311(),
                if s == Status::Closed {
                    "closed"
                } else {
                    "open"
                }
            );
        }
    }

    #[test]
    fn tracking_numbers_carry_the_date_and_a_check_digit() {
        // 2026-12-05T10:00:00+08:00
        let at = 1_796_436_000_000;
        let n = TrackingNumber::new(at, 48392);
        assert!(n.as_str().starts_with("2026120548392"), "{n}");
        assert_eq!(TrackingNumber::parse(n.as_str()).unwrap(), n);
        assert_eq!(
            TrackingNumber::parse(&format!("{} ", &n.as_str()[..7]))
                .unwrap_err()
                .field,
            "tracking_number"
        );
        // Every single-digit typo is caught.
        for i in 0..14 {
            let mut b = n.as_str().as_bytes().to_vec();
            b[i] = if b[i] == b'9' { b'0' } else { b[i] + 1 };
            let typo = String::from_utf8(b).unwrap();
            assert!(TrackingNumber::parse(&typo).is_err(), "{typo}");
        }
    }

    #[test]
    fn intake_lists_every_broken_field() {
        let errs = RequestDraft::parse(&RequestInput {
            description: " ",
            lat: Some(91.0),
            long: Some(0.0),
            reporter_phone: Some("12"),
            ..Default::default()
        })
        .unwrap_err();
        let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["description", "lat", "reporter_phone"]);
        let errs = RequestDraft::parse(&RequestInput {
            description: "楼道灯坏了",
            phone_required: true,
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(errs[0].field, "reporter_phone");
        let ok = RequestDraft::parse(&RequestInput {
            description: "楼道灯坏了",
            reporter_phone: Some("136 1234 8609"),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(ok.reporter_phone.unwrap().last4(), "8609");
        assert_eq!(parse_last4("86a9").unwrap_err().field, "phone_last4");
    }

    #[test]
    fn whistles_are_due_in_thirty_minutes() {
        let due = 1_000 + WHISTLE_ACK_MS;
        assert_eq!(WhistleState::of(due, None, due), WhistleState::Waiting);
        assert_eq!(
            WhistleState::of(due, None, due + 1),
            WhistleState::Unanswered
        );
        assert_eq!(
            WhistleState::of(due, Some(due), due + 5),
            WhistleState::OnTime
        );
        assert_eq!(
            WhistleState::of(due, Some(due + 1), due + 5),
            WhistleState::Late
        );
    }

    fn facts(
        status: Status,
        responded: Option<i64>,
        resolved: Option<i64>,
        rating: Option<Rating>,
    ) -> RateFacts {
        RateFacts {
            received_at: 0,
            respond_by: 10,
            responded_at: responded,
            resolved_at: resolved,
            status,
            rating,
        }
    }

    #[test]
    fn rates_follow_their_definitions() {
        use Rating::*;
        use Status::*;
        let set = [
            facts(Closed, Some(5), Some(20), Some(Satisfied)),
            facts(Closed, Some(10), Some(40), Some(FairlySatisfied)),
            facts(Closed, Some(11), Some(60), Some(Dissatisfied)),
            facts(Closed, Some(2), Some(30), None),
            facts(Rated, Some(3), Some(50), Some(Dissatisfied)),
            facts(InProgress, Some(30), None, None),
            facts(Received, None, None, None),
        ];
        let r = rates(&set);
        assert_eq!(r.received, 7);
        assert_eq!(r.responded_on_time, 4, "5, 10, 2 and 3 are within 10");
        assert_eq!(r.closed, 4);
        assert_eq!(r.resolved, 3, "the closed 不满意 one is not resolved");
        assert_eq!(r.rated, 4);
        assert_eq!(r.satisfied, 2);
        assert_eq!(r.response_rate, Some(4.0 / 7.0));
        assert_eq!(r.resolution_rate, Some(0.75));
        assert_eq!(r.satisfaction_rate, Some(0.5));
        assert_eq!(r.median_response_ms, Some(7), "median of 2,3,5,10,11,30");
        assert_eq!(r.median_resolution_ms, Some(40));
        let empty = rates(&[]);
        assert_eq!(empty.response_rate, None);
        assert_eq!(empty.median_response_ms, None);
    }

    #[test]
    fn overdue_marks_once_and_escalates_per_rule() {
        let base = OverdueFacts {
            status: Status::Dispatched,
            respond_by: 100,
            resolve_by: 1000,
            responded_at: None,
            response_overdue_at: None,
            resolution_overdue_at: None,
            escalated_at: None,
            escalation: Escalation::OnLateResolution,
        };
        assert_eq!(overdue(&base, 100), OverdueVerdict::default());
        let v = overdue(&base, 101);
        assert!(v.response_overdue && !v.resolution_overdue && !v.escalate);
        let marked = OverdueFacts {
            response_overdue_at: Some(101),
            ..base
        };
        assert_eq!(overdue(&marked, 500), OverdueVerdict::default());
        let v = overdue(&marked, 1001);
        assert!(!v.response_overdue && v.resolution_overdue && v.escalate);
        let urgent = OverdueFacts {
            escalation: Escalation::OnLateResponse,
            ..base
        };
        assert!(overdue(&urgent, 101).escalate);
        let resolved = OverdueFacts {
            status: Status::Resolved,
            ..base
        };
        assert_eq!(overdue(&resolved, 5000), OverdueVerdict::default());
    }
}
