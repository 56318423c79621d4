//! The person page lists the person's other records (issue 19): arrivals, observations with
//! their outcome, newest first, each with its date and a link; scoped like the page.

use crate::support::*;
use linli_core::kernel::clock::{parse_date, today};
use linli_store::testing::TestDb;
use reqwest::StatusCode;

/// The lines of the person page's 其他记录 list: (date · kind, what, outcome, link).
fn records(html: &str) -> Vec<(String, String, String, String)> {
    let list = between(html, "<ul class=\"rows records\" id=\"records\">", "</ul>");
    list.split("<li data-record=")
        .skip(1)
        .map(|li| {
            let head = between(li, "<span class=\"muted small\">", "</span>");
            let href = between(li, "<a href=\"", "\"");
            let what = between(li, &format!("<a href=\"{href}\">"), "</a>");
            let outcome = between(li, "<span class=\"tag\">", "</span>");
            (
                text_of(head),
                what.to_owned(),
                outcome.to_owned(),
                href.to_owned(),
            )
        })
        .collect()
}

async fn person_records(t: TestDb) {
    let app = spawn(t).await;
    let db = app.db();
    let n = neighbours(&db).await;
    quarantine_from_today(&db).await;
    let p = named(&db, n.grid.id, "张一").await;
    let earlier = parse_date("d", "2020-01-20").unwrap();
    let first = arrival(&db, p.id, "110101", earlier, None).await;
    // The home quarantine it opened ends on its last day.
    let home = first
        .observation_id
        .expect("home quarantine from Beijing in 2020");
    linli_store::epidemic::release(
        &db,
        &linli_core::Scope::operator(),
        &[home],
        parse_date("d", "2020-02-02").unwrap(),
        linli_core::kernel::clock::now_ms(),
    )
    .await
    .unwrap();
    let second = arrival(&db, p.id, "420111", today(), Some("36.5")).await;
    let centralised = second
        .observation_id
        .expect("quarantine from a high-risk area");
    assert_ne!(centralised, home);

    let (staff, _) = sign_in(&app, "staff_a").await;
    let (s, html) = get(&staff, app.url(&format!("/persons/{}", p.id))).await;
    assert_eq!(s, StatusCode::OK);
    let day = linli_core::kernel::clock::format_date(today());
    let until = linli_core::kernel::clock::format_date(today() + time::Duration::days(6));
    let obs = format!("/persons/{}/epidemic", p.id);
    let arrivals = |id: i64| format!("/epidemic/arrivals/{id}");
    // Newest first; on one day the observation above the arrival that opened it.
    let want = [
        (
            format!("{day} · 隔离观察"),
            format!("集中隔离，至 {until}"),
            format!("观察中，至 {until}"),
            obs.clone(),
        ),
        (
            format!("{day} · 抵达登记"),
            format!("从湖北省武汉市洪山区抵达；集中隔离至 {until}"),
            "已核实".to_owned(),
            arrivals(second.id),
        ),
        (
            "2020-01-20 · 隔离观察".to_owned(),
            "居家隔离，至 2020-02-02".to_owned(),
            "已解除（2020-02-02）".to_owned(),
            obs,
        ),
        (
            "2020-01-20 · 抵达登记".to_owned(),
            "从北京市东城区抵达；居家隔离至 2020-02-02".to_owned(),
            "已核实".to_owned(),
            arrivals(first.id),
        ),
    ];
    assert_eq!(records(&html), want);
    // Another community's staff see neither the person nor their records.
    let (other, _) = sign_in(&app, "staff_b").await;
    let (s, html) = get(&other, app.url(&format!("/persons/{}", p.id))).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(!html.contains("抵达") && !html.contains("张一"), "{html}");
    // Someone with no such records: the list says so.
    let q = named(&db, n.grid.id, "李二").await;
    let (_, html) = get(&staff, app.url(&format!("/persons/{}", q.id))).await;
    assert!(html.contains("id=\"records-none\""), "{html}");
    app.t.finish().await;
}

on_both!(the_person_page_lists_their_other_records, person_records);
