//! Request and response bodies of the seed's operations, as JSON.
//!
//! Requests are parsed strictly: a JSON object only, no unknown or duplicate field, no
//! `null` where a value is required, nothing after the object. Malformed bodies are
//! `body_invalid` with the field named; well-formed bodies with a bad URL or account id get
//! that field's own code.
//!
//! Parsing is bounded: `from_json` refuses a body over [`MAX_BODY_LEN`] before reading it,
//! and `account_ids` is read element by element, stopping at the first malformed id or at
//! the element past [`MAX_ACCOUNT_IDS`] (duplicates count), so what a request costs does
//! not grow with what it sends. Error messages quote no more of the input than an escaped,
//! cut field name.

use std::collections::BTreeSet;
use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use crate::account::{AccountFilter, AccountType, MAX_ACCOUNT_IDS};
use crate::error::{Error, echo};
use crate::id::{AccountId, IdKind, InvalidId, WebhookId};
use crate::secret::Secret;
use crate::url::WebhookUrl;
use crate::webhook::Webhook;

/// Longest request body [`CreateWebhookRequest::from_json`] and
/// [`UpdateWebhookRequest::from_json`] parse, in bytes (1 MiB); a longer one is
/// `body_invalid` before any parsing.
///
/// A body with a 4,096-byte URL and 1,000 account ids of 255 bytes takes about 262 KB; the
/// rest leaves room for white space and escaped characters. Hosts deserializing the request
/// types through serde themselves should bound the body as well (axum's `DefaultBodyLimit`,
/// say); the account ids are bounded either way.
pub const MAX_BODY_LEN: usize = 1 << 20;

/// The body of a create request: `{"url": …, "account_ids": [...]}`.
///
/// ```
/// use webhook_kit::CreateWebhookRequest;
///
/// let request = CreateWebhookRequest::from_json(br#"{"url": "https://example.com/hook"}"#).unwrap();
/// assert!(request.account_filter.is_all());
/// let refused = CreateWebhookRequest::from_json(br#"[ "https://example.com/hook" ]"#);
/// assert_eq!(refused.unwrap_err().code(), "body_invalid");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CreateWebhookRequest {
    /// Where deliveries go.
    pub url: WebhookUrl,
    /// The accounts whose events it receives; absent, `null` or `[]` mean all.
    pub account_filter: AccountFilter,
}

impl CreateWebhookRequest {
    /// A request for a webhook to `url` receiving every account's events.
    pub fn new(url: WebhookUrl) -> Self {
        Self {
            url,
            account_filter: AccountFilter::all(),
        }
    }

    /// The same request, receiving only the events of `account_filter`.
    pub fn with_account_filter(mut self, account_filter: AccountFilter) -> Self {
        self.account_filter = account_filter;
        self
    }

    /// Parses a JSON body of at most [`MAX_BODY_LEN`] bytes.
    ///
    /// `account_ids` holds at most [`MAX_ACCOUNT_IDS`] elements, duplicates included (they
    /// are merged, but each counts): parsing stops at the element past the limit.
    ///
    /// # Errors
    ///
    /// `body_invalid` (a body over [`MAX_BODY_LEN`] bytes, malformed JSON, a missing,
    /// unknown, duplicate or mistyped field), `url_invalid`, or `account_ids_invalid` (a
    /// malformed id, or more than [`MAX_ACCOUNT_IDS`] elements).
    pub fn from_json(body: &[u8]) -> Result<Self, Error> {
        Self::from_fields(parse_fields(body, CREATE_FIELDS)?)
    }

    fn from_fields(fields: RawFields) -> Result<Self, Error> {
        let url = fields.url.ok_or_else(missing_url)?;
        Ok(Self {
            url: url.parse()?,
            account_filter: fields.account_ids.flatten().unwrap_or_default(),
        })
    }
}

/// What an update does to the account filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum AccountFilterUpdate {
    /// Keep the stored filter: `account_ids` absent or `null`.
    #[default]
    Keep,
    /// Replace it: `[]` for all accounts, a list for those accounts.
    Set(AccountFilter),
}

/// The body of an update request: `{"url": …, "enabled": …, "account_ids": …}`.
///
/// ```
/// use webhook_kit::{AccountFilterUpdate, UpdateWebhookRequest};
///
/// let keep = UpdateWebhookRequest::from_json(br#"{"url": "https://example.com/hook"}"#).unwrap();
/// assert_eq!((keep.enabled, keep.account_filter), (None, AccountFilterUpdate::Keep));
/// let clear = UpdateWebhookRequest::from_json(
///     br#"{"url": "https://example.com/hook", "enabled": false, "account_ids": []}"#,
/// )
/// .unwrap();
/// assert!(matches!(clear.account_filter, AccountFilterUpdate::Set(filter) if filter.is_all()));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UpdateWebhookRequest {
    /// The new URL (required by the seed).
    pub url: WebhookUrl,
    /// The new state; `None` keeps the stored one.
    pub enabled: Option<bool>,
    /// What happens to the account filter.
    pub account_filter: AccountFilterUpdate,
}

impl UpdateWebhookRequest {
    /// An update that sets `url` and keeps everything else.
    pub fn new(url: WebhookUrl) -> Self {
        Self {
            url,
            enabled: None,
            account_filter: AccountFilterUpdate::Keep,
        }
    }

    /// The same update, also enabling or disabling the webhook.
    pub fn with_enabled(mut self, enabled: bool) -> Self {
        self.enabled = Some(enabled);
        self
    }

    /// The same update, also replacing the account filter.
    pub fn with_account_filter(mut self, account_filter: AccountFilter) -> Self {
        self.account_filter = AccountFilterUpdate::Set(account_filter);
        self
    }

    /// Parses a JSON body of at most [`MAX_BODY_LEN`] bytes.
    ///
    /// `account_ids` holds at most [`MAX_ACCOUNT_IDS`] elements, duplicates included (they
    /// are merged, but each counts): parsing stops at the element past the limit.
    ///
    /// # Errors
    ///
    /// `body_invalid` (a body over [`MAX_BODY_LEN`] bytes, malformed JSON, a missing,
    /// unknown, duplicate or mistyped field), `url_invalid`, or `account_ids_invalid` (a
    /// malformed id, or more than [`MAX_ACCOUNT_IDS`] elements).
    pub fn from_json(body: &[u8]) -> Result<Self, Error> {
        Self::from_fields(parse_fields(body, UPDATE_FIELDS)?)
    }

    fn from_fields(fields: RawFields) -> Result<Self, Error> {
        let url = fields.url.ok_or_else(missing_url)?;
        Ok(Self {
            url: url.parse()?,
            enabled: fields.enabled,
            account_filter: match fields.account_ids.flatten() {
                None => AccountFilterUpdate::Keep,
                Some(filter) => AccountFilterUpdate::Set(filter),
            },
        })
    }
}

const CREATE_FIELDS: &[&str] = &["url", "account_ids"];
const UPDATE_FIELDS: &[&str] = &["url", "enabled", "account_ids"];

fn missing_url() -> Error {
    Error::BodyInvalid("missing field `url`".to_owned())
}

fn too_many_elements() -> InvalidId {
    InvalidId::new(
        IdKind::Account,
        "`account_ids` may hold at most 1000 elements, duplicates included",
    )
}

/// The fields of a request body as JSON gave them; `account_ids` is `Some(None)` for `null`.
#[derive(Default)]
struct RawFields {
    url: Option<String>,
    enabled: Option<bool>,
    account_ids: Option<Option<AccountFilter>>,
}

fn parse_fields(body: &[u8], allowed: &'static [&'static str]) -> Result<RawFields, Error> {
    if body.len() > MAX_BODY_LEN {
        return Err(Error::BodyInvalid(format!(
            "body is longer than {MAX_BODY_LEN} bytes"
        )));
    }
    let invalid = |error: serde_json::Error| Error::body_invalid(&error.to_string());
    let mut refused_id = None;
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let fields = deserializer
        .deserialize_map(FieldsVisitor {
            allowed,
            refused_id: &mut refused_id,
        })
        .map_err(|error| refused_id.take().map_or_else(|| invalid(error), Error::Id))?;
    deserializer.end().map_err(invalid)?;
    Ok(fields)
}

/// Accepts a map only (never a sequence), each allowed field at most once.
///
/// An account id that is refused while parsing (malformed, or one element too many) stops
/// the parse; its typed error is left in `refused_id` so the caller answers
/// `account_ids_invalid` rather than `body_invalid`.
struct FieldsVisitor<'a> {
    allowed: &'static [&'static str],
    refused_id: &'a mut Option<InvalidId>,
}

impl<'de> Visitor<'de> for FieldsVisitor<'_> {
    type Value = RawFields;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawFields, A::Error> {
        let mut fields = RawFields::default();
        while let Some(field) = map.next_key::<Field>()? {
            let allowed = |name: &str| self.allowed.contains(&name);
            match field {
                Field::Url if allowed("url") => {
                    set_once(&mut fields.url, "url", map.next_value())?;
                }
                Field::Enabled if allowed("enabled") => {
                    let enabled = map.next_value::<Enabled>().map(|Enabled(value)| value);
                    set_once(&mut fields.enabled, "enabled", enabled)?;
                }
                Field::AccountIds if allowed("account_ids") => {
                    if fields.account_ids.is_some() {
                        return Err(de::Error::duplicate_field("account_ids"));
                    }
                    let ids = map.next_value_seed(AccountIdsSeed {
                        refused_id: &mut *self.refused_id,
                    });
                    set_once(&mut fields.account_ids, "account_ids", ids)?;
                }
                other => return Err(de::Error::unknown_field(&other.echo(), self.allowed)),
            }
        }
        Ok(fields)
    }
}

/// A key of a request body: one of the fields, or another key kept only as an error may
/// quote it (escaped and cut, see [`MAX_ECHOED_CHARS`](crate::MAX_ECHOED_CHARS)).
enum Field {
    Url,
    Enabled,
    AccountIds,
    Other(String),
}

impl Field {
    fn echo(&self) -> String {
        match self {
            Field::Url => "url".to_owned(),
            Field::Enabled => "enabled".to_owned(),
            Field::AccountIds => "account_ids".to_owned(),
            Field::Other(echoed) => echoed.clone(),
        }
    }
}

impl<'de> Deserialize<'de> for Field {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_identifier(FieldVisitor)
    }
}

struct FieldVisitor;

impl Visitor<'_> for FieldVisitor {
    type Value = Field;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a field name")
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<Field, E> {
        Ok(match name {
            "url" => Field::Url,
            "enabled" => Field::Enabled,
            "account_ids" => Field::AccountIds,
            other => Field::Other(echo(other)),
        })
    }
}

/// The `enabled` field: a boolean, and a refusal that never quotes what was given instead.
struct Enabled(bool);

impl<'de> Deserialize<'de> for Enabled {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(EnabledVisitor)
    }
}

struct EnabledVisitor;

impl Visitor<'_> for EnabledVisitor {
    type Value = Enabled;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a boolean")
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<Enabled, E> {
        Ok(Enabled(value))
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Enabled, E> {
        Err(de::Error::invalid_type(
            de::Unexpected::Other("string"),
            &self,
        ))
    }
}

/// The `account_ids` field, parsed as it streams: `null` is `None`; a list becomes a filter
/// element by element, and parsing stops at the first malformed id or at the element past
/// [`MAX_ACCOUNT_IDS`], duplicates included, so no body makes it hold more than that.
struct AccountIdsSeed<'a> {
    refused_id: &'a mut Option<InvalidId>,
}

impl<'de> DeserializeSeed<'de> for AccountIdsSeed<'_> {
    type Value = Option<AccountFilter>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for AccountIdsSeed<'_> {
    type Value = Option<AccountFilter>;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a list of account ids or null")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Err(de::Error::invalid_type(
            de::Unexpected::Other("string"),
            &self,
        ))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut ids = BTreeSet::new();
        let mut complete = false;
        for _ in 0..MAX_ACCOUNT_IDS {
            let Some(text) = seq.next_element::<String>()? else {
                complete = true;
                break;
            };
            match AccountId::try_from(text) {
                Ok(id) => ids.insert(id),
                Err(error) => return Err(refuse(self.refused_id, error)),
            };
        }
        if !complete && seq.next_element::<IgnoredAny>()?.is_some() {
            return Err(refuse(self.refused_id, too_many_elements()));
        }
        AccountFilter::from_ids(ids)
            .map(Some)
            .map_err(|error| refuse(self.refused_id, error))
    }
}

/// Keeps `error` for the caller and stops the parse.
fn refuse<E: de::Error>(slot: &mut Option<InvalidId>, error: InvalidId) -> E {
    let stop = E::custom(&error);
    *slot = Some(error);
    stop
}

fn set_once<T, E: de::Error>(
    slot: &mut Option<T>,
    field: &'static str,
    value: Result<T, E>,
) -> Result<(), E> {
    if slot.is_some() {
        return Err(E::duplicate_field(field));
    }
    *slot = Some(value.map_err(|error| E::custom(format_args!("field `{field}`: {error}")))?);
    Ok(())
}

macro_rules! deserialize_request {
    ($request:ty, $fields:expr) => {
        impl<'de> Deserialize<'de> for $request {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let mut refused_id = None;
                let fields = deserializer
                    .deserialize_map(FieldsVisitor {
                        allowed: $fields,
                        refused_id: &mut refused_id,
                    })
                    .map_err(|error| match refused_id.take() {
                        Some(id) => de::Error::custom(format_args!("{}: {id}", id.code())),
                        None => error,
                    })?;
                Self::from_fields(fields)
                    .map_err(|error| de::Error::custom(format_args!("{}: {error}", error.code())))
            }
        }
    };
}

deserialize_request!(CreateWebhookRequest, CREATE_FIELDS);
deserialize_request!(UpdateWebhookRequest, UPDATE_FIELDS);

/// A webhook as list, get and update answer it: the secret masked to its last 4 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookResponse {
    id: WebhookId,
    url: WebhookUrl,
    enabled: bool,
    account_type: AccountType,
    account_filter: AccountFilter,
    created_at: DateTime<Utc>,
    secret_last4: String,
}

impl WebhookResponse {
    /// The response for `webhook`, its secret masked.
    pub fn masked(webhook: &Webhook) -> Self {
        Self {
            id: webhook.id().clone(),
            url: webhook.url().clone(),
            enabled: webhook.enabled(),
            account_type: webhook.account_type(),
            account_filter: webhook.account_filter().clone(),
            created_at: webhook.created_at(),
            secret_last4: webhook.secret().masked(),
        }
    }

    /// The webhook's id.
    pub fn id(&self) -> &WebhookId {
        &self.id
    }

    /// Where deliveries go.
    pub fn url(&self) -> &WebhookUrl {
        &self.url
    }

    /// Whether events are sent to it.
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Live or test.
    pub fn account_type(&self) -> AccountType {
        self.account_type
    }

    /// The accounts whose events it receives.
    pub fn account_filter(&self) -> &AccountFilter {
        &self.account_filter
    }

    /// When it was created.
    pub fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }

    /// The last 4 characters of its secret.
    pub fn secret_last4(&self) -> &str {
        &self.secret_last4
    }

    fn wire<'a>(&'a self, secret: &'a str) -> WireWebhook<'a> {
        let ids = self.account_filter.account_ids();
        WireWebhook {
            id: self.id.as_str(),
            url: self.url.as_str(),
            enabled: self.enabled,
            account_type: self.account_type,
            account_ids: (!ids.is_empty()).then(|| ids.iter().map(AccountId::as_str).collect()),
            created_at: self.created_at.to_rfc3339_opts(SecondsFormat::Millis, true),
            secret,
        }
    }
}

impl Serialize for WebhookResponse {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.wire(&self.secret_last4).serialize(serializer)
    }
}

/// A webhook as create and rotate-secret answer it: with the full secret, shown this once.
///
/// `Debug` still redacts the secret; only serialising shows it.
#[derive(Debug, Clone)]
pub struct WebhookSecretResponse {
    webhook: WebhookResponse,
    secret: Secret,
}

impl WebhookSecretResponse {
    /// The response for `webhook`, with its full secret.
    pub fn with_full_secret(webhook: &Webhook) -> Self {
        Self {
            webhook: WebhookResponse::masked(webhook),
            secret: webhook.secret().clone(),
        }
    }

    /// Everything but the secret.
    pub fn webhook(&self) -> &WebhookResponse {
        &self.webhook
    }

    /// The full secret.
    pub fn secret(&self) -> &Secret {
        &self.secret
    }
}

impl Serialize for WebhookSecretResponse {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.webhook
            .wire(self.secret.expose_secret())
            .serialize(serializer)
    }
}

/// The seed's response fields, in the seed's order.
#[derive(Serialize)]
struct WireWebhook<'a> {
    id: &'a str,
    url: &'a str,
    enabled: bool,
    account_type: AccountType,
    #[serde(skip_serializing_if = "Option::is_none")]
    account_ids: Option<Vec<&'a str>>,
    created_at: String,
    secret: &'a str,
}
