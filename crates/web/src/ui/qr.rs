//! QR codes of the app's public links: SVG inlined in pages and posters (sharp at any print
//! size), PNG to download, and `GET /api/v1/qr` for either. Only the app's own public pages
//! are encoded, at the app's public address, so the endpoint cannot be used to make codes that
//! point elsewhere.

use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use qrcode::{Color, EcLevel, QrCode};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::ApiUser;
use crate::error::{ApiError, ErrorBody};
use crate::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(qr_code))
}

/// The paths a printed code may carry: the pages residents open without signing in
/// (declarations, requests, enterprises, self check-in, volunteer sign-up), a pass (`/p/`, which
/// opens the gate page for a signed-in guard), and a community's public page (`/c/`).
pub const PUBLIC_PREFIXES: [&str; 7] = ["/d/", "/r/", "/e/", "/o/", "/p/", "/v/", "/c/"];

/// The address residents type or scan: `--public-url` when the server was given one, else
/// this server as the caller reached it (the `Host` header, checked to be a plain host).
pub fn public_base(state: &AppState, headers: &HeaderMap) -> String {
    if let Some(url) = state.config.public_url.as_deref().filter(|u| !u.is_empty()) {
        return url.trim_end_matches('/').to_owned();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
        })
        .unwrap_or("localhost");
    let scheme = if state.config.secure_cookies {
        "https"
    } else {
        "http"
    };
    format!("{scheme}://{host}")
}

/// [`public_base`] as an extractor, for the handlers that print the app's public links.
pub struct PublicBase(pub String);

impl FromRequestParts<AppState> for PublicBase {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(PublicBase(public_base(state, &parts.headers)))
    }
}

/// Whether `path` is one of the app's public pages: a known prefix, then only characters a
/// token or an id uses (no `//`, no query, nothing that could lead elsewhere).
pub fn is_public_path(path: &str) -> bool {
    PUBLIC_PREFIXES
        .iter()
        .any(|p| path.strip_prefix(p).is_some_and(|rest| !rest.is_empty()))
        && path.len() <= 200
        && !path.contains("//")
        && path[1..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_/".contains(&b))
}

/// The code of `text` (medium error correction: a printed poster survives a smudge).
fn code(text: &str) -> Result<QrCode, qrcode::types::QrError> {
    QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M)
}

/// An inline `<svg>` element of `text`'s code, `size` px square on screen (it scales in print).
pub fn svg(text: &str, size: u32) -> Option<String> {
    let svg = code(text)
        .ok()?
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(size, size)
        .quiet_zone(true)
        .build();
    // Inlined in HTML: the XML prologue goes.
    svg.find("<svg").map(|at| svg[at..].to_owned())
}

/// A link and its code (an inline `<svg>`, empty if the link is too long to encode), for pages
/// that show a public link once.
pub fn link_and_svg(url: String, size: u32) -> (String, String) {
    let svg = svg(&url, size).unwrap_or_default();
    (url, svg)
}

/// A PNG of `text`'s code: `scale` pixels a module, with the standard four-module quiet zone.
pub fn png(text: &str, scale: usize) -> Option<Vec<u8>> {
    let code = code(text).ok()?;
    let modules = code.width();
    let colors = code.to_colors();
    let side = (modules + 8) * scale;
    let mut pixels = vec![255u8; side * side];
    for (i, c) in colors.iter().enumerate() {
        if *c != Color::Dark {
            continue;
        }
        let (mx, my) = (i % modules + 4, i / modules + 4);
        for y in my * scale..(my + 1) * scale {
            pixels[y * side + mx * scale..y * side + (mx + 1) * scale].fill(0);
        }
    }
    let side = u32::try_from(side).ok()?;
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, side, side);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().ok()?;
    writer.write_image_data(&pixels).ok()?;
    writer.finish().ok()?;
    Some(out)
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct QrQuery {
    /// A public page of this app: `/d/…`, `/r/…`, `/e/…` or `/o/…`.
    pub path: Option<String>,
    /// `svg` (default) or `png`.
    pub format: Option<String>,
}

/// The QR code of `{public url}{path}` for one of the app's public pages (signed-in callers:
/// staff print posters and cards with it).
#[utoipa::path(get, path = "/api/v1/qr", tag = "qr", params(QrQuery),
    responses((status = 200, content_type = "image/svg+xml", body = String), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn qr_code(
    ApiUser(_user): ApiUser,
    PublicBase(base): PublicBase,
    Query(q): Query<QrQuery>,
) -> Response {
    let path = q.path.unwrap_or_default();
    if !is_public_path(&path) {
        return ApiError::invalid(
            "path",
            "只能为本系统的公开页面（/d/、/r/、/e/、/o/ 开头）生成二维码",
        )
        .into_response();
    }
    let url = format!("{base}{path}");
    let cache = (header::CACHE_CONTROL, "private, max-age=3600");
    match q.format.as_deref().unwrap_or("svg") {
        "svg" => match svg(&url, 240) {
            Some(s) => ([(header::CONTENT_TYPE, "image/svg+xml"), cache], s).into_response(),
            None => too_long(),
        },
        "png" => match png(&url, 8) {
            Some(p) => ([(header::CONTENT_TYPE, "image/png"), cache], p).into_response(),
            None => too_long(),
        },
        _ => ApiError::invalid("format", "格式应为 svg 或 png").into_response(),
    }
}

fn too_long() -> Response {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid",
        "网址过长，无法生成二维码",
    )
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_apps_public_pages_are_encoded() {
        for ok in [
            "/d/abc123",
            "/r/42",
            "/e/Ab-_9",
            "/o/x7k2m9p4",
            "/p/7KQ4MZ2A",
        ] {
            assert!(is_public_path(ok), "{ok}");
        }
        for bad in [
            "/d/",
            "/login",
            "//evil.example/d/x",
            "/d//x",
            "/d/x?next=y",
            "https://e.x/d/1",
            "/d/%2F",
            "/api/v1/persons",
            "d/abc",
        ] {
            assert!(!is_public_path(bad), "{bad}");
        }
    }

    #[test]
    fn the_png_decodes_to_the_url() {
        let url = "https://linli.example/d/AbC123xyz";
        let bytes = png(url, 4).unwrap();
        let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        let (w, h) = (info.width as usize, info.height as usize);
        let mut img = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| buf[y * w + x]);
        let grids = img.detect_grids();
        assert_eq!(grids.len(), 1);
        let (_, content) = grids[0].decode().unwrap();
        assert_eq!(content, url);
        assert!(svg(url, 200).unwrap().starts_with("<svg"));
    }
}
