//! What the web crate's integration tests share: the real server on a test database, the nodes
//! and accounts a test needs, clients signed in through the API or the login form, and small
//! request helpers. Each test file keeps only its own world and flows.
#![allow(dead_code)]

use linli_core::epidemic::policy::{DivisionCode, Temperature};
use linli_core::kernel::clock::now_ms;
use linli_core::registry::PersonInput;
use linli_core::Scope;
use linli_store::accounts::{self, NewUser};
use linli_store::epidemic::{self, ArrivalInput, ArrivalPerson, ArrivalRecorded, ArrivalSource};
use linli_store::registry::{self, Person, Placement};
use linli_store::testing::TestDb;
use linli_store::tree::Node;
use linli_store::Db;
use reqwest::StatusCode;
use serde_json::{json, Value};

/// Two tests of one async body `$body(TestDb)`: `$name::sqlite` and `$name::postgres` (the
/// latter skipped, with a notice, when no PostgreSQL test database is configured).
macro_rules! on_both {
    ($name:ident, $body:ident) => {
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                super::$body(linli_store::testing::TestDb::sqlite().await).await;
            }

            #[tokio::test]
            #[cfg_attr(
                not(linli_pg),
                ignore = "LINLI_TEST_PG_URL was not set when the tests were built"
            )]
            async fn postgres() {
                super::$body(linli_store::testing::TestDb::postgres().await).await;
            }
        }
    };
}
pub(crate) use on_both;

/// The ID number with the body's check character.
pub fn id_number(body: &str) -> String {
    format!(
        "{body}{}",
        linli_core::kernel::idnumber::check_char(body.as_bytes())
    )
}

/// Every test account's password.
pub const PASSWORD: &str = "test-pass-123";

/// A server listening on an ephemeral port, and its database.
pub struct App {
    pub base: String,
    pub t: TestDb,
}

impl App {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn db(&self) -> Db {
        self.t.db.clone()
    }

    /// Removes the test database.
    pub async fn finish(self) {
        self.t.finish().await;
    }
}

/// Serves the whole application (pages, API, Open311) on the test database.
pub async fn spawn(t: TestDb) -> App {
    spawn_with(t, linli_web::WebConfig::default()).await
}

/// The public address the QR-code and link tests serve under.
pub const PUBLIC_URL: &str = "https://linli.example.org";

/// [`spawn`] serving under [`PUBLIC_URL`], so printed links and codes carry it.
pub async fn spawn_public(t: TestDb) -> App {
    let config = linli_web::WebConfig {
        public_url: Some(PUBLIC_URL.into()),
        ..Default::default()
    };
    spawn_with(t, config).await
}

/// [`spawn`] with settings of its own (e.g. behind a trusted proxy).
pub async fn spawn_with(t: TestDb, config: linli_web::WebConfig) -> App {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = linli_web::app(t.db.clone(), config);
    tokio::spawn(async move {
        let _ = linli_web::serve(listener, app).await;
    });
    App {
        base: format!("http://{addr}"),
        t,
    }
}

pub use linli_store::testing::node;

/// The top of most tests' trees, with real statistical codes: district 香格里拉市 (533401) ›
/// street 建塘镇 (533401100) › community 里布嘎社区 (533401100003).
pub struct Town {
    pub district: Node,
    pub street: Node,
    pub community: Node,
}

/// Creates the [`Town`], top down (so its ids come first, as the tests expect).
pub async fn town(db: &Db) -> Town {
    let district = node(db, None, "district", "香格里拉市", Some("533401")).await;
    let street = node(db, Some(district.id), "street", "建塘镇", Some("533401100")).await;
    let community = add_community(db, street.id, "里布嘎社区", "533401100003").await;
    Town {
        district,
        street,
        community,
    }
}

/// A community named `name` with the statistical `code`, under `parent`.
pub async fn add_community(db: &Db, parent: i64, name: &str, code: &str) -> Node {
    node(db, Some(parent), "community", name, Some(code)).await
}

/// The town with a second community (北门社区) beside the first and a grid (甲网格) in the
/// first; an official on the street, staff on each community (`staff_a`, `staff_b`) and a grid
/// worker (`worker`) in the grid.
pub struct Neighbours {
    pub street: Node,
    pub community_a: Node,
    pub community_b: Node,
    pub grid: Node,
}

pub async fn neighbours(db: &Db) -> Neighbours {
    let Town {
        street,
        community: community_a,
        ..
    } = town(db).await;
    let community_b = add_community(db, street.id, "北门社区", "533401100004").await;
    let grid = node(db, Some(community_a.id), "grid", "甲网格", None).await;
    user(db, "official", "official", &[street.id]).await;
    user(db, "staff_a", "staff", &[community_a.id]).await;
    user(db, "staff_b", "staff", &[community_b.id]).await;
    user(db, "worker", "grid_worker", &[grid.id]).await;
    Neighbours {
        street,
        community_a,
        community_b,
        grid,
    }
}

/// The two grids of most tests under `community`: 甲网格 (GA) and 乙网格 (GB).
pub async fn grids_ab(db: &Db, community: i64) -> (Node, Node) {
    let a = node(db, Some(community), "grid", "甲网格", Some("GA")).await;
    let b = node(db, Some(community), "grid", "乙网格", Some("GB")).await;
    (a, b)
}

/// Registers a person at `node_id` as the operator.
pub async fn person(db: &Db, node_id: i64, input: PersonInput<'_>) -> Person {
    let placement = Placement {
        node_id,
        ..Default::default()
    };
    registry::create(db, &Scope::operator(), &placement, &input, now_ms())
        .await
        .unwrap()
        .0
}

/// Registers `name` at `at_node` as the operator, with nothing else known.
pub async fn named(db: &Db, at_node: i64, name: &str) -> Person {
    let input = PersonInput {
        name,
        ..Default::default()
    };
    person(db, at_node, input).await
}

/// A grid worker's record of `person` arriving from the division `origin` on `on`, with no
/// symptoms and the `temperature` if one was taken.
pub async fn arrival(
    db: &Db,
    person: i64,
    origin: &str,
    on: time::Date,
    temperature: Option<&str>,
) -> ArrivalRecorded {
    let input = ArrivalInput {
        person: ArrivalPerson::Registered(person),
        origin_code: DivisionCode::parse(origin).unwrap(),
        arrived_on: on,
        purpose: None,
        symptoms: Vec::new(),
        temperature: temperature.map(|t| Temperature::parse(t).unwrap()),
        source: ArrivalSource::Worker,
    };
    epidemic::record_arrival(db, &Scope::operator(), input, now_ms())
        .await
        .unwrap()
}

/// A supplies site called `name` at node `at`, set up by the operator (`upper`: a reserve that
/// supplies the levels below); its id.
pub async fn supply_site(db: &Db, at: i64, name: &str, upper: bool) -> i64 {
    let draft = linli_core::supplies::SiteDraft::parse(name, None, upper).unwrap();
    linli_store::supplies::create_site(db, &Scope::operator(), at, &draft, now_ms())
        .await
        .unwrap()
        .id
}

/// The operator records a receipt of `quantity` of `item` at `site`.
pub async fn stock_up(db: &Db, site: i64, item: i64, quantity: i64) {
    let receipt = linli_core::supplies::Movement::parse("receipt", quantity, None).unwrap();
    linli_store::supplies::record(db, &Scope::operator(), site, item, &receipt, None, now_ms())
        .await
        .unwrap();
}

/// The audit entries whose action starts with `prefix`, newest first (the first page).
pub async fn audited(db: &Db, prefix: &str) -> Vec<linli_store::infra::audit::AuditRecord> {
    let filter = linli_store::infra::audit::AuditFilter {
        action_prefix: Some(prefix.into()),
        ..Default::default()
    };
    linli_store::infra::audit::list(
        db,
        &Scope::operator(),
        &filter,
        linli_store::Page::new(None, None),
    )
    .await
    .unwrap()
}

/// Creates an account with [`PASSWORD`], bound to `node_ids`; its id.
pub async fn user(db: &Db, username: &str, role: &str, node_ids: &[i64]) -> i64 {
    accounts::create(
        db,
        &Scope::operator(),
        NewUser {
            username,
            display_name: None,
            password: PASSWORD,
            role,
            node_ids,
        },
        now_ms(),
    )
    .await
    .unwrap()
    .id
}

/// A client that keeps cookies and shows redirects instead of following them.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The CSRF token of the first form on a page.
pub fn csrf_in(html: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).unwrap() + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

/// A client signed in through the API (session cookie).
pub async fn api_login(app: &App, username: &str) -> reqwest::Client {
    let c = client();
    let r = c
        .post(app.url("/api/v1/session"))
        .json(&json!({"username": username, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "login {username}");
    c
}

/// A client signed in through the API, bound to the server it talks to: JSON in, the status and
/// the JSON answer out.
pub struct Api<'a> {
    app: &'a App,
    pub client: reqwest::Client,
}

/// [`api_login`] as an [`Api`].
pub async fn api_as<'a>(app: &'a App, username: &str) -> Api<'a> {
    Api {
        app,
        client: api_login(app, username).await,
    }
}

impl Api<'_> {
    /// GET `path` (see [`get_json`]).
    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        get_json(&self.client, self.app.url(path)).await
    }

    /// POST `body` to `path` (see [`post_json`]).
    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        post_json(&self.client, self.app.url(path), body).await
    }
}

/// A caller of the API with a bearer token (an account's script token).
pub struct Bearer<'a> {
    app: &'a App,
    pub token: String,
}

/// A script token of account `user_id`, issued by the operator, as a [`Bearer`].
pub async fn bearer(app: &App, user_id: i64) -> Bearer<'_> {
    let token = accounts::issue_token(&app.t.db, &Scope::operator(), user_id, "test", now_ms())
        .await
        .unwrap();
    Bearer { app, token }
}

impl Bearer<'_> {
    /// `method` on `path` with an optional JSON body: the status and the JSON answer (`null`
    /// when the body is not JSON).
    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let req = reqwest::Client::new()
            .request(method.parse().unwrap(), self.app.url(path))
            .bearer_auth(&self.token);
        let req = match body {
            Some(b) => req.json(&b),
            None => req,
        };
        let r = req.send().await.unwrap();
        let status = r.status();
        let text = r.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call("GET", path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call("POST", path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call("PUT", path, Some(body)).await
    }
}

/// A client signed in through the login form, and the session's CSRF token (read from the
/// account page: every page's shell carries it).
pub async fn sign_in(app: &App, username: &str) -> (reqwest::Client, String) {
    let c = client();
    let (_, page) = get(&c, app.url("/login")).await;
    let r = c
        .post(app.url("/login"))
        .form(&[
            ("username", username),
            ("password", PASSWORD),
            ("csrf", csrf_in(&page).as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "login {username}");
    let (status, page) = get(&c, app.url("/account")).await;
    assert_eq!(status, StatusCode::OK, "account page of {username}");
    let csrf = csrf_in(&page);
    (c, csrf)
}

/// GET: status and body.
pub async fn get(c: &reqwest::Client, url: String) -> (StatusCode, String) {
    let r = c.get(url).send().await.unwrap();
    let status = r.status();
    (status, r.text().await.unwrap())
}

/// A form written as it is sent, `key=value` pairs joined by `&` (values as typed, not
/// percent-encoded, with no `&` or `=` in them), after the CSRF token when one is given.
pub fn form(csrf: Option<&str>, pairs: &str) -> Vec<(String, String)> {
    let token = csrf.map(|t| ("csrf".to_owned(), t.to_owned()));
    let fields = pairs.split('&').map(|kv| {
        let (k, v) = kv.split_once('=').unwrap();
        (k.to_owned(), v.to_owned())
    });
    token.into_iter().chain(fields).collect()
}

/// POST a form: status and body.
pub async fn post(c: &reqwest::Client, url: String, form: &[(&str, &str)]) -> (StatusCode, String) {
    let r = c.post(url).form(form).send().await.unwrap();
    let status = r.status();
    (status, r.text().await.unwrap())
}

/// POST a form: status and the redirect's target when there is one, else the body.
pub async fn post_form(
    c: &reqwest::Client,
    url: String,
    form: &[(&str, &str)],
) -> (StatusCode, String) {
    post_any(c, url, form).await
}

/// [`post_form`] for any form serde can write (owned pairs, a `Vec`, …) and any URL.
pub async fn post_any<F: serde::Serialize + ?Sized>(
    c: &reqwest::Client,
    url: impl reqwest::IntoUrl,
    form: &F,
) -> (StatusCode, String) {
    target_or_body(c.post(url).form(form).send().await.unwrap()).await
}

/// The status, and the redirect's target when there is one, else the body.
pub async fn target_or_body(r: reqwest::Response) -> (StatusCode, String) {
    let status = r.status();
    let location = r
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned());
    let body = r.text().await.unwrap();
    (status, location.unwrap_or(body))
}

/// A multipart/form-data body by hand: the text fields in order, then, when given, a file as
/// `(field, file name, content type, bytes)`. Returns the content type with its boundary, and
/// the body.
pub fn multipart(
    fields: &[(&str, &str)],
    file: Option<(&str, &str, &str, &[u8])>,
) -> (String, Vec<u8>) {
    let boundary = "----linli-test-boundary-7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    if let Some((field, file_name, content_type, bytes)) = file {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{file_name}\"\r\nContent-Type: {content_type}\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// GET: the response.
pub async fn fetch(c: &reqwest::Client, url: impl reqwest::IntoUrl) -> reqwest::Response {
    c.get(url).send().await.unwrap()
}

/// GET a JSON answer, which must parse.
pub async fn json_at(c: &reqwest::Client, url: impl reqwest::IntoUrl) -> Value {
    fetch(c, url).await.json().await.unwrap()
}

/// GET a workbook (200 asserted): the cells of its sheet `sheet`, as text, row by row.
pub async fn xlsx_rows(c: &reqwest::Client, url: String, sheet: &str) -> Vec<Vec<String>> {
    use calamine::Reader;
    let r = fetch(c, url).await;
    assert_eq!(r.status(), StatusCode::OK);
    let bytes = r.bytes().await.unwrap();
    let mut book = calamine::Xlsx::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
    let range = book.worksheet_range(sheet).unwrap();
    range
        .rows()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect()
}

/// POST a JSON body (any serde value): the response.
pub async fn send_json<B: serde::Serialize + ?Sized>(
    c: &reqwest::Client,
    url: impl reqwest::IntoUrl,
    body: &B,
) -> reqwest::Response {
    c.post(url).json(body).send().await.unwrap()
}

/// POST JSON: status and the JSON answer (`null` when the body is not JSON).
pub async fn post_json(c: &reqwest::Client, url: String, body: Value) -> (StatusCode, Value) {
    let r = c.post(url).json(&body).send().await.unwrap();
    let status = r.status();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// GET JSON: status and the JSON answer (`null` when the body is not JSON).
pub async fn get_json(c: &reqwest::Client, url: String) -> (StatusCode, Value) {
    let r = c.get(url).send().await.unwrap();
    let status = r.status();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// The keys of a JSON object, sorted.
pub fn keys_of(v: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort();
    keys
}

/// The fields a JSON refusal names, in its order.
pub fn error_fields(body: &Value) -> Vec<&str> {
    body["error"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect()
}

/// The text of an HTML fragment: tags removed, runs of whitespace made one space, trimmed.
pub fn text_of(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for ch in html.chars() {
        match ch {
            '<' => {
                in_tag = true;
                out.push(' ');
            }
            '>' if in_tag => in_tag = false,
            _ if !in_tag => out.push(ch),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The first table row (`<tr…>…</tr>`) of `html` that contains `needle`; panics, showing the
/// page, when none does.
pub fn row_with<'a>(html: &'a str, needle: &str) -> &'a str {
    let mut rest = html;
    let mut offset = 0;
    while let Some(start) = rest.find("<tr") {
        let from = offset + start;
        let Some(len) = html[from..].find("</tr>") else {
            break;
        };
        let row = &html[from..from + len + "</tr>".len()];
        if row.contains(needle) {
            return row;
        }
        offset = from + len;
        rest = &html[offset..];
    }
    panic!("no table row with {needle:?}: {html}");
}

/// The text of each cell (`<td>` or `<th>`) of a table row, in order.
pub fn cells(row: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = row;
    loop {
        let td = rest.find("<td");
        let th = rest.find("<th");
        let start = match (td, th) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) | (None, Some(a)) => a,
            (None, None) => break,
        };
        let tag = &rest[start + 1..start + 3];
        let body_from = start + rest[start..].find('>').unwrap() + 1;
        let close = format!("</{tag}>");
        let body_len = rest[body_from..].find(&close).unwrap();
        out.push(text_of(&rest[body_from..body_from + body_len]));
        rest = &rest[body_from + body_len + close.len()..];
    }
    out
}

/// The cells of the first table row containing `needle`.
pub fn row_cells(html: &str, needle: &str) -> Vec<String> {
    cells(row_with(html, needle))
}

/// The part of `html` from the first `start` to the next `end` after it (both excluded); panics,
/// showing the page, when either is missing.
pub fn between<'a>(html: &'a str, start: &str, end: &str) -> &'a str {
    let from = html
        .find(start)
        .unwrap_or_else(|| panic!("no {start:?} in: {html}"))
        + start.len();
    let len = html[from..]
        .find(end)
        .unwrap_or_else(|| panic!("no {end:?} after {start:?} in: {html}"));
    &html[from..from + len]
}

/// The innermost `<tag…>…</tag>` element around the first `needle` in `html` (by the nearest
/// opening before it and the nearest closing after it; right for elements that do not nest).
pub fn enclosing<'a>(html: &'a str, tag: &str, needle: &str) -> &'a str {
    let at = html
        .find(needle)
        .unwrap_or_else(|| panic!("no {needle:?} in: {html}"));
    let open = format!("<{tag}");
    let close = format!("</{tag}>");
    let start = html[..at]
        .rfind(&open)
        .unwrap_or_else(|| panic!("no <{tag}> around {needle:?} in: {html}"));
    let len = html[at..]
        .find(&close)
        .unwrap_or_else(|| panic!("no </{tag}> after {needle:?} in: {html}"));
    &html[start..at + len + close.len()]
}

/// The 9th edition republished from today and 420111 high-risk from today: arrivals from there
/// get 7 days of centralised quarantine starting today.
pub async fn quarantine_from_today(db: &Db) {
    let mut draft = linli_core::epidemic::policy::presets()
        .into_iter()
        .find(|p| p.key() == "ninth-edition")
        .unwrap()
        .to_draft();
    draft.version = 2;
    draft.effective_from = linli_core::kernel::clock::today();
    let version = draft.validate().unwrap();
    linli_store::epidemic::policies::publish(
        db,
        &Scope::operator(),
        &version,
        linli_core::kernel::clock::now_ms(),
    )
    .await
    .unwrap();
    linli_store::epidemic::add_risk_area(
        db,
        &Scope::operator(),
        &linli_core::epidemic::policy::RiskArea::new(
            DivisionCode::parse("420111").unwrap(),
            None,
            linli_core::epidemic::policy::RiskLevel::High,
            linli_core::kernel::clock::today(),
            None,
        )
        .unwrap(),
        linli_core::kernel::clock::now_ms(),
    )
    .await
    .unwrap();
}
