//! Time as Linli stores and shows it: instants as Unix milliseconds (UTC), calendar dates as
//! `YYYY-MM-DD`, and display in China Standard Time (UTC+8, no daylight saving since 1991).

use time::format_description::well_known::Rfc3339;
use time::macros::{format_description, offset};
use time::{Date, OffsetDateTime, UtcOffset};

use crate::CoreError;

/// China Standard Time.
pub const CST: UtcOffset = offset!(+8);

/// Now, in Unix milliseconds.
pub fn now_ms() -> i64 {
    (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
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

/// Today's date in China.
pub fn today() -> Date {
    OffsetDateTime::now_utc().to_offset(CST).date()
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn dates_round_trip() {
        let d = parse_date("opened_on", "2020-01-25").unwrap();
        assert_eq!(format_date(d), "2020-01-25");
        assert!(parse_date("opened_on", "2020-02-30").is_err());
        assert!(parse_date("opened_on", "25/01/2020").is_err());
    }
}
