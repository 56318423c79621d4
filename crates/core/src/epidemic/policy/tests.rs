//! Table-driven tests of the policy module: each preset over a table of cases, date edges,
//! policy selection, JSON round trips, validation errors, explanations and the what-if.

use std::collections::HashMap;

use time::macros::date;
use time::Date;

use super::*;

/// A community in Kunming's Wuhua district, Yunnan (the source reports' province).
const KUNMING: &str = "530102001001";

fn code(s: &str) -> DivisionCode {
    DivisionCode::parse(s).unwrap()
}

fn preset(key: &str) -> PolicyVersion {
    presets().into_iter().find(|p| p.key() == key).unwrap()
}

fn area(code_: &str, level: RiskLevel, from: Date, to: Option<Date>) -> RiskArea {
    RiskArea::new(code(code_), None, level, from, to).unwrap()
}

fn gazetteer(c: &str) -> Option<String> {
    let names: HashMap<&str, &str> = [
        ("420000", "湖北省"),
        ("420100", "湖北省武汉市"),
        ("420111", "湖北省武汉市洪山区"),
        ("530102", "云南省昆明市五华区"),
    ]
    .into_iter()
    .collect();
    names.get(c).map(|n| (*n).to_owned())
}

/// One case of a table: facts in, expected outcome out.
struct Case {
    what: &'static str,
    origin: &'static str,
    arrived_on: Date,
    temperature: Option<&'static str>,
    symptoms: &'static [&'static str],
    contact: Option<(ContactKind, Date)>,
    measure: Measure,
    days: u16,
    until: Option<Date>,
    rule: Option<usize>,
    fever_alert: bool,
    /// Phrases the explanation must contain.
    says: &'static [&'static str],
}

/// Defaults for a plain arrival with no expected measure.
const fn arrival(what: &'static str, origin: &'static str, arrived_on: Date) -> Case {
    Case {
        what,
        origin,
        arrived_on,
        temperature: None,
        symptoms: &[],
        contact: None,
        measure: Measure::None,
        days: 0,
        until: None,
        rule: None,
        fever_alert: false,
        says: &[],
    }
}

impl Case {
    const fn expect(mut self, measure: Measure, days: u16, until: Date, rule: usize) -> Case {
        self.measure = measure;
        self.days = days;
        self.until = Some(until);
        self.rule = Some(rule);
        self
    }

    /// Expect no measure, by rule `rule` (or none matched).
    const fn none_by(mut self, rule: Option<usize>) -> Case {
        self.rule = rule;
        self
    }

    const fn temp(mut self, t: &'static str) -> Case {
        self.temperature = Some(t);
        self
    }

    const fn symptoms(mut self, s: &'static [&'static str]) -> Case {
        self.symptoms = s;
        self
    }

    const fn contact(mut self, kind: ContactKind, last: Date) -> Case {
        self.contact = Some((kind, last));
        self
    }

    const fn alert(mut self) -> Case {
        self.fever_alert = true;
        self
    }

    const fn says(mut self, phrases: &'static [&'static str]) -> Case {
        self.says = phrases;
        self
    }

    fn facts(&self) -> Facts {
        Facts {
            origin_code: code(self.origin),
            arrived_on: self.arrived_on,
            symptoms: self.symptoms.iter().map(|s| (*s).to_owned()).collect(),
            temperature: self.temperature.map(|t| Temperature::parse(t).unwrap()),
            contact: self.contact.map(|(kind, last_contact_on)| ContactFact {
                kind,
                last_contact_on,
            }),
        }
    }
}

fn run_table(policy: &PolicyVersion, areas: &[RiskArea], community: &str, cases: &[Case]) {
    for case in cases {
        let c = classify(policy, &case.facts(), areas, &code(community), &no_names).unwrap();
        let ctx = format!("{} / {}: {}", policy.key(), case.what, c.explanation);
        assert_eq!(c.measure, case.measure, "measure — {ctx}");
        assert_eq!(c.days_total, case.days, "days — {ctx}");
        assert_eq!(c.rule_index, case.rule, "rule — {ctx}");
        assert_eq!(c.fever_alert, case.fever_alert, "fever alert — {ctx}");
        if let Some(until) = case.until {
            assert_eq!(c.until, until, "until — {ctx}");
        }
        assert_eq!(c.policy_key, policy.key());
        assert_eq!(c.policy_version, policy.version());
        // The day-counting convention holds for every outcome.
        assert_eq!(
            (c.until - c.start).whole_days() + 1,
            i64::from(c.days_total),
            "until = start + days − 1 — {ctx}"
        );
        assert!(c.explanation.contains(policy.name()), "{ctx}");
        for phrase in case.says {
            assert!(c.explanation.contains(phrase), "says 「{phrase}」 — {ctx}");
        }
        // A contact in the community (not from elsewhere) is never told of an arrival.
        if case.contact.is_some() && case.origin == community {
            assert!(!c.explanation.contains("抵达"), "no arrival — {ctx}");
        }
    }
}

#[test]
fn division_codes_parse_and_cover() {
    for (raw, significant) in [
        ("420000", "42"),
        ("420100", "4201"),
        ("420111", "420111"),
        (" 420111 ", "420111"),
        ("429004", "429004"),
        ("420111001", "420111001"),
        ("420111000", "420111"),
        ("420111001000", "420111001"),
        ("420111001002", "420111001002"),
        ("420100000000", "4201"),
        ("110101", "110101"),
    ] {
        assert_eq!(code(raw).significant(), significant, "{raw}");
    }
    for bad in [
        "",
        "42",
        "4201",
        "4201110",
        "42011a",
        "990000",
        "000000",
        "420111-001",
    ] {
        let err = DivisionCode::parse_field("origin_code", bad).unwrap_err();
        assert_eq!(err.field, "origin_code", "{bad}");
    }
    let hubei = code("420000");
    let wuhan = code("420100");
    let hongshan = code("420111");
    let street = code("420111001000");
    assert!(hubei.covers(&wuhan) && hubei.covers(&hongshan) && hubei.covers(&street));
    assert!(wuhan.covers(&hongshan) && hongshan.covers(&street) && hongshan.covers(&hongshan));
    // A coarser origin is not inside a finer area; neighbours do not cover each other.
    assert!(!hongshan.covers(&wuhan));
    assert!(!hongshan.covers(&code("420112")));
    assert!(!code("420000").covers(&code("430100")));
    // Xiantao (429004) is in Hubei though not in a prefecture-level city.
    assert!(hubei.covers(&code("429004")));
    assert_eq!(street.province(), "42");
    assert_eq!(street.city(), "4201");
}

#[test]
fn temperatures_parse_in_tenths() {
    for (raw, tenths) in [
        ("37.3", 373),
        ("37", 370),
        (" 36.5 ", 365),
        ("37.3℃", 373),
        ("37.3°C", 373),
        ("38度", 380),
        ("３７．３", 373),
        ("37.30", 373),
        ("34.0", 340),
        ("43", 430),
    ] {
        assert_eq!(Temperature::parse(raw).unwrap().tenths(), tenths, "{raw}");
    }
    for bad in [
        "", "abc", "37.", ".5", "37.25", "33.9", "43.1", "-37", "3 7",
    ] {
        let err = Temperature::parse(bad).unwrap_err();
        assert_eq!(err.field, "temperature", "{bad}");
    }
    assert_eq!(Temperature::from_celsius(37.3).unwrap().tenths(), 373);
    assert_eq!(
        Temperature::from_celsius(f64::from(37.3_f32))
            .unwrap()
            .tenths(),
        373
    );
    assert!(Temperature::from_celsius(37.25).is_err());
    assert!(Temperature::from_celsius(f64::NAN).is_err());
    assert!(Temperature::parse("37.3").unwrap().is_fever());
    assert!(!Temperature::parse("37.2").unwrap().is_fever());
    assert_eq!(Temperature::parse("37.3").unwrap().to_string(), "37.3℃");
    // JSON: a number out, a number or a string in.
    let t: Temperature = serde_json::from_str("37.3").unwrap();
    assert_eq!(serde_json::to_string(&t).unwrap(), "37.3");
    assert_eq!(
        serde_json::from_str::<Temperature>("\"36.8\"")
            .unwrap()
            .tenths(),
        368
    );
    assert_eq!(
        serde_json::from_str::<Temperature>("37").unwrap().tenths(),
        370
    );
    assert!(serde_json::from_str::<Temperature>("45.0").is_err());
}

#[test]
fn risk_areas_check_their_period() {
    let a = area("420111", RiskLevel::High, date!(2022 - 07 - 01), None);
    assert!(a.in_force_between(date!(2030 - 01 - 01), date!(2030 - 01 - 01)));
    let err = RiskArea::new(
        code("420111"),
        None,
        RiskLevel::High,
        date!(2022 - 07 - 10),
        Some(date!(2022 - 07 - 09)),
    )
    .unwrap_err();
    assert_eq!(err.field, "to");
    let json = r#"{"division_code":"420111","level":"high","from":"2022-07-01","to":"2022-07-10"}"#;
    let parsed: RiskArea = serde_json::from_str(json).unwrap();
    assert_eq!(parsed.to(), Some(date!(2022 - 07 - 10)));
    assert_eq!(serde_json::to_string(&parsed).unwrap(), json);
    for bad in [
        r#"{"division_code":"4201","level":"high","from":"2022-07-01"}"#,
        r#"{"division_code":"420111","level":"severe","from":"2022-07-01"}"#,
        r#"{"division_code":"420111","level":"high","from":"2022-07-10","to":"2022-07-01"}"#,
        r#"{"division_code":"420111","level":"high","from":"2022-02-30"}"#,
    ] {
        assert!(serde_json::from_str::<RiskArea>(bad).is_err(), "{bad}");
    }
    assert_eq!("高风险".parse::<RiskLevel>().unwrap(), RiskLevel::High);
    assert_eq!(
        "密接的密接".parse::<ContactKind>().unwrap(),
        ContactKind::SecondaryContact
    );
    assert_eq!(
        "集中隔离".parse::<Measure>().unwrap(),
        Measure::CentralizedQuarantine
    );
    assert_eq!(
        "quarantine".parse::<Measure>().unwrap_err().field,
        "measure"
    );
}

#[test]
fn the_four_presets_validate_and_are_dated() {
    let drafts = preset_drafts();
    for d in &drafts {
        d.clone().validate().unwrap();
    }
    let all = presets();
    assert_eq!(all.len(), drafts.len());
    let dated: Vec<(&str, Date)> = all.iter().map(|p| (p.key(), p.effective_from())).collect();
    assert_eq!(
        dated,
        [
            ("community-2020", date!(2020 - 01 - 20)),
            ("ninth-edition", date!(2022 - 06 - 28)),
            ("twenty-measures", date!(2022 - 11 - 11)),
            ("class-b", date!(2023 - 01 - 08)),
        ]
    );
    assert!(all.iter().all(|p| p.version() == 1));
}

#[test]
fn preset_2020_by_origin_contact_and_fever() {
    use ContactKind::*;
    use Measure::{CentralizedQuarantine as C, HomeQuarantine as H};
    let p = preset("community-2020");
    let day = date!(2020 - 01 - 25);
    let cases = [
        arrival("Wuhan, Hubei", "420111", day).expect(C, 14, date!(2020 - 02 - 07), 0),
        arrival("Hubei, province only", "420000", day).expect(C, 14, date!(2020 - 02 - 07), 0),
        arrival("Xiantao, Hubei", "429004", day).expect(C, 14, date!(2020 - 02 - 07), 0),
        arrival("a Wuhan community", "420111001001", day).expect(C, 14, date!(2020 - 02 - 07), 0),
        arrival("Guangzhou, other province", "440106", day).expect(H, 14, date!(2020 - 02 - 07), 1),
        arrival("Beijing, other province", "110105", day).expect(H, 14, date!(2020 - 02 - 07), 1),
        arrival("Hunan, next to Hubei", "430100", day).expect(H, 14, date!(2020 - 02 - 07), 1),
        arrival("Qujing, same province", "530302", day).expect(H, 14, date!(2020 - 02 - 07), 2),
        arrival("Dali, same province", "532901", day).expect(H, 14, date!(2020 - 02 - 07), 2),
        arrival("Kunming Panlong, same city", "530103", day).none_by(None),
        arrival("own district", "530102", day).none_by(None),
        arrival("own community", KUNMING, day).none_by(None),
        arrival("same city, 37.2 is no fever", "530103", day)
            .temp("37.2")
            .none_by(None),
        arrival("same city, symptom 「无」 is none", "530103", day)
            .symptoms(&["无", " "])
            .none_by(None),
        // Fever: an alert and a referral beside the measure, never a measure of its own.
        arrival("same city, 37.3", "530103", day)
            .temp("37.3")
            .none_by(None)
            .alert()
            .says(&["没有规定隔离的条款：无需管控。", "按第 5 条"]),
        arrival("same city, cough", "530103", day)
            .symptoms(&["咳嗽"])
            .none_by(None)
            .alert(),
        arrival(
            "other province, fever: 14 days of home quarantine kept, alert added",
            "440106",
            day,
        )
        .temp("38.2")
        .expect(H, 14, date!(2020 - 02 - 07), 1)
        .alert()
        .says(&["居家隔离 14 天", "按第 5 条"]),
        arrival(
            "Hubei with fever: 14 days kept, alert raised",
            "420111",
            day,
        )
        .temp("38.0")
        .expect(C, 14, date!(2020 - 02 - 07), 0)
        .alert(),
        // Close contacts count from the last contact.
        arrival("local close contact", KUNMING, day)
            .contact(CloseContact, date!(2020 - 01 - 22))
            .expect(C, 14, date!(2020 - 02 - 04), 3),
        arrival(
            "close contact from Hubei: the later end wins",
            "420111",
            day,
        )
        .contact(CloseContact, date!(2020 - 01 - 22))
        .expect(C, 14, date!(2020 - 02 - 07), 0),
        arrival("contact of a contact: not in the 2020 rules", KUNMING, day)
            .contact(SecondaryContact, date!(2020 - 01 - 22))
            .none_by(None)
            .says(&[
                "您是次密接，与密切接触者最后接触于 2020-01-22。",
                "（2020-01-20 起施行），没有适用于次密接的条款：无需管控。",
            ]),
        arrival(
            "contact of a contact with a cough: the fever rule",
            KUNMING,
            day,
        )
        .contact(SecondaryContact, date!(2020 - 01 - 22))
        .symptoms(&["咳嗽"])
        .none_by(None)
        .alert()
        .says(&[
            "您是次密接，与密切接触者最后接触于 2020-01-22。",
            "没有适用于次密接的条款：无需管控。另：有症状：咳嗽，按第 5 条（",
        ]),
    ];
    run_table(&p, &[], KUNMING, &cases);

    // In a Hubei community, an arrival from elsewhere in Hubei is still "from Hubei".
    let wuhan_community = "420102001001";
    let cases = [
        arrival("Hongshan to Jiang'an", "420111", day).expect(C, 14, date!(2020 - 02 - 07), 0),
        arrival("Kunming to Wuhan", "530102", day).expect(H, 14, date!(2020 - 02 - 07), 1),
    ];
    run_table(&p, &[], wuhan_community, &cases);
}

/// Risk areas used for the 9th edition table (arrivals on 2022-07-02).
fn areas_mid_2022() -> Vec<RiskArea> {
    vec![
        area("420111", RiskLevel::High, date!(2022 - 06 - 30), None),
        area(
            "310115",
            RiskLevel::Medium,
            date!(2022 - 06 - 25),
            Some(date!(2022 - 07 - 05)),
        ),
        area("310101", RiskLevel::Low, date!(2022 - 06 - 20), None),
        // A high-risk street inside a low-risk district.
        area("440106", RiskLevel::Low, date!(2022 - 06 - 20), None),
        area("440106001", RiskLevel::High, date!(2022 - 06 - 28), None),
        // Guangzhou's Haizhu was high until 06-26: 6 days before 07-02, inside the window.
        area(
            "440105",
            RiskLevel::High,
            date!(2022 - 06 - 10),
            Some(date!(2022 - 06 - 26)),
        ),
        // Beijing's Chaoyang was high until 06-24: 8 days before, outside the window.
        area(
            "110105",
            RiskLevel::High,
            date!(2022 - 06 - 10),
            Some(date!(2022 - 06 - 24)),
        ),
    ]
}

#[test]
fn ninth_edition_by_risk_level_and_contact() {
    use ContactKind::*;
    use Measure::{CentralizedQuarantine as C, HealthMonitoring as M, HomeQuarantine as H};
    let p = preset("ninth-edition");
    let day = date!(2022 - 07 - 02);
    let cases = [
        arrival("high-risk district", "420111", day).expect(C, 7, date!(2022 - 07 - 08), 2),
        arrival("street in the high-risk district", "420111001", day).expect(
            C,
            7,
            date!(2022 - 07 - 08),
            2,
        ),
        arrival("community in it", "420111001001", day).expect(C, 7, date!(2022 - 07 - 08), 2),
        arrival("Wuhan only: not proven inside Hongshan", "420100", day).none_by(None),
        arrival("medium-risk district", "310115", day).expect(H, 7, date!(2022 - 07 - 08), 3),
        arrival("low-risk district", "310101", day).expect(M, 3, date!(2022 - 07 - 04), 4),
        arrival("high street inside a low district", "440106001002", day).expect(
            C,
            7,
            date!(2022 - 07 - 08),
            2,
        ),
        arrival("low district, another street", "440106002", day).expect(
            M,
            3,
            date!(2022 - 07 - 04),
            4,
        ),
        arrival("high until 6 days ago: 7-day look-back", "440105", day).expect(
            C,
            7,
            date!(2022 - 07 - 08),
            2,
        ),
        arrival("high until 8 days ago: outside", "110105", day).none_by(None),
        arrival("no risk area", "530302", day).none_by(None),
        arrival("close contact", KUNMING, day)
            .contact(CloseContact, date!(2022 - 07 - 01))
            .expect(C, 10, date!(2022 - 07 - 10), 0),
        arrival("contact of a close contact", KUNMING, day)
            .contact(SecondaryContact, date!(2022 - 07 - 01))
            .expect(H, 7, date!(2022 - 07 - 07), 1),
        arrival("close contact from a low area", "310101", day)
            .contact(CloseContact, date!(2022 - 07 - 01))
            .expect(C, 10, date!(2022 - 07 - 10), 0),
        arrival(
            "secondary contact from a high area: centralised beats home",
            "420111",
            day,
        )
        .contact(SecondaryContact, date!(2022 - 07 - 01))
        .expect(C, 7, date!(2022 - 07 - 08), 2),
        // POLICIES.md lists no fever row for the 9th edition: a fever at the door is referred
        // to a clinic all the same.
        arrival("fever, no fever row in this edition", "530302", day)
            .temp("38.5")
            .none_by(None)
            .alert()
            .says(&[
                "另：筛查时体温 38.5℃（37.3℃ 及以上为发热），已发出发热预警，请立即送发热门诊。",
            ]),
    ];
    run_table(&p, &areas_mid_2022(), KUNMING, &cases);

    // Stages are laid out end to end: 7 centralised then 3 of home health monitoring.
    let facts = cases[11].facts();
    let c = classify(&p, &facts, &areas_mid_2022(), &code(KUNMING), &no_names).unwrap();
    let stages: Vec<(Measure, u16, Date, Date)> = c
        .stages
        .iter()
        .map(|s| (s.measure, s.days, s.start, s.until))
        .collect();
    assert_eq!(
        stages,
        [
            (C, 7, date!(2022 - 07 - 01), date!(2022 - 07 - 07)),
            (M, 3, date!(2022 - 07 - 08), date!(2022 - 07 - 10)),
        ]
    );
    assert_eq!(c.start, date!(2022 - 07 - 01));
    assert_eq!(c.check_ins_per_day, 2);
}

#[test]
fn twenty_measures_abolish_medium_and_secondary_contacts() {
    use ContactKind::*;
    use Measure::{CentralizedQuarantine as C, HomeQuarantine as H};
    let p = preset("twenty-measures");
    let day = date!(2022 - 11 - 20);
    let areas = [
        area("420111", RiskLevel::High, date!(2022 - 11 - 15), None),
        // Left over from before the 20 measures: medium no longer decides anything.
        area("310115", RiskLevel::Medium, date!(2022 - 11 - 01), None),
        area("310101", RiskLevel::Low, date!(2022 - 11 - 01), None),
    ];
    let cases = [
        arrival("left a high-risk area", "420111", day).expect(H, 7, date!(2022 - 11 - 26), 1),
        arrival("medium area: abolished", "310115", day).none_by(Some(2)),
        arrival("low area", "310101", day).none_by(Some(2)),
        arrival("elsewhere", "440106", day).none_by(Some(2)),
        arrival("close contact: 5 + 3", KUNMING, day)
            .contact(CloseContact, date!(2022 - 11 - 18))
            .expect(C, 8, date!(2022 - 11 - 25), 0)
            .says(&[
                "您是密切接触者，最后接触日期为 2022-11-18。",
                "（2022-11-11 起施行）第 1 条（密切接触者）：",
            ]),
        arrival("secondary contact: no longer identified", KUNMING, day)
            .contact(SecondaryContact, date!(2022 - 11 - 18))
            .none_by(Some(2))
            .says(&[
                "您是次密接，与密切接触者最后接触于 2022-11-18。",
                "没有适用于次密接的条款；按第 3 条（其他地区人员）：无需管控。",
            ]),
        arrival("arrival from elsewhere: unchanged", "440106", day)
            .none_by(Some(2))
            .says(&["您于 2022-11-20 从 440106 抵达。按《"]),
        arrival("fever", KUNMING, day)
            .temp("38.0")
            .none_by(Some(2))
            .alert(),
    ];
    run_table(&p, &areas, KUNMING, &cases);
    let c = classify(&p, &cases[4].facts(), &areas, &code(KUNMING), &no_names).unwrap();
    assert_eq!(
        c.stages
            .iter()
            .map(|s| (s.measure, s.days))
            .collect::<Vec<_>>(),
        [(C, 5), (H, 3)]
    );
}

#[test]
fn class_b_is_none_for_everyone() {
    use ContactKind::*;
    let p = preset("class-b");
    let day = date!(2023 - 01 - 10);
    let areas = [area("420111", RiskLevel::High, date!(2023 - 01 - 01), None)];
    let cases = [
        arrival("from a (stale) high-risk area", "420111", day).none_by(Some(0)),
        arrival("other province", "440106", day).none_by(Some(0)),
        arrival("close contact", KUNMING, day)
            .contact(CloseContact, date!(2023 - 01 - 09))
            .none_by(Some(0)),
        arrival("secondary contact", KUNMING, day)
            .contact(SecondaryContact, date!(2023 - 01 - 09))
            .none_by(Some(0)),
        arrival("fever and cough", KUNMING, day)
            .temp("39.0")
            .symptoms(&["咳嗽"])
            .none_by(Some(0))
            .alert(),
    ];
    run_table(&p, &areas, KUNMING, &cases);
}

#[test]
fn risk_period_edges() {
    use Measure::CentralizedQuarantine as C;
    let from = date!(2022 - 07 - 01);
    let to = date!(2022 - 07 - 10);
    let areas = [area("420111", RiskLevel::High, from, Some(to))];
    let ninth = preset("ninth-edition");
    let cases = [
        arrival("day before from", "420111", date!(2022 - 06 - 30)).none_by(None),
        arrival("first day", "420111", from).expect(C, 7, date!(2022 - 07 - 07), 2),
        arrival("last day", "420111", to).expect(C, 7, date!(2022 - 07 - 16), 2),
        arrival(
            "day after to: in the 7-day look-back",
            "420111",
            date!(2022 - 07 - 11),
        )
        .expect(C, 7, date!(2022 - 07 - 17), 2),
        arrival("7 days after to: still in", "420111", date!(2022 - 07 - 17)).expect(
            C,
            7,
            date!(2022 - 07 - 23),
            2,
        ),
        arrival("8 days after to: out", "420111", date!(2022 - 07 - 18)).none_by(None),
    ];
    run_table(&ninth, &areas, KUNMING, &cases);

    // The same rule without a look-back: the area must be in force on the arrival date.
    let mut draft = ninth.to_draft();
    draft.key = "no-look-back".to_owned();
    draft.rules[2].when = vec![Condition::OriginRisk {
        level: RiskLevel::High,
        within_days: 0,
    }];
    let strict = draft.validate().unwrap();
    let cases = [
        arrival("day before from", "420111", date!(2022 - 06 - 30)).none_by(None),
        arrival("first day", "420111", from).expect(C, 7, date!(2022 - 07 - 07), 2),
        arrival("last day", "420111", to).expect(C, 7, date!(2022 - 07 - 16), 2),
        arrival("day after to", "420111", date!(2022 - 07 - 11)).none_by(None),
    ];
    run_table(&strict, &areas, KUNMING, &cases);

    // High, then medium after 7 days without cases: the high days in the window still count.
    let stepped = [
        area("420111", RiskLevel::High, from, Some(to)),
        area(
            "420111",
            RiskLevel::Medium,
            date!(2022 - 07 - 11),
            Some(date!(2022 - 07 - 13)),
        ),
    ];
    let cases = [arrival(
        "arrived while medium, high 2 days before",
        "420111",
        date!(2022 - 07 - 12),
    )
    .expect(C, 7, date!(2022 - 07 - 18), 2)];
    run_table(&ninth, &stepped, KUNMING, &cases);
}

#[test]
fn policy_in_force_on_each_effective_date() {
    let all = presets();
    for (day, key) in [
        (date!(2020 - 01 - 19), None),
        (date!(2020 - 01 - 20), Some("community-2020")),
        (date!(2022 - 06 - 27), Some("community-2020")),
        (date!(2022 - 06 - 28), Some("ninth-edition")),
        (date!(2022 - 11 - 10), Some("ninth-edition")),
        (date!(2022 - 11 - 11), Some("twenty-measures")),
        (date!(2023 - 01 - 07), Some("twenty-measures")),
        (date!(2023 - 01 - 08), Some("class-b")),
        (date!(2030 - 06 - 01), Some("class-b")),
    ] {
        assert_eq!(
            policy_in_force(&all, day).map(PolicyVersion::key),
            key,
            "{day}"
        );
    }
    // An edit published for the same date wins by its version number, wherever it sits.
    let mut edit = preset("ninth-edition").to_draft();
    edit.version = 2;
    edit.name = "新型冠状病毒肺炎防控方案（第九版，修订）".to_owned();
    let edit = edit.validate().unwrap();
    for versions in [
        vec![edit.clone(), preset("ninth-edition")],
        vec![preset("ninth-edition"), edit.clone()],
    ] {
        let found = policy_in_force(&versions, date!(2022 - 06 - 28)).unwrap();
        assert_eq!(found.version(), 2);
    }
    assert!(policy_in_force(&[], date!(2022 - 06 - 28)).is_none());

    // A contact is classified by the policy of its last-contact date.
    let facts = Facts {
        origin_code: code(KUNMING),
        arrived_on: date!(2022 - 11 - 12),
        symptoms: vec![],
        temperature: None,
        contact: Some(ContactFact {
            kind: ContactKind::CloseContact,
            last_contact_on: date!(2022 - 11 - 10),
        }),
    };
    assert_eq!(
        policy_in_force(&all, facts.policy_date()).map(PolicyVersion::key),
        Some("ninth-edition")
    );
}

#[test]
fn presets_round_trip_through_json() {
    for p in presets() {
        let json = serde_json::to_string(&p).unwrap();
        let back: PolicyVersion = serde_json::from_str(&json).unwrap();
        assert_eq!(back, p, "{json}");
        let draft: PolicyDraft = serde_json::from_str(&json).unwrap();
        assert_eq!(draft, p.to_draft());
    }
    let json = serde_json::to_value(preset("ninth-edition")).unwrap();
    assert_eq!(json["effective_from"], "2022-06-28");
    assert_eq!(
        json["rules"][0]["stages"],
        serde_json::json!([
            {"measure": "centralized_quarantine", "days": 7},
            {"measure": "health_monitoring", "days": 3}
        ])
    );
    assert_eq!(
        json["rules"][2]["when"],
        serde_json::json!([{"fact": "origin_risk", "level": "high", "within_days": 7}])
    );
    assert_eq!(
        json["rules"][1]["when"],
        serde_json::json!([{"fact": "contact", "kind": "secondary_contact"}])
    );
    let json = serde_json::to_value(preset("community-2020")).unwrap();
    assert_eq!(
        json["rules"][0]["when"],
        serde_json::json!([{"fact": "origin_within", "division_code": "420000"}])
    );
    assert_eq!(json["rules"][4]["fever_alert"], true);
    for m in Measure::ALL {
        let s = serde_json::to_string(m).unwrap();
        assert_eq!(s, format!("\"{}\"", m.as_str()));
    }
}

#[test]
fn validation_names_the_field() {
    type Edit = fn(&mut PolicyDraft);
    let cases: [(&str, Edit, &str); 16] = [
        (
            "days 0",
            |d| d.rules[0].stages[0].days = 0,
            "rules[0].stages[0].days",
        ),
        (
            "days 61",
            |d| d.rules[0].stages[1].days = 61,
            "rules[0].stages[1].days",
        ),
        (
            "check-ins 7",
            |d| d.rules[0].check_ins_per_day = 7,
            "rules[0].check_ins_per_day",
        ),
        (
            "no stages",
            |d| d.rules[1].stages.clear(),
            "rules[1].stages",
        ),
        (
            "first stage is not the measure",
            |d| d.rules[1].measure = Measure::CentralizedQuarantine,
            "rules[1].stages[0].measure",
        ),
        (
            "a none stage",
            |d| d.rules[0].stages[1].measure = Measure::None,
            "rules[0].stages[1].measure",
        ),
        (
            "none with stages",
            |d| {
                d.rules[3].measure = Measure::None;
                d.rules[3].check_ins_per_day = 0;
            },
            "rules[3].stages",
        ),
        (
            "none with check-ins",
            |d| {
                d.rules[3].measure = Measure::None;
                d.rules[3].stages.clear();
            },
            "rules[3].check_ins_per_day",
        ),
        (
            "look-back 31",
            |d| {
                d.rules[2].when[0] = Condition::OriginRisk {
                    level: RiskLevel::High,
                    within_days: 31,
                }
            },
            "rules[2].when[0].within_days",
        ),
        (
            "same fact twice",
            |d| {
                let medium = d.rules[3].when[0].clone();
                d.rules[2].when.push(medium);
            },
            "rules[2].when[1]",
        ),
        (
            "contradiction",
            |d| {
                d.rules[4].when = vec![
                    Condition::OriginOtherProvince,
                    Condition::OriginSameProvinceOtherCity,
                ]
            },
            "rules[4].when",
        ),
        (
            "who blank",
            |d| d.rules[0].who = "  ".to_owned(),
            "rules[0].who",
        ),
        (
            "note too long",
            |d| d.rules[0].note = Some("长".repeat(201)),
            "rules[0].note",
        ),
        (
            "key with spaces",
            |d| d.key = "Ninth Edition".to_owned(),
            "key",
        ),
        ("name blank", |d| d.name = String::new(), "name"),
        ("version 0", |d| d.version = 0, "version"),
    ];
    for (what, edit, field) in cases {
        let mut draft = preset("ninth-edition").to_draft();
        edit(&mut draft);
        let errors = draft.validate().unwrap_err().0;
        assert_eq!(errors.len(), 1, "{what}: {errors:?}");
        assert_eq!(errors[0].field, field, "{what}: {errors:?}");
        assert!(!errors[0].message.is_empty());
    }
    // Every problem is reported at once.
    let mut draft = preset("ninth-edition").to_draft();
    draft.version = 0;
    draft.rules[0].stages[0].days = 0;
    draft.rules[4].check_ins_per_day = 9;
    let fields = crate::fields_of(draft.validate().unwrap_err().0);
    assert_eq!(
        fields,
        [
            "version",
            "rules[0].stages[0].days",
            "rules[4].check_ins_per_day"
        ]
    );
    // Texts are trimmed, an empty note dropped.
    let mut draft = preset("ninth-edition").to_draft();
    draft.name = "  第九版  ".to_owned();
    draft.rules[1].note = Some("   ".to_owned());
    let p = draft.validate().unwrap();
    assert_eq!(p.name(), "第九版");
    assert_eq!(p.rules()[1].note, None);
    // No rules at all is a valid policy: nobody has a measure.
    let mut draft = preset("class-b").to_draft();
    draft.rules.clear();
    draft.validate().unwrap();
}

#[test]
fn json_is_validated_on_parse() {
    let good = serde_json::to_value(preset("ninth-edition")).unwrap();
    let mut bad = good.clone();
    bad["rules"][0]["stages"][0]["days"] = 0.into();
    let err = serde_json::from_value::<PolicyVersion>(bad).unwrap_err();
    assert!(err.to_string().contains("rules[0].stages[0].days"), "{err}");

    let mut typo = good.clone();
    typo["rules"][0]["check_in_per_day"] = 2.into();
    assert!(serde_json::from_value::<PolicyVersion>(typo).is_err());

    let mut unknown_fact = good.clone();
    unknown_fact["rules"][2]["when"][0]["fact"] = "origin_vibes".into();
    assert!(serde_json::from_value::<PolicyVersion>(unknown_fact).is_err());

    let mut bad_code = good.clone();
    bad_code["rules"][2]["when"][0] =
        serde_json::json!({"fact": "origin_within", "division_code": "42"});
    let err = serde_json::from_value::<PolicyVersion>(bad_code).unwrap_err();
    assert!(err.to_string().contains("division_code"), "{err}");

    let mut bad_measure = good;
    bad_measure["rules"][0]["measure"] = "quarantine".into();
    assert!(serde_json::from_value::<PolicyVersion>(bad_measure).is_err());

    // What an official writes by hand: defaults for the optional fields.
    let hand = r#"{
        "key": "next-outbreak", "name": "下一次疫情预案", "effective_from": "2031-03-01",
        "version": 1,
        "rules": [
            {"who": "密切接触者", "when": [{"fact": "contact", "kind": "close_contact"}],
             "measure": "home_quarantine", "stages": [{"measure": "home_quarantine", "days": 5}],
             "check_ins_per_day": 2},
            {"who": "发热人员", "when": [{"fact": "fever_or_symptoms"}],
             "measure": "health_monitoring", "stages": [{"measure": "health_monitoring", "days": 1}],
             "fever_alert": true}
        ]
    }"#;
    // Published by hand, a fever rule with a measure is refused (a fever never sets one)...
    let refused = PolicyDraft::from_json(hand).unwrap_err();
    assert_eq!(refused.0[0].field, "rules[1].stages", "{refused}");
    // ...while a stored version of that shape (the 2020 preset as first shipped) still loads,
    // read as an alert and a referral only.
    let p: PolicyVersion = serde_json::from_str(hand).unwrap();
    assert_eq!(p.rules().len(), 2);
    assert_eq!(p.rules()[1].check_ins_per_day, 0);
    assert_eq!(p.rules()[1].measure, Measure::None);
    assert!(p.rules()[1].stages.is_empty());
    assert!(p.rules()[1].fever_alert);
}

#[test]
fn explanation_reads_to_the_resident() {
    let p = preset("ninth-edition");
    let areas = [area("420111", RiskLevel::High, date!(2022 - 06 - 30), None)];
    let facts = Facts {
        origin_code: code("420111"),
        arrived_on: date!(2022 - 07 - 02),
        symptoms: vec![],
        temperature: Some(Temperature::parse("36.5").unwrap()),
        contact: None,
    };
    let c = classify(&p, &facts, &areas, &code(KUNMING), &gazetteer).unwrap();
    assert_eq!(
        c.explanation,
        "您于 2022-07-02 从湖北省武汉市洪山区抵达；该地自 2022-06-30 起为高风险地区。\
         按《新型冠状病毒肺炎防控方案（第九版）》（2022-06-28 起施行）第 3 条（7 天内到过高风险地区的人员）：\
         集中隔离 7 天，至 2022-07-08；每天报告体温 2 次。"
    );

    // Without names, codes stand in; an area containing the origin is named as itself.
    let street = Facts {
        origin_code: code("420111001"),
        ..facts.clone()
    };
    let c = classify(&p, &street, &areas, &code(KUNMING), &no_names).unwrap();
    assert!(
        c.explanation.starts_with(
            "您于 2022-07-02 从 420111001 抵达；420111 自 2022-06-30 起为高风险地区。"
        ),
        "{}",
        c.explanation
    );
    // With the shipped table: a street by its county and code, the area by its name.
    let c = classify(&p, &street, &areas, &code(KUNMING), &division_names).unwrap();
    assert!(
        c.explanation.starts_with(
            "您于 2022-07-02 从湖北省武汉市洪山区（街道 420111001）抵达；湖北省武汉市洪山区自 2022-06-30 起为高风险地区。"
        ),
        "{}",
        c.explanation
    );
    // A name given with the area is used.
    let named = [RiskArea::new(
        code("420111"),
        Some("洪山区"),
        RiskLevel::High,
        date!(2022 - 06 - 30),
        Some(date!(2022 - 06 - 30)),
    )
    .unwrap()];
    let c = classify(&p, &street, &named, &code(KUNMING), &no_names).unwrap();
    assert!(
        c.explanation.contains(
            "洪山区（420111）于 2022-06-30 至 2022-06-30 为高风险地区，在您抵达前 7 天内"
        ),
        "{}",
        c.explanation
    );

    // A close contact: counted from the last contact.
    let contact = Facts {
        origin_code: code(KUNMING),
        contact: Some(ContactFact {
            kind: ContactKind::CloseContact,
            last_contact_on: date!(2022 - 07 - 01),
        }),
        ..facts.clone()
    };
    let c = classify(&p, &contact, &[], &code(KUNMING), &gazetteer).unwrap();
    assert_eq!(
        c.explanation,
        "您是密切接触者，最后接触日期为 2022-07-01。\
         按《新型冠状病毒肺炎防控方案（第九版）》（2022-06-28 起施行）第 1 条（密切接触者）：\
         集中隔离 7 天，再健康监测 3 天，共 10 天，自 2022-07-01（最后接触之日）起算，至 2022-07-10；\
         每天报告体温 2 次；集中隔离期满后居家健康监测。"
    );

    // Nothing applies.
    let plain = Facts {
        origin_code: code("530302"),
        ..facts.clone()
    };
    let c = classify(&p, &plain, &areas, &code(KUNMING), &no_names).unwrap();
    assert_eq!(
        c.explanation,
        "您于 2022-07-02 从 530302 抵达。\
         按《新型冠状病毒肺炎防控方案（第九版）》（2022-06-28 起施行），没有适用的条款：无需管控。"
    );
    assert_eq!(c.until, date!(2022 - 07 - 01)); // the empty period ends the day before

    // 2020: fever from Hubei keeps 14 days and says why the alert was raised.
    let early = preset("community-2020");
    let hubei_fever = Facts {
        arrived_on: date!(2020 - 01 - 25),
        temperature: Some(Temperature::parse("38.0").unwrap()),
        symptoms: vec!["咳嗽".to_owned()],
        ..facts.clone()
    };
    let c = classify(&early, &hubei_fever, &[], &code(KUNMING), &gazetteer).unwrap();
    assert_eq!(
        c.explanation,
        "您于 2020-01-25 从湖北省武汉市洪山区抵达；该地属于湖北省。\
         按《社区疫情防控措施（2020 年初）》（2020-01-20 起施行）第 1 条（来自湖北省的人员）：\
         集中隔离 14 天，至 2020-02-07；每天报告体温 2 次；集中医学观察。\
         另：筛查时体温 38.0℃（37.3℃ 及以上为发热）；有症状：咳嗽，\
         按第 5 条（发热（37.3℃ 及以上）或咳嗽等症状的人员）发出发热预警：\
         就地隔离，转诊发热门诊。"
    );
    // A fever with no measure to add to: the alert and the referral alone.
    let local_fever = Facts {
        origin_code: code(KUNMING),
        ..hubei_fever
    };
    let c = classify(&early, &local_fever, &[], &code(KUNMING), &gazetteer).unwrap();
    assert_eq!(c.measure, Measure::None);
    assert!(
        c.explanation.ends_with("按第 5 条（发热（37.3℃ 及以上）或咳嗽等症状的人员）发出发热预警：就地隔离，转诊发热门诊。"),
        "{}",
        c.explanation
    );
}

#[test]
fn facts_parse_from_json() {
    let json = r#"{"origin_code":"420111","arrived_on":"2022-07-02","symptoms":["咳嗽"],
        "temperature":37.3,"contact":{"kind":"close_contact","last_contact_on":"2022-07-01"}}"#;
    let facts: Facts = serde_json::from_str(json).unwrap();
    assert_eq!(facts.temperature.map(Temperature::tenths), Some(373));
    assert!(facts.fever_or_symptoms());
    assert_eq!(facts.policy_date(), date!(2022 - 07 - 01));
    let back: Facts = serde_json::from_str(&serde_json::to_string(&facts).unwrap()).unwrap();
    assert_eq!(back, facts);
    let minimal: Facts =
        serde_json::from_str(r#"{"origin_code":"530302","arrived_on":"2022-07-02"}"#).unwrap();
    assert!(!minimal.fever_or_symptoms());
    assert_eq!(minimal.policy_date(), date!(2022 - 07 - 02));
    for bad in [
        r#"{"origin_code":"53","arrived_on":"2022-07-02"}"#,
        r#"{"origin_code":"530302","arrived_on":"2022-13-02"}"#,
        r#"{"origin_code":"530302","arrived_on":"2022-07-02","temperature":45}"#,
        r#"{"origin_code":"530302","arrived_on":"2022-07-02","contact":{"kind":"friend","last_contact_on":"2022-07-01"}}"#,
    ] {
        assert!(serde_json::from_str::<Facts>(bad).is_err(), "{bad}");
    }
}

/// Records under observation on 2022-11-12, classified by the 9th edition; the draft is the
/// 20 measures.
#[test]
fn what_if_twenty_measures_over_ninth_edition_records() {
    let ninth = preset("ninth-edition");
    let draft = preset("twenty-measures");
    let community = code(KUNMING);
    let today = date!(2022 - 11 - 12);
    let areas = [
        area("420111", RiskLevel::High, date!(2022 - 11 - 01), None),
        area("310115", RiskLevel::Medium, date!(2022 - 11 - 05), None),
        area("310101", RiskLevel::Low, date!(2022 - 11 - 01), None),
    ];
    let record = |id: i64, origin: &str, arrived_on: Date, contact: Option<(ContactKind, Date)>| {
        let facts = Facts {
            origin_code: code(origin),
            arrived_on,
            symptoms: vec![],
            temperature: None,
            contact: contact.map(|(kind, last_contact_on)| ContactFact {
                kind,
                last_contact_on,
            }),
        };
        let current = classify(&ninth, &facts, &areas, &community, &no_names).unwrap();
        ActiveRecord { id, facts, current }
    };
    use ContactKind::*;
    let records = [
        record(
            1,
            KUNMING,
            date!(2022 - 11 - 08),
            Some((CloseContact, date!(2022 - 11 - 08))),
        ),
        record(2, "310115", date!(2022 - 11 - 09), None),
        record(3, "420111", date!(2022 - 11 - 10), None),
        record(
            4,
            KUNMING,
            date!(2022 - 11 - 09),
            Some((SecondaryContact, date!(2022 - 11 - 09))),
        ),
        record(5, "310101", date!(2022 - 11 - 11), None),
        record(
            6,
            KUNMING,
            date!(2022 - 11 - 02),
            Some((CloseContact, date!(2022 - 11 - 02))),
        ),
    ];
    let changes = what_if(&records, &draft, &areas, &community, today, &no_names).unwrap();
    let got: Vec<(i64, ChangeKind, Measure, Date, i64)> = changes
        .iter()
        .map(|c| (c.id, c.kind, c.to.measure, c.to.until, c.until_delta_days))
        .collect();
    use ChangeKind::*;
    use Measure::{CentralizedQuarantine as C, HomeQuarantine as H};
    assert_eq!(
        got,
        [
            // 7 + 3 until 11-17 becomes 5 + 3 until 11-15.
            (1, Shortened, C, date!(2022 - 11 - 15), -2),
            // Medium abolished: home quarantine until 11-15 is lifted.
            (2, Released, Measure::None, date!(2022 - 11 - 08), -7),
            // High: 7 days centralised becomes 7 days at home, same last day.
            (3, MeasureChanged, H, date!(2022 - 11 - 16), 0),
            // Secondary contacts are no longer identified.
            (4, Released, Measure::None, date!(2022 - 11 - 08), -7),
            // Low: health monitoring lifted.
            (5, Released, Measure::None, date!(2022 - 11 - 10), -3),
            // Already past its last day (11-11) under both: nothing changes.
            (6, Unchanged, C, date!(2022 - 11 - 09), -2),
        ]
    );
    assert_eq!(changes[0].from.until, date!(2022 - 11 - 17));
    assert_eq!(changes[0].from.policy_key, "ninth-edition");
    assert_eq!(changes[0].to.policy_key, "twenty-measures");
    assert!(changes[1]
        .to
        .explanation
        .contains("第 3 条（其他地区人员）：无需管控"));

    // Another draft: the 9th edition with 14 days for close contacts extends record 1, leaves
    // record 3 as it is, and changes stages without moving the last day for a crafted case.
    let mut longer = ninth.to_draft();
    longer.version = 2;
    longer.rules[0].stages = vec![
        Stage {
            measure: Measure::CentralizedQuarantine,
            days: 7,
        },
        Stage {
            measure: Measure::HomeQuarantine,
            days: 7,
        },
    ];
    longer.rules[3].stages = vec![
        Stage {
            measure: Measure::HomeQuarantine,
            days: 4,
        },
        Stage {
            measure: Measure::HealthMonitoring,
            days: 3,
        },
    ];
    let longer = longer.validate().unwrap();
    let medium_today = record(7, "310115", today, None);
    let changes = what_if(
        &[records[0].clone(), records[2].clone(), medium_today],
        &longer,
        &areas,
        &community,
        today,
        &no_names,
    )
    .unwrap();
    let got: Vec<(i64, ChangeKind, i64)> = changes
        .iter()
        .map(|c| (c.id, c.kind, c.until_delta_days))
        .collect();
    assert_eq!(
        got,
        [(1, Extended, 4), (3, Unchanged, 0), (7, MeasureChanged, 0)]
    );
    assert_eq!(ChangeKind::Released.label_zh(), "解除");
    assert_eq!(
        serde_json::to_string(&MeasureChanged).unwrap(),
        "\"measure_changed\""
    );
}

#[test]
fn a_draft_read_from_json_names_the_line_or_the_field() {
    let ninth = presets()
        .into_iter()
        .find(|p| p.key() == "ninth-edition")
        .unwrap();
    let text = serde_json::to_string_pretty(&ninth).unwrap();
    assert_eq!(PolicyDraft::from_json(&text).unwrap(), ninth);

    // A JSON slip is one error on `policy` with its line.
    let broken = text.replacen("\"rules\"", "rules", 1);
    let e = PolicyDraft::from_json(&broken).unwrap_err();
    assert_eq!(e.0.len(), 1);
    assert_eq!(e.0[0].field, "policy");
    assert!(e.0[0].message.contains("行"), "{}", e.0[0].message);

    // A broken rule names its path.
    let mut draft = ninth.to_draft();
    draft.rules[2].stages[0].days = 0;
    let e = PolicyDraft::from_json(&serde_json::to_string(&draft).unwrap()).unwrap_err();
    assert!(
        e.0.iter().any(|e| e.field == "rules[2].stages[0].days"),
        "{e}"
    );
}

/// Measures combine, they do not replace: under every preset, over arrivals and contacts of
/// every kind, a fever or a symptom adds a fever alert and a referral to a fever clinic and
/// leaves the measure, its stages and its dates exactly as they are without it.
#[test]
fn a_fever_adds_an_alert_and_never_changes_the_measure_under_any_preset() {
    use ContactKind::*;
    let areas = [
        area("420111", RiskLevel::High, date!(2020 - 01 - 01), None),
        area("310115", RiskLevel::Medium, date!(2020 - 01 - 01), None),
        area("310101", RiskLevel::Low, date!(2020 - 01 - 01), None),
    ];
    let fevers: [(&str, Option<&str>, &[&str]); 4] = [
        ("37.3 exactly", Some("37.3"), &[]),
        ("37.6", Some("37.6"), &[]),
        ("a cough", None, &["咳嗽"]),
        ("39.0 and a cough", Some("39.0"), &["咳嗽", "乏力"]),
    ];
    for p in presets() {
        let day = p.effective_from() + time::Duration::days(5);
        let bases = [
            arrival("own community", KUNMING, day),
            arrival("same city", "530103", day),
            arrival("same province", "530302", day),
            arrival("other province", "440106", day),
            arrival("Hubei, high-risk", "420111", day),
            arrival("medium-risk", "310115", day),
            arrival("low-risk", "310101", day),
            arrival("close contact", KUNMING, day)
                .contact(CloseContact, day - time::Duration::days(1)),
            arrival("secondary contact", KUNMING, day)
                .contact(SecondaryContact, day - time::Duration::days(1)),
            arrival("close contact from Hubei", "420111", day)
                .contact(CloseContact, day - time::Duration::days(2)),
        ];
        for base in &bases {
            let calm = classify(&p, &base.facts(), &areas, &code(KUNMING), &no_names).unwrap();
            let ctx = format!("{} / {}", p.key(), base.what);
            assert!(!calm.fever_alert && calm.alerts.is_empty(), "{ctx}");
            assert_eq!(calm.headline(), calm.measure_zh(), "{ctx}");
            for (what, t, symptoms) in fevers {
                let mut facts = base.facts();
                facts.temperature = t.map(|t| Temperature::parse(t).unwrap());
                facts.symptoms = symptoms.iter().map(|s| (*s).to_owned()).collect();
                let hot = classify(&p, &facts, &areas, &code(KUNMING), &no_names).unwrap();
                let ctx = format!("{ctx} + {what}: {}", hot.explanation);
                assert_eq!(hot.measure, calm.measure, "measure — {ctx}");
                assert_eq!(hot.stages, calm.stages, "stages — {ctx}");
                assert_eq!(hot.until, calm.until, "until — {ctx}");
                assert_eq!(hot.days_total, calm.days_total, "days — {ctx}");
                assert_eq!(hot.check_ins_per_day, calm.check_ins_per_day, "{ctx}");
                assert_eq!(hot.rule_index, calm.rule_index, "deciding rule — {ctx}");
                assert!(hot.fever_alert, "alert — {ctx}");
                assert_eq!(hot.alerts.len(), 1, "{ctx}");
                let alert = &hot.alerts[0];
                assert_eq!(
                    (alert.kind, alert.referral),
                    (AlertKind::Fever, Referral::FeverClinic),
                    "{ctx}"
                );
                assert_eq!(
                    hot.headline(),
                    format!("{}；{}", calm.measure_zh(), alert.message),
                    "{ctx}"
                );
                assert!(
                    alert.message.ends_with("已发出发热预警，请立即送发热门诊"),
                    "{ctx}"
                );
                // The facts and the deciding rule are read out as before.
                let cited = |e: &str| e.split('：').next().unwrap_or_default().to_owned();
                if calm.rule_index.is_some() {
                    assert_eq!(cited(&hot.explanation), cited(&calm.explanation), "{ctx}");
                }
                assert!(hot.explanation.contains("发热预警"), "{ctx}");
            }
        }
    }
}

#[test]
fn the_headline_says_the_measure_and_the_alert() {
    let facts = |origin: &str, on: Date, t: &str| Facts {
        origin_code: code(origin),
        arrived_on: on,
        symptoms: vec![],
        temperature: Some(Temperature::parse(t).unwrap()),
        contact: None,
    };
    // The two reports of the issue: 2020, another province with 37.6; Class B with 38.4.
    let c = classify(
        &preset("community-2020"),
        &facts("440106", date!(2020 - 02 - 01), "37.6"),
        &[],
        &code(KUNMING),
        &no_names,
    )
    .unwrap();
    assert_eq!(
        c.headline(),
        "居家隔离 14 天；体温 37.6 ℃ 已发出发热预警，请立即送发热门诊"
    );
    assert_eq!(c.until, date!(2020 - 02 - 14));
    assert_eq!(
        c.headline_for_resident(),
        "居家隔离 14 天；体温 37.6 ℃，请立即前往发热门诊就诊（途中戴好口罩，不乘公共交通），工作人员会联系您"
    );
    let c = classify(
        &preset("class-b"),
        &facts(KUNMING, date!(2023 - 03 - 01), "38.4"),
        &[],
        &code(KUNMING),
        &no_names,
    )
    .unwrap();
    assert_eq!(
        c.headline(),
        "无需管控；体温 38.4 ℃ 已发出发热预警，请立即送发热门诊"
    );
    // Stages read in order; symptoms are named.
    let mut f = facts(KUNMING, date!(2022 - 07 - 02), "36.5");
    f.symptoms = vec!["咳嗽".into()];
    f.contact = Some(ContactFact {
        kind: ContactKind::CloseContact,
        last_contact_on: date!(2022 - 07 - 01),
    });
    let c = classify(&preset("ninth-edition"), &f, &[], &code(KUNMING), &no_names).unwrap();
    assert_eq!(
        c.headline(),
        "集中隔离 7 天，再健康监测 3 天；有症状（咳嗽）已发出发热预警，请立即送发热门诊"
    );
    // A classification stored before alerts were kept reads back without them.
    let mut old = serde_json::to_value(&c).unwrap();
    old.as_object_mut().unwrap().remove("alerts");
    let back: Classification = serde_json::from_value(old).unwrap();
    assert!(back.alerts.is_empty() && back.fever_alert);
}
