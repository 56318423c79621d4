//! Open311 GeoReport v2 conformance, against the real server on SQLite and on PostgreSQL,
//! written from the spec (wiki.open311.org/GeoReport_v2): every method in both formats, every
//! field of each document, the filters of GET requests, and the error document
//! (`[{code, description}]`, `<errors><error>…`) with its HTTP status.

use crate::support::*;
use linli_core::kernel::clock::now_ms;

use linli_core::Scope;
use linli_store::accounts::{self, NewUser};
use linli_store::requests;
use linli_store::testing::TestDb;
use reqwest::StatusCode;
use serde_json::{json, Value};

struct Resp {
    status: StatusCode,
    content_type: String,
    text: String,
}

impl Resp {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|_| panic!("not JSON: {}", self.text))
    }
}

async fn send(r: reqwest::RequestBuilder) -> Resp {
    let r = r.send().await.unwrap();
    Resp {
        status: r.status(),
        content_type: r
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default(),
        text: r.text().await.unwrap(),
    }
}

async fn get(app: &App, path: &str) -> Resp {
    send(client().get(format!("{}{path}", app.base))).await
}

async fn post_form(app: &App, path: &str, form: &[(&str, &str)]) -> Resp {
    send(client().post(format!("{}{path}", app.base)).form(form)).await
}

/// POST the form written as `pairs` (see [`form`]).
async fn post_pairs(app: &App, path: &str, pairs: &str) -> Resp {
    let url = format!("{}{path}", app.base);
    send(client().post(url).form(&form(None, pairs))).await
}

/// The spec's error document in JSON: one error with this code.
fn assert_json_error(r: &Resp, code: u16) {
    assert_eq!(r.status.as_u16(), code, "{}", r.text);
    assert!(
        r.content_type.starts_with("application/json"),
        "{}",
        r.content_type
    );
    let v = r.json();
    let errors = v.as_array().unwrap();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0]["code"], code);
    assert!(!errors[0]["description"].as_str().unwrap().is_empty());
    assert_eq!(
        errors[0].as_object().unwrap().len(),
        2,
        "only code and description"
    );
}

fn assert_xml_error(r: &Resp, code: u16) {
    assert_eq!(r.status.as_u16(), code, "{}", r.text);
    assert!(r.content_type.starts_with("text/xml"), "{}", r.content_type);
    assert!(
        r.text
            .starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?><errors><error>"),
        "{}",
        r.text
    );
    assert!(
        r.text
            .contains(&format!("<code>{code}</code><description>")),
        "{}",
        r.text
    );
    assert!(
        r.text.ends_with("</description></error></errors>"),
        "{}",
        r.text
    );
}

const REQUEST_FIELDS: [&str; 17] = [
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
];

async fn conformance(t: TestDb) {
    let app = spawn(t).await;
    let db = app.t.db.clone();
    let Town {
        street,
        community: a,
        ..
    } = town(&db).await;
    let b = add_community(&db, street.id, "北门社区", "533401100004").await;
    let (_, key_a) = requests::create_api_key(&db, &Scope::operator(), "12345热线", a.id, 0)
        .await
        .unwrap();
    let (_, key_b) = requests::create_api_key(&db, &Scope::operator(), "北门小程序", b.id, 0)
        .await
        .unwrap();

    // GET services, both formats, every field.
    let r = get(&app, "/open311/v2/services.json").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.content_type.starts_with("application/json"));
    let services = r.json();
    let services = services.as_array().unwrap();
    assert_eq!(services.len(), 4);
    let keys = keys_of(&services[0]);
    assert_eq!(
        keys,
        [
            "description",
            "group",
            "keywords",
            "metadata",
            "service_code",
            "service_name",
            "type"
        ]
    );
    assert_eq!(services[0]["service_code"], "emergency");
    assert_eq!(services[0]["service_name"], "紧急诉求");
    assert_eq!(services[0]["metadata"], false);
    assert_eq!(services[0]["type"], "realtime");
    let r = get(&app, "/open311/v2/services.xml").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.content_type.starts_with("text/xml"));
    assert!(r.text.starts_with(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><services><service><service_code>emergency</service_code>\
         <service_name>紧急诉求</service_name><description>"
    ), "{}", r.text);
    assert!(r.text.contains("<metadata>false</metadata><type>realtime</type><keywords></keywords><group>接诉即办</group></service>"));
    assert_eq!(r.text.matches("<service>").count(), 4);
    assert!(r.text.ends_with("</service></services>"));

    // GET a service definition.
    let r = get(&app, "/open311/v2/services/utilities.json").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.json(),
        json!({"service_code": "utilities", "attributes": []})
    );
    let r = get(&app, "/open311/v2/services/utilities.xml").await;
    assert_eq!(
        r.text,
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><service_definition><service_code>utilities</service_code><attributes></attributes></service_definition>"
    );
    assert_json_error(&get(&app, "/open311/v2/services/nope.json").await, 404);
    assert_xml_error(&get(&app, "/open311/v2/services/nope.xml").await, 404);
    assert_xml_error(&get(&app, "/open311/v2/services.html").await, 404);

    // POST a request: the key, the service code and a location are required. Each refusal, in
    // JSON or in XML, is the spec's error document with its status.
    let p = "/open311/v2/requests.json";
    let long_text = "长".repeat(4001);
    let refused = [
        (
            "service_code=general&lat=27.8&long=99.7".to_owned(),
            403,
            false,
        ),
        (
            "api_key=wrong&service_code=general&lat=27.8&long=99.7".to_owned(),
            403,
            false,
        ),
        ("api_key=wrong".to_owned(), 403, true),
        (format!("api_key={key_a}&lat=27.8&long=99.7"), 400, false),
        (
            format!("api_key={key_a}&service_code=nope&lat=27.8&long=99.7"),
            404,
            false,
        ),
        (
            format!("api_key={key_a}&service_code=general&description=x"),
            400,
            false,
        ),
        (
            format!("api_key={key_a}&service_code=general&lat=north&long=99.7"),
            400,
            false,
        ),
        (
            format!("api_key={key_a}&service_code=general&lat=127.8&long=99.7"),
            400,
            false,
        ),
        (
            format!("api_key={key_a}&service_code=general&address_string=x&phone=12"),
            400,
            false,
        ),
        (
            format!(
                "api_key={key_a}&service_code=general&address_string=x&description={long_text}"
            ),
            400,
            false,
        ),
    ];
    for (pairs, code, xml) in &refused {
        if *xml {
            let r = post_pairs(&app, "/open311/v2/requests.xml", pairs).await;
            assert_xml_error(&r, *code);
        } else {
            assert_json_error(&post_pairs(&app, p, pairs).await, *code);
        }
    }
    let before = requests::list(
        &db,
        &Scope::operator(),
        &Default::default(),
        linli_store::Page::new(None, None),
        0,
    )
    .await
    .unwrap();
    assert!(before.is_empty(), "refused posts store nothing");

    let r = post_form(
        &app,
        p,
        &[
            ("api_key", &key_a),
            ("service_code", "utilities"),
            ("lat", "27.83"),
            ("long", "99.70"),
            ("address_string", "3栋 <2单元> & 车库"),
            ("description", "停水了 \"一整天\""),
            ("first_name", "阿姨"),
            ("last_name", "王"),
            ("phone", "13612348609"),
            ("email", "w@example.com"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let created = r.json();
    let created = created.as_array().unwrap();
    assert_eq!(created.len(), 1);
    let keys = keys_of(&created[0]);
    assert_eq!(
        keys,
        [
            "account_id",
            "service_notice",
            "service_request_id",
            "token"
        ]
    );
    let id1 = created[0]["service_request_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let token1 = created[0]["token"].as_str().unwrap().to_owned();
    assert_eq!(id1.len(), 14);
    assert_eq!(
        created[0]["service_notice"],
        "已受理，24 小时内响应，1 天内办结"
    );
    let r = post_form(
        &app,
        "/open311/v2/requests.xml",
        &[
            ("api_key", &key_a),
            ("service_code", "general"),
            ("address_string", "5栋"),
            ("description", "路灯不亮"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.text.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?><service_requests><request><service_request_id>"), "{}", r.text);
    assert!(r.text.contains("</service_request_id><token>"));
    assert!(
        r.text
            .ends_with("<account_id/></request></service_requests>"),
        "{}",
        r.text
    );
    let id2 = r
        .text
        .split("<service_request_id>")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap()
        .to_owned();
    // Without a description, the service's name stands in.
    let r = post_form(
        &app,
        p,
        &[
            ("api_key", &key_b),
            ("service_code", "emergency"),
            ("address_id", "B-12"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let id_b = r.json()[0]["service_request_id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Posted requests land in the key's node inbox, masked, by channel open311.
    let in_a = requests::list(
        &db,
        &Scope::for_user(1, "x", linli_core::Role::Staff, vec![a.path.clone()]),
        &Default::default(),
        linli_store::Page::new(None, None),
        0,
    )
    .await
    .unwrap();
    assert_eq!(in_a.len(), 2);
    let first = in_a.iter().find(|r| r.tracking_number == id1).unwrap();
    assert_eq!(first.channel, linli_core::requests::Channel::Open311);
    assert_eq!(first.reporter_name.as_deref(), Some("王阿姨"));
    assert_eq!(first.reporter_phone_masked.as_deref(), Some("136****8609"));
    assert_eq!(first.created_by, "open311:12345热线");

    // GET requests without a key is the public view (tested in `public_view`); a wrong key is
    // refused, never served that view. With a key it sees only its node.
    assert_eq!(
        get(&app, "/open311/v2/requests.json").await.status,
        StatusCode::OK
    );
    assert_xml_error(
        &get(&app, "/open311/v2/requests.xml?api_key=wrong").await,
        403,
    );
    let list = |q: String| {
        let base = app.base.clone();
        async move {
            let r = send(client().get(format!("{base}/open311/v2/requests.json?{q}"))).await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.text);
            r.json()
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x["service_request_id"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    let ka = format!("api_key={key_a}");
    assert_eq!(list(ka.clone()).await, [id2.clone(), id1.clone()]);
    assert_eq!(
        list(format!("api_key={key_b}")).await,
        std::slice::from_ref(&id_b)
    );
    assert_eq!(
        list(format!("{ka}&service_code=utilities")).await,
        std::slice::from_ref(&id1)
    );
    assert_eq!(
        list(format!("{ka}&service_code=utilities,general")).await,
        [id2.clone(), id1.clone()]
    );
    // Repeats are read once: no duplicated results, one query and one audit entry (issue 24,
    // finding 2: 5,000 repeats wrote 5,000 audit rows).
    let reads = || async {
        linli_store::infra::audit::list(
            &db,
            &Scope::operator(),
            &linli_store::infra::audit::AuditFilter {
                action_prefix: Some("request.api_read".into()),
                ..Default::default()
            },
            linli_store::Page::new(Some(linli_store::Page::MAX_LIMIT), None),
        )
        .await
        .unwrap()
        .len()
    };
    let before = reads().await;
    let repeated = vec!["general"; 5000].join(",");
    assert_eq!(
        list(format!("{ka}&service_code=utilities,{repeated}")).await,
        [id2.clone(), id1.clone()]
    );
    assert_eq!(reads().await, before + 1);
    let many: Vec<String> = (0..51).map(|i| format!("c{i}")).collect();
    assert_json_error(
        &get(
            &app,
            &format!(
                "/open311/v2/requests.json?{ka}&service_code={}",
                many.join(",")
            ),
        )
        .await,
        400,
    );
    assert_eq!(reads().await, before + 1, "a refused list reads nothing");
    assert_eq!(
        list(format!("{ka}&service_request_id={id1},{id_b}")).await,
        std::slice::from_ref(&id1),
        "B's id is not A's to read"
    );
    assert_eq!(
        list(format!("{ka}&status=open")).await,
        [id2.clone(), id1.clone()]
    );
    assert_eq!(
        list(format!("{ka}&status=closed")).await,
        Vec::<String>::new()
    );
    assert_eq!(
        list(format!("{ka}&status=open,closed")).await,
        [id2.clone(), id1.clone()]
    );
    assert_eq!(
        list(format!(
            "{ka}&start_date=2000-01-01T00:00:00Z&end_date=2000-01-02T00:00:00%2B08:00"
        ))
        .await,
        Vec::<String>::new()
    );
    assert_eq!(
        list(format!("{ka}&start_date=2000-01-01T00:00:00Z"))
            .await
            .len(),
        2
    );
    assert_json_error(
        &get(
            &app,
            &format!("/open311/v2/requests.json?{ka}&start_date=yesterday"),
        )
        .await,
        400,
    );
    assert_json_error(
        &get(
            &app,
            &format!("/open311/v2/requests.json?{ka}&status=pending"),
        )
        .await,
        400,
    );

    // Every field of a request, in both formats, with escaping; never the reporter's phone.
    let r = get(&app, &format!("/open311/v2/requests/{id1}.json?{ka}")).await;
    assert_eq!(r.status, StatusCode::OK);
    let doc = r.json();
    let one = &doc.as_array().unwrap()[0];
    let keys = keys_of(one);
    let mut want = REQUEST_FIELDS.to_vec();
    want.sort();
    assert_eq!(keys, want);
    assert_eq!(one["status"], "open");
    assert_eq!(one["service_code"], "utilities");
    assert_eq!(one["service_name"], "水电气热");
    assert_eq!(one["description"], "停水了 \"一整天\"");
    assert_eq!(one["address"], "3栋 <2单元> & 车库");
    assert_eq!(one["lat"], 27.83);
    assert_eq!(one["long"], 99.7);
    assert_eq!(one["agency_responsible"], "里布嘎社区");
    assert!(one["requested_datetime"]
        .as_str()
        .unwrap()
        .ends_with("+08:00"));
    assert!(!r.text.contains("8609") && !r.text.contains("王阿姨"));
    let r = get(&app, &format!("/open311/v2/requests/{id1}.xml?{ka}")).await;
    assert!(r.text.starts_with(&format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><service_requests><request><service_request_id>{id1}</service_request_id><status>open</status>"
    )), "{}", r.text);
    assert!(
        r.text
            .contains("<description>停水了 &quot;一整天&quot;</description>"),
        "{}",
        r.text
    );
    assert!(r.text.contains("<address>3栋 &lt;2单元&gt; &amp; 车库</address><address_id/><zipcode/><lat>27.83</lat><long>99.7</long><media_url/></request></service_requests>"), "{}", r.text);
    for f in REQUEST_FIELDS {
        assert!(
            r.text.contains(&format!("<{f}>")) || r.text.contains(&format!("<{f}/>")),
            "{f}"
        );
    }
    assert_json_error(
        &get(&app, &format!("/open311/v2/requests/{id_b}.json?{ka}")).await,
        404,
    );
    assert_xml_error(
        &get(
            &app,
            &format!("/open311/v2/requests/20000101000000.xml?{ka}"),
        )
        .await,
        404,
    );
    // Without a key: the public view of the same request.
    let r = get(&app, &format!("/open311/v2/requests/{id1}.json")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()[0]["address"], "3栋");
    assert_eq!(r.json()[0]["description"], Value::Null);

    // Tokens.
    let r = get(&app, &format!("/open311/v2/tokens/{token1}.json?{ka}")).await;
    assert_eq!(
        r.json(),
        json!([{"service_request_id": id1, "token": token1}])
    );
    let r = get(&app, &format!("/open311/v2/tokens/{token1}.xml?{ka}")).await;
    assert_eq!(r.text, format!("<?xml version=\"1.0\" encoding=\"utf-8\"?><service_requests><request><service_request_id>{id1}</service_request_id><token>{token1}</token></request></service_requests>"));
    assert_json_error(
        &get(
            &app,
            &format!("/open311/v2/tokens/{token1}.json?api_key={key_b}"),
        )
        .await,
        404,
    );
    assert_json_error(
        &get(&app, &format!("/open311/v2/tokens/nope.json?{ka}")).await,
        404,
    );

    // Closed in Linli is closed in Open311, with what was done as the notes.
    let op = Scope::operator();
    let rid = in_a.iter().find(|r| r.tracking_number == id1).unwrap().id;
    let now = linli_core::kernel::clock::now_ms();
    use linli_core::requests::{Action, Target};
    requests::transition(
        &db,
        &op,
        rid,
        &Action::Dispatch {
            target: Target::Node(a.id),
        },
        now,
    )
    .await
    .unwrap();
    requests::transition(&db, &op, rid, &Action::Accept, now)
        .await
        .unwrap();
    requests::transition(
        &db,
        &op,
        rid,
        &Action::resolve_with("已恢复供水").unwrap(),
        now,
    )
    .await
    .unwrap();
    requests::transition(&db, &op, rid, &Action::close_with("").unwrap(), now)
        .await
        .unwrap();
    assert_eq!(
        list(format!("{ka}&status=closed")).await,
        std::slice::from_ref(&id1)
    );
    let r = get(&app, &format!("/open311/v2/requests/{id1}.json?{ka}")).await;
    assert_eq!(r.json()[0]["status"], "closed");
    assert_eq!(r.json()[0]["status_notes"], "已恢复供水");

    // A photo added in Linli is given as media_url: this server's address of it.
    assert_eq!(r.json()[0]["media_url"], serde_json::Value::Null);
    requests::attach_photo(&db, &op, rid, b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", now)
        .await
        .unwrap();
    let photo_url = format!("/api/v1/requests/{rid}/photo");
    let r = get(&app, &format!("/open311/v2/requests/{id1}.json?{ka}")).await;
    assert_eq!(r.json()[0]["media_url"], photo_url.as_str());
    let r = get(&app, &format!("/open311/v2/requests/{id1}.xml?{ka}")).await;
    assert!(
        r.text
            .contains(&format!("<media_url>{photo_url}</media_url>")),
        "{}",
        r.text
    );

    // Reads are audited.
    let audit = audited(&db, "request.api_read").await;
    assert!(audit.len() >= 10);
    // A user session does not stand in for a key.
    accounts::create(
        &db,
        &op,
        NewUser {
            username: "staff",
            display_name: None,
            password: "test-pass-123",
            role: "staff",
            node_ids: &[a.id],
        },
        now_ms(),
    )
    .await
    .unwrap();
    let c = client();
    c.post(format!("{}/api/v1/session", app.base))
        .json(&json!({"username": "staff", "password": "test-pass-123"}))
        .send()
        .await
        .unwrap();
    let r = send(c.get(format!("{}/open311/v2/requests.json", app.base))).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        !r.text.contains("王阿姨") && !r.text.contains("停水了"),
        "a session reads the public view only: {}",
        r.text
    );
    app.t.finish().await;
}

on_both!(open311_conformance, conformance);

/// Issue 23 item 6: standard clients read requests without a key, in a redacted view; keyed
/// clients read the full view as before; a node setting turns the public view off.
async fn public_view(t: TestDb) {
    let app = spawn(t).await;
    let db = app.t.db.clone();
    let Town {
        community: a,
        street,
        ..
    } = town(&db).await;
    let (_, key) = requests::create_api_key(&db, &Scope::operator(), "12345热线", a.id, 0)
        .await
        .unwrap();
    let r = post_form(
        &app,
        "/open311/v2/requests.json",
        &[
            ("api_key", &key),
            ("service_code", "utilities"),
            ("lat", "27.831234"),
            ("long", "99.701234"),
            ("address_string", "里布嘎社区3栋2单元501室"),
            ("description", "停水了一整天"),
            ("first_name", "阿姨"),
            ("last_name", "王"),
            ("phone", "13612348609"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let id = r.json()[0]["service_request_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let secret = ["王阿姨", "王", "8609", "停水了", "2单元", "501"];
    let assert_redacted = |r: &Resp| {
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        for s in secret {
            assert!(!r.text.contains(s), "{s} in {}", r.text);
        }
    };

    // JSON: every field of the spec, the private ones null.
    for path in [
        "/open311/v2/requests.json".to_owned(),
        format!("/open311/v2/requests/{id}.json"),
        "/open311/v2/requests.json?service_code=utilities&status=open".to_owned(),
        "/open311/v2/requests.json?start_date=2000-01-01T00:00:00Z".to_owned(),
    ] {
        let r = get(&app, &path).await;
        assert_redacted(&r);
        let v = r.json();
        let list = v.as_array().unwrap();
        assert_eq!(list.len(), 1, "{path}: {}", r.text);
        let one = &list[0];
        assert_eq!(keys_of(one), {
            let mut k = REQUEST_FIELDS.to_vec();
            k.sort_unstable();
            k
        });
        assert_eq!(one["service_request_id"], id.as_str());
        assert_eq!(one["status"], "open");
        assert_eq!(one["service_code"], "utilities");
        assert_eq!(one["address"], "里布嘎社区3栋");
        assert_eq!(one["description"], Value::Null);
        assert_eq!(one["media_url"], Value::Null);
        assert_eq!(one["lat"], 27.8312);
        assert_eq!(one["agency_responsible"], "里布嘎社区");
        assert!(!one["requested_datetime"].as_str().unwrap().is_empty());
    }
    // Filters that match nothing, and a bad date.
    for q in [
        "service_code=general",
        "status=closed",
        "end_date=2000-01-01T00:00:00Z",
    ] {
        let r = get(&app, &format!("/open311/v2/requests.json?{q}")).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.json(), json!([]), "{q}");
    }
    assert_json_error(
        &get(&app, "/open311/v2/requests.json?start_date=yesterday").await,
        400,
    );
    // XML, the list and the one request.
    for path in [
        "/open311/v2/requests.xml".to_owned(),
        format!("/open311/v2/requests/{id}.xml"),
    ] {
        let r = get(&app, &path).await;
        assert_redacted(&r);
        assert!(r.content_type.starts_with("text/xml"));
        assert!(
            r.text.contains("<address>里布嘎社区3栋</address>")
                && r.text.contains("<description/>")
                && r.text
                    .contains(&format!("<service_request_id>{id}</service_request_id>")),
            "{}",
            r.text
        );
    }

    // With a key: the full view, as before.
    let r = get(
        &app,
        &format!("/open311/v2/requests/{id}.json?api_key={key}"),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()[0]["description"], "停水了一整天");
    assert_eq!(r.json()[0]["address"], "里布嘎社区3栋2单元501室");
    assert_json_error(
        &get(&app, "/open311/v2/requests.json?api_key=wrong").await,
        403,
    );

    // The community publishes its descriptions through the API (community staff).
    let staff = user(&db, "staff", "staff", &[a.id]).await;
    let official = user(&db, "official", "official", &[street.id]).await;
    let (st, v) = bearer(&app, official)
        .await
        .put(
            &format!("/api/v1/open311-settings/{}", a.id),
            json!({"public_read": true, "publish_descriptions": true}),
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{v}");
    let staff_api = bearer(&app, staff).await;
    let (st, v) = staff_api
        .put(
            &format!("/api/v1/open311-settings/{}", a.id),
            json!({"public_read": true, "publish_descriptions": true}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["publish_descriptions"], true);
    let r = get(&app, &format!("/open311/v2/requests/{id}.json")).await;
    assert_eq!(r.json()[0]["description"], "停水了一整天");
    assert!(!r.text.contains("王阿姨") && !r.text.contains("8609"));

    // …and turns public reading off on the page: keyless answers 404 / an empty list, keyed
    // clients are unaffected.
    let (page, csrf) = sign_in(&app, "staff").await;
    let (st, html) = super::support::get(&page, app.url("/requests/open311")).await;
    assert_eq!(st, StatusCode::OK);
    assert!(html.contains("公开查询设置") && html.contains("公开诉求内容"));
    let a_id = a.id.to_string();
    let (st, _) = post_any(
        &page,
        app.url("/requests/open311"),
        &[("csrf", csrf.as_str()), ("node_id", &a_id)],
    )
    .await;
    assert_eq!(st, StatusCode::SEE_OTHER);
    let (_, listed) = super::support::get(&page, app.url("/requests/open311?notice=saved")).await;
    assert_eq!(row_cells(&listed, "里布嘎社区")[1], "关闭");
    assert_eq!(
        get(&app, "/open311/v2/requests.json").await.json(),
        json!([])
    );
    assert_json_error(
        &get(&app, &format!("/open311/v2/requests/{id}.json")).await,
        404,
    );
    assert_xml_error(
        &get(&app, &format!("/open311/v2/requests/{id}.xml")).await,
        404,
    );
    let r = get(
        &app,
        &format!("/open311/v2/requests/{id}.xml?api_key={key}"),
    )
    .await;
    assert!(
        r.text.contains("王") || r.text.contains("停水了"),
        "{}",
        r.text
    );
    let (_, v) = staff_api.get("/api/v1/open311-settings").await;
    assert_eq!(v[0]["public_read"], false);
    assert_eq!(audited(&db, "request.public_setting").await.len(), 2);
    app.t.finish().await;
}

on_both!(open311_public_view, public_view);

/// Keyless calls are rate-limited per address, with the spec's error document and
/// `Retry-After`; keyed calls are not counted.
async fn keyless_calls_are_rate_limited(t: TestDb) {
    let app = spawn(t).await;
    let db = app.t.db.clone();
    let Town { community: a, .. } = town(&db).await;
    let (_, key) = requests::create_api_key(&db, &Scope::operator(), "热线", a.id, 0)
        .await
        .unwrap();
    for i in 0..120 {
        let path = if i % 2 == 0 {
            "/open311/v2/services.json"
        } else {
            "/open311/v2/requests.xml"
        };
        assert_eq!(get(&app, path).await.status, StatusCode::OK, "call {i}");
    }
    let r = send(client().get(format!("{}/open311/v2/requests.json", app.base))).await;
    assert_json_error(&r, 429);
    assert_xml_error(&get(&app, "/open311/v2/services.xml").await, 429);
    let r = client()
        .get(format!("{}/open311/v2/requests.json", app.base))
        .send()
        .await
        .unwrap();
    assert!(r.headers().contains_key("retry-after"));
    let r = get(&app, &format!("/open311/v2/requests.json?api_key={key}")).await;
    assert_eq!(r.status, StatusCode::OK, "keyed calls are not counted");
    app.t.finish().await;
}

on_both!(open311_keyless_rate_limit, keyless_calls_are_rate_limited);

/// Finding 2: API keys could not be listed or revoked. An admin makes one on the page (shown
/// once), sees it listed with its node, and revokes it: its next call is refused.
async fn api_keys_page(t: TestDb) {
    let app = spawn(t).await;
    let db = app.t.db.clone();
    let d = node(&db, None, "district", "香格里拉市", Some("533401")).await;
    let street = node(&db, Some(d.id), "street", "建塘镇", Some("533401100")).await;
    user(&db, "admin", "admin", &[]).await;
    user(&db, "official", "official", &[street.id]).await;

    let (official, _) = sign_in(&app, "official").await;
    let r = fetch(&official, app.url("/requests/api-keys")).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    let (admin, csrf) = sign_in(&app, "admin").await;
    let street_id = street.id.to_string();
    let r = admin
        .post(app.url("/requests/api-keys"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("name", "12345热线"),
            ("node_id", &street_id),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    let key = text_of(between(&html, r#"<code class="key">"#, "</code>"));
    assert!(key.len() >= 24, "{key}");
    let row = row_cells(&html, "12345热线");
    assert_eq!(row[1], "建塘镇");
    assert_eq!(row[5], "有效");
    // The list shown later never holds the key itself.
    let (_, listed) = super::support::get(&admin, app.url("/requests/api-keys")).await;
    assert!(!listed.contains(&key));

    let call = || async {
        send(client().get(format!(
            "{}/open311/v2/requests.json?api_key={key}",
            app.base
        )))
        .await
    };
    assert_eq!(call().await.status, StatusCode::OK);
    let id = requests::list_api_keys(&db, &Scope::operator())
        .await
        .unwrap()[0]
        .id;
    assert_eq!(
        post_any(
            &admin,
            app.url(&format!("/requests/api-keys/{id}/revoke")),
            &[("csrf", csrf.as_str())]
        )
        .await
        .0,
        StatusCode::SEE_OTHER
    );
    assert_json_error(&call().await, 403);
    let (_, listed) =
        super::support::get(&admin, app.url("/requests/api-keys?notice=revoked")).await;
    assert!(row_cells(&listed, "12345热线")[5].starts_with("已吊销"));
    app.t.finish().await;
}

on_both!(open311_api_keys, api_keys_page);
