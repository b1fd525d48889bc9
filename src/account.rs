//! Which accounts a webhook serves: the account type of its scope and its account filter.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::id::{AccountId, IdKind, InvalidId};

/// Most account ids one webhook's filter may hold.
pub const MAX_ACCOUNT_IDS: usize = 1000;

/// Live or test: the mode the caller was in when the webhook was created. Never changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccountType {
    /// Real accounts.
    Live,
    /// Test accounts.
    Test,
}

impl AccountType {
    /// `"live"` or `"test"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            AccountType::Live => "live",
            AccountType::Test => "test",
        }
    }
}

impl fmt::Display for AccountType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Anything but `live` or `test` was given as an account type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("account type must be `live` or `test`")]
pub struct InvalidAccountType;

impl FromStr for AccountType {
    type Err = InvalidAccountType;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "live" => Ok(AccountType::Live),
            "test" => Ok(AccountType::Test),
            _ => Err(InvalidAccountType),
        }
    }
}

/// The accounts whose events a webhook receives: all of the organisation's, or a set.
///
/// Kept as a sorted set without duplicates; an empty list means all accounts, as in the seed.
///
/// ```
/// use webhook_kit::{AccountFilter, AccountId};
///
/// let a: AccountId = "acc_a".parse().unwrap();
/// let b: AccountId = "acc_b".parse().unwrap();
/// let only_a = AccountFilter::from_ids([a.clone(), a.clone()]).unwrap();
/// assert!(only_a.matches(&a) && !only_a.matches(&b));
/// assert!(AccountFilter::all().matches(&b));
/// assert!(AccountFilter::from_ids([]).unwrap().is_all());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct AccountFilter {
    /// Empty means all accounts.
    ids: BTreeSet<AccountId>,
}

impl AccountFilter {
    /// Every account of the organisation.
    pub const fn all() -> Self {
        Self {
            ids: BTreeSet::new(),
        }
    }

    /// Only the given accounts; no ids at all means every account. Duplicates count once.
    ///
    /// Stops reading `ids` at the first distinct id past [`MAX_ACCOUNT_IDS`].
    ///
    /// # Errors
    ///
    /// `account_ids_invalid` when more than [`MAX_ACCOUNT_IDS`] distinct ids are given.
    pub fn from_ids(ids: impl IntoIterator<Item = AccountId>) -> Result<Self, InvalidId> {
        let mut set = BTreeSet::new();
        for id in ids {
            set.insert(id);
            if set.len() > MAX_ACCOUNT_IDS {
                return Err(InvalidId::new(
                    IdKind::Account,
                    "a webhook may filter on at most 1000 accounts",
                ));
            }
        }
        Ok(Self { ids: set })
    }

    /// Whether every account's events go to the webhook.
    pub fn is_all(&self) -> bool {
        self.ids.is_empty()
    }

    /// The accounts of the filter, sorted; empty when it is "all accounts".
    pub fn account_ids(&self) -> &BTreeSet<AccountId> {
        &self.ids
    }

    /// Whether events of `account` go to the webhook.
    pub fn matches(&self, account: &AccountId) -> bool {
        self.ids.is_empty() || self.ids.contains(account)
    }
}
