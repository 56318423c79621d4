//! The Open311 GeoReport v2 list parameters (`service_code=a,b`, `service_request_id=1,2`):
//! comma-separated values, read once each and bounded, so that one request cannot ask for the
//! same thing five thousand times.

/// The most distinct values one list parameter may carry: more categories than a community
/// has, and more tracking numbers than a client pages through at once.
pub const MAX_LIST_VALUES: usize = 50;

/// The distinct, trimmed, non-empty values of a comma-separated parameter, in the order first
/// given; an error (the message of a 400) when there are more than [`MAX_LIST_VALUES`].
pub fn list_values(field: &str, raw: Option<&str>) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for v in raw.unwrap_or_default().split(',').map(str::trim) {
        if v.is_empty() || out.iter().any(|seen| seen == v) {
            continue;
        }
        if out.len() == MAX_LIST_VALUES {
            return Err(format!(
                "{field} lists more than {MAX_LIST_VALUES} distinct values"
            ));
        }
        out.push(v.to_owned());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_read_once_in_order() {
        assert_eq!(
            list_values("service_code", Some(" water, general,water,,general ")).unwrap(),
            ["water", "general"]
        );
        assert!(list_values("service_code", None).unwrap().is_empty());
    }

    #[test]
    fn five_thousand_repeats_are_one_value_and_too_many_distinct_ones_an_error() {
        let repeated = vec!["general"; 5000].join(",");
        assert_eq!(
            list_values("service_code", Some(&repeated)).unwrap(),
            ["general"]
        );
        let many: Vec<String> = (0..=MAX_LIST_VALUES).map(|i| format!("c{i}")).collect();
        let err = list_values("service_code", Some(&many.join(","))).unwrap_err();
        assert_eq!(err, "service_code lists more than 50 distinct values");
        let enough = &many[..MAX_LIST_VALUES];
        assert_eq!(
            list_values("service_code", Some(&enough.join(",")))
                .unwrap()
                .len(),
            MAX_LIST_VALUES
        );
    }
}
