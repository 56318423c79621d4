//! One error type for the JSON API: a status, a stable code, a message, and the fields at fault.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use linli_store::accounts::LoginError;
use linli_store::StoreError;
use serde::Serialize;
use utoipa::ToSchema;

/// The body of every API error: `{"error":{"code","message","fields":[…]}}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code: `unauthenticated`, `forbidden`, `not_found`, `invalid`,
    /// `conflict`, `throttled`, `unsupported_media_type`, `internal`.
    pub code: String,
    pub message: String,
    pub fields: Vec<FieldError>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub fields: Vec<FieldError>,
    pub retry_after_s: Option<i64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            fields: Vec::new(),
            retry_after_s: None,
        }
    }

    pub fn unauthenticated() -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", "请先登录")
    }

    pub fn not_found() -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "未找到，或不在您的辖区内",
        )
    }

    pub fn invalid(field: &str, message: impl Into<String>) -> ApiError {
        let message = message.into();
        ApiError {
            fields: vec![FieldError {
                field: field.to_owned(),
                message: message.clone(),
            }],
            ..ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", message)
        }
    }
}

impl ApiError {
    /// A store conflict on one of `fields` (any field when `fields` is empty) as `409 Conflict`
    /// naming the field — a lost race, a state that moved on, stock that ran out — where a clash
    /// with stored names stays the usual 422; every other error as usual.
    pub fn conflict_409(e: StoreError, fields: &[&str]) -> ApiError {
        match e {
            StoreError::Conflict { field, message }
                if fields.is_empty() || fields.contains(&field.as_str()) =>
            {
                ApiError {
                    fields: vec![FieldError {
                        field,
                        message: message.clone(),
                    }],
                    ..ApiError::new(StatusCode::CONFLICT, "conflict", message)
                }
            }
            other => other.into(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ApiError::not_found(),
            StoreError::Forbidden(m) => ApiError::new(StatusCode::FORBIDDEN, "forbidden", m),
            StoreError::Invalid(errors) => ApiError {
                fields: errors
                    .iter()
                    .map(|e| FieldError {
                        field: e.field.clone(),
                        message: e.message.clone(),
                    })
                    .collect(),
                ..ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid",
                    errors
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("; "),
                )
            },
            StoreError::Conflict { field, message } => ApiError {
                fields: vec![FieldError {
                    field: field.clone(),
                    message: message.clone(),
                }],
                ..ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "conflict",
                    format!("{field}: {message}"),
                )
            },
            e if e.is_unstorable_text() => {
                // A NUL in text that slipped past `ui::input`: the input's fault, not ours.
                ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid",
                    "输入含有数据库无法保存的字符（如空字符 U+0000），请删除后重试",
                )
            }
            other => {
                // The chain goes to the log; the client learns only that it failed.
                tracing::error!(error = %other, "internal error");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "系统内部错误，请稍后重试",
                )
            }
        }
    }
}

impl From<LoginError> for ApiError {
    fn from(e: LoginError) -> Self {
        match e {
            LoginError::BadCredentials => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "用户名或密码错误",
            ),
            LoginError::Throttled { retry_after_s } => ApiError {
                retry_after_s: Some(retry_after_s),
                ..ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "throttled",
                    format!("登录失败次数过多，请 {retry_after_s} 秒后再试"),
                )
            },
            LoginError::Store(e) => e.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_owned(),
                message: self.message,
                fields: self.fields,
            },
        };
        let mut resp = (self.status, axum::Json(body)).into_response();
        if let Some(s) = self.retry_after_s {
            if let Ok(v) = s.to_string().parse() {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        resp
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
