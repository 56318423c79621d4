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

/// The address as the public (keyless) view shows it: at building level, never the unit or
/// the room. The text is cut right after the first numbered building marker (`3栋`, `3幢`,
/// `3座`, `12号楼`); with no building marker it is cut before the first unit marker
/// (`2单元`) or else before its trailing number (`501室`, `3-2-501`, `17号`: a room, a
/// `building-unit-room` triple, or a house number, each of which can single out a household).
/// `None` when nothing remains to show.
pub fn public_address(raw: &str) -> Option<String> {
    let s: String = raw.chars().filter(|c| !c.is_whitespace()).collect();
    let numbered = |c: char| c.is_ascii_alphanumeric() || c == '-';
    // The start of the run of number characters ending at byte `end`, if it has a digit.
    let run_start = |end: usize| -> Option<usize> {
        let start = s[..end]
            .char_indices()
            .rev()
            .take_while(|(_, c)| numbered(*c))
            .last()
            .map_or(end, |(i, _)| i);
        s[start..end]
            .bytes()
            .any(|b| b.is_ascii_digit())
            .then_some(start)
    };
    let building = s.char_indices().find_map(|(i, _)| {
        let marker = ["号楼", "栋", "幢", "座"]
            .into_iter()
            .find(|m| s[i..].starts_with(m))?;
        run_start(i).map(|_| i + marker.len())
    });
    let cut = match building {
        Some(end) => end,
        None => {
            let unit = s
                .char_indices()
                .filter(|(i, _)| s[*i..].starts_with("单元"))
                .find_map(|(i, _)| run_start(i));
            match unit {
                Some(start) => start,
                None => {
                    let trimmed = s.trim_end_matches(['室', '号', '户', '房']).len();
                    run_start(trimmed).unwrap_or(s.len())
                }
            }
        }
    };
    let out = s[..cut].trim_end_matches(['-', ',', '，', '、']).to_owned();
    (!out.is_empty()).then_some(out)
}

/// A coordinate as the public view shows it: rounded to 4 decimals (about 11 m), enough to
/// find the building on a map.
pub fn public_coordinate(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_addresses_stop_at_the_building() {
        for (raw, public) in [
            ("里布嘎社区3栋2单元501室", Some("里布嘎社区3栋")),
            ("3栋2单元", Some("3栋")),
            ("建设路8号3栋2单元501室", Some("建设路8号3栋")),
            ("里布嘎社区12号楼501", Some("里布嘎社区12号楼")),
            ("里布嘎社区 3 幢 501", Some("里布嘎社区3幢")),
            ("A座1203", Some("A座")),
            ("里布嘎社区2单元501室", Some("里布嘎社区")),
            ("里布嘎社区3-2-501", Some("里布嘎社区")),
            ("尼史村民小组17号", Some("尼史村民小组")),
            ("里布嘎社区501室", Some("里布嘎社区")),
            ("里布嘎社区卫生服务站门口", Some("里布嘎社区卫生服务站门口")),
            ("栋梁社区5栋", Some("栋梁社区5栋")),
            ("3-2-501", None),
            ("", None),
        ] {
            assert_eq!(public_address(raw).as_deref(), public, "{raw}");
        }
    }

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
