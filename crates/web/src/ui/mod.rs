//! What every area's pages and API share: the layout and error pages, form errors, select
//! options, spreadsheet downloads, rate limits and pages of results. Imports no area.

pub mod api;
pub mod choice;
pub mod forms;
pub mod input;
pub mod pager;
pub mod person;
pub mod places;
pub mod qr;
pub mod rate;
pub mod shell;
pub mod xlsx;

pub use api::{list_of, CountsOut, List, NodeOut, PageQuery};
pub use choice::{choices, node_options, node_picker, Choice, HitRow, ParentOption};
pub use forms::{
    day_range, field_errors, field_label, form_errors, form_errors_with, form_status,
    optional_number, Empty, FieldErrors,
};
pub use pager::Pager;
pub use person::PersonBody;
pub use rate::{too_many, RateLimiter};
pub use shell::{
    error_page, jurisdiction, not_found, query_string, router, short_label, store_error_page,
    url_encode, NoticeQuery, PublicMessage, Shell,
};
pub use xlsx::{audited_list, xlsx_built, xlsx_response, xlsx_table, ListExport};
