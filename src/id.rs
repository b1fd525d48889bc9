//! Identifiers: webhook ids made by the crate, organisation and account ids given by the host.

use std::fmt;
use std::str::FromStr;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use rand::TryRng;
use rand::rngs::SysRng;
use serde::{Deserialize, Serialize};

/// What a malformed id was meant to identify; it decides the error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum IdKind {
    /// A [`WebhookId`].
    Webhook,
    /// An [`AccountId`] (or the account filter as a whole).
    Account,
    /// An [`OrganizationId`].
    Organization,
    /// An [`EventId`].
    Event,
    /// A [`DeliveryId`].
    Delivery,
}

impl fmt::Display for IdKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IdKind::Webhook => "webhook id",
            IdKind::Account => "account id",
            IdKind::Organization => "organization id",
            IdKind::Event => "event id",
            IdKind::Delivery => "delivery id",
        })
    }
}

/// An id from outside the crate was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind}: {reason}")]
pub struct InvalidId {
    kind: IdKind,
    reason: &'static str,
}

impl InvalidId {
    pub(crate) const fn new(kind: IdKind, reason: &'static str) -> Self {
        Self { kind, reason }
    }

    /// What the refused value was meant to identify.
    pub fn kind(&self) -> IdKind {
        self.kind
    }

    /// The stable machine code: `account_ids_invalid` for account ids, `id_invalid` otherwise.
    pub fn code(&self) -> &'static str {
        match self.kind {
            IdKind::Account => "account_ids_invalid",
            IdKind::Webhook | IdKind::Organization | IdKind::Event | IdKind::Delivery => {
                "id_invalid"
            }
        }
    }
}

const WEBHOOK_ID_PREFIX: &str = "wh_";
const WEBHOOK_ID_DIGITS: usize = 26;
/// Crockford's base 32, lowercase: ascending in ASCII, so text order is numeric order.
pub(crate) const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
const RANDOM_BITS: u32 = 80;

/// The id of a webhook: `wh_` and 26 base-32 digits of a 128-bit value whose top 48 bits are
/// the creation time in milliseconds.
///
/// Ids are made by [`WebhookId::generate`]; within one process each new id sorts after the
/// previous one, so ordering webhooks by id is ordering them by creation. Ids are URL-safe
/// and never contain `.` (Standard Webhooks signs `"{id}.{timestamp}.{body}"`).
///
/// ```
/// use webhook_kit::WebhookId;
///
/// let first = WebhookId::generate();
/// let second = WebhookId::generate();
/// assert!(first < second);
/// assert_eq!(first.as_str().parse::<WebhookId>(), Ok(first));
/// assert!("wh_../etc".parse::<WebhookId>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct WebhookId(String);

static LAST_ID: Mutex<u128> = Mutex::new(0);

impl WebhookId {
    /// Makes a new id, greater than every id this process made before.
    ///
    /// # Panics
    ///
    /// When the operating system's random number generator fails, as `rand` does.
    pub fn generate() -> Self {
        Self(encode_base32(WEBHOOK_ID_PREFIX, next_time_ordered()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A 128-bit value: milliseconds since the epoch in the top 48 bits, random below, greater
/// than every value this process returned before.
fn next_time_ordered() -> u128 {
    next_time_ordered_block(0)
}

/// The first of `2^bits` consecutive values reserved at once: [`next_time_ordered`] with
/// the low `bits` zero (random above them), every value of the block greater than those
/// this process returned before and smaller than those it returns after.
fn next_time_ordered_block(bits: u32) -> u128 {
    let block = (1u128 << bits) - 1;
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis())
        & ((1 << 48) - 1);
    let mut random = [0u8; 16];
    SysRng
        .try_fill_bytes(&mut random)
        .expect("the operating system's random number generator failed");
    let candidate =
        ((millis << RANDOM_BITS) | (u128::from_be_bytes(random) >> (128 - RANDOM_BITS))) & !block;
    let mut last = LAST_ID
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let first = candidate.max((*last | block).wrapping_add(1));
    *last = first | block;
    first
}

fn encode_base32(prefix: &str, value: u128) -> String {
    let mut text = String::with_capacity(prefix.len() + WEBHOOK_ID_DIGITS);
    text.push_str(prefix);
    for position in (0..WEBHOOK_ID_DIGITS).rev() {
        let digit = (value >> (position * 5)) & 31;
        text.push(char::from(ALPHABET[digit as usize]));
    }
    text
}

impl FromStr for WebhookId {
    type Err = InvalidId;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        check_time_ordered(
            text,
            (WEBHOOK_ID_PREFIX, "must start with `wh_`"),
            IdKind::Webhook,
        )?;
        Ok(Self(text.to_owned()))
    }
}

/// Checks the shape of a time-ordered id: `prefix` and 26 base-32 digits of a 128-bit value.
fn check_time_ordered(
    text: &str,
    (prefix, missing_prefix): (&str, &'static str),
    kind: IdKind,
) -> Result<(), InvalidId> {
    let invalid = |reason| InvalidId::new(kind, reason);
    if text.is_empty() {
        return Err(invalid("empty"));
    }
    if text.len() != prefix.len() + WEBHOOK_ID_DIGITS {
        return Err(invalid("wrong length"));
    }
    let digits = text.strip_prefix(prefix).ok_or(invalid(missing_prefix))?;
    if !digits.bytes().all(|byte| ALPHABET.contains(&byte)) {
        return Err(invalid(
            "only lowercase base-32 digits may follow the prefix",
        ));
    }
    // 26 digits hold 130 bits; the first may only carry the top 3 of a 128-bit value.
    if digits.as_bytes()[0] > b'7' {
        return Err(invalid("out of range"));
    }
    Ok(())
}

impl TryFrom<String> for WebhookId {
    type Error = InvalidId;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl From<WebhookId> for String {
    fn from(id: WebhookId) -> Self {
        id.0
    }
}

impl fmt::Display for WebhookId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

const DELIVERY_ID_PREFIX: &str = "dlv_";

/// The id of a queued delivery (one event for one webhook): `dlv_` and 26 base-32 digits,
/// time-ordered like [`WebhookId`]s.
///
/// ```
/// use webhook_kit::DeliveryId;
///
/// let id = DeliveryId::generate();
/// assert_eq!(id.as_str().parse::<DeliveryId>(), Ok(id));
/// assert_eq!("wh_nope".parse::<DeliveryId>().unwrap_err().code(), "id_invalid");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DeliveryId(String);

/// How many low bits of a delivery id a block numbers (see [`DeliveryId::block`]): the
/// last 6 of its 26 digits.
pub(crate) const DELIVERY_BLOCK_BITS: u32 = 30;

impl DeliveryId {
    /// Makes a new id, greater than every id this process made before.
    ///
    /// # Panics
    ///
    /// When the operating system's random number generator fails, as `rand` does.
    pub fn generate() -> Self {
        Self(encode_base32(DELIVERY_ID_PREFIX, next_time_ordered()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A block of `2^30` delivery ids reserved at once, for a store that numbers the
    /// deliveries of one enqueue itself (in SQL): the ids are this text followed by 6 base-32
    /// digits of the number, from `000000`. Numbered in order, they sort as their numbers
    /// do, after every id this process made before and before every id it makes after.
    /// 50 random bits stay above the number, so blocks made by other processes in the same
    /// millisecond do not meet.
    pub(crate) fn block() -> String {
        let digits = (DELIVERY_BLOCK_BITS / 5) as usize;
        let mut text = encode_base32(
            DELIVERY_ID_PREFIX,
            next_time_ordered_block(DELIVERY_BLOCK_BITS),
        );
        text.truncate(text.len() - digits);
        text
    }
}

impl FromStr for DeliveryId {
    type Err = InvalidId;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        check_time_ordered(
            text,
            (DELIVERY_ID_PREFIX, "must start with `dlv_`"),
            IdKind::Delivery,
        )?;
        Ok(Self(text.to_owned()))
    }
}

impl TryFrom<String> for DeliveryId {
    type Error = InvalidId;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl From<DeliveryId> for String {
    fn from(id: DeliveryId) -> Self {
        id.0
    }
}

impl fmt::Display for DeliveryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Longest account or organisation id, in bytes.
pub const MAX_NAME_LEN: usize = 255;

fn check_name(text: &str, kind: IdKind) -> Result<(), InvalidId> {
    let invalid = |reason| InvalidId::new(kind, reason);
    if text.is_empty() {
        return Err(invalid("empty"));
    }
    if text.len() > MAX_NAME_LEN {
        return Err(invalid("longer than 255 bytes"));
    }
    if !text.bytes().all(|byte| byte.is_ascii_graphic()) {
        return Err(invalid("only visible ASCII characters are allowed"));
    }
    if kind == IdKind::Event && text.contains('.') {
        return Err(invalid("must not contain `.`"));
    }
    Ok(())
}

macro_rules! name_type {
    ($(#[$doc:meta])* $name:ident, $kind:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = InvalidId;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                check_name(text, $kind)?;
                Ok(Self(text.to_owned()))
            }
        }

        impl TryFrom<String> for $name {
            type Error = InvalidId;

            fn try_from(text: String) -> Result<Self, Self::Error> {
                check_name(&text, $kind)?;
                Ok(Self(text))
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> Self {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

name_type!(
    /// An account of the host service's organisation: 1 to 255 visible ASCII characters.
    ///
    /// A malformed one is refused with the code `account_ids_invalid`.
    ///
    /// ```
    /// use webhook_kit::AccountId;
    ///
    /// assert!("acc_42".parse::<AccountId>().is_ok());
    /// assert!("acc 42".parse::<AccountId>().is_err());
    /// ```
    AccountId,
    IdKind::Account
);

name_type!(
    /// The organisation that owns webhooks: 1 to 255 visible ASCII characters.
    ///
    /// A malformed one is refused with the code `id_invalid`.
    OrganizationId,
    IdKind::Organization
);

name_type!(
    /// The id of an event: 1 to 255 visible ASCII characters without `.`.
    ///
    /// It becomes the `webhook-id` header of every delivery of the event and stays the same
    /// across retries, so receivers can de-duplicate by it. A malformed one is `id_invalid`.
    ///
    /// ```
    /// use webhook_kit::EventId;
    ///
    /// assert!("msg_2KWPBgLlAfxdpx2AI54pPJ85f4W".parse::<EventId>().is_ok());
    /// assert!("msg.1".parse::<EventId>().is_err());
    /// assert!(EventId::generate().as_str().starts_with("msg_"));
    /// ```
    EventId,
    IdKind::Event
);

impl EventId {
    /// A new id, `msg_` and 26 base-32 digits, time-ordered like [`WebhookId`]s.
    ///
    /// # Panics
    ///
    /// When the operating system's random number generator fails, as `rand` does.
    pub fn generate() -> Self {
        Self(encode_base32("msg_", next_time_ordered()))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn generated_ids_parse_back_and_increase() {
        let mut previous = WebhookId::generate();
        for _ in 0..10_000 {
            let next = WebhookId::generate();
            assert!(next > previous, "{next} should sort after {previous}");
            assert_eq!(next.as_str().parse::<WebhookId>().as_ref(), Ok(&next));
            previous = next;
        }
    }

    #[test]
    fn a_block_of_delivery_ids_sorts_between_the_ids_around_it() {
        let before = DeliveryId::generate();
        let block = DeliveryId::block();
        let after = DeliveryId::generate();
        assert_eq!(
            block.len(),
            DELIVERY_ID_PREFIX.len() + WEBHOOK_ID_DIGITS - 6
        );
        let numbered = |number: u128| {
            let digits = encode_base32("", number);
            format!("{block}{}", &digits[digits.len() - 6..])
        };
        let (first, last) = (numbered(0), numbered((1 << DELIVERY_BLOCK_BITS) - 1));
        assert!(first.ends_with("000000") && last.ends_with("zzzzzz"));
        for id in [&first, &numbered(31), &numbered(32), &last] {
            let id: DeliveryId = id.parse().unwrap();
            assert!(before < id && id < after, "{before} < {id} < {after}");
        }
        assert!(numbered(31) < numbered(32));
        assert!(
            DeliveryId::block() > last,
            "the next block comes after this one"
        );
    }

    #[test]
    fn encoding_is_fixed_width_and_ordered() {
        assert_eq!(encode_base32("wh_", 0), "wh_00000000000000000000000000");
        assert_eq!(
            encode_base32("wh_", u128::MAX),
            "wh_7zzzzzzzzzzzzzzzzzzzzzzzzz"
        );
        assert!(encode_base32("wh_", 31) < encode_base32("wh_", 32));
    }
}
