//! Collect once, fill many (一次采集，多表共用): another office's form layout described as data.
//!
//! A *mapping* is the layout of a form some other office wants (the health bureau's
//! 「疫情防控每日统计表」, say): its own column order, headers and units, where every column is
//! filled from the indicators of a source template — one indicator, or the sum of several (a
//! combined column such as 隔离观察合计 = centralised + home). Nothing is typed again: the store
//! reads the source report and [`Mapping::apply`] lays its numbers out in the other form.
//! Mappings are versioned like templates (a changed layout is a new version with its own
//! effective date).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{key_ok, ManualKind, ManualValue, Template, EPIDEMIC_DAILY};
use crate::CoreError;

/// The key of the preset mapping: the health bureau's daily epidemic statistics form.
pub const HEALTH_BUREAU_DAILY: &str = "health-bureau-daily";

/// One column of the other office's form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Column {
    /// English code name, unique in the mapping; the key of the API's `values`.
    pub key: String,
    /// The header printed on the form.
    pub header: String,
    /// The unit printed under the header; empty for text.
    #[serde(default)]
    pub unit: String,
    /// The source template's indicator keys that fill the column: one, or several summed.
    pub sources: Vec<String>,
}

impl Column {
    fn new(key: &str, header: &str, unit: &str, sources: &[&str]) -> Column {
        Column {
            key: key.to_owned(),
            header: header.to_owned(),
            unit: unit.to_owned(),
            sources: sources.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    /// Whether the column adds several indicators.
    pub fn is_sum(&self) -> bool {
        self.sources.len() > 1
    }
}

/// Another office's layout of the indicators of a source template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mapping {
    pub key: String,
    /// The form's title (疫情防控每日统计表).
    pub name: String,
    /// The office whose layout it is (卫健局).
    pub office: String,
    /// The key of the template whose indicators fill the columns.
    pub source: String,
    /// Counts from 1; a changed layout is a new version.
    pub version: i64,
    /// The header of the first column, naming the reporting units (社区（村）).
    pub unit_header: String,
    pub columns: Vec<Column>,
}

impl Mapping {
    /// The preset: the district health bureau's 「疫情防控每日统计表」 filled from the epidemic
    /// daily report. Its columns come in the bureau's order (fevers first, then isolation with
    /// a combined total, arrivals last) and one column adds two indicators.
    pub fn health_bureau_daily() -> Mapping {
        let c = Column::new;
        Mapping {
            key: HEALTH_BUREAU_DAILY.to_owned(),
            name: "疫情防控每日统计表".to_owned(),
            office: "卫健局".to_owned(),
            source: EPIDEMIC_DAILY.to_owned(),
            version: 1,
            unit_header: "社区（村）".to_owned(),
            columns: vec![
                c("fever", "发热病人（未处置）", "人", &["fevers_open"]),
                c(
                    "isolation_total",
                    "隔离观察合计",
                    "人",
                    &["under_centralized_quarantine", "under_home_quarantine"],
                ),
                c(
                    "isolation_centralized",
                    "其中：集中隔离",
                    "人",
                    &["under_centralized_quarantine"],
                ),
                c(
                    "isolation_home",
                    "其中：居家隔离",
                    "人",
                    &["under_home_quarantine"],
                ),
                c("monitoring", "健康监测", "人", &["health_monitoring"]),
                c("released", "当日解除隔离观察", "人", &["releases"]),
                c("arrivals", "当日新增外地返回人员", "人", &["arrivals_new"]),
                c("disinfection", "环境消杀", "次", &["disinfection_rounds"]),
                c("remarks", "备注", "", &["notes"]),
            ],
        }
    }

    /// Checks a mapping against its source template: every broken rule at once, each named by
    /// its field (`columns[2].sources`).
    pub fn validate(&self, source: &Template) -> Result<(), Vec<CoreError>> {
        let mut errors = Vec::new();
        if !key_ok(&self.key) {
            errors.push(CoreError::invalid(
                "key",
                "表样代码应为 1 至 40 位小写英文字母、数字、「_」或「-」，并以字母开头",
            ));
        }
        if self.key == source.key {
            errors.push(CoreError::invalid("key", "表样代码不能与数据来源模板相同"));
        }
        if self.source != source.key {
            errors.push(CoreError::invalid(
                "source",
                format!("数据来源应为模板「{}」", source.key),
            ));
        }
        for (field, value, max, what) in [
            ("name", &self.name, 100, "表名"),
            ("office", &self.office, 50, "使用单位"),
            ("unit_header", &self.unit_header, 20, "单位列标题"),
        ] {
            if value.trim().is_empty() || value.chars().count() > max {
                errors.push(CoreError::invalid(
                    field,
                    format!("请填写{what}（不超过 {max} 个字）"),
                ));
            }
        }
        if self.version < 1 {
            errors.push(CoreError::invalid("version", "版本号从 1 开始"));
        }
        if self.columns.is_empty() {
            errors.push(CoreError::invalid("columns", "表样至少要有一列"));
        }
        let mut seen = std::collections::BTreeSet::new();
        for (i, col) in self.columns.iter().enumerate() {
            let field = format!("columns[{i}]");
            if !key_ok(&col.key) || col.key.contains('-') {
                errors.push(CoreError::invalid(
                    format!("{field}.key"),
                    format!(
                        "列代码「{}」应为小写英文字母、数字或「_」，并以字母开头",
                        col.key
                    ),
                ));
            } else if !seen.insert(col.key.as_str()) {
                errors.push(CoreError::invalid(
                    format!("{field}.key"),
                    format!("列代码「{}」重复", col.key),
                ));
            }
            if col.header.trim().is_empty() || col.header.chars().count() > 50 {
                errors.push(CoreError::invalid(
                    format!("{field}.header"),
                    "请填写列标题（不超过 50 个字）",
                ));
            }
            if col.unit.chars().count() > 10 {
                errors.push(CoreError::invalid(
                    format!("{field}.unit"),
                    "单位不能超过 10 个字",
                ));
            }
            let sources = format!("{field}.sources");
            if col.sources.is_empty() {
                errors.push(CoreError::invalid(
                    &sources,
                    format!("「{}」没有指定取数的指标", col.header),
                ));
            }
            let mut used = std::collections::BTreeSet::new();
            for key in &col.sources {
                let Some(ind) = source.indicator(key) else {
                    errors.push(CoreError::invalid(
                        &sources,
                        format!("「{}」没有「{key}」这项指标", source.name),
                    ));
                    continue;
                };
                if !used.insert(key.as_str()) {
                    errors.push(CoreError::invalid(
                        &sources,
                        format!("「{}」重复加了「{}」", col.header, ind.label),
                    ));
                }
                if col.is_sum() && ind.manual_kind() == Some(ManualKind::Text) {
                    errors.push(CoreError::invalid(
                        &sources,
                        format!("「{}」是文字，不能相加", ind.label),
                    ));
                }
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// One line of the source report (indicator key → value, `None` = not reported) laid out
    /// in this form's columns. A one-indicator column copies its value; a sum column adds the
    /// numbers present and is empty only when none is (a source indicator the template of the
    /// date lacks counts as not reported).
    pub fn apply(
        &self,
        values: &BTreeMap<String, Option<ManualValue>>,
    ) -> Vec<Option<ManualValue>> {
        self.columns
            .iter()
            .map(|col| {
                let mut got = col
                    .sources
                    .iter()
                    .filter_map(|k| values.get(k).and_then(Option::as_ref));
                if !col.is_sum() {
                    return got.next().cloned();
                }
                let mut sum: Option<i64> = None;
                for v in got {
                    if let ManualValue::Number(n) = v {
                        sum = Some(sum.unwrap_or(0) + n);
                    }
                }
                sum.map(ManualValue::Number)
            })
            .collect()
    }
}

/// Reads the first sheet of a form workbook (a report or a mapped report as exported) back as
/// text, row by row, cells as Excel shows them: how a returned or exported form is checked
/// against the report it came from. Works in memory; no I/O.
pub fn read_form(bytes: &[u8]) -> Result<Vec<Vec<String>>, CoreError> {
    use calamine::Reader;
    let bad = |e: &dyn std::fmt::Display| CoreError::invalid("file", format!("无法读取表格：{e}"));
    let mut book =
        calamine::open_workbook_auto_from_rs(std::io::Cursor::new(bytes)).map_err(|e| bad(&e))?;
    let range = book
        .worksheet_range_at(0)
        .ok_or_else(|| CoreError::invalid("file", "表格中没有工作表"))?
        .map_err(|e| bad(&e))?;
    Ok(range
        .rows()
        .map(|r| r.iter().map(crate::registry::sheet::cell_text).collect())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(pairs: &[(&str, Option<i64>)]) -> BTreeMap<String, Option<ManualValue>> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.map(ManualValue::Number)))
            .collect()
    }

    #[test]
    fn the_preset_fits_the_epidemic_daily_report() {
        let m = Mapping::health_bureau_daily();
        m.validate(&Template::epidemic_daily()).unwrap();
        assert_eq!(m.source, EPIDEMIC_DAILY);
        // A different order from the source, and a combined column.
        let t = Template::epidemic_daily();
        assert_ne!(m.columns[0].sources[0], t.indicators[0].key);
        let total = m
            .columns
            .iter()
            .find(|c| c.key == "isolation_total")
            .unwrap();
        assert!(total.is_sum());
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(serde_json::from_str::<Mapping>(&json).unwrap(), m);
    }

    #[test]
    fn columns_copy_or_add_their_indicators() {
        let m = Mapping::health_bureau_daily();
        let mut v = line(&[
            ("fevers_open", Some(1)),
            ("under_centralized_quarantine", Some(3)),
            ("under_home_quarantine", Some(4)),
            ("health_monitoring", Some(0)),
            ("releases", Some(2)),
            ("arrivals_new", Some(5)),
            ("disinfection_rounds", None),
        ]);
        v.insert("notes".into(), Some(ManualValue::Text("平安".into())));
        let out = m.apply(&v);
        let n = |i: usize| out[i].clone();
        assert_eq!(n(0), Some(ManualValue::Number(1)));
        assert_eq!(n(1), Some(ManualValue::Number(7)), "3 + 4");
        assert_eq!(n(2), Some(ManualValue::Number(3)));
        assert_eq!(n(3), Some(ManualValue::Number(4)));
        assert_eq!(n(6), Some(ManualValue::Number(5)));
        assert_eq!(n(7), None, "not reported stays empty");
        assert_eq!(n(8), Some(ManualValue::Text("平安".into())));
        // A sum of nothing reported is empty; one part reported is that part.
        let out = m.apply(&line(&[("under_home_quarantine", Some(2))]));
        assert_eq!(out[1], Some(ManualValue::Number(2)));
        assert_eq!(m.apply(&line(&[]))[1], None);
    }

    #[test]
    fn bad_mappings_name_every_fault() {
        let t = Template::epidemic_daily();
        let mut m = Mapping::health_bureau_daily();
        m.key = EPIDEMIC_DAILY.into();
        m.office = " ".into();
        m.columns[2].key = "isolation_total".into();
        m.columns[3].header = String::new();
        m.columns[4].sources = vec!["masks".into()];
        m.columns[5].sources = vec!["releases".into(), "notes".into()];
        m.columns[6].sources.clear();
        let got: Vec<(String, String)> = m
            .validate(&t)
            .unwrap_err()
            .into_iter()
            .map(|e| (e.field, e.message))
            .collect();
        let fields: Vec<&str> = got.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            fields,
            vec![
                "key",
                "office",
                "columns[2].key",
                "columns[3].header",
                "columns[4].sources",
                "columns[5].sources",
                "columns[6].sources",
            ]
        );
        assert_eq!(got[4].1, "「疫情防控日报表」没有「masks」这项指标");
        assert_eq!(got[5].1, "「其他需报告事项」是文字，不能相加");
    }
}
