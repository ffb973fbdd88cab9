//! `GET /api/businesses/{id}/export.json` with the bearer token: the
//! disclosure document of a business (`dxdesk.business-export` version 1,
//! docs/business-export.md), admin of its lab only; same as `exportBusinessData`.

use crate::auth::{self, Authn};
use crate::error::AppError;
use crate::http::graphql::lang_of;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use uuid::Uuid;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/businesses/{id}/export.json", get(download))
}

async fn download(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let lang = lang_of(&headers);
    match serve(&state, &id, &headers).await {
        Ok(r) => r,
        Err(e) => e.into_http_response(lang),
    }
}

async fn serve(state: &AppState, id: &str, headers: &HeaderMap) -> Result<Response, AppError> {
    let auth_header = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let viewer = match auth::authenticate(state, auth_header).await? {
        Authn::User(v) => v,
        Authn::Anonymous => return Err(AppError::unauthenticated()),
        Authn::Invalid(ja, en) => {
            return Err(AppError::Unauthenticated(crate::error::Msg::new(ja, en)))
        }
    };
    let id: Uuid = id
        .parse()
        .map_err(|_| crate::service::business::business_not_found())?;
    let doc = crate::service::disclosure::export(state, &viewer, id).await?;
    let body = serde_json::to_vec_pretty(&doc).map_err(AppError::internal)?;
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!(
        "attachment; filename=\"business-{id}-export.json\""
    )) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(r)
}
