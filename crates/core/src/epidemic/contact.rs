//! Cases and close contacts (病例、密切接触者): the values a contact link is made of, the checks a
//! new link must pass, name masking for the chain of transmission, and the layered layout of the
//! chain graph (pure arithmetic; the SVG markup lives in a web template).
//!
//! Conventions fixed here:
//! - A **link** says "person was in contact with source": a 密接 (close contact) links to a case,
//!   a 次密接 (contact of a close contact) links to a 密接. The chain is the graph of links read
//!   from a case downwards; a person may hold several links (a DAG), never a cycle.
//! - The **generation** of a person in a chain is their shortest distance from the case (BFS), so
//!   the layout is one column per generation, the case in column 0.
//! - **Masked names** keep the first character and hide the rest with one `*` per character
//!   (at most three): 张三 → 张*, 欧阳娜娜 → 欧***.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::str::FromStr;

use serde::Serialize;
use time::Date;

use crate::epidemic::policy::ContactKind;
use crate::kernel::clock::format_date;
use crate::kernel::labels::Labelled;
use crate::labelled;
use crate::CoreError;

labelled! {
    /// How a case was diagnosed.
    #[derive(Hash, strum::Display)]
    pub enum CaseKind: "case_kind" {
        /// 确诊病例
        #[strum(serialize = "confirmed", props(zh = "确诊病例"))]
        Confirmed,
        /// 无症状感染者
        #[strum(serialize = "asymptomatic", props(zh = "无症状感染者"))]
        Asymptomatic,
    }
}

impl CaseKind {
    /// The two-character form for tight places (graph nodes).
    pub fn short_zh(self) -> &'static str {
        match self {
            CaseKind::Confirmed => "确诊",
            CaseKind::Asymptomatic => "无症状",
        }
    }
}

impl FromStr for CaseKind {
    type Err = CoreError;
    fn from_str(s: &str) -> Result<CaseKind, CoreError> {
        let s = s.trim();
        CaseKind::ALL
            .iter()
            .copied()
            .find(|k| k.as_str() == s || k.label_zh() == s || k.short_zh() == s)
            .ok_or_else(|| {
                CoreError::invalid(
                    "kind",
                    format!("「{s}」不是病例类型，应为 confirmed（确诊病例）或 asymptomatic（无症状感染者）"),
                )
            })
    }
}

/// Parses a contact type as the field `type`: `close_contact`/密接/密切接触者 or
/// `secondary_contact`/次密接.
pub fn parse_contact_kind(raw: &str) -> Result<ContactKind, CoreError> {
    raw.parse::<ContactKind>().map_err(|_| {
        CoreError::invalid(
            "type",
            format!(
                "「{}」不是接触者类型，应为 close_contact（密接）或 secondary_contact（次密接）",
                raw.trim()
            ),
        )
    })
}

/// The short Chinese label of a contact type, for tight places: 密接 / 次密接.
pub fn contact_short_zh(kind: ContactKind) -> &'static str {
    match kind {
        ContactKind::CloseContact => "密接",
        ContactKind::SecondaryContact => "次密接",
    }
}

/// A date that may not lie after `today` (a last contact, a diagnosis).
pub fn not_in_future(field: &str, what: &str, d: Date, today: Date) -> Result<Date, CoreError> {
    if d > today {
        return Err(CoreError::invalid(
            field,
            format!(
                "{what} {} 晚于今天（{}），不能登记未来的日期",
                format_date(d),
                format_date(today)
            ),
        ));
    }
    Ok(d)
}

/// What is known of a proposed link's source, to check it (the store looks these facts up).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SourceFacts {
    /// The source is a registered case.
    pub is_case: bool,
    /// The source is a close contact of someone.
    pub is_close_contact: bool,
    /// The person is already upstream of the source (the source was infected through the person):
    /// linking them would close a cycle.
    pub source_is_downstream: bool,
}

/// Checks a new link `person → source` of `kind`, with the precise error a worker reads.
pub fn check_link(
    person_id: i64,
    source_id: i64,
    kind: ContactKind,
    source: SourceFacts,
) -> Result<(), CoreError> {
    if person_id == source_id {
        return Err(CoreError::invalid(
            "source_person_id",
            "来源不能是本人：请选择与此人接触过的病例或密接",
        ));
    }
    match kind {
        ContactKind::CloseContact if !source.is_case => {
            return Err(CoreError::invalid(
                "source_person_id",
                "「密接」的来源必须是已登记的病例（确诊病例或无症状感染者）；所选来源不是病例，请先标记病例，或登记为「次密接」",
            ))
        }
        ContactKind::SecondaryContact if !source.is_close_contact => {
            return Err(CoreError::invalid(
                "source_person_id",
                "「次密接」的来源必须是已登记的密接（密切接触者）；所选来源不是密接",
            ))
        }
        _ => {}
    }
    if source.source_is_downstream {
        return Err(CoreError::invalid(
            "source_person_id",
            "不能形成循环：所选来源在传播链上是此人的下游（经此人接触而登记），不能再作为此人的来源",
        ));
    }
    Ok(())
}

/// The name as the chain shows it by default: the first character, then `*`s.
pub fn mask_name(name: &str) -> String {
    let name = name.trim();
    let mut chars = name.chars();
    match chars.next() {
        None => "*".to_owned(),
        Some(first) => {
            let rest = chars.count().clamp(1, 3);
            format!("{first}{}", "*".repeat(rest))
        }
    }
}

/// One link as the chain reads it: `person` was in contact with `source`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainLink {
    pub source: i64,
    pub person: i64,
    pub kind: ContactKind,
    pub last_contact_on: Date,
}

/// Every person reachable from `root` along the links (source → person), with their generation
/// (shortest distance), in BFS order; links are followed in the order given. At most
/// `max_generations` below the root.
pub fn generations(root: i64, links: &[ChainLink], max_generations: u32) -> Vec<(i64, u32)> {
    let mut by_source: HashMap<i64, Vec<&ChainLink>> = HashMap::new();
    for l in links {
        by_source.entry(l.source).or_default().push(l);
    }
    let mut seen: HashSet<i64> = HashSet::from([root]);
    let mut order = vec![(root, 0)];
    let mut queue = VecDeque::from([(root, 0u32)]);
    while let Some((id, g)) = queue.pop_front() {
        if g >= max_generations {
            continue;
        }
        for l in by_source.get(&id).map(Vec::as_slice).unwrap_or_default() {
            if seen.insert(l.person) {
                order.push((l.person, g + 1));
                queue.push_back((l.person, g + 1));
            }
        }
    }
    order
}

/// Box sizes and gaps of the chain graph, in SVG user units (CSS pixels).
pub const NODE_WIDTH: u32 = 150;
pub const NODE_HEIGHT: u32 = 46;
pub const COLUMN_GAP: u32 = 36;
pub const ROW_GAP: u32 = 12;
pub const MARGIN: u32 = 6;

/// A node's box.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Placed {
    pub x: u32,
    pub y: u32,
    pub column: u32,
    pub row: u32,
}

/// An edge drawn as a straight line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Line {
    pub x1: u32,
    pub y1: u32,
    pub x2: u32,
    pub y2: u32,
}

/// The chain laid out: one column per generation, nodes stacked in each column in the order of
/// their first source's row (so lines cross little), then by last contact, then by id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Layout {
    pub width: u32,
    pub height: u32,
    /// Positions of the persons, by id.
    pub placed: BTreeMap<i64, Placed>,
    /// One line per link whose two ends are placed, in the order of `links`.
    pub lines: Vec<Line>,
}

/// Lays out `nodes` (id, generation; as [`generations`] returns them) and the `links` between them.
pub fn lay_out(nodes: &[(i64, u32)], links: &[ChainLink]) -> Layout {
    let columns = nodes.iter().map(|(_, g)| *g).max().map_or(0, |g| g + 1);
    let mut placed: BTreeMap<i64, Placed> = BTreeMap::new();
    let mut tallest = 0;
    for column in 0..columns {
        // Sort key: the lowest row among already-placed sources, the latest contact first, id.
        let mut in_column: Vec<(u32, std::cmp::Reverse<Date>, i64)> = nodes
            .iter()
            .filter(|(_, g)| *g == column)
            .map(|(id, _)| {
                let incoming = links.iter().filter(|l| l.person == *id);
                let parent_row = incoming
                    .clone()
                    .filter_map(|l| placed.get(&l.source).map(|p| p.row))
                    .min()
                    .unwrap_or(0);
                let last = incoming
                    .map(|l| l.last_contact_on)
                    .max()
                    .unwrap_or(Date::MIN);
                (parent_row, std::cmp::Reverse(last), *id)
            })
            .collect();
        in_column.sort();
        tallest = tallest.max(in_column.len() as u32);
        for (row, (_, _, id)) in in_column.into_iter().enumerate() {
            let row = row as u32;
            placed.insert(
                id,
                Placed {
                    x: MARGIN + column * (NODE_WIDTH + COLUMN_GAP),
                    y: MARGIN + row * (NODE_HEIGHT + ROW_GAP),
                    column,
                    row,
                },
            );
        }
    }
    let lines = links
        .iter()
        .filter_map(|l| {
            let (a, b) = (placed.get(&l.source)?, placed.get(&l.person)?);
            // A link inside one column (a DAG's cross link) goes from bottom to top or top to
            // bottom; any other from the right side of the source to the left side of the person.
            Some(if a.column == b.column {
                let x = a.x + NODE_WIDTH / 2;
                if a.row < b.row {
                    Line {
                        x1: x,
                        y1: a.y + NODE_HEIGHT,
                        x2: x,
                        y2: b.y,
                    }
                } else {
                    Line {
                        x1: x,
                        y1: a.y,
                        x2: x,
                        y2: b.y + NODE_HEIGHT,
                    }
                }
            } else if a.column < b.column {
                Line {
                    x1: a.x + NODE_WIDTH,
                    y1: a.y + NODE_HEIGHT / 2,
                    x2: b.x,
                    y2: b.y + NODE_HEIGHT / 2,
                }
            } else {
                Line {
                    x1: a.x,
                    y1: a.y + NODE_HEIGHT / 2,
                    x2: b.x + NODE_WIDTH,
                    y2: b.y + NODE_HEIGHT / 2,
                }
            })
        })
        .collect();
    Layout {
        width: 2 * MARGIN + columns * NODE_WIDTH + columns.saturating_sub(1) * COLUMN_GAP,
        height: 2 * MARGIN + tallest * NODE_HEIGHT + tallest.saturating_sub(1) * ROW_GAP,
        placed,
        lines,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn codes_and_labels_stay_as_stored_and_shown() {
        use crate::kernel::labels::assert_table;
        assert_table(&[
            (CaseKind::Confirmed, "confirmed", "确诊病例"),
            (CaseKind::Asymptomatic, "asymptomatic", "无症状感染者"),
        ]);
    }

    fn link(source: i64, person: i64, kind: ContactKind, on: Date) -> ChainLink {
        ChainLink {
            source,
            person,
            kind,
            last_contact_on: on,
        }
    }

    #[test]
    fn names_are_masked_after_the_first_character() {
        assert_eq!(mask_name("张三"), "张*");
        assert_eq!(mask_name("王小明"), "王**");
        assert_eq!(mask_name("欧阳娜娜"), "欧***");
        assert_eq!(mask_name("阿卜杜热合曼·买买提"), "阿***");
        assert_eq!(mask_name("李"), "李*");
        assert_eq!(mask_name("  "), "*");
        assert!(!mask_name("张三").contains('三'));
    }

    #[test]
    fn case_kinds_parse_from_code_or_chinese() {
        assert_eq!(
            "confirmed".parse::<CaseKind>().unwrap(),
            CaseKind::Confirmed
        );
        assert_eq!(
            "无症状".parse::<CaseKind>().unwrap(),
            CaseKind::Asymptomatic
        );
        let e = "building".parse::<CaseKind>().unwrap_err();
        assert_eq!(e.field, "kind");
        assert!(e.message.contains("确诊"));
        assert_eq!(
            parse_contact_kind("密接").unwrap(),
            ContactKind::CloseContact
        );
        assert_eq!(
            parse_contact_kind("secondary_contact").unwrap(),
            ContactKind::SecondaryContact
        );
        assert_eq!(parse_contact_kind("朋友").unwrap_err().field, "type");
    }

    #[test]
    fn links_are_checked_with_precise_errors() {
        let case = SourceFacts {
            is_case: true,
            ..Default::default()
        };
        let close = SourceFacts {
            is_close_contact: true,
            ..Default::default()
        };
        check_link(1, 2, ContactKind::CloseContact, case).unwrap();
        check_link(1, 2, ContactKind::SecondaryContact, close).unwrap();

        let e = check_link(1, 1, ContactKind::CloseContact, case).unwrap_err();
        assert_eq!(e.field, "source_person_id");
        assert!(e.message.contains("本人"), "{}", e.message);
        let e = check_link(1, 2, ContactKind::SecondaryContact, case).unwrap_err();
        assert!(e.message.contains("次密接"), "{}", e.message);
        let e = check_link(1, 2, ContactKind::CloseContact, close).unwrap_err();
        assert!(e.message.contains("病例"), "{}", e.message);
        let cyclic = SourceFacts {
            source_is_downstream: true,
            ..close
        };
        let e = check_link(1, 2, ContactKind::SecondaryContact, cyclic).unwrap_err();
        assert!(e.message.contains("循环"), "{}", e.message);
    }

    #[test]
    fn future_dates_are_refused() {
        let today = date!(2022 - 07 - 05);
        not_in_future("last_contact_on", "最后接触日期", today, today).unwrap();
        let e = not_in_future(
            "last_contact_on",
            "最后接触日期",
            date!(2022 - 07 - 06),
            today,
        )
        .unwrap_err();
        assert_eq!(e.field, "last_contact_on");
        assert!(e.message.contains("2022-07-06"), "{}", e.message);
    }

    #[test]
    fn generations_are_shortest_distances_and_stop_at_the_limit() {
        use ContactKind::{CloseContact as C, SecondaryContact as S};
        let d = date!(2022 - 07 - 01);
        // 1 is the case; 2 and 3 its close contacts; 4 a contact of 2 and also of the case.
        let links = vec![
            link(1, 2, C, d),
            link(1, 3, C, d),
            link(2, 4, S, d),
            link(4, 5, S, d),
            link(1, 4, C, d),
        ];
        let g = generations(1, &links, 6);
        assert_eq!(g, vec![(1, 0), (2, 1), (3, 1), (4, 1), (5, 2)]);
        assert_eq!(generations(1, &links, 1).len(), 4);
        // A cycle in stored data does not loop.
        let cyclic = vec![link(1, 2, C, d), link(2, 1, S, d)];
        assert_eq!(generations(1, &cyclic, 6), vec![(1, 0), (2, 1)]);
    }

    #[test]
    fn the_layout_has_one_column_per_generation() {
        use ContactKind::{CloseContact as C, SecondaryContact as S};
        let links = vec![
            link(1, 2, C, date!(2022 - 07 - 01)),
            link(1, 3, C, date!(2022 - 07 - 03)),
            link(3, 4, S, date!(2022 - 07 - 04)),
            link(2, 3, C, date!(2022 - 07 - 02)),
        ];
        let nodes = generations(1, &links, 6);
        let l = lay_out(&nodes, &links);
        assert_eq!(l.placed[&1].column, 0);
        assert_eq!(l.placed[&2].column, 1);
        assert_eq!(l.placed[&4].column, 2);
        // The later contact is stacked first.
        assert_eq!(l.placed[&3].row, 0);
        assert_eq!(l.placed[&2].row, 1);
        assert_eq!(l.width, 2 * MARGIN + 3 * NODE_WIDTH + 2 * COLUMN_GAP);
        assert_eq!(l.height, 2 * MARGIN + 2 * NODE_HEIGHT + ROW_GAP);
        assert_eq!(l.lines.len(), 4);
        // Source's right edge to the person's left edge.
        assert_eq!(l.lines[0].x1, l.placed[&1].x + NODE_WIDTH);
        assert_eq!(l.lines[0].x2, l.placed[&2].x);
        // Same column (2 → 3): bottom of the lower-row box, vertical.
        let cross = l.lines[3];
        assert_eq!(cross.x1, cross.x2);
        for p in l.placed.values() {
            assert!(p.x + NODE_WIDTH <= l.width && p.y + NODE_HEIGHT <= l.height);
        }
    }

    #[test]
    fn a_lone_case_is_one_box() {
        let l = lay_out(&generations(7, &[], 6), &[]);
        assert_eq!(l.placed.len(), 1);
        assert_eq!(l.width, 2 * MARGIN + NODE_WIDTH);
        assert!(l.lines.is_empty());
    }
}
