//! One person, one observation: how a new plan (an arrival's, or the strictest of a person's
//! contact links) meets the observation the person may already be under. The store's `observe`
//! applies [`change`], and the contact links pick their plan by [`Weight`].

use time::Date;

use super::policy::{Classification, Measure};

/// Where a plan stands in the order plans compete in: the strictest measure of its stages,
/// then the later last day, then more days (the order in which `policy::classify` ranks the
/// rules of one policy). Compared field by field, in that order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Weight {
    strictest: u8,
    until: Date,
    days: u16,
}

impl Weight {
    /// A classification's plan.
    pub fn of_plan(c: &Classification) -> Weight {
        let strictest = c
            .stages
            .iter()
            .map(|s| s.measure.severity())
            .max()
            .unwrap_or(c.measure.severity());
        Weight {
            strictest,
            until: c.until,
            days: c.days_total,
        }
    }

    /// An open observation's: the strictest measure of its stages and its period.
    pub fn of_period(strictest: u8, start: Date, until: Date) -> Weight {
        let days = (until - start).whole_days() + 1;
        Weight {
            strictest,
            until,
            days: u16::try_from(days.max(0)).unwrap_or(u16::MAX),
        }
    }
}

/// The open observation a new plan meets.
#[derive(Debug, Clone, Copy)]
pub struct Open {
    pub weight: Weight,
    /// An arrival's plan opened or last upgraded it (else the person's contact links did).
    pub by_arrival: bool,
}

/// What becomes of a person's observation when a new plan comes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Nothing open and no measure: the person is not observed.
    Unobserved,
    /// Nothing open: an observation opens with the plan.
    Open,
    /// The open observation stays as it is (the new plan weighs no more, or has no measure).
    Keep,
    /// The links' own observation meets the links' plan: it follows the plan wholly (measure,
    /// stages, dates, check-ins, policy), lighter or not.
    Follow,
    /// Upgraded in place to the heavier plan. It keeps its first day, so the days already
    /// observed and their check-ins stay inside the period, and its own last day when that is
    /// later: a stricter plan never shortens what the person already owes.
    Upgrade,
}

/// The one rule: what a plan with `measure` and `weight` (an arrival's when `by_arrival`, else
/// the links') does to the person's `open` observation.
pub fn change(open: Option<Open>, measure: Measure, weight: Weight, by_arrival: bool) -> Change {
    let Some(open) = open else {
        return if measure == Measure::None {
            Change::Unobserved
        } else {
            Change::Open
        };
    };
    let links_own_it = !by_arrival && !open.by_arrival;
    if measure == Measure::None || (!links_own_it && open.weight >= weight) {
        Change::Keep
    } else if links_own_it {
        Change::Follow
    } else {
        Change::Upgrade
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn w(strictest: u8, until: Date, days: u16) -> Weight {
        Weight {
            strictest,
            until,
            days,
        }
    }

    #[test]
    fn weights_order_by_strictness_then_last_day_then_length() {
        let d = date!(2020 - 02 - 10);
        let later = date!(2020 - 02 - 11);
        assert!(w(3, d, 1) > w(2, later, 30)); // centralised beats home, whatever the dates
        assert!(w(2, later, 1) > w(2, d, 30)); // then the later last day
        assert!(w(2, d, 14) > w(2, d, 7)); // then more days
        assert_eq!(
            Weight::of_period(2, date!(2020 - 01 - 28), d),
            w(2, d, 14),
            "a period counts both of its ends"
        );
    }

    #[test]
    fn a_plan_meets_the_open_observation_as_the_rule_says() {
        use Change::*;
        use Measure::{CentralizedQuarantine, HealthMonitoring, HomeQuarantine};
        let no_measure = Measure::None;
        let nothing = Option::None;
        let d = date!(2020 - 02 - 10);
        let light = w(1, d, 7);
        let heavy = w(3, d, 14);
        let open = |weight, by_arrival| Some(super::Open { weight, by_arrival });
        // (open observation, plan measure, plan weight, plan by an arrival, expected)
        let cases = [
            (nothing, no_measure, light, true, Unobserved),
            (nothing, HealthMonitoring, light, true, Change::Open),
            (nothing, HomeQuarantine, light, false, Change::Open),
            // A plan without a measure never touches an open observation.
            (open(light, true), no_measure, heavy, true, Keep),
            (open(light, false), no_measure, heavy, false, Keep),
            // An arrival's plan, or an arrival's observation: heavier upgrades, else kept.
            (
                open(light, true),
                CentralizedQuarantine,
                heavy,
                true,
                Upgrade,
            ),
            (open(heavy, true), HealthMonitoring, light, true, Keep),
            (open(heavy, true), CentralizedQuarantine, heavy, true, Keep), // equal: kept
            (
                open(light, true),
                CentralizedQuarantine,
                heavy,
                false,
                Upgrade,
            ),
            (open(heavy, true), HealthMonitoring, light, false, Keep),
            (
                open(light, false),
                CentralizedQuarantine,
                heavy,
                true,
                Upgrade,
            ),
            (open(heavy, false), HealthMonitoring, light, true, Keep),
            // The links' plan on the links' observation: followed, lighter or not.
            (open(heavy, false), HealthMonitoring, light, false, Follow),
            (
                open(light, false),
                CentralizedQuarantine,
                heavy,
                false,
                Follow,
            ),
        ];
        for (i, (open, measure, weight, by_arrival, expected)) in cases.into_iter().enumerate() {
            assert_eq!(
                change(open, measure, weight, by_arrival),
                expected,
                "case {i}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Following an observation day by day: what the list of people under observation shows.

/// Day `n` of `m` of an observation running from `start` to `until` (both included) on `on`:
/// the start is day 1. Before the start it is day 1, after the end (a release not yet
/// recorded) the last day, so the list never shows "day 0" or "day 15 of 14".
pub fn day_of(start: Date, until: Date, on: Date) -> (i64, i64) {
    let days = ((until - start).whole_days() + 1).max(1);
    let day = ((on - start).whole_days() + 1).clamp(1, days);
    (day, days)
}

/// The check-ins due on `on`: the day's quota within the period, none outside it (a check-in
/// outside the period is refused, so none can be owed).
pub fn checkins_due_on(per_day: u8, start: Date, until: Date, on: Date) -> i64 {
    if (start..=until).contains(&on) {
        i64::from(per_day)
    } else {
        0
    }
}

/// Whether a person still owes check-ins on a day: fewer than the day's due came in. Nothing
/// due (a quota of 0, or a day outside the period) owes nothing.
pub fn owes_checkins(done: i64, due: i64) -> bool {
    done < due
}

crate::labelled! {
    /// Who entered a check-in: the person's own link, a grid worker's round on their behalf (代录),
    /// or another system through the API. Stored with each check-in and shown on the timeline.
    pub enum CheckinChannel: "channel", FromStr {
        #[strum(serialize = "api", props(zh = "接口录入"))]
        Api,
        #[strum(serialize = "round", props(zh = "网格员代录"))]
        Round,
        #[strum(serialize = "self_report", props(zh = "本人打卡"))]
        SelfReport,
    }
}

/// The symptoms the forms (declaration, check-in) offer as boxes; free text adds others. Any
/// of them raises a fever alert, as a temperature of 37.3 °C or more does.
pub const SYMPTOM_CHOICES: [&str; 6] = ["发热", "咳嗽", "乏力", "咽痛", "腹泻", "嗅觉味觉减退"];

#[cfg(test)]
mod following_tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn days_count_from_one_and_stay_within_the_period() {
        let (start, until) = (date!(2020 - 02 - 01), date!(2020 - 02 - 14));
        let table = [
            (date!(2020 - 01 - 31), (1, 14)),
            (date!(2020 - 02 - 01), (1, 14)),
            (date!(2020 - 02 - 10), (10, 14)),
            (date!(2020 - 02 - 14), (14, 14)),
            (date!(2020 - 02 - 20), (14, 14)),
        ];
        for (on, expected) in table {
            assert_eq!(day_of(start, until, on), expected, "{on}");
        }
        assert_eq!(day_of(start, start, start), (1, 1), "a one-day period");
    }

    #[test]
    fn check_ins_are_owed_within_the_period_until_the_quota_is_met() {
        let (start, until) = (date!(2020 - 02 - 01), date!(2020 - 02 - 14));
        assert_eq!(checkins_due_on(2, start, until, date!(2020 - 02 - 01)), 2);
        assert_eq!(checkins_due_on(2, start, until, date!(2020 - 02 - 14)), 2);
        assert_eq!(checkins_due_on(2, start, until, date!(2020 - 02 - 15)), 0);
        assert_eq!(checkins_due_on(2, start, until, date!(2020 - 01 - 31)), 0);
        assert!(owes_checkins(0, 2));
        assert!(owes_checkins(1, 2));
        assert!(!owes_checkins(2, 2));
        assert!(!owes_checkins(3, 2));
        assert!(!owes_checkins(0, 0), "nothing due, nothing owed");
    }
}
