//! [`Webhooks`]: the seed's six operations over any [`WebhookStore`].

use chrono::{SubsecRound, TimeDelta, Utc};

use crate::error::Error;
use crate::id::{AccountId, WebhookId};
use crate::secret::Secret;
use crate::store::{MAX_PAGE_LIMIT, PageRequest, Selection, StoreError, WebhookStore};
use crate::url::{DestinationPolicy, WebhookUrl};
use crate::webhook::{MAX_ROTATION_OVERLAP, Scope, Webhook};
use crate::wire::{
    AccountFilterUpdate, CreateWebhookRequest, UpdateWebhookRequest, WebhookResponse,
    WebhookSecretResponse,
};

/// How many times a change is read, merged and written back before the service gives up
/// with `conflict`, unless [`Webhooks::with_max_attempts`] says otherwise.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 10;

/// The webhooks of a service: the seed's operations (create, list, get, update, delete,
/// rotate-secret) over a [`WebhookStore`], each inside a [`Scope`].
///
/// A host service keeps one (it is cheap to share behind an `Arc`) and calls it from its
/// HTTP handlers with the caller's scope and the request's parsed body (or serves
/// [`api::router`](crate::api::router) with feature `axum`). Validation and the
/// [`DestinationPolicy`] run here, once, whatever the store.
///
/// Ids from a path or a query are taken as text, as the seed lists each operation's errors:
/// a malformed webhook id is `not_found` for get, delete and rotate-secret (an id that cannot
/// exist is not found) and `id_invalid` for update; a malformed `account_id` on list names
/// no account, so it matches only the webhooks without a filter, as an unknown account does.
///
/// Changes (update, rotate) read the webhook, merge, and write it back only if its revision
/// is unchanged, retrying up to [`DEFAULT_MAX_ATTEMPTS`] times: racing changes never lose
/// one another, and a change that keeps losing the race is `conflict` (409, retryable).
///
/// ```
/// use webhook_kit::{
///     AccountType, CreateWebhookRequest, DestinationPolicy, MemoryStore, Scope,
///     UpdateWebhookRequest, Webhooks,
/// };
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let webhooks = Webhooks::new(MemoryStore::new()).with_policy(DestinationPolicy::strict());
/// let scope = Scope::new("org_1".parse().unwrap(), AccountType::Live);
///
/// let request = CreateWebhookRequest::from_json(br#"{"url": "https://example.com/a"}"#).unwrap();
/// let created = webhooks.create(&scope, request).await.unwrap();
/// let id = created.webhook().id().to_string();
///
/// let update = UpdateWebhookRequest::from_json(br#"{"url": "https://example.com/b"}"#).unwrap();
/// let updated = webhooks.update(&scope, &id, update).await.unwrap();
/// assert_eq!(updated.url().as_str(), "https://example.com/b");
/// assert!(updated.enabled());
///
/// assert_eq!(webhooks.get(&scope, "wh_nope").await.unwrap_err().code(), "not_found");
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct Webhooks<S> {
    store: S,
    policy: DestinationPolicy,
    max_attempts: u32,
}

impl<S: WebhookStore> Webhooks<S> {
    /// The webhooks kept in `store`, under the strict default [`DestinationPolicy`].
    pub fn new(store: S) -> Self {
        Self {
            store,
            policy: DestinationPolicy::default(),
            max_attempts: DEFAULT_MAX_ATTEMPTS,
        }
    }

    /// The same service, checking destinations with `policy`.
    #[must_use]
    pub fn with_policy(mut self, policy: DestinationPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The same service, trying a change at most `attempts` times (at least once) before
    /// answering `conflict`. Raise it when many instances change the same webhooks at once.
    #[must_use]
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// The store, for reading full [`Webhook`]s (with their secrets) to sign deliveries.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The destination policy URLs are checked against.
    pub fn policy(&self) -> &DestinationPolicy {
        &self.policy
    }

    /// Creates a webhook: enabled, in `scope`'s account type, with a new secret. The answer
    /// carries the full secret; it is never shown again.
    ///
    /// # Errors
    ///
    /// `url_not_allowed` when the policy refuses the URL; `internal_error` when the store
    /// fails.
    #[cfg_attr(
        feature = "tracing",
        tracing::instrument(name = "webhooks.create", skip_all, fields(
            organization = %scope.organization(), account_type = %scope.account_type(),
            webhook_id = tracing::field::Empty,
        ))
    )]
    pub async fn create(
        &self,
        scope: &Scope,
        request: CreateWebhookRequest,
    ) -> Result<WebhookSecretResponse, Error> {
        let CreateWebhookRequest {
            url,
            account_filter,
            ..
        } = request;
        self.policy.check(&url)?;
        let webhook = Webhook::new(scope.clone(), url, account_filter);
        record_webhook_id(webhook.id());
        self.store.insert(&webhook).await?;
        Ok(WebhookSecretResponse::with_full_secret(&webhook))
    }

    /// The webhooks of `scope` in creation order, secrets masked. With `account_id`, only
    /// those that push events for it: whose filter contains it and those without a filter.
    /// A malformed `account_id` names no account: only the webhooks without a filter match.
    /// Reads the store's masked listing ([`WebhookStore::list_masked`]): the SQL stores open
    /// no secret for it, so a webhook whose secret does not open still lists.
    ///
    /// # Errors
    ///
    /// `internal_error` when the store fails.
    #[cfg_attr(
        feature = "tracing",
        tracing::instrument(name = "webhooks.list", skip_all, fields(
            organization = %scope.organization(), account_type = %scope.account_type(),
        ))
    )]
    pub async fn list(
        &self,
        scope: &Scope,
        account_id: Option<&str>,
    ) -> Result<Vec<WebhookResponse>, Error> {
        Ok(match selection(account_id) {
            Selection::Account(account) => self.store.list_masked(scope, Some(&account)).await?,
            Selection::All => self.store.list_masked(scope, None).await?,
            Selection::Unfiltered => {
                let mut webhooks = self.store.list_masked(scope, None).await?;
                webhooks.retain(|webhook| webhook.account_filter().is_all());
                webhooks
            }
        })
    }

    /// One page of [`list`](Self::list): at most `limit` webhooks (1 to
    /// [`MAX_PAGE_LIMIT`]) in creation order, after the webhook `starting_after` when given
    /// (which need not still exist). Its cost follows the page, not the scope.
    ///
    /// # Errors
    ///
    /// `query_invalid` when `limit` is out of range or `starting_after` is not a webhook id;
    /// `internal_error` when the store fails.
    #[cfg_attr(
        feature = "tracing",
        tracing::instrument(name = "webhooks.list_page", skip_all, fields(
            organization = %scope.organization(), account_type = %scope.account_type(), limit,
        ))
    )]
    pub async fn list_page(
        &self,
        scope: &Scope,
        account_id: Option<&str>,
        starting_after: Option<&str>,
        limit: usize,
    ) -> Result<WebhookPage, Error> {
        if !(1..=MAX_PAGE_LIMIT).contains(&limit) {
            return Err(Error::QueryInvalid(format!(
                "`limit` must be between 1 and {MAX_PAGE_LIMIT}"
            )));
        }
        let after = starting_after
            .map(str::parse::<WebhookId>)
            .transpose()
            .map_err(|_| Error::QueryInvalid("`starting_after` is not a webhook id".into()))?;
        // One more than asked says whether another page follows.
        let request = PageRequest {
            selection: selection(account_id),
            after,
            limit: limit + 1,
        };
        let mut webhooks = self.store.list_page_masked(scope, &request).await?;
        let has_more = webhooks.len() > limit;
        webhooks.truncate(limit);
        Ok(WebhookPage { webhooks, has_more })
    }

    /// The webhook `id` of `scope`, its secret masked. Like [`list`](Self::list) it opens
    /// no secret in the SQL stores.
    ///
    /// # Errors
    ///
    /// `not_found` when `scope` has no such webhook (a malformed `id` included);
    /// `webhook_unreadable` when a stored column holds a value the store never writes;
    /// `internal_error` when the store fails.
    #[cfg_attr(
        feature = "tracing",
        tracing::instrument(name = "webhooks.get", skip_all, fields(
            organization = %scope.organization(), account_type = %scope.account_type(),
            webhook_id = tracing::field::Empty,
        ))
    )]
    pub async fn get(&self, scope: &Scope, id: &str) -> Result<WebhookResponse, Error> {
        let id = existing_id(id)?;
        self.store
            .get_masked(scope, &id)
            .await?
            .ok_or(Error::NotFound)
    }

    /// The full webhook `id` of `scope`, with its secrets: for signing deliveries, never
    /// for answering the API's caller (use [`get`](Self::get)).
    ///
    /// # Errors
    ///
    /// `not_found` (a malformed `id` included); `webhook_unreadable` when the stored
    /// webhook cannot be read (its secret does not open: a wrong key, a value altered or
    /// moved); the error's source names the webhook and the reason, for logs.
    /// `internal_error` when the store fails.
    pub async fn webhook(&self, scope: &Scope, id: &str) -> Result<Webhook, Error> {
        let id = existing_id(id)?;
        self.store.get(scope, &id).await?.ok_or(Error::NotFound)
    }

    /// Updates the webhook `id` of `scope` as the seed says: the URL is replaced, `enabled`
    /// and the account filter only when given (`[]` clears the filter).
    ///
    /// # Errors
    ///
    /// `id_invalid`; `url_not_allowed` when the policy refuses the URL; `not_found`;
    /// `conflict` when the webhook kept changing under the update; `webhook_unreadable`
    /// when the stored webhook cannot be read; `internal_error`.
    #[cfg_attr(
        feature = "tracing",
        tracing::instrument(name = "webhooks.update", skip_all, fields(
            organization = %scope.organization(), account_type = %scope.account_type(),
            webhook_id = tracing::field::Empty,
        ))
    )]
    pub async fn update(
        &self,
        scope: &Scope,
        id: &str,
        request: UpdateWebhookRequest,
    ) -> Result<WebhookResponse, Error> {
        let id: WebhookId = id.parse()?;
        record_webhook_id(&id);
        let UpdateWebhookRequest {
            url,
            enabled,
            account_filter,
            ..
        } = request;
        self.policy.check(&url)?;
        let updated = self
            .change(scope, &id, |webhook| {
                apply_update(webhook, &url, enabled, &account_filter);
                Ok(())
            })
            .await?;
        Ok(WebhookResponse::masked(&updated))
    }

    /// Deletes the webhook `id` of `scope`.
    ///
    /// # Errors
    ///
    /// `not_found` (a malformed `id` included); `internal_error` when the store fails.
    #[cfg_attr(
        feature = "tracing",
        tracing::instrument(name = "webhooks.delete", skip_all, fields(
            organization = %scope.organization(), account_type = %scope.account_type(),
            webhook_id = tracing::field::Empty,
        ))
    )]
    pub async fn delete(&self, scope: &Scope, id: &str) -> Result<(), Error> {
        let id = existing_id(id)?;
        self.store.delete(scope, &id).await?;
        Ok(())
    }

    /// Gives the webhook `id` of `scope` a new secret, as the seed says: the old one (and any
    /// still overlapping) stops signing at once. The answer carries the new full secret.
    ///
    /// # Errors
    ///
    /// `not_found` (a malformed `id` included); `conflict`; `webhook_unreadable` when the
    /// stored webhook cannot be read; `internal_error`.
    #[cfg_attr(
        feature = "tracing",
        tracing::instrument(name = "webhooks.rotate_secret", skip_all, fields(
            organization = %scope.organization(), account_type = %scope.account_type(),
            webhook_id = tracing::field::Empty,
        ))
    )]
    pub async fn rotate_secret(
        &self,
        scope: &Scope,
        id: &str,
    ) -> Result<WebhookSecretResponse, Error> {
        self.rotate(scope, id, None).await
    }

    /// Gives the webhook `id` of `scope` a new secret while the old one keeps signing for
    /// `overlap`: deliveries carry both signatures (new first) until then, so receivers can
    /// switch without dropping any. At most [`MAX_PREVIOUS_SECRETS`](crate::MAX_PREVIOUS_SECRETS)
    /// old secrets are kept (the oldest go first); expired ones are dropped.
    ///
    /// # Errors
    ///
    /// `rotation_invalid` unless `0 < overlap <= 24 hours`; `not_found` (a malformed `id`
    /// included); `conflict`; `webhook_unreadable`; `internal_error`.
    #[cfg_attr(
        feature = "tracing",
        tracing::instrument(name = "webhooks.rotate_secret", skip_all, fields(
            organization = %scope.organization(), account_type = %scope.account_type(),
            webhook_id = tracing::field::Empty,
        ))
    )]
    pub async fn rotate_secret_with_overlap(
        &self,
        scope: &Scope,
        id: &str,
        overlap: TimeDelta,
    ) -> Result<WebhookSecretResponse, Error> {
        if overlap <= TimeDelta::zero() {
            return Err(Error::RotationInvalid("overlap must be positive"));
        }
        if overlap > MAX_ROTATION_OVERLAP {
            return Err(Error::RotationInvalid("overlap must be at most 24 hours"));
        }
        self.rotate(scope, id, Some(overlap)).await
    }

    async fn rotate(
        &self,
        scope: &Scope,
        id: &str,
        overlap: Option<TimeDelta>,
    ) -> Result<WebhookSecretResponse, Error> {
        let id = existing_id(id)?;
        let secret = Secret::generate();
        let rotated = self
            .change(scope, &id, |webhook| {
                let now = Utc::now().trunc_subsecs(3);
                webhook
                    .rotate_secret(secret.clone(), overlap, now)
                    .ok_or(Error::RotationInvalid("overlap ends out of range"))
            })
            .await?;
        Ok(WebhookSecretResponse::with_full_secret(&rotated))
    }

    /// Disables the webhook `id` of `scope` (the delivery worker's health rule); answers
    /// whether it was enabled until now.
    #[cfg(feature = "worker")]
    pub(crate) async fn disable(&self, scope: &Scope, id: &WebhookId) -> Result<bool, Error> {
        match self.store.get(scope, id).await? {
            Some(webhook) if webhook.enabled() => {}
            _ => return Ok(false),
        }
        self.change(scope, id, |webhook| {
            webhook.set_enabled(false);
            Ok(())
        })
        .await?;
        Ok(true)
    }

    /// Reads the webhook, applies `merge` to the next revision of it and writes it back if
    /// nobody wrote in between; tries again otherwise, at most `max_attempts` times.
    async fn change(
        &self,
        scope: &Scope,
        id: &WebhookId,
        merge: impl Fn(&mut Webhook) -> Result<(), Error>,
    ) -> Result<Webhook, Error> {
        for _ in 0..self.max_attempts {
            let current = self.store.get(scope, id).await?.ok_or(Error::NotFound)?;
            let mut next = current.next_revision().ok_or_else(|| {
                Error::Store(StoreError::backend("the stored revision cannot grow"))
            })?;
            merge(&mut next)?;
            match self.store.replace(&next, current.revision()).await {
                Ok(()) => return Ok(next),
                Err(StoreError::Conflict { .. }) => {}
                Err(error) => return Err(error.into()),
            }
        }
        Err(Error::Conflict)
    }
}

/// One page of a listing: [`Webhooks::list_page`]'s answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookPage {
    /// The page's webhooks, in creation order, secrets masked.
    pub webhooks: Vec<WebhookResponse>,
    /// Whether more webhooks follow the last one.
    pub has_more: bool,
}

impl WebhookPage {
    /// The `starting_after` of the next page: the last webhook's id, when more follow.
    pub fn next_starting_after(&self) -> Option<&WebhookId> {
        self.webhooks
            .last()
            .filter(|_| self.has_more)
            .map(WebhookResponse::id)
    }
}

/// What a listing's `account_id` selects: a malformed one names no account, so only the
/// webhooks without a filter push events for it.
fn selection(account_id: Option<&str>) -> Selection {
    match account_id.map(str::parse::<AccountId>) {
        None => Selection::All,
        Some(Ok(account)) => Selection::Account(account),
        Some(Err(_)) => Selection::Unfiltered,
    }
}

/// The id of a webhook to read, delete or rotate: a malformed one cannot exist, so it is
/// `not_found`, as the seed lists these operations' errors. Recorded in the current span.
fn existing_id(id: &str) -> Result<WebhookId, Error> {
    let id: WebhookId = id.parse().map_err(|_| Error::NotFound)?;
    record_webhook_id(&id);
    Ok(id)
}

/// Records a (parsed, so bounded and printable) webhook id in the current span.
fn record_webhook_id(id: &WebhookId) {
    #[cfg(feature = "tracing")]
    tracing::Span::current().record("webhook_id", id.as_str());
    #[cfg(not(feature = "tracing"))]
    let _ = id;
}

fn apply_update(
    webhook: &mut Webhook,
    url: &WebhookUrl,
    enabled: Option<bool>,
    account_filter: &AccountFilterUpdate,
) {
    webhook.set_url(url.clone());
    if let Some(enabled) = enabled {
        webhook.set_enabled(enabled);
    }
    if let AccountFilterUpdate::Set(filter) = account_filter {
        webhook.set_account_filter(filter.clone());
    }
}
