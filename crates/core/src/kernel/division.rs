//! Administrative divisions (GB/T 2260): facts shared by node codes, ID numbers and policies.

/// GB/T 2260 province-level prefixes (the first two digits of every division code).
pub const PROVINCE_PREFIXES: [u8; 34] = [
    11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46, 50, 51, 52,
    53, 54, 61, 62, 63, 64, 65, 71, 81, 82,
];

use std::sync::OnceLock;

/// The GB/T 2260 table shipped with Linli (`crates/core/data/divisions.tsv`, see the README
/// beside it): provinces, prefectures and counties of the 2023 list, and the codes retired
/// since 2020 so old records still read by name.
const TABLE_TSV: &str = include_str!("../../data/divisions.tsv");

/// The level of a division in the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DivisionKind {
    Province,
    /// Prefecture-level: 地级市, 地区, 自治州, 盟.
    Prefecture,
    /// The statistical placeholders under a province (市辖区, 县, 省直辖县级行政区划): never
    /// part of a name.
    Grouping,
    /// County-level: 市辖区, 县, 县级市, 旗, 自治县 (and the statistical development zones).
    County,
}

impl DivisionKind {
    fn parse(raw: &str) -> Option<DivisionKind> {
        Some(match raw {
            "province" => DivisionKind::Province,
            "city" => DivisionKind::Prefecture,
            "grouping" => DivisionKind::Grouping,
            "county" => DivisionKind::County,
            _ => return None,
        })
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            DivisionKind::Province => "省级",
            DivisionKind::Prefecture => "地级",
            DivisionKind::Grouping => "直辖",
            DivisionKind::County => "县级",
        }
    }
}

/// One row of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Division {
    /// Six digits: `530000`, `530100`, `530102`.
    pub code: &'static str,
    /// As listed: 「五华区」.
    pub name: &'static str,
    /// As said: 「五华」, 「大理」 for 大理白族自治州.
    pub short: &'static str,
    pub parent: Option<&'static str>,
    pub kind: DivisionKind,
    /// One syllable per character, space-separated: 「wu hua qu」.
    pub pinyin: &'static str,
    /// For a retired code: the last year it was listed.
    pub last_listed: Option<u16>,
    /// For a retired code: the code that took its place, when one did.
    pub replaced_by: Option<&'static str>,
}

impl Division {
    pub fn is_retired(&self) -> bool {
        self.last_listed.is_some()
    }

    /// 「云南省昆明市五华区」: the names from the province down, without the statistical
    /// groupings (「北京市东城区」, not 「北京市市辖区东城区」).
    pub fn full_name(&self) -> String {
        // A grouping asked for itself (110100) is named by its province.
        chain(self).iter().map(|d| d.name).collect()
    }

    /// 「km」 for 昆明市: the initials of the short name.
    fn short_initials(&self) -> String {
        initials(self.pinyin, self.short.chars().count())
    }

    /// 「kunming」 for 昆明市.
    fn short_pinyin(&self) -> String {
        self.pinyin
            .split(' ')
            .take(self.short.chars().count())
            .collect()
    }
}

fn initials(pinyin: &str, syllables: usize) -> String {
    pinyin
        .split(' ')
        .take(syllables)
        .filter_map(|s| s.chars().next())
        .collect()
}

fn parse_row(line: &'static str) -> Option<Division> {
    let mut f = line.split('\t');
    let code = f.next()?;
    let name = f.next()?;
    let short = f.next()?;
    let parent = f.next()?;
    let kind = DivisionKind::parse(f.next()?)?;
    let pinyin = f.next()?;
    let last_listed = f.next()?;
    let replaced_by = f.next()?;
    let six_digits = |c: &str| c.len() == 6 && c.bytes().all(|b| b.is_ascii_digit());
    if !six_digits(code) || name.is_empty() || f.next().is_some() {
        return None;
    }
    Some(Division {
        code,
        name,
        short,
        parent: Some(parent).filter(|p| six_digits(p)),
        kind,
        pinyin,
        last_listed: last_listed.parse().ok(),
        replaced_by: Some(replaced_by).filter(|r| six_digits(r)),
    })
}

/// The table, parsed once, sorted by code. A malformed line is left out (the data is checked
/// by a test, so none is).
pub fn table() -> &'static [Division] {
    static TABLE: OnceLock<Vec<Division>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut rows: Vec<Division> = TABLE_TSV
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .filter_map(parse_row)
            .collect();
        rows.sort_by(|a, b| a.code.cmp(b.code));
        rows
    })
}

/// The row of a six-digit code, current or retired.
pub fn get(code: &str) -> Option<&'static Division> {
    let t = table();
    t.binary_search_by(|d| d.code.cmp(code))
        .ok()
        .and_then(|i| t.get(i))
}

/// The full name of a six-digit code (「云南省昆明市」), current or retired; `None` when the
/// table does not know it.
pub fn full_name(code: &str) -> Option<String> {
    get(code).map(Division::full_name)
}

/// A code of any length as a person reads it: a six-digit code by its full name, a street
/// (9 digits) or community (12 digits) code by its county's name and the code itself
/// (「湖北省武汉市洪山区（街道 420111001）」), anything unknown as the code alone.
pub fn describe(code: &str) -> String {
    let code = code.trim();
    if let Some(name) = full_name(code) {
        return name;
    }
    let level = match code.len() {
        9 => "街道",
        12 => "社区",
        _ => return code.to_owned(),
    };
    match code.get(..6).and_then(full_name) {
        Some(county) => format!("{county}（{level} {code}）"),
        None => code.to_owned(),
    }
}

/// A code with the name a record gave it (a risk area's 「珞南街道」): the table's full name for
/// a code it knows, else the county's name and the given one (「湖北省武汉市洪山区珞南街道」), else
/// [`describe`].
pub fn describe_named(code: &str, given: Option<&str>) -> String {
    let given = given.map(str::trim).filter(|n| !n.is_empty());
    match (full_name(code.trim()), given) {
        (Some(name), _) => name,
        (None, Some(n)) => match code.trim().get(..6).and_then(full_name) {
            Some(county) if !n.starts_with(&county) => format!("{county}{n}"),
            _ => n.to_owned(),
        },
        (None, None) => describe(code),
    }
}

/// The divisions directly under `code`, current ones only, by code. The statistical groupings
/// are looked through: Beijing's children are its districts, Hubei's include 仙桃市.
pub fn children(code: &str) -> Vec<&'static Division> {
    let mut out = Vec::new();
    for d in table() {
        if d.parent == Some(code) && !d.is_retired() {
            if d.kind == DivisionKind::Grouping {
                out.extend(children(d.code));
            } else {
                out.push(d);
            }
        }
    }
    out.sort_by(|a, b| a.code.cmp(b.code));
    out
}

/// How well a query matched a division; the better first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum MatchQuality {
    /// The query is its name, short name, full name, or their pinyin.
    Exact,
    /// The query is the initials of its short name (「km」 for 昆明市).
    Initials,
    /// The query starts one of those.
    Prefix,
}

/// One division found by a search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaceHit {
    pub division: &'static Division,
    pub full_name: String,
    pub quality: MatchQuality,
}

/// What a person typed, made comparable: lower case, no spaces, apostrophes or dots.
fn normalise(q: &str) -> String {
    q.trim()
        .chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '\'' | '’' | '·' | '.' | '-'))
        .flat_map(char::to_lowercase)
        .collect()
}

/// The division's chain from its province down, without groupings.
fn chain(d: &Division) -> Vec<&Division> {
    let mut chain = vec![d];
    let mut at = d;
    while let Some(parent) = at.parent.and_then(get) {
        chain.push(parent);
        at = parent;
    }
    chain.retain(|d| d.kind != DivisionKind::Grouping);
    chain.reverse();
    chain
}

/// Every way of writing the division by name: its name and short name, and the chain from
/// any level above down to it, in full or short (「云南省昆明市五华区」, 「昆明市五华区」,
/// 「云南昆明五华」, 「昆明五华」); with the full and short pinyin of its own name.
fn name_keys(d: &Division) -> Vec<String> {
    let chain = chain(d);
    let mut keys = vec![d.name.to_owned(), d.short.to_owned()];
    for from in 0..chain.len().saturating_sub(1) {
        keys.push(chain[from..].iter().map(|d| d.name).collect());
        keys.push(chain[from..].iter().map(|d| d.short).collect());
    }
    keys.push(d.pinyin.split(' ').collect());
    keys.push(d.short_pinyin());
    keys
}

/// What a query is compared with, per current division, worked out once.
struct SearchKeys {
    division: &'static Division,
    full_name: String,
    names: Vec<String>,
    short_initials: String,
    all_initials: String,
}

fn search_index() -> &'static [SearchKeys] {
    static INDEX: OnceLock<Vec<SearchKeys>> = OnceLock::new();
    INDEX.get_or_init(|| {
        table()
            .iter()
            .filter(|d| !d.is_retired() && d.kind != DivisionKind::Grouping)
            .map(|d| SearchKeys {
                division: d,
                full_name: d.full_name(),
                names: name_keys(d),
                short_initials: d.short_initials(),
                all_initials: initials(d.pinyin, usize::MAX),
            })
            .collect()
    })
}

fn quality(k: &SearchKeys, q: &str) -> Option<MatchQuality> {
    if k.names.iter().any(|n| n == q) {
        return Some(MatchQuality::Exact);
    }
    if k.short_initials == q || k.all_initials == q {
        return Some(MatchQuality::Initials);
    }
    let prefix =
        k.names.iter().any(|n| n.starts_with(q)) || (q.is_ascii() && k.all_initials.starts_with(q));
    prefix.then_some(MatchQuality::Prefix)
}

/// Current divisions whose name, full name (「云南昆明」 works too), pinyin (「kunming」) or
/// initials (「km」) match `q`, best first: exact matches, then initials, then prefixes; within
/// one quality provinces before prefectures before counties, then by code. At most `limit`.
pub fn search(q: &str, limit: usize) -> Vec<PlaceHit> {
    let q = normalise(q);
    if q.is_empty() {
        return Vec::new();
    }
    let mut hits: Vec<PlaceHit> = search_index()
        .iter()
        .filter_map(|k| {
            quality(k, &q).map(|quality| PlaceHit {
                division: k.division,
                full_name: k.full_name.clone(),
                quality,
            })
        })
        .collect();
    hits.sort_by(|a, b| {
        (a.quality, a.division.kind, a.division.code).cmp(&(
            b.quality,
            b.division.kind,
            b.division.code,
        ))
    });
    hits.truncate(limit);
    hits
}

/// Why a typed place did not resolve to one division.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResolveError {
    Empty,
    /// Nothing matches.
    Unknown,
    /// Several match equally well: the candidates, best first (at most 8), and how many in all.
    Ambiguous {
        candidates: Vec<PlaceHit>,
        total: usize,
    },
}

impl ResolveError {
    /// The message a form shows, naming the candidates: 「「朝阳」有 4 处：北京市朝阳区（110105）、
    /// …，请写上省市（如「北京朝阳」）或选一个」.
    pub fn message_zh(&self, typed: &str) -> String {
        let typed = typed.trim();
        match self {
            ResolveError::Empty => "请填写地点：地名、拼音或 6 位行政区划代码".to_owned(),
            ResolveError::Unknown => format!(
                "没有找到「{typed}」：请写地名（如「昆明」「云南昆明五华」）、拼音（kunming、km）或 6 位行政区划代码"
            ),
            ResolveError::Ambiguous { candidates, total } => {
                let list: Vec<String> = candidates
                    .iter()
                    .map(|h| format!("{}（{}）", h.full_name, h.division.code))
                    .collect();
                let more = if *total > candidates.len() {
                    format!("等 {total} 处")
                } else {
                    String::new()
                };
                let example = candidates
                    .first()
                    .map_or_else(|| "云南昆明五华".to_owned(), |h| said_with_parent(h.division));
                format!(
                    "「{typed}」有 {total} 处：{}{more}，请写上省市（如「{example}」）或选一个",
                    list.join("、")
                )
            }
        }
    }
}

/// A division said short with its parent, as one would type it to be precise: 「武汉洪山」,
/// 「北京朝阳」; a province by its full name.
fn said_with_parent(d: &Division) -> String {
    let chain = chain(d);
    match chain.as_slice() {
        [.., parent, own] => format!("{}{}", parent.short, own.short),
        _ => d.full_name(),
    }
}

/// How many candidates an ambiguity names.
pub const CANDIDATES_SHOWN: usize = 8;

/// Resolves what a person typed for a place to one division.
///
/// - A code (6 digits) or text holding one (「云南省昆明市（530100）」, as the picker's list
///   offers) is that code when the table knows it, retired codes included.
/// - Otherwise the best matches of [`search`] decide: a single exact match (name, full name,
///   pinyin) wins; initials are shorthand, so among exact-initials matches a single one of the
///   highest level wins (「km」 → 昆明市 over 康马县); a single prefix match wins. Anything else
///   is ambiguous and names the candidates — never a guess between two places of one level
///   (「朝阳」: 北京市朝阳区 or 辽宁省朝阳市?).
pub fn resolve(typed: &str) -> Result<&'static Division, ResolveError> {
    if typed.trim().is_empty() {
        return Err(ResolveError::Empty);
    }
    if let Some(d) = embedded_code(typed).and_then(get) {
        return Ok(d);
    }
    let hits = search(typed, usize::MAX);
    let Some(best) = hits.first() else {
        return Err(ResolveError::Unknown);
    };
    let tied: Vec<&PlaceHit> = hits
        .iter()
        .filter(|h| {
            h.quality == best.quality
                && (best.quality != MatchQuality::Initials || h.division.kind == best.division.kind)
        })
        .collect();
    if tied.len() == 1 {
        return Ok(best.division);
    }
    let total = if best.quality == MatchQuality::Initials {
        tied.len()
    } else {
        hits.iter().filter(|h| h.quality == best.quality).count()
    };
    Err(ResolveError::Ambiguous {
        candidates: tied.into_iter().take(CANDIDATES_SHOWN).cloned().collect(),
        total,
    })
}

/// The six-digit code in `typed`, when it holds exactly one run of six digits.
fn embedded_code(typed: &str) -> Option<&str> {
    let runs: Vec<&str> = typed
        .split(|c: char| !c.is_ascii_digit())
        .filter(|r| !r.is_empty())
        .collect();
    match runs.as_slice() {
        [one] if one.len() == 6 => Some(one),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_parses_whole() {
        let lines = TABLE_TSV
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .count();
        assert_eq!(
            table().len(),
            lines,
            "a line of divisions.tsv did not parse"
        );
        assert!(table().len() > 3300);
        assert!(
            table().windows(2).all(|w| w[0].code < w[1].code),
            "codes repeat"
        );
        for d in table() {
            assert!(
                PROVINCE_PREFIXES
                    .iter()
                    .any(|p| d.code.starts_with(&p.to_string())),
                "{}",
                d.code
            );
            if let Some(p) = d.parent {
                assert!(get(p).is_some(), "{} has unknown parent {p}", d.code);
            }
            if let Some(r) = d.replaced_by {
                assert!(get(r).is_some_and(|r| !r.is_retired()), "{} → {r}", d.code);
            }
            assert_eq!(
                d.pinyin.split(' ').count(),
                d.name.chars().count(),
                "{}",
                d.name
            );
        }
        let provinces = table()
            .iter()
            .filter(|d| d.kind == DivisionKind::Province)
            .count();
        assert_eq!(provinces, 34);
    }

    #[test]
    fn codes_read_as_full_names() {
        for (code, name) in [
            ("530000", "云南省"),
            ("530100", "云南省昆明市"),
            ("530102", "云南省昆明市五华区"),
            ("110101", "北京市东城区"),
            ("110100", "北京市"),
            ("500229", "重庆市城口县"),
            ("429004", "湖北省仙桃市"),
            ("441900", "广东省东莞市"),
            ("532901", "云南省大理白族自治州大理市"),
            ("810000", "香港特别行政区"),
            // Retired since 2020, still read by their name.
            ("330104", "浙江省杭州市江干区"),
            ("530422", "云南省玉溪市澄江县"),
        ] {
            assert_eq!(full_name(code).as_deref(), Some(name), "{code}");
        }
        assert_eq!(full_name("530199"), None);
        assert_eq!(
            describe("420111001"),
            "湖北省武汉市洪山区（街道 420111001）"
        );
        assert_eq!(
            describe("420111001001"),
            "湖北省武汉市洪山区（社区 420111001001）"
        );
        assert_eq!(describe("530199"), "530199");
        assert_eq!(
            describe_named("420111001", Some("珞南街道")),
            "湖北省武汉市洪山区珞南街道"
        );
        assert_eq!(describe_named("420111", Some("洪山")), "湖北省武汉市洪山区");
        assert_eq!(describe_named("530199", None), "530199");
    }

    #[test]
    fn retired_codes_name_what_replaced_them() {
        for (code, last, by) in [
            ("530422", 2019, Some("530481")), // 澄江县 → 澄江市
            ("330103", 2020, Some("330105")), // 下城区 → 拱墅区
            ("220381", 2019, Some("220184")), // 公主岭市, now under 长春
            ("330104", 2020, None),           // 江干区: split
        ] {
            let d = get(code).unwrap();
            assert!(d.is_retired(), "{code}");
            assert_eq!(d.last_listed, Some(last), "{code}");
            assert_eq!(d.replaced_by, by, "{code}");
        }
        assert!(!get("530481").unwrap().is_retired());
    }

    #[test]
    fn children_look_through_groupings() {
        let beijing: Vec<&str> = children("110000").iter().map(|d| d.name).collect();
        assert_eq!(beijing.len(), 16);
        assert_eq!(beijing[0], "东城区");
        let hubei: Vec<&str> = children("420000").iter().map(|d| d.name).collect();
        assert!(
            hubei.contains(&"武汉市") && hubei.contains(&"仙桃市"),
            "{hubei:?}"
        );
        let kunming: Vec<&str> = children("530100").iter().map(|d| d.name).collect();
        assert!(kunming.contains(&"五华区"));
        // Retired codes are not offered.
        let yuxi: Vec<&str> = children("530400").iter().map(|d| d.code).collect();
        assert!(!yuxi.contains(&"530422") && yuxi.contains(&"530481"));
        assert!(children("530102").is_empty());
    }

    #[test]
    fn typed_places_resolve() {
        for (typed, code) in [
            ("昆明", "530100"),
            ("昆明市", "530100"),
            ("kunming", "530100"),
            ("KunMing", "530100"),
            ("km", "530100"),
            ("云南", "530000"),
            ("yunnan", "530000"),
            ("云南昆明五华", "530102"),
            ("云南省昆明市五华区", "530102"),
            ("昆明五华", "530102"),
            ("北京东城", "110101"),
            ("武汉", "420100"),
            ("wuhan", "420100"),
            ("洪山区", "420111"),
            ("大理市", "532901"),
            ("大理白族自治州", "532900"),
            ("重庆", "500000"),
            ("chongqing", "500000"),
            ("长沙市", "430100"),
            ("changshashi", "430100"),
            ("西双版纳", "532800"),
            ("530102", "530102"),
            (" 530100 ", "530100"),
            ("云南省昆明市（530100）", "530100"),
            ("330104", "330104"), // a retired code still reads
        ] {
            assert_eq!(resolve(typed).map(|d| d.code), Ok(code), "{typed}");
        }
    }

    #[test]
    fn ambiguous_places_name_their_candidates() {
        let Err(ResolveError::Ambiguous { candidates, total }) = resolve("朝阳") else {
            panic!("朝阳 should be ambiguous");
        };
        let codes: Vec<&str> = candidates.iter().map(|h| h.division.code).collect();
        assert!(
            codes.contains(&"110105") && codes.contains(&"211300"),
            "{codes:?}"
        );
        assert_eq!(total, candidates.len());
        let message = resolve("朝阳").unwrap_err().message_zh("朝阳");
        assert!(message.contains("北京市朝阳区（110105）"), "{message}");
        assert!(message.contains("辽宁省朝阳市（211300）"), "{message}");
        // The example given is one of them, said precisely enough to resolve.
        assert!(
            message.ends_with("请写上省市（如「辽宁朝阳」）或选一个"),
            "{message}"
        );
        assert_eq!(resolve("辽宁朝阳").map(|d| d.code), Ok("211300"));
        assert_eq!(resolve("北京朝阳").map(|d| d.code), Ok("110105"));
        // A prefecture and its seat: both named, the coarser is not guessed.
        assert!(matches!(
            resolve("大理"),
            Err(ResolveError::Ambiguous { total: 2, .. })
        ));
        assert!(matches!(
            resolve("长沙"),
            Err(ResolveError::Ambiguous { total: 2, .. })
        ));
        assert!(matches!(
            resolve("吉林"),
            Err(ResolveError::Ambiguous { total: 2, .. })
        ));
        // Two counties of one name.
        assert!(matches!(
            resolve("五华"),
            Err(ResolveError::Ambiguous { .. })
        ));
        assert!(matches!(
            resolve("chaoyang"),
            Err(ResolveError::Ambiguous { .. })
        ));
        assert_eq!(resolve("火星"), Err(ResolveError::Unknown));
        assert_eq!(resolve("  "), Err(ResolveError::Empty));
        assert_eq!(resolve("530199"), Err(ResolveError::Unknown));
    }

    #[test]
    fn search_ranks_exact_before_prefix() {
        let hits = search("昆", 20);
        assert!(hits.len() > 1);
        assert_eq!(hits[0].division.code, "530100", "{hits:?}");
        let hits = search("kunm", 5);
        assert_eq!(hits[0].full_name, "云南省昆明市");
        assert!(search("", 5).is_empty());
        assert_eq!(search("武汉", 3).len(), 3);
        // Retired codes are not offered.
        assert!(search("江干", 5).is_empty());
    }

    #[test]
    fn a_search_is_quick() {
        search("预热", 1);
        let started = std::time::Instant::now();
        for q in ["昆明", "km", "kunming", "云南昆明五华", "z"] {
            search(q, 10);
        }
        // Five searches over the whole table; generous for a debug build on a busy machine.
        assert!(started.elapsed() < std::time::Duration::from_millis(500));
    }
}
