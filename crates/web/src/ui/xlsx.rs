//! Spreadsheet downloads.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

/// An xlsx download. The file name goes out percent-encoded (RFC 6266 `filename*`), with an
/// ASCII fallback for old clients.
pub fn xlsx_response(bytes: Vec<u8>, file_name: &str) -> Response {
    let ascii: String = file_name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String = file_name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    (
        [
            (
                header::CONTENT_TYPE,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet".to_owned(),
            ),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}"),
            ),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        bytes,
    )
        .into_response()
}

/// Builds a spreadsheet off the async threads and answers it as a download. A failure, or a
/// panic while building, is logged under `what` and answered with the export's error page.
pub async fn xlsx_built<F>(what: &'static str, file_name: &str, build: F) -> Response
where
    F: FnOnce() -> Result<Vec<u8>, linli_core::CoreError> + Send + 'static,
{
    let error = match tokio::task::spawn_blocking(build).await {
        Ok(Ok(bytes)) => return xlsx_response(bytes, file_name),
        Ok(Err(e)) => e.to_string(),
        Err(e) => format!("panicked: {e}"),
    };
    tracing::error!(error, what, "export failed");
    crate::ui::error_page(
        StatusCode::INTERNAL_SERVER_ERROR,
        "导出文件生成失败，请稍后重试。",
    )
}

/// A one-sheet table as a download ([`xlsx_built`]): a title line, the header, then `rows`
/// (made into cells off the async threads too).
pub async fn xlsx_table<R>(
    what: &'static str,
    file_name: &str,
    sheet: &'static str,
    title: String,
    header: &'static [&'static str],
    rows: R,
) -> Response
where
    R: IntoIterator<Item = Vec<String>> + Send + 'static,
{
    xlsx_built(what, file_name, move || {
        let mut out = linli_core::registry::sheet::XlsxOut::new(sheet)?;
        out.title(&title)?;
        out.header(header)?;
        for row in rows {
            out.row(&row)?;
        }
        out.finish()
    })
    .await
}

/// Records, before the file is built, that `user` downloads a list of people (`entity`: `trip`,
/// `observation`, …) under `node_id` with the page's filters: every export of personal data is
/// audited, masked or not. No entry, no file: a failure answers the error page.
pub async fn audit_export(
    state: &crate::AppState,
    user: &linli_store::accounts::Principal,
    entity: &'static str,
    node_id: i64,
    query: Option<&str>,
    rows: usize,
) -> Result<(), Response> {
    record_export(state, user, entity, Some(node_id), query, rows).await
}

/// [`audit_export`] for a list under a node, or (`None`) over the caller's whole jurisdiction.
async fn record_export(
    state: &crate::AppState,
    user: &linli_store::accounts::Principal,
    entity: &'static str,
    node_id: Option<i64>,
    query: Option<&str>,
    rows: usize,
) -> Result<(), Response> {
    use linli_store::infra::audit::{self, AuditEntry};
    let result = async {
        let mut entry = AuditEntry::by(&user.scope, "list.export", entity);
        if let Some(id) = node_id {
            let node = linli_store::tree::get(&state.db, &user.scope, id).await?;
            entry = entry.node_path(&node.path);
        }
        audit::record(
            state.db.pool(),
            entry.detail(serde_json::json!({
                "node_id": node_id,
                "query": query.unwrap_or_default(),
                "rows": rows,
            })),
            linli_core::kernel::clock::now_ms(),
        )
        .await
    }
    .await;
    result.map_err(crate::ui::store_error_page)
}

/// One list's spreadsheet: what it is and where it was taken.
pub struct ListExport {
    /// What the audit entry names (`request`, `enterprise`, `supply_ledger`, `audit`).
    pub entity: &'static str,
    /// The list's name: the sheet's, and the start of the title and of the file name.
    pub name: &'static str,
    pub header: &'static [&'static str],
    /// The node the list is under (its path goes in the audit entry); `None` for a list over
    /// the caller's whole jurisdiction.
    pub node_id: Option<i64>,
    /// Where, in words, for the title (「城关街道」, 「城关街道 · 东门物资点」).
    pub place: String,
    /// What tells one file from another in its name (a node's or a site's id).
    pub key: String,
    /// The page's filters as asked (the query string), kept in the audit entry.
    pub query: Option<String>,
}

/// A filtered list as a download, the same way for every list: the export is audited first (no
/// entry, no file), then written with the title 「{place} {name}（{day} 导出，共 {total} 条）」 as
/// 「{name}-{key}-{day}.xlsx」.
pub async fn audited_list(
    state: &crate::AppState,
    user: &linli_store::accounts::Principal,
    export: ListExport,
    total: i64,
    rows: Vec<Vec<String>>,
) -> Response {
    if let Err(refused) = record_export(
        state,
        user,
        export.entity,
        export.node_id,
        export.query.as_deref(),
        rows.len(),
    )
    .await
    {
        return refused;
    }
    let day = linli_core::kernel::clock::format_date(linli_core::kernel::clock::today());
    let title = format!(
        "{} {}（{day} 导出，共 {total} 条）",
        export.place, export.name
    );
    xlsx_table(
        export.entity,
        &format!("{}-{}-{day}.xlsx", export.name, export.key),
        export.name,
        title,
        export.header,
        rows,
    )
    .await
}
