//! An import job's pure part, shared by `linli import` and the web upload page: rows arrive one
//! at a time from a streaming reader (CSV or xlsx), the header is found among the first rows,
//! every data row gets its verdict and a report line, and the rows to store come out in order.
//! Nothing here holds the whole file, so a million-row roster is judged in constant memory
//! apart from the report lines.

use serde::Serialize;

use crate::labelled;
use crate::registry::limits::Limits;
use crate::registry::roster::{Assessor, HeaderMap, RosterRow, Verdict};
use crate::registry::PersonDraft;
use crate::CoreError;

/// One judged row to store: its data row number, the parsed person and the warnings it was
/// flagged with.
#[derive(Debug, Clone)]
pub struct ImportRow {
    pub row: usize,
    pub draft: PersonDraft,
    pub warnings: Vec<CoreError>,
    /// Whether the roster had a category cell for this row (the draft's category has a
    /// default, which must not overwrite a stored one when an import updates a person).
    pub category_given: bool,
}

/// A rejected row as the spreadsheet had it, for the file of rejected rows staff fix and
/// import again.
#[derive(Debug, Clone)]
pub struct RejectedRow {
    pub sheet_row: usize,
    pub cells: Vec<String>,
    pub reason: String,
}

/// What judging some rows gave: report lines, rows to store, rejected rows' cells.
#[derive(Debug, Default)]
pub struct Judged {
    pub lines: Vec<ReportLine>,
    pub rows: Vec<ImportRow>,
    pub rejected: Vec<RejectedRow>,
}

/// The whole judging side of an import job, fed one spreadsheet row at a time.
#[derive(Debug)]
pub struct Judge {
    stream: RosterStream,
    assessor: Assessor,
    known_tags: Vec<String>,
    ready: Vec<RosterRow>,
    /// Cells of the rows fed since the last `take`, by sheet row, kept only until judged so
    /// rejected rows can be written back as they were.
    raw: std::collections::HashMap<usize, Vec<String>>,
    /// The header row(s) as the file had them.
    header_rows: Vec<Vec<String>>,
    /// The sheet row of every data row so far (4 bytes a row), so a duplicate's reason names
    /// the row it repeats as staff see it.
    sheet_rows: Vec<u32>,
    judged: Judged,
    limits: Limits,
    /// Rejected rows whose cells were kept, and their size: past [`Limits::rejected_rows`] or
    /// [`Limits::rejected_bytes`] a rejected row is reported but its cells are dropped.
    kept_rejected: usize,
    kept_rejected_bytes: usize,
}

impl Judge {
    pub fn new(today: time::Date, known_tags: Vec<String>) -> Judge {
        Judge {
            stream: RosterStream::new(),
            assessor: Assessor::new(today),
            known_tags,
            ready: Vec::new(),
            raw: std::collections::HashMap::new(),
            header_rows: Vec::new(),
            sheet_rows: Vec::new(),
            judged: Judged::default(),
            limits: Limits::default(),
            kept_rejected: 0,
            kept_rejected_bytes: 0,
        }
    }

    /// The same judge within other limits than the default ones (tests use tiny ones).
    pub fn within(mut self, limits: Limits) -> Judge {
        self.limits = limits;
        self
    }

    /// The limits the file is read and judged within.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Feeds one row; fails when the first rows hold no header.
    pub fn push(&mut self, sheet_row: usize, cells: Vec<String>) -> Result<(), CoreError> {
        let before = self.stream.header().is_some();
        if self.raw.len() < BUFFERED_ROWS || before {
            self.raw.insert(sheet_row, cells.clone());
        }
        self.stream.push(sheet_row, cells, &mut self.ready)?;
        if !before && self.stream.header().is_some() {
            self.keep_header_rows();
        }
        self.judge_ready();
        Ok(())
    }

    /// Ends the input (a short file's header is looked for now).
    pub fn finish(&mut self) -> Result<(), CoreError> {
        let before = self.stream.header().is_some();
        self.stream.finish(&mut self.ready)?;
        if !before {
            self.keep_header_rows();
        }
        self.judge_ready();
        Ok(())
    }

    /// How many rows are judged and waiting to be taken.
    pub fn pending(&self) -> usize {
        self.judged.lines.len()
    }

    /// The judged rows so far, leaving none.
    pub fn take(&mut self) -> Judged {
        std::mem::take(&mut self.judged)
    }

    /// The header row(s), once found.
    pub fn header_rows(&self) -> &[Vec<String>] {
        &self.header_rows
    }

    /// Header cells that named no known column.
    pub fn ignored_columns(&self) -> Vec<String> {
        self.stream
            .header()
            .map(|h| h.ignored().iter().map(|(_, l)| l.clone()).collect())
            .unwrap_or_default()
    }

    fn keep_header_rows(&mut self) {
        if let Some(first) = self.stream.first_data_row() {
            let mut rows: Vec<usize> = self.raw.keys().copied().filter(|r| *r < first).collect();
            rows.sort_unstable();
            // The header is the last one or two rows above the data (title rows above it are
            // not repeated).
            let header_at = self.stream.header_row().unwrap_or(first.saturating_sub(1));
            self.header_rows = rows
                .into_iter()
                .filter(|r| *r >= header_at)
                .filter_map(|r| self.raw.get(&r).cloned())
                .collect();
        }
    }

    fn judge_ready(&mut self) {
        for row in std::mem::take(&mut self.ready) {
            let (mut line, draft) = judge(&mut self.assessor, &row, &self.known_tags);
            self.sheet_rows
                .push(u32::try_from(row.sheet_row).unwrap_or(u32::MAX));
            if let Some(at) = line
                .duplicate_of_row
                .and_then(|r| self.sheet_rows.get(r.wrapping_sub(1)))
            {
                line.reason = Some(format!("与第 {at} 行是同一人（证件号码相同），未重复导入"));
            }
            let cells = self.raw.remove(&row.sheet_row);
            if line.outcome == Outcome::Rejected {
                let cells = cells.unwrap_or_default();
                // A String's own 24 bytes count too: a row of empty cells is not free.
                let size: usize = cells.iter().map(|c| c.len() + 24).sum();
                if self.kept_rejected < self.limits.rejected_rows
                    && self.kept_rejected_bytes + size <= self.limits.rejected_bytes
                {
                    self.kept_rejected += 1;
                    self.kept_rejected_bytes += size;
                    self.judged.rejected.push(RejectedRow {
                        sheet_row: row.sheet_row,
                        cells,
                        reason: line.reason.clone().unwrap_or_default(),
                    });
                }
            }
            if let Some((draft, warnings)) = draft {
                self.judged.rows.push(ImportRow {
                    row: row.row,
                    draft,
                    warnings,
                    category_given: row.fields.category.is_some(),
                });
            }
            self.judged.lines.push(line);
        }
        // Rows that held no person (blank, totals) leave their cells behind.
        if self.stream.header().is_some() {
            let last = self.judged.lines.last().map(|l| l.sheet_row).unwrap_or(0);
            self.raw.retain(|r, _| *r > last);
        }
    }
}

/// Where a roster's rows come from: a file (the CLI) or an upload held in memory (the web).
#[derive(Debug, Clone, Copy)]
pub enum RosterSource<'a> {
    File(&'a std::path::Path),
    Bytes(&'a [u8]),
}

/// What reading a source learnt about it.
#[derive(Debug, Clone)]
pub struct SourceInfo {
    /// The workbook's format and the sheet read, for a workbook.
    pub sheet: Option<(crate::registry::sheet::WorkbookFormat, String)>,
    /// `UTF-8` or `GB18030`, for a CSV.
    pub encoding: Option<&'static str>,
    /// The header row(s) as the file had them.
    pub header_rows: Vec<Vec<String>>,
    /// Header cells that named no known column.
    pub ignored: Vec<String>,
}

/// Reads a roster row by row — a workbook (found by its first bytes, whatever its name) or a
/// CSV — judging as it goes, and hands the judged rows to `on_chunk` `chunk_rows` at a time;
/// `on_chunk` returns `false` to stop early (the storing side failed). Fails when no header is
/// found or the file cannot be read.
pub fn judge_source(
    source: RosterSource<'_>,
    mut judge: Judge,
    chunk_rows: usize,
    mut on_chunk: impl FnMut(Judged) -> bool,
) -> Result<SourceInfo, CoreError> {
    let unreadable = |e: std::io::Error| CoreError::invalid("file", format!("无法读取文件：{e}"));
    let limits = *judge.limits();
    // The first failure (no header found) stops the reading and is returned.
    let mut failure: Option<CoreError> = None;
    let mut stopped = false;
    let mut on_row = |sheet_row: usize, cells: Vec<String>| -> bool {
        if let Err(e) = limits.check_row(sheet_row, &cells) {
            failure = Some(e);
            return false;
        }
        if let Err(e) = judge.push(sheet_row, cells) {
            failure = Some(e);
            return false;
        }
        if judge.pending() >= chunk_rows && !on_chunk(judge.take()) {
            stopped = true;
            return false;
        }
        true
    };
    let (sheet, encoding) = match source {
        RosterSource::File(path) => {
            let mut magic = [0u8; 8];
            let mut file = std::fs::File::open(path).map_err(unreadable)?;
            let n = std::io::Read::read(&mut file, &mut magic).map_err(unreadable)?;
            if crate::registry::sheet::is_workbook(&magic[..n]) {
                let info =
                    crate::registry::sheet::read_rows_within(path, &limits, |_, n, cells| {
                        on_row(n, cells)
                    })?;
                (Some((info.format, info.name)), None)
            } else {
                let file = std::fs::File::open(path).map_err(unreadable)?;
                (
                    None,
                    Some(crate::registry::roster::for_each_csv_row(
                        file,
                        &mut on_row,
                    )?),
                )
            }
        }
        RosterSource::Bytes(bytes) => {
            if crate::registry::sheet::is_workbook(bytes) {
                let info = crate::registry::sheet::read_rows_from_bytes_within(
                    bytes,
                    &limits,
                    |_, n, cells| on_row(n, cells),
                )?;
                (Some((info.format, info.name)), None)
            } else {
                (
                    None,
                    Some(crate::registry::roster::for_each_csv_row(
                        bytes,
                        &mut on_row,
                    )?),
                )
            }
        }
    };
    if let Some(e) = failure {
        return Err(e);
    }
    if !stopped {
        judge.finish()?;
        on_chunk(judge.take());
    }
    Ok(SourceInfo {
        sheet,
        encoding,
        header_rows: judge.header_rows().to_vec(),
        ignored: judge.ignored_columns(),
    })
}

/// The rejected rows as an xlsx staff can fix and import again: the file's own header row(s),
/// then each rejected row as it was, with two columns added — the row number it had and the
/// reason it was refused (the importer ignores both columns).
pub fn rejected_rows_xlsx(
    header_rows: &[Vec<String>],
    rejected: &[RejectedRow],
) -> Result<Vec<u8>, CoreError> {
    let width = header_rows
        .iter()
        .chain(rejected.iter().map(|r| &r.cells))
        .map(Vec::len)
        .max()
        .unwrap_or(0);
    let widen = |cells: &[String], extra: [&str; 2]| -> Vec<String> {
        let mut v = cells.to_vec();
        v.resize(width, String::new());
        v.extend(extra.iter().map(|s| (*s).to_owned()));
        v
    };
    let mut out = crate::registry::sheet::XlsxOut::new("被拒绝的行")?;
    for (i, h) in header_rows.iter().enumerate() {
        let extra = if i == 0 {
            ["原表行号", "拒绝原因"]
        } else {
            ["", ""]
        };
        out.header(&widen(h, extra))?;
    }
    for r in rejected {
        out.row(&widen(&r.cells, [&r.sheet_row.to_string(), &r.reason]))?;
    }
    out.finish()
}

/// How many rows may come before the header row (same bound as [`HeaderMap::detect`]), plus
/// one for a merged sub-header below it.
const BUFFERED_ROWS: usize = 21;

/// Finds the header in the first rows of a stream and turns every later row into a
/// [`RosterRow`]; blank, total and note rows are skipped as [`HeaderMap::extract`] does.
#[derive(Debug, Default)]
pub struct RosterStream {
    /// Rows before the header was found, indexed by sheet row − 1 (gaps filled with blank rows).
    buffer: Vec<Vec<String>>,
    header: Option<HeaderMap>,
    /// Sheet rows of the header and of the first row after it.
    header_row: Option<usize>,
    first_data_row: Option<usize>,
    data_rows: usize,
}

impl RosterStream {
    pub fn new() -> RosterStream {
        RosterStream::default()
    }

    /// The header, once found.
    pub fn header(&self) -> Option<&HeaderMap> {
        self.header.as_ref()
    }

    /// The sheet row of the (first) header row, once found.
    pub fn header_row(&self) -> Option<usize> {
        self.header_row
    }

    /// The sheet row just below the header, once found.
    pub fn first_data_row(&self) -> Option<usize> {
        self.first_data_row
    }

    /// Feeds one row (`sheet_row` is 1-based as the spreadsheet shows it, rows in increasing
    /// order); data rows now ready are appended to `out`. Fails when the first rows hold no
    /// header.
    pub fn push(
        &mut self,
        sheet_row: usize,
        cells: Vec<String>,
        out: &mut Vec<RosterRow>,
    ) -> Result<(), CoreError> {
        match &self.header {
            Some(_) => {
                self.emit(sheet_row, &cells, out);
                Ok(())
            }
            None => {
                if sheet_row > BUFFERED_ROWS {
                    self.detect(out)?;
                    self.emit(sheet_row, &cells, out);
                    return Ok(());
                }
                self.buffer
                    .resize_with(sheet_row.saturating_sub(1), Vec::new);
                self.buffer.push(cells);
                if self.buffer.len() >= BUFFERED_ROWS {
                    self.detect(out)?;
                }
                Ok(())
            }
        }
    }

    /// Ends the stream: a short file's header is looked for now.
    pub fn finish(&mut self, out: &mut Vec<RosterRow>) -> Result<(), CoreError> {
        if self.header.is_none() {
            self.detect(out)?;
        }
        Ok(())
    }

    fn detect(&mut self, out: &mut Vec<RosterRow>) -> Result<(), CoreError> {
        let buffer = std::mem::take(&mut self.buffer);
        let (header, first) = HeaderMap::detect(&buffer)?;
        self.header = Some(header);
        self.first_data_row = Some(first + 1);
        // The header's own first row: the lowest start from which detection still ends at the
        // same data row (a two-row header starts one above its sub-header).
        self.header_row = (0..first)
            .rev()
            .find(|&i| HeaderMap::detect(&buffer[i..]).is_ok_and(|(_, f)| i + f == first))
            .map(|i| i + 1);
        for (i, cells) in buffer.iter().enumerate().skip(first) {
            self.emit(i + 1, cells, out);
        }
        Ok(())
    }

    fn emit(&mut self, sheet_row: usize, cells: &[String], out: &mut Vec<RosterRow>) {
        let Some(header) = &self.header else { return };
        if let Some((fields, errors)) = header.read_row(cells) {
            self.data_rows += 1;
            out.push(RosterRow {
                row: self.data_rows,
                sheet_row,
                fields,
                errors,
            });
        }
    }
}

labelled! {
    /// A row's outcome as the report gives it.
    pub enum Outcome: "outcome" {
        #[strum(serialize = "accepted", props(zh = "导入"))]
        Accepted,
        #[strum(serialize = "flagged", props(zh = "导入（待核实）"))]
        Flagged,
        #[strum(serialize = "rejected", props(zh = "拒绝"))]
        Rejected,
        #[strum(serialize = "duplicate", props(zh = "重复"))]
        Duplicate,
    }
}

/// One data row of the import report.
#[derive(Debug, Clone, Serialize)]
pub struct ReportLine {
    /// 1-based among the data rows.
    pub row: usize,
    /// The row number the spreadsheet shows (for CSV, the line number).
    pub sheet_row: usize,
    pub outcome: Outcome,
    pub field: Option<String>,
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duplicate_of_row: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub person_id: Option<i64>,
}

impl ReportLine {
    /// The row's ID number is registered already, and the import skips it; `existing` is the
    /// stored person when the importer may see them.
    pub fn registered(&mut self, existing: Option<i64>) {
        self.outcome = Outcome::Duplicate;
        self.field = Some("id_number".into());
        self.reason = Some(match existing {
            Some(id) => format!("已登记（居民编号 {id}），跳过"),
            None => "已在其他辖区登记，跳过".into(),
        });
        self.person_id = existing;
    }

    /// The row's ID number is registered already, and the import updates that person.
    pub fn updated(&mut self, id: i64) {
        self.outcome = Outcome::Duplicate;
        self.field = Some("id_number".into());
        self.reason = Some(format!("已登记（居民编号 {id}），已按本表更新"));
        self.person_id = Some(id);
    }
}

/// Outcome counts of a report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub rows: usize,
    pub accepted: usize,
    pub flagged: usize,
    pub rejected: usize,
    pub duplicate: usize,
}

impl Counts {
    pub fn of(lines: &[ReportLine]) -> Counts {
        let mut c = Counts {
            rows: lines.len(),
            ..Counts::default()
        };
        for l in lines {
            match l.outcome {
                Outcome::Accepted => c.accepted += 1,
                Outcome::Flagged => c.flagged += 1,
                Outcome::Rejected => c.rejected += 1,
                Outcome::Duplicate => c.duplicate += 1,
            }
        }
        c
    }
}

/// Judges one row: its report line, and the person to store when it is accepted or flagged.
/// A tag the registry does not know rejects the row (tags are a fixed list kept by admins).
pub fn judge(
    assessor: &mut Assessor,
    row: &RosterRow,
    known_tags: &[String],
) -> (ReportLine, Option<(PersonDraft, Vec<CoreError>)>) {
    let a = assessor.assess(row);
    let warnings = match &a.verdict {
        Verdict::Flagged { warnings, .. } => warnings.clone(),
        _ => Vec::new(),
    };
    let unknown_tag = a
        .draft
        .as_ref()
        .and_then(|d| d.tags.iter().find(|t| !known_tags.contains(t)).cloned());
    let (outcome, field, reason, dup) = match (&a.verdict, unknown_tag) {
        (Verdict::Accepted { .. } | Verdict::Flagged { .. }, Some(tag)) => (
            Outcome::Rejected,
            Some("tags".to_owned()),
            Some(format!("没有「{tag}」这个标签；请管理员先在标签列表中添加")),
            None,
        ),
        (
            Verdict::Accepted {
                normalized_id,
                normalized_phone,
            },
            None,
        ) => {
            // Say what was cleaned, so staff can trust the stored value.
            let mut said = Vec::new();
            if normalized_id.is_some() {
                said.push("证件号码已规范化（去空格、小写 x 改为大写）");
            }
            if normalized_phone.is_some() {
                said.push("电话号码已规范化");
            }
            let reason = (!said.is_empty()).then(|| said.join("；"));
            (Outcome::Accepted, None, reason, None)
        }
        (Verdict::Flagged { warnings, .. }, None) => (
            Outcome::Flagged,
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
        (Verdict::Rejected { field, reason }, _) => (
            Outcome::Rejected,
            Some(field.clone()),
            Some(reason.clone()),
            None,
        ),
        (Verdict::Duplicate { of_row }, _) => (
            Outcome::Duplicate,
            Some("id_number".to_owned()),
            Some(format!(
                "与第 {of_row} 条数据是同一人（证件号码相同），未重复导入"
            )),
            Some(*of_row),
        ),
    };
    let draft = match outcome {
        Outcome::Accepted | Outcome::Flagged => a.draft.map(|d| (d, warnings)),
        _ => None,
    };
    (
        ReportLine {
            row: row.row,
            sheet_row: row.sheet_row,
            outcome,
            field,
            reason,
            duplicate_of_row: dup,
            person_id: None,
        },
        draft,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::clock::parse_date;

    #[test]
    fn codes_and_labels_stay_as_stored_and_shown() {
        use crate::kernel::labels::assert_table;
        assert_table(&[
            (Outcome::Accepted, "accepted", "导入"),
            (Outcome::Flagged, "flagged", "导入（待核实）"),
            (Outcome::Rejected, "rejected", "拒绝"),
            (Outcome::Duplicate, "duplicate", "重复"),
        ]);
    }

    fn cells(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    fn stream(rows: &[(usize, Vec<String>)]) -> Result<Vec<RosterRow>, CoreError> {
        let mut s = RosterStream::new();
        let mut out = Vec::new();
        for (n, r) in rows {
            s.push(*n, r.clone(), &mut out)?;
        }
        s.finish(&mut out)?;
        Ok(out)
    }

    #[test]
    fn streamed_rows_match_the_whole_file_reader() {
        let mut rows = vec![
            (1, cells(&["里布嘎社区居民花名册"])),
            (2, cells(&[])),
            (3, cells(&["序号", "姓名", "身份证号码", "联系电话"])),
        ];
        for i in 0..40 {
            rows.push((4 + i, cells(&[&i.to_string(), "张三", "x", ""])));
        }
        rows.push((44, cells(&["合计", "40人", "", ""])));
        let streamed = stream(&rows).unwrap();
        let dense: Vec<Vec<String>> = rows.iter().map(|r| r.1.clone()).collect();
        let (header, first) = HeaderMap::detect(&dense).unwrap();
        let whole = header.extract(&dense, first);
        assert_eq!(streamed.len(), 40);
        assert_eq!(
            streamed
                .iter()
                .map(|r| (r.row, r.sheet_row))
                .collect::<Vec<_>>(),
            whole
                .iter()
                .map(|r| (r.row, r.sheet_row))
                .collect::<Vec<_>>()
        );
        assert_eq!(streamed[0].sheet_row, 4);
    }

    #[test]
    fn gaps_in_row_numbers_keep_the_sheet_numbering() {
        let rows = vec![
            (2, cells(&["姓名", "公民身份号码"])),
            (5, cells(&["李四", "1"])),
            (30, cells(&["王五", "2"])),
        ];
        let out = stream(&rows).unwrap();
        assert_eq!(
            out.iter().map(|r| r.sheet_row).collect::<Vec<_>>(),
            vec![5, 30]
        );
    }

    #[test]
    fn a_file_without_header_is_refused() {
        let rows: Vec<(usize, Vec<String>)> = (1..=30).map(|i| (i, cells(&["a", "b"]))).collect();
        let e = stream(&rows).unwrap_err();
        assert_eq!(e.field, "header");
        let e = stream(&[(1, cells(&["a"]))]).unwrap_err();
        assert_eq!(e.field, "header");
    }

    #[test]
    fn judging_gives_outcomes_and_drafts() {
        let rows = stream(&[
            (1, cells(&["姓名", "身份证号码", "标签"])),
            (2, cells(&["张三", "533401194306122186", ""])),
            (3, cells(&["张三", "533401194306122186", ""])),
            (4, cells(&["李四", "533401194306122187", ""])),
            (5, cells(&["王五", "533401194306122186 ", "外星人"])),
        ])
        .unwrap();
        let mut a = Assessor::new(parse_date("today", "2026-11-23").unwrap());
        let tags = vec!["低保".to_owned()];
        let judged: Vec<_> = rows.iter().map(|r| judge(&mut a, r, &tags)).collect();
        let outcomes: Vec<Outcome> = judged.iter().map(|j| j.0.outcome).collect();
        assert_eq!(
            outcomes,
            vec![
                Outcome::Accepted,
                Outcome::Duplicate,
                Outcome::Rejected,
                Outcome::Duplicate
            ]
        );
        assert!(judged[0].1.is_some());
        assert!(judged[1].1.is_none() && judged[2].1.is_none());
        assert_eq!(judged[1].0.duplicate_of_row, Some(1));
        assert_eq!(judged[2].0.field.as_deref(), Some("id_number"));
        let c = Counts::of(&judged.iter().map(|j| j.0.clone()).collect::<Vec<_>>());
        assert_eq!((c.rows, c.accepted, c.rejected, c.duplicate), (4, 1, 1, 2));
    }

    #[test]
    fn the_judge_keeps_header_rows_and_rejected_cells() {
        let mut j = Judge::new(parse_date("today", "2026-11-23").unwrap(), Vec::new());
        let rows = vec![
            cells(&["花名册"]),
            cells(&["姓名", "身份证号码", "现居住地址", "", ""]),
            cells(&["", "", "楼栋", "单元", "房号"]),
            cells(&["张三", "533401194306122186", "3", "2", "501"]),
            cells(&["李四", "5.33401E+17", "3", "2", "502"]),
            cells(&["合计", "", "", "", ""]),
        ];
        for (i, r) in rows.into_iter().enumerate() {
            j.push(i + 1, r).unwrap();
        }
        j.finish().unwrap();
        assert_eq!(
            j.header_rows().len(),
            2,
            "a merged two-row header is repeated whole"
        );
        assert_eq!(j.header_rows()[0][0], "姓名");
        let judged = j.take();
        assert_eq!(judged.lines.len(), 2);
        assert_eq!(judged.rows.len(), 1);
        assert_eq!(judged.rejected.len(), 1);
        assert_eq!(judged.rejected[0].sheet_row, 5);
        assert_eq!(judged.rejected[0].cells[1], "5.33401E+17");
        assert!(
            judged.rejected[0].reason.contains("丢失"),
            "{}",
            judged.rejected[0].reason
        );
        assert!(j.take().lines.is_empty(), "take leaves nothing behind");
        j.push(7, cells(&["王五", "533401194306122186", "3", "2", "503"]))
            .unwrap();
        let dup = j.take();
        assert_eq!(dup.lines[0].duplicate_of_row, Some(1));
        assert_eq!(
            dup.lines[0].reason.as_deref(),
            Some("与第 4 行是同一人（证件号码相同），未重复导入"),
            "a duplicate names the sheet row it repeats"
        );
    }
}
