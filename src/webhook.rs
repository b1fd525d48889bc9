//! The webhook model and the scope every operation runs in.

use chrono::{DateTime, SubsecRound, Utc};

use crate::account::{AccountFilter, AccountType};
use crate::id::{OrganizationId, WebhookId};
use crate::secret::Secret;
use crate::url::WebhookUrl;

/// Where an operation runs: an organisation in live or test mode. A webhook of another
/// scope does not exist for the caller.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Scope {
    organization: OrganizationId,
    account_type: AccountType,
}

impl Scope {
    /// The scope of `organization` in `account_type` mode.
    pub fn new(organization: OrganizationId, account_type: AccountType) -> Self {
        Self {
            organization,
            account_type,
        }
    }

    /// The organisation.
    pub fn organization(&self) -> &OrganizationId {
        &self.organization
    }

    /// Live or test.
    pub fn account_type(&self) -> AccountType {
        self.account_type
    }
}

/// A secret that was rotated out but still signs deliveries until `expires_at`.
#[derive(Debug, Clone)]
pub struct PreviousSecret {
    /// The old secret.
    pub secret: Secret,
    /// When it stops signing.
    pub expires_at: DateTime<Utc>,
}

/// A registered webhook. Fields are private: every value of this type holds a valid URL,
/// filter and secret.
///
/// Stores that persist webhooks in their own format take them apart with
/// [`Webhook::into_parts`] and rebuild them with [`Webhook::from_parts`].
#[derive(Debug, Clone)]
pub struct Webhook {
    id: WebhookId,
    scope: Scope,
    url: WebhookUrl,
    enabled: bool,
    account_filter: AccountFilter,
    created_at: DateTime<Utc>,
    secret: Secret,
    previous_secrets: Vec<PreviousSecret>,
    revision: u64,
}

/// Every field of a [`Webhook`], for stores that persist webhooks in their own format.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct WebhookParts {
    /// See [`Webhook::id`].
    pub id: WebhookId,
    /// See [`Webhook::scope`].
    pub scope: Scope,
    /// See [`Webhook::url`].
    pub url: WebhookUrl,
    /// See [`Webhook::enabled`].
    pub enabled: bool,
    /// See [`Webhook::account_filter`].
    pub account_filter: AccountFilter,
    /// See [`Webhook::created_at`].
    pub created_at: DateTime<Utc>,
    /// See [`Webhook::secret`].
    pub secret: Secret,
    /// See [`Webhook::previous_secrets`].
    pub previous_secrets: Vec<PreviousSecret>,
    /// See [`Webhook::revision`].
    pub revision: u64,
}

impl WebhookParts {
    /// The parts of a webhook with the given fields and revision 1, no previous secrets.
    pub fn new(
        id: WebhookId,
        scope: Scope,
        url: WebhookUrl,
        enabled: bool,
        account_filter: AccountFilter,
        created_at: DateTime<Utc>,
        secret: Secret,
    ) -> Self {
        Self {
            id,
            scope,
            url,
            enabled,
            account_filter,
            created_at,
            secret,
            previous_secrets: Vec::new(),
            revision: 1,
        }
    }
}

impl Webhook {
    /// A new, enabled webhook with a fresh id and secret, created now (to the millisecond),
    /// at revision 1.
    pub fn new(scope: Scope, url: WebhookUrl, account_filter: AccountFilter) -> Self {
        Self::from_parts(WebhookParts::new(
            WebhookId::generate(),
            scope,
            url,
            true,
            account_filter,
            Utc::now().trunc_subsecs(3),
            Secret::generate(),
        ))
    }

    /// Rebuilds a webhook from its parts.
    pub fn from_parts(parts: WebhookParts) -> Self {
        let WebhookParts {
            id,
            scope,
            url,
            enabled,
            account_filter,
            created_at,
            secret,
            previous_secrets,
            revision,
        } = parts;
        Self {
            id,
            scope,
            url,
            enabled,
            account_filter,
            created_at,
            secret,
            previous_secrets,
            revision,
        }
    }

    /// Takes the webhook apart.
    pub fn into_parts(self) -> WebhookParts {
        WebhookParts {
            id: self.id,
            scope: self.scope,
            url: self.url,
            enabled: self.enabled,
            account_filter: self.account_filter,
            created_at: self.created_at,
            secret: self.secret,
            previous_secrets: self.previous_secrets,
            revision: self.revision,
        }
    }

    /// The unique id.
    pub fn id(&self) -> &WebhookId {
        &self.id
    }

    /// The organisation and account type it belongs to.
    pub fn scope(&self) -> &Scope {
        &self.scope
    }

    /// Where deliveries go.
    pub fn url(&self) -> &WebhookUrl {
        &self.url
    }

    /// Whether events are sent to it.
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Live or test: the account type of its scope.
    pub fn account_type(&self) -> AccountType {
        self.scope.account_type
    }

    /// The accounts whose events it receives.
    pub fn account_filter(&self) -> &AccountFilter {
        &self.account_filter
    }

    /// When it was created.
    pub fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }

    /// The secret that signs its deliveries.
    pub fn secret(&self) -> &Secret {
        &self.secret
    }

    /// Secrets rotated out with an overlap, newest first; they sign until they expire.
    pub fn previous_secrets(&self) -> &[PreviousSecret] {
        &self.previous_secrets
    }

    /// Bumped by every write; stores refuse a write based on a stale revision.
    pub fn revision(&self) -> u64 {
        self.revision
    }
}
