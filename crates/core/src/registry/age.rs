//! Ages from birth dates, for the key-group list's age filter (issue 19 item 5): who is at least
//! or at most so many whole years old on a given day, as bounds on the stored `YYYY-MM-DD` birth
//! date, so the database compares text and needs no date arithmetic of its own.

use time::{Date, Month};

use crate::CoreError;

/// The oldest age a filter may name.
pub const MAX_AGE: i32 = 150;

/// An age typed into a filter (`field` names it in the error): blank is none; otherwise whole
/// years from 0 to [`MAX_AGE`].
pub fn parse_age(field: &str, raw: &str) -> Result<Option<i32>, CoreError> {
    let t = raw.trim();
    if t.is_empty() {
        return Ok(None);
    }
    match t.parse::<i32>() {
        Ok(n) if (0..=MAX_AGE).contains(&n) => Ok(Some(n)),
        _ => Err(CoreError::invalid(
            field,
            format!("年龄应为 0 到 {MAX_AGE} 之间的整数（收到「{t}」）"),
        )),
    }
}

/// Checks an age range: the lower bound may not exceed the upper one (the error names `min_age`).
pub fn check_range(min: Option<i32>, max: Option<i32>) -> Result<(), CoreError> {
    match (min, max) {
        (Some(a), Some(b)) if a > b => Err(CoreError::invalid(
            "min_age",
            format!("起始年龄 {a} 大于截止年龄 {b}"),
        )),
        _ => Ok(()),
    }
}

/// The birth date of someone who turns `years` on `on`: the same day `years` years earlier; for
/// 29 February in a year that has none, the 28th (a person born on 29 February counts a year
/// older from 1 March in common years, so on the 28th they are still the younger age).
pub fn birthday_years_before(on: Date, years: i32) -> Date {
    let y = on.year() - years;
    Date::from_calendar_date(y, on.month(), on.day())
        .or_else(|_| Date::from_calendar_date(y, Month::February, 28))
        .unwrap_or(on)
}

/// Whole years of age on `on` of someone born on `born` (0 for a birth date after `on`).
pub fn age_on(born: Date, on: Date) -> i32 {
    let mut age = on.year() - born.year();
    if (on.month() as u8, on.day()) < (born.month() as u8, born.day()) {
        age -= 1;
    }
    age.max(0)
}

/// Bounds on the birth date for an age range on `on`, both inclusive and either open:
/// at least `min` years old is born on or before the first bound; at most `max` years old is
/// born after the day someone turning `max + 1` was born, i.e. on or after the second bound.
pub fn birth_bounds(on: Date, min: Option<i32>, max: Option<i32>) -> (Option<Date>, Option<Date>) {
    let latest = min.map(|m| birthday_years_before(on, m));
    let earliest = max.and_then(|m| birthday_years_before(on, m + 1).next_day());
    (earliest, latest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn someone_turning_sixty_today_is_sixty() {
        let on = date!(2026 - 12 - 07);
        assert_eq!(age_on(date!(1966 - 12 - 07), on), 60);
        assert_eq!(age_on(date!(1966 - 12 - 08), on), 59);
        assert_eq!(age_on(date!(1966 - 12 - 06), on), 60);
        let (earliest, latest) = birth_bounds(on, Some(60), Some(60));
        assert_eq!(latest, Some(date!(1966 - 12 - 07)));
        assert_eq!(earliest, Some(date!(1965 - 12 - 08)));
        // Every birth date in the bounds is 60 on the day, the days beside them are not.
        assert_eq!(age_on(date!(1965 - 12 - 08), on), 60);
        assert_eq!(age_on(date!(1965 - 12 - 07), on), 61);
    }

    #[test]
    fn typed_ages_are_checked() {
        assert_eq!(parse_age("min_age", " 60 ").unwrap(), Some(60));
        assert_eq!(parse_age("min_age", "").unwrap(), None);
        assert_eq!(parse_age("max_age", "abc").unwrap_err().field, "max_age");
        assert_eq!(parse_age("max_age", "-1").unwrap_err().field, "max_age");
        assert_eq!(parse_age("max_age", "151").unwrap_err().field, "max_age");
        assert_eq!(
            check_range(Some(70), Some(60)).unwrap_err().field,
            "min_age"
        );
        assert!(check_range(Some(60), Some(60)).is_ok());
    }

    #[test]
    fn leap_day_births_turn_a_year_older_on_the_first_of_march() {
        assert_eq!(age_on(date!(1964 - 02 - 29), date!(2025 - 02 - 28)), 60);
        assert_eq!(age_on(date!(1964 - 02 - 29), date!(2025 - 03 - 01)), 61);
        assert_eq!(
            birthday_years_before(date!(2024 - 02 - 29), 1),
            date!(2023 - 02 - 28)
        );
        assert_eq!(age_on(date!(2027 - 01 - 01), date!(2026 - 01 - 01)), 0);
    }
}
