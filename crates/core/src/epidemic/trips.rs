//! Trips (外出登记): a resident leaving the community for a while. Pure rules; the store keeps
//! the records.
//!
//! - **Kinds.** Local work (市内务工) and work in the fields or hills (出山劳作) are standing
//!   registrations for a period: the person goes out and comes back every day, and the worker
//!   keeps a daily log with a temperature ([`TripKind::DAILY_LOG`]). Work travel out of town
//!   (外出务工) needs a health certificate. A medical visit (就医) names the hospital or clinic.
//!   Visits to relatives (探亲访友) and the rest are single trips.
//! - **Policy.** The policy in force on the day of leaving may suspend kinds of trip (the early
//!   2020 measures stopped visits to relatives); a suspended kind is refused, naming the policy.
//!   Medical visits are never suspended.
//! - **Groups.** Organised transport (集体出行: a bus to a work site, a village's run to the county
//!   hospital) is one group with a list of persons; every person gets a trip of their own, and
//!   the group is refused whole, naming each person who may not go.

use std::collections::HashSet;

use time::Date;

use crate::epidemic::checkpoint::VehiclePlate;
use crate::epidemic::policy::{PolicyVersion, Temperature};
use crate::kernel::clock::format_date;
use crate::kernel::labels::Labelled;
use crate::labelled;
use crate::CoreError;

/// A daily-log trip's period is at most this many days; the worker registers it again after.
pub const MAX_DAILY_LOG_DAYS: i64 = 31;
/// The most persons one organised trip may carry (a large coach).
pub const MAX_GROUP_SIZE: usize = 60;

labelled! {
    /// Why a resident leaves (外出登记).
    #[derive(Hash, serde::Deserialize)]
    pub enum TripKind: "kind" {
        /// Work in the city, out and back every day, with a daily log.
        #[strum(serialize = "local_work", props(zh = "市内务工", aliases = "本地务工|市内上班"))]
        LocalWork,
        /// Farm or hill work outside the village, out and back every day, with a daily log.
        #[strum(serialize = "field_work", props(zh = "出山劳作", aliases = "劳作|农活|下地"))]
        FieldWork,
        /// Work travel out of town: needs a health certificate.
        #[strum(serialize = "work", props(zh = "外出务工", aliases = "务工|出差"))]
        Work,
        #[strum(serialize = "relatives", props(zh = "探亲访友", aliases = "探亲|走亲戚|访友"))]
        Relatives,
        /// A medical visit: the destination names the hospital or clinic.
        #[strum(serialize = "medical", props(zh = "就医", aliases = "看病"))]
        Medical,
        #[strum(serialize = "other", props(zh = "其他"))]
        Other,
    }
}

/// Words one of which a hospital's or clinic's name holds (医院, 卫生院, 村卫生室, 诊所 …).
const CLINIC_WORDS: [&str; 9] = [
    "医院",
    "卫生院",
    "卫生室",
    "卫生所",
    "诊所",
    "门诊",
    "保健院",
    "医疗",
    "疾控",
];

impl TripKind {
    /// The kinds kept with a daily log (out and back every day for a period).
    pub const DAILY_LOG: [TripKind; 2] = [TripKind::LocalWork, TripKind::FieldWork];

    pub fn parse(raw: &str) -> Result<TripKind, CoreError> {
        Self::parse_labelled(raw).map_err(|_| {
            CoreError::invalid(
                "kind",
                format!(
                    "外出事由应为{}",
                    Self::ALL
                        .iter()
                        .map(|k| k.label_zh())
                        .collect::<Vec<_>>()
                        .join("、")
                ),
            )
        })
    }

    pub fn daily_log(self) -> bool {
        Self::DAILY_LOG.contains(&self)
    }

    /// Whether a policy may suspend this kind: a sick person always goes to the doctor.
    pub fn may_be_suspended(self) -> bool {
        self != TripKind::Medical
    }

    /// The codes of the daily-log kinds, for SQL `IN` lists derived from the rule.
    pub fn daily_log_codes() -> Vec<&'static str> {
        Self::DAILY_LOG.iter().map(|k| k.as_str()).collect()
    }
}

/// An outgoing trip as entered, checked as a whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TripDraft {
    pub kind: TripKind,
    pub destination: String,
    pub leave_on: Date,
    pub return_on: Option<Date>,
    pub health_certificate: bool,
}

impl TripDraft {
    /// Every broken field at once: work travel without a health certificate, a medical visit
    /// that names no hospital or clinic, a daily-log trip without its last day or longer than
    /// [`MAX_DAILY_LOG_DAYS`], a return before leaving, an empty or overlong destination.
    pub fn parse(
        kind: &str,
        destination: &str,
        leave_on: Result<Date, CoreError>,
        return_on: Option<Result<Date, CoreError>>,
        health_certificate: bool,
    ) -> Result<TripDraft, Vec<CoreError>> {
        let mut errors = Vec::new();
        let kind = TripKind::parse(kind).map_err(|e| errors.push(e)).ok();
        let dest = destination.trim();
        if dest.is_empty() {
            errors.push(CoreError::invalid("destination", "请填写去向"));
        } else if dest.chars().count() > 100 {
            errors.push(CoreError::invalid("destination", "去向不能超过 100 个字"));
        } else if kind == Some(TripKind::Medical) && !CLINIC_WORDS.iter().any(|w| dest.contains(w))
        {
            errors.push(CoreError::invalid(
                "destination",
                "就医请写明医院或诊所的名称，如「香格里拉市人民医院」「尼西乡卫生院」",
            ));
        }
        let leave_on = leave_on.map_err(|e| errors.push(e)).ok();
        let return_on = match return_on {
            None => None,
            Some(r) => r.map_err(|e| errors.push(e)).ok(),
        };
        if let (Some(l), Some(r)) = (leave_on, return_on) {
            if r < l {
                errors.push(CoreError::invalid("return_on", "返回日期早于外出日期"));
            } else if kind.is_some_and(TripKind::daily_log)
                && (r - l).whole_days() >= MAX_DAILY_LOG_DAYS
            {
                errors.push(CoreError::invalid(
                    "return_on",
                    format!(
                        "{}每次最多登记 {MAX_DAILY_LOG_DAYS} 天，期满再登记",
                        kind.map_or("", TripKind::label_zh)
                    ),
                ));
            }
        }
        if let Some(k) = kind.filter(|k| k.daily_log()) {
            if return_on.is_none() && !errors.iter().any(|e| e.field == "return_on") {
                errors.push(CoreError::invalid(
                    "return_on",
                    format!("{}须填写截止日期（每日往返，按日记录体温）", k.label_zh()),
                ));
            }
        }
        if kind == Some(TripKind::Work) && !health_certificate {
            errors.push(CoreError::invalid(
                "health_certificate",
                "务工外出须持健康证明",
            ));
        }
        match (kind, leave_on) {
            (Some(kind), Some(leave_on)) if errors.is_empty() => Ok(TripDraft {
                kind,
                destination: dest.to_owned(),
                leave_on,
                return_on,
                health_certificate,
            }),
            _ => Err(errors),
        }
    }

    /// The last day the trip's daily log may hold: its planned last day (or the day it came
    /// back, if earlier), and never after `today`.
    pub fn last_log_day(&self, returned_on: Option<Date>, today: Date) -> Date {
        [self.return_on, returned_on, Some(today)]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(today)
    }
}

/// Refuses a kind of trip the policy in force on the day of leaving suspends, naming the policy.
pub fn check_allowed(kind: TripKind, policy: Option<&PolicyVersion>) -> Result<(), CoreError> {
    match policy {
        Some(p) if p.suspends(kind) => Err(CoreError::invalid(
            "kind",
            format!(
                "{}暂停：《{}》（{} 起施行）暂停此类外出",
                kind.label_zh(),
                p.name(),
                format_date(p.effective_from())
            ),
        )),
        _ => Ok(()),
    }
}

/// The days a trip keeps someone away, as far as the records know: from leaving to the day
/// they came back, else to the planned last day; open-ended when neither is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Away {
    pub kind: TripKind,
    pub leave_on: Date,
    pub return_on: Option<Date>,
    pub returned_on: Option<Date>,
}

impl Away {
    fn last_day(&self) -> Option<Date> {
        self.returned_on.or(self.return_on)
    }

    /// Whether `new` falls in days this trip still holds, and is of the same sort: two periods
    /// of daily-log work, or two trips away (a day at the doctor's inside a period of local
    /// work is fine). A person who came back on a day may leave again that day; a trip only
    /// planned to end on a day still holds it.
    pub fn clashes_with(&self, new: &TripDraft) -> bool {
        if self.kind.daily_log() != new.kind.daily_log() {
            return false;
        }
        let starts_before_this_ends = match (self.returned_on, self.return_on) {
            (Some(back), _) => new.leave_on < back,
            (None, Some(end)) => new.leave_on <= end,
            (None, None) => true,
        };
        let ends_after_this_starts = new.return_on.is_none_or(|end| end >= self.leave_on);
        starts_before_this_ends && ends_after_this_starts
    }
}

/// Refuses a trip whose days fall in another trip of the same person that the records still
/// hold (the worker logs the return first), naming that trip.
pub fn check_no_clash(new: &TripDraft, others: &[Away]) -> Result<(), CoreError> {
    match others.iter().find(|o| o.clashes_with(new)) {
        None => Ok(()),
        Some(o) => {
            let until = match o.last_day() {
                Some(d) => format!("至 {}", format_date(d)),
                None => "未填返回日期".to_owned(),
            };
            let back = if o.returned_on.is_some() {
                "已返回"
            } else {
                "尚未登记返回"
            };
            Err(CoreError::invalid(
                "leave_on",
                format!(
                    "与已有的{}（{} 起，{until}，{back}）时间重叠；如已返回，请先登记返回",
                    o.kind.label_zh(),
                    format_date(o.leave_on)
                ),
            ))
        }
    }
}

/// Whether a daily-log trip still waits for `today`'s entry: it is of a daily-log kind, has
/// left, has not come back and its period runs today, and today holds no entry yet.
pub fn log_due(
    kind: TripKind,
    leave_on: Date,
    return_on: Option<Date>,
    returned_on: Option<Date>,
    logged_today: bool,
    today: Date,
) -> bool {
    kind.daily_log()
        && leave_on <= today
        && return_on.is_none_or(|r| today <= r)
        && returned_on.is_none()
        && !logged_today
}

/// One day's entry in a daily-log trip: the day, the temperature taken on coming back, a note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TripLogDraft {
    pub on: Date,
    pub temperature: Temperature,
    pub note: Option<String>,
}

impl TripLogDraft {
    /// Checks an entry against its trip: a daily-log kind, a day inside the trip's period and
    /// not after today, a readable temperature, a note of at most 200 characters.
    pub fn parse(
        trip: &TripDraft,
        returned_on: Option<Date>,
        on: Result<Date, CoreError>,
        temperature: &str,
        note: &str,
        today: Date,
    ) -> Result<TripLogDraft, Vec<CoreError>> {
        let mut errors = Vec::new();
        if !trip.kind.daily_log() {
            errors.push(CoreError::invalid(
                "kind",
                format!("{}不记每日日志", trip.kind.label_zh()),
            ));
        }
        let on = on.map_err(|e| errors.push(e)).ok();
        if let Some(on) = on {
            let last = trip.last_log_day(returned_on, today);
            if on < trip.leave_on || on > last {
                errors.push(CoreError::invalid(
                    "on",
                    format!(
                        "日期应在 {} 至 {} 之间",
                        format_date(trip.leave_on),
                        format_date(last)
                    ),
                ));
            }
        }
        let temperature = Temperature::parse(temperature)
            .map_err(|e| errors.push(e))
            .ok();
        let note = note.trim();
        if note.chars().count() > 200 {
            errors.push(CoreError::invalid("note", "备注不能超过 200 个字"));
        }
        match (on, temperature) {
            (Some(on), Some(temperature)) if errors.is_empty() => Ok(TripLogDraft {
                on,
                temperature,
                note: (!note.is_empty()).then(|| note.to_owned()),
            }),
            _ => Err(errors),
        }
    }
}

/// Organised transport (集体出行): one trip for a list of persons, in one vehicle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupTripDraft {
    pub trip: TripDraft,
    /// Who leads the group (带队人), with a phone number if they like.
    pub organiser: String,
    pub vehicle_plate: Option<VehiclePlate>,
    pub person_ids: Vec<i64>,
}

impl GroupTripDraft {
    /// The trip's own checks, then the group's: an organiser named, a readable plate if one is
    /// given, one to [`MAX_GROUP_SIZE`] persons, nobody twice.
    pub fn parse(
        trip: Result<TripDraft, Vec<CoreError>>,
        organiser: &str,
        vehicle_plate: &str,
        person_ids: &[i64],
    ) -> Result<GroupTripDraft, Vec<CoreError>> {
        let (trip, mut errors) = match trip {
            Ok(t) => (Some(t), Vec::new()),
            Err(e) => (None, e),
        };
        let organiser = organiser.trim();
        if organiser.is_empty() {
            errors.push(CoreError::invalid("organiser", "请填写带队人"));
        } else if organiser.chars().count() > 50 {
            errors.push(CoreError::invalid("organiser", "带队人不能超过 50 个字"));
        }
        let plate = match vehicle_plate.trim() {
            "" => None,
            p => VehiclePlate::parse_field("vehicle_plate", p)
                .map_err(|e| errors.push(e))
                .ok(),
        };
        let mut seen = HashSet::new();
        let ids: Vec<i64> = person_ids
            .iter()
            .copied()
            .filter(|id| seen.insert(*id))
            .collect();
        if ids.is_empty() {
            errors.push(CoreError::invalid("person_ids", "请勾选同行的居民"));
        } else if ids.len() > MAX_GROUP_SIZE {
            errors.push(CoreError::invalid(
                "person_ids",
                format!(
                    "一次集体出行最多 {MAX_GROUP_SIZE} 人（已选 {} 人）",
                    ids.len()
                ),
            ));
        }
        match trip {
            Some(trip) if errors.is_empty() => Ok(GroupTripDraft {
                trip,
                organiser: organiser.to_owned(),
                vehicle_plate: plate,
                person_ids: ids,
            }),
            _ => Err(errors),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::epidemic::policy::presets as preset_list;
    use time::macros::date;

    fn draft(
        kind: &str,
        dest: &str,
        leave: Date,
        back: Option<Date>,
        cert: bool,
    ) -> Result<TripDraft, Vec<CoreError>> {
        TripDraft::parse(kind, dest, Ok(leave), back.map(Ok), cert)
    }

    fn fields(r: Result<impl std::fmt::Debug, Vec<CoreError>>) -> Vec<String> {
        r.unwrap_err().into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn a_trip_may_not_fall_in_days_another_of_its_sort_still_holds() {
        let feb = |d: u8| Date::from_calendar_date(2020, time::Month::February, d).unwrap();
        let new = |kind: &str, leave: u8, back: Option<u8>| {
            draft(kind, "德钦县人民医院", feb(leave), back.map(feb), true).unwrap()
        };
        let local = |returned: Option<u8>| Away {
            kind: TripKind::LocalWork,
            leave_on: feb(10),
            return_on: Some(feb(16)),
            returned_on: returned.map(feb),
        };
        let open = Away {
            kind: TripKind::Other,
            leave_on: feb(10),
            return_on: None,
            returned_on: None,
        };
        // (existing, new kind, new leave, new back) → clashes
        let table: &[(Away, &str, u8, Option<u8>, bool)] = &[
            (local(None), "field_work", 12, Some(13), true), // inside
            (local(None), "field_work", 16, Some(18), true), // the planned last day is held
            (local(None), "field_work", 17, Some(18), false), // after the plan
            (local(None), "field_work", 5, Some(9), false),  // before it
            (local(None), "field_work", 5, Some(10), true),  // ends on its first day
            (local(None), "medical", 12, Some(12), false),   // a day at the doctor's
            (local(Some(12)), "local_work", 12, Some(13), false), // back on the 12th, off again
            (local(Some(12)), "local_work", 11, Some(11), true), // but not while still away
            (open, "relatives", 28, Some(29), true),         // nobody knows when it ends
            (open, "medical", 28, None, true),
            (open, "relatives", 1, Some(9), false),
            (open, "local_work", 12, Some(13), false),
        ];
        for (i, (away, kind, leave, back, clash)) in table.iter().enumerate() {
            assert_eq!(
                away.clashes_with(&new(kind, *leave, *back)),
                *clash,
                "row {i}"
            );
        }
        let e =
            check_no_clash(&new("field_work", 12, Some(13)), &[open, local(Some(20))]).unwrap_err();
        assert_eq!(e.field, "leave_on");
        assert!(
            e.message
                .contains("市内务工（2020-02-10 起，至 2020-02-20，已返回）"),
            "{}",
            e.message
        );
        let e = check_no_clash(&new("relatives", 28, None), &[open]).unwrap_err();
        assert!(
            e.message
                .contains("其他（2020-02-10 起，未填返回日期，尚未登记返回）"),
            "{}",
            e.message
        );
        check_no_clash(&new("field_work", 17, Some(18)), &[local(None)]).unwrap();
    }

    #[test]
    fn codes_and_labels_stay_as_stored_and_shown() {
        use crate::kernel::labels::assert_table;
        assert_table(&[
            (TripKind::LocalWork, "local_work", "市内务工"),
            (TripKind::FieldWork, "field_work", "出山劳作"),
            (TripKind::Work, "work", "外出务工"),
            (TripKind::Relatives, "relatives", "探亲访友"),
            (TripKind::Medical, "medical", "就医"),
            (TripKind::Other, "other", "其他"),
        ]);
        // What workers typed before the kinds were split still reads.
        for (typed, kind) in [
            ("务工", TripKind::Work),
            ("出差", TripKind::Work),
            ("探亲", TripKind::Relatives),
            ("劳作", TripKind::FieldWork),
            (" medical ", TripKind::Medical),
        ] {
            assert_eq!(TripKind::parse(typed).unwrap(), kind, "{typed}");
        }
        let e = TripKind::parse("旅游").unwrap_err();
        assert_eq!(e.field, "kind");
        assert!(e.message.contains("探亲访友"), "{}", e.message);
    }

    #[test]
    fn each_kind_asks_for_what_it_needs() {
        let d = date!(2020 - 02 - 10);
        let week = Some(date!(2020 - 02 - 16));
        // (kind, destination, return_on, certificate) → the fields refused (empty: accepted)
        type Case<'a> = (&'a str, &'a str, Option<Date>, bool, &'a [&'a str]);
        let table: &[Case] = &[
            ("local_work", "城区建筑工地", week, false, &[]),
            ("local_work", "城区建筑工地", None, false, &["return_on"]),
            (
                "field_work",
                "后山茶园",
                Some(date!(2020 - 03 - 12)),
                false,
                &["return_on"],
            ),
            (
                "field_work",
                "后山茶园",
                // 31 days, 2020-02-10 to 2020-03-11 inclusive (a leap year): the longest.
                Some(date!(2020 - 03 - 11)),
                false,
                &[],
            ),
            ("work", "昆明", None, false, &["health_certificate"]),
            ("work", "昆明", None, true, &[]),
            ("medical", "昆明", None, false, &["destination"]),
            ("medical", "尼西乡卫生院", None, false, &[]),
            ("medical", "迪庆州人民医院", None, false, &[]),
            ("relatives", "奔子栏镇", None, false, &[]),
            ("relatives", "", week, false, &["destination"]),
            (
                "other",
                "县城",
                Some(date!(2020 - 02 - 09)),
                false,
                &["return_on"],
            ),
        ];
        for (kind, dest, back, cert, want) in table {
            let got = draft(kind, dest, d, *back, *cert);
            if want.is_empty() {
                let t = got.unwrap();
                assert_eq!((t.kind.as_str(), t.destination.as_str()), (*kind, *dest));
            } else {
                assert_eq!(fields(got), *want, "{kind} {dest} {back:?}");
            }
        }
    }

    #[test]
    fn policies_suspend_visits_to_relatives_not_the_doctor() {
        let all = preset_list();
        let early = all.iter().find(|p| p.key() == "community-2020").unwrap();
        let class_b = all.iter().find(|p| p.key() == "class-b").unwrap();
        let e = check_allowed(TripKind::Relatives, Some(early)).unwrap_err();
        assert_eq!(e.field, "kind");
        assert!(
            e.message.contains("社区疫情防控措施（2020 年初）"),
            "{}",
            e.message
        );
        assert!(e.message.contains("2020-01-20"), "{}", e.message);
        check_allowed(TripKind::Medical, Some(early)).unwrap();
        check_allowed(TripKind::FieldWork, Some(early)).unwrap();
        check_allowed(TripKind::Relatives, Some(class_b)).unwrap();
        check_allowed(TripKind::Relatives, None).unwrap();
    }

    #[test]
    fn a_log_is_due_each_day_of_the_period_until_entered() {
        let (leave, last) = (date!(2020 - 02 - 10), Some(date!(2020 - 02 - 16)));
        let due = |kind, today, back, logged| log_due(kind, leave, last, back, logged, today);
        assert!(due(TripKind::LocalWork, date!(2020 - 02 - 10), None, false));
        assert!(due(TripKind::FieldWork, date!(2020 - 02 - 16), None, false));
        assert!(!due(TripKind::LocalWork, date!(2020 - 02 - 12), None, true));
        assert!(!due(
            TripKind::LocalWork,
            date!(2020 - 02 - 09),
            None,
            false
        ));
        assert!(!due(
            TripKind::LocalWork,
            date!(2020 - 02 - 17),
            None,
            false
        ));
        assert!(!due(
            TripKind::LocalWork,
            date!(2020 - 02 - 12),
            Some(date!(2020 - 02 - 11)),
            false
        ));
        assert!(!due(TripKind::Work, date!(2020 - 02 - 12), None, false));
    }

    #[test]
    fn log_entries_fall_inside_the_trip_and_read_a_temperature() {
        let trip = draft(
            "local_work",
            "城区工地",
            date!(2020 - 02 - 10),
            Some(date!(2020 - 02 - 16)),
            false,
        )
        .unwrap();
        let today = date!(2020 - 02 - 12);
        let ok = TripLogDraft::parse(&trip, None, Ok(today), "36.6", " 按时返回 ", today).unwrap();
        assert_eq!(
            (ok.temperature.tenths(), ok.note.as_deref()),
            (366, Some("按时返回"))
        );
        // Tomorrow is not yet, the day before leaving never was; a returned trip ends early.
        for (on, back) in [
            (date!(2020 - 02 - 13), None),
            (date!(2020 - 02 - 09), None),
            (date!(2020 - 02 - 12), Some(date!(2020 - 02 - 11))),
        ] {
            let e = TripLogDraft::parse(&trip, back, Ok(on), "36.6", "", today);
            assert_eq!(fields(e), ["on"], "{on} {back:?}");
        }
        assert_eq!(
            fields(TripLogDraft::parse(
                &trip,
                None,
                Ok(today),
                "365",
                "",
                today
            )),
            ["temperature"]
        );
        let single = draft("other", "县城", date!(2020 - 02 - 10), None, false).unwrap();
        assert_eq!(
            fields(TripLogDraft::parse(
                &single,
                None,
                Ok(today),
                "36.6",
                "",
                today
            )),
            ["kind"]
        );
    }

    #[test]
    fn a_group_names_its_organiser_and_its_persons_once() {
        let trip = || {
            draft(
                "local_work",
                "工业园区",
                date!(2020 - 02 - 10),
                Some(date!(2020 - 02 - 20)),
                false,
            )
        };
        let g = GroupTripDraft::parse(trip(), " 和师傅 139 ", "云r·12345", &[3, 1, 3]).unwrap();
        assert_eq!(g.person_ids, [3, 1]);
        assert_eq!(g.organiser, "和师傅 139");
        assert_eq!(g.vehicle_plate.unwrap().as_str(), "云R12345");
        assert_eq!(
            fields(GroupTripDraft::parse(trip(), "", "", &[])),
            ["organiser", "person_ids"]
        );
        assert_eq!(
            fields(GroupTripDraft::parse(trip(), "和师傅", "12345", &[1])),
            ["vehicle_plate"]
        );
        let many: Vec<i64> = (1..=61).collect();
        assert_eq!(
            fields(GroupTripDraft::parse(trip(), "和师傅", "", &many)),
            ["person_ids"]
        );
        // The trip's own errors come first, the group's after.
        let bad = draft("work", "昆明", date!(2020 - 02 - 10), None, false);
        assert_eq!(
            fields(GroupTripDraft::parse(bad, "", "", &[1])),
            ["health_certificate", "organiser"]
        );
    }

    #[test]
    fn work_travel_needs_a_health_certificate_and_every_error_is_reported() {
        let ok = TripDraft::parse(
            "就医",
            " 迪庆州人民医院 ",
            Ok(date!(2022 - 03 - 01)),
            None,
            false,
        )
        .unwrap();
        assert_eq!(ok.kind, TripKind::Medical);
        assert_eq!(ok.destination, "迪庆州人民医院");
        let errors = TripDraft::parse(
            "work",
            "",
            Ok(date!(2022 - 03 - 05)),
            Some(Ok(date!(2022 - 03 - 01))),
            false,
        )
        .unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            vec!["destination", "return_on", "health_certificate"]
        );
    }
}
