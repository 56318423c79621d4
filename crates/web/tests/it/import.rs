//! The web roster import (upload, preview, confirm, progress, rejected rows) and the xlsx
//! export, against the real server on SQLite and on PostgreSQL.

use crate::support::*;
use linli_core::kernel::clock::now_ms;

use std::time::Duration;

use linli_core::Scope;
use linli_store::testing::TestDb;
use linli_store::tree::Node;
use linli_store::Db;
use reqwest::StatusCode;
use serde_json::Value;

struct World {
    community: Node,
    grid_a: Node,
    grid_b: Node,
}

/// A community with two grids; staff bound to the community, a worker for each grid.
async fn world(db: &Db) -> World {
    let Town { community, .. } = town(db).await;
    let (grid_a, grid_b) = grids_ab(db, community.id).await;
    user(db, "staff", "staff", &[community.id]).await;
    user(db, "staff2", "staff", &[community.id]).await;
    user(db, "worker_a", "grid_worker", &[grid_a.id]).await;
    World {
        community,
        grid_a,
        grid_b,
    }
}

/// The same body with a wrong check character.
fn wrong_id_number(body: &str) -> String {
    let good = id_number(body);
    let wrong = if good.ends_with('1') { '2' } else { '1' };
    format!("{body}{wrong}")
}

/// Confirms the import job at `job` (its page's path), all of it or, with `partial`, its good
/// rows: the status.
async fn commit(
    app: &App,
    c: &reqwest::Client,
    job: &str,
    csrf: &str,
    partial: bool,
) -> StatusCode {
    let mut form = vec![("csrf", csrf)];
    if partial {
        form.push(("partial", "1"));
    }
    post_any(c, format!("{}{job}/commit", app.base), &form)
        .await
        .0
}

async fn upload(
    app: &App,
    c: &reqwest::Client,
    fields: &[(&str, &str)],
    file: Option<(&str, &[u8])>,
) -> reqwest::Response {
    let (content_type, body) = multipart(fields, file.map(|(n, b)| ("file", n, "text/csv", b)));
    c.post(format!("{}/persons/import", app.base))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap()
}

/// The job path a successful upload redirects to.
fn job_path(r: &reqwest::Response) -> String {
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let to = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(to.starts_with("/persons/import/"), "{to}");
    to
}

/// The count tile of an outcome on the preview page.
fn tile(label: &str, n: usize) -> String {
    format!("<span class=\"n\">{n}</span><span class=\"label\">{label}</span>")
}

/// Persons registered under a node (its subtree), as the export sees them.
async fn registered(db: &Db, node_id: i64) -> usize {
    linli_store::registry::export(db, &Scope::operator(), node_id, false, None, now_ms())
        .await
        .unwrap()
        .len()
        - 1
}

/// Waits for an import to leave the running state; returns the final state.
async fn wait_for(app: &App, c: &reqwest::Client, job: &str) -> Value {
    for _ in 0..200 {
        let s: Value = json_at(c, format!("{}{job}/status", app.base)).await;
        if s["state"] != "running" {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the import did not finish");
}

async fn import_flow(t: TestDb) {
    let app = spawn(t).await;
    let db = app.t.db.clone();
    let w = world(&db).await;
    let (staff, csrf) = sign_in(&app, "staff").await;
    let (good1, good2, good3) = (
        id_number("53340119800101001"),
        id_number("53340119820202002"),
        id_number("53340120100303003"),
    );
    let bad = wrong_id_number("53340119900404004");
    let csv = format!(
        "里布嘎社区居民花名册\n\
         序号,姓名,身份证号码,联系电话,现居住地址,与户主关系,备注\n\
         1,王一,{good1},13800000001,1栋1单元101室,户主,\n\
         2,王二,{good2},13800000002,1栋1单元101室,配偶,\n\
         3,王三,{bad},13800000003,1栋1单元102室,户主,\n\
         4,王四,{good3},12345,1栋1单元101室,子,\n\
         5,王一,{good1},13800000001,1栋1单元101室,户主,\n\
         合计,5人,,,,,\n"
    );
    let community = w.community.id.to_string();

    // A forged upload (no token, or a wrong one) is refused before anything is read.
    let file = Some(("花名册.csv", csv.as_bytes()));
    for token in [None, Some("guess")] {
        let mut fields: Vec<(&str, &str)> = token.map(|t| ("csrf", t)).into_iter().collect();
        fields.push(("node_id", &community));
        let r = upload(&app, &staff, &fields, file).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{token:?}");
    }
    // No file: the form comes back with the message.
    let r = upload(
        &app,
        &staff,
        &[("csrf", &csrf), ("node_id", &community)],
        None,
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("请选择要导入的花名册"));
    // Issue 24, finding 1: a workbook whose shared strings inflate past their limit (65 MB
    // from 200 KB) is refused before it is read, with a message naming the limit.
    let bomb = {
        use std::io::Write;
        let template = linli_core::registry::sheet::template_xlsx(false).unwrap();
        let mut src = zip::ZipArchive::new(std::io::Cursor::new(template)).unwrap();
        let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for i in 0..src.len() {
            let mut f = src.by_index(i).unwrap();
            out.start_file(f.name().unwrap().into_owned(), options)
                .unwrap();
            std::io::copy(&mut f, &mut out).unwrap();
        }
        out.start_file("xl/sharedStrings.xml", options).unwrap();
        out.write_all(b"<sst>").unwrap();
        let block = b"<si><t>a</t></si>".repeat(1000);
        for _ in 0..4000 {
            out.write_all(&block).unwrap();
        }
        out.write_all(b"</sst>").unwrap();
        out.finish().unwrap().into_inner()
    };
    let r = upload(
        &app,
        &staff,
        &[("csrf", &csrf), ("node_id", &community)],
        Some(("bomb.xlsx", &bomb)),
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("共享字符串表（sharedStrings.xml）解压后超过 64 MB 上限"),
        "{html}"
    );
    assert_eq!(registered(&db, w.community.id).await, 0);
    // A file with no roster header says so.
    let r = upload(
        &app,
        &staff,
        &[("csrf", &csrf), ("node_id", &community)],
        Some(("notes.csv", "a,b\n1,2\n".as_bytes())),
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // The preview: every row judged, nothing stored.
    let r = upload(
        &app,
        &staff,
        &[
            ("csrf", &csrf),
            ("node_id", &community),
            ("on_duplicate", "skip"),
        ],
        Some(("花名册.csv", csv.as_bytes())),
    )
    .await;
    let job = job_path(&r);
    let (status, html) = get(&staff, format!("{}{job}", app.base)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("CSV（UTF-8 编码）"), "{html}");
    assert!(
        html.contains("<dt>文件</dt><dd>花名册.csv</dd>")
            && html.contains("<dt>数据行</dt><dd>5 行</dd>"),
        "{html}"
    );
    for (label, n) in [("导入", 2), ("导入（待核实）", 1), ("拒绝", 1), ("重复", 1)] {
        assert!(html.contains(&tile(label, n)), "{label} {n}: {html}");
    }
    assert_eq!(
        row_cells(&html, "第 5 行")[..2],
        ["第 5 行", "拒绝"],
        "the rejected row by its line number"
    );
    assert_eq!(
        row_cells(&html, "与第 3 行是同一人")[1],
        "重复",
        "a duplicate names the line it repeats"
    );
    assert!(
        html.contains("<dt>未导入的列</dt><dd>备注</dd>"),
        "the column left out is named: {html}"
    );
    // The building the addresses name is not in the tree: the preview names it and where it
    // would go (the accepted rows', as the import lands them), and makes nothing.
    assert!(
        html.contains("<dd id=\"homes-to-make\">1栋（属里布嘎社区）（"),
        "{html}"
    );
    assert!(linli_store::tree::children(
        &db,
        &linli_core::Scope::operator(),
        w.community.id,
        false,
        linli_store::Page::all()
    )
    .await
    .unwrap()
    .iter()
    .all(|c| c.node.name != "1栋"));
    assert!(
        html.contains(&format!("href=\"{job}/rejects.xlsx\"")),
        "{html}"
    );
    for full in [&good1, &good2, &good3, &bad] {
        assert!(
            !html.contains(full.as_str()),
            "a full ID number in the preview"
        );
    }
    assert_eq!(registered(&db, w.community.id).await, 0);

    // The rejected rows download as a valid xlsx with the reason.
    let r = fetch(&staff, format!("{}{job}/rejects.xlsx", app.base)).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .contains("spreadsheetml"));
    let bytes = r.bytes().await.unwrap();
    let mut rows: Vec<Vec<String>> = Vec::new();
    linli_core::registry::sheet::read_rows_from_bytes(&bytes, |_, _, cells| {
        rows.push(cells);
        true
    })
    .unwrap();
    assert_eq!(rows.len(), 2, "the header and one rejected row: {rows:?}");
    assert!(rows[0].contains(&"拒绝原因".to_owned()));
    assert!(rows[1].contains(&bad));
    assert!(rows[1].contains(&"5".to_owned()), "its line number");

    // Someone else cannot see, download or confirm the job.
    let (other, other_csrf) = sign_in(&app, "staff2").await;
    for path in [
        job.clone(),
        format!("{job}/status"),
        format!("{job}/rejects.xlsx"),
    ] {
        let (status, body) = get(&other, format!("{}{path}", app.base)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(!body.contains("王三"));
    }
    assert_eq!(
        commit(&app, &other, &job, &other_csrf, true).await,
        StatusCode::NOT_FOUND
    );

    // Without 部分导入, a file with a rejected row is not imported.
    let (r, html) = post_any(
        &staff,
        format!("{}{job}/commit", app.base),
        &[("csrf", csrf.as_str()), ("on_duplicate", "skip")],
    )
    .await;
    assert_eq!(r, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        html.contains("<ul class=\"error\" role=\"alert\"><li>有 1 行被拒绝：不勾选「部分导入」"),
        "the refusal counts the rejected line: {html}"
    );
    assert_eq!(registered(&db, w.community.id).await, 0);

    // With it, the good rows are stored in the background and the page shows the result.
    let r = staff
        .post(format!("{}{job}/commit", app.base))
        .form(&[
            ("csrf", csrf.as_str()),
            ("on_duplicate", "skip"),
            ("partial", "1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], job.as_str());
    let s = wait_for(&app, &staff, &job).await;
    assert_eq!(s["state"], "done", "{s}");
    assert_eq!(s["processed"], 5);
    assert_eq!(s["total"], 5);
    assert_eq!(registered(&db, w.community.id).await, 3);
    let (status, html) = get(&staff, format!("{}{job}", app.base)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("导入完成"), "{html}");
    assert!(
        html.contains("<dd>5 行（其中待核实 1 行，文件内重复 1 行）</dd>"),
        "{html}"
    );
    assert!(html.contains(&tile("新登记", 3)), "{html}");
    // The import made what the preview said it would.
    assert!(html.contains("<dd>1栋（属里布嘎社区）（"), "{html}");
    assert!(html.contains(&tile("被拒绝，未导入", 1)), "{html}");

    // A job is confirmed once: a second confirmation changes nothing.
    assert_eq!(
        commit(&app, &staff, &job, &csrf, true).await,
        StatusCode::SEE_OTHER
    );
    assert_eq!(registered(&db, w.community.id).await, 3);

    // The import is one audited job with the file name and counts.
    let entries = audited(&db, "person.import").await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].actor, "staff");
    assert_eq!(entries[0].detail["source"], "花名册.csv");
    assert_eq!(entries[0].detail["stored"], 3);

    // The same file again: everything is registered already and skipped.
    let r = upload(
        &app,
        &staff,
        &[("csrf", &csrf), ("node_id", &community), ("partial", "1")],
        Some(("花名册.csv", csv.as_bytes())),
    )
    .await;
    let again = job_path(&r);
    assert_ne!(again, job);
    // Issue 24, finding 8: its preview judges the file against the registry, as the import
    // will (it used to say 导入 3): 3 registered, and row 5 repeating row 1.
    let (_, html) = get(&staff, format!("{}{again}", app.base)).await;
    assert!(html.contains(&tile("重复", 4)), "{html}");
    assert!(html.contains(&tile("导入", 0)), "{html}");
    assert!(html.contains("已登记（居民编号"), "{html}");
    assert_eq!(registered(&db, w.community.id).await, 3);
    assert_eq!(
        commit(&app, &staff, &again, &csrf, true).await,
        StatusCode::SEE_OTHER
    );
    assert_eq!(wait_for(&app, &staff, &again).await["state"], "done");
    assert_eq!(registered(&db, w.community.id).await, 3);
    let (_, html) = get(&staff, format!("{}{again}", app.base)).await;
    assert!(html.contains(&tile("已登记，跳过", 3)), "{html}");

    // An upload over the 2 MB limit of ordinary forms is taken (the import has its own).
    let mut big = String::from("姓名,身份证号码,备注\n");
    let filler = "备".repeat(3000);
    for i in 0..300 {
        big.push_str(&format!("张{i},,{filler}\n"));
    }
    assert!(big.len() > 2 * 1024 * 1024);
    let r = upload(
        &app,
        &staff,
        &[("csrf", &csrf), ("node_id", &w.grid_a.id.to_string())],
        Some(("big.csv", big.as_bytes())),
    )
    .await;
    let big_job = job_path(&r);
    let (_, html) = get(&staff, format!("{}{big_job}", app.base)).await;
    assert!(html.contains("300 行"), "{html}");

    // Beyond 64 MB the upload is refused with a page naming the limit. (The server may close
    // the connection before the client has sent everything; that is a refusal too.)
    let too_big = vec![b'a'; 65 * 1024 * 1024];
    let (content_type, body) = multipart(
        &[("csrf", &csrf), ("node_id", &community)],
        Some(("file", "huge.csv", "text/csv", &too_big)),
    );
    match staff
        .post(format!("{}/persons/import", app.base))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
    {
        Ok(r) => {
            assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
            assert!(r.text().await.unwrap().contains("64 MB"));
        }
        Err(e) => eprintln!("note: the oversized upload was cut off: {e}"),
    }

    // The blank template is a workbook whose roster sheet the importer recognises.
    let r = fetch(&staff, format!("{}/persons/template.xlsx", app.base)).await;
    assert_eq!(r.status(), StatusCode::OK);
    let bytes = r.bytes().await.unwrap();
    let info = linli_core::registry::sheet::read_rows_from_bytes(&bytes, |_, _, _| true).unwrap();
    assert_eq!(info.name, linli_core::registry::sheet::TEMPLATE_SHEET);

    app.t.finish().await;
}

on_both!(the_web_import_previews_then_stores, import_flow);

async fn grid_worker_limits(t: TestDb) {
    let app = spawn(t).await;
    let db = app.t.db.clone();
    let w = world(&db).await;
    let (worker, csrf) = sign_in(&app, "worker_a").await;
    let csv = format!(
        "姓名,身份证号码,联系电话,现居住地址\n李甲,{},13900000001,2栋1单元201室\n",
        id_number("53340119750505005")
    );

    // Only their own grid is offered, and another grid is refused with nothing stored.
    let (_, form) = get(&worker, format!("{}/persons/import", app.base)).await;
    assert!(form.contains("甲网格"));
    assert!(!form.contains("乙网格"));
    assert!(!form.contains("里布嘎社区（"));
    for target in [w.grid_b.id, w.community.id] {
        let r = upload(
            &app,
            &worker,
            &[("csrf", &csrf), ("node_id", &target.to_string())],
            Some(("roster.csv", csv.as_bytes())),
        )
        .await;
        let status = r.status();
        assert!(
            matches!(status.as_u16(), 403 | 404 | 422),
            "import into {target}: {status}"
        );
        assert!(!r.text().await.unwrap().contains("乙网格"));
    }
    assert_eq!(registered(&db, w.community.id).await, 0);

    // Their own grid works.
    let r = upload(
        &app,
        &worker,
        &[("csrf", &csrf), ("node_id", &w.grid_a.id.to_string())],
        Some(("roster.csv", csv.as_bytes())),
    )
    .await;
    let job = job_path(&r);
    assert_eq!(
        commit(&app, &worker, &job, &csrf, false).await,
        StatusCode::SEE_OTHER
    );
    assert_eq!(wait_for(&app, &worker, &job).await["state"], "done");
    assert_eq!(registered(&db, w.grid_a.id).await, 1);

    // The xlsx export: masked for the worker, unmasked refused, another grid not found.
    let full = id_number("53340119750505005");
    let r = worker
        .get(format!(
            "{}/api/v1/nodes/{}/persons.xlsx",
            app.base, w.grid_a.id
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let bytes = r.bytes().await.unwrap();
    let mut rows: Vec<(usize, Vec<String>)> = Vec::new();
    let info = linli_core::registry::sheet::read_rows_from_bytes(&bytes, |_, n, cells| {
        rows.push((n, cells));
        true
    })
    .unwrap();
    assert_eq!(info.first_data_row, 3, "a title row, then the header");
    assert!(
        rows[0].1[0].contains("甲网格 居民花名册（导出于"),
        "{rows:?}"
    );
    let person = &rows.last().unwrap().1;
    assert!(person.contains(&"李甲".to_owned()));
    let masked = format!("533401********{}", &full[14..]);
    assert!(person.contains(&masked), "{person:?}");
    assert!(!person.iter().any(|c| c == &full || c == "13900000001"));
    let r = worker
        .post(format!(
            "{}/api/v1/nodes/{}/persons.xlsx?unmasked=true",
            app.base, w.grid_a.id
        ))
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = worker
        .get(format!(
            "{}/api/v1/nodes/{}/persons.xlsx",
            app.base, w.grid_b.id
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // Staff may export the full numbers, but not by a plain GET, which a link on another site
    // could trigger in their browser (issue 24, finding 5)…
    let (staff, csrf) = sign_in(&app, "staff").await;
    let url = format!(
        "{}/api/v1/nodes/{}/persons.csv?unmasked=true",
        app.base, w.community.id
    );
    let r = staff.get(&url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert!(!r.text().await.unwrap().contains(&full));
    // …nor by a cross-site form post, which carries no CSRF token…
    let community = w.community.id.to_string();
    let (status, _) = post(
        &staff,
        app.url("/persons/export"),
        &[("node_id", community.as_str()), ("format", "xlsx")],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // …only by the node page's button; the export reads back through the importer.
    let r = staff
        .post(app.url("/persons/export"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("node_id", community.as_str()),
            ("format", "xlsx"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let bytes = r.bytes().await.unwrap();
    let mut judge = linli_core::registry::import_job::Judge::new(
        linli_core::kernel::clock::today(),
        linli_store::registry::tags(&db).await.unwrap(),
    );
    linli_core::registry::sheet::read_rows_from_bytes(&bytes, |_, n, cells| {
        judge.push(n, cells).unwrap();
        true
    })
    .unwrap();
    judge.finish().unwrap();
    let judged = judge.take();
    assert_eq!(judged.rows.len(), 1);
    assert_eq!(judged.rows[0].draft.name.as_str(), "李甲");
    assert_eq!(
        judged.rows[0].draft.document.as_ref().map(|d| d.as_str()),
        Some(full.as_str())
    );
    let exports = audited(&db, "person.export").await;
    // (The test's own counting exports run as `cli`.)
    let web: Vec<_> = exports.iter().filter(|e| e.actor != "cli").collect();
    assert_eq!(
        web.len(),
        2,
        "two exports; the refused ones are not counted"
    );
    assert!(web
        .iter()
        .any(|e| e.detail["unmasked"] == true && e.actor == "staff"));
    app.t.finish().await;
}

on_both!(
    a_grid_worker_imports_and_exports_only_their_grid,
    grid_worker_limits
);
