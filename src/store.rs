//! Where webhooks and their deliveries are kept: the [`WebhookStore`] and
//! [`DeliveryStore`] traits, their error and [`MemoryStore`].
//!
//! The trait's documentation shows how to implement a store of your own.

mod memory;
pub(crate) mod queue;

use std::future::Future;
use std::sync::Arc;

pub use memory::MemoryStore;
pub use queue::DeliveryStore;

use crate::id::{AccountId, WebhookId};
use crate::webhook::{Scope, Webhook};
use crate::wire::WebhookResponse;

#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub(crate) mod postgres;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) mod sql;
#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub(crate) mod sqlite;

/// Most webhooks one page of a listing may hold: the largest `limit` the API takes.
pub const MAX_PAGE_LIMIT: usize = 1000;

/// Which webhooks of a scope a listing selects.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Selection {
    /// All of them.
    All,
    /// Those that push events for this account: whose filter contains it and those without
    /// a filter.
    Account(AccountId),
    /// Only those without a filter: what an account no filter can name (a malformed id)
    /// selects.
    Unfiltered,
}

impl Selection {
    /// Whether `webhook` (of the listed scope) is selected.
    pub fn matches(&self, webhook: &Webhook) -> bool {
        match self {
            Selection::All => true,
            Selection::Account(account) => webhook.account_filter().matches(account),
            Selection::Unfiltered => webhook.account_filter().is_all(),
        }
    }
}

/// One page of a listing: at most `limit` webhooks of the [`Selection`], in id (creation)
/// order, whose ids come after `after`.
///
/// `after` need not be a stored webhook's id: ids are time-ordered, so a page after a
/// deleted webhook starts where that webhook was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    /// Which webhooks.
    pub selection: Selection,
    /// Only webhooks with a greater id; `None` from the first.
    pub after: Option<WebhookId>,
    /// At most this many.
    pub limit: usize,
}

impl PageRequest {
    /// The first `limit` webhooks of `selection`.
    pub fn first(selection: Selection, limit: usize) -> Self {
        Self {
            selection,
            after: None,
            limit,
        }
    }

    /// The same request, starting after the webhook `id`.
    #[must_use]
    pub fn after(mut self, id: WebhookId) -> Self {
        self.after = Some(id);
        self
    }

    /// Whether `webhook` (of the listed scope) belongs to this page's range and selection,
    /// the limit aside.
    pub fn admits(&self, webhook: &Webhook) -> bool {
        self.after.as_ref().is_none_or(|after| webhook.id() > after)
            && self.selection.matches(webhook)
    }
}

/// A boxed error from a storage backend.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a store could not do what it was asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// No webhook (or delivery) with this id in this scope.
    #[error("not found")]
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
    /// The claim's token no longer holds: the lease ran out and the delivery was claimed
    /// again, or it was cancelled or redelivered meanwhile. Nothing was written.
    #[error("the claim no longer holds")]
    LeaseLost,
    /// The delivery is being attempted by a worker now.
    #[error("the delivery is in flight")]
    InFlight,
    /// One stored webhook cannot be read (its secret does not open, or a column holds a
    /// value the store never writes); the others can.
    #[error(transparent)]
    Unreadable(#[from] UnreadableWebhook),
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

/// A stored webhook that cannot be read: its secret does not open (a wrong or missing key,
/// a value altered, or moved to another row or scope) or a column holds a value the store
/// never writes. Carries the webhook's id and the reason, for the host's log; never a
/// secret.
#[derive(Debug, thiserror::Error)]
#[error("stored webhook {webhook_id} cannot be read")]
pub struct UnreadableWebhook {
    webhook_id: WebhookId,
    #[source]
    source: BoxError,
}

impl UnreadableWebhook {
    /// The webhook `webhook_id` cannot be read because of `source`.
    pub fn new(webhook_id: WebhookId, source: impl Into<BoxError>) -> Self {
        Self {
            webhook_id,
            source: source.into(),
        }
    }

    /// The id of the webhook that cannot be read.
    pub fn webhook_id(&self) -> &WebhookId {
        &self.webhook_id
    }

    /// Why: a [`SealError`](crate::SealError) or a [`RowError`](crate::RowError) for the
    /// crate's SQL stores.
    pub fn reason(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        &*self.source
    }
}

/// The webhooks a listing could read, and those it could not.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct Listing {
    /// The webhooks read, in id order.
    pub webhooks: Vec<Webhook>,
    /// The webhooks that matched but cannot be read, in id order.
    pub unreadable: Vec<UnreadableWebhook>,
}

impl Listing {
    /// A listing of `webhooks`, none unreadable.
    pub fn new(webhooks: Vec<Webhook>) -> Self {
        Self {
            webhooks,
            unreadable: Vec::new(),
        }
    }

    /// The same listing, reporting `unreadable` as the webhooks that could not be read: for
    /// a store of your own whose rows can fail to decode one by one.
    ///
    /// ```
    /// use webhook_kit::{Listing, UnreadableWebhook, WebhookId};
    ///
    /// let broken = WebhookId::generate();
    /// let listing = Listing::new(Vec::new())
    ///     .with_unreadable(vec![UnreadableWebhook::new(broken.clone(), "bad row")]);
    /// assert_eq!(listing.unreadable[0].webhook_id(), &broken);
    /// assert_eq!(listing.unreadable[0].reason().to_string(), "bad row");
    /// ```
    #[must_use]
    pub fn with_unreadable(mut self, unreadable: Vec<UnreadableWebhook>) -> Self {
        self.unreadable = unreadable;
        self
    }
}

/// Persistence for webhooks. Stores are plain: validation, merging and secrets are the
/// service's job. Every method runs inside a [`Scope`]: a webhook of another scope is absent.
///
/// Methods return `impl Future + Send`, so a store can do real I/O without blocking the
/// host's runtime; implementors simply write `async fn`. The service writes a changed webhook
/// with [`replace`](WebhookStore::replace) and `expected_revision` one below the new
/// webhook's [`revision`](Webhook::revision); a store keeps the revision it is given. Every
/// store runs the crate's contract suite (`tests/contract`).
///
/// # Implement your own store
///
/// A complete store over a `Mutex<Vec<Webhook>>` (not indexed: see [`MemoryStore`] for one
/// that is):
///
/// ```
/// use std::sync::Mutex;
///
/// use webhook_kit::{
///     AccountId, AccountType, CreateWebhookRequest, Scope, StoreError, Webhook, WebhookId,
///     WebhookStore, Webhooks,
/// };
///
/// #[derive(Default)]
/// struct VecStore(Mutex<Vec<Webhook>>);
///
/// impl VecStore {
///     fn webhooks(&self) -> Result<std::sync::MutexGuard<'_, Vec<Webhook>>, StoreError> {
///         // A backend failure keeps its source; the service never shows it to callers.
///         self.0.lock().map_err(|error| StoreError::backend(error.to_string()))
///     }
/// }
///
/// impl WebhookStore for VecStore {
///     async fn insert(&self, webhook: &Webhook) -> Result<(), StoreError> {
///         let mut webhooks = self.webhooks()?;
///         if webhooks.iter().any(|stored| stored.id() == webhook.id()) {
///             return Err(StoreError::AlreadyExists);
///         }
///         webhooks.push(webhook.clone());
///         Ok(())
///     }
///
///     async fn get(&self, scope: &Scope, id: &WebhookId) -> Result<Option<Webhook>, StoreError> {
///         let webhooks = self.webhooks()?;
///         Ok(webhooks.iter().find(|w| w.scope() == scope && w.id() == id).cloned())
///     }
///
///     async fn list(
///         &self,
///         scope: &Scope,
///         account: Option<&AccountId>,
///     ) -> Result<Vec<Webhook>, StoreError> {
///         let mut found: Vec<Webhook> = self
///             .webhooks()?
///             .iter()
///             .filter(|w| w.scope() == scope)
///             .filter(|w| account.is_none_or(|account| w.account_filter().matches(account)))
///             .cloned()
///             .collect();
///         found.sort_by(|a, b| a.id().cmp(b.id()));
///         Ok(found)
///     }
///
///     async fn replace(&self, webhook: &Webhook, expected_revision: u64) -> Result<(), StoreError> {
///         let mut webhooks = self.webhooks()?;
///         let stored = webhooks
///             .iter_mut()
///             .find(|w| w.scope() == webhook.scope() && w.id() == webhook.id())
///             .ok_or(StoreError::NotFound)?;
///         if stored.revision() != expected_revision {
///             return Err(StoreError::Conflict {
///                 expected: expected_revision,
///                 actual: stored.revision(),
///             });
///         }
///         *stored = webhook.clone();
///         Ok(())
///     }
///
///     async fn delete(&self, scope: &Scope, id: &WebhookId) -> Result<(), StoreError> {
///         let mut webhooks = self.webhooks()?;
///         let before = webhooks.len();
///         webhooks.retain(|w| !(w.scope() == scope && w.id() == id));
///         if webhooks.len() == before {
///             return Err(StoreError::NotFound);
///         }
///         Ok(())
///     }
/// }
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let webhooks = Webhooks::new(VecStore::default());
/// let scope = Scope::new("org_1".parse().unwrap(), AccountType::Test);
/// let url = "https://example.com/hook".parse().unwrap();
/// let created = webhooks.create(&scope, CreateWebhookRequest::new(url)).await.unwrap();
/// let id = created.webhook().id().as_str();
/// assert_eq!(webhooks.get(&scope, id).await.unwrap().url().as_str(), "https://example.com/hook");
/// webhooks.delete(&scope, id).await.unwrap();
/// assert_eq!(webhooks.get(&scope, id).await.unwrap_err().code(), "not_found");
/// # });
/// ```
pub trait WebhookStore: Send + Sync {
    /// Stores a new webhook. Ids are unique across scopes.
    ///
    /// # Errors
    ///
    /// [`StoreError::AlreadyExists`] when its id is taken; [`StoreError::Backend`].
    fn insert(&self, webhook: &Webhook) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The webhook with this id in this scope, `Ok(None)` when there is none.
    ///
    /// # Errors
    ///
    /// [`StoreError::Unreadable`] when the stored webhook cannot be read (its secret does
    /// not open, say); [`StoreError::Backend`].
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
    /// [`StoreError::Unreadable`] for the first webhook that cannot be read
    /// ([`list_readable`](Self::list_readable) goes on past them); [`StoreError::Backend`].
    fn list(
        &self,
        scope: &Scope,
        account: Option<&AccountId>,
    ) -> impl Future<Output = Result<Vec<Webhook>, StoreError>> + Send;

    /// One page of this scope's webhooks, as [`PageRequest`] says, in id order.
    ///
    /// The provided implementation filters the whole [`list`](WebhookStore::list): correct,
    /// but its cost follows the scope. The crate's stores override it so that the cost
    /// follows the page (an index range scan of `limit` rows).
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`].
    fn list_page(
        &self,
        scope: &Scope,
        page: &PageRequest,
    ) -> impl Future<Output = Result<Vec<Webhook>, StoreError>> + Send {
        async move {
            let account = match &page.selection {
                Selection::Account(account) => Some(account),
                Selection::All | Selection::Unfiltered => None,
            };
            let mut webhooks = self.list(scope, account).await?;
            webhooks.retain(|webhook| webhook.scope() == scope && page.admits(webhook));
            webhooks.truncate(page.limit);
            Ok(webhooks)
        }
    }

    /// Replaces the stored webhook of the same scope and id with `webhook`, only if the
    /// stored revision is `expected_revision`. Never inserts: a webhook deleted meanwhile
    /// stays deleted.
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

    /// As [`list`](Self::list), but a webhook that cannot be read is reported in
    /// [`Listing::unreadable`] instead of failing the whole listing: deliveries use it, so
    /// one broken row does not stop the others getting the event. The default calls `list`
    /// (a store whose rows are always readable has nothing to report).
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] when the listing itself fails.
    fn list_readable(
        &self,
        scope: &Scope,
        account: Option<&AccountId>,
    ) -> impl Future<Output = Result<Listing, StoreError>> + Send {
        async move { self.list(scope, account).await.map(Listing::new) }
    }

    /// As [`list`](Self::list), secrets masked: what the API's list answers. The default
    /// masks what `list` returns; the SQL stores read the secret's last 4 characters from a
    /// column of their own and open no secret.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`].
    fn list_masked(
        &self,
        scope: &Scope,
        account: Option<&AccountId>,
    ) -> impl Future<Output = Result<Vec<WebhookResponse>, StoreError>> + Send {
        async move {
            let webhooks = self.list(scope, account).await?;
            Ok(webhooks.iter().map(WebhookResponse::masked).collect())
        }
    }

    /// As [`list_page`](Self::list_page), secrets masked: what the API's paged list
    /// answers. The default masks what `list_page` returns; the SQL stores read the
    /// secret's last 4 characters from their own column and open no secret, so a webhook
    /// whose secret does not open still lists.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`].
    fn list_page_masked(
        &self,
        scope: &Scope,
        page: &PageRequest,
    ) -> impl Future<Output = Result<Vec<WebhookResponse>, StoreError>> + Send {
        async move {
            let webhooks = self.list_page(scope, page).await?;
            Ok(webhooks.iter().map(WebhookResponse::masked).collect())
        }
    }

    /// As [`get`](Self::get), the secret masked: what the API's get answers. The default
    /// masks what `get` returns; the SQL stores open no secret.
    ///
    /// # Errors
    ///
    /// [`StoreError::Unreadable`] when a column other than the secrets holds a value the
    /// store never writes; [`StoreError::Backend`].
    fn get_masked(
        &self,
        scope: &Scope,
        id: &WebhookId,
    ) -> impl Future<Output = Result<Option<WebhookResponse>, StoreError>> + Send {
        async move {
            let webhook = self.get(scope, id).await?;
            Ok(webhook.as_ref().map(WebhookResponse::masked))
        }
    }

    /// Each webhook `wanted` names (an id in its scope), as [`get`](Self::get) reads it,
    /// in order: `Ok(None)` for one that is not there (or in another scope),
    /// `Err(StoreError::Unreadable)` for one that cannot be read. The delivery worker reads
    /// the webhooks of a claimed batch this way.
    ///
    /// The provided implementation calls `get` for each; the SQL stores read them all in
    /// one statement.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] when the read as a whole fails.
    fn get_each(
        &self,
        wanted: &[(Scope, WebhookId)],
    ) -> impl Future<Output = Result<Vec<Result<Option<Webhook>, StoreError>>, StoreError>> + Send
    {
        async move {
            let mut found = Vec::with_capacity(wanted.len());
            for (scope, id) in wanted {
                match self.get(scope, id).await {
                    Err(StoreError::Backend { source, retryable }) => {
                        return Err(StoreError::Backend { source, retryable });
                    }
                    read => found.push(read),
                }
            }
            Ok(found)
        }
    }
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

            fn get_each(
                &self,
                wanted: &[(Scope, WebhookId)],
            ) -> impl Future<Output = Result<Vec<Result<Option<Webhook>, StoreError>>, StoreError>>
                   + Send {
                (**self).get_each(wanted)
            }

            fn list(
                &self,
                scope: &Scope,
                account: Option<&AccountId>,
            ) -> impl Future<Output = Result<Vec<Webhook>, StoreError>> + Send {
                (**self).list(scope, account)
            }

            fn list_page(
                &self,
                scope: &Scope,
                page: &PageRequest,
            ) -> impl Future<Output = Result<Vec<Webhook>, StoreError>> + Send {
                (**self).list_page(scope, page)
            }

            fn list_page_masked(
                &self,
                scope: &Scope,
                page: &PageRequest,
            ) -> impl Future<Output = Result<Vec<WebhookResponse>, StoreError>> + Send {
                (**self).list_page_masked(scope, page)
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

            fn list_readable(
                &self,
                scope: &Scope,
                account: Option<&AccountId>,
            ) -> impl Future<Output = Result<Listing, StoreError>> + Send {
                (**self).list_readable(scope, account)
            }

            fn list_masked(
                &self,
                scope: &Scope,
                account: Option<&AccountId>,
            ) -> impl Future<Output = Result<Vec<WebhookResponse>, StoreError>> + Send {
                (**self).list_masked(scope, account)
            }

            fn get_masked(
                &self,
                scope: &Scope,
                id: &WebhookId,
            ) -> impl Future<Output = Result<Option<WebhookResponse>, StoreError>> + Send {
                (**self).get_masked(scope, id)
            }
        }
    )*};
}

forward_store!(Arc<S>, &S);
