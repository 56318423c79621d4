//! Centralised quarantine sites (集中隔离点): a site (a hotel, usually) kept by a street or a
//! district, its rooms and beds, and stays — who sleeps in which room from which day to which.
//! The rules here are pure: which room a new stay gets, how many beds are taken on a day, and
//! what a stay may not do (double booking, more people than beds, days outside the person's
//! observation). The store keeps the records and asks these rules before it writes.
//!
//! A stay occupies its days `[from, last night]`, both included: a person checked out on a day
//! slept there that night, and the bed is free from the next day. A stay not checked out
//! occupies up to its planned last day, and past it until today (the person has not left), so a
//! forgotten check-out never frees a bed someone still lies in.

use time::Date;

use super::policy::{Measure, StagePlan};
use crate::kernel::access::{Role, Scope};
use crate::kernel::path::JurisdictionPath;
use crate::CoreError;

// ---------------------------------------------------------------------------------------------
// Who may see and run a site

/// A site is seen by whoever works within its node (its street or district staff, officials,
/// admins) and by whoever works *below* it, whom it serves (a community's staff, a grid worker):
/// they send people there. Seeing a site is not seeing its occupants — see [`may_see_occupant`].
pub fn site_visible(scope: &Scope, site: &JurisdictionPath) -> bool {
    scope.can_read(site) || scope.roots().iter().any(|r| r.is_within(site))
}

/// Setting up and running a site (its details, rooms, manual placements, moves, check-outs):
/// staff, officials (a street or district office runs its sites) and admins, within their
/// jurisdiction. Grid workers send people there through a screening, nothing more.
pub fn can_manage_site(scope: &Scope, site: &JurisdictionPath) -> bool {
    scope.role() != Role::GridWorker && scope.can_read(site)
}

/// A site's page names an occupant only to a viewer whose jurisdiction holds the person; anyone
/// else sees an occupied bed without a name (辖区外人员).
pub fn may_see_occupant(scope: &Scope, person: &JurisdictionPath) -> bool {
    scope.can_read(person)
}

/// A site covers a person when the person lives at the site's node or below it.
pub fn covers(site: &JurisdictionPath, person: &JurisdictionPath) -> bool {
    person.is_within(site)
}

// ---------------------------------------------------------------------------------------------
// Parsed inputs

/// A site's name: 1–50 characters, trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteName(String);

impl SiteName {
    pub fn parse(raw: &str) -> Result<SiteName, CoreError> {
        let s = raw.trim();
        let n = s.chars().count();
        if n == 0 || n > 50 {
            return Err(CoreError::invalid("name", "隔离点名称应为 1–50 个字"));
        }
        Ok(SiteName(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A room's number as on its door: 1–12 of `0-9 A-Z -`, letters upper-cased and full-width
/// characters folded (`５０１` is `501`, `b-12` is `B-12`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RoomNumber(String);

impl RoomNumber {
    pub fn parse(raw: &str) -> Result<RoomNumber, CoreError> {
        let s: String = raw
            .trim()
            .chars()
            .map(|c| match c {
                '０'..='９' | 'Ａ'..='Ｚ' | 'ａ'..='ｚ' | '－' => {
                    char::from_u32(c as u32 - 0xFEE0).unwrap_or(c)
                }
                _ => c,
            })
            .map(|c| c.to_ascii_uppercase())
            .collect();
        let ok = (1..=12).contains(&s.len())
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !ok {
            return Err(CoreError::invalid(
                "number",
                format!(
                    "「{}」不是有效的房间号：应为 1–12 位数字、字母或 -",
                    raw.trim()
                ),
            ));
        }
        Ok(RoomNumber(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The most beds one room may hold.
pub const MAX_BEDS: i64 = 20;
/// The most rooms one bulk addition may create.
pub const MAX_ROOMS_AT_ONCE: usize = 2_000;

/// A room to add: floor, number, beds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRoom {
    pub floor: i64,
    pub number: RoomNumber,
    pub beds: i64,
}

impl NewRoom {
    pub fn new(floor: i64, number: RoomNumber, beds: i64) -> Result<NewRoom, CoreError> {
        if !(-5..=200).contains(&floor) {
            return Err(CoreError::invalid("floor", "楼层应在 -5 到 200 之间"));
        }
        if !(1..=MAX_BEDS).contains(&beds) {
            return Err(CoreError::invalid(
                "beds",
                format!("每间床位数应为 1–{MAX_BEDS}"),
            ));
        }
        Ok(NewRoom {
            floor,
            number,
            beds,
        })
    }
}

/// Rooms in bulk, as a hotel is laid out: floors `floors` × rooms `rooms` on each floor, `beds`
/// each, numbered floor then two-digit room (`floors 2–5, rooms 01–12` is 201…212, …, 501…512).
/// Every fault is reported, and nothing is made when there is one.
pub fn room_block(
    floors: (i64, i64),
    rooms: (i64, i64),
    beds: i64,
) -> Result<Vec<NewRoom>, Vec<CoreError>> {
    let mut errors = Vec::new();
    if floors.0 < 1 || floors.1 > 99 || floors.0 > floors.1 {
        errors.push(CoreError::invalid(
            "floor_to",
            "楼层应为 1–99，且起始楼层不大于结束楼层",
        ));
    }
    if rooms.0 < 1 || rooms.1 > 99 || rooms.0 > rooms.1 {
        errors.push(CoreError::invalid(
            "room_to",
            "每层房间序号应为 1–99，且起始序号不大于结束序号",
        ));
    }
    if !(1..=MAX_BEDS).contains(&beds) {
        errors.push(CoreError::invalid(
            "beds",
            format!("每间床位数应为 1–{MAX_BEDS}"),
        ));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut out = Vec::new();
    for floor in floors.0..=floors.1 {
        for room in rooms.0..=rooms.1 {
            let number = RoomNumber(format!("{floor}{room:02}"));
            out.push(NewRoom {
                floor,
                number,
                beds,
            });
        }
    }
    if out.len() > MAX_ROOMS_AT_ONCE {
        return Err(vec![CoreError::invalid(
            "room_to",
            format!("一次最多添加 {MAX_ROOMS_AT_ONCE} 间"),
        )]);
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Periods and stays

/// Days from `from` to `until`, both included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub from: Date,
    pub until: Date,
}

impl Period {
    pub fn new(from: Date, until: Date) -> Result<Period, CoreError> {
        if until < from {
            return Err(CoreError::invalid("until", "离开日期不能早于入住日期"));
        }
        Ok(Period { from, until })
    }

    pub fn contains(&self, on: Date) -> bool {
        self.from <= on && on <= self.until
    }

    pub fn overlaps(&self, other: &Period) -> bool {
        self.from <= other.until && other.from <= self.until
    }

    fn days(&self) -> impl Iterator<Item = Date> {
        let until = self.until;
        std::iter::successors(Some(self.from), move |d| {
            d.next_day().filter(|n| *n <= until)
        })
    }
}

/// The part of an observation spent in centralised quarantine: from the first such stage to the
/// last (a close contact's 7 days before 3 at home). An observation with no stages kept is read
/// by its headline measure. `None` when no stage is centralised.
pub fn centralised_span(
    measure: Measure,
    stages: &[StagePlan],
    observation: Period,
) -> Option<Period> {
    if stages.is_empty() {
        return (measure == Measure::CentralizedQuarantine).then_some(observation);
    }
    let central = stages
        .iter()
        .filter(|s| s.measure == Measure::CentralizedQuarantine);
    let from = central.clone().map(|s| s.start).min()?;
    let until = central.map(|s| s.until).max()?;
    Some(Period { from, until })
}

/// The stay a centralised span asks for when a room is given on `today`: from today (nobody is
/// placed in the past) to the span's last day; `None` when the span is over.
pub fn stay_for(span: Period, today: Date) -> Option<Period> {
    let from = span.from.max(today);
    (from <= span.until).then_some(Period {
        from,
        until: span.until,
    })
}

/// One stay as the rules see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stay {
    /// First night.
    pub from: Date,
    /// Planned last night.
    pub until: Date,
    /// The day of check-out (its night included), once checked out.
    pub left: Option<Date>,
    /// The person's household, to put a family together.
    pub household: Option<i64>,
}

impl Stay {
    /// The last night the bed is taken, judged on `today`: the check-out day; else the planned
    /// last night, or today when that has passed and nobody checked the person out.
    pub fn last_night(&self, today: Date) -> Date {
        match self.left {
            Some(d) => d,
            None => self.until.max(today),
        }
    }

    /// The nights it takes, judged on `today` (empty — `None` — when checked out before its
    /// first night).
    pub fn nights(&self, today: Date) -> Option<Period> {
        let last = self.last_night(today);
        (last >= self.from).then_some(Period {
            from: self.from,
            until: last,
        })
    }

    pub fn occupies(&self, on: Date, today: Date) -> bool {
        self.nights(today).is_some_and(|p| p.contains(on))
    }
}

/// Beds taken on `on` by `stays` (one per person).
pub fn beds_taken(stays: &[Stay], on: Date, today: Date) -> i64 {
    stays.iter().filter(|s| s.occupies(on, today)).count() as i64
}

/// The most beds `stays` take on any day of `period`.
fn peak(stays: &[Stay], period: Period, today: Date) -> i64 {
    period
        .days()
        .map(|d| beds_taken(stays, d, today))
        .max()
        .unwrap_or(0)
}

/// A room as the chooser sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Room {
    pub id: i64,
    pub beds: i64,
    /// Its stays that may meet the new one (the store may leave out stays long over).
    pub stays: Vec<Stay>,
}

/// The room for a new stay of `period`, among `rooms` given in fill order (the store lists the
/// open sites covering the person, the nearest site first — a community's before its street's
/// —, then by site, floor and room number). The rule:
/// 1. a room where someone of the person's `household` stays during the period and a bed is
///    free every night of it: families stay together, up to the room's beds;
/// 2. else the first room nobody else occupies on any night of the period — one person (or one
///    family) per room, as centralised quarantine is run (单人单间): strangers never share;
/// 3. else none (暂无空床).
pub fn choose_room(
    rooms: &[Room],
    period: Period,
    household: Option<i64>,
    today: Date,
) -> Option<i64> {
    let meets = |s: &Stay| s.nights(today).is_some_and(|n| n.overlaps(&period));
    if let Some(h) = household {
        let family = rooms.iter().find(|r| {
            r.stays.iter().any(|s| s.household == Some(h) && meets(s))
                && peak(&r.stays, period, today) < r.beds
        });
        if let Some(r) = family {
            return Some(r.id);
        }
    }
    rooms
        .iter()
        .find(|r| r.beds >= 1 && !r.stays.iter().any(meets))
        .map(|r| r.id)
}

/// Whether a stay of `period` may be put in a room with `beds` and `room_stays` (the person's own
/// stay left out when moving), for a person whose other stays are `person_stays`, under an
/// observation running `observation`. Refused, in this order: a stay outside the observation, a
/// second stay over the same nights (double booking), a night with every bed taken.
pub fn check_stay(
    period: Period,
    observation: Period,
    beds: i64,
    room_stays: &[Stay],
    person_stays: &[Stay],
    today: Date,
) -> Result<(), CoreError> {
    if period.from < observation.from || period.until > observation.until {
        return Err(CoreError::invalid(
            "from",
            format!(
                "入住期 {} 至 {} 超出医学观察期 {} 至 {}",
                period.from, period.until, observation.from, observation.until
            ),
        ));
    }
    if let Some(other) = person_stays
        .iter()
        .filter_map(|s| s.nights(today))
        .find(|n| n.overlaps(&period))
    {
        return Err(CoreError::invalid(
            "person_id",
            format!(
                "此人 {} 至 {} 已安排了隔离房间，不能重复安排",
                other.from, other.until
            ),
        ));
    }
    if let Some(full) = period
        .days()
        .find(|d| beds_taken(room_stays, *d, today) >= beds)
    {
        return Err(CoreError::invalid(
            "room_id",
            format!("该房间 {full} 已住满（{beds} 张床）"),
        ));
    }
    Ok(())
}

/// Beds of a site on a day.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Beds {
    pub total: i64,
    pub occupied: i64,
}

impl Beds {
    /// Beds nobody occupies (never below zero: an over-full room frees nothing elsewhere).
    pub fn free(&self) -> i64 {
        (self.total - self.occupied).max(0)
    }

    /// The beds of `rooms` on `on`; a room's occupants beyond its beds count as its beds.
    pub fn of(rooms: &[Room], on: Date, today: Date) -> Beds {
        rooms.iter().fold(Beds::default(), |acc, r| Beds {
            total: acc.total + r.beds,
            occupied: acc.occupied + beds_taken(&r.stays, on, today).min(r.beds),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn p(from: Date, until: Date) -> Period {
        Period::new(from, until).unwrap()
    }

    fn stay(from: Date, until: Date, left: Option<Date>, household: Option<i64>) -> Stay {
        Stay {
            from,
            until,
            left,
            household,
        }
    }

    fn path(s: &str) -> JurisdictionPath {
        JurisdictionPath::parse(s).unwrap()
    }

    #[test]
    fn a_site_is_seen_from_above_and_below_and_run_from_above() {
        let street = path("/1/2/");
        let site = path("/1/2/");
        let worker = Scope::for_user(1, "w", Role::GridWorker, vec![path("/1/2/3/4/")]);
        let staff = Scope::for_user(2, "s", Role::Staff, vec![path("/1/2/3/")]);
        let official = Scope::for_user(3, "o", Role::Official, vec![street.clone()]);
        let elsewhere = Scope::for_user(4, "x", Role::Staff, vec![path("/1/9/")]);
        let nobody = Scope::for_user(5, "n", Role::Staff, vec![]);
        // (scope, sees the site, runs it)
        let table = [
            (&worker, true, false),
            (&staff, true, false),
            (&official, true, true),
            (&elsewhere, false, false),
            (&nobody, false, false),
            (&Scope::operator(), true, true),
        ];
        for (i, (scope, sees, runs)) in table.into_iter().enumerate() {
            assert_eq!(site_visible(scope, &site), sees, "case {i}");
            assert_eq!(can_manage_site(scope, &site), runs, "case {i}");
        }
        // A grid worker sees occupants of their grid only.
        assert!(may_see_occupant(&worker, &path("/1/2/3/4/7/")));
        assert!(!may_see_occupant(&worker, &path("/1/2/3/5/")));
        assert!(covers(&site, &path("/1/2/3/4/")));
        assert!(!covers(&path("/1/2/3/"), &path("/1/2/8/")));
    }

    #[test]
    fn names_numbers_and_blocks_parse() {
        assert_eq!(SiteName::parse(" 建塘宾馆 ").unwrap().as_str(), "建塘宾馆");
        assert_eq!(SiteName::parse("  ").unwrap_err().field, "name");
        assert_eq!(RoomNumber::parse("５０１").unwrap().as_str(), "501");
        assert_eq!(RoomNumber::parse("b-12").unwrap().as_str(), "B-12");
        for bad in ["", "5 01", "五零一", "1234567890123"] {
            assert_eq!(RoomNumber::parse(bad).unwrap_err().field, "number", "{bad}");
        }
        let n = |s: &str| RoomNumber::parse(s).unwrap();
        assert_eq!(NewRoom::new(3, n("301"), 0).unwrap_err().field, "beds");
        assert_eq!(NewRoom::new(300, n("301"), 2).unwrap_err().field, "floor");

        let block = room_block((2, 5), (1, 12), 2).unwrap();
        assert_eq!(block.len(), 48);
        assert_eq!(block[0].number.as_str(), "201");
        assert_eq!(block[11].number.as_str(), "212");
        assert_eq!(block[47].number.as_str(), "512");
        assert!(block.iter().all(|r| r.beds == 2));
        assert_eq!(block[47].floor, 5);
        let errs = room_block((5, 2), (0, 12), 0).unwrap_err();
        let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["floor_to", "room_to", "beds"]);
    }

    #[test]
    fn the_centralised_part_of_an_observation_is_its_stay() {
        let obs = p(date!(2022 - 07 - 01), date!(2022 - 07 - 10));
        let stage = |measure, start, until| StagePlan {
            measure,
            days: 0,
            start,
            until,
        };
        let contact = [
            stage(
                Measure::CentralizedQuarantine,
                date!(2022 - 07 - 01),
                date!(2022 - 07 - 07),
            ),
            stage(
                Measure::HealthMonitoring,
                date!(2022 - 07 - 08),
                date!(2022 - 07 - 10),
            ),
        ];
        let home = [stage(
            Measure::HomeQuarantine,
            date!(2022 - 07 - 01),
            date!(2022 - 07 - 10),
        )];
        let table: [(Measure, &[StagePlan], Option<Period>); 4] = [
            (
                Measure::CentralizedQuarantine,
                &contact,
                Some(p(date!(2022 - 07 - 01), date!(2022 - 07 - 07))),
            ),
            (Measure::HomeQuarantine, &home, None),
            (Measure::CentralizedQuarantine, &[], Some(obs)),
            (Measure::HomeQuarantine, &[], None),
        ];
        for (i, (m, stages, expected)) in table.into_iter().enumerate() {
            assert_eq!(centralised_span(m, stages, obs), expected, "case {i}");
        }
        // Placed today: from today on, never in the past; none when the span is over.
        let span = p(date!(2022 - 07 - 01), date!(2022 - 07 - 07));
        assert_eq!(
            stay_for(span, date!(2022 - 06 - 30)),
            Some(span),
            "before the span, from its first day"
        );
        assert_eq!(
            stay_for(span, date!(2022 - 07 - 03)),
            Some(p(date!(2022 - 07 - 03), date!(2022 - 07 - 07)))
        );
        assert_eq!(
            stay_for(span, date!(2022 - 07 - 07)),
            Some(p(date!(2022 - 07 - 07), date!(2022 - 07 - 07)))
        );
        assert_eq!(stay_for(span, date!(2022 - 07 - 08)), None);
    }

    #[test]
    fn a_stay_takes_its_nights_and_check_out_frees_the_next_day() {
        let today = date!(2022 - 07 - 05);
        let d = |day: u8| Date::from_calendar_date(2022, time::Month::July, day).unwrap();
        // (stay, day, occupied)
        let planned = stay(d(1), d(7), None, None);
        let left_early = stay(d(1), d(7), Some(d(3)), None);
        let overdue = stay(d(1), d(2), None, None); // not checked out, planned end passed
        let left_on_arrival = stay(d(4), d(7), Some(d(4)), None);
        let cancelled = stay(d(6), d(7), Some(d(5)), None); // left before the first night
        let table = [
            (planned, d(1), true),
            (planned, d(7), true),
            (planned, d(8), false),
            (planned, d(30), false),
            (left_early, d(3), true),
            (left_early, d(4), false),
            (overdue, d(5), true), // still there today
            (overdue, d(6), false),
            (left_on_arrival, d(4), true),
            (left_on_arrival, d(5), false),
            (cancelled, d(6), false),
        ];
        for (i, (s, on, expected)) in table.into_iter().enumerate() {
            assert_eq!(s.occupies(on, today), expected, "case {i}");
        }
        let stays = [planned, left_early, overdue, left_on_arrival];
        let taken: Vec<i64> = (1..=8).map(|n| beds_taken(&stays, d(n), today)).collect();
        assert_eq!(taken, [3, 3, 3, 3, 2, 1, 1, 0]);
        let rooms = [
            Room {
                id: 1,
                beds: 2,
                stays: stays.to_vec(),
            },
            Room {
                id: 2,
                beds: 2,
                stays: vec![],
            },
        ];
        // An over-full night counts the room's beds, no more.
        assert_eq!(
            Beds::of(&rooms, d(1), today),
            Beds {
                total: 4,
                occupied: 2
            }
        );
        assert_eq!(Beds::of(&rooms, d(1), today).free(), 2);
        assert_eq!(Beds::of(&rooms, d(8), today).free(), 4);
    }

    #[test]
    fn rooms_are_chosen_family_first_then_empty_in_order() {
        let today = date!(2022 - 07 - 01);
        let d = |day: u8| Date::from_calendar_date(2022, time::Month::July, day).unwrap();
        let want = p(d(2), d(8));
        let stranger = stay(d(1), d(7), None, Some(90));
        let family = stay(d(1), d(7), None, Some(7));
        let gone = stay(d(1), d(7), Some(d(1)), Some(80)); // left on the 1st: free from the 2nd
        let room = |id, beds, stays: Vec<Stay>| Room { id, beds, stays };
        // (rooms in fill order, household, expected)
        let table: Vec<(Vec<Room>, Option<i64>, Option<i64>)> = vec![
            // The first empty room, in order.
            (
                vec![
                    room(1, 2, vec![stranger]),
                    room(2, 1, vec![]),
                    room(3, 2, vec![]),
                ],
                None,
                Some(2),
            ),
            // Strangers never share, even with a free bed.
            (vec![room(1, 2, vec![stranger])], None, None),
            // A family member's room first, while it has a bed.
            (
                vec![room(1, 2, vec![]), room(2, 2, vec![family])],
                Some(7),
                Some(2),
            ),
            // … not when it is full: then an empty room.
            (
                vec![room(1, 1, vec![]), room(2, 1, vec![family])],
                Some(7),
                Some(1),
            ),
            // Another household's room is no family room.
            (
                vec![room(1, 2, vec![stranger]), room(2, 2, vec![])],
                Some(7),
                Some(2),
            ),
            // A bed freed by a check-out the day before is free.
            (vec![room(1, 1, vec![gone])], None, Some(1)),
            // Nothing free: none.
            (vec![room(1, 1, vec![stranger])], Some(7), None),
            (vec![], None, None),
        ];
        for (i, (rooms, household, expected)) in table.into_iter().enumerate() {
            assert_eq!(
                choose_room(&rooms, want, household, today),
                expected,
                "case {i}"
            );
        }
        // A stay that starts the day after another ends takes the same bed.
        let after = [room(1, 1, vec![stay(d(1), d(1), None, None)])];
        assert_eq!(choose_room(&after, want, None, today), Some(1));
    }

    #[test]
    fn stays_outside_the_observation_double_booked_or_over_capacity_are_refused() {
        let today = date!(2022 - 07 - 01);
        let d = |day: u8| Date::from_calendar_date(2022, time::Month::July, day).unwrap();
        let obs = p(d(1), d(10));
        let want = p(d(2), d(8));
        let other = stay(d(3), d(5), None, None);
        let field = |r: Result<(), CoreError>| r.err().map(|e| e.field);
        // (period, beds, room stays, person's stays, refused on)
        type Case = (Period, i64, Vec<Stay>, Vec<Stay>, Option<String>);
        let table: Vec<Case> = vec![
            (want, 1, vec![], vec![], None),
            (want, 2, vec![other], vec![], None),
            (p(d(1), d(10)), 1, vec![], vec![], None),
            (p(d(1), d(11)), 1, vec![], vec![], Some("from".into())),
            (
                p(date!(2022 - 06 - 30), d(5)),
                1,
                vec![],
                vec![],
                Some("from".into()),
            ),
            (want, 2, vec![], vec![other], Some("person_id".into())),
            // The person's own earlier stay, checked out the day before: no double booking.
            (
                want,
                1,
                vec![],
                vec![stay(d(1), d(9), Some(d(1)), None)],
                None,
            ),
            (want, 1, vec![other], vec![], Some("room_id".into())),
            (p(d(6), d(8)), 1, vec![other], vec![], None),
            (
                want,
                2,
                vec![other, stay(d(5), d(9), None, None)],
                vec![],
                Some("room_id".into()),
            ),
        ];
        for (i, (period, beds, room, person, expected)) in table.into_iter().enumerate() {
            assert_eq!(
                field(check_stay(period, obs, beds, &room, &person, today)),
                expected,
                "case {i}"
            );
        }
        assert_eq!(
            Period::new(d(5), d(4)).unwrap_err().field,
            "until",
            "a period ends on or after its start"
        );
    }
}
