//! The service's error type, its stable codes and the JSON body a host answers with.

use serde::{Deserialize, Serialize};

use crate::id::InvalidId;
use crate::store::StoreError;
use crate::url::UrlError;

/// Why an operation of the service was refused or failed.
///
/// Each variant has a stable [`code`](Error::code) and an HTTP status. Messages are
/// lowercase, never contain a secret, and never show a store's internals.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The URL is malformed (`url_invalid`) or its destination is refused by the policy
    /// (`url_not_allowed`).
    #[error(transparent)]
    Url(#[from] UrlError),
    /// A webhook id (`id_invalid`) or an account id (`account_ids_invalid`) is malformed, or
    /// the account filter is too large.
    #[error(transparent)]
    Id(#[from] InvalidId),
    /// The request body is not what the operation takes; the message names the field.
    #[error("invalid request body: {0}")]
    BodyInvalid(String),
    /// A query parameter is unknown, repeated or malformed (a listing's `limit` or
    /// `starting_after`); the message names it.
    #[error("invalid query: {0}")]
    QueryInvalid(String),
    /// A rotation's overlap is not positive, is longer than
    /// [`MAX_ROTATION_OVERLAP`](crate::MAX_ROTATION_OVERLAP), or ends past what a date can hold.
    #[error("invalid rotation: {0}")]
    RotationInvalid(&'static str),
    /// No webhook with this id exists in the caller's scope.
    #[error("webhook not found")]
    NotFound,
    /// The webhook kept changing under the operation; trying again may succeed.
    #[error("the webhook was changed concurrently, try again")]
    Conflict,
    /// The store failed. The source is kept for logs; the message shows nothing of it.
    #[error("storage failure")]
    Store(#[source] StoreError),
}

impl Error {
    /// The stable machine code, part of the API.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Url(error) => error.code(),
            Error::Id(error) => error.code(),
            Error::BodyInvalid(_) => "body_invalid",
            Error::QueryInvalid(_) => "query_invalid",
            Error::RotationInvalid(_) => "rotation_invalid",
            Error::NotFound => "not_found",
            Error::Conflict => "conflict",
            Error::Store(_) => "internal_error",
        }
    }

    /// The HTTP status a host service should answer with.
    pub fn http_status(&self) -> u16 {
        match self {
            Error::Url(_)
            | Error::Id(_)
            | Error::BodyInvalid(_)
            | Error::QueryInvalid(_)
            | Error::RotationInvalid(_) => 400,
            Error::NotFound => 404,
            Error::Conflict => 409,
            Error::Store(_) => 500,
        }
    }

    /// Whether the same call may succeed later (a conflict, or a store failure it says is
    /// passing).
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Conflict => true,
            Error::Store(error) => error.is_retryable(),
            _ => false,
        }
    }

    /// The JSON body for the answer: `{"code": …, "message": …}`.
    pub fn to_body(&self) -> ErrorBody {
        ErrorBody {
            code: self.code().to_owned(),
            message: self.to_string(),
        }
    }
}

impl From<StoreError> for Error {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => Error::NotFound,
            StoreError::Conflict { .. } => Error::Conflict,
            other => Error::Store(other),
        }
    }
}

/// The body of an error answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "axum", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    /// The stable machine code, as [`Error::code`].
    pub code: String,
    /// A human-readable message.
    pub message: String,
}
