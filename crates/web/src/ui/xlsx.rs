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
    use linli_store::infra::audit::{self, AuditEntry};
    let result = async {
        let node = linli_store::tree::get(&state.db, &user.scope, node_id).await?;
        audit::record(
            state.db.pool(),
            AuditEntry::by(&user.scope, "list.export", entity)
                .node_path(&node.path)
                .detail(serde_json::json!({
                    "node_id": node.id,
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
