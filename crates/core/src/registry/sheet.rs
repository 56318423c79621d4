//! Spreadsheets in and out: the roster sheet of an xlsx / xls / xlsb / ods workbook read as rows
//! of text, and xlsx workbooks written with every cell as text. Bytes or paths in, rows out: what
//! the rows mean is [`crate::registry::roster`]'s business.
//!
//! Reading streams xlsx (the format big rosters come in) cell by cell, so a million-row sheet is
//! never held in memory; the older formats are read whole, because calamine reads them no other
//! way and they are small by construction (an xls sheet ends at row 65,536). Writing uses
//! rust_xlsxwriter's constant-memory mode: a row goes to a temporary file once the next one starts.
//!
//! This is the one module of the crate that touches files (a workbook path, the writer's temporary
//! files); it keeps no state and knows nothing of the database.

use std::fs::File;
use std::io::{BufReader, Cursor, Read, Seek, SeekFrom};
use std::path::Path;

use calamine::{Data, DataRef, Ods, Reader, Sheet, SheetType, Xls, Xlsb, Xlsx, XlsxError};
use rust_xlsxwriter::{Color, Format, FormatBorder, Workbook};

use crate::registry::limits::Limits;
use crate::registry::roster::HeaderMap;
use crate::CoreError;

/// The field named by every error of this module: the uploaded file as a whole.
const FIELD: &str = "file";

/// Sheet rows searched for the roster header. The same window as [`HeaderMap::detect`]'s, so a
/// sheet is judged on exactly the rows the parser would look at.
const PROBE_ROWS: u32 = 20;

/// Rows per worksheet in Excel (and in any xlsx Excel will open).
pub const MAX_ROWS: u32 = 1_048_576;

/// Columns per worksheet in Excel.
pub const MAX_COLUMNS: usize = 16_384;

// ---------------------------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------------------------

/// The format a workbook came in, found from its first bytes rather than from its file name,
/// which can lie (an xlsx renamed `.xls`, an upload with no name at all).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkbookFormat {
    Xlsx,
    Xlsb,
    Xls,
    Ods,
}

impl WorkbookFormat {
    /// The usual file extension, shown in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            WorkbookFormat::Xlsx => "xlsx",
            WorkbookFormat::Xlsb => "xlsb",
            WorkbookFormat::Xls => "xls",
            WorkbookFormat::Ods => "ods",
        }
    }
}

/// The sheet being read and the roster header found in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SheetInfo {
    pub format: WorkbookFormat,
    /// The sheet's name as Excel shows it on its tab.
    pub name: String,
    /// Where each roster column is, from [`HeaderMap::detect`] on the sheet's first 20 rows.
    pub header: HeaderMap,
    /// The 1-based sheet row of the first row below the header (below its sub-header row when
    /// the header is two rows under merged cells). Rows before it are the title and the header.
    pub first_data_row: usize,
}

/// Reads the roster sheet of the workbook at `path` row by row; see [`read_rows_from_bytes`].
pub fn read_rows(
    path: &Path,
    on_row: impl FnMut(&SheetInfo, usize, Vec<String>) -> bool,
) -> Result<SheetInfo, CoreError> {
    read_rows_within(path, &Limits::default(), on_row)
}

/// [`read_rows`] within other limits than the default ones.
pub fn read_rows_within(
    path: &Path,
    limits: &Limits,
    mut on_row: impl FnMut(&SheetInfo, usize, Vec<String>) -> bool,
) -> Result<SheetInfo, CoreError> {
    let file = File::open(path).map_err(|e| unreadable(format!("{}：{e}", path.display())))?;
    read_workbook(BufReader::new(file), limits, &mut on_row)
}

/// Reads the roster sheet of a workbook held in memory (an upload) row by row.
///
/// The roster sheet is the first worksheet, in workbook order, whose first 20 rows hold a roster
/// header: instruction sheets (填写说明), lists behind drop-downs and empty sheets are passed
/// over. It is then read from its first row: `on_row` gets the sheet info, the row's 1-based
/// number as Excel shows it, and the row's cells as text (see [`cell_text`]), and returns `false`
/// to stop. Rows come in order; rows without any text are left out, so numbers may jump. A row's
/// cells start at column A, a missing cell is `""`, and the row ends at its last cell with text,
/// so rows differ in length.
///
/// An error after some rows were delivered (a damaged file, a limit of [`Limits`] passed)
/// still fails the whole read: the caller must not use the rows it got.
pub fn read_rows_from_bytes(
    bytes: &[u8],
    on_row: impl FnMut(&SheetInfo, usize, Vec<String>) -> bool,
) -> Result<SheetInfo, CoreError> {
    read_rows_from_bytes_within(bytes, &Limits::default(), on_row)
}

/// [`read_rows_from_bytes`] within other limits than the default ones.
pub fn read_rows_from_bytes_within(
    bytes: &[u8],
    limits: &Limits,
    mut on_row: impl FnMut(&SheetInfo, usize, Vec<String>) -> bool,
) -> Result<SheetInfo, CoreError> {
    read_workbook(Cursor::new(bytes), limits, &mut on_row)
}

/// The row callback, behind a pointer so the readers below are not compiled again for every
/// caller's closure.
type OnRow<'f> = dyn FnMut(&SheetInfo, usize, Vec<String>) -> bool + 'f;

/// The container, from the first bytes: a zip archive (xlsx, xlsm, xlsb, ods) or an OLE compound
/// file (xls, and also an xlsx encrypted with a password).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Container {
    Zip,
    Ole,
}

/// Whether a file starting with `first_bytes` (8 are enough) is a workbook this module reads,
/// rather than CSV text: lets an upload be routed by its content instead of its name.
pub fn is_workbook(first_bytes: &[u8]) -> bool {
    container(first_bytes).is_some()
}

fn container(magic: &[u8]) -> Option<Container> {
    if magic.starts_with(b"PK\x03\x04") || magic.starts_with(b"PK\x05\x06") {
        Some(Container::Zip)
    } else if magic.starts_with(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]) {
        Some(Container::Ole)
    } else {
        None
    }
}

fn sniff<RS: Read + Seek>(rs: &mut RS) -> Result<Container, CoreError> {
    let mut magic = [0u8; 8];
    let mut filled = 0;
    while filled < magic.len() {
        match rs.read(&mut magic[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(unreadable(e)),
        }
    }
    rs.seek(SeekFrom::Start(0)).map_err(unreadable)?;
    container(&magic[..filled]).ok_or_else(|| {
        CoreError::invalid(
            FIELD,
            "不是 Excel 或 WPS 表格工作簿（应为 xlsx、xls、xlsb 或 ods 文件）",
        )
    })
}

fn read_workbook<RS: Read + Seek>(
    mut rs: RS,
    limits: &Limits,
    on_row: &mut OnRow,
) -> Result<SheetInfo, CoreError> {
    match sniff(&mut rs)? {
        Container::Zip => {
            // Before calamine opens it: opening reads the shared strings whole.
            limits.check_archive(&mut rs, false)?;
            rs.seek(SeekFrom::Start(0)).map_err(unreadable)?;
            // A zip may be any of three formats; the wrong reader fails fast on the missing
            // workbook part, so each is tried in turn and the xlsx error, the likely one, is shown.
            let xlsx_error = match Xlsx::new(&mut rs) {
                Ok(mut book) => return stream_xlsx(&mut book, limits, on_row),
                Err(e) => e,
            };
            rs.seek(SeekFrom::Start(0)).map_err(unreadable)?;
            limits.check_archive(&mut rs, true)?;
            rs.seek(SeekFrom::Start(0)).map_err(unreadable)?;
            if let Ok(mut book) = Xlsb::new(&mut rs) {
                return read_whole(&mut book, WorkbookFormat::Xlsb, limits, on_row);
            }
            rs.seek(SeekFrom::Start(0)).map_err(unreadable)?;
            if let Ok(mut book) = Ods::new(&mut rs) {
                return read_whole(&mut book, WorkbookFormat::Ods, limits, on_row);
            }
            Err(unreadable(xlsx_error))
        }
        Container::Ole => {
            // calamine reads every sheet of an xls whole as it opens it.
            let size = rs.seek(SeekFrom::End(0)).map_err(unreadable)?;
            limits.check_whole_read(size, "xls")?;
            rs.seek(SeekFrom::Start(0)).map_err(unreadable)?;
            let xls_error = match Xls::new(&mut rs) {
                Ok(mut book) => return read_whole(&mut book, WorkbookFormat::Xls, limits, on_row),
                Err(calamine::XlsError::Password) => return Err(password_protected()),
                Err(e) => e,
            };
            // An encrypted xlsx is an OLE file too: say so instead of "not an xls".
            rs.seek(SeekFrom::Start(0)).map_err(unreadable)?;
            if let Err(XlsxError::Password) = Xlsx::new(&mut rs) {
                return Err(password_protected());
            }
            Err(unreadable(xls_error))
        }
    }
}

/// Worksheets in workbook order; chart and macro sheets hold no cells to read.
fn worksheet_names(sheets: &[Sheet]) -> Vec<String> {
    sheets
        .iter()
        .filter(|s| s.typ == SheetType::WorkSheet)
        .map(|s| s.name.clone())
        .collect()
}

/// Puts `text` at a 0-based position of a row-major table, growing it as needed.
fn put(rows: &mut Vec<Vec<String>>, row: usize, col: usize, text: String) {
    if rows.len() <= row {
        rows.resize_with(row + 1, Vec::new);
    }
    put_cell(&mut rows[row], col, text);
}

fn put_cell(cells: &mut Vec<String>, col: usize, text: String) {
    if cells.len() <= col {
        cells.resize_with(col + 1, String::new);
    }
    cells[col] = text;
}

/// Streams an xlsx: each worksheet's first 20 rows are read to look for the header, and the
/// The roster header of sheet `name` among its first rows, or `None` with why kept as the
/// first error seen (the next sheet may still hold the roster).
fn detect_header(
    probe: &[Vec<String>],
    name: &str,
    first_error: &mut Option<String>,
) -> Option<(HeaderMap, usize)> {
    match HeaderMap::detect(probe) {
        Ok(found) => Some(found),
        Err(e) => {
            first_error.get_or_insert_with(|| format!("工作表「{name}」：{}", e.message));
            None
        }
    }
}

/// sheet that has one is read on from where the look stopped, never twice.
fn stream_xlsx<RS: Read + Seek>(
    book: &mut Xlsx<RS>,
    limits: &Limits,
    on_row: &mut OnRow,
) -> Result<SheetInfo, CoreError> {
    let names = worksheet_names(book.sheets_metadata());
    let mut first_error = None;
    for name in &names {
        let mut cells = match book.worksheet_cells_reader(name) {
            Ok(reader) => reader,
            Err(e) => {
                first_error.get_or_insert_with(|| format!("工作表「{name}」：{e}"));
                continue;
            }
        };
        // The first 20 rows, dense (blank rows kept) so that detection sees the sheet's layout;
        // and the first cell past them, already read when the look stopped.
        let mut probe: Vec<Vec<String>> = Vec::new();
        let mut ahead = None;
        let mut failed = None;
        // calamine's reader must not be asked again once it said the sheet ended: it would read
        // on past `</sheetData>` and fail.
        let mut ended = false;
        loop {
            match cells.next_cell() {
                Ok(Some(cell)) => {
                    let (row, col) = cell.get_position();
                    let text = cell_ref_text(cell.get_value());
                    if row >= PROBE_ROWS {
                        ahead = Some((row, col, text));
                        break;
                    }
                    if !text.is_empty() {
                        let at = row as usize;
                        check_cell(
                            limits,
                            row,
                            col,
                            &text,
                            probe.get(at).map_or(0, |r| row_len(r)),
                        )?;
                        put(&mut probe, at, col as usize, text);
                    }
                }
                Ok(None) => {
                    ended = true;
                    break;
                }
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        if let Some(e) = failed {
            first_error.get_or_insert_with(|| format!("工作表「{name}」：{e}"));
            continue;
        }
        let Some((header, first)) = detect_header(&probe, name, &mut first_error) else {
            continue;
        };
        let info = SheetInfo {
            format: WorkbookFormat::Xlsx,
            name: name.clone(),
            header,
            first_data_row: first + 1,
        };
        for (i, row) in probe.into_iter().enumerate() {
            if !row.is_empty() && !on_row(&info, i + 1, row) {
                return Ok(info);
            }
        }
        // The rest of the sheet, one row assembled at a time.
        let mut current: Option<(u32, Vec<String>)> = None;
        // Bytes of text in `current` so far.
        let mut current_len = 0usize;
        let mut next = ahead;
        loop {
            let (row, col, text) = match next.take() {
                Some(cell) => cell,
                None if ended => break,
                None => match cells.next_cell() {
                    Ok(Some(cell)) => {
                        let (row, col) = cell.get_position();
                        (row, col, cell_ref_text(cell.get_value()))
                    }
                    Ok(None) => break,
                    Err(e) => return Err(unreadable(format!("工作表「{name}」：{e}"))),
                },
            };
            if text.is_empty() {
                continue;
            }
            let so_far = match &current {
                Some((at, _)) if *at == row => current_len,
                _ => 0,
            };
            check_cell(limits, row, col, &text, so_far)?;
            current_len = so_far + text.len();
            match &mut current {
                Some((at, cells)) if *at == row => put_cell(cells, col as usize, text),
                Some((at, _)) if *at > row => {
                    // Excel writes rows in order. The whole-range reader would sort a file that
                    // does not, but a stream cannot: refuse it, and say how to get a sorted one.
                    return Err(unreadable(format!(
                        "工作表「{name}」的行顺序错乱（第 {} 行出现在第 {} 行之后）；\
                         请用 Excel 打开后另存为，再导入",
                        row + 1,
                        *at + 1
                    )));
                }
                _ => {
                    if let Some((at, done)) = current.take() {
                        if !on_row(&info, at as usize + 1, done) {
                            return Ok(info);
                        }
                    }
                    let mut cells = Vec::new();
                    put_cell(&mut cells, col as usize, text);
                    current = Some((row, cells));
                }
            }
        }
        if let Some((at, done)) = current {
            on_row(&info, at as usize + 1, done);
        }
        return Ok(info);
    }
    Err(no_roster(names.is_empty(), first_error))
}

/// Reads a workbook sheet by sheet through the whole-range reader (xls, xlsb, ods). A range
/// starts at its first used cell; positions are put back to absolute ones, so row numbers and
/// columns are the same as the streaming reader gives.
fn read_whole<RS: Read + Seek, R: Reader<RS>>(
    book: &mut R,
    format: WorkbookFormat,
    limits: &Limits,
    on_row: &mut OnRow,
) -> Result<SheetInfo, CoreError>
where
    R::Error: std::fmt::Display,
{
    let names = worksheet_names(book.sheets_metadata());
    let mut first_error = None;
    for name in &names {
        let range = match book.worksheet_range(name) {
            Ok(range) => range,
            Err(e) => {
                first_error.get_or_insert_with(|| format!("工作表「{name}」：{e}"));
                continue;
            }
        };
        let (top, left) = range.start().unwrap_or((0, 0));
        let row_text = |row: &[Data]| -> Vec<String> {
            let mut cells = Vec::new();
            for (j, cell) in row.iter().enumerate() {
                let text = cell_text(cell);
                if !text.is_empty() {
                    put_cell(&mut cells, left as usize + j, text);
                }
            }
            cells
        };
        let mut probe: Vec<Vec<String>> = Vec::new();
        for (i, row) in range.rows().enumerate() {
            let at = top as usize + i;
            if at >= PROBE_ROWS as usize {
                break;
            }
            let cells = row_text(row);
            if !cells.is_empty() {
                if probe.len() <= at {
                    probe.resize_with(at + 1, Vec::new);
                }
                probe[at] = cells;
            }
        }
        let Some((header, first)) = detect_header(&probe, name, &mut first_error) else {
            continue;
        };
        let info = SheetInfo {
            format,
            name: name.clone(),
            header,
            first_data_row: first + 1,
        };
        for (i, row) in range.rows().enumerate() {
            let cells = row_text(row);
            let at = top as usize + i + 1;
            if cells.is_empty() {
                continue;
            }
            limits.check_row(at, &cells)?;
            if !on_row(&info, at, cells) {
                break;
            }
        }
        return Ok(info);
    }
    Err(no_roster(names.is_empty(), first_error))
}

/// Bytes of text in a row so far.
fn row_len(cells: &[String]) -> usize {
    cells.iter().map(String::len).sum()
}

/// Checks a streamed cell as it arrives (0-based position), before its row grows: a row is
/// assembled whole before [`Limits::check_row`] could see it.
fn check_cell(
    limits: &Limits,
    row: u32,
    col: u32,
    text: &str,
    row_so_far: usize,
) -> Result<(), CoreError> {
    let sheet_row = row as usize + 1;
    if sheet_row > limits.rows {
        return Err(limits.too_many_rows());
    }
    if col as usize >= limits.columns {
        return Err(limits.too_many_columns(sheet_row));
    }
    if text.len() > limits.cell_chars && text.chars().count() > limits.cell_chars {
        return Err(limits.cell_too_long(sheet_row, col as usize + 1));
    }
    // Bytes, not characters: up to 4 a character, so a row is refused by bytes only well past
    // its limit in characters, which `check_row` counts exactly.
    if row_so_far + text.len() > limits.row_chars.saturating_mul(4) {
        return Err(limits.row_too_long(sheet_row));
    }
    Ok(())
}

fn unreadable(e: impl std::fmt::Display) -> CoreError {
    CoreError::invalid(FIELD, format!("无法读取工作簿：{e}"))
}

fn password_protected() -> CoreError {
    CoreError::invalid(
        FIELD,
        "工作簿设有打开密码：请在 Excel 中取消密码后另存，再导入",
    )
}

fn no_roster(no_sheets: bool, first_error: Option<String>) -> CoreError {
    if no_sheets {
        return CoreError::invalid(FIELD, "工作簿中没有工作表");
    }
    CoreError::invalid(
        FIELD,
        format!(
            "工作簿中没有找到花名册表头（{}）",
            first_error.unwrap_or_else(|| "工作簿是空的".into())
        ),
    )
}

/// One cell as the text the roster parser reads. A whole number prints in full; a number too
/// large to be exact (an ID number Excel stored as a number) prints as Excel shows it,
/// `5.33401E+17`, so the parser can say that its last digits are lost. A date prints as its
/// Excel serial day number, which the parser turns into a date; errors (`#N/A`) read as blank.
pub fn cell_text(cell: &Data) -> String {
    match cell {
        Data::Empty | Data::Error(_) => String::new(),
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Int(i) => i.to_string(),
        Data::Bool(b) => b.to_string(),
        Data::Float(f) => float_text(*f),
        Data::DateTime(d) => float_text(d.as_f64().floor()),
    }
}

/// [`cell_text`] for the streaming reader's borrowed cells (shared strings are not copied
/// twice).
fn cell_ref_text(cell: &DataRef<'_>) -> String {
    match cell {
        DataRef::Empty | DataRef::Error(_) => String::new(),
        DataRef::String(s) | DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => s.clone(),
        DataRef::SharedString(s) => (*s).to_owned(),
        DataRef::Int(i) => i.to_string(),
        DataRef::Bool(b) => b.to_string(),
        DataRef::Float(f) => float_text(*f),
        DataRef::DateTime(d) => float_text(d.as_f64().floor()),
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

// ---------------------------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------------------------

/// The blank template's sheet of instructions; the reader passes over it (it has no header).
pub const NOTES_SHEET: &str = "填写说明";

/// The blank template's roster sheet.
pub const TEMPLATE_SHEET: &str = "花名册";

/// What the template's 「填写说明」 sheet says, one line a row.
pub const TEMPLATE_NOTES: [&str; 9] = [
    "填写说明",
    "1. 在「花名册」表中每行填写一位居民；请勿修改或删除第一行的表头。",
    "2. 「姓名」和「身份证号码」必填，其余各列可以留空。",
    "3. 各列已设为文本格式：身份证号码、电话号码不会变成科学计数法，请直接填写或粘贴为文本。",
    "4. 证件类型留空即为居民身份证；也可填 护照、港澳居民来往内地通行证、台湾居民来往大陆通行证。",
    "5. 出生日期写作 1985-03-14；留空时按身份证号码推算。性别留空时同样推算。",
    "6. 与户主关系：户主、配偶、子、女、父亲、母亲、孙子、孙女、其他。",
    "7. 人员类别：户籍常住、人户分离、寄住、流动人口、境外人员；留空为寄住。标签之间用顿号或分号隔开。",
    "8. 现居住地址写到房号，例如 11栋2单元1301室；一家人填写相同的地址，并标明谁是户主。",
];

/// An xlsx workbook written row by row, every cell as text: ID and phone numbers must never
/// become numbers (Excel would round an 18-digit number and drop a phone's leading zero), and
/// the columns are formatted as text so that what staff type in later stays text too.
///
/// Rows go out in order and cannot be revisited (constant-memory mode keeps one row in memory);
/// a sheet holds at most [`MAX_ROWS`] rows. A workbook starts with one sheet;
/// [`XlsxOut::add_sheet`] starts the next, after which the earlier ones are finished.
pub struct XlsxOut {
    book: Workbook,
    sheets: Vec<SheetOut>,
    text: Format,
    head: Format,
    title: Format,
}

impl std::fmt::Debug for XlsxOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sheets: Vec<(&str, u32)> = self
            .sheets
            .iter()
            .map(|s| (s.name.as_str(), s.next_row))
            .collect();
        f.debug_struct("XlsxOut").field("sheets", &sheets).finish()
    }
}

/// The kinds of row, which differ in format and in whether they set column widths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Title,
    Header,
    Data,
}

/// What the writer tracks of one sheet.
struct SheetOut {
    name: String,
    next_row: u32,
    /// Per column, the widest text seen so far, in narrow-character units.
    widths: Vec<u32>,
    /// Per column, a width the header asks for even before any data (an ID column fits 18
    /// digits in the blank template).
    least: Vec<u32>,
}

impl XlsxOut {
    /// A workbook with one empty sheet named `sheet_name`.
    pub fn new(sheet_name: &str) -> Result<XlsxOut, CoreError> {
        let mut out = XlsxOut {
            book: Workbook::new(),
            sheets: Vec::new(),
            text: Format::new().set_num_format("@"),
            head: Format::new()
                .set_bold()
                .set_num_format("@")
                .set_background_color(Color::RGB(0xDD_EB_F7))
                .set_border(FormatBorder::Thin),
            title: Format::new()
                .set_bold()
                .set_font_size(14)
                .set_num_format("@"),
        };
        out.add_sheet(sheet_name)?;
        Ok(out)
    }

    /// Starts another sheet; rows written from now on go there.
    pub fn add_sheet(&mut self, name: &str) -> Result<&mut XlsxOut, CoreError> {
        let sheet = self
            .book
            .add_worksheet_with_constant_memory()
            .map_err(|e| write_error(format!("无法创建工作表「{name}」：{e}")))?;
        sheet
            .set_name(name)
            .map_err(|e| write_error(format!("工作表名「{name}」不可用：{e}")))?;
        self.sheets.push(SheetOut {
            name: name.to_owned(),
            next_row: 0,
            widths: Vec::new(),
            least: Vec::new(),
        });
        Ok(self)
    }

    /// A title row (里布嘎社区居民花名册): large bold text in column A. The roster parser skips
    /// title rows above the header.
    pub fn title(&mut self, text: &str) -> Result<&mut XlsxOut, CoreError> {
        let format = self.title.clone();
        self.write(&[text], &format, Kind::Title)?;
        Ok(self)
    }

    /// A header row: bold on a light fill, and frozen with every row above it so it stays in
    /// view while scrolling. Call it twice for a two-row header.
    pub fn header<S: AsRef<str>>(&mut self, cells: &[S]) -> Result<&mut XlsxOut, CoreError> {
        let format = self.head.clone();
        let row = self.write(cells, &format, Kind::Header)?;
        let sheet = self.book.worksheet_from_index(self.sheets.len() - 1);
        sheet
            .and_then(|s| s.set_freeze_panes(row + 1, 0))
            .map_err(write_error)?;
        Ok(self)
    }

    /// A data row. Empty cells are left out (the column is text-formatted anyway); a row of
    /// empty cells leaves a blank row.
    pub fn row<S: AsRef<str>>(&mut self, cells: &[S]) -> Result<&mut XlsxOut, CoreError> {
        let format = self.text.clone();
        self.write(cells, &format, Kind::Data)?;
        Ok(self)
    }

    /// Rows written so far to the current sheet, blank and header rows included.
    pub fn rows_written(&self) -> u32 {
        self.sheets.last().map_or(0, |s| s.next_row)
    }

    /// Writes one row into the current sheet and returns its 0-based index.
    fn write<S: AsRef<str>>(
        &mut self,
        cells: &[S],
        format: &Format,
        kind: Kind,
    ) -> Result<u32, CoreError> {
        let index = self.sheets.len() - 1;
        let Some(state) = self.sheets.last_mut() else {
            return Err(write_error("没有工作表"));
        };
        let row = state.next_row;
        if row >= MAX_ROWS {
            return Err(write_error(format!(
                "工作表「{}」已写满 Excel 的 {MAX_ROWS} 行上限，无法再写入",
                state.name
            )));
        }
        if cells.len() > MAX_COLUMNS {
            return Err(write_error(format!(
                "第 {} 行有 {} 列，超过 Excel 的 {MAX_COLUMNS} 列上限",
                row + 1,
                cells.len()
            )));
        }
        let sheet = self.book.worksheet_from_index(index).map_err(write_error)?;
        for (col, cell) in cells.iter().enumerate() {
            let text = cell.as_ref();
            // A title spills over the empty cells beside it and sets no column's width.
            if kind != Kind::Title {
                if state.widths.len() <= col {
                    state.widths.resize(col + 1, 0);
                    state.least.resize(col + 1, 0);
                }
                state.widths[col] = state.widths[col].max(display_width(text));
                if kind == Kind::Header {
                    state.least[col] = state.least[col].max(width_for_header(text));
                }
            }
            if text.is_empty() {
                continue;
            }
            // `col` < MAX_COLUMNS, checked above.
            sheet
                .write_string_with_format(row, col as u16, text, format)
                .map_err(|e| match e {
                    rust_xlsxwriter::XlsxError::MaxStringLengthExceeded => write_error(format!(
                        "第 {} 行第 {} 列的内容超过 Excel 单元格 32,767 个字符的上限",
                        row + 1,
                        col + 1
                    )),
                    e => write_error(e),
                })?;
        }
        state.next_row = row + 1;
        Ok(row)
    }

    /// The workbook as xlsx bytes.
    pub fn finish(mut self) -> Result<Vec<u8>, CoreError> {
        self.lay_out_columns()?;
        self.book.save_to_buffer().map_err(write_error)
    }

    /// Writes the workbook to `path` (for big exports: the zip is not held in memory).
    pub fn save(mut self, path: &Path) -> Result<(), CoreError> {
        self.lay_out_columns()?;
        self.book.save(path).map_err(write_error)
    }

    /// Column widths from the widest text (capped, so one long remark does not make a column
    /// screen-wide) and text format for each used column of every sheet.
    fn lay_out_columns(&mut self) -> Result<(), CoreError> {
        for (index, state) in self.sheets.iter().enumerate() {
            let sheet = self.book.worksheet_from_index(index).map_err(write_error)?;
            for (col, (&seen, &least)) in state.widths.iter().zip(&state.least).enumerate() {
                let width = (seen + 2).max(least).clamp(6, 60);
                // `col` < MAX_COLUMNS: rows wider than that were refused.
                let col = col as u16;
                sheet
                    .set_column_width(col, f64::from(width))
                    .and_then(|s| s.set_column_format(col, &self.text))
                    .map_err(write_error)?;
            }
        }
        Ok(())
    }
}

/// The blank roster template: the header of [`crate::registry::roster::TEMPLATE_HEADER`] on the sheet
/// 「花名册」, and with `notes` a second sheet 「填写说明」 that says how to fill it in.
pub fn template_xlsx(notes: bool) -> Result<Vec<u8>, CoreError> {
    let mut out = XlsxOut::new(TEMPLATE_SHEET)?;
    out.header(&crate::registry::roster::TEMPLATE_HEADER)?;
    if notes {
        out.add_sheet(NOTES_SHEET)?;
        let mut lines = TEMPLATE_NOTES.iter();
        if let Some(first) = lines.next() {
            out.title(first)?;
        }
        for line in lines {
            out.row(&[line])?;
        }
    }
    out.finish()
}

fn write_error(e: impl std::fmt::Display) -> CoreError {
    CoreError::invalid(FIELD, format!("无法生成工作簿：{e}"))
}

/// Width in narrow-character units, as Excel's default font draws it: CJK characters and
/// full-width forms take two.
fn display_width(text: &str) -> u32 {
    text.chars()
        .map(|c| if u32::from(c) >= 0x2E80 { 2 } else { 1 })
        .sum()
}

/// The width a column needs whatever its data, by its header: numbers and addresses are long
/// even when the header is short.
fn width_for_header(header: &str) -> u32 {
    if header.contains("身份") || header.contains("证件号") {
        21
    } else if header.contains("地址") || header.contains("住址") || header.contains("户籍地")
    {
        32
    } else if header.contains("电话") || header.contains("手机") || header.contains("联系方式")
    {
        14
    } else if header.contains("日期") || header.contains("出生") {
        12
    } else if header.contains("原因") || header.contains("问题") {
        40
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::roster::{Column, TEMPLATE_HEADER};

    /// Rows as read: (sheet row number, cells).
    type Rows = Vec<(usize, Vec<String>)>;

    /// Reads workbook bytes into (row number, cells) pairs.
    fn read_all(bytes: &[u8]) -> Result<(SheetInfo, Rows), CoreError> {
        let mut rows = Vec::new();
        let info = read_rows_from_bytes(bytes, |_, n, cells| {
            rows.push((n, cells));
            true
        })?;
        Ok((info, rows))
    }

    /// An xlsx read as a whole workbook (the path the streaming reader must agree with).
    fn read_xlsx_whole(bytes: &[u8]) -> (SheetInfo, Rows) {
        let mut book = Xlsx::new(Cursor::new(bytes)).unwrap();
        let mut rows = Vec::new();
        let info = read_whole(
            &mut book,
            WorkbookFormat::Xlsx,
            &Limits::default(),
            &mut |_, n, cells| {
                rows.push((n, cells));
                true
            },
        )
        .unwrap();
        (info, rows)
    }

    fn strings(cells: &[&str]) -> Vec<String> {
        cells.iter().map(|c| (*c).to_owned()).collect()
    }

    /// A row as the reader gives it: trailing empty cells dropped.
    fn trimmed(cells: &[&str]) -> Vec<String> {
        let mut v = strings(cells);
        while v.last().is_some_and(|c| c.is_empty()) {
            v.pop();
        }
        v
    }

    #[test]
    fn numbers_read_as_excel_shows_them() {
        assert_eq!(float_text(13612348609.0), "13612348609");
        assert_eq!(float_text(533401194306122186.0), "5.33401E+17");
        assert_eq!(float_text(37.5), "37.5");
    }

    #[test]
    fn cells_of_every_kind_read_as_text() {
        let date =
            calamine::ExcelDateTime::new(31120.75, calamine::ExcelDateTimeType::DateTime, false);
        assert_eq!(cell_text(&Data::DateTime(date)), "31120");
        assert_eq!(cell_ref_text(&DataRef::DateTime(date)), "31120");
        assert_eq!(cell_text(&Data::Int(42)), "42");
        assert_eq!(cell_text(&Data::Empty), "");
        assert_eq!(
            cell_text(&Data::Error(calamine::CellErrorType::NA)),
            String::new()
        );
        assert_eq!(cell_ref_text(&DataRef::SharedString("张三")), "张三");
        assert_eq!(
            cell_ref_text(&DataRef::Float(5.334011943061222e17)),
            "5.33401E+17"
        );
    }

    const PEOPLE: [[&str; 13]; 3] = [
        [
            "1",
            "张三",
            "男",
            "藏",
            "",
            "53340119850314212X",
            "1985-03-14",
            "13612348609",
            "户主",
            "云南省迪庆州香格里拉市建塘镇",
            "11栋2单元1301室",
            "常住人口",
            "党员、低保",
        ],
        [
            "2",
            "李 四",
            "女",
            "汉",
            "居民身份证",
            "533401198703152223",
            "1987/3/15",
            "08878221234",
            "配偶",
            "",
            "11栋2单元1301室",
            "",
            "",
        ],
        [
            "003",
            "=1+1",
            "",
            "",
            "护照",
            "E12345678",
            "",
            "0.50",
            "",
            "第一行\n第二行",
            "",
            "",
            "",
        ],
    ];

    #[test]
    fn written_rows_read_back_cell_for_cell() {
        let mut out = XlsxOut::new("花名册").unwrap();
        out.title("里布嘎社区居民花名册").unwrap();
        out.header(&TEMPLATE_HEADER).unwrap();
        for person in &PEOPLE {
            out.row(person).unwrap();
        }
        let bytes = out.finish().unwrap();

        let (info, rows) = read_all(&bytes).unwrap();
        assert_eq!(info.format, WorkbookFormat::Xlsx);
        assert_eq!(info.name, "花名册");
        assert_eq!(info.first_data_row, 3);
        assert_eq!(info.header.position(Column::IdNumber), Some(5));
        assert_eq!(info.header.position(Column::Tags), Some(12));
        let mut expected = vec![
            (1, strings(&["里布嘎社区居民花名册"])),
            (2, strings(&TEMPLATE_HEADER)),
        ];
        for (i, person) in PEOPLE.iter().enumerate() {
            expected.push((i + 3, trimmed(person)));
        }
        assert_eq!(rows, expected);

        // And the roster parser reads the people from them.
        let (fields, errors) = info.header.read_row(&rows[2].1).unwrap();
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(fields.id_number.as_deref(), Some("53340119850314212X"));
        assert_eq!(fields.phone.as_deref(), Some("13612348609"));
        assert_eq!(fields.tags, ["党员", "低保"]);
        let (fields, _) = info.header.read_row(&rows[3].1).unwrap();
        assert_eq!(fields.phone.as_deref(), Some("08878221234"));
    }

    #[test]
    fn rejected_rows_with_a_reason_column_import_again() {
        // What the importer hands back: the header plus 问题说明, each bad row with its reason.
        let mut header = strings(&TEMPLATE_HEADER);
        header.push("问题说明".into());
        let mut out = XlsxOut::new("未导入的行").unwrap();
        out.header(&header).unwrap();
        let mut bad = strings(&PEOPLE[1]);
        bad.push("身份证号码校验位错误".into());
        out.row(&bad).unwrap();
        let bytes = out.finish().unwrap();

        let (info, rows) = read_all(&bytes).unwrap();
        assert_eq!(info.first_data_row, 2);
        assert_eq!(
            info.header.ignored(),
            [(13, "问题说明".to_owned())],
            "the reason column is shown as ignored, not read"
        );
        assert_eq!(rows[1], (2, bad));
        let (fields, _) = info.header.read_row(&rows[1].1).unwrap();
        assert_eq!(fields.name, "李 四");
        assert_eq!(fields.id_number.as_deref(), Some("533401198703152223"));
    }

    #[test]
    fn the_template_reads_as_an_empty_roster_and_its_notes_are_skipped() {
        let bytes = template_xlsx(true).unwrap();
        let (info, rows) = read_all(&bytes).unwrap();
        assert_eq!(info.name, TEMPLATE_SHEET);
        assert_eq!(rows, [(1, strings(&TEMPLATE_HEADER))]);

        // Notes before the roster, as some offices arrange them.
        let mut out = XlsxOut::new(NOTES_SHEET).unwrap();
        for line in TEMPLATE_NOTES {
            out.row(&[line]).unwrap();
        }
        out.add_sheet("Sheet2").unwrap();
        out.header(&["姓名", "身份证号码"]).unwrap();
        out.row(&["张三", "53340119850314212X"]).unwrap();
        let (info, rows) = read_all(&out.finish().unwrap()).unwrap();
        assert_eq!(info.name, "Sheet2");
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1], (2, strings(&["张三", "53340119850314212X"])));
    }

    #[test]
    fn row_numbers_are_excel_row_numbers() {
        let mut out = XlsxOut::new("Sheet1").unwrap();
        out.title("居民花名册").unwrap(); // row 1
        out.row(&[""; 3]).unwrap(); // row 2, blank
        out.header(&["序号", "姓名", "身份证号码"]).unwrap(); // row 3
        out.row(&["1", "张三", "53340119850314212X"]).unwrap(); // row 4
        out.row::<&str>(&[]).unwrap(); // row 5
        out.row::<&str>(&[]).unwrap(); // row 6
        out.row(&["", "", "533401198703152223"]).unwrap(); // row 7: gap within the row
        out.row(&["合计", "2 人"]).unwrap(); // row 8
        let (info, rows) = read_all(&out.finish().unwrap()).unwrap();
        assert_eq!(info.first_data_row, 4);
        let numbers: Vec<usize> = rows.iter().map(|(n, _)| *n).collect();
        assert_eq!(numbers, [1, 3, 4, 7, 8]);
        assert_eq!(rows[3].1, strings(&["", "", "533401198703152223"]));

        // The whole-range reader (xls, xlsb, ods) numbers them the same, and starts its range at
        // the first used cell, which it must undo.
        let mut out = XlsxOut::new("Sheet1").unwrap();
        out.row::<&str>(&[]).unwrap();
        out.row(&["", "姓名", "身份证号码"]).unwrap();
        out.row(&["", "张三", "53340119850314212X"]).unwrap();
        out.row::<&str>(&[]).unwrap();
        out.row(&["", "李四", "533401198703152223"]).unwrap();
        let bytes = out.finish().unwrap();
        let (streamed_info, streamed) = read_all(&bytes).unwrap();
        let (whole_info, whole) = read_xlsx_whole(&bytes);
        assert_eq!(whole_info, streamed_info);
        assert_eq!(whole, streamed);
        assert_eq!(
            streamed,
            [
                (2, strings(&["", "姓名", "身份证号码"])),
                (3, strings(&["", "张三", "53340119850314212X"])),
                (5, strings(&["", "李四", "533401198703152223"])),
            ]
        );
    }

    #[test]
    fn the_header_is_looked_for_in_the_first_20_rows() {
        // Header on row 20, data straight after it: the first cell past the look is kept.
        let sheet = |header_row: u32| {
            let mut out = XlsxOut::new("Sheet1").unwrap();
            out.title("花名册").unwrap();
            for _ in 1..header_row - 1 {
                out.row::<&str>(&[]).unwrap();
            }
            out.header(&["姓名", "身份证号码"]).unwrap();
            out.row(&["张三", "53340119850314212X"]).unwrap();
            out.row(&["李四", "533401198703152223"]).unwrap();
            out.finish().unwrap()
        };
        let (info, rows) = read_all(&sheet(20)).unwrap();
        assert_eq!(info.first_data_row, 21);
        let numbers: Vec<usize> = rows.iter().map(|(n, _)| *n).collect();
        assert_eq!(numbers, [1, 20, 21, 22]);

        let e = read_all(&sheet(21)).unwrap_err();
        assert_eq!(e.field, "file");
        assert!(e
            .message
            .starts_with("工作簿中没有找到花名册表头（工作表「Sheet1」："));
        assert!(e.message.contains("前 20 行"), "{}", e.message);
    }

    #[test]
    fn reading_stops_when_asked() {
        let mut out = XlsxOut::new("Sheet1").unwrap();
        out.header(&["姓名", "身份证号码"]).unwrap();
        for i in 0..100 {
            out.row(&[format!("居民{i}"), String::new()]).unwrap();
        }
        let bytes = out.finish().unwrap();
        let mut seen = 0;
        read_rows_from_bytes(&bytes, |_, _, _| {
            seen += 1;
            seen < 30
        })
        .unwrap();
        assert_eq!(seen, 30);
    }

    #[test]
    fn twenty_thousand_rows_stream_back() {
        let mut out = XlsxOut::new("花名册").unwrap();
        out.header(&TEMPLATE_HEADER).unwrap();
        for i in 0..20_000u32 {
            let mut row = strings(&PEOPLE[0]);
            row[0] = (i + 1).to_string();
            row[5] = format!("5334011985{i:08}");
            out.row(&row).unwrap();
        }
        assert_eq!(out.rows_written(), 20_001);
        let bytes = out.finish().unwrap();
        let mut count = 0usize;
        let mut last = (0usize, Vec::new());
        let info = read_rows_from_bytes(&bytes, |info, n, cells| {
            if n >= info.first_data_row {
                count += 1;
                last = (n, cells);
            }
            true
        })
        .unwrap();
        assert_eq!(info.first_data_row, 2);
        assert_eq!(count, 20_000);
        assert_eq!(last.0, 20_001);
        assert_eq!(last.1[0], "20000");
        assert_eq!(last.1[5], "533401198500019999");
    }

    #[test]
    fn the_fixture_reads_as_the_whole_range_reader_reads_it() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/fixtures/roster.xlsx"
        );
        let mut streamed = Vec::new();
        let info = read_rows(Path::new(path), |_, n, cells| {
            streamed.push((n, cells));
            true
        })
        .unwrap();

        // What the importer read before this module: the first roster sheet's whole range.
        let mut book = calamine::open_workbook_auto(path).unwrap();
        let name = book.sheet_names()[0].clone();
        let range = book.worksheet_range(&name).unwrap();
        let (top, left) = range.start().unwrap();
        assert_eq!((top, left), (0, 0));
        let whole: Vec<Vec<String>> = range
            .rows()
            .map(|row| row.iter().map(cell_text).collect())
            .collect();
        let (header, first) = HeaderMap::detect(&whole).unwrap();
        assert_eq!(info.name, name);
        assert_eq!(info.header, header);
        assert_eq!(info.first_data_row, first + 1);
        let expected: Vec<(usize, Vec<String>)> = whole
            .iter()
            .enumerate()
            .map(|(i, row)| {
                let cells: Vec<&str> = row.iter().map(String::as_str).collect();
                (i + 1, trimmed(&cells))
            })
            .filter(|(_, cells)| !cells.is_empty())
            .collect();
        assert_eq!(streamed, expected);
        assert!(streamed.len() > 300);
    }

    #[test]
    fn numbers_and_dates_stored_as_such_read_as_excel_shows_them() {
        // What an office's own workbook holds: an ID number typed into a General cell (Excel
        // keeps 15 digits and shows 5.33401E+17), a phone as a number, a date cell.
        let mut book = Workbook::new();
        let sheet = book.add_worksheet();
        let date = Format::new().set_num_format("yyyy-mm-dd");
        sheet
            .write_row(0, 0, ["姓名", "身份证号码", "联系电话", "出生日期"])
            .unwrap();
        sheet.write_string(1, 0, "吕秀西").unwrap();
        sheet.write_number(1, 1, 533401194306122186.0).unwrap();
        sheet.write_number(1, 2, 13661318609.0).unwrap();
        sheet
            .write_number_with_format(1, 3, 15869.0, &date)
            .unwrap();
        sheet.write_number(1, 4, 37.5).unwrap();
        sheet.write_boolean(1, 5, true).unwrap();
        let bytes = book.save_to_buffer().unwrap();

        let (info, rows) = read_all(&bytes).unwrap();
        let expected = strings(&[
            "吕秀西",
            "5.33401E+17",
            "13661318609",
            "15869",
            "37.5",
            "true",
        ]);
        assert_eq!(rows[1], (2, expected));
        let (_, whole) = read_xlsx_whole(&bytes);
        assert_eq!(whole, rows);

        // The parser then refuses the number and reads the date.
        let (fields, _) = info.header.read_row(&rows[1].1).unwrap();
        assert_eq!(fields.id_number.as_deref(), Some("5.33401E+17"));
        assert_eq!(fields.birth_date.as_deref(), Some("1943-06-12"));
    }

    #[test]
    fn what_is_not_a_workbook_says_so() {
        assert!(!is_workbook("姓名,身份证号码".as_bytes()));
        assert!(is_workbook(&template_xlsx(false).unwrap()));
        assert!(!is_workbook(b"PK"));
        let e = read_rows_from_bytes("姓名,身份证号码\n".as_bytes(), |_, _, _| true).unwrap_err();
        assert_eq!(e.field, "file");
        assert!(e.message.contains("不是 Excel"), "{}", e.message);

        let e = read_rows_from_bytes(b"PK\x03\x04 but no zip", |_, _, _| true).unwrap_err();
        assert!(e.message.starts_with("无法读取工作簿："), "{}", e.message);

        let e = read_rows(Path::new("/nonexistent/roster.xlsx"), |_, _, _| true).unwrap_err();
        assert!(e.message.starts_with("无法读取工作簿："), "{}", e.message);

        let empty = XlsxOut::new("Sheet1").unwrap().finish().unwrap();
        let e = read_rows_from_bytes(&empty, |_, _, _| true).unwrap_err();
        assert_eq!(
            e.message,
            "工作簿中没有找到花名册表头（工作表「Sheet1」：文件中没有内容）"
        );
    }

    #[test]
    fn a_sheet_refuses_rows_past_excels_limit() {
        let mut out = XlsxOut::new("Sheet1").unwrap();
        out.header(&["姓名", "身份证号码"]).unwrap();
        if let Some(state) = out.sheets.last_mut() {
            state.next_row = MAX_ROWS - 1;
        }
        out.row(&["张三", "53340119850314212X"]).unwrap();
        let e = out.row(&["李四", "533401198703152223"]).unwrap_err();
        assert!(e.message.contains("1048576 行上限"), "{}", e.message);

        let long = "长".repeat(40_000);
        let mut out = XlsxOut::new("Sheet1").unwrap();
        let e = out.row(&["", long.as_str()]).unwrap_err();
        assert!(e.message.contains("第 1 行第 2 列"), "{}", e.message);

        let e = XlsxOut::new("a/b").err().unwrap();
        assert!(e.message.contains("工作表名「a/b」"), "{}", e.message);
    }

    #[test]
    fn columns_are_text_and_wide_enough() {
        let mut out = XlsxOut::new("花名册").unwrap();
        out.header(&TEMPLATE_HEADER).unwrap();
        let state = &out.sheets[0];
        assert_eq!(state.least[5], 21, "身份证号码 fits 18 digits");
        assert_eq!(state.least[10], 32);
        assert_eq!(display_width("身份证号码"), 10);
        assert_eq!(display_width("53340119850314212X"), 18);
        assert!(!out.finish().unwrap().is_empty());
    }
}
