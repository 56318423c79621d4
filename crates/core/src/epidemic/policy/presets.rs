//! The four dated presets of `shared/POLICIES.md`, as a fresh database publishes them.
//!
//! Rules follow the rows of each table in order, so 「第 N 条」 in an explanation is the N-th row.
//! Check-ins per day, where the notices give none: 2 during quarantine (morning and evening
//! temperatures, as the 2020 source reports describe), 1 when the only stage is health
//! monitoring, 0 without a measure.

use time::macros::date;

use super::{
    Condition, ContactKind, DivisionCode, Measure, PolicyDraft, PolicyVersion, RiskLevel, Rule,
    Stage,
};
use crate::epidemic::trips::TripKind;

/// Hubei province (GB/T 2260 42).
const HUBEI: &str = "420000";

/// A rule from a table row; the headline measure is the first stage's (none without stages).
fn row(
    who: &str,
    when: Vec<Condition>,
    stages: &[(Measure, u16)],
    check_ins_per_day: u8,
    note: Option<&str>,
) -> Rule {
    Rule {
        who: who.to_owned(),
        when,
        measure: stages.first().map_or(Measure::None, |s| s.0),
        stages: stages
            .iter()
            .map(|&(measure, days)| Stage { measure, days })
            .collect(),
        check_ins_per_day,
        fever_alert: false,
        note: note.map(str::to_owned),
    }
}

fn contact(kind: ContactKind) -> Condition {
    Condition::Contact { kind }
}

/// "Stayed in an area of `level` within the last 7 days."
fn stayed(level: RiskLevel) -> Condition {
    Condition::OriginRisk {
        level,
        within_days: 7,
    }
}

/// The presets as drafts (what an official starts a new version from).
pub fn preset_drafts() -> Vec<PolicyDraft> {
    use Measure::{CentralizedQuarantine as Centralised, HealthMonitoring, HomeQuarantine};

    let early_2020 = PolicyDraft {
        key: "community-2020".to_owned(),
        name: "社区疫情防控措施（2020 年初）".to_owned(),
        effective_from: date!(2020 - 01 - 20),
        version: 1,
        // 「不串门、不聚餐、不走亲访友」: the early 2020 measures stopped visits to relatives.
        suspended_trips: vec![TripKind::Relatives],
        rules: vec![
            row(
                "来自湖北省的人员",
                vec![Condition::OriginWithin {
                    division_code: DivisionCode(HUBEI.to_owned()),
                }],
                &[(Centralised, 14)],
                2,
                Some("集中医学观察"),
            ),
            row(
                "来自外省的人员",
                vec![Condition::OriginOtherProvince],
                &[(HomeQuarantine, 14)],
                2,
                Some("医生上门测量体温"),
            ),
            row(
                "来自本省其他城市的人员",
                vec![Condition::OriginSameProvinceOtherCity],
                &[(HomeQuarantine, 14)],
                2,
                Some("居家自我监测体温，异常时向卫生室报告"),
            ),
            row(
                "病例的密切接触者",
                vec![contact(ContactKind::CloseContact)],
                &[(Centralised, 14)],
                2,
                Some("自最后一次接触之日起集中医学观察"),
            ),
            // The table gives no days: a fever adds an alert and a referral to whatever the
            // rows above decide, and never a measure of its own (see `Rule::is_fever_rule`).
            Rule {
                fever_alert: true,
                ..row(
                    "发热（37.3℃ 及以上）或咳嗽等症状的人员",
                    vec![Condition::FeverOrSymptoms],
                    &[],
                    0,
                    Some("就地隔离，转诊发热门诊"),
                )
            },
        ],
    };

    let ninth_edition = PolicyDraft {
        key: "ninth-edition".to_owned(),
        name: "新型冠状病毒肺炎防控方案（第九版）".to_owned(),
        effective_from: date!(2022 - 06 - 28),
        version: 1,
        suspended_trips: Vec::new(),
        rules: vec![
            row(
                "密切接触者",
                vec![contact(ContactKind::CloseContact)],
                &[(Centralised, 7), (HealthMonitoring, 3)],
                2,
                Some("集中隔离期满后居家健康监测"),
            ),
            row(
                "密接的密接",
                vec![contact(ContactKind::SecondaryContact)],
                &[(HomeQuarantine, 7)],
                2,
                None,
            ),
            row(
                "7 天内到过高风险地区的人员",
                vec![stayed(RiskLevel::High)],
                &[(Centralised, 7)],
                2,
                None,
            ),
            row(
                "7 天内到过中风险地区的人员",
                vec![stayed(RiskLevel::Medium)],
                &[(HomeQuarantine, 7)],
                2,
                None,
            ),
            // POLICIES.md says only "stayed in a low-risk area"; the 7-day window of the rows
            // above is used for it too.
            row(
                "7 天内到过低风险地区的人员",
                vec![stayed(RiskLevel::Low)],
                &[(HealthMonitoring, 3)],
                1,
                Some("3 天内 2 次核酸检测"),
            ),
        ],
    };

    let twenty_measures = PolicyDraft {
        key: "twenty-measures".to_owned(),
        name: "进一步优化新冠肺炎疫情防控措施（二十条）".to_owned(),
        effective_from: date!(2022 - 11 - 11),
        version: 1,
        suspended_trips: Vec::new(),
        rules: vec![
            row(
                "密切接触者",
                vec![contact(ContactKind::CloseContact)],
                &[(Centralised, 5), (HomeQuarantine, 3)],
                2,
                None,
            ),
            // Contacts of close contacts are no longer identified: no rule for them. Medium
            // areas are abolished: no rule either, so a medium area decides nothing.
            // 外溢人员: the same 7-day window as the 9th edition.
            row(
                "高风险地区外溢人员",
                vec![stayed(RiskLevel::High)],
                &[(HomeQuarantine, 7)],
                2,
                None,
            ),
            row("其他地区人员", vec![], &[], 0, None),
        ],
    };

    let class_b = PolicyDraft {
        key: "class-b".to_owned(),
        name: "新型冠状病毒感染“乙类乙管”总体方案".to_owned(),
        effective_from: date!(2023 - 01 - 08),
        version: 1,
        suspended_trips: Vec::new(),
        rules: vec![row(
            "所有人员（不再隔离，不再判定密切接触者，不再划定风险区）",
            vec![],
            &[],
            0,
            None,
        )],
    };

    vec![early_2020, ninth_edition, twenty_measures, class_b]
}

/// The four presets, validated, oldest first. (A test checks that none is dropped here.)
pub fn presets() -> Vec<PolicyVersion> {
    preset_drafts()
        .into_iter()
        .filter_map(|d| d.validate().ok())
        .collect()
}
