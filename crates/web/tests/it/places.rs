//! Places by name (issue 18, item 8): the public places API, and the arrival and risk-area
//! forms taking a name, pinyin or initials for a place — an ambiguous one answered with its
//! candidates — with explanations and pages that name places. Both databases.

use crate::support::*;
use linli_store::testing::TestDb;
use reqwest::StatusCode;

async fn flow(t: TestDb) {
    let app = spawn(t).await;
    let db = app.t.db.clone();
    let Town {
        street, community, ..
    } = town(&db).await;
    let (grid_a, _) = grids_ab(&db, community.id).await;
    user(&db, "staff", "staff", &[community.id]).await;
    user(&db, "official", "official", &[street.id]).await;
    let url = |p: &str| format!("{}{p}", app.base);

    // The API needs no sign-in: reference data, no person in it.
    let anonymous = client();
    let (status, body) = get_json(&anonymous, url("/api/v1/places?q=km")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["items"][0]["code"], "530100", "{body}");
    assert_eq!(body["items"][0]["full_name"], "云南省昆明市");
    assert_eq!(body["items"][0]["level"], "prefecture");
    assert_eq!(body["items"][0]["pinyin"], "kun ming shi");
    let (_, body) = get_json(
        &anonymous,
        url("/api/v1/places?q=%E6%98%86%E6%98%8E%E4%BA%94%E5%8D%8E"),
    )
    .await;
    assert_eq!(
        body["items"][0]["full_name"], "云南省昆明市五华区",
        "{body}"
    );
    let (_, body) = get_json(&anonymous, url("/api/v1/places?parent=110000&limit=50")).await;
    let items = body["items"].as_array().unwrap();
    assert_eq!(items.len(), 16, "{body}");
    assert_eq!(items[0]["full_name"], "北京市东城区");
    assert_eq!(items[0]["parent"], "110000");
    let (_, body) = get_json(&anonymous, url("/api/v1/places?q=530102")).await;
    assert_eq!(body["items"][0]["name"], "五华区");
    let (_, body) = get_json(&anonymous, url("/api/v1/places?q=")).await;
    assert_eq!(body["items"], serde_json::json!([]));

    // The arrival form offers the picker: provinces and prefectures listed without a script.
    let (staff, csrf) = sign_in(&app, "staff").await;
    let (status, html) = get(&staff, url("/epidemic/arrivals/new")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("list=\"places-origin_code\""), "{html}");
    assert!(
        html.contains("<option value=\"云南省昆明市（530100）\">"),
        "{html}"
    );
    assert!(html.contains("/static/places.js"));
    let grid = grid_a.id.to_string();
    let form = |origin: &str, pick: &str, name: &str, id: &str| {
        vec![
            ("csrf".to_owned(), csrf.clone()),
            ("node_id".to_owned(), grid.clone()),
            ("name".to_owned(), name.to_owned()),
            ("id_number".to_owned(), id_number(id)),
            ("origin_code".to_owned(), origin.to_owned()),
            ("origin_code_pick".to_owned(), pick.to_owned()),
            ("arrived_on".to_owned(), "2022-07-05".to_owned()),
            ("temperature".to_owned(), "36.5".to_owned()),
        ]
    };
    let pairs = |f: &[(String, String)]| -> Vec<(String, String)> { f.to_vec() };
    let post_pairs = |f: Vec<(String, String)>| {
        let staff = staff.clone();
        let to = url("/epidemic/arrivals/new");
        async move {
            let refs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            post_form(&staff, to, &refs).await
        }
    };

    // A name typed: 「昆明」, 「kunming」 and 「km」 all give 530100; the result page and the
    // explanation read to the resident name the place.
    for (typed, who, id) in [
        ("昆明", "甲", "53340119800101001"),
        ("kunming", "乙", "53340119800101002"),
        ("km", "丙", "53340119800101003"),
    ] {
        let (status, location) = post_pairs(pairs(&form(typed, "", who, id))).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{typed}: {location}");
        let (status, html) = get(&staff, url(&location)).await;
        assert_eq!(status, StatusCode::OK);
        let text = text_of(&html);
        assert!(
            text.contains("来源地 云南省昆明市（530100）"),
            "{typed}: {text}"
        );
        assert!(text.contains("从云南省昆明市抵达"), "{typed}: {text}");
        assert!(!text.contains("从 530100"), "{text}");
    }

    // An ambiguous name: 422, the candidates named in the message and offered as choices; what
    // was typed stays.
    let (status, html) = post_pairs(pairs(&form("朝阳", "", "丁", "53340119800101004"))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
    let text = text_of(&html);
    assert!(
        text.contains("来源地：「朝阳」有") && text.contains("北京市朝阳区（110105）"),
        "{text}"
    );
    assert!(text.contains("辽宁省朝阳市（211300）"), "{text}");
    assert!(
        html.contains("name=\"origin_code_pick\" value=\"110105\""),
        "{html}"
    );
    assert!(html.contains("value=\"朝阳\""));
    // Choosing one records it.
    let (status, location) =
        post_pairs(pairs(&form("朝阳", "110105", "丁", "53340119800101004"))).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{location}");
    let (_, html) = get(&staff, url(&location)).await;
    assert!(text_of(&html).contains("从北京市朝阳区抵达"), "{html}");
    // Unknown: said so, with what may be typed.
    let (status, html) = post_pairs(pairs(&form("火星", "", "戊", "53340119800101005"))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text_of(&html).contains("没有找到「火星」"), "{html}");
    // Codes keep working, and the form says what a code reads as when it comes back.
    let mut f = form("530102", "", "", "");
    f.retain(|(k, _)| k != "id_number");
    let (status, html) = post_pairs(f).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "no name given");
    assert!(
        html.contains("即 <strong>云南省昆明市五华区（530102）</strong>"),
        "{html}"
    );

    // Risk areas: published by name, listed by name.
    let (official, ocsrf) = sign_in(&app, "official").await;
    let (status, location) = post_form(
        &official,
        url("/epidemic/risk-areas"),
        &[
            ("csrf", ocsrf.as_str()),
            ("division_code", "武汉洪山"),
            ("level", "high"),
            ("from", "2022-07-01"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{location}");
    let (_, html) = get(&official, url("/epidemic/risk-areas")).await;
    let text = text_of(&html);
    assert!(text.contains("湖北省武汉市洪山区 代码 420111"), "{text}");

    app.t.finish().await;
}

on_both!(places_by_name, flow);
