//! `AppError`: the one error type of the service, and its mapping to GraphQL
//! errors with an `extensions.code` from the contract and to HTTP statuses and
//! bodies (the report downloads, the request edge of `/graphql`). Internal
//! causes are logged with their chain and never sent.

use crate::domain::error::DomainError;
use crate::domain::labels::Lang;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::sync::Arc;

/// A message in both languages of the UI; Japanese is the default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Msg {
    pub ja: String,
    pub en: String,
}

impl Msg {
    pub fn new(ja: impl Into<String>, en: impl Into<String>) -> Self {
        Self {
            ja: ja.into(),
            en: en.into(),
        }
    }
}

/// Deliberately not `Display`: async-graphql converts any `Display` error into a
/// GraphQL error without extensions, and every error of ours must carry its code.
#[derive(Debug, Clone)]
pub enum AppError {
    Unauthenticated(Msg),
    Forbidden(Msg),
    NotFound(Msg),
    BadInput {
        field: Option<String>,
        msg: Msg,
    },
    Conflict(Msg),
    RateLimited {
        retry_after: u64,
    },
    /// The cause is logged, never sent.
    Internal(Arc<anyhow::Error>),
}

pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    /// The contract's `extensions.code`.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::Unauthenticated(_) => "UNAUTHENTICATED",
            AppError::Forbidden(_) => "FORBIDDEN",
            AppError::NotFound(_) => "NOT_FOUND",
            AppError::BadInput { .. } => "BAD_USER_INPUT",
            AppError::Conflict(_) => "CONFLICT",
            AppError::RateLimited { .. } => "RATE_LIMITED",
            AppError::Internal(_) => "INTERNAL",
        }
    }

    pub fn unauthenticated() -> Self {
        AppError::Unauthenticated(Msg::new(
            "ログインが必要です。もう一度ログインしてください。",
            "You need to sign in. Please sign in again.",
        ))
    }

    pub fn forbidden() -> Self {
        AppError::Forbidden(Msg::new(
            "この操作を行う権限がありません。",
            "You are not allowed to do this.",
        ))
    }

    /// The same answer for "does not exist" and "you may not see it".
    pub fn not_found(what_ja: &str, what_en: &str) -> Self {
        AppError::NotFound(Msg::new(
            format!("{what_ja}が見つかりません。"),
            format!("{what_en} not found."),
        ))
    }

    pub fn bad_input(field: Option<&str>, ja: impl Into<String>, en: impl Into<String>) -> Self {
        AppError::BadInput {
            field: field.map(str::to_owned),
            msg: Msg::new(ja, en),
        }
    }

    pub fn conflict(ja: impl Into<String>, en: impl Into<String>) -> Self {
        AppError::Conflict(Msg::new(ja, en))
    }

    /// Stale `expectedVersion`.
    pub fn stale_version() -> Self {
        AppError::conflict(
            "他の担当者がこの案件を更新しました。最新の内容を読み込んでからやり直してください。",
            "Someone else changed this case. Reload it and try again.",
        )
    }

    pub fn internal(e: impl Into<anyhow::Error>) -> Self {
        AppError::Internal(Arc::new(e.into()))
    }

    /// The user-facing message in both languages.
    pub fn message(&self) -> Msg {
        match self {
            AppError::Unauthenticated(m)
            | AppError::Forbidden(m)
            | AppError::NotFound(m)
            | AppError::Conflict(m)
            | AppError::BadInput { msg: m, .. } => m.clone(),
            AppError::RateLimited { retry_after } => Msg::new(
                format!("試行回数が多すぎます。{retry_after}秒後にもう一度お試しください。"),
                format!("Too many attempts. Try again in {retry_after} seconds."),
            ),
            AppError::Internal(_) => Msg::new(
                "内部エラーが発生しました。しばらくしてからもう一度お試しください。",
                "An internal error occurred. Please try again later.",
            ),
        }
    }
}

impl AppError {
    /// The HTTP status of the error where it is the whole answer (not inside a
    /// GraphQL response, which is always `200`).
    pub fn http_status(&self) -> StatusCode {
        match self {
            AppError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::BadInput { .. } => StatusCode::BAD_REQUEST,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// `extensions` of the error: `code`, `messageEn`, and `field` or
    /// `retryAfter` where there is one. GraphQL errors and HTTP bodies share it.
    fn extensions(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut ext = serde_json::Map::new();
        ext.insert("code".into(), json!(self.code()));
        ext.insert("messageEn".into(), json!(self.message().en));
        match self {
            AppError::BadInput {
                field: Some(field), ..
            } => {
                ext.insert("field".into(), json!(field));
            }
            AppError::RateLimited { retry_after } => {
                ext.insert("retryAfter".into(), json!(retry_after));
            }
            _ => {}
        }
        ext
    }

    fn log_if_internal(&self) {
        if let AppError::Internal(cause) = self {
            tracing::error!(error = ?cause, "internal error");
        }
    }

    /// The body of an HTTP error answer, shaped like a GraphQL response:
    /// `{"errors": [{"message", "extensions"}]}`, the message in `lang`.
    pub fn http_body(&self, lang: Lang) -> serde_json::Value {
        let msg = self.message();
        let message = if lang == Lang::En { msg.en } else { msg.ja };
        json!({ "errors": [{ "message": message, "extensions": self.extensions() }] })
    }

    /// The whole HTTP answer: [`Self::http_status`], [`Self::http_body`], and
    /// `WWW-Authenticate: Bearer` on `401`.
    pub fn into_http_response(self, lang: Lang) -> Response {
        self.log_if_internal();
        let status = self.http_status();
        let mut r = (status, axum::Json(self.http_body(lang))).into_response();
        if status == StatusCode::UNAUTHORIZED {
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        r
    }
}

impl From<DomainError> for AppError {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::Invalid { field, ja, en } => AppError::BadInput {
                field,
                msg: Msg::new(ja, en),
            },
            DomainError::Conflict { ja, en } => AppError::Conflict(Msg::new(ja, en)),
        }
    }
}

impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        AppError::internal(anyhow::Error::new(e).context("database"))
    }
}

impl From<anyhow::Error> for AppError {
    fn from(e: anyhow::Error) -> Self {
        AppError::internal(e)
    }
}

impl From<AppError> for anyhow::Error {
    fn from(e: AppError) -> Self {
        match e {
            AppError::Internal(cause) => anyhow::anyhow!("{cause:#}"),
            other => anyhow::anyhow!("{}: {}", other.code(), other.message().en),
        }
    }
}

impl From<crate::domain::permissions::Denied> for AppError {
    fn from(_: crate::domain::permissions::Denied) -> Self {
        AppError::forbidden()
    }
}

impl From<AppError> for async_graphql::Error {
    fn from(e: AppError) -> Self {
        e.log_if_internal();
        let mut ext = async_graphql::ErrorExtensionValues::default();
        for (k, v) in e.extensions() {
            ext.set(k, async_graphql::Value::from_json(v).unwrap_or_default());
        }
        let mut err = async_graphql::Error::new(e.message().ja);
        err.extensions = Some(ext);
        err
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ext_code(e: AppError) -> String {
        let err: async_graphql::Error = e.into();
        let v = serde_json::to_value(err.extensions.unwrap()).unwrap();
        v["code"].as_str().unwrap().to_owned()
    }

    #[test]
    fn every_variant_maps_to_its_contract_code() {
        assert_eq!(ext_code(AppError::unauthenticated()), "UNAUTHENTICATED");
        assert_eq!(ext_code(AppError::forbidden()), "FORBIDDEN");
        assert_eq!(ext_code(AppError::not_found("案件", "Case")), "NOT_FOUND");
        assert_eq!(
            ext_code(AppError::bad_input(Some("title"), "a", "b")),
            "BAD_USER_INPUT"
        );
        assert_eq!(ext_code(AppError::stale_version()), "CONFLICT");
        assert_eq!(
            ext_code(AppError::RateLimited { retry_after: 3 }),
            "RATE_LIMITED"
        );
        assert_eq!(
            ext_code(AppError::internal(anyhow::anyhow!("secret sql"))),
            "INTERNAL"
        );
    }

    #[test]
    fn internal_errors_never_leak_their_cause() {
        let err: async_graphql::Error =
            AppError::internal(anyhow::anyhow!("SELECT * FROM users at /src/x.rs")).into();
        let text = format!("{} {:?}", err.message, err.extensions);
        assert!(!text.contains("SELECT"));
        assert!(!text.contains("/src/"));
    }

    #[test]
    fn http_answers_carry_the_status_and_the_same_extensions() {
        let e = AppError::bad_input(Some("kind"), "種類", "Kind");
        assert_eq!(e.http_status(), StatusCode::BAD_REQUEST);
        let body = e.http_body(Lang::En);
        assert_eq!(body["errors"][0]["message"], "Kind");
        assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
        assert_eq!(body["errors"][0]["extensions"]["field"], "kind");
        let r = AppError::unauthenticated().into_http_response(Lang::Ja);
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(r.headers()[header::WWW_AUTHENTICATE], "Bearer");
        assert_eq!(
            AppError::RateLimited { retry_after: 3 }.http_status(),
            StatusCode::TOO_MANY_REQUESTS
        );
    }

    #[test]
    fn bad_input_names_the_field_and_english_text() {
        let err: async_graphql::Error =
            AppError::bad_input(Some("email"), "メール", "Email").into();
        let v = serde_json::to_value(err.extensions.unwrap()).unwrap();
        assert_eq!(v["field"], "email");
        assert_eq!(v["messageEn"], "Email");
    }
}
