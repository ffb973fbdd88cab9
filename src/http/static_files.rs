//! The web front end, built into `frontend/dist` and embedded in the binary,
//! served at `/` with a fallback to `index.html` for the app's own routes.

use crate::state::AppState;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};
use axum::Router;
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "frontend/dist"]
#[allow_missing = true]
struct Assets;

pub fn router() -> Router<AppState> {
    Router::new().fallback(serve)
}

const NOT_BUILT: &str = "<!doctype html><html lang=\"ja\"><meta charset=\"utf-8\"><title>dxdesk</title>\
<h1>dxdesk</h1><p>Webフロントエンドがビルドされていません。<code>cd frontend &amp;&amp; npm ci &amp;&amp; npm run build</code> を実行してから再ビルドしてください。</p>\
<p>The web front end is not built: run <code>cd frontend &amp;&amp; npm ci &amp;&amp; npm run build</code>, then rebuild.</p></html>";

/// Which precompressed copy (written by `frontend/scripts/compress.mjs`) the
/// client accepts: brotli before gzip; `q=0` refuses an encoding.
fn accepted_encodings(headers: &HeaderMap) -> Vec<(&'static str, &'static str)> {
    let accept = headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(",");
    let allows = |name: &str| {
        accept.split(',').any(|part| {
            let mut it = part.split(';');
            let coding = it.next().unwrap_or("").trim();
            let refused = it.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    == Some(0.0)
            });
            coding.eq_ignore_ascii_case(name) && !refused
        })
    };
    [("br", ".br"), ("gzip", ".gz")]
        .into_iter()
        .filter(|(name, _)| allows(name))
        .collect()
}

/// A file of the build: the precompressed copy the client accepts when there
/// is one, else the file itself. Hashed files under `assets/` never change
/// under their name, so browsers keep them for a year without asking.
fn file_response(path: &str, headers: &HeaderMap) -> Option<Response> {
    let original = Assets::get(path)?;
    let mime = mime_guess::from_path(path).first_or_octet_stream();
    let cache = if path.starts_with("assets/") {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let (data, encoding) = accepted_encodings(headers)
        .into_iter()
        .find_map(|(name, ext)| Assets::get(&format!("{path}{ext}")).map(|f| (f.data, Some(name))))
        .unwrap_or((original.data, None));
    let mut res = (
        [
            (header::CONTENT_TYPE, mime.as_ref().to_owned()),
            (header::CACHE_CONTROL, cache.to_owned()),
            (header::VARY, "accept-encoding".to_owned()),
        ],
        data.into_owned(),
    )
        .into_response();
    if let Some(enc) = encoding {
        res.headers_mut()
            .insert(header::CONTENT_ENCODING, HeaderValue::from_static(enc));
    }
    Some(res)
}

async fn serve(uri: Uri, headers: HeaderMap) -> Response {
    let path = uri.path().trim_start_matches('/');
    if path.starts_with("api/") || path == "graphql" {
        return StatusCode::NOT_FOUND.into_response();
    }
    if let Some(res) = (!path.is_empty())
        .then(|| file_response(path, &headers))
        .flatten()
    {
        return res;
    }
    // A path with a file extension that is not there is a missing file, not a page.
    let last = path.rsplit('/').next().unwrap_or("");
    if last.contains('.') {
        return StatusCode::NOT_FOUND.into_response();
    }
    file_response("index.html", &headers)
        .map(|mut res| {
            res.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            res
        })
        .unwrap_or_else(|| Html(NOT_BUILT).into_response())
}

#[cfg(test)]
mod tests {
    use super::accepted_encodings;
    use axum::http::{header, HeaderMap, HeaderValue};

    fn accept(v: &str) -> Vec<&'static str> {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT_ENCODING, HeaderValue::from_str(v).unwrap());
        accepted_encodings(&h).into_iter().map(|(n, _)| n).collect()
    }

    #[test]
    fn brotli_first_then_gzip_and_q0_refuses() {
        assert_eq!(accept("gzip, deflate, br, zstd"), ["br", "gzip"]);
        assert_eq!(accept("gzip"), ["gzip"]);
        assert_eq!(accept("br;q=0, gzip;q=0.5"), ["gzip"]);
        assert_eq!(accept("identity"), Vec::<&str>::new());
        assert!(accepted_encodings(&HeaderMap::new()).is_empty());
    }
}
