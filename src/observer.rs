//! What a host hears from the delivery worker: [`Notice`]s given to its [`Observer`].

use std::fmt;

use crate::id::{DeliveryId, EventId, WebhookId};
use crate::webhook::Scope;

/// Why a webhook was disabled by the worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DisableReason {
    /// The endpoint answered `410 Gone`.
    Gone,
    /// The endpoint failed for as long as the [`HealthPolicy`](crate::HealthPolicy) allows.
    Failing,
}

impl DisableReason {
    /// The stable machine code: `gone` or `failing`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Gone => "gone",
            Self::Failing => "failing",
        }
    }
}

/// Something the host may want to log, count or tell its user about. Never carries a
/// secret, a body or a signature.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Notice {
    /// An attempt failed (it may be retried).
    AttemptFailed {
        /// The webhook's scope.
        scope: Scope,
        /// The webhook.
        webhook_id: WebhookId,
        /// The delivery.
        delivery_id: DeliveryId,
        /// The event it carries.
        event_id: EventId,
        /// The attempt's number, 1 for the first.
        attempt: u32,
        /// The attempt's code ([`Attempt::code`](crate::Attempt::code)).
        code: &'static str,
        /// The response status, when one came.
        status: Option<u16>,
    },
    /// A delivery failed for good: its last attempt failed.
    DeliveryExhausted {
        /// The webhook's scope.
        scope: Scope,
        /// The webhook.
        webhook_id: WebhookId,
        /// The delivery.
        delivery_id: DeliveryId,
        /// The event it carries.
        event_id: EventId,
        /// How many attempts it had.
        attempts: u32,
    },
    /// The worker disabled a webhook.
    WebhookDisabled {
        /// The webhook's scope.
        scope: Scope,
        /// The webhook.
        webhook_id: WebhookId,
        /// Why.
        reason: DisableReason,
    },
    /// A failing webhook's endpoint answered with success again.
    WebhookRecovered {
        /// The webhook's scope.
        scope: Scope,
        /// The webhook.
        webhook_id: WebhookId,
    },
}

impl Notice {
    /// The stable machine code: `attempt_failed`, `delivery_exhausted`, `webhook_disabled`
    /// or `webhook_recovered`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::AttemptFailed { .. } => "attempt_failed",
            Self::DeliveryExhausted { .. } => "delivery_exhausted",
            Self::WebhookDisabled { .. } => "webhook_disabled",
            Self::WebhookRecovered { .. } => "webhook_recovered",
        }
    }
}

/// Hears the worker's [`Notice`]s. Called from the worker's tasks: keep it quick (send to a
/// channel, bump a counter, log).
///
/// ```
/// use std::sync::Mutex;
/// use webhook_kit::{Notice, Observer};
///
/// #[derive(Debug, Default)]
/// struct Log(Mutex<Vec<&'static str>>);
///
/// impl Observer for Log {
///     fn notice(&self, notice: &Notice) {
///         self.0.lock().unwrap().push(notice.code());
///     }
/// }
/// ```
pub trait Observer: Send + Sync + fmt::Debug + 'static {
    /// Hears one notice.
    fn notice(&self, notice: &Notice);
}

/// The observer that ignores everything: the worker's default.
#[derive(Debug, Clone, Copy, Default)]
pub struct IgnoreNotices;

impl Observer for IgnoreNotices {
    fn notice(&self, _notice: &Notice) {}
}
