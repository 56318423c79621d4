//! Time as Linli stores and shows it: instants as Unix milliseconds (UTC), calendar dates as
//! `YYYY-MM-DD`, and display in China Standard Time (UTC+8, no daylight saving since 1991).
//!
//! A demo server may run *as of* a past day (`linli serve --as-of 2020-02-10`): [`set_as_of`],
//! called once at start-up before anything reads the clock, shifts [`now_ms`] and [`today`] by
//! whole days for the rest of the process, so every caller — pages, API, background jobs — sees
//! that day with the time of day still running. Nothing sets it afterwards and tests never do.

use std::sync::OnceLock;

use time::format_description::well_known::Rfc3339;
use time::macros::{format_description, offset};
use time::{Date, OffsetDateTime, UtcOffset};

use crate::CoreError;

/// China Standard Time.
pub const CST: UtcOffset = offset!(+8);

/// The as-of shift: the day the process was told to run as, and the whole-day offset added to
/// the real clock. Unset (no shift) unless `serve --as-of` set it at start-up.
static AS_OF: OnceLock<AsOf> = OnceLock::new();

#[derive(Debug, Clone, Copy)]
struct AsOf {
    day: Date,
    shift_ms: i64,
}

/// Now, in Unix milliseconds (shifted to the as-of day when one was set at start-up).
pub fn now_ms() -> i64 {
    real_now_ms() + AS_OF.get().map_or(0, |a| a.shift_ms)
}

/// Now by the machine's clock, whatever the as-of day.
pub fn real_now_ms() -> i64 {
    (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// The whole days (in milliseconds) that move the instant `real_ms` onto the date `day` in China
/// at the same time of day. Whole days keep the clock steady: it still runs forward at the real
/// pace, and a server left running past midnight moves on to the next day as a real one would.
pub fn shift_to(day: Date, real_ms: i64) -> i64 {
    day_start_ms(day) - day_start_ms(date_of(real_ms))
}

/// Runs the rest of the process as of `day` (China date), the time of day kept. Once only, at
/// start-up: a second call is refused, so the clock cannot jump while serving.
pub fn set_as_of(day: Date) -> Result<(), CoreError> {
    let a = AsOf {
        day,
        shift_ms: shift_to(day, real_now_ms()),
    };
    AS_OF
        .set(a)
        .map_err(|_| CoreError::invalid("as_of", "显示日期只能在启动时设置一次".to_owned()))
}

/// The day the process was started as of, if any (what the pages' banner says).
pub fn as_of() -> Option<Date> {
    AS_OF.get().map(|a| a.day)
}

/// An instant as RFC 3339 with the +08:00 offset, e.g. `2026-11-23T21:05:00.123+08:00`.
pub fn rfc3339(ms: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .map(|t| t.to_offset(CST))
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

/// An instant for people: `2026-11-23 21:05`, China Standard Time.
pub fn display(ms: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .map(|t| t.to_offset(CST))
        .ok()
        .and_then(|t| {
            t.format(format_description!("[year]-[month]-[day] [hour]:[minute]"))
                .ok()
        })
        .unwrap_or_default()
}

/// Today's date in China (the as-of day's, when one was set at start-up).
pub fn today() -> Date {
    date_of(now_ms())
}

/// Parses a calendar date `YYYY-MM-DD`.
pub fn parse_date(field: &str, raw: &str) -> Result<Date, CoreError> {
    Date::parse(raw.trim(), format_description!("[year]-[month]-[day]")).map_err(|_| {
        CoreError::invalid(field, format!("「{raw}」不是有效日期，格式应如 2020-01-25"))
    })
}

/// Parses an instant given as RFC 3339 (`2026-11-23T08:30:00+08:00`) into Unix milliseconds.
pub fn parse_instant(field: &str, raw: &str) -> Result<i64, CoreError> {
    OffsetDateTime::parse(raw.trim(), &Rfc3339)
        .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
        .map_err(|_| {
            CoreError::invalid(
                field,
                format!("「{raw}」不是有效时间，格式应如 2020-01-25T08:30:00+08:00"),
            )
        })
}

/// Parses a wall-clock time in China as a browser's `datetime-local` field sends it
/// (`2026-11-23T08:30`, seconds optional) into Unix milliseconds.
pub fn parse_local(field: &str, raw: &str) -> Result<i64, CoreError> {
    let raw_t = raw.trim();
    let parsed = time::PrimitiveDateTime::parse(
        raw_t,
        format_description!("[year]-[month]-[day]T[hour]:[minute]"),
    )
    .or_else(|_| {
        time::PrimitiveDateTime::parse(
            raw_t,
            format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]"),
        )
    });
    parsed
        .map(|t| t.assume_offset(CST).unix_timestamp() * 1000)
        .map_err(|_| {
            CoreError::invalid(
                field,
                format!("「{raw}」不是有效时间，格式应如 2020-01-25T08:30"),
            )
        })
}

/// A `datetime-local` field's value for an instant (China time, to the minute).
pub fn format_local(ms: i64) -> String {
    display(ms).replacen(' ', "T", 1)
}

/// The calendar date in China of an instant.
pub fn date_of(ms: i64) -> Date {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .map(|t| t.to_offset(CST).date())
        .unwrap_or_else(|_| today())
}

/// The half-open range `[start, end)` of Unix milliseconds that is `date` in China (the
/// inverse of [`date_of`]; China has kept UTC+8 all year since 1991, so every day is 24 h).
pub fn day_bounds(date: Date) -> (i64, i64) {
    let start = date.midnight().assume_offset(CST).unix_timestamp() * 1000;
    (start, start + 86_400_000)
}

/// Midnight of `date` in China, in Unix milliseconds.
pub fn day_start_ms(date: Date) -> i64 {
    day_bounds(date).0
}

pub fn format_date(d: Date) -> String {
    d.format(format_description!("[year]-[month]-[day]"))
        .unwrap_or_default()
}

/// The days a list is filtered to, as typed in its `from` and `to` fields (`YYYY-MM-DD`, China
/// time, both days included); either end may be left open.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DayRange {
    pub from: Option<Date>,
    pub to: Option<Date>,
}

impl DayRange {
    /// Parses the two fields (blank: open). A bad date or a `to` before `from` names its field.
    pub fn parse(from: &str, to: &str) -> Result<DayRange, CoreError> {
        let day = |field: &str, raw: &str| {
            Some(raw.trim())
                .filter(|r| !r.is_empty())
                .map(|r| parse_date(field, r))
                .transpose()
        };
        let range = DayRange {
            from: day("from", from)?,
            to: day("to", to)?,
        };
        if let (Some(f), Some(t)) = (range.from, range.to) {
            if t < f {
                return Err(CoreError::invalid(
                    "to",
                    format!(
                        "结束日期 {} 早于开始日期 {}",
                        format_date(t),
                        format_date(f)
                    ),
                ));
            }
        }
        Ok(range)
    }

    /// The half-open range of Unix milliseconds `[start, end)` the days cover, each end `None`
    /// when open.
    pub fn bounds(&self) -> (Option<i64>, Option<i64>) {
        (
            self.from.map(day_start_ms),
            self.to.map(|d| day_bounds(d).1),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_ranges_cover_whole_china_days_and_refuse_backwards() {
        let r = DayRange::parse("2020-02-03", " 2020-02-04 ").unwrap();
        let (from, before) = r.bounds();
        assert_eq!(from, Some(parse_local("at", "2020-02-03T00:00").unwrap()));
        assert_eq!(before, Some(parse_local("at", "2020-02-05T00:00").unwrap()));
        assert_eq!(DayRange::parse("", "").unwrap().bounds(), (None, None));
        let open_end = DayRange::parse("2020-02-03", "").unwrap();
        assert_eq!(open_end.bounds().1, None);
        assert_eq!(DayRange::parse("2020-02-30", "").unwrap_err().field, "from");
        let backwards = DayRange::parse("2020-02-04", "2020-02-03").unwrap_err();
        assert_eq!(backwards.field, "to");
        assert!(
            backwards.message.contains("2020-02-03"),
            "{}",
            backwards.message
        );
    }

    #[test]
    fn local_times_are_china_time_and_round_trip() {
        let ms = parse_local("at", "2020-02-03T08:30").unwrap();
        assert_eq!(rfc3339(ms), "2020-02-03T08:30:00+08:00");
        assert_eq!(
            parse_local("at", "2020-02-03T08:30:15").unwrap(),
            ms + 15_000
        );
        assert_eq!(format_local(ms), "2020-02-03T08:30");
        let e = parse_local("at", "2020-02-30T08:30").unwrap_err();
        assert_eq!(e.field, "at");
    }

    #[test]
    fn instants_parse_with_their_offset_and_fall_on_china_dates() {
        let ms = parse_instant("at", "2022-07-02T23:30:00+08:00").unwrap();
        assert_eq!(ms, parse_instant("at", "2022-07-02T15:30:00Z").unwrap());
        assert_eq!(format_date(date_of(ms)), "2022-07-02");
        let late = parse_instant("at", "2022-07-02T16:30:00Z").unwrap();
        assert_eq!(
            format_date(date_of(late)),
            "2022-07-03",
            "00:30 in China is the next day"
        );
        assert_eq!(parse_instant("at", "yesterday").unwrap_err().field, "at");
    }

    #[test]
    fn instants_show_in_china_standard_time() {
        // 2020-01-25T00:00:00Z is 08:00 in Beijing.
        assert_eq!(rfc3339(1_579_910_400_000), "2020-01-25T08:00:00+08:00");
        assert_eq!(display(1_579_910_400_000), "2020-01-25 08:00");
    }

    #[test]
    fn an_as_of_shift_is_whole_days_and_keeps_the_time_of_day() {
        let real = parse_instant("now", "2026-12-07T19:05:30.250+08:00").unwrap();
        let day = parse_date("as_of", "2020-02-10").unwrap();
        let shift = shift_to(day, real);
        assert_eq!(shift % 86_400_000, 0, "whole days");
        assert_eq!(rfc3339(real + shift), "2020-02-10T19:05:30.25+08:00");
        assert_eq!(date_of(real + shift), day);
        // An hour later, and past midnight, the shifted clock runs on like the real one.
        assert_eq!(display(real + 3_600_000 + shift), "2020-02-10 20:05");
        assert_eq!(
            format_date(date_of(real + 5 * 3_600_000 + shift)),
            "2020-02-11"
        );
    }

    #[test]
    fn an_as_of_shift_counts_china_dates_not_utc_ones() {
        // 01:00 in Beijing is still the previous day in UTC: the shift is by the China date.
        let real = parse_instant("now", "2026-12-08T01:00:00+08:00").unwrap();
        let day = parse_date("as_of", "2020-02-10").unwrap();
        assert_eq!(
            rfc3339(real + shift_to(day, real)),
            "2020-02-10T01:00:00+08:00"
        );
        let late = parse_instant("now", "2026-12-07T23:59:59+08:00").unwrap();
        assert_eq!(display(late + shift_to(day, late)), "2020-02-10 23:59");
        // A day after the real one shifts forward; the same day does not shift.
        let ahead = parse_date("as_of", "2026-12-09").unwrap();
        assert_eq!(shift_to(ahead, late), 2 * 86_400_000);
        assert_eq!(shift_to(date_of(late), late), 0);
    }

    #[test]
    fn without_an_as_of_day_the_clock_is_the_real_one() {
        // No test sets the process-wide day, so every other test runs on the real clock.
        assert_eq!(as_of(), None);
        let before = real_now_ms();
        let now = now_ms();
        assert!(now >= before && now - before < 60_000);
        let (d0, t, d1) = (date_of(real_now_ms()), today(), date_of(real_now_ms()));
        assert!(t == d0 || t == d1);
    }

    #[test]
    fn dates_round_trip() {
        let d = parse_date("opened_on", "2020-01-25").unwrap();
        assert_eq!(format_date(d), "2020-01-25");
        assert!(parse_date("opened_on", "2020-02-30").is_err());
        assert!(parse_date("opened_on", "25/01/2020").is_err());
    }
}
