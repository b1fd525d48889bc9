//! Where webhooks are kept: the [`WebhookStore`] trait and its error.

use std::future::Future;
use std::sync::Arc;

use crate::id::{AccountId, WebhookId};
use crate::webhook::{Scope, Webhook};

#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub(crate) mod postgres;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) mod sql;
#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub(crate) mod sqlite;

/// A boxed error from a storage backend.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a store could not do what it was asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// No webhook with this id in this scope.
    #[error("webhook not found")]
    NotFound,
    /// A webhook with this id is stored already.
    #[error("webhook already exists")]
    AlreadyExists,
    /// The stored revision is not the one the write was based on.
    #[error("revision conflict: expected {expected}, found {actual}")]
    Conflict {
        /// The revision the write was based on.
        expected: u64,
        /// The revision stored now.
        actual: u64,
    },
    /// The backend failed; `retryable` says whether the same call may succeed later.
    #[error("storage backend failed")]
    Backend {
        /// The backend's own error.
        #[source]
        source: BoxError,
        /// Whether the failure is passing (a lost connection, a busy database).
        retryable: bool,
    },
}

impl StoreError {
    /// A backend failure that will not go away by trying again.
    pub fn backend(source: impl Into<BoxError>) -> Self {
        StoreError::Backend {
            source: source.into(),
            retryable: false,
        }
    }

    /// A passing backend failure: the same call may succeed later.
    pub fn retryable(source: impl Into<BoxError>) -> Self {
        StoreError::Backend {
            source: source.into(),
            retryable: true,
        }
    }

    /// Whether the same call may succeed later.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            StoreError::Backend {
                retryable: true,
                ..
            }
        )
    }
}

/// Persistence for webhooks. Stores are plain: validation, merging and secrets are the
/// service's job. Every method runs inside a [`Scope`]: a webhook of another scope is absent.
pub trait WebhookStore: Send + Sync {
    /// Stores a new webhook.
    ///
    /// # Errors
    ///
    /// [`StoreError::AlreadyExists`] when its id is taken; [`StoreError::Backend`].
    fn insert(&self, webhook: &Webhook) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The webhook with this id in this scope, `Ok(None)` when there is none.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`].
    fn get(
        &self,
        scope: &Scope,
        id: &WebhookId,
    ) -> impl Future<Output = Result<Option<Webhook>, StoreError>> + Send;

    /// The webhooks of this scope ordered by id (creation order); with `account`, only those
    /// that push events for it: whose filter contains it or that have no filter.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`].
    fn list(
        &self,
        scope: &Scope,
        account: Option<&AccountId>,
    ) -> impl Future<Output = Result<Vec<Webhook>, StoreError>> + Send;

    /// Replaces the stored webhook of the same scope and id with `webhook`, only if the
    /// stored revision is `expected_revision`.
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`], [`StoreError::Conflict`] when the revision moved on;
    /// [`StoreError::Backend`].
    fn replace(
        &self,
        webhook: &Webhook,
        expected_revision: u64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Deletes the webhook with this id in this scope.
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`] when there is none; [`StoreError::Backend`].
    fn delete(
        &self,
        scope: &Scope,
        id: &WebhookId,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

macro_rules! forward_store {
    ($($pointer:ty),*) => {$(
        impl<S: WebhookStore> WebhookStore for $pointer {
            fn insert(&self, webhook: &Webhook) -> impl Future<Output = Result<(), StoreError>> + Send {
                (**self).insert(webhook)
            }

            fn get(
                &self,
                scope: &Scope,
                id: &WebhookId,
            ) -> impl Future<Output = Result<Option<Webhook>, StoreError>> + Send {
                (**self).get(scope, id)
            }

            fn list(
                &self,
                scope: &Scope,
                account: Option<&AccountId>,
            ) -> impl Future<Output = Result<Vec<Webhook>, StoreError>> + Send {
                (**self).list(scope, account)
            }

            fn replace(
                &self,
                webhook: &Webhook,
                expected_revision: u64,
            ) -> impl Future<Output = Result<(), StoreError>> + Send {
                (**self).replace(webhook, expected_revision)
            }

            fn delete(
                &self,
                scope: &Scope,
                id: &WebhookId,
            ) -> impl Future<Output = Result<(), StoreError>> + Send {
                (**self).delete(scope, id)
            }
        }
    )*};
}

forward_store!(Arc<S>, &S);
