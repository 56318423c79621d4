//! Emergency supplies (应急物资): the values a ledger entry is made of, parsed once so the store
//! only ever sees good ones, and the arithmetic officials read — days of cover and the
//! allocation suggestion for a reserve; who may act where ([`can_write_at`],
//! [`can_dispatch_from`], [`can_decide_request`]) and the lifecycles of requests and transfers
//! ([`RequestState::apply`], [`TransferState::apply`]). The ledger itself lives in
//! `store::supplies`, which refuses with these rules; the pages offer buttons with them.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use crate::kernel::labels::Labelled;
use crate::labelled;
use crate::{CoreError, JurisdictionPath, Role, Scope};

/// The largest quantity one entry may move: far above any real delivery, far below overflow.
pub const MAX_QUANTITY: i64 = 1_000_000_000;

/// A number of units moved by one entry: a whole number from 1 to [`MAX_QUANTITY`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Quantity(i64);

impl Quantity {
    /// Parses typed text (`"200"`, `" 1 200 "`, `"1,200"`).
    pub fn parse(field: &str, raw: &str) -> Result<Quantity, CoreError> {
        let cleaned: String = raw
            .trim()
            .chars()
            .filter(|c| !matches!(c, ',' | '，' | ' '))
            .collect();
        if cleaned.is_empty() {
            return Err(CoreError::invalid(field, "请填写数量"));
        }
        if !cleaned.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CoreError::invalid(
                field,
                format!("「{}」不是正整数；数量按最小单位计，如 200", raw.trim()),
            ));
        }
        match cleaned.parse::<i64>() {
            Ok(n) => Quantity::new(field, n),
            Err(_) => Err(too_large(field)),
        }
    }

    /// A quantity given as a number (JSON).
    pub fn new(field: &str, n: i64) -> Result<Quantity, CoreError> {
        if n < 1 {
            return Err(CoreError::invalid(field, "数量应为正整数（至少 1）"));
        }
        if n > MAX_QUANTITY {
            return Err(too_large(field));
        }
        Ok(Quantity(n))
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

fn too_large(field: &str) -> CoreError {
    CoreError::invalid(field, format!("数量不能超过 {MAX_QUANTITY}"))
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

labelled! {
    /// What a ledger entry records.
    #[derive(Hash)]
    pub enum EntryKind: "kind" {
        /// Stock arrived from outside (a purchase, a donation, an allocation from above).
        #[strum(serialize = "receipt", props(zh = "入库"))]
        Receipt,
        /// Stock handed out (to workers, to households).
        #[strum(serialize = "issue", props(zh = "发放"))]
        Issue,
        /// A correction with a reason: lost, damaged, expired, or a recount.
        #[strum(serialize = "adjustment", props(zh = "调整"))]
        Adjustment,
        /// Left this site on a transfer (in transit until received).
        #[strum(serialize = "transfer_out", props(zh = "调出"))]
        TransferOut,
        /// Arrived on a transfer.
        #[strum(serialize = "transfer_in", props(zh = "调入"))]
        TransferIn,
        /// A cancelled transfer came back to its source.
        #[strum(serialize = "transfer_return", props(zh = "调拨退回"))]
        TransferReturn,
    }
}

impl EntryKind {
    /// Kinds a worker records by hand; transfers write the other three.
    pub fn is_manual(self) -> bool {
        matches!(
            self,
            EntryKind::Receipt | EntryKind::Issue | EntryKind::Adjustment
        )
    }
}

impl FromStr for EntryKind {
    type Err = CoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EntryKind::from_code(s.trim())
            .ok_or_else(|| {
                CoreError::invalid(
                    "kind",
                    format!("「{s}」不是有效的类型，应为 receipt（入库）、issue（发放）或 adjustment（调整）"),
                )
            })
    }
}

labelled! {
    /// Why stock was adjusted.
    #[derive(Hash)]
    pub enum AdjustReason: "reason" {
        #[strum(serialize = "lost", props(zh = "丢失"))]
        Lost,
        #[strum(serialize = "damaged", props(zh = "损坏"))]
        Damaged,
        #[strum(serialize = "expired", props(zh = "过期"))]
        Expired,
        /// A stocktake found a different count: either direction.
        #[strum(serialize = "count_correction", props(zh = "盘点更正"))]
        CountCorrection,
    }
}

impl AdjustReason {
    /// Lost, damaged and expired stock only ever goes down.
    pub fn only_decreases(self) -> bool {
        self != AdjustReason::CountCorrection
    }
}

impl FromStr for AdjustReason {
    type Err = CoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AdjustReason::from_code(s.trim())
            .ok_or_else(|| {
                CoreError::invalid(
                    "reason",
                    format!("「{s}」不是有效的调整原因，应为 lost（丢失）、damaged（损坏）、expired（过期）或 count_correction（盘点更正）"),
                )
            })
    }
}

/// A stock movement a worker records by hand, parsed: which kind, the signed change to the
/// balance, and the reason of an adjustment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Movement {
    kind: EntryKind,
    delta: i64,
    reason: Option<AdjustReason>,
}

impl Movement {
    /// From the kind, a signed amount and the reason, as typed. A receipt or an issue takes a
    /// positive quantity; an adjustment a non-zero one, negative to decrease (lost, damaged and
    /// expired always decrease, whatever sign is typed). Every broken field is reported.
    pub fn parse(
        kind: &str,
        quantity: i64,
        reason: Option<&str>,
    ) -> Result<Movement, Vec<CoreError>> {
        let mut errors = Vec::new();
        let kind = match kind.parse::<EntryKind>() {
            Ok(k) if k.is_manual() => Some(k),
            Ok(_) => {
                errors.push(CoreError::invalid(
                    "kind",
                    "调出、调入由调拨自动记账，请使用调拨功能",
                ));
                None
            }
            Err(e) => {
                errors.push(e);
                None
            }
        };
        let reason_text = reason.map(str::trim).filter(|r| !r.is_empty());
        let mut out = None;
        match kind {
            Some(k @ (EntryKind::Receipt | EntryKind::Issue)) => {
                match Quantity::new("quantity", quantity) {
                    Ok(q) => {
                        let delta = if k == EntryKind::Receipt {
                            q.get()
                        } else {
                            -q.get()
                        };
                        out = Some(Movement {
                            kind: k,
                            delta,
                            reason: None,
                        });
                    }
                    Err(e) => errors.push(e),
                }
                if reason_text.is_some_and(|r| r.parse::<AdjustReason>().is_ok()) {
                    errors.push(CoreError::invalid("reason", "只有调整才填写调整原因"));
                }
            }
            Some(_) => {
                let reason = match reason_text {
                    None => {
                        errors.push(CoreError::invalid(
                            "reason",
                            "调整须注明原因：丢失、损坏、过期或盘点更正",
                        ));
                        None
                    }
                    Some(r) => r.parse::<AdjustReason>().map_err(|e| errors.push(e)).ok(),
                };
                let size = Quantity::new("quantity", quantity.saturating_abs())
                    .map_err(|_| {
                        errors.push(CoreError::invalid(
                            "quantity",
                            "调整数量不能为 0；减少填负数，如 -5",
                        ))
                    })
                    .ok();
                if let (Some(reason), Some(size)) = (reason, size) {
                    let delta = if reason.only_decreases() || quantity < 0 {
                        -size.get()
                    } else {
                        size.get()
                    };
                    out = Some(Movement {
                        kind: EntryKind::Adjustment,
                        delta,
                        reason: Some(reason),
                    });
                }
            }
            None => {}
        }
        match out {
            Some(m) if errors.is_empty() => Ok(m),
            _ => Err(errors),
        }
    }

    /// The same, from form text (the quantity may carry a sign for adjustments).
    pub fn parse_text(
        kind: &str,
        quantity: &str,
        reason: Option<&str>,
    ) -> Result<Movement, Vec<CoreError>> {
        let raw = quantity.trim();
        let (negative, digits) = match raw.strip_prefix(['-', '－']) {
            Some(rest) => (true, rest),
            None => (false, raw.strip_prefix('+').unwrap_or(raw)),
        };
        let size = match Quantity::parse("quantity", digits) {
            Ok(q) => q.get(),
            Err(e) => {
                let mut errors = vec![e];
                if let Err(more) = Movement::parse(kind, 1, reason) {
                    errors.extend(more.into_iter().filter(|e| e.field != "quantity"));
                }
                return Err(errors);
            }
        };
        let is_adjustment = kind.trim() == EntryKind::Adjustment.as_str();
        if negative && !is_adjustment {
            let mut errors = vec![CoreError::invalid("quantity", "数量应为正整数（至少 1）")];
            if let Err(more) = Movement::parse(kind, 1, reason) {
                errors.extend(more.into_iter().filter(|e| e.field != "quantity"));
            }
            return Err(errors);
        }
        Movement::parse(kind, if negative { -size } else { size }, reason)
    }

    pub fn kind(&self) -> EntryKind {
        self.kind
    }

    /// The signed change to the balance.
    pub fn delta(&self) -> i64 {
        self.delta
    }

    pub fn reason(&self) -> Option<AdjustReason> {
        self.reason
    }
}

labelled! {
    /// What an item is filed under.
    #[derive(Hash)]
    pub enum ItemCategory: "category" {
        /// Masks, gloves, goggles, gowns.
        #[strum(serialize = "protective", props(zh = "防护用品"))]
        Protective,
        #[strum(serialize = "disinfection", props(zh = "消杀用品"))]
        Disinfection,
        /// Thermometers and other instruments.
        #[strum(serialize = "equipment", props(zh = "器械"))]
        Equipment,
        #[strum(serialize = "other", props(zh = "其他"))]
        Other,
    }
}

impl FromStr for ItemCategory {
    type Err = CoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ItemCategory::from_code(s.trim()).ok_or_else(|| {
            CoreError::invalid(
                "category",
                format!("「{s}」不是有效的类别，应为 protective、disinfection、equipment 或 other"),
            )
        })
    }
}

/// A new item: name (1–40 characters), unit (1–10), category, shelf life in days (optional).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemDraft {
    pub name: String,
    pub unit: String,
    pub category: ItemCategory,
    pub shelf_life_days: Option<i64>,
}

impl ItemDraft {
    pub fn parse(
        name: &str,
        unit: &str,
        category: &str,
        shelf_life_days: Option<i64>,
    ) -> Result<ItemDraft, Vec<CoreError>> {
        let mut errors = Vec::new();
        let name = bounded_text("name", name, 40, "物资名称", &mut errors);
        let unit = bounded_text("unit", unit, 10, "计量单位", &mut errors);
        let category = category
            .parse::<ItemCategory>()
            .map_err(|e| errors.push(e))
            .ok();
        if let Some(d) = shelf_life_days {
            if !(1..=36_500).contains(&d) {
                errors.push(CoreError::invalid(
                    "shelf_life_days",
                    "保质期应为 1 至 36500 天，无保质期请留空",
                ));
            }
        }
        match (name, unit, category) {
            (Some(name), Some(unit), Some(category)) if errors.is_empty() => Ok(ItemDraft {
                name,
                unit,
                category,
                shelf_life_days,
            }),
            _ => Err(errors),
        }
    }
}

/// The items every database starts with (name, unit, category, shelf life in days).
pub const PRESET_ITEMS: [(&str, &str, ItemCategory, Option<i64>); 7] = [
    ("医用外科口罩", "只", ItemCategory::Protective, Some(730)),
    ("N95口罩", "只", ItemCategory::Protective, Some(1095)),
    ("消毒液", "瓶", ItemCategory::Disinfection, Some(365)),
    ("测温枪", "把", ItemCategory::Equipment, None),
    ("防护服", "套", ItemCategory::Protective, Some(1095)),
    ("手套", "双", ItemCategory::Protective, Some(1095)),
    ("护目镜", "副", ItemCategory::Protective, None),
];

labelled! {
    /// What a site is.
    #[derive(Hash)]
    pub enum SiteKind: "kind" {
        /// A community's own store room (社区物资点).
        #[strum(serialize = "store", props(zh = "物资点"))]
        Store,
        /// A street's or district's reserve (储备库), from which communities are supplied.
        #[strum(serialize = "reserve", props(zh = "储备库"))]
        Reserve,
    }
}

impl FromStr for SiteKind {
    type Err = CoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "store" => Ok(SiteKind::Store),
            "reserve" => Ok(SiteKind::Reserve),
            other => Err(CoreError::invalid(
                "kind",
                format!(
                    "「{other}」不是有效的物资点类型，应为 store（物资点）或 reserve（储备库）"
                ),
            )),
        }
    }
}

/// A new site: a name (1–40 characters) and its kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteDraft {
    pub name: String,
    pub kind: SiteKind,
}

impl SiteDraft {
    /// `kind` may be left out: a site on a street or district is then a reserve, any other a
    /// community store (`is_upper_level` says which the node is).
    pub fn parse(
        name: &str,
        kind: Option<&str>,
        is_upper_level: bool,
    ) -> Result<SiteDraft, Vec<CoreError>> {
        let mut errors = Vec::new();
        let name = bounded_text("name", name, 40, "物资点名称", &mut errors);
        let kind = match kind.map(str::trim).filter(|k| !k.is_empty()) {
            Some(k) => k.parse::<SiteKind>().map_err(|e| errors.push(e)).ok(),
            None if is_upper_level => Some(SiteKind::Reserve),
            None => Some(SiteKind::Store),
        };
        match (name, kind) {
            (Some(name), Some(kind)) if errors.is_empty() => Ok(SiteDraft { name, kind }),
            _ => Err(errors),
        }
    }
}

fn bounded_text(
    field: &str,
    raw: &str,
    max: usize,
    what: &str,
    errors: &mut Vec<CoreError>,
) -> Option<String> {
    let t = raw.trim();
    if t.is_empty() {
        errors.push(CoreError::invalid(field, format!("请填写{what}")));
        return None;
    }
    if t.chars().count() > max {
        errors.push(CoreError::invalid(
            field,
            format!("{what}不能超过 {max} 个字"),
        ));
        return None;
    }
    if t.chars().any(char::is_control) {
        errors.push(CoreError::invalid(field, format!("{what}不能含控制字符")));
        return None;
    }
    Some(t.to_owned())
}

/// The window of recent issues the daily rate is taken over.
pub const COVER_WINDOW_DAYS: i64 = 14;

/// How many whole days the stock on hand lasts at the rate of the recent issues: `None` when
/// nothing was issued in the window (no rate, so no estimate), `Some(0)` when nothing is left.
pub fn days_of_cover(on_hand: i64, issued_in_window: i64, window_days: i64) -> Option<i64> {
    if issued_in_window <= 0 || window_days <= 0 {
        return None;
    }
    if on_hand <= 0 {
        return Some(0);
    }
    // on_hand / (issued / window), rounded down, in integers (i128: no overflow).
    Some(((on_hand as i128 * window_days as i128) / issued_in_window as i128) as i64)
}

/// One community's need as the allocation sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Need {
    /// Whatever identifies the recipient (a site id).
    pub site_id: i64,
    /// People under observation there.
    pub observed: i64,
    /// Units one person uses per day.
    pub daily_use: i64,
    /// Days of supply to reach.
    pub days: i64,
    /// Already on hand (and in transit to it).
    pub on_hand: i64,
}

impl Need {
    /// `observed × daily_use × days − on_hand`, never below zero.
    pub fn shortfall(&self) -> i64 {
        let want = self
            .observed
            .max(0)
            .saturating_mul(self.daily_use.max(0))
            .saturating_mul(self.days.max(0));
        want.saturating_sub(self.on_hand.max(0)).max(0)
    }
}

/// One line of an allocation suggestion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Allocation {
    pub site_id: i64,
    pub shortfall: i64,
    pub quantity: i64,
}

/// Distributes `available` units across recipients by need: everyone gets their whole
/// shortfall when there is enough; otherwise shares proportional to the shortfalls, rounded
/// down, and the units left by rounding go one each to the largest remainders (ties to the
/// larger shortfall, then the earlier recipient). Never gives anyone more than their shortfall
/// nor more than `available` in all; the order of the input is kept.
pub fn allocate(available: i64, needs: &[Need]) -> Vec<Allocation> {
    let shortfalls: Vec<i64> = needs.iter().map(Need::shortfall).collect();
    let total: i128 = shortfalls.iter().map(|s| *s as i128).sum();
    let available = available.max(0);
    let mut out: Vec<Allocation> = needs
        .iter()
        .zip(&shortfalls)
        .map(|(n, s)| Allocation {
            site_id: n.site_id,
            shortfall: *s,
            quantity: 0,
        })
        .collect();
    if total == 0 || available == 0 {
        return out;
    }
    if total <= available as i128 {
        for a in &mut out {
            a.quantity = a.shortfall;
        }
        return out;
    }
    let mut remainders: Vec<(i128, usize)> = Vec::with_capacity(out.len());
    let mut given: i64 = 0;
    for (i, a) in out.iter_mut().enumerate() {
        let exact = a.shortfall as i128 * available as i128;
        a.quantity = (exact / total) as i64;
        given += a.quantity;
        remainders.push((exact % total, i));
    }
    remainders.sort_by(|x, y| {
        y.0.cmp(&x.0)
            .then(out[y.1].shortfall.cmp(&out[x.1].shortfall))
            .then(x.1.cmp(&y.1))
    });
    let mut left = available - given;
    for (_, i) in remainders {
        if left == 0 {
            break;
        }
        if out[i].quantity < out[i].shortfall {
            out[i].quantity += 1;
            left -= 1;
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Who may act where: the store refuses with these and the pages offer buttons with them, so
// the two cannot disagree.

/// Adding an item to the catalogue every site shares (口罩, 消毒液 …): admins only, so that one
/// community's staff cannot add names all others then see in their lists.
pub fn can_define_items(scope: &Scope) -> bool {
    scope.is_admin()
}

/// Recording entries, adding sites, setting thresholds, receiving transfers and drafting
/// requests at `path`: staff and admins, within their jurisdiction.
pub fn can_write_at(scope: &Scope, path: &JurisdictionPath) -> bool {
    matches!(scope.role(), Role::Admin | Role::Staff) && scope.can_read(path)
}

/// Sending, cancelling and allocating from a site of `kind` at `path`: whoever may write there,
/// and officials from the reserves of their jurisdiction (a street's reserve is theirs to
/// send from; a community's own store is not).
pub fn can_dispatch_from(scope: &Scope, path: &JurisdictionPath, kind: SiteKind) -> bool {
    can_write_at(scope, path)
        || (scope.role() == Role::Official && kind == SiteKind::Reserve && scope.can_read(path))
}

/// Approving and fulfilling a request addressed to the street at `street_path`: the street's
/// officials and admins.
pub fn can_decide_request(scope: &Scope, street_path: &JurisdictionPath) -> bool {
    matches!(scope.role(), Role::Admin | Role::Official) && scope.can_read(street_path)
}

// ---------------------------------------------------------------------------------------------
// Lifecycles: a request from a community to its street, and a transfer between two sites.

/// "只有「甲」或「乙」的申领可以提交": the states an action starts from, read off the lifecycle, so the
/// refusal cannot disagree with the rule.
fn only_from(states: &[&'static str], what: &str, action: &str) -> String {
    let names: Vec<String> = states.iter().map(|s| format!("「{s}」")).collect();
    format!("只有{}的{what}可以{action}", names.join("或"))
}

labelled! {
    /// Where a supply request stands: draft → submitted → approved (or rejected when nothing is
    /// approved) → partly fulfilled → fulfilled. [`RequestState::apply`] is the one rule.
    #[derive(Hash)]
    pub enum RequestState: "state" {
        #[strum(serialize = "draft", props(zh = "草稿"))]
        Draft,
        #[strum(serialize = "submitted", props(zh = "已提交"))]
        Submitted,
        #[strum(serialize = "approved", props(zh = "已批准"))]
        Approved,
        #[strum(serialize = "partly_fulfilled", props(zh = "部分发放"))]
        PartlyFulfilled,
        #[strum(serialize = "fulfilled", props(zh = "已发放"))]
        Fulfilled,
        #[strum(serialize = "rejected", props(zh = "未批准"))]
        Rejected,
    }
}

impl RequestState {
    /// Applies `action` to a request in this state: the new state, or a refusal naming both.
    pub fn apply(self, action: RequestAction) -> Result<RequestState, CoreError> {
        self.next(action).ok_or_else(|| {
            let labels: Vec<&str> = action.from_states().map(RequestState::label_zh).collect();
            CoreError::invalid(
                "state",
                format!(
                    "该申领当前为「{}」，不能{}（{}）",
                    self.label_zh(),
                    action.label_zh(),
                    only_from(&labels, "申领", action.label_zh())
                ),
            )
        })
    }

    /// The one match over (action, state); `None` where the action does not apply.
    fn next(self, action: RequestAction) -> Option<RequestState> {
        use RequestState::*;
        Some(match (action, self) {
            (RequestAction::Submit, Draft) => Submitted,
            (RequestAction::Approve, Submitted) => Approved,
            (RequestAction::Reject, Submitted) => Rejected,
            (RequestAction::FulfilPart, Approved | PartlyFulfilled) => PartlyFulfilled,
            (RequestAction::FulfilAll, Approved | PartlyFulfilled) => Fulfilled,
            _ => return None,
        })
    }

    /// Whether `action` may be taken now (the pages' buttons).
    pub fn allows(self, action: RequestAction) -> bool {
        self.next(action).is_some()
    }
}

impl FromStr for RequestState {
    type Err = CoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RequestState::from_code(s.trim())
            .ok_or_else(|| CoreError::invalid("state", format!("「{s}」不是有效的申领状态")))
    }
}

/// One step of a request. Approval and fulfilment each have two outcomes, told apart by the
/// quantities ([`RequestAction::decision`], [`RequestAction::fulfilment`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequestAction {
    Submit,
    Approve,
    Reject,
    /// Sends part of what is approved; some stays open.
    FulfilPart,
    /// Sends the rest of what is approved.
    FulfilAll,
}

impl RequestAction {
    pub const ALL: [RequestAction; 5] = [
        RequestAction::Submit,
        RequestAction::Approve,
        RequestAction::Reject,
        RequestAction::FulfilPart,
        RequestAction::FulfilAll,
    ];

    /// A decision with these approved quantities: nothing approved at all is a rejection.
    pub fn decision(approved: &[i64]) -> RequestAction {
        if approved.iter().all(|q| *q == 0) {
            RequestAction::Reject
        } else {
            RequestAction::Approve
        }
    }

    /// A fulfilment that leaves nothing approved unsent (`complete`) ends the request.
    pub fn fulfilment(complete: bool) -> RequestAction {
        if complete {
            RequestAction::FulfilAll
        } else {
            RequestAction::FulfilPart
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            RequestAction::Submit => "提交",
            RequestAction::Approve => "批准",
            RequestAction::Reject => "不予批准",
            RequestAction::FulfilPart | RequestAction::FulfilAll => "发放",
        }
    }

    /// The states this action starts from, read off [`RequestState::apply`] (the store's
    /// conditional `UPDATE … WHERE state IN (…)`).
    pub fn from_states(self) -> impl Iterator<Item = RequestState> {
        RequestState::ALL
            .iter()
            .copied()
            .filter(move |s| s.allows(self))
    }

    /// Whether the step records who took it (a decision or a fulfilment), not only when a
    /// draft was submitted.
    pub fn is_decision(self) -> bool {
        self != RequestAction::Submit
    }
}

labelled! {
    /// Where a transfer stands: sent (in transit) → received, or cancelled back to its source.
    #[derive(Hash)]
    pub enum TransferState: "state" {
        #[strum(serialize = "sent", props(zh = "在途"))]
        Sent,
        #[strum(serialize = "received", props(zh = "已接收"))]
        Received,
        #[strum(serialize = "cancelled", props(zh = "已取消"))]
        Cancelled,
    }
}

impl TransferState {
    /// The states whose stock is on its way: counted at the destination, not yet on hand.
    pub const IN_TRANSIT: [TransferState; 1] = [TransferState::Sent];

    /// Applies `action` to a transfer in this state: the new state, or a refusal naming both.
    pub fn apply(self, action: TransferAction) -> Result<TransferState, CoreError> {
        self.next(action).ok_or_else(|| {
            let labels: Vec<&str> = action.from_states().map(TransferState::label_zh).collect();
            CoreError::invalid(
                "state",
                format!(
                    "该调拨当前为「{}」，不能{}（{}）",
                    self.label_zh(),
                    action.label_zh(),
                    only_from(&labels, "调拨", action.label_zh())
                ),
            )
        })
    }

    /// The one match over (action, state); `None` where the action does not apply.
    fn next(self, action: TransferAction) -> Option<TransferState> {
        use TransferState::*;
        Some(match (action, self) {
            (TransferAction::Receive, Sent) => Received,
            (TransferAction::Cancel, Sent) => Cancelled,
            _ => return None,
        })
    }

    /// Whether `action` may be taken now (the pages' buttons).
    pub fn allows(self, action: TransferAction) -> bool {
        self.next(action).is_some()
    }
}

impl FromStr for TransferState {
    type Err = CoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TransferState::from_code(s.trim()).ok_or_else(|| {
            CoreError::invalid(
                "state",
                "应为 sent（在途）、received（已接收）或 cancelled（已取消）",
            )
        })
    }
}

labelled! {
    /// How a transfer in transit ends. Its code is stored as the audit action `supply_transfer.…`.
    #[derive(Hash)]
    pub enum TransferAction: "action" {
        /// At the destination: the stock is added there.
        #[strum(serialize = "receive", props(zh = "接收"))]
        Receive,
        /// By the sender: the stock returns to the source.
        #[strum(serialize = "cancel", props(zh = "取消"))]
        Cancel,
    }
}

impl TransferAction {
    /// The states this action starts from, read off [`TransferState::apply`].
    pub fn from_states(self) -> impl Iterator<Item = TransferState> {
        TransferState::ALL
            .iter()
            .copied()
            .filter(move |s| s.allows(self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn codes_and_labels_stay_as_stored_and_shown() {
        use crate::kernel::labels::assert_table;
        assert_table(&[
            (EntryKind::Receipt, "receipt", "入库"),
            (EntryKind::Issue, "issue", "发放"),
            (EntryKind::Adjustment, "adjustment", "调整"),
            (EntryKind::TransferOut, "transfer_out", "调出"),
            (EntryKind::TransferIn, "transfer_in", "调入"),
            (EntryKind::TransferReturn, "transfer_return", "调拨退回"),
        ]);
        assert_table(&[
            (AdjustReason::Lost, "lost", "丢失"),
            (AdjustReason::Damaged, "damaged", "损坏"),
            (AdjustReason::Expired, "expired", "过期"),
            (
                AdjustReason::CountCorrection,
                "count_correction",
                "盘点更正",
            ),
        ]);
        assert_table(&[
            (ItemCategory::Protective, "protective", "防护用品"),
            (ItemCategory::Disinfection, "disinfection", "消杀用品"),
            (ItemCategory::Equipment, "equipment", "器械"),
            (ItemCategory::Other, "other", "其他"),
        ]);
        assert_table(&[
            (SiteKind::Store, "store", "物资点"),
            (SiteKind::Reserve, "reserve", "储备库"),
        ]);
        assert_table(&[
            (RequestState::Draft, "draft", "草稿"),
            (RequestState::Submitted, "submitted", "已提交"),
            (RequestState::Approved, "approved", "已批准"),
            (
                RequestState::PartlyFulfilled,
                "partly_fulfilled",
                "部分发放",
            ),
            (RequestState::Fulfilled, "fulfilled", "已发放"),
            (RequestState::Rejected, "rejected", "未批准"),
        ]);
        assert_table(&[
            (TransferState::Sent, "sent", "在途"),
            (TransferState::Received, "received", "已接收"),
            (TransferState::Cancelled, "cancelled", "已取消"),
        ]);
        assert_table(&[
            (TransferAction::Receive, "receive", "接收"),
            (TransferAction::Cancel, "cancel", "取消"),
        ]);
    }

    #[test]
    fn quantities_are_positive_whole_numbers() {
        assert_eq!(Quantity::parse("q", " 1,200 ").unwrap().get(), 1200);
        assert_eq!(Quantity::parse("q", "7").unwrap().get(), 7);
        for bad in ["", "0", "-3", "2.5", "十", "1e3", "99999999999999999999"] {
            let e = Quantity::parse("quantity", bad).unwrap_err();
            assert_eq!(e.field, "quantity", "{bad}");
        }
        Quantity::new("q", MAX_QUANTITY).unwrap();
        assert!(Quantity::new("q", MAX_QUANTITY + 1).is_err());
    }

    #[test]
    fn receipts_add_and_issues_subtract() {
        let r = Movement::parse("receipt", 200, None).unwrap();
        assert_eq!(
            (r.kind(), r.delta(), r.reason()),
            (EntryKind::Receipt, 200, None)
        );
        let i = Movement::parse("issue", 30, None).unwrap();
        assert_eq!(i.delta(), -30);
        assert!(Movement::parse("issue", 0, None).is_err());
        assert!(Movement::parse("issue", -5, None).is_err());
    }

    #[test]
    fn adjustments_need_a_reason_and_loss_only_decreases() {
        let e = Movement::parse("adjustment", 5, None).unwrap_err();
        assert_eq!(e[0].field, "reason");
        assert_eq!(
            Movement::parse("adjustment", 5, Some("lost"))
                .unwrap()
                .delta(),
            -5
        );
        assert_eq!(
            Movement::parse("adjustment", -5, Some("expired"))
                .unwrap()
                .delta(),
            -5
        );
        assert_eq!(
            Movement::parse("adjustment", 4, Some("count_correction"))
                .unwrap()
                .delta(),
            4
        );
        assert_eq!(
            Movement::parse("adjustment", -4, Some("count_correction"))
                .unwrap()
                .delta(),
            -4
        );
        assert_eq!(
            Movement::parse("adjustment", 0, Some("lost")).unwrap_err()[0].field,
            "quantity"
        );
        assert_eq!(
            Movement::parse("adjustment", 3, Some("stolen")).unwrap_err()[0].field,
            "reason"
        );
    }

    #[test]
    fn transfers_are_not_recorded_by_hand() {
        let e = Movement::parse("transfer_out", 5, None).unwrap_err();
        assert_eq!(e[0].field, "kind");
        let e = Movement::parse("gift", 0, None).unwrap_err();
        assert_eq!(e.len(), 1, "an unknown kind is reported once: {e:?}");
    }

    #[test]
    fn form_text_reports_every_field() {
        assert_eq!(
            Movement::parse_text("adjustment", "-3", Some("count_correction"))
                .unwrap()
                .delta(),
            -3
        );
        assert_eq!(
            Movement::parse_text("receipt", "+10", None)
                .unwrap()
                .delta(),
            10
        );
        assert!(Movement::parse_text("issue", "-3", None).is_err());
        let e = Movement::parse_text("adjustment", "x", None).unwrap_err();
        let fields: Vec<&str> = e.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["quantity", "reason"]);
    }

    #[test]
    fn drafts_parse_or_name_the_field() {
        let d = ItemDraft::parse(" 酒精棉片 ", "包", "disinfection", Some(365)).unwrap();
        assert_eq!(d.name, "酒精棉片");
        let e = ItemDraft::parse("", "", "food", Some(0)).unwrap_err();
        let fields: Vec<&str> = e.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["name", "unit", "category", "shelf_life_days"]);
        assert_eq!(
            SiteDraft::parse("街道储备库", None, true).unwrap().kind,
            SiteKind::Reserve
        );
        assert_eq!(
            SiteDraft::parse("社区物资点", None, false).unwrap().kind,
            SiteKind::Store
        );
        assert_eq!(
            SiteDraft::parse(" ", Some("shop"), false)
                .unwrap_err()
                .len(),
            2
        );
    }

    #[test]
    fn days_of_cover_follow_the_recent_rate() {
        // 140 issued in 14 days = 10 a day; 95 on hand last 9 whole days.
        assert_eq!(days_of_cover(95, 140, 14), Some(9));
        assert_eq!(days_of_cover(0, 140, 14), Some(0));
        assert_eq!(days_of_cover(500, 0, 14), None);
    }

    fn need(site_id: i64, observed: i64, on_hand: i64) -> Need {
        Need {
            site_id,
            observed,
            daily_use: 2,
            days: 7,
            on_hand,
        }
    }

    #[test]
    fn allocation_fills_shortfalls_when_there_is_enough() {
        // Shortfalls: 10×14−40 = 100; 5×14−100 → 0; 20×14 = 280.
        let a = allocate(1000, &[need(1, 10, 40), need(2, 5, 100), need(3, 20, 0)]);
        let q: Vec<i64> = a.iter().map(|a| a.quantity).collect();
        assert_eq!(q, [100, 0, 280]);
    }

    #[test]
    fn allocation_shares_by_need_when_short() {
        // Shortfalls 100 and 300, 200 available: 50 and 150.
        let a = allocate(200, &[need(1, 10, 40), need(2, 30, 120)]);
        let q: Vec<i64> = a.iter().map(|a| a.quantity).collect();
        assert_eq!(q, [50, 150]);
        // Three equal needs, 10 units: the rounding leftover goes to the earliest.
        let a = allocate(10, &[need(1, 1, 0), need(2, 1, 0), need(3, 1, 0)]);
        let q: Vec<i64> = a.iter().map(|a| a.quantity).collect();
        assert_eq!(q, [4, 3, 3]);
    }

    #[test]
    fn request_lifecycle_table() {
        use RequestAction as A;
        use RequestState::*;
        // Every (action, state) pair: the state it leads to, or None for a refusal.
        let table: [(A, [Option<RequestState>; 6]); 5] = [
            //                Draft            Submitted        Approved               PartlyFulfilled        Fulfilled Rejected
            (A::Submit, [Some(Submitted), None, None, None, None, None]),
            (A::Approve, [None, Some(Approved), None, None, None, None]),
            (A::Reject, [None, Some(Rejected), None, None, None, None]),
            (
                A::FulfilPart,
                [
                    None,
                    None,
                    Some(PartlyFulfilled),
                    Some(PartlyFulfilled),
                    None,
                    None,
                ],
            ),
            (
                A::FulfilAll,
                [None, None, Some(Fulfilled), Some(Fulfilled), None, None],
            ),
        ];
        assert_eq!(table.map(|(a, _)| a), A::ALL);
        for (action, row) in table {
            for (from, want) in RequestState::ALL.iter().copied().zip(row) {
                match (from.apply(action), want) {
                    (Ok(got), Some(want)) => assert_eq!(got, want, "{action:?} from {from:?}"),
                    (Err(e), None) => {
                        assert_eq!(e.field, "state");
                        assert!(
                            e.message.contains(from.label_zh())
                                && e.message.contains(action.label_zh()),
                            "the refusal names both: {}",
                            e.message
                        );
                        assert!(!from.allows(action));
                    }
                    (got, want) => panic!("{action:?} from {from:?}: {got:?}, want {want:?}"),
                }
            }
        }
        assert_eq!(
            Draft.apply(A::Approve).unwrap_err().message,
            "该申领当前为「草稿」，不能批准（只有「已提交」的申领可以批准）"
        );
        assert_eq!(
            Fulfilled.apply(A::FulfilPart).unwrap_err().message,
            "该申领当前为「已发放」，不能发放（只有「已批准」或「部分发放」的申领可以发放）"
        );
        let from: Vec<RequestState> = A::FulfilAll.from_states().collect();
        assert_eq!(from, [Approved, PartlyFulfilled]);
        for &s in RequestState::ALL {
            assert_eq!(s.as_str().parse::<RequestState>().unwrap(), s);
        }
        assert!("open".parse::<RequestState>().is_err());
    }

    #[test]
    fn request_outcomes_follow_the_quantities() {
        assert_eq!(RequestAction::decision(&[0, 0]), RequestAction::Reject);
        assert_eq!(RequestAction::decision(&[]), RequestAction::Reject);
        assert_eq!(RequestAction::decision(&[0, 3]), RequestAction::Approve);
        assert_eq!(RequestAction::fulfilment(true), RequestAction::FulfilAll);
        assert_eq!(RequestAction::fulfilment(false), RequestAction::FulfilPart);
        // The two outcomes of a step start from the same states (the pages offer one form).
        let from = |a: RequestAction| a.from_states().collect::<Vec<_>>();
        assert_eq!(from(RequestAction::Approve), from(RequestAction::Reject));
        assert_eq!(
            from(RequestAction::FulfilPart),
            from(RequestAction::FulfilAll)
        );
        assert!(!RequestAction::Submit.is_decision());
        assert!(RequestAction::FulfilPart.is_decision());
    }

    #[test]
    fn transfer_lifecycle_table() {
        use TransferAction as A;
        use TransferState::*;
        let table: [(A, [Option<TransferState>; 3]); 2] = [
            //                 Sent             Received Cancelled
            (A::Receive, [Some(Received), None, None]),
            (A::Cancel, [Some(Cancelled), None, None]),
        ];
        assert_eq!(table.map(|(a, _)| a), A::ALL);
        for (action, row) in table {
            for (from, want) in TransferState::ALL.iter().copied().zip(row) {
                match (from.apply(action), want) {
                    (Ok(got), Some(want)) => assert_eq!(got, want, "{action:?} from {from:?}"),
                    (Err(e), None) => {
                        assert_eq!(e.field, "state");
                        assert!(e.message.contains(from.label_zh()), "{}", e.message);
                    }
                    (got, want) => panic!("{action:?} from {from:?}: {got:?}, want {want:?}"),
                }
            }
        }
        assert_eq!(
            Received.apply(A::Cancel).unwrap_err().message,
            "该调拨当前为「已接收」，不能取消（只有「在途」的调拨可以取消）"
        );
        // In transit is exactly the state a transfer can still end from.
        for a in A::ALL {
            assert_eq!(
                a.from_states().collect::<Vec<_>>(),
                TransferState::IN_TRANSIT
            );
        }
        for &s in TransferState::ALL {
            assert_eq!(s.as_str().parse::<TransferState>().unwrap(), s);
        }
        assert!("lost".parse::<TransferState>().is_err());
    }

    #[test]
    fn who_may_act_where_table() {
        let p = |s: &str| JurisdictionPath::parse(s).unwrap();
        let street = p("/1/2/");
        let community = p("/1/2/3/");
        let elsewhere = p("/1/9/");
        let bound = |role| Scope::for_user(1, "u", role, vec![street.clone()]);
        let nowhere = Scope::for_user(2, "n", Role::Staff, Vec::new());
        use Role::*;
        use SiteKind::*;
        // (scope, path, kind): write, dispatch, decide a request addressed to `path`.
        let cases: Vec<(Scope, &JurisdictionPath, SiteKind, [bool; 3])> = vec![
            (Scope::operator(), &elsewhere, Store, [true, true, true]),
            (bound(Admin), &elsewhere, Store, [true, true, true]),
            (bound(Staff), &community, Store, [true, true, false]),
            (bound(Staff), &street, Reserve, [true, true, false]),
            (bound(Staff), &elsewhere, Reserve, [false, false, false]),
            (bound(Official), &street, Reserve, [false, true, true]),
            (bound(Official), &community, Store, [false, false, true]),
            (bound(Official), &elsewhere, Reserve, [false, false, false]),
            (bound(GridWorker), &community, Store, [false, false, false]),
            (bound(GridWorker), &street, Reserve, [false, false, false]),
            (nowhere, &community, Reserve, [false, false, false]),
        ];
        for (scope, path, kind, want) in cases {
            let got = [
                can_write_at(&scope, path),
                can_dispatch_from(&scope, path, kind),
                can_decide_request(&scope, path),
            ];
            assert_eq!(
                got,
                want,
                "{:?} at {} ({kind:?})",
                scope.role(),
                path.as_str()
            );
        }
    }

    proptest! {
        /// Whatever the needs, an allocation never exceeds what is available, nor anyone's
        /// shortfall, and hands out everything it can.
        #[test]
        fn allocation_is_bounded_and_complete(
            available in 0i64..100_000,
            raw in proptest::collection::vec((0i64..500, 0i64..5, 0i64..20_000), 0..12),
        ) {
            let needs: Vec<Need> = raw
                .iter()
                .enumerate()
                .map(|(i, (obs, use_, hand))| Need {
                    site_id: i as i64,
                    observed: *obs,
                    daily_use: *use_,
                    days: 7,
                    on_hand: *hand,
                })
                .collect();
            let out = allocate(available, &needs);
            let given: i64 = out.iter().map(|a| a.quantity).sum();
            let total: i64 = out.iter().map(|a| a.shortfall).sum();
            prop_assert!(given <= available);
            prop_assert_eq!(given, total.min(available));
            for a in &out {
                prop_assert!(a.quantity >= 0 && a.quantity <= a.shortfall);
            }
        }

        /// A balance kept by applying movements only when they do not go below zero equals the
        /// sum of the movements applied, and is never negative.
        #[test]
        fn a_guarded_ledger_never_goes_negative(
            moves in proptest::collection::vec((0usize..3, 1i64..200), 0..60),
        ) {
            let mut balance = 0i64;
            let mut applied = Vec::new();
            for (k, q) in moves {
                let m = match k {
                    0 => Movement::parse("receipt", q, None),
                    1 => Movement::parse("issue", q, None),
                    _ => Movement::parse("adjustment", q, Some("damaged")),
                }
                .unwrap();
                if balance + m.delta() >= 0 {
                    balance += m.delta();
                    applied.push(m.delta());
                }
                prop_assert!(balance >= 0);
            }
            prop_assert_eq!(balance, applied.iter().sum::<i64>());
        }
    }
}
