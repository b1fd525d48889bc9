//! The webhook model and the scope every operation runs in.

use chrono::{DateTime, SubsecRound, TimeDelta, Utc};

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

/// Longest overlap a rotation may ask for: the old secret signs at most this long after it.
pub const MAX_ROTATION_OVERLAP: TimeDelta = TimeDelta::hours(24);

/// Most rotated-out secrets a webhook keeps signing with; a rotation beyond this drops the
/// oldest.
pub const MAX_PREVIOUS_SECRETS: usize = 3;

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
pub struct Webhook(WebhookParts);

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
        Self(parts)
    }

    /// Takes the webhook apart.
    pub fn into_parts(self) -> WebhookParts {
        self.0
    }

    /// The unique id.
    pub fn id(&self) -> &WebhookId {
        &self.0.id
    }

    /// The organisation and account type it belongs to.
    pub fn scope(&self) -> &Scope {
        &self.0.scope
    }

    /// Where deliveries go.
    pub fn url(&self) -> &WebhookUrl {
        &self.0.url
    }

    /// Whether events are sent to it.
    pub fn enabled(&self) -> bool {
        self.0.enabled
    }

    /// Live or test: the account type of its scope.
    pub fn account_type(&self) -> AccountType {
        self.0.scope.account_type
    }

    /// The accounts whose events it receives.
    pub fn account_filter(&self) -> &AccountFilter {
        &self.0.account_filter
    }

    /// When it was created.
    pub fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// The secret that signs its deliveries.
    pub fn secret(&self) -> &Secret {
        &self.0.secret
    }

    /// Secrets rotated out with an overlap, newest first; they sign until they expire.
    pub fn previous_secrets(&self) -> &[PreviousSecret] {
        &self.0.previous_secrets
    }

    /// Bumped by every write; stores refuse a write based on a stale revision.
    pub fn revision(&self) -> u64 {
        self.0.revision
    }

    /// The secrets that sign a delivery sent at `now`, newest first: the current secret,
    /// then the rotated-out ones whose overlap has not ended (`expires_at > now`).
    ///
    /// ```
    /// use chrono::Utc;
    /// use webhook_kit::{AccountFilter, AccountType, Scope, Webhook};
    ///
    /// let scope = Scope::new("org_1".parse().unwrap(), AccountType::Live);
    /// let url = "https://example.com/hook".parse().unwrap();
    /// let webhook = Webhook::new(scope, url, AccountFilter::all());
    /// let now = Utc::now();
    /// let signing: Vec<_> = webhook.signing_secrets(now).collect();
    /// assert_eq!(signing.len(), 1);
    /// assert_eq!(signing[0].expose_secret(), webhook.secret().expose_secret());
    /// ```
    pub fn signing_secrets(&self, now: DateTime<Utc>) -> impl Iterator<Item = &Secret> {
        std::iter::once(&self.0.secret).chain(
            self.0
                .previous_secrets
                .iter()
                .filter(move |previous| previous.expires_at > now)
                .map(|previous| &previous.secret),
        )
    }

    /// A copy one revision on; `None` when the revision cannot grow (a corrupt store).
    pub(crate) fn next_revision(&self) -> Option<Self> {
        let mut next = self.clone();
        next.0.revision = self.0.revision.checked_add(1)?;
        Some(next)
    }

    pub(crate) fn set_url(&mut self, url: WebhookUrl) {
        self.0.url = url;
    }

    pub(crate) fn set_enabled(&mut self, enabled: bool) {
        self.0.enabled = enabled;
    }

    pub(crate) fn set_account_filter(&mut self, account_filter: AccountFilter) {
        self.0.account_filter = account_filter;
    }

    /// Makes `secret` the current one. With `overlap`, the old secret keeps signing until
    /// `now + overlap`; without, it and every earlier one stop at once. Secrets whose overlap
    /// has ended are dropped, then all but the newest [`MAX_PREVIOUS_SECRETS`].
    ///
    /// The caller checks `overlap`; `None` (and nothing changed) only when `now + overlap`
    /// is out of range.
    pub(crate) fn rotate_secret(
        &mut self,
        secret: Secret,
        overlap: Option<TimeDelta>,
        now: DateTime<Utc>,
    ) -> Option<()> {
        let expires_at = match overlap {
            Some(overlap) => Some(now.checked_add_signed(overlap)?.trunc_subsecs(3)),
            None => None,
        };
        let old = std::mem::replace(&mut self.0.secret, secret);
        match expires_at {
            None => self.0.previous_secrets.clear(),
            Some(expires_at) => {
                self.0
                    .previous_secrets
                    .retain(|previous| previous.expires_at > now);
                self.0.previous_secrets.insert(
                    0,
                    PreviousSecret {
                        secret: old,
                        expires_at,
                    },
                );
                self.0.previous_secrets.truncate(MAX_PREVIOUS_SECRETS);
            }
        }
        Some(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn webhook() -> Webhook {
        let scope = Scope::new("org_1".parse().unwrap(), crate::AccountType::Test);
        Webhook::new(
            scope,
            "https://example.com/hook".parse().unwrap(),
            AccountFilter::all(),
        )
    }

    fn exposed<'a>(secrets: impl Iterator<Item = &'a Secret>) -> Vec<String> {
        secrets
            .map(|secret| secret.expose_secret().to_owned())
            .collect()
    }

    #[test]
    fn overlap_keeps_the_old_secret_signing_until_it_expires() {
        let mut webhook = webhook();
        let old = webhook.secret().expose_secret().to_owned();
        let now = Utc::now();
        webhook
            .rotate_secret(Secret::generate(), Some(TimeDelta::hours(1)), now)
            .unwrap();
        let new = webhook.secret().expose_secret().to_owned();
        assert_eq!(exposed(webhook.signing_secrets(now)), [new.clone(), old]);
        let later = now + TimeDelta::hours(1);
        assert_eq!(exposed(webhook.signing_secrets(later)), [new]);
    }

    #[test]
    fn overlap_drops_expired_secrets_and_keeps_at_most_three() {
        let mut webhook = webhook();
        let start = Utc::now();
        webhook
            .rotate_secret(Secret::generate(), Some(TimeDelta::minutes(1)), start)
            .unwrap();
        // Two hours on, the first old secret has expired: it is pruned, not kept.
        let now = start + TimeDelta::hours(2);
        webhook
            .rotate_secret(Secret::generate(), Some(TimeDelta::hours(1)), now)
            .unwrap();
        assert_eq!(webhook.previous_secrets().len(), 1);
        let mut rotated_out = Vec::new();
        for _ in 0..5 {
            rotated_out.insert(0, webhook.secret().expose_secret().to_owned());
            webhook
                .rotate_secret(Secret::generate(), Some(TimeDelta::hours(1)), now)
                .unwrap();
        }
        let kept: Vec<String> = webhook
            .previous_secrets()
            .iter()
            .map(|previous| previous.secret.expose_secret().to_owned())
            .collect();
        assert_eq!(kept, rotated_out[..MAX_PREVIOUS_SECRETS]);
    }

    #[test]
    fn rotation_without_overlap_clears_every_old_secret() {
        let mut webhook = webhook();
        let now = Utc::now();
        webhook
            .rotate_secret(Secret::generate(), Some(TimeDelta::hours(1)), now)
            .unwrap();
        webhook
            .rotate_secret(Secret::generate(), None, now)
            .unwrap();
        assert!(webhook.previous_secrets().is_empty());
        assert_eq!(webhook.signing_secrets(now).count(), 1);
    }

    #[test]
    fn revision_overflow_is_refused_not_wrapped() {
        let mut parts = webhook().into_parts();
        parts.revision = u64::MAX;
        assert!(Webhook::from_parts(parts).next_revision().is_none());
        assert_eq!(webhook().next_revision().unwrap().revision(), 2);
    }

    #[test]
    fn overlap_out_of_range_is_refused() {
        let mut webhook = webhook();
        let before = webhook.secret().expose_secret().to_owned();
        assert!(
            webhook
                .rotate_secret(Secret::generate(), Some(TimeDelta::MAX), Utc::now())
                .is_none()
        );
        assert_eq!(webhook.secret().expose_secret(), before);
        assert!(webhook.previous_secrets().is_empty());
    }
}
