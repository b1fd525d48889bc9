//! The service's error type, its stable codes and the JSON body a host answers with.

use serde::{Deserialize, Serialize};

use crate::id::InvalidId;
use crate::store::{StoreError, UnreadableWebhook};
use crate::url::UrlError;

/// Most characters of an input that an error message quotes; the rest is cut and marked `…`.
pub const MAX_ECHOED_CHARS: usize = 64;

/// Most characters of a [`Error::BodyInvalid`] message the crate builds.
const MAX_MESSAGE_CHARS: usize = 256;

/// Why an operation of the service was refused or failed.
///
/// Each variant has a stable [`code`](Error::code) and an HTTP status. Messages are
/// lowercase, never contain a secret, and never show a store's internals. Where a message
/// quotes input (an unknown field's name), the quote is escaped (control and other
/// unprintable characters as `\u{1b}`, `\n` …) and cut after [`MAX_ECHOED_CHARS`]
/// characters, so a message is short and safe to log whatever the request held.
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
    /// The request body is not what the operation takes, or is longer than
    /// [`MAX_BODY_LEN`](crate::MAX_BODY_LEN); the message names the field.
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
    /// The webhook kept changing under the operation, or the delivery is being attempted
    /// right now; trying again may succeed.
    #[error("the webhook was changed concurrently, try again")]
    Conflict,
    /// The webhook is stored but cannot be read: its secret does not open (a wrong key, a
    /// value altered or moved to another row or scope) or a column holds a value the store
    /// never writes. Other webhooks are not affected. The source (with the webhook id and
    /// the reason) is kept for logs; the message shows nothing of it.
    #[error("the stored webhook cannot be read")]
    Unreadable(#[source] UnreadableWebhook),
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
            Error::Unreadable(_) => "webhook_unreadable",
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
            Error::Unreadable(_) | Error::Store(_) => 500,
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

impl Error {
    /// `body_invalid` with `message`, its control characters escaped and its length bounded:
    /// a last guard, for messages of a parser that may quote more input than expected.
    pub(crate) fn body_invalid(message: &str) -> Self {
        let mut bounded = String::with_capacity(message.len().min(MAX_MESSAGE_CHARS + 1));
        push_escaped(&mut bounded, message, MAX_MESSAGE_CHARS, unprintable);
        Error::BodyInvalid(bounded)
    }
}

/// `input` as an error message may quote it: backslashes doubled, control and other
/// unprintable characters escaped, cut after [`MAX_ECHOED_CHARS`] characters (escapes
/// included) and then marked `…`.
pub(crate) fn echo(input: &str) -> String {
    let mut echoed = String::with_capacity(input.len().min(MAX_ECHOED_CHARS + 1));
    push_escaped(&mut echoed, input, MAX_ECHOED_CHARS, |c| {
        c == '\\' || unprintable(c)
    });
    echoed
}

/// Whether `c` is a control or other character `Debug` would escape (quotes and backslashes
/// aside): what must never reach a log or a terminal raw.
fn unprintable(c: char) -> bool {
    !matches!(c, '\\' | '"' | '\'') && c.escape_debug().len() > 1
}

/// Appends `text` to `out`, escaping (`char::escape_debug`) each character `needs_escape`
/// picks, and stops before `out` would pass `max_chars` characters, marking the cut `…`.
fn push_escaped(out: &mut String, text: &str, max_chars: usize, needs_escape: fn(char) -> bool) {
    let mut written = 0;
    for c in text.chars() {
        let escaped = needs_escape(c).then(|| c.escape_debug());
        let width = escaped.as_ref().map_or(1, ExactSizeIterator::len);
        if written + width > max_chars {
            out.push('…');
            return;
        }
        written += width;
        match escaped {
            Some(escaped) => out.extend(escaped),
            None => out.push(c),
        }
    }
}

impl From<StoreError> for Error {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => Error::NotFound,
            StoreError::Conflict { .. } | StoreError::InFlight => Error::Conflict,
            StoreError::Unreadable(unreadable) => Error::Unreadable(unreadable),
            other => Error::Store(other),
        }
    }
}

/// The body of an error answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The stable machine code, as [`Error::code`].
    pub code: String,
    /// A human-readable message.
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echoed_input_is_escaped_and_cut() {
        assert_eq!(echo("a\u{1b}[2J\n\\\"'é"), r#"a\u{1b}[2J\n\\"'é"#);
        let long = echo(&"\n".repeat(1000));
        assert_eq!(long, format!("{}…", r"\n".repeat(MAX_ECHOED_CHARS / 2)));
        // An escape is never split by the cut.
        let cut = echo(&format!("{}\u{1b}", "x".repeat(MAX_ECHOED_CHARS - 3)));
        assert!(cut.ends_with("xxx…"), "{cut}");
    }

    #[test]
    fn a_body_invalid_message_is_bounded_whatever_it_is_given() {
        let Error::BodyInvalid(message) = Error::body_invalid(&"\u{7}\"\\".repeat(1000)) else {
            unreachable!()
        };
        assert!(message.starts_with(r#"\u{7}"\"#), "{message}");
        assert!(message.ends_with('…'));
        assert!(message.chars().count() <= MAX_MESSAGE_CHARS + 1);
        assert!(!message.chars().any(char::is_control));
    }
}
