//! QR codes of the public links: `/api/v1/qr` encodes only the app's public pages at its public
//! address, and what it serves decodes back to that address; the posters and pages carry them.

use crate::support::*;

use linli_store::testing::TestDb;
use reqwest::StatusCode;

/// Decodes the one QR code in a PNG.
fn decode_png(bytes: &[u8]) -> String {
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes.to_vec()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let (w, h) = (info.width as usize, info.height as usize);
    let mut img = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| buf[y * w + x]);
    let grids = img.detect_grids();
    assert_eq!(grids.len(), 1);
    grids[0].decode().unwrap().1
}

/// What the PNG code of the public page at `path` carries, as `c` asks for it.
pub(crate) async fn png_target(app: &App, c: &reqwest::Client, path: &str) -> String {
    let r = fetch(c, app.url(&format!("/api/v1/qr?path={path}&format=png"))).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "image/png");
    decode_png(&r.bytes().await.unwrap())
}

async fn flow(t: TestDb) {
    let app = spawn_public(t).await;
    let db = app.db();
    let district = node(&db, None, "district", "香格里拉市", Some("533401")).await;
    let community = add_community(&db, district.id, "里布嘎社区", "533401100003").await;
    user(&db, "staff", "staff", &[community.id]).await;

    // Signed-in callers only.
    let r = client()
        .get(app.url("/api/v1/qr?path=/r/1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let staff = api_login(&app, "staff").await;
    let path = format!("/r/{}", community.id);
    assert_eq!(
        png_target(&app, &staff, &path).await,
        format!("{PUBLIC_URL}{path}"),
        "the code carries the public address, not the one the test used"
    );
    let r = fetch(&staff, app.url(&format!("/api/v1/qr?path={path}"))).await;
    assert_eq!(r.headers()["content-type"], "image/svg+xml");
    assert!(r.text().await.unwrap().starts_with("<svg"));
    // Only the app's own public pages.
    for bad in [
        "/login",
        "//evil.example/r/1",
        "/api/v1/persons",
        "https://evil.example/",
    ] {
        let (status, body) = get_json(
            &staff,
            app.url(&format!("/api/v1/qr?path={}", url_escape(bad))),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        assert_eq!(body["error"]["fields"][0]["field"], "path");
    }

    // The requests inbox shows the public link at the public address, with its code.
    let (c, _) = sign_in(&app, "staff").await;
    let (_, html) = get(&c, app.url("/requests")).await;
    let section = enclosing(&html, "section", "居民自助反映");
    assert!(
        section.contains(&format!("https://linli.example.org{path}")) && section.contains("<svg"),
        "{section}"
    );
    app.finish().await;
}

fn url_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'/' | b'-' | b'_' | b'.' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

on_both!(qr_codes, flow);
