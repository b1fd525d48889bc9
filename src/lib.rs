#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod account;
#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub mod api;
mod attempt;
mod clock;
mod delivery;
mod error;
mod event;
#[cfg(any(feature = "worker", feature = "sqlite", feature = "postgres"))]
mod gather;
mod health;
mod id;
mod observer;
mod schedule;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod seal;
mod secret;
#[cfg(feature = "send")]
#[cfg_attr(docsrs, doc(cfg(feature = "send")))]
pub mod send;
mod service;
mod signature;
mod signing_key;
mod store;
mod url;
mod webhook;
mod wire;
#[cfg(feature = "worker")]
#[cfg_attr(docsrs, doc(cfg(feature = "worker")))]
pub mod worker;

pub use account::{AccountFilter, AccountType, InvalidAccountType, MAX_ACCOUNT_IDS};
pub use attempt::{Attempt, AttemptError, ErrorKind, Outcome, Transport};
pub use clock::{Clock, ManualClock, SystemClock};
pub use delivery::{
    CONTENT_TYPE, Deliveries, Delivery, DeliveryError, HEADER_CONTENT_TYPE, UnsendableUrl,
};
pub use error::{Error, ErrorBody, MAX_ECHOED_CHARS};
pub use event::Event;
pub use health::{
    DEFAULT_DISABLE_AFTER, DEFAULT_EXHAUSTION_SPREAD, EndpointHealth, HealthChange, HealthPolicy,
    Observation,
};
pub use id::{
    AccountId, DeliveryId, EventId, IdKind, InvalidId, MAX_NAME_LEN, OrganizationId, WebhookId,
};
pub use observer::{DisableReason, IgnoreNotices, Notice, Observer};
pub use schedule::{
    DEFAULT_JITTER_PERCENT, DEFAULT_MAX_RETRY_AFTER, MAX_JITTER_PERCENT, MAX_RETRIES,
    MAX_RETRY_DELAY, NextStep, RetrySchedule, STANDARD_RETRY_DELAYS, ScheduleError,
};
pub use secret::{
    GENERATED_KEY_LEN, MAX_KEY_LEN, MAX_LENIENT_KEY_LEN, MIN_KEY_LEN, SECRET_PREFIX, Secret,
    SecretError, mask,
};
pub use service::{DEFAULT_MAX_ATTEMPTS, WebhookPage, Webhooks};
pub use signature::{
    DEFAULT_TOLERANCE, HEADER_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP, HeaderSource, MAX_HEADER_LEN,
    MAX_SECRETS, MAX_SIGNATURES, SecretsError, SignError, SignedHeaders, Signer, Verifier,
    VerifyError, WebhookHeader,
};
pub use signing_key::{
    Ed25519KeyError, PUBLIC_KEY_PREFIX, PublicKey, SIGNING_KEY_PREFIX, SigningKey,
};
pub use store::queue::{
    AttemptRecord, Claim, ClaimToken, DeliveryState, Finish, MAX_BATCH, MAX_KEPT_RESPONSE,
    QueuedDelivery, Trigger,
};
pub use store::{
    BoxError, DeliveryStore, Listing, MAX_PAGE_LIMIT, MemoryStore, PageRequest, Selection,
    StoreError, UnreadableWebhook, WebhookStore,
};
pub use url::{DestinationPolicy, MAX_URL_LEN, Refusal, SEED_URL_PATTERN, UrlError, WebhookUrl};
pub use webhook::{
    MAX_PREVIOUS_SECRETS, MAX_ROTATION_OVERLAP, PreviousSecret, Scope, Webhook, WebhookParts,
};
pub use wire::{
    AccountFilterUpdate, CreateWebhookRequest, MAX_BODY_LEN, UpdateWebhookRequest, WebhookResponse,
    WebhookSecretResponse,
};

#[cfg(any(feature = "sqlite", feature = "postgres"))]
#[cfg_attr(docsrs, doc(cfg(any(feature = "sqlite", feature = "postgres"))))]
pub use seal::{
    DuplicateKeyId, ENCRYPTION_KEY_LEN, EncryptionKey, KeyError, Keyring, NONCE_LEN,
    SEALED_FORMAT_VERSION, SealError,
};
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use store::postgres::{POSTGRES_ACQUIRE_TIMEOUT, PostgresStore};
#[cfg(any(feature = "sqlite", feature = "postgres"))]
#[cfg_attr(docsrs, doc(cfg(any(feature = "sqlite", feature = "postgres"))))]
pub use store::sql::{NoKeyringToReseal, ResealBatch, ResealReport, RowError, SchemaError};
#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub use store::sqlite::{SQLITE_BUSY_TIMEOUT, SqliteStore};

#[cfg(feature = "worker")]
#[cfg_attr(docsrs, doc(cfg(feature = "worker")))]
pub use worker::{DeliveryWorker, RunReport, WorkerBuilder, WorkerError};
