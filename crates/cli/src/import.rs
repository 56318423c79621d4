//! `linli import persons FILE --node ID`: reads an office's roster (xlsx/xls, or CSV in UTF-8,
//! GBK or GB18030), judges every row, and stores the good ones atomically — or, with rejected
//! rows and without `--partial`, stores nothing and says which rows and why.
//!
//! Reading and judging run on their own thread and hand chunks of judged rows to the storing
//! side, which adds them to one open transaction: the file is never held whole, and parsing
//! overlaps with the database's work.

use linli_core::kernel::clock::now_ms;
use linli_core::kernel::labels::Labelled;
use std::path::Path;
use std::time::{Duration, Instant};

use linli_core::registry::import_job::{
    judge_source, Counts, Judge, Judged, Outcome, RejectedRow, ReportLine, RosterSource,
};
use linli_core::{kernel::clock, Scope};
use linli_store::registry::{self, OnDuplicate, PersonImport};
use linli_store::Db;
use serde_json::json;

use crate::CliError;

/// Judged rows handed over at a time.
const CHUNK_ROWS: usize = 5000;

pub struct ImportArgs<'a> {
    pub file: &'a Path,
    pub node: i64,
    pub dry_run: bool,
    pub partial: bool,
    pub on_duplicate: OnDuplicate,
    pub report: Option<&'a Path>,
    pub rejects: Option<&'a Path>,
}

/// The report lines of an import, one per data row, kept compactly: a row with nothing to say
/// costs 16 bytes (a million-row import would otherwise hold ~110 MB of lines); rows with an
/// outcome other than a plain acceptance keep their full line in `details`.
#[derive(Default)]
struct Lines {
    rows: Vec<Compact>,
    details: Vec<ReportLine>,
}

#[derive(Clone, Copy)]
struct Compact {
    sheet_row: u32,
    /// Index into `details`, or `NO_DETAIL`.
    detail: u32,
    /// 0: none.
    person_id: i64,
}

const NO_DETAIL: u32 = u32::MAX;

impl Lines {
    fn push(&mut self, line: ReportLine) {
        let plain = line.outcome == Outcome::Accepted
            && line.reason.is_none()
            && line.person_id.is_none()
            && line.duplicate_of_row.is_none();
        let sheet_row = u32::try_from(line.sheet_row).unwrap_or(u32::MAX);
        let detail = if plain {
            NO_DETAIL
        } else {
            self.details.push(line);
            u32::try_from(self.details.len() - 1).unwrap_or(NO_DETAIL)
        };
        self.rows.push(Compact {
            sheet_row,
            detail,
            person_id: 0,
        });
    }

    fn set_person(&mut self, row: usize, id: i64) {
        if let Some(c) = self.rows.get_mut(row.wrapping_sub(1)) {
            c.person_id = id;
        }
    }

    /// Forgets the person ids: the import they were stored by was rolled back.
    fn clear_persons(&mut self) {
        for c in &mut self.rows {
            c.person_id = 0;
        }
    }

    /// The full line of data row `row`, made so if it was plain.
    fn detail_mut(&mut self, row: usize) -> Option<&mut ReportLine> {
        let c = self.rows.get_mut(row.wrapping_sub(1))?;
        if c.detail == NO_DETAIL {
            self.details.push(plain_line(row, c.sheet_row));
            c.detail = u32::try_from(self.details.len() - 1).unwrap_or(NO_DETAIL);
        }
        self.details.get_mut(c.detail as usize)
    }

    /// Line `k` (0-based) in full.
    fn line(&self, k: usize) -> Option<ReportLine> {
        let c = self.rows.get(k)?;
        let mut l = match self.details.get(c.detail as usize) {
            Some(d) => d.clone(),
            None => plain_line(k + 1, c.sheet_row),
        };
        if c.person_id != 0 {
            l.person_id = Some(c.person_id);
        }
        Some(l)
    }

    fn counts(&self) -> Counts {
        let mut c = Counts::of(&self.details);
        let plain = self.rows.iter().filter(|r| r.detail == NO_DETAIL).count();
        c.rows += plain;
        c.accepted += plain;
        c
    }
}

/// The line of an accepted row with nothing to say.
fn plain_line(row: usize, sheet_row: u32) -> ReportLine {
    ReportLine {
        row,
        sheet_row: sheet_row as usize,
        outcome: Outcome::Accepted,
        field: None,
        reason: None,
        duplicate_of_row: None,
        person_id: None,
    }
}

/// Writes the JSON report row by row (a million rows as one `serde_json::Value` would take
/// gigabytes): the head's fields, then `"rows": [...]`.
fn write_report(path: &Path, head: &serde_json::Value, lines: &Lines) -> Result<(), CliError> {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    let head = serde_json::to_string_pretty(head).unwrap_or_else(|_| "{}".into());
    // The head is an object: reopen it to append the rows.
    let head = head.trim_end().trim_end_matches('}').trim_end();
    write!(out, "{head},\n  \"rows\": [")?;
    for k in 0..lines.rows.len() {
        if let Some(l) = lines.line(k) {
            let sep = if k == 0 { "" } else { "," };
            let row = serde_json::to_string(&l).unwrap_or_default();
            write!(out, "{sep}\n    {row}")?;
        }
    }
    writeln!(out, "\n  ]\n}}")?;
    out.flush()?;
    Ok(())
}

/// What the reading thread learnt about the file.
struct Source {
    /// `UTF-8` or `GB18030` for a CSV; `xlsx`, `xls`… for a workbook.
    format: String,
    sheet: Option<String>,
    header_rows: Vec<Vec<String>>,
    ignored: Vec<String>,
}

pub async fn persons(db: &Db, args: ImportArgs<'_>) -> Result<(), CliError> {
    let started = Instant::now();
    let known_tags = registry::tags(db).await?;
    let judge = Judge::new(clock::today(), known_tags);
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<Judged>(2);
    let path = args.file.to_path_buf();
    let reader = std::thread::spawn(move || read_and_judge(&path, judge, &sender));

    let scope = Scope::operator();
    // A dry run goes through the same job, which then judges each chunk against the registry
    // as the import would and writes nothing: its verdicts are the import's.
    let mut job = Some(if args.dry_run {
        PersonImport::dry_run(db, &scope, args.node, args.on_duplicate).await?
    } else {
        PersonImport::begin(db, &scope, args.node, args.on_duplicate).await?
    });
    // Drawn on a terminal only (indicatif stays quiet when stderr is a file or a pipe).
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} 已处理 {pos} 行  {per_sec}  {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    let mut lines = Lines::default();
    let mut rejected: Vec<RejectedRow> = Vec::new();
    // From the lines, not the rejected rows' cells: those are kept only up to a limit.
    let mut any_rejected = false;
    while let Some(chunk) = receiver.recv().await {
        bar.inc(chunk.lines.len() as u64);
        any_rejected |= chunk.lines.iter().any(|l| l.outcome == Outcome::Rejected);
        for l in chunk.lines {
            lines.push(l);
        }
        rejected.extend(chunk.rejected);
        if any_rejected && !args.partial && job.is_some() {
            // Nothing will be stored: roll back now and only judge the rest for the report.
            job = None;
            lines.clear_persons();
            bar.set_message("有被拒绝的行，不保存；继续检查其余各行");
        }
        if let Some(j) = job.as_mut() {
            for (row, id) in j.add(chunk.rows, now_ms()).await? {
                lines.set_person(row, id);
            }
        }
    }
    let source = reader
        .join()
        .map_err(|_| CliError::Usage("the reading thread failed".into()))??;
    bar.finish_and_clear();
    if let Some(sheet) = &source.sheet {
        println!("reading sheet 「{sheet}」");
    }
    if !source.ignored.is_empty() {
        println!("columns left out: {}", source.ignored.join("、"));
    }
    let counts = lines.counts();
    let mut stored = 0usize;
    let note = match job {
        None if args.dry_run => format!(
            "dry run: nothing was stored; {} row(s) rejected: the import would store nothing \
             (fix them, or pass --partial to store the good rows)",
            counts.rejected
        ),
        None => format!(
            "{} row(s) rejected: nothing was stored (fix them, or pass --partial to store the good rows)",
            counts.rejected
        ),
        Some(j) => {
            let name = args
                .file
                .file_name()
                .and_then(|f| f.to_str())
                .unwrap_or("roster");
            let outcome = j.commit(name, json!(counts), now_ms()).await?;
            for (row, id) in &outcome.updated {
                if let Some(l) = lines.detail_mut(*row) {
                    l.updated(*id);
                }
            }
            for (row, existing) in &outcome.duplicates {
                if let Some(l) = lines.detail_mut(*row) {
                    l.registered(*existing);
                }
            }
            if args.dry_run {
                let mut line = format!(
                    "dry run: nothing was stored; the import would store {} person(s) and update {}",
                    outcome.stored_count,
                    outcome.updated.len()
                );
                if !outcome.homes_created.is_empty() {
                    line += &format!(
                        ", and make building/unit node(s): {}",
                        homes_text(&outcome.homes_created)
                    );
                }
                line
            } else {
                stored = outcome.stored_count;
                let mut line = format!(
                    "stored {stored} person(s), updated {}, {} new dwelling(s), {} new household(s)",
                    outcome.updated.len(),
                    outcome.dwellings_created,
                    outcome.households_created
                );
                if !outcome.homes_created.is_empty() {
                    line += &format!(
                        ", new building/unit node(s): {}",
                        homes_text(&outcome.homes_created)
                    );
                }
                if outcome.rooms_unplaced > 0 {
                    line += &format!(
                        ", {} room(s) left on the node (their building number is not unique below it)",
                        outcome.rooms_unplaced
                    );
                }
                line
            }
        }
    };
    let counts = lines.counts();
    println!(
        "{}: {} data rows ({}) — accepted {}, flagged {}, rejected {}, duplicate {} — {:.1} s",
        args.file.display(),
        counts.rows,
        source.format,
        counts.accepted,
        counts.flagged,
        counts.rejected,
        counts.duplicate,
        started.elapsed().as_secs_f64()
    );
    for l in lines
        .details
        .iter()
        .filter(|l| {
            matches!(
                l.outcome,
                Outcome::Rejected | Outcome::Flagged | Outcome::Duplicate
            )
        })
        .take(50)
    {
        println!(
            "  row {:>5}  {:<9} {:<14} {}",
            l.sheet_row,
            l.outcome.as_str(),
            l.field.as_deref().unwrap_or(""),
            l.reason.as_deref().unwrap_or_default()
        );
    }
    println!("{note}");
    if let Some(path) = args.report {
        let head = json!({
            "file": args.file.display().to_string(),
            "format": source.format,
            "sheet": source.sheet,
            "node_id": args.node,
            "dry_run": args.dry_run,
            "stored": stored,
            "counts": counts,
        });
        write_report(path, &head, &lines)?;
    }
    if let Some(path) = args.rejects {
        let bytes =
            linli_core::registry::import_job::rejected_rows_xlsx(&source.header_rows, &rejected)?;
        std::fs::write(path, bytes)?;
        if rejected.len() < counts.rejected {
            // The reader keeps a bounded number of them (`Limits::rejected_rows`).
            println!(
                "the first {} of {} rejected row(s) written to {}",
                rejected.len(),
                counts.rejected,
                path.display()
            );
        } else {
            println!(
                "{} rejected row(s) written to {}",
                rejected.len(),
                path.display()
            );
        }
    }
    if counts.rejected > 0 && !args.partial && !args.dry_run {
        return Err(CliError::Usage(format!(
            "{} row(s) rejected; nothing stored",
            counts.rejected
        )));
    }
    Ok(())
}

/// Reads the file row by row on this thread, judging as it goes, and sends the judged rows in
/// chunks; a closed channel means the storing side failed, and reading stops.
fn read_and_judge(
    path: &Path,
    judge: Judge,
    sender: &tokio::sync::mpsc::Sender<Judged>,
) -> Result<Source, CliError> {
    let info = judge_source(RosterSource::File(path), judge, CHUNK_ROWS, |chunk| {
        sender.blocking_send(chunk).is_ok()
    })?;
    Ok(Source {
        format: match (&info.sheet, info.encoding) {
            (Some((format, _)), _) => format.as_str().to_owned(),
            (None, encoding) => encoding.unwrap_or("UTF-8").to_owned(),
        },
        sheet: info.sheet.map(|(_, name)| name),
        header_rows: info.header_rows,
        ignored: info.ignored,
    })
}

/// The building and unit nodes an import made (or would make), each with the node it goes
/// under: `7栋（属甲网格） 3栋2单元（属3栋）`.
fn homes_text(homes: &[linli_store::registry::NewHome]) -> String {
    homes
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}
