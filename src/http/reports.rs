//! Report downloads with the bearer token, same permissions as `activityReport`:
//! `GET /api/reports/{fy}.csv?kind=cases|referrals` (UTF-8 with BOM, for Excel)
//! and `GET /api/reports/{fy}.json` (`dxdesk.activity-report` version 1).

use crate::auth::{self, Authn};
use crate::error::AppError;
use crate::http::graphql::lang_of;
use crate::service::reports::{self as report, ExportKind};
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/reports/{file}", get(download))
}

#[derive(Deserialize)]
pub struct DownloadParams {
    kind: Option<String>,
}

fn bad(field: &str, ja: &str, en: &str) -> AppError {
    AppError::bad_input(Some(field), ja, en)
}

async fn download(
    State(state): State<AppState>,
    Path(file): Path<String>,
    Query(params): Query<DownloadParams>,
    headers: HeaderMap,
) -> Response {
    let lang = lang_of(&headers);
    match serve(&state, &file, params, &headers).await {
        Ok(r) => r,
        Err(e) => e.into_http_response(lang),
    }
}

async fn serve(
    state: &AppState,
    file: &str,
    params: DownloadParams,
    headers: &HeaderMap,
) -> Result<Response, AppError> {
    let (fy, ext) = file
        .rsplit_once('.')
        .ok_or_else(|| AppError::not_found("レポート", "Report"))?;
    let json = match ext {
        "json" => true,
        "csv" => false,
        _ => return Err(AppError::not_found("レポート", "Report")),
    };
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
    let fy: i32 = fy.parse().map_err(|_| {
        bad(
            "fiscalYear",
            "年度は西暦の数字で指定してください（例: /api/reports/2024.csv）。",
            "Give the fiscal year as a number, e.g. /api/reports/2024.csv.",
        )
    })?;
    let scope = report::scope_for(&viewer)?;
    let store = state.store.as_ref();
    let lab = report::lab_of(store, scope).await?;
    let now = state.now();
    let (bytes, content_type, name) = if json {
        if params.kind.is_some() {
            return Err(bad(
                "kind",
                "JSON 形式では kind は指定できません。",
                "kind applies to the CSV export only.",
            ));
        }
        (
            report::export_json(store, scope, fy, now).await?,
            "application/json; charset=utf-8",
            report::file_name(&lab.code, fy, None),
        )
    } else {
        let kind = match params.kind.as_deref() {
            None => ExportKind::Cases,
            Some(k) => ExportKind::parse(k).ok_or_else(|| {
                bad(
                    "kind",
                    "kind は cases または referrals を指定してください。",
                    "kind must be cases or referrals.",
                )
            })?,
        };
        (
            report::export_csv(store, scope, fy, kind, now).await?,
            "text/csv; charset=utf-8",
            report::file_name(&lab.code, fy, Some(kind)),
        )
    };
    let mut r = bytes.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(r)
}
