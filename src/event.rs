//! Events: what happened in an account, to be delivered to the webhooks that want it.

use std::fmt;
use std::sync::Arc;

use crate::id::{AccountId, EventId};
use crate::webhook::Scope;

/// Something that happened in one account of an organisation, with the JSON (or any) body
/// to deliver.
///
/// The body is shared, not copied, by every delivery made from the event.
///
/// ```
/// use webhook_kit::{AccountType, Event, EventId, Scope};
///
/// let scope = Scope::new("org_1".parse().unwrap(), AccountType::Live);
/// let event = Event::new(EventId::generate(), scope, "acc_1".parse().unwrap(), &br#"{"type":"order.paid"}"#[..]);
/// assert_eq!(event.body(), br#"{"type":"order.paid"}"#);
/// ```
#[derive(Clone)]
pub struct Event {
    id: EventId,
    scope: Scope,
    account: AccountId,
    body: Arc<[u8]>,
}

impl Event {
    /// An event of `account`, in `scope`, with `body`.
    pub fn new(id: EventId, scope: Scope, account: AccountId, body: impl Into<Arc<[u8]>>) -> Self {
        Self {
            id,
            scope,
            account,
            body: body.into(),
        }
    }

    /// Its id: the `webhook-id` of its deliveries, the same on every retry.
    pub fn id(&self) -> &EventId {
        &self.id
    }

    /// The organisation and account type it belongs to.
    pub fn scope(&self) -> &Scope {
        &self.scope
    }

    /// The account it happened in.
    pub fn account(&self) -> &AccountId {
        &self.account
    }

    /// The bytes to deliver.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The body, shared.
    pub fn shared_body(&self) -> &Arc<[u8]> {
        &self.body
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("id", &self.id)
            .field("scope", &self.scope)
            .field("account", &self.account)
            .field("body_len", &self.body.len())
            .finish()
    }
}
