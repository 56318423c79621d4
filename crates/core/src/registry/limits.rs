//! What a roster file may make the importer inflate, parse and hold, whatever the file says
//! about itself: a few megabytes of xlsx can inflate to gigabytes (a "zip bomb"), and a single
//! cell, a shared-strings table or a list of rejected rows can be made as large as the file
//! allows. The goal (PERFORMANCE.md) is an import under 300 MB at its peak, hostile files
//! included.
//!
//! A zip workbook is checked here before calamine opens it, because calamine reads several
//! parts whole when it opens a workbook (the shared strings above all, kept as one `String`
//! each). The check has two halves:
//! - the central directory's declared sizes (per entry, per part read whole, in total), which
//!   refuse a bomb without inflating anything;
//! - one pass over every entry's inflated bytes, which bounds each XML event and each cell or
//!   shared string element (calamine builds one of those in memory whole, whatever its size),
//!   and which stops at the declared size: the zip crate fails an entry that inflates past the
//!   size its central directory declares, so a lying directory is caught here too (the test
//!   `a_lying_central_directory_is_caught` holds the zip crate to that).
//!
//! Cells, rows, columns and rejected rows are counted by the readers as rows arrive
//! ([`Limits::check_row`], `import_job::Judge`).

use std::io::{self, BufRead, BufReader, Read, Seek};

use crate::CoreError;

const KIB: u64 = 1 << 10;
const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

/// The default [`Limits::archive_bytes`]. A roster of a million rows × 20 columns is a few
/// hundred MB of sheet XML (inline strings, as Linli's own export writes them, are the largest);
/// 1 GB leaves room for that and bounds the time a bomb can cost. Sheets stream, so this bounds
/// time, not memory.
pub const ARCHIVE_BYTES: u64 = GIB;
/// The default [`Limits::entry_bytes`]: one entry may be the whole archive's worth.
pub const ENTRY_BYTES: u64 = GIB;
/// The default [`Limits::shared_strings_bytes`]. calamine holds every shared string as its own
/// `String` (24 bytes plus a heap block): tiny strings cost up to ~3.5× their XML, so 64 MB of
/// XML stays near 220 MB at worst, and a real Excel-saved roster of ~400,000 rows fits.
/// Larger rosters come as CSV, or split.
pub const SHARED_STRINGS_BYTES: u64 = 64 * MIB;
/// The default [`Limits::part_bytes`]: the other parts calamine parses whole (styles, the
/// workbook, relationships, theme). Styles grow ~10× in memory; real ones are well under 1 MB.
pub const PART_BYTES: u64 = 4 * MIB;
/// The default [`Limits::element_bytes`]: one XML event (a text run, a tag), one cell `<c>` or
/// one shared string `<si>`. Excel's longest cell (32,767 characters, escaped) fits 5 times.
pub const ELEMENT_BYTES: u64 = MIB;
/// The default [`Limits::entries`]: real workbooks have tens of parts, hundreds with pictures.
pub const ENTRIES: usize = 10_000;
/// The default [`Limits::whole_read_bytes`]: xls, xlsb and ods are read whole by calamine
/// (every sheet as one dense table), so their size is capped before reading. An xls sheet ends
/// at 65,536 rows, about 10 MB; bigger rosters come as xlsx.
pub const WHOLE_READ_BYTES: u64 = 16 * MIB;
/// The default [`Limits::cell_chars`]: Excel's own limit for one cell.
pub const CELL_CHARS: usize = 32_767;
/// The default [`Limits::row_chars`]: a real row is a few hundred characters; two full cells.
pub const ROW_CHARS: usize = 65_536;
/// The default [`Limits::columns`]: a roster has tens of columns.
pub const COLUMNS: usize = 1_024;
/// The default [`Limits::rows`]: Excel's sheet, 1,048,576 rows (CSV too).
pub const ROWS: usize = 1_048_576;
/// The default [`Limits::rejected_rows`]: rejected rows whose cells are kept for the file of
/// rejected rows; the rest are counted and reported, not kept.
pub const REJECTED_ROWS: usize = 10_000;
/// The default [`Limits::rejected_bytes`]: the same, by size of the kept cells.
pub const REJECTED_BYTES: usize = 32 * MIB as usize;

/// What a roster file may cost; [`Limits::default`] are the constants above. Tests use tiny
/// ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Inflated bytes of a zip workbook, all entries together.
    pub archive_bytes: u64,
    /// Inflated bytes of any one entry.
    pub entry_bytes: u64,
    /// Inflated bytes of the shared strings table (`sharedStrings.xml`).
    pub shared_strings_bytes: u64,
    /// Inflated bytes of any other part calamine parses whole.
    pub part_bytes: u64,
    /// Bytes of one XML event, one cell element or one shared string element.
    pub element_bytes: u64,
    /// Entries in a zip workbook.
    pub entries: usize,
    /// Bytes of an xls file, or inflated bytes of an xlsb or ods workbook.
    pub whole_read_bytes: u64,
    /// Characters in one cell.
    pub cell_chars: usize,
    /// Characters in one row.
    pub row_chars: usize,
    /// Columns of a row (the column of its last cell).
    pub columns: usize,
    /// Rows of a sheet or a CSV file (the number the sheet shows).
    pub rows: usize,
    /// Rejected rows whose cells are kept.
    pub rejected_rows: usize,
    /// Bytes of the rejected rows' cells kept.
    pub rejected_bytes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            archive_bytes: ARCHIVE_BYTES,
            entry_bytes: ENTRY_BYTES,
            shared_strings_bytes: SHARED_STRINGS_BYTES,
            part_bytes: PART_BYTES,
            element_bytes: ELEMENT_BYTES,
            entries: ENTRIES,
            whole_read_bytes: WHOLE_READ_BYTES,
            cell_chars: CELL_CHARS,
            row_chars: ROW_CHARS,
            columns: COLUMNS,
            rows: ROWS,
            rejected_rows: REJECTED_ROWS,
            rejected_bytes: REJECTED_BYTES,
        }
    }
}

/// A size as the messages say it: "1 GB", "64 MB", "300 KB".
pub fn size_text(bytes: u64) -> String {
    if bytes >= GIB && bytes.is_multiple_of(GIB) {
        format!("{} GB", bytes / GIB)
    } else if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{} MB", bytes / MIB)
    } else if bytes >= KIB && bytes.is_multiple_of(KIB) {
        format!("{} KB", bytes / KIB)
    } else {
        format!("{bytes} 字节")
    }
}

fn refused(message: String) -> CoreError {
    CoreError::invalid("file", message)
}

impl Limits {
    /// Checks one row as it arrives (sheet row as the sheet shows it, cells as text).
    pub fn check_row(&self, sheet_row: usize, cells: &[String]) -> Result<(), CoreError> {
        if sheet_row > self.rows {
            return Err(self.too_many_rows());
        }
        if cells.len() > self.columns {
            return Err(self.too_many_columns(sheet_row));
        }
        let mut row = 0usize;
        for (i, c) in cells.iter().enumerate() {
            // Bytes bound characters from above; count characters only when it matters.
            if c.len() > self.cell_chars && c.chars().count() > self.cell_chars {
                return Err(self.cell_too_long(sheet_row, i + 1));
            }
            row += c.len();
        }
        if row > self.row_chars
            && cells.iter().map(|c| c.chars().count()).sum::<usize>() > self.row_chars
        {
            return Err(self.row_too_long(sheet_row));
        }
        Ok(())
    }

    pub(crate) fn too_many_rows(&self) -> CoreError {
        refused(format!(
            "文件超过 {} 行的上限，未导入任何数据；请分成几个文件导入",
            self.rows
        ))
    }

    pub(crate) fn too_many_columns(&self, sheet_row: usize) -> CoreError {
        refused(format!(
            "第 {sheet_row} 行超过 {} 列的上限，未导入任何数据",
            self.columns
        ))
    }

    pub(crate) fn cell_too_long(&self, sheet_row: usize, column: usize) -> CoreError {
        refused(format!(
            "第 {sheet_row} 行第 {column} 列的内容超过 {} 个字符的上限，未导入任何数据",
            self.cell_chars
        ))
    }

    pub(crate) fn row_too_long(&self, sheet_row: usize) -> CoreError {
        refused(format!(
            "第 {sheet_row} 行的内容超过 {} 个字符的上限，未导入任何数据",
            self.row_chars
        ))
    }

    /// An xls file's size, checked before calamine reads it whole.
    pub(crate) fn check_whole_read(&self, bytes: u64, format: &str) -> Result<(), CoreError> {
        if bytes > self.whole_read_bytes {
            return Err(refused(format!(
                "{format} 文件超过 {} 上限，未导入任何数据；请在 Excel 中另存为 xlsx 后导入",
                size_text(self.whole_read_bytes)
            )));
        }
        Ok(())
    }

    /// Checks a zip workbook before calamine opens it: the declared sizes first, then every
    /// entry inflated once and thrown away (see the module's comment). `whole`: before it is
    /// opened as xlsb or ods, which are read whole, so the archive is capped as an xls file
    /// is; otherwise as an xlsx (which calamine tries first, whatever the archive holds).
    pub fn check_archive<RS: Read + Seek>(
        &self,
        rs: &mut RS,
        whole: bool,
    ) -> Result<(), CoreError> {
        let mut zip = match zip::ZipArchive::new(rs) {
            Ok(zip) => zip,
            // Not for this check to judge: calamine says what is wrong with it.
            Err(_) => return Ok(()),
        };
        if zip.len() > self.entries {
            return Err(refused(format!(
                "文件中的部件超过 {} 个的上限，未导入任何数据",
                self.entries
            )));
        }
        let mut names: Vec<String> = Vec::with_capacity(zip.len());
        let mut declared = 0u64;
        for i in 0..zip.len() {
            let (name, size) = match zip.by_index_raw(i) {
                Ok(entry) => (entry_name(&entry), entry.size()),
                Err(_) => return Ok(()),
            };
            let normalized = name.replace('\\', "/").to_ascii_lowercase();
            declared = declared.saturating_add(size);
            self.check_entry_size(&name, size, &normalized)?;
            names.push(normalized);
            if whole && declared > self.whole_read_bytes {
                return Err(self.whole_too_big());
            }
            if declared > self.archive_bytes {
                return Err(self.archive_too_big());
            }
        }
        let mut inflated = 0u64;
        for (i, normalized) in names.iter().enumerate() {
            let entry = match zip.by_index(i) {
                Ok(entry) => entry,
                // Encrypted or of an unknown method: calamine will say so.
                Err(_) => continue,
            };
            let name = entry_name(&entry);
            let declared = entry.size();
            let left = if whole {
                self.whole_read_bytes
            } else {
                self.archive_bytes
            }
            .saturating_sub(inflated);
            let about = Entry {
                name: &name,
                normalized,
                declared,
                left,
                whole,
            };
            inflated += scan_entry(entry, self, &about)?;
        }
        Ok(())
    }

    fn check_entry_size(&self, name: &str, size: u64, normalized: &str) -> Result<(), CoreError> {
        // The tighter limit first: it is the one to name.
        if is_shared_strings(normalized) && size > self.shared_strings_bytes {
            return Err(self.shared_strings_too_big());
        }
        if size > self.entry_bytes {
            return Err(refused(format!(
                "文件中的「{}」解压后超过 {} 上限，未导入任何数据",
                shown(name),
                size_text(self.entry_bytes)
            )));
        }
        Ok(())
    }

    fn archive_too_big(&self) -> CoreError {
        refused(format!(
            "文件解压后超过 {} 上限，未导入任何数据",
            size_text(self.archive_bytes)
        ))
    }

    fn whole_too_big(&self) -> CoreError {
        refused(format!(
            "xlsb 或 ods 文件解压后超过 {} 上限，未导入任何数据；请在 Excel 中另存为 xlsx 后导入",
            size_text(self.whole_read_bytes)
        ))
    }

    fn shared_strings_too_big(&self) -> CoreError {
        refused(format!(
            "文件的共享字符串表（sharedStrings.xml）解压后超过 {} 上限，未导入任何数据；\
             请分成几个较小的文件，或另存为 CSV 后导入",
            size_text(self.shared_strings_bytes)
        ))
    }

    fn part_too_big(&self, name: &str) -> CoreError {
        refused(format!(
            "文件中的「{}」解压后超过 {} 上限，未导入任何数据",
            shown(name),
            size_text(self.part_bytes)
        ))
    }

    fn element_too_big(&self, name: &str) -> CoreError {
        refused(format!(
            "文件中的「{}」有一个单元格或字符串超过 {} 上限，未导入任何数据",
            shown(name),
            size_text(self.element_bytes)
        ))
    }
}

fn entry_name<R: Read>(entry: &zip::read::ZipFile<'_, R>) -> String {
    entry.name().map(|n| n.into_owned()).unwrap_or_default()
}

fn is_shared_strings(normalized: &str) -> bool {
    normalized.ends_with("sharedstrings.xml")
}

/// An entry's name as a message quotes it: a hostile name is cut short and loses control
/// characters.
fn shown(name: &str) -> String {
    let clean: String = name.chars().filter(|c| !c.is_control()).take(60).collect();
    if name.chars().count() > 60 {
        format!("{clean}…")
    } else {
        clean
    }
}

/// The inflated bytes of one entry, counted as quick-xml reads them, failing once one event
/// has taken more than `event` bytes (quick-xml buffers an event whole before returning it) or
/// the entry more than `entry`.
struct Metered<R> {
    inner: R,
    since_event: u64,
    event: u64,
    total: u64,
    entry: u64,
    /// Which bound was passed, when one was.
    passed: Option<Bound>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bound {
    Event,
    Entry,
}

impl<R: BufRead> Read for Metered<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Metered<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.since_event > self.event {
            self.passed = Some(Bound::Event);
        } else if self.total > self.entry {
            self.passed = Some(Bound::Entry);
        }
        if self.passed.is_some() {
            return Err(io::Error::other("limit"));
        }
        self.inner.fill_buf()
    }

    fn consume(&mut self, n: usize) {
        self.since_event += n as u64;
        self.total += n as u64;
        self.inner.consume(n);
    }
}

/// What an XML part is, from its root element: it decides the part's cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    /// A worksheet streams: the entry cap.
    Sheet,
    /// The shared strings table, held in memory whole.
    SharedStrings,
    /// The other parts calamine parses whole.
    Parsed,
    /// Parts calamine never reads (pivot caches, drawings…), and ods content (capped as a
    /// whole-read workbook).
    Other,
}

fn part_of(root: &str) -> Part {
    match root {
        "worksheet" => Part::Sheet,
        "sst" => Part::SharedStrings,
        "workbook" | "styleSheet" | "Relationships" | "theme" | "Types" | "metadata" => {
            Part::Parsed
        }
        _ => Part::Other,
    }
}

/// Reads one entry through quick-xml, configured as calamine configures it so events end
/// where calamine's do, and returns its inflated size. Binary entries and broken XML stop the
/// scan of that entry without failing: calamine meets the same error at the same place, or
/// never reads the entry.
/// One entry as the scan needs it.
struct Entry<'a> {
    name: &'a str,
    /// The name in lower case with `/` separators, as calamine looks parts up.
    normalized: &'a str,
    /// The uncompressed size its central directory declares.
    declared: u64,
    /// What is left of the archive's cap.
    left: u64,
    /// Part of an xlsb or ods workbook, read whole.
    whole: bool,
}

fn scan_entry<R: Read>(entry: R, limits: &Limits, about: &Entry<'_>) -> Result<u64, CoreError> {
    let Entry {
        name,
        normalized,
        declared,
        left,
        whole,
    } = *about;
    let mut cap = limits.entry_bytes.min(left);
    if is_shared_strings(normalized) {
        cap = cap.min(limits.shared_strings_bytes);
    }
    let metered = Metered {
        inner: BufReader::with_capacity(64 * 1024, entry),
        since_event: 0,
        event: limits.element_bytes,
        total: 0,
        entry: cap,
        passed: None,
    };
    let mut xml = quick_xml::Reader::from_reader(metered);
    let config = xml.config_mut();
    config.check_end_names = false;
    config.trim_text(false);
    config.check_comments = false;
    config.expand_empty_elements = true;
    let mut buf = Vec::new();
    let mut part = None;
    // An xlsb's parts are binary, and an ods is capped whole: only counted.
    let mut scanning = !whole;
    // Where the open cell or shared string element started.
    let mut open: Option<u64> = None;
    let too_big = |passed: Bound, part: Option<Part>| match passed {
        Bound::Event => limits.element_too_big(name),
        Bound::Entry if part == Some(Part::SharedStrings) || is_shared_strings(normalized) => {
            limits.shared_strings_too_big()
        }
        Bound::Entry if whole => limits.whole_too_big(),
        Bound::Entry if cap < limits.entry_bytes => limits.archive_too_big(),
        Bound::Entry => refused(format!(
            "文件中的「{}」解压后超过 {} 上限，未导入任何数据",
            shown(name),
            size_text(limits.entry_bytes)
        )),
    };
    while scanning {
        buf.clear();
        xml.get_mut().since_event = 0;
        let at = xml.buffer_position();
        let event = match xml.read_event_into(&mut buf) {
            Ok(event) => event,
            Err(quick_xml::Error::Io(e)) => {
                return match xml.get_ref().passed {
                    Some(passed) => Err(too_big(passed, part)),
                    // The zip crate's own checks: a size past the declared one, a bad checksum.
                    None => Err(refused(format!(
                        "无法读取工作簿：文件中的「{}」已损坏（{e}）",
                        shown(name)
                    ))),
                };
            }
            Err(_) => {
                scanning = false;
                continue;
            }
        };
        match event {
            quick_xml::events::Event::Start(e) => {
                let local = e.local_name();
                if part.is_none() {
                    let p = part_of(local.into_inner());
                    part = Some(p);
                    match p {
                        Part::SharedStrings => {
                            check_unique_count(&e, limits, declared)?;
                        }
                        Part::Parsed => {
                            xml.get_mut().entry = xml.get_ref().entry.min(limits.part_bytes);
                        }
                        Part::Sheet | Part::Other => {}
                    }
                }
                if open.is_none() && matches!(local.into_inner(), "c" | "si") {
                    open = Some(at);
                }
            }
            quick_xml::events::Event::End(e) => {
                if matches!(e.local_name().into_inner(), "c" | "si") {
                    open = None;
                }
            }
            quick_xml::events::Event::Eof => scanning = false,
            _ => {}
        }
        if open.is_some_and(|start| xml.buffer_position() - start > limits.element_bytes) {
            return Err(limits.element_too_big(name));
        }
        if part == Some(Part::Parsed) && xml.get_ref().total > limits.part_bytes {
            return Err(limits.part_too_big(name));
        }
    }
    // Binary or broken: drain it, so its inflated size counts (and the zip crate's checks run).
    let mut rest = xml.into_inner();
    rest.event = u64::MAX;
    let passed = io::copy(&mut rest, &mut io::sink());
    match (passed, rest.passed) {
        (_, Some(passed)) => Err(too_big(passed, part)),
        (Err(e), None) => Err(refused(format!(
            "无法读取工作簿：文件中的「{}」已损坏（{e}）",
            shown(name)
        ))),
        (Ok(_), None) => Ok(rest.total),
    }
}

/// calamine reserves room for as many strings as the table's `uniqueCount` says, before
/// reading one: a table cannot hold more than one per 5 bytes (`<si/>`).
fn check_unique_count(
    e: &quick_xml::events::BytesStart<'_>,
    limits: &Limits,
    declared: u64,
) -> Result<(), CoreError> {
    let Ok(Some(count)) = e.try_get_attribute("uniqueCount") else {
        return Ok(());
    };
    // calamine reserves nothing for a count it cannot read.
    let Some(count) = count.value.parse::<u64>().ok() else {
        return Ok(());
    };
    if count > declared / 5 + 1 {
        return Err(refused(format!(
            "文件的共享字符串表声明了 {count} 个字符串，超过其大小所能容纳的数目（上限 {} 的表最多 {} 个），未导入任何数据",
            size_text(limits.shared_strings_bytes),
            limits.shared_strings_bytes / 5
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::{Cursor, Write};

    use super::*;
    use crate::registry::import_job::{judge_source, Judge, RosterSource};
    use crate::registry::sheet::{read_rows_from_bytes, read_rows_from_bytes_within, XlsxOut};

    /// A small valid roster workbook.
    fn roster(rows: &[[&str; 2]]) -> Vec<u8> {
        let mut out = XlsxOut::new("花名册").unwrap();
        out.header(&["姓名", "身份证号码"]).unwrap();
        for r in rows {
            out.row(r).unwrap();
        }
        out.finish().unwrap()
    }

    /// `base` with entries added or replaced, each written by its closure (so a big one is
    /// never held whole), deflated.
    /// What writes an entry's bytes, a piece at a time.
    type Writer = Box<dyn Fn(&mut dyn Write)>;
    /// An entry to write: its name, and its writer.
    type Entry<'a> = (&'a str, Writer);

    fn rezip(base: &[u8], entries: Vec<Entry<'_>>) -> Vec<u8> {
        let mut src = zip::ZipArchive::new(Cursor::new(base)).unwrap();
        let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for i in 0..src.len() {
            let mut f = src.by_index(i).unwrap();
            let name = f.name().unwrap().into_owned();
            if entries.iter().any(|(n, _)| *n == name) {
                continue;
            }
            out.start_file(name, options).unwrap();
            io::copy(&mut f, &mut out).unwrap();
        }
        for (name, write) in &entries {
            out.start_file(*name, options).unwrap();
            write(&mut out);
        }
        out.finish().unwrap().into_inner()
    }

    /// A shared strings table of `count` one-letter strings.
    fn shared_strings(count: usize, declared: &'static str) -> Writer {
        Box::new(move |w: &mut dyn Write| {
            write!(w, r#"<?xml version="1.0"?><sst xmlns="x" count="{declared}" uniqueCount="{declared}">"#).unwrap();
            let item = b"<si><t>a</t></si>".repeat(1000);
            for _ in 0..count / 1000 {
                w.write_all(&item).unwrap();
            }
            w.write_all(b"</sst>").unwrap();
        })
    }

    fn read(bytes: &[u8], limits: &Limits) -> Result<usize, CoreError> {
        let mut rows = 0;
        read_rows_from_bytes_within(bytes, limits, |_, _, _| {
            rows += 1;
            true
        })?;
        Ok(rows)
    }

    fn tiny() -> Limits {
        Limits {
            archive_bytes: 256 * KIB,
            entry_bytes: 128 * KIB,
            shared_strings_bytes: 64 * KIB,
            part_bytes: 16 * KIB,
            element_bytes: 4 * KIB,
            whole_read_bytes: 8 * KIB,
            ..Limits::default()
        }
    }

    const ID: &str = "533401194306122186";

    #[test]
    fn a_sound_workbook_reads_within_tiny_limits() {
        let book = roster(&[["张三", ID]]);
        assert_eq!(read(&book, &tiny()).unwrap(), 2);
    }

    #[test]
    fn a_shared_strings_table_past_its_cap_is_refused_before_calamine_opens_it() {
        // 65 MB of shared strings, 200 KB deflated: refused by its declared size at the default
        // limits, before calamine would hold it (about 250 MB of Strings).
        let count = (SHARED_STRINGS_BYTES as usize / 17) + 2000;
        let bomb = rezip(
            &roster(&[["张三", ID]]),
            vec![("xl/sharedStrings.xml", shared_strings(count, "1"))],
        );
        assert!(bomb.len() < 1024 * 1024, "{}", bomb.len());
        let e = read_rows_from_bytes(&bomb, |_, _, _| true).unwrap_err();
        assert_eq!(e.field, "file");
        assert_eq!(
            e.message,
            "文件的共享字符串表（sharedStrings.xml）解压后超过 64 MB 上限，未导入任何数据；\
             请分成几个较小的文件，或另存为 CSV 后导入"
        );
    }

    #[test]
    fn a_shared_strings_count_past_what_the_table_holds_is_refused() {
        // calamine reserves room for `uniqueCount` strings before reading one: a trillion
        // would abort the process on allocation.
        let bomb = rezip(
            &roster(&[["张三", ID]]),
            vec![(
                "xl/sharedStrings.xml",
                shared_strings(1000, "1000000000000"),
            )],
        );
        let e = read_rows_from_bytes(&bomb, |_, _, _| true).unwrap_err();
        assert!(
            e.message
                .starts_with("文件的共享字符串表声明了 1000000000000 个字符串"),
            "{}",
            e.message
        );
    }

    #[test]
    fn a_lying_central_directory_is_caught() {
        // 170 KB of shared strings declared as 1 KB: the declared size passes, and the zip
        // crate stops the entry where its declared size ends.
        let mut bomb = rezip(
            &roster(&[["张三", ID]]),
            vec![("xl/sharedStrings.xml", shared_strings(10_000, "1"))],
        );
        let name = b"xl/sharedStrings.xml";
        let central = (0..bomb.len() - 46)
            .find(|&i| bomb[i..].starts_with(b"PK\x01\x02") && bomb[i + 46..].starts_with(name))
            .unwrap();
        bomb[central + 24..central + 28].copy_from_slice(&1024u32.to_le_bytes());
        let e = read(&bomb, &tiny()).unwrap_err();
        assert!(
            e.message.contains("「xl/sharedStrings.xml」已损坏"),
            "{}",
            e.message
        );
        assert!(
            e.message.contains("declared uncompressed size"),
            "{}",
            e.message
        );
    }

    /// A worksheet whose rows are `row`, `count` times, under the template's header.
    fn sheet(row: String, count: usize) -> Writer {
        Box::new(move |w: &mut dyn Write| {
            w.write_all(
                r#"<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>姓名</t></is></c><c r="B1" t="inlineStr"><is><t>身份证号码</t></is></c></row>"#
                    .as_bytes(),
            )
            .unwrap();
            for i in 0..count {
                let r = i + 2;
                write!(w, "{}", row.replace("{r}", &r.to_string())).unwrap();
            }
            w.write_all(b"</sheetData></worksheet>").unwrap();
        })
    }

    fn cell_row(text: &str) -> String {
        format!(r#"<row r="{{r}}"><c r="A{{r}}" t="inlineStr"><is><t>{text}</t></is></c></row>"#)
    }

    #[test]
    fn inflated_sizes_are_capped_per_entry_and_in_all() {
        let base = roster(&[["张三", ID]]);
        let big = rezip(
            &base,
            vec![("xl/worksheets/sheet1.xml", sheet(cell_row("张三"), 4000))],
        );
        let e = read(&big, &tiny()).unwrap_err();
        assert_eq!(
            e.message,
            "文件中的「xl/worksheets/sheet1.xml」解压后超过 128 KB 上限，未导入任何数据"
        );
        let in_all = Limits {
            entry_bytes: MIB,
            archive_bytes: 160 * KIB,
            ..tiny()
        };
        let e = read(&big, &in_all).unwrap_err();
        assert_eq!(e.message, "文件解压后超过 160 KB 上限，未导入任何数据");
        assert_eq!(read(&big, &Limits::default()).unwrap(), 4001);
    }

    #[test]
    fn one_cell_past_the_element_cap_is_refused_before_calamine_reads_it() {
        let base = roster(&[["张三", ID]]);
        let long = rezip(
            &base,
            vec![(
                "xl/worksheets/sheet1.xml",
                sheet(cell_row(&"长".repeat(2000)), 1),
            )],
        );
        let e = read(&long, &tiny()).unwrap_err();
        assert_eq!(
            e.message,
            "文件中的「xl/worksheets/sheet1.xml」有一个单元格或字符串超过 4 KB 上限，未导入任何数据"
        );
        // Many short rich-text runs make one long cell too.
        let runs = format!(
            r#"<row r="{{r}}"><c r="A{{r}}" t="inlineStr"><is>{}</is></c></row>"#,
            "<r><t>a</t></r>".repeat(1000)
        );
        let long = rezip(&base, vec![("xl/worksheets/sheet1.xml", sheet(runs, 1))]);
        let e = read(&long, &tiny()).unwrap_err();
        assert!(
            e.message.contains("有一个单元格或字符串超过 4 KB 上限"),
            "{}",
            e.message
        );
    }

    #[test]
    fn parts_read_whole_have_their_own_cap() {
        let styles: Writer = Box::new(|w: &mut dyn Write| {
            w.write_all(br#"<styleSheet xmlns="x"><cellXfs>"#).unwrap();
            for _ in 0..2000 {
                w.write_all(b"<xf numFmtId=\"0\"/>").unwrap();
            }
            w.write_all(b"</cellXfs></styleSheet>").unwrap();
        });
        let book = rezip(&roster(&[["张三", ID]]), vec![("xl/styles.xml", styles)]);
        let e = read(&book, &tiny()).unwrap_err();
        assert_eq!(
            e.message,
            "文件中的「xl/styles.xml」解压后超过 16 KB 上限，未导入任何数据"
        );
    }

    #[test]
    fn cells_rows_and_columns_are_capped() {
        let limits = Limits {
            cell_chars: 20,
            row_chars: 30,
            columns: 3,
            rows: 3,
            ..Limits::default()
        };
        let mut out = XlsxOut::new("花名册").unwrap();
        out.header(&["姓名", "身份证号码"]).unwrap();
        out.row(&["张".repeat(21).as_str(), ID]).unwrap();
        let e = read(&out.finish().unwrap(), &limits).unwrap_err();
        assert_eq!(
            e.message,
            "第 2 行第 1 列的内容超过 20 个字符的上限，未导入任何数据"
        );

        let mut out = XlsxOut::new("花名册").unwrap();
        out.header(&["姓名", "身份证号码"]).unwrap();
        out.row(&["张三", ID, "", "x"]).unwrap();
        let e = read(&out.finish().unwrap(), &limits).unwrap_err();
        assert_eq!(e.message, "第 2 行超过 3 列的上限，未导入任何数据");

        let book = roster(&[["张三", ID], ["李四", ID], ["王五", ID]]);
        let e = read(&book, &limits).unwrap_err();
        assert_eq!(
            e.message,
            "文件超过 3 行的上限，未导入任何数据；请分成几个文件导入"
        );

        // The same through the importer, for CSV too.
        let csv = format!("姓名,身份证号码,备注\n张三,{ID},{}\n", "备".repeat(11));
        let judge = Judge::new(
            crate::kernel::clock::parse_date("d", "2026-11-23").unwrap(),
            Vec::new(),
        )
        .within(limits);
        let e =
            judge_source(RosterSource::Bytes(csv.as_bytes()), judge, 100, |_| true).unwrap_err();
        assert_eq!(
            e.message,
            "第 2 行的内容超过 30 个字符的上限，未导入任何数据"
        );
    }

    #[test]
    fn rejected_rows_kept_in_memory_are_capped() {
        let limits = Limits {
            rejected_rows: 2,
            ..Limits::default()
        };
        let mut csv = String::from("姓名,身份证号码\n");
        for _ in 0..5 {
            csv.push_str("张三,123\n");
        }
        let judge = Judge::new(
            crate::kernel::clock::parse_date("d", "2026-11-23").unwrap(),
            Vec::new(),
        )
        .within(limits);
        let (mut lines, mut kept) = (0, 0);
        judge_source(RosterSource::Bytes(csv.as_bytes()), judge, 100, |chunk| {
            lines += chunk.lines.len();
            kept += chunk.rejected.len();
            true
        })
        .unwrap();
        assert_eq!((lines, kept), (5, 2));
    }

    #[test]
    fn workbooks_read_whole_are_capped_before_reading() {
        let mut xls = vec![0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
        xls.resize(9 * 1024, 0);
        let e = read(&xls, &tiny()).unwrap_err();
        assert_eq!(
            e.message,
            "xls 文件超过 8 KB 上限，未导入任何数据；请在 Excel 中另存为 xlsx 后导入"
        );
        // An ods (no xlsx parts): checked again, as a workbook read whole, once the xlsx
        // reader has refused it.
        let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        out.start_file("mimetype", options).unwrap();
        out.write_all(b"application/vnd.oasis.opendocument.spreadsheet")
            .unwrap();
        out.start_file("content.xml", options).unwrap();
        out.write_all(&b"<a/>".repeat(2500)).unwrap();
        let ods = out.finish().unwrap().into_inner();
        let e = read(&ods, &tiny()).unwrap_err();
        assert_eq!(
            e.message,
            "xlsb 或 ods 文件解压后超过 8 KB 上限，未导入任何数据；请在 Excel 中另存为 xlsx 后导入"
        );
    }
}
