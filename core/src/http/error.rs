//! `ApiError`: the one place where failures become HTTP status codes and Vault error bodies.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::barrier::BarrierError;
use crate::seal::SealError;
use crate::storage::StorageError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("permission denied")]
    PermissionDenied,
    /// A valid token whose policies do not allow the request: OpenBao's multierror wording.
    #[error("1 error occurred:\n\t* permission denied\n\n")]
    AclDenied,
    /// 403 with a specific reason (`bad token` from `auth/token/lookup`).
    #[error("{0}")]
    Forbidden(String),
    /// 404 with an empty error list: what OpenBao answers for a missing secret.
    #[error("not found")]
    NotFound,
    #[error("no handler for route {0:?}. route entry not found.")]
    NoRoute(String),
    #[error("unsupported operation")]
    UnsupportedOperation,
    /// 404 for a path OpenBao knows but does not serve in this configuration.
    #[error("unsupported path")]
    UnsupportedPath,
    #[error("http: request body too large")]
    TooLarge,
    #[error("{0}")]
    Conflict(String),
    #[error("Vault is sealed")]
    Sealed,
    #[error("Vault is not initialized")]
    NotInitialized,
    #[error("{0}")]
    Internal(String),
    /// 404: the host names no store this deployment serves (multi-tenant routing).
    #[error("no secret store is served at host {0:?}")]
    UnknownStore(String),
    /// 429: a plan's rate limit or quota, in Vault's words for its own quotas.
    #[error("{0}")]
    LimitExceeded(String),
    /// 413 with the plan's limit.
    #[error("{0}")]
    TooLargeForPlan(String),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::PermissionDenied | ApiError::AclDenied | ApiError::Forbidden(_) => {
                StatusCode::FORBIDDEN
            }
            ApiError::NotFound | ApiError::NoRoute(_) | ApiError::UnsupportedPath => {
                StatusCode::NOT_FOUND
            }
            ApiError::UnsupportedOperation => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Sealed | ApiError::NotInitialized => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::UnknownStore(_) => StatusCode::NOT_FOUND,
            ApiError::LimitExceeded(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::TooLargeForPlan(_) => StatusCode::PAYLOAD_TOO_LARGE,
        }
    }

    pub fn bad_request(msg: impl Into<String>) -> Self {
        ApiError::BadRequest(msg.into())
    }
}

impl From<StorageError> for ApiError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::TooLarge { .. } => ApiError::BadRequest(e.to_string()),
            // A conflict that survived the retries is a storage failure to the client too.
            other => {
                tracing::error!(error = %other, "storage failure");
                ApiError::Internal(
                    "storage backend unavailable; nothing was changed, try again".into(),
                )
            }
        }
    }
}

impl From<BarrierError> for ApiError {
    fn from(e: BarrierError) -> Self {
        match e {
            BarrierError::Sealed => ApiError::Sealed,
            BarrierError::NotInitialized => ApiError::NotInitialized,
            BarrierError::Storage(s) => s.into(),
            other => {
                tracing::error!(error = %other, "barrier failure");
                ApiError::Internal("internal error".into())
            }
        }
    }
}

impl From<SealError> for ApiError {
    fn from(e: SealError) -> Self {
        match e {
            SealError::Barrier(b) => b.into(),
            SealError::Storage(s) => s.into(),
            SealError::Corrupt => ApiError::Internal(e.to_string()),
            // Provider messages carry no key material, but the HSM/KMS detail is the operator's
            // business: the log has it, the client learns only that the seal failed.
            SealError::Provider(_) => {
                tracing::error!(error = %e, "seal provider failure");
                ApiError::Internal("the seal could not be used; see the server log".into())
            }
            SealError::NotInitialized => ApiError::BadRequest(e.to_string()),
            other => ApiError::BadRequest(other.to_string()),
        }
    }
}

impl From<crate::audit::AuditError> for ApiError {
    fn from(e: crate::audit::AuditError) -> Self {
        use crate::audit::AuditError;
        match e {
            AuditError::Invalid(m) | AuditError::Refused(m) => ApiError::BadRequest(m),
            AuditError::Barrier(b) => b.into(),
            // Fail closed: the request is not performed, and the client learns only that.
            AuditError::Write(_) | AuditError::NoDeviceSucceeded => {
                tracing::error!(error = %e, "audit failure: request refused");
                ApiError::Internal("internal error".into())
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let errors: Vec<String> = match &self {
            ApiError::NotFound => vec![],
            other => vec![other.to_string()],
        };
        (self.status(), axum::Json(json!({ "errors": errors }))).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_error_maps_to_openbao_status() {
        assert_eq!(ApiError::bad_request("x").status(), 400);
        assert_eq!(ApiError::PermissionDenied.status(), 403);
        assert_eq!(ApiError::NotFound.status(), 404);
        assert_eq!(ApiError::NoRoute("a".into()).status(), 404);
        assert_eq!(ApiError::UnsupportedOperation.status(), 405);
        assert_eq!(ApiError::TooLarge.status(), 413);
        assert_eq!(ApiError::Sealed.status(), 503);
        assert_eq!(ApiError::from(BarrierError::Sealed).status(), 503);
        assert_eq!(ApiError::from(SealError::KeyEncoding).status(), 400);
    }

    #[test]
    fn internal_errors_do_not_leak_details() {
        let e = ApiError::from(StorageError::Backend("disk path /secret/x".into()));
        assert_eq!(e.status(), 500);
        assert!(!e.to_string().contains("/secret/x"), "{e}");
        assert!(e.to_string().contains("storage backend unavailable"));
    }
}
