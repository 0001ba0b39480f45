//! One error type for every HTTP surface:
//! `{"error":{"code","message"}}`, plus `"errors":[{"field","code","message"}]` on `422`.
//! 5xx bodies are opaque; the cause goes to the log only.

use std::borrow::Cow;
use std::fmt;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use serde_json::{Map, Value};

pub type AppResult<T> = Result<T, AppError>;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub code: Cow<'static, str>,
    pub message: String,
}

impl FieldError {
    pub fn new(
        field: impl Into<String>,
        code: impl Into<Cow<'static, str>>,
        message: impl Into<String>,
    ) -> Self {
        FieldError {
            field: field.into(),
            code: code.into(),
            message: message.into(),
        }
    }
}

pub struct AppError {
    pub status: StatusCode,
    pub code: Cow<'static, str>,
    pub message: String,
    pub errors: Option<Vec<FieldError>>,
    /// Extra top-level members of the body (e.g. `"valid": false` on `personalize`).
    pub extra: Option<Map<String, Value>>,
    /// App Bridge retries with a fresh session token when this header is present.
    pub retry_invalid_session: bool,
    /// Internal cause, logged for 5xx, never sent.
    pub source: Option<anyhow::Error>,
}

impl AppError {
    pub fn new(
        status: StatusCode,
        code: impl Into<Cow<'static, str>>,
        message: impl Into<String>,
    ) -> Self {
        AppError {
            status,
            code: code.into(),
            message: message.into(),
            errors: None,
            extra: None,
            retry_invalid_session: false,
            source: None,
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, message)
    }

    /// `401` for a missing or invalid App Bridge session token.
    pub fn invalid_session(message: impl Into<String>) -> Self {
        let mut e = Self::new(StatusCode::UNAUTHORIZED, "invalid_session_token", message);
        e.retry_invalid_session = true;
        e
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    pub fn payload_too_large(limit_bytes: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("The request body exceeds the limit of {limit_bytes} bytes."),
        )
    }

    /// `422` with one entry per problem.
    pub fn validation(errors: Vec<FieldError>) -> Self {
        let message = match errors.len() {
            1 => format!("{}: {}", errors[0].field, errors[0].message),
            n => format!("{n} values are invalid."),
        };
        let mut e = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            message,
        );
        e.errors = Some(errors);
        e
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
    }

    pub fn internal(source: impl Into<anyhow::Error>) -> Self {
        let mut e = Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "Something went wrong on our side; it has been logged.",
        );
        e.source = Some(source.into());
        e
    }

    pub fn with_source(mut self, source: impl Into<anyhow::Error>) -> Self {
        self.source = Some(source.into());
        self
    }

    pub fn with_extra(mut self, key: &str, value: Value) -> Self {
        self.extra
            .get_or_insert_with(Map::new)
            .insert(key.to_owned(), value);
        self
    }

    pub fn body(&self) -> Value {
        let mut body = Map::new();
        if let Some(extra) = &self.extra {
            body.extend(extra.clone());
        }
        body.insert(
            "error".into(),
            serde_json::json!({ "code": self.code, "message": self.message }),
        );
        if let Some(errors) = &self.errors {
            body.insert(
                "errors".into(),
                serde_json::to_value(errors).unwrap_or_default(),
            );
        }
        Value::Object(body)
    }
}

impl fmt::Debug for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )?;
        if let Some(source) = &self.source {
            write!(f, " (cause: {source:#})")?;
        }
        Ok(())
    }
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for AppError {}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        // The cause of a 5xx is logged by the request span (tracing-actix-web records the
        // error's Debug form, which carries the cause); the body stays opaque.
        let mut resp = HttpResponse::build(self.status);
        resp.insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")));
        if self.retry_invalid_session {
            resp.insert_header(("X-Shopify-Retry-Invalid-Session-Request", "1"));
        }
        resp.json(self.body())
    }
}

impl From<diesel::result::Error> for AppError {
    fn from(e: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind as K, Error as E};
        match e {
            E::NotFound => AppError::not_found("Not found."),
            // The database went away mid-request (PostgreSQL restarting, a network cut) or has no
            // room left (SQLite on a full disk): nothing was stored, and a retry will work once
            // it is back. A 503 says so; Shopify retries webhook deliveries that get one.
            E::DatabaseError(K::ClosedConnection | K::UnableToSendCommand, _)
            | E::BrokenTransactionManager => {
                AppError::unavailable("The database is not answering; try again shortly.")
                    .with_source(e)
            }
            E::DatabaseError(_, ref info) if storage_full(info.message()) => {
                AppError::unavailable("The database has no room left; try again later.")
                    .with_source(e)
            }
            other => AppError::internal(other),
        }
    }
}

/// SQLite's `SQLITE_FULL` ("database or disk is full") and PostgreSQL's `disk_full` text.
fn storage_full(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("disk is full") || m.contains("no space left on device")
}

impl From<r2d2::Error> for AppError {
    fn from(e: r2d2::Error) -> Self {
        AppError::unavailable("The database is not answering; try again shortly.").with_source(e)
    }
}

/// Amounts that do not fit in 64 bits of cents (absurd orders): an error that says so, never a
/// wrapped total.
impl From<crate::money::Overflow> for AppError {
    fn from(e: crate::money::Overflow) -> Self {
        AppError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "amount_out_of_range",
            "An amount is too large to add up in cents.",
        )
        .with_source(e)
    }
}

impl From<crate::crypto::DecryptError> for AppError {
    fn from(e: crate::crypto::DecryptError) -> Self {
        AppError::internal(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::MessageBody;

    fn body_of(e: &AppError) -> Value {
        let resp = e.error_response();
        let bytes = resp.into_body().try_into_bytes().unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[test]
    fn validation_error_lists_every_problem() {
        let e = AppError::validation(vec![
            FieldError::new("sizes.shirt", "unknown_size", "XXXL is not offered."),
            FieldError::new("interests[1]", "duplicate", "Listed twice."),
        ]);
        assert_eq!(e.status_code(), StatusCode::UNPROCESSABLE_ENTITY);
        let body = body_of(&e);
        assert_eq!(body["error"]["code"], "validation_failed");
        assert_eq!(body["errors"][0]["field"], "sizes.shirt");
        assert_eq!(body["errors"][1]["code"], "duplicate");
    }

    #[test]
    fn internal_error_hides_its_cause() {
        let e = AppError::internal(anyhow::anyhow!("SELECT secret FROM shops failed"));
        let body = body_of(&e);
        assert_eq!(body["error"]["code"], "internal_error");
        assert!(!body.to_string().contains("SELECT"));
    }

    #[test]
    fn invalid_session_carries_the_retry_header() {
        let resp = AppError::invalid_session("expired").error_response();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            resp.headers()
                .get("X-Shopify-Retry-Invalid-Session-Request")
                .unwrap(),
            "1"
        );
    }

    #[test]
    fn extra_members_sit_next_to_error() {
        let body = body_of(&AppError::validation(vec![]).with_extra("valid", Value::Bool(false)));
        assert_eq!(body["valid"], false);
    }
}
