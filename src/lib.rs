#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod account;
mod error;
mod event;
mod id;
mod secret;
mod store;
mod url;
mod webhook;
mod wire;

pub use account::{AccountFilter, AccountType, InvalidAccountType, MAX_ACCOUNT_IDS};
pub use error::{Error, ErrorBody};
pub use event::Event;
pub use id::{AccountId, EventId, IdKind, InvalidId, MAX_NAME_LEN, OrganizationId, WebhookId};
pub use secret::{
    GENERATED_KEY_LEN, MAX_KEY_LEN, MIN_KEY_LEN, SECRET_PREFIX, Secret, SecretError, mask,
};
pub use store::{BoxError, StoreError, WebhookStore};
pub use url::{DestinationPolicy, MAX_URL_LEN, Refusal, SEED_URL_PATTERN, UrlError, WebhookUrl};
pub use webhook::{PreviousSecret, Scope, Webhook, WebhookParts};
pub use wire::{
    AccountFilterUpdate, CreateWebhookRequest, UpdateWebhookRequest, WebhookResponse,
    WebhookSecretResponse,
};
