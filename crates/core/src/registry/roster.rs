//! Roster (花名册) import, the pure half: bytes to text, text to cells, cells to the fields of a
//! person, and fields to a verdict per data row. Reading xlsx, storing and reporting live in
//! the crates that do I/O; they feed cells in here and get verdicts out.
//!
//! Offices keep rosters in whatever layout their predecessor made, so nothing here asks the
//! user how the file is laid out: the encoding is detected, the header row is searched for
//! (below title rows, possibly split over two rows), columns are recognised by the names and
//! synonyms offices use, and cells are cleaned of what spreadsheets add (prefixes, number
//! formats, date serials) before the registry's own parsers judge them.
//!
//! The pipeline, all pure:
//! [`decode`] → [`read_csv`] → [`HeaderMap::detect`] → [`HeaderMap::extract`] → [`verdicts`]
//! (or [`Assessor`], row by row, for callers that stream and need the parsed drafts).

use std::collections::HashMap;
use std::fmt;

use time::macros::date;
use time::{Date, Duration, Month};

use crate::kernel::labels::Labelled;
use crate::registry::{DwellingAddress, PersonDraft, PersonInput};
use crate::{CoreError, DocumentKind};

/// How far down the header row may be: below it, a row is data, not a title.
const HEADER_SEARCH_ROWS: usize = 20;

/// The field name errors about the file's layout carry.
const HEADER_FIELD: &str = "header";

/// What the ID-number column may be called, for error messages.
const ID_LABELS: &str = "「身份证号码」「公民身份号码」「证件号码」或「身份证号」";

// ---------------------------------------------------------------------------------------------
// Bytes and text
// ---------------------------------------------------------------------------------------------

/// Decodes a roster file and names the encoding found. A byte-order mark decides (UTF-8 or
/// UTF-16, as Excel's "Unicode text" writes); otherwise valid UTF-8 is UTF-8, and anything else
/// is read as GB18030, the superset of GBK that Excel on a Chinese Windows saves CSV in. Staff
/// are never asked: few of them know what an encoding is, and Chinese text in GBK is almost
/// never valid UTF-8 by accident. Bytes that are not GB18030 either become U+FFFD, which the
/// header search then fails on with a clear message rather than importing mojibake.
pub fn decode(bytes: &[u8]) -> (String, &'static str) {
    if let Some((encoding, bom_len)) = encoding_rs::Encoding::for_bom(bytes) {
        let (text, _) = encoding.decode_without_bom_handling(&bytes[bom_len..]);
        return (text.into_owned(), encoding.name());
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => (text.to_owned(), "UTF-8"),
        Err(_) => {
            let (text, _) = encoding_rs::GB18030.decode_without_bom_handling(bytes);
            (text.into_owned(), "GB18030")
        }
    }
}

/// [`decode`] taking the bytes: plain UTF-8 (the common case, and the big files) becomes the
/// text without a copy.
pub fn decode_owned(bytes: Vec<u8>) -> (String, &'static str) {
    if encoding_rs::Encoding::for_bom(&bytes).is_some() {
        return decode(&bytes);
    }
    match String::from_utf8(bytes) {
        Ok(text) => (text, "UTF-8"),
        Err(e) => {
            let (text, _) = encoding_rs::GB18030.decode_without_bom_handling(e.as_bytes());
            (text.into_owned(), "GB18030")
        }
    }
}

/// Reads CSV text into rows of cells; rows may differ in length. Row `i` of the result is line
/// `i + 1` of the text: blank lines, and the extra lines of a cell that holds line breaks,
/// appear as empty rows, so a verdict can point at the line staff will see in an editor. Text
/// after a cell's closing quote is kept, as spreadsheet programs do, so reading only fails on
/// input no program writes. For large files, [`CsvRows`] gives the same rows one at a time.
pub fn read_csv(text: &str) -> Result<Vec<Vec<String>>, CoreError> {
    let mut rows: Vec<Vec<String>> = Vec::new();
    for record in CsvRows::new(text) {
        let (line, cells) = record?;
        rows.resize_with(line - 1, Vec::new);
        rows.push(cells);
    }
    Ok(rows)
}

/// The records of CSV text one at a time, each with its 1-based line number, so an import of
/// a million rows need not hold them all. Blank lines yield nothing.
pub struct CsvRows<'a> {
    text: &'a [u8],
    reader: csv::Reader<&'a [u8]>,
    record: csv::StringRecord,
    /// Where line breaks have been counted up to, and how many there were.
    counted_to: usize,
    line_breaks: usize,
    failed: bool,
}

impl<'a> CsvRows<'a> {
    pub fn new(text: &'a str) -> CsvRows<'a> {
        CsvRows {
            text: text.as_bytes(),
            reader: csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .from_reader(text.as_bytes()),
            record: csv::StringRecord::new(),
            counted_to: 0,
            line_breaks: 0,
            failed: false,
        }
    }
}

impl Iterator for CsvRows<'_> {
    type Item = Result<(usize, Vec<String>), CoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        match self.reader.read_record(&mut self.record) {
            Ok(true) => {
                // The reader's own line count lags behind blank lines, so lines are counted
                // here, from the byte where reading this record began (blank lines included).
                let mut start = self.record.position().map_or(self.counted_to, |p| {
                    usize::try_from(p.byte()).unwrap_or(self.counted_to)
                });
                while matches!(self.text.get(start), Some(b'\r' | b'\n')) {
                    start += 1;
                }
                self.line_breaks +=
                    count_line_breaks(self.text.get(self.counted_to..start).unwrap_or(&[]));
                self.counted_to = start.max(self.counted_to);
                let cells = self.record.iter().map(str::to_owned).collect();
                Some(Ok((self.line_breaks + 1, cells)))
            }
            Ok(false) => None,
            Err(_) => {
                self.failed = true;
                Some(Err(CoreError::invalid(
                    "file",
                    format!(
                        "第 {} 行之后无法按 CSV 格式读取，请在 Excel 中另存为 CSV 后重试",
                        self.line_breaks + 1
                    ),
                )))
            }
        }
    }
}

/// Line breaks as CSV readers take them: `\n`, `\r\n`, and a lone `\r`.
/// Bytes read at a time by [`for_each_csv_row`].
/// (1 MiB: bigger blocks read no faster and cost a million-row import 25 MB more at its peak.)
const CSV_BLOCK: usize = 1 << 20;

/// Reads a CSV roster from `input` in blocks, so a file of any size is never held whole: each
/// block is cut after its last line break outside quotes (a quote or a line feed byte never
/// occurs inside a UTF-8 or GB18030 character, so counting quote bytes finds the cut), decoded,
/// and read with [`CsvRows`]; `on_row` gets each record's line number in the whole file and its
/// cells, and returns `false` to stop. The encoding is decided on the first block as [`decode`]
/// decides it for a whole file, and named in the result. UTF-16 files (rare: Excel's "Unicode
/// text") are read whole.
pub fn for_each_csv_row(
    input: impl std::io::Read,
    on_row: impl FnMut(usize, Vec<String>) -> bool,
) -> Result<&'static str, CoreError> {
    csv_blocks(input, CSV_BLOCK, on_row)
}

fn csv_blocks(
    mut input: impl std::io::Read,
    block: usize,
    mut on_row: impl FnMut(usize, Vec<String>) -> bool,
) -> Result<&'static str, CoreError> {
    let unreadable = |e: std::io::Error| CoreError::invalid("file", format!("无法读取文件：{e}"));
    let mut pending: Vec<u8> = Vec::new();
    let mut encoding: Option<&'static encoding_rs::Encoding> = None;
    let mut lines_before = 0usize;
    let mut eof = false;
    while !eof {
        // Fill up to one more block.
        let start = pending.len();
        pending.resize(start + block, 0);
        let mut filled = start;
        while filled < pending.len() {
            match input.read(&mut pending[filled..]) {
                Ok(0) => {
                    eof = true;
                    break;
                }
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(unreadable(e)),
            }
        }
        pending.truncate(filled);
        if encoding.is_none() {
            if let Some((enc, bom_len)) = encoding_rs::Encoding::for_bom(&pending) {
                if enc != encoding_rs::UTF_8 {
                    // UTF-16: read the rest and decode whole.
                    input.read_to_end(&mut pending).map_err(unreadable)?;
                    let (text, name) = decode(&pending);
                    for record in CsvRows::new(&text) {
                        let (line, cells) = record?;
                        if !on_row(line, cells) {
                            break;
                        }
                    }
                    return Ok(name);
                }
                pending.drain(..bom_len);
            }
            // Valid UTF-8 up to a character cut at the block's end counts as UTF-8.
            let utf8 = match std::str::from_utf8(&pending) {
                Ok(_) => true,
                Err(e) => e.error_len().is_none() && !eof,
            };
            encoding = Some(if utf8 {
                encoding_rs::UTF_8
            } else {
                encoding_rs::GB18030
            });
        }
        // The cut: after the last line feed with an even number of quotes before it.
        let cut = if eof {
            pending.len()
        } else {
            let mut inside = false;
            let mut cut = None;
            for (i, &b) in pending.iter().enumerate() {
                match b {
                    b'"' => inside = !inside,
                    b'\n' if !inside => cut = Some(i + 1),
                    _ => {}
                }
            }
            match cut {
                Some(c) => c,
                None => continue, // one record longer than a block: read more
            }
        };
        let segment: Vec<u8> = pending.drain(..cut).collect();
        let text = match encoding {
            Some(enc) if enc == encoding_rs::UTF_8 => String::from_utf8(segment).map_err(|_| {
                CoreError::invalid(
                    "file",
                    format!(
                        "第 {} 行之后的内容不是 UTF-8 编码：请在 Excel 中把整个文件另存为「CSV UTF-8」后重试",
                        lines_before + 1
                    ),
                )
            })?,
            _ => encoding_rs::GB18030
                .decode_without_bom_handling(&segment)
                .0
                .into_owned(),
        };
        let mut rows = CsvRows::new(&text);
        rows.line_breaks = lines_before;
        for record in rows {
            let (line, cells) = record?;
            if !on_row(line, cells) {
                return Ok(encoding_label(encoding));
            }
        }
        lines_before += count_line_breaks(text.as_bytes());
    }
    Ok(encoding_label(encoding))
}

/// The names [`decode`] gives.
fn encoding_label(encoding: Option<&'static encoding_rs::Encoding>) -> &'static str {
    match encoding {
        Some(e) if e == encoding_rs::GB18030 => "GB18030",
        _ => "UTF-8",
    }
}

fn count_line_breaks(bytes: &[u8]) -> usize {
    bytes
        .iter()
        .enumerate()
        .filter(|&(i, &b)| b == b'\n' || (b == b'\r' && bytes.get(i + 1) != Some(&b'\n')))
        .count()
}

// ---------------------------------------------------------------------------------------------
// The header
// ---------------------------------------------------------------------------------------------

/// A column a roster may have. Most are fields of [`PersonInput`]; `Building`, `Unit` and
/// `Room` are combined into the address; `Serial` (序号) is recognised only to be ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Column {
    Serial,
    Name,
    Gender,
    EthnicGroup,
    IdKind,
    IdNumber,
    BirthDate,
    Phone,
    Relation,
    HukouAddress,
    Address,
    Building,
    Unit,
    Room,
    Category,
    Tags,
}

/// Every column with the names offices give it, compared after [`header_key`] has removed
/// spaces, required-field stars and remarks in parentheses. The first name is the label
/// shown back to staff.
const COLUMN_NAMES: &[(Column, &[&str])] = &[
    (Column::Serial, &["序号", "序"]),
    (Column::Name, &["姓名", "居民姓名", "人员姓名", "名字"]),
    (Column::Gender, &["性别"]),
    (Column::EthnicGroup, &["民族"]),
    (Column::IdKind, &["证件类型", "证件种类"]),
    (
        Column::IdNumber,
        &[
            "身份证号码",
            "公民身份号码",
            "证件号码",
            "身份证号",
            "身份证",
            "证件号",
            "公民身份证号码",
            "公民身份证号",
            "居民身份证号码",
            "居民身份证号",
            "身份号码",
        ],
    ),
    (
        Column::BirthDate,
        &["出生日期", "出生年月", "出生年月日", "生日"],
    ),
    (
        Column::Phone,
        &[
            "联系电话",
            "手机号码",
            "电话",
            "手机",
            "手机号",
            "电话号码",
            "联系方式",
        ],
    ),
    (
        Column::Relation,
        &["与户主关系", "关系", "与户主的关系", "户主关系"],
    ),
    (
        Column::HukouAddress,
        &[
            "户籍地址",
            "户籍地",
            "户籍所在地",
            "户口所在地",
            "户籍住址",
            "户籍地详址",
        ],
    ),
    (
        Column::Address,
        &[
            "现居住地址",
            "现住址",
            "居住地址",
            "现居住地",
            "现住地址",
            "现居地址",
            "住址",
            "家庭住址",
            "居住地",
        ],
    ),
    (
        Column::Building,
        &["楼栋", "楼栋号", "楼号", "栋", "幢", "幢号"],
    ),
    (Column::Unit, &["单元", "单元号"]),
    (Column::Room, &["房号", "房间号", "门牌号", "室", "房屋号"]),
    (
        Column::Category,
        &["人员类别", "人口类型", "人口类别", "人员类型"],
    ),
    (
        Column::Tags,
        &["标签", "特殊人群", "重点人群", "人员标签", "特殊人群类别"],
    ),
];

const COLUMN_COUNT: usize = 16;
const _: () = assert!(COLUMN_NAMES.len() == COLUMN_COUNT);

impl Column {
    /// The label shown back to staff: the usual Chinese column name.
    pub fn label_zh(self) -> &'static str {
        COLUMN_NAMES
            .iter()
            .find(|(c, _)| *c == self)
            .and_then(|(_, names)| names.first())
            .copied()
            .unwrap_or("")
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// A header cell reduced to what identifies it: whitespace (line breaks inside merged cells
/// too), required-field stars, colons and remarks in parentheses of either width are dropped,
/// so `身份证号码（必填）`, `* 姓 名` and `出生日期(yyyy-mm-dd)` match their plain names.
fn header_key(cell: &str) -> String {
    let mut key = String::new();
    let mut depth = 0usize;
    for c in cell.chars() {
        match c {
            '(' | '（' | '[' | '【' => depth += 1,
            ')' | '）' | ']' | '】' => depth = depth.saturating_sub(1),
            _ if depth > 0 => {}
            '*' | '＊' | ':' | '：' => {}
            c if c.is_whitespace() => {}
            c => key.push(c),
        }
    }
    key
}

/// The column a header cell names, if any.
fn column_named(cell: &str) -> Option<Column> {
    let key = header_key(cell);
    if key.is_empty() {
        return None;
    }
    COLUMN_NAMES
        .iter()
        .find(|(_, names)| names.contains(&key.as_str()))
        .map(|(c, _)| *c)
}

fn is_blank(cell: &str) -> bool {
    cell.trim().is_empty()
}

/// Which cell of a data row holds which column, found from the roster's header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderMap {
    /// By column, its cell index (the first column with that name wins).
    positions: [Option<usize>; COLUMN_COUNT],
    /// Header cells that named no known column, with their index: shown in the import
    /// preview so staff see what was left out.
    ignored: Vec<(usize, String)>,
}

impl HeaderMap {
    /// Finds the header within the first 20 rows: the first row naming both a name column and
    /// an ID-number column. Rows above it (a merged title such as 里布嘎社区居民花名册, a date
    /// line) are skipped. When the row below is a sub-header under merged cells (a 现居住地址
    /// cell above 楼栋 / 单元 / 房号), the two are read together. Returns the map and the index
    /// of the first row after the header.
    pub fn detect(rows: &[Vec<String>]) -> Result<(HeaderMap, usize), CoreError> {
        let mut partial: Option<(usize, Column)> = None;
        for (i, row) in rows.iter().take(HEADER_SEARCH_ROWS).enumerate() {
            let mut columns: Vec<Option<Column>> = row.iter().map(|c| column_named(c)).collect();
            let has = |c: Column| columns.contains(&Some(c));
            match (has(Column::Name), has(Column::IdNumber)) {
                (true, true) => {}
                (true, false) => {
                    partial.get_or_insert((i, Column::IdNumber));
                    continue;
                }
                (false, true) => {
                    partial.get_or_insert((i, Column::Name));
                    continue;
                }
                (false, false) => continue,
            }
            let mut first_data = i + 1;
            if let Some(below) = rows.get(i + 1) {
                if let Some(merged) = merge_sub_header(row, &columns, below) {
                    columns = merged;
                    first_data = i + 2;
                }
            }
            let mut positions = [None; COLUMN_COUNT];
            let mut ignored = Vec::new();
            for (j, column) in columns.iter().enumerate() {
                match column {
                    Some(c) if positions[c.index()].is_none() => positions[c.index()] = Some(j),
                    _ => {
                        let label = rows[i..first_data]
                            .iter()
                            .filter_map(|r| r.get(j))
                            .map(|c| c.trim())
                            .filter(|c| !c.is_empty())
                            .collect::<Vec<_>>()
                            .join("/");
                        if !label.is_empty() {
                            ignored.push((j, label));
                        }
                    }
                }
            }
            return Ok((HeaderMap { positions, ignored }, first_data));
        }
        Err(match partial {
            Some((i, Column::IdNumber)) => CoreError::invalid(
                HEADER_FIELD,
                format!(
                    "第 {} 行像是表头，但缺少身份证号码列：表头中应有{ID_LABELS}",
                    i + 1
                ),
            ),
            Some((i, _)) => CoreError::invalid(
                HEADER_FIELD,
                format!("第 {} 行像是表头，但缺少「姓名」列", i + 1),
            ),
            None if rows.iter().all(|r| r.iter().all(|c| is_blank(c))) => {
                CoreError::invalid(HEADER_FIELD, "文件中没有内容")
            }
            None => CoreError::invalid(
                HEADER_FIELD,
                format!(
                    "前 {HEADER_SEARCH_ROWS} 行中找不到表头：表头应至少包含「姓名」和身份证号码两列，\
                     身份证号码列可写作{ID_LABELS}"
                ),
            ),
        })
    }

    /// The cell index of `column`, if the roster has it.
    pub fn position(&self, column: Column) -> Option<usize> {
        self.positions[column.index()]
    }

    /// Header cells that named no known column (or repeated one already found), by index.
    pub fn ignored(&self) -> &[(usize, String)] {
        &self.ignored
    }

    /// Reads every data row from `first_data` on, skipping blank rows, total rows (合计, 总计,
    /// 小计), repeated header rows and signature or note lines below the table.
    pub fn extract(&self, rows: &[Vec<String>], first_data: usize) -> Vec<RosterRow> {
        let mut out = Vec::new();
        for (i, cells) in rows.iter().enumerate().skip(first_data) {
            if let Some((fields, errors)) = self.read_row(cells) {
                out.push(RosterRow {
                    row: out.len() + 1,
                    sheet_row: i + 1,
                    fields,
                    errors,
                });
            }
        }
        out
    }

    /// One row's fields, or `None` when the row holds no person. Streaming readers call this
    /// directly and number the rows themselves.
    pub fn read_row(&self, cells: &[String]) -> Option<(RowFields, Vec<CoreError>)> {
        if self.is_not_a_person(cells) {
            return None;
        }
        let mut errors = Vec::new();
        let raw = |c: Column| {
            self.position(c)
                .and_then(|j| cells.get(j))
                .map(|s| clean_cell(s))
        };
        let value = |c: Column| raw(c).filter(|s| !is_placeholder(s));
        let owned = |c: Column| value(c).map(str::to_owned);

        let (birth_date, birth_month) = match value(Column::BirthDate) {
            None => (None, None),
            Some(s) => match read_date(s) {
                DateCell::Day(d) => (Some(crate::kernel::clock::format_date(d)), None),
                DateCell::Month(y, m) => (None, Some((y, m))),
                // Passed on as written, so the registry's parser names the cell in its error.
                DateCell::Unrecognised => (Some(s.to_owned()), None),
            },
        };

        let mut address = None;
        let mut address_prefix = None;
        if let Some(s) = value(Column::Address) {
            match dwelling_part(s) {
                Some((prefix, dwelling)) => {
                    address = Some(dwelling);
                    address_prefix = prefix;
                }
                None => errors.push(CoreError::invalid(
                    "address",
                    format!("「{s}」中找不到楼栋、单元或房号（应如 3栋2单元501室）"),
                )),
            }
        } else {
            let parts = [Column::Building, Column::Unit, Column::Room]
                .map(|c| value(c).unwrap_or_default());
            if parts.iter().any(|p| !p.is_empty()) {
                match DwellingAddress::from_parts(parts[0], parts[1], parts[2]) {
                    Ok(a) => address = Some(a.to_string()),
                    Err(e) => errors.push(CoreError::invalid(
                        "address",
                        format!(
                            "楼栋「{}」单元「{}」房号「{}」：{}",
                            parts[0], parts[1], parts[2], e.message
                        ),
                    )),
                }
            }
        }

        let fields = RowFields {
            name: raw(Column::Name).unwrap_or_default().to_owned(),
            gender: value(Column::Gender).map(|g| match g {
                "男性" => "男".to_owned(),
                "女性" => "女".to_owned(),
                _ => g.to_owned(),
            }),
            birth_date,
            birth_month,
            ethnic_group: owned(Column::EthnicGroup),
            id_kind: value(Column::IdKind).map(document_kind),
            id_number: owned(Column::IdNumber),
            phone: owned(Column::Phone),
            hukou_address: owned(Column::HukouAddress),
            category: value(Column::Category).map(category),
            tags: value(Column::Tags).map(split_tags).unwrap_or_default(),
            relation: value(Column::Relation).map(relation),
            address,
            address_prefix,
        };
        Some((fields, errors))
    }

    /// Blank rows (a 序号 alone is a numbered but unfilled template row), total rows, a header
    /// repeated on every printed page, and the signature and note lines offices put below the
    /// table (制表人：…, 注：…) when they carry no ID number.
    fn is_not_a_person(&self, cells: &[String]) -> bool {
        let serial = self.position(Column::Serial);
        if cells
            .iter()
            .enumerate()
            .all(|(j, c)| Some(j) == serial || is_blank(c))
        {
            return true;
        }
        // The first filled cell, the serial column included: 合计 is often written there.
        let first = cells.iter().map(|c| c.trim()).find(|c| !c.is_empty());
        let starts = |words: &[&str]| {
            first.is_some_and(|f| {
                let squeezed = || f.chars().filter(|c| !c.is_whitespace());
                words
                    .iter()
                    .any(|w| squeezed().take(w.chars().count()).eq(w.chars()))
            })
        };
        if starts(&["合计", "总计", "小计"]) {
            return true;
        }
        // Rows with a number in the ID column are people (or people with typos), whatever else
        // they say; only the others need looking at as headers or notes.
        let id_cell = self.position(Column::IdNumber).and_then(|j| cells.get(j));
        if id_cell.is_some_and(|c| c.bytes().any(|b| b.is_ascii_digit())) {
            return false;
        }
        let named = |c: Column| {
            self.position(c)
                .and_then(|j| cells.get(j))
                .and_then(|cell| column_named(cell))
                == Some(c)
        };
        if named(Column::Name) && named(Column::IdNumber) {
            return true;
        }
        let no_id = id_cell.is_none_or(|c| is_blank(c));
        no_id
            && starts(&[
                "制表",
                "填表",
                "填报",
                "审核",
                "审批",
                "负责人",
                "注：",
                "注:",
                "备注",
                "说明",
            ])
    }
}

/// Reads a second header row under merged cells, returning the combined column map, or
/// `None` when `below` is not a sub-header. A sub-header holds at least one column name, and
/// each of its cells sits under a merged group: below an empty top cell (the tail of a merged
/// one) or below a top cell followed by empty ones. A data row fails this test because its
/// cells sit under single-column headers, which is what keeps row 1 of a one-row header from
/// being read as header.
fn merge_sub_header(
    top: &[String],
    top_columns: &[Option<Column>],
    below: &[String],
) -> Option<Vec<Option<Column>>> {
    let width = top.len().max(below.len());
    let top_blank = |j: usize| top.get(j).is_none_or(|c| is_blank(c));
    // A column is under a group when its top cell is empty or is followed by an empty one.
    let grouped = |j: usize| top_blank(j) || (j + 1 < width && top_blank(j + 1));
    let mut named = 0;
    for (j, cell) in below.iter().enumerate() {
        if is_blank(cell) {
            continue;
        }
        if !grouped(j) {
            return None;
        }
        if column_named(cell).is_some() {
            named += 1;
        }
    }
    if named == 0 {
        return None;
    }
    let mut columns: Vec<Option<Column>> = (0..width)
        .map(|j| top_columns.get(j).copied().flatten())
        .collect();
    for (j, cell) in below.iter().enumerate() {
        if !is_blank(cell) {
            columns[j] = column_named(cell);
        }
    }
    Some(columns)
}

// ---------------------------------------------------------------------------------------------
// Rows
// ---------------------------------------------------------------------------------------------

/// One data row of a roster: where it is, and its fields ready for [`PersonDraft::parse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RosterRow {
    /// 1-based among the data rows (blank, total and note rows are not counted).
    pub row: usize,
    /// 1-based index in the rows given to [`HeaderMap::extract`]: the CSV line number, or the
    /// sheet row when the rows start at the sheet's first row.
    pub sheet_row: usize,
    pub fields: RowFields,
    /// Problems found while reading the cells, before the registry's parsers saw them (an
    /// address with no dwelling in it, split address columns that do not make one).
    pub errors: Vec<CoreError>,
}

/// A roster row's cells as owned, cleaned strings, in the shape of [`PersonInput`]. Cells are
/// trimmed; placeholders for "nothing" (无, /, -) are `None`; dates are `YYYY-MM-DD`; the
/// address is the dwelling part alone. Values are otherwise as written: judging them is the
/// registry's job.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct RowFields {
    pub name: String,
    pub gender: Option<String>,
    pub birth_date: Option<String>,
    /// A 出生年月 cell that gave only a year and month (`1985.03`, `1985年3月`): checked
    /// against the ID number instead of being stored as a made-up day.
    pub birth_month: Option<(i32, u8)>,
    pub ethnic_group: Option<String>,
    pub id_kind: Option<String>,
    pub id_number: Option<String>,
    pub phone: Option<String>,
    pub hukou_address: Option<String>,
    pub category: Option<String>,
    pub tags: Vec<String>,
    pub relation: Option<String>,
    /// The dwelling part of the current address: `11栋2单元1301室`.
    pub address: Option<String>,
    /// What stood before the dwelling part (`香格里拉市建塘镇里布嘎社区`). The importer should
    /// check that it ends with the name of the node being imported into: a person whose
    /// address names another community belongs to that community's roster.
    pub address_prefix: Option<String>,
}

impl RowFields {
    /// The fields as [`PersonDraft::parse`] takes them.
    pub fn input(&self) -> PersonInput<'_> {
        PersonInput {
            name: &self.name,
            gender: self.gender.as_deref(),
            birth_date: self.birth_date.as_deref(),
            ethnic_group: self.ethnic_group.as_deref(),
            id_kind: self.id_kind.as_deref(),
            id_number: self.id_number.as_deref(),
            phone: self.phone.as_deref(),
            hukou_address: self.hukou_address.as_deref(),
            category: self.category.as_deref(),
            tags: &self.tags,
            relation: self.relation.as_deref(),
            address: self.address.as_deref(),
        }
    }
}

/// The ID and phone numbers are personal information: `Debug` shows only their last four
/// characters, so a logged row cannot leak them.
impl fmt::Debug for RowFields {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RowFields")
            .field("name", &self.name)
            .field("gender", &self.gender)
            .field("birth_date", &self.birth_date)
            .field("birth_month", &self.birth_month)
            .field("ethnic_group", &self.ethnic_group)
            .field("id_kind", &self.id_kind)
            .field("id_number", &self.id_number.as_deref().map(tail))
            .field("phone", &self.phone.as_deref().map(tail))
            .field("hukou_address", &self.hukou_address)
            .field("category", &self.category)
            .field("tags", &self.tags)
            .field("relation", &self.relation)
            .field("address", &self.address)
            .field("address_prefix", &self.address_prefix)
            .finish()
    }
}

/// `***` and the last four characters.
fn tail(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let keep = chars.len().saturating_sub(4);
    format!("***{}", chars[keep..].iter().collect::<String>())
}

/// A cell as spreadsheets leave it, trimmed, and without the wrappers used to stop Excel from
/// turning a long number into a float: a leading apostrophe (`'5334…`) and the CSV formula
/// form (`="5334…"`).
fn clean_cell(cell: &str) -> &str {
    let s = cell.trim();
    let s = s
        .strip_prefix("=\"")
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(s);
    s.strip_prefix('\'').unwrap_or(s).trim()
}

/// What offices type for "nothing here". Treated as an empty cell, not as a value to judge.
fn is_placeholder(s: &str) -> bool {
    matches!(
        s,
        "" | "无" | "暂无" | "/" | "／" | "-" | "－" | "—" | "——" | "\\"
    )
}

/// Tags as offices list them in one cell: `党员;低保`, `党员、低保`, `党员，低保`, `党员 低保`.
fn split_tags(cell: &str) -> Vec<String> {
    cell.split(|c: char| {
        matches!(c, ';' | '；' | '、' | ',' | '，' | '/' | '／' | '|') || c.is_whitespace()
    })
    .filter(|t| !t.is_empty())
    .map(str::to_owned)
    .collect()
}

/// The words rosters use for relations, mapped to the registry's labels; other values pass
/// through for the registry to accept or explain.
fn relation(cell: &str) -> String {
    let canonical = match cell {
        "本人" | "户主本人" => "户主",
        "妻" | "妻子" | "夫" | "丈夫" | "夫妻" => "配偶",
        "儿子" | "长子" | "次子" | "三子" | "四子" | "独子" | "之子" => "子",
        "女儿" | "长女" | "次女" | "三女" | "四女" | "独女" | "之女" => "女",
        "父" | "爸爸" => "父亲",
        "母" | "妈妈" => "母亲",
        other => other,
    };
    canonical.to_owned()
}

/// A 人员类别 cell as the residence type's code: the labels, the short forms and the words
/// rosters use (户籍, 人户分离, 户在人不在, 寄住, 流动, 境外人员, 外籍, 港澳台 …, see
/// [`Category`](super::Category)). Anything else passes through to be reported.
fn category(cell: &str) -> String {
    cell.parse::<super::Category>()
        .map_or_else(|_| cell.to_owned(), |c| c.as_str().to_owned())
}

/// A 证件类型 cell as the registry's document-kind code: the full Chinese names, the code
/// names, and the short names staff use. Anything else passes through to be reported.
fn document_kind(cell: &str) -> String {
    let short = match cell {
        "身份证" | "二代身份证" | "居民身份证号码" => Some(DocumentKind::ResidentId),
        "港澳通行证" | "回乡证" => Some(DocumentKind::HkMacaoPermit),
        "台胞证" => Some(DocumentKind::TaiwanPermit),
        _ => None,
    };
    short
        .or_else(|| {
            DocumentKind::ALL
                .iter()
                .copied()
                .find(|k| k.label_zh() == cell || k.as_str() == cell)
        })
        .map_or_else(|| cell.to_owned(), |k| k.as_str().to_owned())
}

// ---------------------------------------------------------------------------------------------
// Dates
// ---------------------------------------------------------------------------------------------

/// What a date cell held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DateCell {
    Day(Date),
    /// Year and month only, as 出生年月 columns often hold.
    Month(i32, u8),
    Unrecognised,
}

/// The day an Excel serial number stands for, in the 1900 date system Windows Excel uses:
/// serial 1 is 1900-01-01. Excel also counts a 29 February 1900 that never was (serial 60, a
/// bug kept from Lotus 1-2-3), so serials from 61 on are one more than the days since
/// 1899-12-31, and 60 itself is no date.
pub fn excel_serial_date(serial: u32) -> Option<Date> {
    let days = match serial {
        0 | 60 => return None,
        1..=59 => serial,
        _ => serial - 1,
    };
    date!(1899 - 12 - 31).checked_add(Duration::days(i64::from(days)))
}

/// Normalises a date cell to `YYYY-MM-DD`: `YYYY/MM/DD`, `YYYY-M-D`, `YYYY.MM.DD`,
/// `YYYYMMDD`, `YYYY年M月D日`, a trailing time (`1985/3/12 0:00:00`), and an Excel serial day
/// number (`31234`) as xlsx readers hand over date cells. `None` when the cell is none of
/// these or not a real day.
pub fn normalize_date(cell: &str) -> Option<String> {
    match read_date(cell) {
        DateCell::Day(d) => Some(crate::kernel::clock::format_date(d)),
        _ => None,
    }
}

fn read_date(cell: &str) -> DateCell {
    // A time after the date (Excel writes `1985/3/12 0:00:00` for date cells in some setups).
    let date_part = cell.split_whitespace().next().unwrap_or("");
    let folded = fold_and_squeeze(date_part);
    let s: &str = &folded;
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());

    if let Some((y, rest)) = s.split_once('年') {
        let rest = rest.trim_end_matches(['日', '号']);
        return match rest.split_once('月') {
            Some((m, "")) => year_month(y, m),
            Some((m, d)) => calendar_day(y, m, d),
            None => DateCell::Unrecognised,
        };
    }
    if digits(s) {
        return match s.len() {
            8 => calendar_day(&s[..4], &s[4..6], &s[6..]),
            6 => year_month(&s[..4], &s[4..]),
            // A bare year is not a day, and not a serial either (1985 would be 1905-06-07).
            4 if plausible_year(s) => DateCell::Unrecognised,
            1..=7 => serial_day(s),
            _ => DateCell::Unrecognised,
        };
    }
    let parts: Vec<&str> = s.split(['/', '-', '.']).collect();
    match parts.as_slice() {
        [y, m, d] => calendar_day(y, m, d),
        // `1985.03` is a year and month; `31234.5` is a serial with a time of day.
        [y, m] if y.len() == 4 && plausible_year(y) && (1..=2).contains(&m.len()) => {
            year_month(y, m)
        }
        [whole, fraction] if s.contains('.') && digits(whole) && digits(fraction) => {
            serial_day(whole)
        }
        _ => DateCell::Unrecognised,
    }
}

fn plausible_year(y: &str) -> bool {
    y.parse::<u32>().is_ok_and(|y| (1800..=2200).contains(&y))
}

fn small_number(s: &str, max_len: usize) -> Option<u8> {
    if s.is_empty() || s.len() > max_len || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn year_of(y: &str) -> Option<i32> {
    (y.len() == 4 && y.bytes().all(|b| b.is_ascii_digit()))
        .then(|| y.parse().ok())
        .flatten()
}

fn calendar_day(y: &str, m: &str, d: &str) -> DateCell {
    let day = year_of(y).and_then(|y| {
        let month = Month::try_from(small_number(m, 2)?).ok()?;
        Date::from_calendar_date(y, month, small_number(d, 2)?).ok()
    });
    day.map_or(DateCell::Unrecognised, DateCell::Day)
}

fn year_month(y: &str, m: &str) -> DateCell {
    match (year_of(y), small_number(m, 2)) {
        (Some(y), Some(m)) if (1..=12).contains(&m) => DateCell::Month(y, m),
        _ => DateCell::Unrecognised,
    }
}

fn serial_day(s: &str) -> DateCell {
    s.parse::<u32>()
        .ok()
        .and_then(excel_serial_date)
        .map_or(DateCell::Unrecognised, DateCell::Day)
}

// ---------------------------------------------------------------------------------------------
// Addresses
// ---------------------------------------------------------------------------------------------

/// Splits an address cell into the administrative prefix and the dwelling part that
/// [`DwellingAddress::parse`] reads: `香格里拉市建塘镇里布嘎社区11栋2单元1301室` gives
/// `香格里拉市建塘镇里布嘎社区` and `11栋2单元1301室`. The dwelling part starts at the number
/// before the first building or unit marker (栋, 幢, 号楼, 单元) that has one, so a prefix with
/// its own numbers (建设路8号) or marker-like words (栋梁社区) is not mistaken for it; without a
/// marker it is the trailing number (`3-2-501`, `17号`). `None` when there is no number at
/// all: a cell like 云南省昆明市五华区华山街道 names no dwelling.
fn dwelling_part(cell: &str) -> Option<(Option<String>, String)> {
    let s = fold_and_squeeze(cell);
    let number_char = |c: char| c.is_ascii_alphanumeric() || c == '-';
    // The start of the run of number characters that ends at byte `end`, if it has a digit.
    let numbered_run = |end: usize| {
        let start = s[..end]
            .char_indices()
            .rev()
            .take_while(|(_, c)| number_char(*c))
            .last()
            .map_or(end, |(i, _)| i);
        s[start..end]
            .bytes()
            .any(|b| b.is_ascii_digit())
            .then_some(start)
    };
    let at_marker = |i: usize| {
        let rest = &s[i..];
        ["号楼", "栋", "幢", "单元"]
            .iter()
            .any(|m| rest.starts_with(m))
    };
    let start = s
        .char_indices()
        .filter(|&(i, _)| at_marker(i))
        .find_map(|(i, _)| numbered_run(i))
        .or_else(|| numbered_run(s.trim_end_matches(['室', '号', '户']).len()))?;
    let prefix = (start > 0).then(|| s[..start].to_owned());
    Some((prefix, s[start..].to_owned()))
}

/// Full-width letters and digits to ASCII, whitespace removed; borrowed when there is neither.
fn fold_and_squeeze(cell: &str) -> std::borrow::Cow<'_, str> {
    let full_width = |c: char| ('\u{FF01}'..='\u{FF5E}').contains(&c);
    if !cell.chars().any(|c| full_width(c) || c.is_whitespace()) {
        return std::borrow::Cow::Borrowed(cell);
    }
    cell.chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| {
            if full_width(c) {
                char::from_u32(u32::from(c) - 0xFEE0).unwrap_or(c)
            } else {
                c
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Verdicts
// ---------------------------------------------------------------------------------------------

/// What importing a data row would do.
#[derive(Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Stored. The normalised ID and phone numbers are given when they differ from the cell,
    /// so the report can say what was cleaned.
    Accepted {
        normalized_id: Option<String>,
        normalized_phone: Option<String>,
    },
    /// Stored, with warnings for staff to check: entries that disagree with the ID number, or
    /// a phone number that could not be read and was left out.
    Flagged {
        warnings: Vec<CoreError>,
        normalized_id: Option<String>,
        normalized_phone: Option<String>,
    },
    /// Not stored: the first field that failed, and why.
    Rejected { field: String, reason: String },
    /// The same ID number as data row `of_row`, accepted or flagged earlier in the file.
    Duplicate { of_row: usize },
}

impl Verdict {
    /// `accepted`, `flagged`, `rejected` or `duplicate`, as the import report writes them.
    pub fn outcome(&self) -> &'static str {
        match self {
            Verdict::Accepted { .. } => "accepted",
            Verdict::Flagged { .. } => "flagged",
            Verdict::Rejected { .. } => "rejected",
            Verdict::Duplicate { .. } => "duplicate",
        }
    }
}

/// Normalised numbers are personal information: `Debug` shows their last four characters.
impl fmt::Debug for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let masked = |v: &Option<String>| v.as_deref().map(tail);
        match self {
            Verdict::Accepted {
                normalized_id,
                normalized_phone,
            } => f
                .debug_struct("Accepted")
                .field("normalized_id", &masked(normalized_id))
                .field("normalized_phone", &masked(normalized_phone))
                .finish(),
            Verdict::Flagged {
                warnings,
                normalized_id,
                normalized_phone,
            } => f
                .debug_struct("Flagged")
                .field("warnings", warnings)
                .field("normalized_id", &masked(normalized_id))
                .field("normalized_phone", &masked(normalized_phone))
                .finish(),
            Verdict::Rejected { field, reason } => f
                .debug_struct("Rejected")
                .field("field", field)
                .field("reason", reason)
                .finish(),
            Verdict::Duplicate { of_row } => {
                f.debug_struct("Duplicate").field("of_row", of_row).finish()
            }
        }
    }
}

/// A row's verdict with the parsed person, which the importer stores (accepted, flagged) or
/// merges (duplicate). `None` for rejected rows.
#[derive(Debug, Clone)]
pub struct Assessment {
    pub verdict: Verdict,
    pub draft: Option<PersonDraft>,
}

/// Judges data rows in file order, remembering the ID numbers already taken so a second row
/// for the same person is a duplicate. Use one per file.
#[derive(Debug, Clone)]
pub struct Assessor {
    today: Date,
    /// Resident ID numbers, packed into a `u64` each (a million rows cost ~25 MB here rather
    /// than ~90 MB of strings), to the data row that holds it; in `ID_SHARDS` tables, so that
    /// growing one copies a 64th of them, not all (one table doubling near a million rows held
    /// 18 MB and 36 MB at once, at the import's peak).
    seen_ids: Vec<HashMap<u64, u32>>,
    /// Other documents, by kind and number.
    seen_others: HashMap<String, u32>,
}

/// Tables `Assessor::seen_ids` is split into.
const ID_SHARDS: usize = 64;

/// A resident ID number as a number: its 17 digits times 11 plus the check character (X = 10).
fn packed_id(number: &str) -> Option<u64> {
    let b = number.as_bytes();
    if b.len() != 18 {
        return None;
    }
    let mut v: u64 = 0;
    for &c in &b[..17] {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u64::from(c - b'0');
    }
    let check = match b[17] {
        c @ b'0'..=b'9' => u64::from(c - b'0'),
        b'X' => 10,
        _ => return None,
    };
    Some(v * 11 + check)
}

impl Assessor {
    pub fn new(today: Date) -> Assessor {
        Assessor {
            today,
            seen_ids: vec![HashMap::new(); ID_SHARDS],
            seen_others: HashMap::new(),
        }
    }

    /// The verdict on one row. A bad phone number does not cost the row: the person is stored
    /// without it and flagged, because a roster's phone column is the least checked and a
    /// resident without a phone is still a resident. Every other failing field rejects it.
    pub fn assess(&mut self, row: &RosterRow) -> Assessment {
        let fields = &row.fields;
        let input = fields.input();
        let (draft, mut warnings) = match PersonDraft::parse(&input, self.today) {
            Ok(parsed) if row.errors.is_empty() => parsed,
            Ok(_) => return rejected(&row.errors[0]),
            Err(errors) => {
                let hard: Vec<&CoreError> = errors
                    .iter()
                    .chain(&row.errors)
                    .filter(|e| e.field != "phone")
                    .collect();
                if let Some(first) = hard.first() {
                    return rejected(first);
                }
                let without_phone = PersonInput {
                    phone: None,
                    ..input
                };
                match PersonDraft::parse(&without_phone, self.today) {
                    Ok((draft, more)) => {
                        let mut warnings: Vec<CoreError> = errors
                            .into_iter()
                            .map(|e| {
                                CoreError::invalid(
                                    e.field,
                                    format!("{}；电话号码未保存，请核实后补录", e.message),
                                )
                            })
                            .collect();
                        warnings.extend(more);
                        (draft, warnings)
                    }
                    Err(errors) => return rejected(&errors[0]),
                }
            }
        };

        if let (Some((year, month)), Some(resident)) = (
            fields.birth_month,
            draft.document.as_ref().and_then(|d| d.resident()),
        ) {
            let born = resident.birth_date();
            if born.year() != year || u8::from(born.month()) != month {
                warnings.push(CoreError::invalid(
                    "birth_date",
                    format!(
                        "身份证号码中的出生日期为 {}，与填写的出生年月「{year}年{month}月」不一致",
                        crate::kernel::clock::format_date(born)
                    ),
                ));
            }
        }

        if let Some(document) = &draft.document {
            let this = u32::try_from(row.row).unwrap_or(u32::MAX);
            let earlier = match (document.kind(), packed_id(document.as_str())) {
                (DocumentKind::ResidentId, Some(packed)) => {
                    // Fibonacci hashing spreads the packed numbers over the shards.
                    let shard = (packed.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 58) as usize;
                    let seen = &mut self.seen_ids[shard % ID_SHARDS];
                    seen.get(&packed).copied().or_else(|| {
                        seen.insert(packed, this);
                        None
                    })
                }
                _ => {
                    let key = format!("{}:{}", document.kind().as_str(), document.as_str());
                    self.seen_others.get(&key).copied().or_else(|| {
                        self.seen_others.insert(key, this);
                        None
                    })
                }
            };
            if let Some(of_row) = earlier {
                return Assessment {
                    verdict: Verdict::Duplicate {
                        of_row: of_row as usize,
                    },
                    draft: Some(draft),
                };
            }
        }

        let changed = |raw: Option<&str>, stored: Option<&str>| match (raw, stored) {
            (Some(raw), Some(stored)) if raw.trim() != stored => Some(stored.to_owned()),
            _ => None,
        };
        let normalized_id = changed(
            fields.id_number.as_deref(),
            draft.document.as_ref().map(|d| d.as_str()),
        );
        let normalized_phone = changed(
            fields.phone.as_deref(),
            draft.phone.as_ref().map(|p| p.as_str()),
        );
        let verdict = if warnings.is_empty() {
            Verdict::Accepted {
                normalized_id,
                normalized_phone,
            }
        } else {
            Verdict::Flagged {
                warnings,
                normalized_id,
                normalized_phone,
            }
        };
        Assessment {
            verdict,
            draft: Some(draft),
        }
    }
}

fn rejected(error: &CoreError) -> Assessment {
    Assessment {
        verdict: Verdict::Rejected {
            field: error.field.clone(),
            reason: error.message.clone(),
        },
        draft: None,
    }
}

/// The verdict on every row, in order: see [`Assessor::assess`].
pub fn verdicts(rows: &[RosterRow], today: Date) -> Vec<Verdict> {
    let mut assessor = Assessor::new(today);
    rows.iter().map(|r| assessor.assess(r).verdict).collect()
}

/// The columns of Linli's roster template, in order: what `linli` exports and the blank template
/// offers, and what the importer reads back (a round trip keeps every field).
pub const TEMPLATE_HEADER: [&str; 13] = [
    "序号",
    "姓名",
    "性别",
    "民族",
    "证件类型",
    "身份证号码",
    "出生日期",
    "联系电话",
    "与户主关系",
    "户籍地址",
    "现居住地址",
    "人员类别",
    "标签",
];

/// Writes rows as CSV for Excel: UTF-8 with a byte-order mark (without it, Excel on a Chinese
/// Windows reads UTF-8 as GBK), CRLF line ends, fields quoted where needed (by `csv`), and a
/// cell that begins with `=` `+` `-` `@` prefixed with `'`, which Excel would otherwise evaluate
/// as a formula.
pub fn to_csv(rows: &[Vec<String>]) -> String {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .flexible(true)
        .from_writer(Vec::new());
    for row in rows {
        let guarded = row.iter().map(|cell| {
            if cell.starts_with(['=', '+', '-', '@']) {
                format!("'{cell}")
            } else {
                cell.clone()
            }
        });
        // Writing into memory fails only on an I/O error, and a Vec has none.
        w.write_record(guarded).expect("CSV into memory");
    }
    let bytes = w.into_inner().expect("CSV into memory");
    // Every cell was a String, so the output is UTF-8.
    format!("\u{FEFF}{}", String::from_utf8_lossy(&bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn streamed(bytes: &[u8], block: usize) -> (Vec<(usize, Vec<String>)>, &'static str) {
        let mut rows = Vec::new();
        let enc = csv_blocks(bytes, block, |line, cells| {
            rows.push((line, cells));
            true
        })
        .unwrap();
        (rows, enc)
    }

    fn whole(bytes: &[u8]) -> Vec<(usize, Vec<String>)> {
        let (text, _) = decode(bytes);
        CsvRows::new(&text).map(|r| r.unwrap()).collect()
    }

    #[test]
    fn exported_csv_opens_in_excel_as_written() {
        let rows = vec![
            vec!["姓名".to_owned(), "备注".to_owned()],
            vec!["张三".to_owned(), "=1+1".to_owned()],
            vec!["李四".to_owned(), "说\"是\"，好\n的".to_owned()],
        ];
        let csv = to_csv(&rows);
        assert_eq!(
            csv,
            "\u{FEFF}姓名,备注\r\n张三,'=1+1\r\n李四,\"说\"\"是\"\"，好\n的\"\r\n"
        );
        // And it reads back as written (the formula guard aside).
        let back = read_csv(csv.trim_start_matches('\u{FEFF}')).unwrap();
        assert_eq!(back[2], rows[2]);
    }

    #[test]
    fn csv_read_in_blocks_gives_the_same_rows_and_lines_as_whole() {
        let utf8 = "\u{FEFF}序号,姓名,备注\r\n\r\n1,张三,\"两行\n备注\"\r\n2,李四,\"引号\"\"\"\n\n3,王五,末行";
        for block in [1, 2, 3, 5, 7, 64, 1 << 20] {
            let (rows, enc) = streamed(utf8.as_bytes(), block);
            assert_eq!(enc, "UTF-8", "block {block}");
            assert_eq!(rows, whole(utf8.as_bytes()), "block {block}");
        }
        let fixture = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/fixtures/roster.gbk.csv"
        ))
        .unwrap();
        for block in [3, 100, 4096] {
            let (rows, enc) = streamed(&fixture, block);
            assert_eq!(enc, "GB18030");
            assert_eq!(rows, whole(&fixture), "block {block}");
        }
    }

    const TODAY: Date = date!(2026 - 11 - 23);

    /// A valid ID number from its first 17 digits.
    fn id(body: &str) -> String {
        format!(
            "{body}{}",
            crate::kernel::idnumber::check_char(body.as_bytes())
        )
    }

    fn rows(lines: &[&str]) -> Vec<Vec<String>> {
        read_csv(&lines.join("\n")).unwrap()
    }

    fn extract(lines: &[&str]) -> Vec<RosterRow> {
        let rows = rows(lines);
        let (header, first) = HeaderMap::detect(&rows).unwrap();
        header.extract(&rows, first)
    }

    fn one(lines: &[&str]) -> RowFields {
        let mut extracted = extract(lines);
        assert_eq!(extracted.len(), 1, "{extracted:?}");
        extracted.remove(0).fields
    }

    // --- decoding and CSV ---

    #[test]
    fn utf8_is_read_with_or_without_a_byte_order_mark() {
        assert_eq!(
            decode("姓名,身份证号码".as_bytes()),
            ("姓名,身份证号码".to_owned(), "UTF-8")
        );
        let with_bom = [b"\xEF\xBB\xBF".as_slice(), "姓名".as_bytes()].concat();
        assert_eq!(decode(&with_bom), ("姓名".to_owned(), "UTF-8"));
    }

    #[test]
    fn gbk_bytes_are_read_as_gb18030() {
        let (bytes, _, _) = encoding_rs::GBK.encode("序号,姓名,身份证号码\n1,扎西·多吉,");
        let (text, encoding) = decode(&bytes);
        assert_eq!(text, "序号,姓名,身份证号码\n1,扎西·多吉,");
        assert_eq!(encoding, "GB18030");
    }

    #[test]
    fn utf16_with_a_byte_order_mark_is_read() {
        let mut bytes = vec![0xFF, 0xFE];
        bytes.extend("姓名".encode_utf16().flat_map(u16::to_le_bytes));
        assert_eq!(decode(&bytes), ("姓名".to_owned(), "UTF-16LE"));
    }

    #[test]
    fn streamed_csv_records_carry_their_line_numbers() {
        let lines: Vec<usize> = CsvRows::new("a\r\n\r\nb\r\"c\nd\"\n\ne")
            .map(|r| r.unwrap().0)
            .collect();
        assert_eq!(lines, [1, 3, 4, 7]);
    }

    #[test]
    fn csv_rows_keep_their_line_numbers_and_lengths() {
        let rows = read_csv("a,b,c\n\n\"x\ny\",\"1,2\"\nlast\r\n").unwrap();
        assert_eq!(
            rows,
            [
                vec!["a", "b", "c"],
                vec![],
                vec!["x\ny", "1,2"],
                vec![],
                vec!["last"],
            ]
        );
    }

    // --- the header ---

    #[test]
    fn header_synonyms_spaces_and_parentheses_are_recognised() {
        let rows = rows(&[
            "序 号,* 姓  名,性别（男/女）,公民身份号码(必填),出生年月,手机号码,关系,户籍地,现住址,人口类型,特殊人群,备注",
        ]);
        let (h, first) = HeaderMap::detect(&rows).unwrap();
        assert_eq!(first, 1);
        for (column, at) in [
            (Column::Serial, 0),
            (Column::Name, 1),
            (Column::Gender, 2),
            (Column::IdNumber, 3),
            (Column::BirthDate, 4),
            (Column::Phone, 5),
            (Column::Relation, 6),
            (Column::HukouAddress, 7),
            (Column::Address, 8),
            (Column::Category, 9),
            (Column::Tags, 10),
        ] {
            assert_eq!(h.position(column), Some(at), "{column:?}");
        }
        assert_eq!(h.ignored(), [(11, "备注".to_owned())]);
        for alias in ["证件号码", "身份证号", "身份证号码"] {
            let (h, _) = HeaderMap::detect(&rows_of(&["姓名", alias])).unwrap();
            assert_eq!(h.position(Column::IdNumber), Some(1), "{alias}");
        }
    }

    fn rows_of(cells: &[&str]) -> Vec<Vec<String>> {
        vec![cells.iter().map(|c| (*c).to_owned()).collect()]
    }

    #[test]
    fn title_rows_above_the_header_are_skipped() {
        let n = id("53340119430612218");
        let extracted = extract(&[
            "里布嘎社区居民花名册,,,",
            "填报单位：里布嘎社区居委会,,,填报日期：2026年11月",
            ",,,",
            "序号,姓名,身份证号码,联系电话",
            &format!("1,吕秀西,{n},13661318609"),
        ]);
        assert_eq!(extracted.len(), 1);
        assert_eq!(extracted[0].row, 1);
        assert_eq!(extracted[0].sheet_row, 5);
        assert_eq!(extracted[0].fields.name, "吕秀西");
        assert_eq!(extracted[0].fields.id_number.as_deref(), Some(n.as_str()));
    }

    #[test]
    fn a_header_without_an_id_column_says_which_is_missing() {
        let e = HeaderMap::detect(&rows(&["花名册", "序号,姓名,性别"])).unwrap_err();
        assert_eq!(e.field, "header");
        assert!(
            e.message.starts_with("第 2 行像是表头，但缺少身份证号码列"),
            "{}",
            e.message
        );
        assert!(e.message.contains("公民身份号码"));
        let e = HeaderMap::detect(&rows(&["身份证号码,性别"])).unwrap_err();
        assert!(e.message.contains("缺少「姓名」列"), "{}", e.message);
        let e = HeaderMap::detect(&rows(&["a,b", "1,2"])).unwrap_err();
        assert!(e.message.contains("前 20 行中找不到表头"), "{}", e.message);
        let e = HeaderMap::detect(&rows(&[",,", ""])).unwrap_err();
        assert_eq!(e.message, "文件中没有内容");
    }

    #[test]
    fn a_header_below_row_20_is_not_searched_for() {
        let mut lines = vec!["说明"; 20];
        lines.push("姓名,身份证号码");
        assert!(HeaderMap::detect(&rows(&lines)).is_err());
        lines.remove(0);
        assert_eq!(HeaderMap::detect(&rows(&lines)).unwrap().1, 20);
    }

    #[test]
    fn two_row_merged_headers_combine_building_unit_and_room() {
        let n = id("53340119430612218");
        let extracted = extract(&[
            "里布嘎社区居民花名册,,,,,",
            "序号,姓名,身份证号码,现居住地址,,",
            ",,,楼栋,单元,房号",
            &format!("1,吕秀西,{n},11栋,2,1301"),
            &format!("2,扎西,{},3,,17号", id("53340119850312001")),
        ]);
        assert_eq!(extracted.len(), 2);
        assert_eq!(extracted[0].sheet_row, 4);
        assert_eq!(
            extracted[0].fields.address.as_deref(),
            Some("11栋2单元1301室")
        );
        assert_eq!(extracted[1].fields.address.as_deref(), Some("3栋17室"));
        let v = verdicts(&extracted, TODAY);
        assert!(matches!(v[0], Verdict::Accepted { .. }), "{v:?}");
    }

    #[test]
    fn a_data_row_under_a_one_row_header_is_not_a_sub_header() {
        let rows = rows(&["姓名,身份证号码,楼栋,单元,房号", "张三,,3,2,501"]);
        let (h, first) = HeaderMap::detect(&rows).unwrap();
        assert_eq!(first, 1);
        let extracted = h.extract(&rows, first);
        assert_eq!(
            extracted[0].fields.address.as_deref(),
            Some("3栋2单元501室")
        );
    }

    #[test]
    fn split_address_columns_that_make_no_dwelling_are_reported() {
        let r = &extract(&["姓名,身份证号码,楼栋,单元,房号", "张三,,3,2,"])[0];
        assert_eq!(r.errors.len(), 1);
        assert_eq!(r.errors[0].field, "address");
        assert!(
            r.errors[0].message.contains("请填写房号"),
            "{}",
            r.errors[0].message
        );
    }

    // --- rows ---

    #[test]
    fn blank_total_note_and_repeated_header_rows_are_not_people() {
        let n = id("53340119430612218");
        let m = id("53340119850312001");
        let extracted = extract(&[
            "序号,姓名,身份证号码",
            &format!("1,吕秀西,{n}"),
            ",,",
            "",
            "序号,姓名,身份证号码",
            "2,,",
            &format!("3,扎西,{m}"),
            "合计,2人,",
            "总 计：2,,",
            "制表人：李梅,,",
            "注：身份证号码请设为文本格式,,",
        ]);
        let found: Vec<(usize, usize, &str)> = extracted
            .iter()
            .map(|r| (r.row, r.sheet_row, r.fields.name.as_str()))
            .collect();
        assert_eq!(found, [(1, 2, "吕秀西"), (2, 7, "扎西")]);
    }

    #[test]
    fn a_row_with_an_id_number_is_never_taken_for_a_note() {
        let extracted = extract(&[
            "姓名,身份证号码",
            &format!("备注,{}", id("53340119850312001")),
        ]);
        assert_eq!(extracted.len(), 1);
    }

    #[test]
    fn every_date_form_becomes_iso() {
        for raw in [
            "1985/03/12",
            "1985/3/12",
            "1985-3-12",
            "1985-03-12",
            "1985.03.12",
            "19850312",
            "1985年3月12日",
            "1985年03月12号",
            " １９８５/３/１２ ",
            "1985/3/12 0:00:00",
            "31118",
            "31118.0",
            "31118.75",
        ] {
            assert_eq!(normalize_date(raw).as_deref(), Some("1985-03-12"), "{raw}");
        }
        for raw in [
            "1985/02/30",
            "12/03/1985",
            "1985",
            "昨天",
            "198503121",
            "0",
            "60",
        ] {
            assert_eq!(normalize_date(raw), None, "{raw}");
        }
    }

    #[test]
    fn excel_serials_count_the_leap_day_1900_never_had() {
        assert_eq!(excel_serial_date(1), Some(date!(1900 - 01 - 01)));
        assert_eq!(excel_serial_date(59), Some(date!(1900 - 02 - 28)));
        assert_eq!(excel_serial_date(60), None);
        assert_eq!(excel_serial_date(61), Some(date!(1900 - 03 - 01)));
        assert_eq!(excel_serial_date(31234), Some(date!(1985 - 07 - 06)));
        assert_eq!(excel_serial_date(45658), Some(date!(2025 - 01 - 01)));
        assert_eq!(excel_serial_date(0), None);
    }

    #[test]
    fn a_year_and_month_is_checked_against_the_id_number_not_stored_as_a_day() {
        let n = id("53340119850312001");
        for raw in ["1985.03", "1985.3", "1985-03", "1985年3月", "198503"] {
            let f = one(&["姓名,身份证号码,出生年月", &format!("张三,{n},{raw}")]);
            assert_eq!(
                (f.birth_date.as_deref(), f.birth_month),
                (None, Some((1985, 3))),
                "{raw}"
            );
        }
        let rows = extract(&[
            "姓名,身份证号码,出生年月",
            &format!("张三,{n},1985.03"),
            &format!("李四,{},1985.04", id("53340119850312011")),
        ]);
        let v = verdicts(&rows, TODAY);
        assert!(matches!(v[0], Verdict::Accepted { .. }), "{v:?}");
        let Verdict::Flagged { warnings, .. } = &v[1] else {
            panic!("{v:?}")
        };
        assert_eq!(warnings[0].field, "birth_date");
        assert!(
            warnings[0].message.contains("1985年4月"),
            "{}",
            warnings[0].message
        );
    }

    #[test]
    fn an_unreadable_date_is_passed_on_for_the_registry_to_name() {
        let f = one(&["姓名,身份证号码,出生日期", "张三,,八五年"]);
        assert_eq!(f.birth_date.as_deref(), Some("八五年"));
        let v = verdicts(
            &extract(&["姓名,身份证号码,出生日期", "张三,,八五年"]),
            TODAY,
        );
        assert_eq!(
            v[0],
            Verdict::Rejected {
                field: "birth_date".into(),
                reason: "「八五年」不是有效日期，格式应如 2020-01-25".into()
            }
        );
    }

    #[test]
    fn tags_are_split_on_the_separators_offices_use() {
        let f = one(&[
            "姓名,身份证号码,标签",
            "张三,,\"党员;低保；残疾、独居老人,退役军人，社区矫正 a  b/c\"",
        ]);
        assert_eq!(
            f.tags,
            [
                "党员",
                "低保",
                "残疾",
                "独居老人",
                "退役军人",
                "社区矫正",
                "a",
                "b",
                "c"
            ]
        );
        assert!(one(&["姓名,身份证号码,标签", "张三,,无"]).tags.is_empty());
    }

    #[test]
    fn the_administrative_prefix_is_cut_from_the_address() {
        for (raw, prefix, dwelling) in [
            (
                "香格里拉市建塘镇里布嘎社区11栋2单元1301室",
                Some("香格里拉市建塘镇里布嘎社区"),
                "11栋2单元1301室",
            ),
            ("11栋2单元1301室", None, "11栋2单元1301室"),
            ("建设路8号3栋2单元501室", Some("建设路8号"), "3栋2单元501室"),
            ("栋梁社区 3 幢 501", Some("栋梁社区"), "3幢501"),
            ("里布嘎社区12号楼501", Some("里布嘎社区"), "12号楼501"),
            ("里布嘎社区３－２－５０１", Some("里布嘎社区"), "3-2-501"),
            ("尼史村民小组17号", Some("尼史村民小组"), "17号"),
            ("里布嘎社区2单元501室", Some("里布嘎社区"), "2单元501室"),
        ] {
            let (p, d) = dwelling_part(raw).unwrap();
            assert_eq!((p.as_deref(), d.as_str()), (prefix, dwelling), "{raw}");
            assert!(DwellingAddress::parse(&d).is_ok(), "{raw}");
        }
        assert_eq!(dwelling_part("云南省昆明市五华区华山街道"), None);
    }

    #[test]
    fn an_address_naming_no_dwelling_rejects_the_row() {
        let rows = extract(&[
            "姓名,身份证号码,现居住地址",
            "张三,,云南省昆明市五华区华山街道",
        ]);
        let v = verdicts(&rows, TODAY);
        let Verdict::Rejected { field, reason } = &v[0] else {
            panic!("{v:?}")
        };
        assert_eq!(field, "address");
        assert!(reason.contains("找不到楼栋、单元或房号"), "{reason}");
    }

    #[test]
    fn spreadsheet_wrappers_and_placeholders_are_removed_from_cells() {
        let n = id("53340119850312001");
        let f = one(&[
            "姓名,身份证号码,性别,联系电话,与户主关系,人员类别,证件类型",
            &format!(" 张三 ,\"=\"\"{n}\"\"\",男性,无,本人,流动,身份证"),
        ]);
        assert_eq!(f.id_number.as_deref(), Some(n.as_str()));
        assert_eq!(f.name, "张三");
        assert_eq!(f.gender.as_deref(), Some("男"));
        assert_eq!(f.phone, None);
        assert_eq!(f.relation.as_deref(), Some("户主"));
        assert_eq!(f.category.as_deref(), Some("floating"));
        assert_eq!(f.id_kind.as_deref(), Some("resident_id"));
        let quoted = one(&["姓名,身份证号码", &format!("张三,'{n}")]);
        assert_eq!(quoted.id_number.as_deref(), Some(n.as_str()));
    }

    #[test]
    fn debug_output_hides_id_and_phone_numbers() {
        let n = id("53340119850312001");
        let rows = extract(&[
            "姓名,身份证号码,联系电话",
            &format!("张三, {n} ,136-1234-8609"),
        ]);
        let shown = format!("{rows:?} {:?}", verdicts(&rows, TODAY));
        assert!(!shown.contains(&n[..14]), "{shown}");
        assert!(!shown.contains("1361234"), "{shown}");
    }

    // --- verdicts ---

    #[test]
    fn an_id_number_excel_stored_as_a_number_is_rejected_with_the_fix() {
        let v = verdicts(&extract(&["姓名,身份证号码", "张三,5.33401E+17"]), TODAY);
        let Verdict::Rejected { field, reason } = &v[0] else {
            panic!("{v:?}")
        };
        assert_eq!(field, "id_number");
        assert!(reason.contains("被 Excel 存成了数字"), "{reason}");
        assert!(reason.contains("「文本」格式"), "{reason}");
    }

    #[test]
    fn cleaned_numbers_are_reported_and_clean_ones_are_not() {
        let n = id("53340119850312001");
        let spaced = format!("{} {} {}", &n[..6], &n[6..14], &n[14..]);
        let v = verdicts(
            &extract(&[
                "姓名,身份证号码,联系电话",
                &format!("张三,{spaced},136-1234-8609"),
                &format!("李四,{},13612348609", id("53340119850312011")),
            ]),
            TODAY,
        );
        assert_eq!(
            v,
            [
                Verdict::Accepted {
                    normalized_id: Some(n),
                    normalized_phone: Some("13612348609".into())
                },
                Verdict::Accepted {
                    normalized_id: None,
                    normalized_phone: None
                },
            ]
        );
    }

    #[test]
    fn a_bad_phone_flags_the_row_and_is_left_out() {
        let rows = extract(&[
            "姓名,身份证号码,联系电话",
            &format!("张三,{},1761605", id("53340119850312001")),
        ]);
        let mut assessor = Assessor::new(TODAY);
        let a = assessor.assess(&rows[0]);
        let Verdict::Flagged { warnings, .. } = &a.verdict else {
            panic!("{:?}", a.verdict)
        };
        assert_eq!(warnings[0].field, "phone");
        assert!(
            warnings[0].message.contains("电话号码未保存"),
            "{}",
            warnings[0].message
        );
        assert!(a.draft.unwrap().phone.is_none());
    }

    #[test]
    fn a_bad_phone_does_not_hide_a_worse_field() {
        let v = verdicts(
            &extract(&["姓名,身份证号码,联系电话", "张三,123,1761605"]),
            TODAY,
        );
        assert!(
            matches!(&v[0], Verdict::Rejected { field, .. } if field == "id_number"),
            "{v:?}"
        );
    }

    #[test]
    fn conflicts_with_the_id_number_flag_the_row() {
        let n = id("53340119850312001"); // male, born 1985-03-12
        let v = verdicts(
            &extract(&[
                "姓名,身份证号码,性别,出生日期",
                &format!("张三,{n},女,1985/03/13"),
            ]),
            TODAY,
        );
        let Verdict::Flagged { warnings, .. } = &v[0] else {
            panic!("{v:?}")
        };
        let fields: Vec<&str> = warnings.iter().map(|w| w.field.as_str()).collect();
        assert_eq!(fields, ["birth_date", "gender"]);
    }

    #[test]
    fn duplicates_are_found_after_normalisation_against_stored_rows_only() {
        let n = id("53340119850312001");
        let v = verdicts(
            &extract(&[
                "姓名,身份证号码",
                &format!(",{n}"), // rejected: no name, so nothing stored under this number
                &format!("张三,{n}"),
                &format!("张三,{}", n.replace('5', "５")),
                &format!("张三,{}{}", &n[..6], &n[8..17]), // the 15-digit form
            ]),
            TODAY,
        );
        assert!(matches!(v[0], Verdict::Rejected { .. }), "{v:?}");
        assert!(matches!(v[1], Verdict::Accepted { .. }), "{v:?}");
        assert_eq!(v[2], Verdict::Duplicate { of_row: 2 });
        assert_eq!(v[3], Verdict::Duplicate { of_row: 2 });
    }

    // --- the shared fixture ---

    #[test]
    fn the_shared_gbk_roster_gets_the_expected_verdict_on_every_row() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures");
        let bytes = std::fs::read(dir.join("roster.gbk.csv")).unwrap();
        let expected: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("roster.expected.json")).unwrap())
                .unwrap();

        let (text, encoding) = decode(&bytes);
        assert_eq!(encoding, "GB18030");
        let rows = read_csv(&text).unwrap();
        let (header, first) = HeaderMap::detect(&rows).unwrap();
        assert_eq!(first, 1);
        let extracted = header.extract(&rows, first);
        let verdicts = verdicts(&extracted, TODAY);

        let expected_rows = expected["rows"].as_array().unwrap();
        assert_eq!(
            expected["data_rows"].as_u64(),
            Some(expected_rows.len() as u64)
        );
        assert_eq!(extracted.len(), expected_rows.len());

        let mut mismatches = Vec::new();
        for e in expected_rows {
            let row = e["row"].as_u64().unwrap() as usize;
            let got = &verdicts[row - 1];
            assert_eq!(extracted[row - 1].row, row);
            assert_eq!(extracted[row - 1].sheet_row, row + 1, "CSV line = row + 1");
            let field = e["field"].as_str();
            let text = |k: &str| e[k].as_str().map(str::to_owned);
            let ok = match (e["outcome"].as_str().unwrap(), got) {
                (
                    "accept",
                    Verdict::Accepted {
                        normalized_id,
                        normalized_phone,
                    },
                ) => {
                    text("normalized_id").is_none_or(|n| normalized_id.as_ref() == Some(&n))
                        && text("normalized_phone")
                            .is_none_or(|n| normalized_phone.as_ref() == Some(&n))
                }
                ("flag", Verdict::Flagged { warnings, .. }) => {
                    field.is_none_or(|f| warnings.iter().any(|w| w.field == f))
                }
                ("reject", Verdict::Rejected { field: got, .. }) => field.is_none_or(|f| f == got),
                ("reject_or_merge", Verdict::Duplicate { of_row }) => {
                    e["duplicate_of_row"].as_u64() == Some(*of_row as u64)
                }
                _ => false,
            };
            if !ok {
                mismatches.push(format!("{row:>4}  expected {e}\n      got      {got:?}"));
            }
        }
        if !mismatches.is_empty() {
            eprintln!("row   verdict\n{}", mismatches.join("\n"));
        }
        assert!(mismatches.is_empty(), "{} rows differ", mismatches.len());
    }
}
