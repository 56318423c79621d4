//! `linli import persons FILE --node ID`: reads an office's roster (CSV in UTF-8, GBK or
//! GB18030), judges every row, and stores the good ones atomically — or, with rejected rows and
//! without `--partial`, stores nothing and says which rows and why.

use std::path::Path;
use std::time::{Duration, Instant};

use linli_core::roster::{self, Assessor, Verdict};
use linli_core::{clock, Scope};
use linli_store::registry::{self, ImportRow, OnDuplicate};
use linli_store::Db;
use serde_json::json;

use crate::CliError;

pub struct ImportArgs<'a> {
    pub file: &'a Path,
    pub node: i64,
    pub dry_run: bool,
    pub partial: bool,
    pub on_duplicate: OnDuplicate,
    pub report: Option<&'a Path>,
}

/// One line of the report.
struct Line {
    row: usize,
    outcome: &'static str,
    field: Option<String>,
    reason: Option<String>,
    duplicate_of_row: Option<usize>,
    person_id: Option<i64>,
}

pub async fn persons(db: &Db, args: ImportArgs<'_>) -> Result<(), CliError> {
    let started = Instant::now();
    let ext = args
        .file
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    let (cells, encoding, sheet) =
        if matches!(ext.as_str(), "xlsx" | "xlsm" | "xls" | "xlsb" | "ods") {
            let (cells, sheet) = read_workbook(args.file)?;
            (cells, "xlsx", Some(sheet))
        } else {
            let bytes = std::fs::read(args.file)?;
            let (text, encoding) = roster::decode(&bytes);
            (roster::read_csv(&text)?, encoding, None)
        };
    if let Some(sheet) = &sheet {
        println!("reading sheet 「{sheet}」");
    }
    let (header, first) = roster::HeaderMap::detect(&cells)?;
    let rows = header.extract(&cells, first);
    let known_tags = registry::tags(db).await?;
    let today = clock::today();
    let mut assessor = Assessor::new(today);
    let mut lines = Vec::with_capacity(rows.len());
    let mut to_store = Vec::new();
    // Drawn on a terminal only (indicatif stays quiet when stderr is a file or a pipe).
    let bar = indicatif::ProgressBar::new(rows.len() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "判定 {bar:30} {pos}/{len} 行  {per_sec}  剩余 {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    for (k, row) in rows.iter().enumerate() {
        if k % 1000 == 0 {
            bar.set_position(k as u64);
        }
        let a = assessor.assess(row);
        let unknown_tag = a
            .draft
            .as_ref()
            .and_then(|d| d.tags.iter().find(|t| !known_tags.contains(t)).cloned());
        let (outcome, field, reason, dup) = match (&a.verdict, unknown_tag) {
            (Verdict::Accepted { .. } | Verdict::Flagged { .. }, Some(tag)) => (
                "rejected",
                Some("tags".to_owned()),
                Some(format!("没有「{tag}」这个标签；请管理员先在标签列表中添加")),
                None,
            ),
            (Verdict::Accepted { .. }, None) => ("accepted", None, None, None),
            (Verdict::Flagged { warnings, .. }, None) => (
                "flagged",
                warnings.first().map(|w| w.field.clone()),
                Some(
                    warnings
                        .iter()
                        .map(|w| w.message.clone())
                        .collect::<Vec<_>>()
                        .join("；"),
                ),
                None,
            ),
            (Verdict::Rejected { field, reason }, _) => {
                ("rejected", Some(field.clone()), Some(reason.clone()), None)
            }
            (Verdict::Duplicate { of_row }, _) => (
                "duplicate",
                Some("id_number".to_owned()),
                None,
                Some(*of_row),
            ),
        };
        if matches!(outcome, "accepted" | "flagged") {
            if let Some(draft) = a.draft {
                to_store.push(ImportRow {
                    row: row.row,
                    draft,
                });
            }
        }
        lines.push(Line {
            row: row.row,
            outcome,
            field,
            reason,
            duplicate_of_row: dup,
            person_id: None,
        });
    }
    bar.finish_and_clear();
    let rejected = lines.iter().filter(|l| l.outcome == "rejected").count();
    let mut stored = 0usize;
    let note = if args.dry_run {
        "dry run: nothing was stored".to_owned()
    } else if rejected > 0 && !args.partial {
        format!("{rejected} row(s) rejected: nothing was stored (fix them, or pass --partial to store the good rows)")
    } else {
        let source = args
            .file
            .file_name()
            .and_then(|f| f.to_str())
            .unwrap_or("roster");
        let spinner = indicatif::ProgressBar::new_spinner();
        spinner.set_message(format!("保存 {} 行（一个事务）…", to_store.len()));
        spinner.enable_steady_tick(Duration::from_millis(200));
        let outcome = registry::import_persons(
            db,
            &Scope::operator(),
            args.node,
            source,
            to_store,
            args.on_duplicate,
        )
        .await?;
        spinner.finish_and_clear();
        stored = outcome.stored.len();
        let at: std::collections::HashMap<usize, usize> =
            lines.iter().enumerate().map(|(i, l)| (l.row, i)).collect();
        for (row, id) in &outcome.stored {
            if let Some(l) = at.get(row).and_then(|i| lines.get_mut(*i)) {
                l.person_id = Some(*id);
            }
        }
        for (row, existing) in &outcome.duplicates {
            if let Some(l) = at.get(row).and_then(|i| lines.get_mut(*i)) {
                l.outcome = "duplicate";
                l.field = Some("id_number".into());
                l.reason = Some(match existing {
                    Some(id) => format!("已登记（居民编号 {id}），跳过"),
                    None => "已在其他辖区登记，跳过".into(),
                });
                l.person_id = *existing;
            }
        }
        format!(
            "stored {stored} person(s), {} new dwelling(s), {} new household(s)",
            outcome.dwellings_created, outcome.households_created
        )
    };
    let count = |o: &str| lines.iter().filter(|l| l.outcome == o).count();
    println!(
        "{}: {} data rows ({encoding}) — accepted {}, flagged {}, rejected {}, duplicate {} — {:.1} s",
        args.file.display(),
        lines.len(),
        count("accepted"),
        count("flagged"),
        count("rejected"),
        count("duplicate"),
        started.elapsed().as_secs_f64()
    );
    for l in lines
        .iter()
        .filter(|l| matches!(l.outcome, "rejected" | "flagged" | "duplicate"))
        .take(50)
    {
        println!(
            "  row {:>5}  {:<9} {:<14} {}",
            l.row,
            l.outcome,
            l.field.as_deref().unwrap_or(""),
            l.reason
                .clone()
                .or_else(|| l.duplicate_of_row.map(|r| format!("与第 {r} 行是同一人")))
                .unwrap_or_default()
        );
    }
    println!("{note}");
    if let Some(path) = args.report {
        let report = json!({
            "file": args.file.display().to_string(),
            "encoding": encoding,
            "node_id": args.node,
            "dry_run": args.dry_run,
            "stored": stored,
            "rows": lines.iter().map(|l| json!({
                "row": l.row,
                "outcome": l.outcome,
                "field": l.field,
                "reason": l.reason,
                "duplicate_of_row": l.duplicate_of_row,
                "person_id": l.person_id,
            })).collect::<Vec<_>>(),
        });
        std::fs::write(
            path,
            serde_json::to_string_pretty(&report).unwrap_or_default(),
        )?;
    }
    if rejected > 0 && !args.partial && !args.dry_run {
        return Err(CliError::Usage(format!(
            "{rejected} row(s) rejected; nothing stored"
        )));
    }
    Ok(())
}

/// The cells of the first sheet that holds a roster (instruction sheets and empty ones are
/// skipped), as text the roster parser reads: numbers as Excel shows them, dates as Excel serial
/// day numbers.
fn read_workbook(path: &Path) -> Result<(Vec<Vec<String>>, String), CliError> {
    use calamine::Reader;
    let mut book = calamine::open_workbook_auto(path)
        .map_err(|e| CliError::Usage(format!("cannot open {}: {e}", path.display())))?;
    let mut first_error = None;
    for name in book.sheet_names() {
        let range = match book.worksheet_range(&name) {
            Ok(r) => r,
            Err(e) => {
                first_error.get_or_insert(format!("sheet 「{name}」: {e}"));
                continue;
            }
        };
        let cells: Vec<Vec<String>> = range
            .rows()
            .map(|row| row.iter().map(cell_text).collect())
            .collect();
        match roster::HeaderMap::detect(&cells) {
            Ok(_) => return Ok((cells, name)),
            Err(e) => {
                first_error.get_or_insert(format!("sheet 「{name}」: {}", e.message));
            }
        }
    }
    Err(CliError::Usage(format!(
        "no sheet of {} holds a roster ({})",
        path.display(),
        first_error.unwrap_or_else(|| "the workbook is empty".into())
    )))
}

/// One cell as text. A whole number prints in full; a number too large to be exact (an ID
/// number Excel stored as a number) prints as Excel shows it, `5.33401E+17`, so the parser can
/// say that its last digits are lost.
fn cell_text(cell: &calamine::Data) -> String {
    use calamine::Data;
    match cell {
        Data::Empty | Data::Error(_) => String::new(),
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Int(i) => i.to_string(),
        Data::Bool(b) => b.to_string(),
        Data::Float(f) => float_text(*f),
        Data::DateTime(d) => float_text(d.as_f64().floor()),
    }
}

fn float_text(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{}", f as i64)
    } else if f.abs() >= 1e15 {
        let s = format!("{f:.5E}");
        s.replacen('E', "E+", 1)
    } else {
        f.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_as_excel_shows_them() {
        assert_eq!(float_text(13612348609.0), "13612348609");
        assert_eq!(float_text(533401194306122186.0), "5.33401E+17");
        assert_eq!(float_text(37.5), "37.5");
    }
}
