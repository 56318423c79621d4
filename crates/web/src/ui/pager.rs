//! Numbered pages of a list: which page this is, and links to the pages beside it.

/// Page `page` of a list, as a page shows it: 「第 N / M 页」 and the links to the previous and
/// next pages (empty where there is none). Drawn by `templates/ui/pager.html`.
pub struct Pager {
    /// The page shown, from 1.
    pub page: i64,
    pub prev: String,
    pub next: String,
    pub label: String,
}

impl Pager {
    /// Page `page` of `total` rows, `per_page` a page; `link` makes the address of page n.
    pub fn new(page: i64, total: i64, per_page: i64, link: impl Fn(i64) -> String) -> Pager {
        let pages = ((total + per_page - 1) / per_page).max(1);
        Pager {
            page,
            prev: if page > 1 {
                link(page - 1)
            } else {
                String::new()
            },
            next: if page < pages {
                link(page + 1)
            } else {
                String::new()
            },
            label: format!("第 {page} / {pages} 页"),
        }
    }

    /// The page asked for in a query (`?page=`), 1 when absent or below 1.
    pub fn asked(page: Option<i64>) -> i64 {
        page.unwrap_or(1).max(1)
    }

    /// The rows before page `page`: the store's offset.
    pub fn offset(page: i64, per_page: i64) -> i64 {
        (page - 1) * per_page
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_middle_and_last_pages() {
        let link = |n: i64| format!("?page={n}");
        let first = Pager::new(1, 120, 50, link);
        assert_eq!((first.prev.as_str(), first.next.as_str()), ("", "?page=2"));
        assert_eq!(first.label, "第 1 / 3 页");
        let middle = Pager::new(2, 120, 50, link);
        assert_eq!(
            (middle.prev.as_str(), middle.next.as_str()),
            ("?page=1", "?page=3")
        );
        let last = Pager::new(3, 120, 50, link);
        assert_eq!((last.prev.as_str(), last.next.as_str()), ("?page=2", ""));
        // An empty list is still one page.
        assert_eq!(Pager::new(1, 0, 50, link).label, "第 1 / 1 页");
    }
}
