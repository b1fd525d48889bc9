//! Helpers shared by the SQL store tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub mod sealing;

/// The keyring of the stores the contract suite runs on. The same key for every test
/// binary and run: they may share one database (`DATABASE_URL`), whose key check value
/// holds it to the key first used under id 1.
pub fn keyring() -> Keyring {
    Keyring::new(EncryptionKey::new(1, [0x11; 32]))
}

/// A store with its own pool on the SQLite file this test binary shares (migrated once,
/// emptied at the binary's start), sealing secrets with [`keyring`].
#[cfg(feature = "sqlite")]
pub async fn sqlite_store() -> webhook_kit::SqliteStore {
    use webhook_kit::SqliteStore;
    static PATH: tokio::sync::OnceCell<std::path::PathBuf> = tokio::sync::OnceCell::const_new();
    let path = PATH
        .get_or_init(|| async {
            // One file per test binary, in cargo's scratch directory for tests.
            let binary = std::env::current_exe().unwrap();
            let name = binary.file_stem().unwrap().to_string_lossy().into_owned();
            let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}.db"));
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
            }
            let store = SqliteStore::open(&path).await.unwrap();
            store.migrate().await.unwrap();
            store.pool().close().await;
            path
        })
        .await;
    SqliteStore::open(path)
        .await
        .unwrap()
        .with_keyring(keyring())
}

/// A store on a new, empty, migrated SQLite file of its own (for the queue's contract,
/// whose claims take whatever is due in the whole store).
#[cfg(feature = "sqlite")]
pub async fn fresh_sqlite_store() -> webhook_kit::SqliteStore {
    let name = format!("queue-{}.db", WebhookId::generate());
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let store = webhook_kit::SqliteStore::open(&path)
        .await
        .unwrap()
        .with_keyring(keyring());
    store.migrate().await.unwrap();
    store
}

/// A store on a new, empty, migrated PostgreSQL database of its own.
#[cfg(feature = "postgres")]
pub async fn fresh_postgres_store() -> webhook_kit::PostgresStore {
    let url = postgres::fresh_database().await;
    let store = webhook_kit::PostgresStore::connect(&url)
        .await
        .unwrap()
        .with_keyring(keyring());
    store.migrate().await.unwrap();
    store
}

/// A store with its own pool on the PostgreSQL database this test binary shares (migrated
/// once), sealing secrets with [`keyring`].
#[cfg(feature = "postgres")]
pub async fn postgres_store() -> webhook_kit::PostgresStore {
    use webhook_kit::PostgresStore;
    static MIGRATED: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    MIGRATED
        .get_or_init(|| async {
            let store = PostgresStore::connect(postgres::shared_url())
                .await
                .unwrap();
            store.migrate().await.unwrap();
            store.pool().close().await;
        })
        .await;
    PostgresStore::connect(postgres::shared_url())
        .await
        .unwrap()
        .with_keyring(keyring())
}

use base64::Engine as _;
use chrono::{TimeDelta, Utc};
use webhook_kit::{
    AccountFilter, AccountId, AccountType, EncryptionKey, Keyring, OrganizationId, PreviousSecret,
    SchemaError, Scope, SealError, Secret, StoreError, Webhook, WebhookId, WebhookStore,
};

/// A scope of its own for each test, so that one database serves them all.
pub fn scope() -> Scope {
    let organization: OrganizationId = format!("org_{}", WebhookId::generate()).parse().unwrap();
    Scope::new(organization, AccountType::Live)
}

pub fn account(name: &str) -> AccountId {
    name.parse().unwrap()
}

/// A new webhook of `scope` filtering on `accounts` (all accounts when empty).
pub fn webhook(scope: &Scope, accounts: &[&str]) -> Webhook {
    Webhook::new(
        scope.clone(),
        "https://example.com/hooks".parse().unwrap(),
        AccountFilter::from_ids(accounts.iter().map(|name| account(name))).unwrap(),
    )
}

/// `webhook` rotated with an overlap: a new secret, the old one kept until a time with
/// nanoseconds, and the revision bumped.
pub fn rotated(webhook: &Webhook) -> Webhook {
    let mut parts = webhook.clone().into_parts();
    let old = std::mem::replace(&mut parts.secret, Secret::generate());
    parts.previous_secrets.insert(
        0,
        PreviousSecret {
            secret: old,
            expires_at: Utc::now() + TimeDelta::nanoseconds(3_600_000_000_123),
        },
    );
    parts.revision += 1;
    Webhook::from_parts(parts)
}

/// `webhook` with a new account filter, disabled, the revision bumped.
pub fn refiltered(webhook: &Webhook, accounts: &[&str]) -> Webhook {
    let mut parts = webhook.clone().into_parts();
    parts.account_filter =
        AccountFilter::from_ids(accounts.iter().map(|name| account(name))).unwrap();
    parts.enabled = !parts.enabled;
    parts.revision += 1;
    Webhook::from_parts(parts)
}

/// Asserts that two webhooks hold the same values in every field.
pub fn assert_same(got: &Webhook, want: &Webhook) {
    assert_eq!(got.id(), want.id());
    assert_eq!(got.scope(), want.scope());
    assert_eq!(got.url(), want.url());
    assert_eq!(got.enabled(), want.enabled());
    assert_eq!(got.account_filter(), want.account_filter());
    assert_eq!(got.created_at(), want.created_at());
    assert_eq!(got.secret().expose_secret(), want.secret().expose_secret());
    assert_eq!(got.previous_secrets().len(), want.previous_secrets().len());
    for (got, want) in got.previous_secrets().iter().zip(want.previous_secrets()) {
        assert_eq!(got.secret.expose_secret(), want.secret.expose_secret());
        assert_eq!(got.expires_at, want.expires_at);
    }
    assert_eq!(got.revision(), want.revision());
}

fn ids(webhooks: &[Webhook]) -> Vec<&WebhookId> {
    webhooks.iter().map(Webhook::id).collect()
}

/// The trait's semantics, through a store built on a migrated database: what the contract
/// suite checks in depth, here the cases where SQL could differ from memory.
pub async fn store_semantics<S: WebhookStore>(store: &S) {
    let scope = scope();
    let all = webhook(&scope, &[]);
    let for_a = webhook(&scope, &["acc_a", "acc_b"]);
    let for_c = webhook(&scope, &["acc_c"]);
    for hook in [&all, &for_a, &for_c] {
        store.insert(hook).await.unwrap();
    }
    assert!(matches!(
        store.insert(&for_a).await,
        Err(StoreError::AlreadyExists)
    ));

    // Every field survives, times to the nanosecond.
    let rotated_a = rotated(&for_a);
    store.replace(&rotated_a, 1).await.unwrap();
    assert_same(
        &store.get(&scope, for_a.id()).await.unwrap().unwrap(),
        &rotated_a,
    );

    // Scope isolation: another organisation or the other account type sees nothing.
    let other = Scope::new(self::scope().organization().clone(), AccountType::Live);
    let test_mode = Scope::new(scope.organization().clone(), AccountType::Test);
    for outsider in [&other, &test_mode] {
        assert!(store.get(outsider, all.id()).await.unwrap().is_none());
        assert!(store.list(outsider, None).await.unwrap().is_empty());
        assert!(matches!(
            store.delete(outsider, all.id()).await,
            Err(StoreError::NotFound)
        ));
    }

    // Listing: id order, and the account filter through the join table.
    let listed = store.list(&scope, None).await.unwrap();
    assert_eq!(ids(&listed), vec![all.id(), for_a.id(), for_c.id()]);
    let for_b = store.list(&scope, Some(&account("acc_b"))).await.unwrap();
    assert_eq!(ids(&for_b), vec![all.id(), for_a.id()]);
    let for_z = store.list(&scope, Some(&account("acc_z"))).await.unwrap();
    assert_eq!(ids(&for_z), vec![all.id()]);

    // Revisions are checked by the write itself.
    let stale = refiltered(&for_c, &["acc_b"]);
    assert!(matches!(
        store.replace(&stale, 7).await,
        Err(StoreError::Conflict {
            expected: 7,
            actual: 1
        })
    ));
    store.replace(&stale, 1).await.unwrap();
    assert!(matches!(
        store.replace(&refiltered(&stale, &[]), 1).await,
        Err(StoreError::Conflict {
            expected: 1,
            actual: 2
        })
    ));
    let for_b = store.list(&scope, Some(&account("acc_b"))).await.unwrap();
    assert_eq!(ids(&for_b), vec![all.id(), for_a.id(), for_c.id()]);
    assert!(
        store
            .list(&scope, Some(&account("acc_c")))
            .await
            .unwrap()
            .len()
            == 1
    );
    // A filter cleared to "all accounts" matches every account.
    let cleared = refiltered(&stale, &[]);
    store.replace(&cleared, 2).await.unwrap();
    let for_z = store.list(&scope, Some(&account("acc_z"))).await.unwrap();
    assert_eq!(ids(&for_z), vec![all.id(), for_c.id()]);
    assert_same(
        &store.get(&scope, for_c.id()).await.unwrap().unwrap(),
        &cleared,
    );

    // A write in another scope, or of an unknown id, is not found.
    let mut parts = webhook(&test_mode, &[]).into_parts();
    parts.id = all.id().clone();
    let wrong_scope = Webhook::from_parts(parts);
    assert!(matches!(
        store.replace(&wrong_scope, 1).await,
        Err(StoreError::NotFound)
    ));
    let unknown = webhook(&scope, &[]);
    assert!(matches!(
        store.replace(&unknown, 1).await,
        Err(StoreError::NotFound)
    ));

    // Delete removes the webhook and its account rows.
    store.delete(&scope, for_a.id()).await.unwrap();
    assert!(store.get(&scope, for_a.id()).await.unwrap().is_none());
    assert!(matches!(
        store.delete(&scope, for_a.id()).await,
        Err(StoreError::NotFound)
    ));
    let for_a_now = store.list(&scope, Some(&account("acc_a"))).await.unwrap();
    assert_eq!(ids(&for_a_now), vec![all.id(), for_c.id()]);
}

/// The `SchemaError` inside a store error, asserting it is a non-retryable backend failure.
pub fn schema_error(error: StoreError) -> SchemaError {
    assert!(!error.is_retryable(), "{error:?}");
    match error {
        StoreError::Backend { source, .. } => source
            .downcast_ref::<SchemaError>()
            .unwrap_or_else(|| panic!("not a SchemaError: {source:?}"))
            .clone(),
        other => panic!("not a backend error: {other:?}"),
    }
}

/// Every way the bytes of `secret` could show: text, key bytes, base64, hex.
pub fn forms_of(secret: &Secret) -> Vec<Vec<u8>> {
    let key = secret.expose_key();
    vec![
        secret.expose_secret().as_bytes().to_vec(),
        key.to_vec(),
        hex(key).into_bytes(),
        hex(secret.expose_secret().as_bytes()).into_bytes(),
        base64::engine::general_purpose::STANDARD
            .encode(&key[..18])
            .into_bytes(),
    ]
}

fn key_forms(key: &EncryptionKey) -> Vec<Vec<u8>> {
    let base64 = key.expose_base64();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(base64.as_bytes())
        .unwrap();
    vec![base64.as_bytes().to_vec(), hex(&bytes).into_bytes(), bytes]
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

/// The `SealError` inside a store error, asserting that the error is non-retryable and
/// that its message and debug form show no secret. A row that does not open is
/// `StoreError::Unreadable` (naming the webhook); a keyring refused at start is a backend
/// failure.
pub fn seal_error<T: std::fmt::Debug>(result: Result<T, StoreError>, secret: &Secret) -> SealError {
    let error = result.expect_err("reading a row that does not open must fail");
    assert!(!error.is_retryable(), "{error:?}");
    for shown in [format!("{error}"), format!("{error:?}")] {
        for form in forms_of(secret) {
            assert!(
                !contains(shown.as_bytes(), &form),
                "error shows the secret: {shown}"
            );
        }
    }
    let reason: &(dyn std::error::Error + Send + Sync) = match &error {
        StoreError::Backend { source, .. } => &**source,
        StoreError::Unreadable(unreadable) => unreadable.reason(),
        other => panic!("not a backend error: {other:?}"),
    };
    *reason
        .downcast_ref::<SealError>()
        .unwrap_or_else(|| panic!("not a SealError: {reason:?}"))
}

/// Secrets at rest: sealed with the current key, bound to their row, unreadable without
/// the right key, readable across a key rotation. `make` builds a store on one migrated
/// database; `raw` returns every byte stored for a webhook, read with plain SQL (or the
/// database files themselves).
pub async fn secrets_at_rest<S: WebhookStore>(
    make: impl Fn(Option<Keyring>) -> S,
    raw: impl AsyncFn(&WebhookId) -> Vec<u8>,
) {
    let first_key = EncryptionKey::generate(1);
    let sealed_store = make(Some(Keyring::new(first_key.clone())));
    let scope = scope();
    let original = webhook(&scope, &["acc_a"]);
    sealed_store.insert(&original).await.unwrap();
    let hook = rotated(&original);
    sealed_store.replace(&hook, 1).await.unwrap();

    // Nothing stored shows the secrets, the old one or the key.
    let stored = raw(hook.id()).await;
    assert!(
        contains(&stored, hook.id().as_str().as_bytes()),
        "raw read found the row"
    );
    let mut forbidden = forms_of(hook.secret());
    forbidden.extend(forms_of(&hook.previous_secrets()[0].secret));
    forbidden.extend(key_forms(&first_key));
    for form in &forbidden {
        assert!(!contains(&stored, form), "plaintext found at rest");
    }
    assert_same(
        &sealed_store.get(&scope, hook.id()).await.unwrap().unwrap(),
        &hook,
    );

    // A wrong key under the same id is refused before any read (its key check value does
    // not open); an unknown key id or no keyring: clean errors for the row.
    let wrong = make(Some(Keyring::new(EncryptionKey::generate(1))));
    assert_eq!(
        seal_error(wrong.get(&scope, hook.id()).await, hook.secret()),
        SealError::KeyMismatch { key_id: 1 }
    );
    assert_eq!(
        seal_error(wrong.list(&scope, None).await, hook.secret()),
        SealError::KeyMismatch { key_id: 1 }
    );
    let unknown = make(Some(Keyring::new(EncryptionKey::generate(9))));
    assert_eq!(
        seal_error(unknown.get(&scope, hook.id()).await, hook.secret()),
        SealError::UnknownKey { key_id: 1 }
    );
    let plain = make(None);
    assert_eq!(
        seal_error(plain.get(&scope, hook.id()).await, hook.secret()),
        SealError::NoKeyring
    );

    // Rotation: the new keyring opens rows of the retired key and seals writes with the new.
    let second_key = EncryptionKey::generate(2);
    let rotated_store = make(Some(
        Keyring::new(second_key.clone())
            .with_retired(first_key.clone())
            .unwrap(),
    ));
    assert_same(
        &rotated_store.get(&scope, hook.id()).await.unwrap().unwrap(),
        &hook,
    );
    let rewritten = refiltered(&hook, &["acc_b"]);
    rotated_store.replace(&rewritten, 2).await.unwrap();
    assert_eq!(
        seal_error(sealed_store.get(&scope, hook.id()).await, hook.secret()),
        SealError::UnknownKey { key_id: 2 }
    );
    assert_same(
        &make(Some(Keyring::new(second_key.clone())))
            .get(&scope, hook.id())
            .await
            .unwrap()
            .unwrap(),
        &rewritten,
    );
    let stored = raw(hook.id()).await;
    for form in forbidden.iter().chain(&key_forms(&second_key)) {
        assert!(
            !contains(&stored, form),
            "plaintext found at rest after rotation"
        );
    }

    // Plaintext rows (written without a keyring) are refused by a sealing store unless it
    // accepts them for the switch to encryption; their next write seals them.
    let legacy = webhook(&scope, &[]);
    plain.insert(&legacy).await.unwrap();
    let legacy_row = raw(legacy.id()).await;
    assert!(
        forms_of(legacy.secret())
            .iter()
            .any(|form| contains(&legacy_row, form)),
        "without a keyring the secret is stored in plaintext"
    );
    assert_eq!(
        seal_error(
            rotated_store.get(&scope, legacy.id()).await,
            legacy.secret()
        ),
        SealError::Plaintext
    );
    let switching = make(Some(Keyring::new(second_key).accepting_plaintext()));
    let read = switching.get(&scope, legacy.id()).await.unwrap().unwrap();
    assert_same(&read, &legacy);
    let resealed = refiltered(&legacy, &["acc_c"]);
    switching.replace(&resealed, 1).await.unwrap();
    assert_eq!(
        seal_error(plain.get(&scope, legacy.id()).await, legacy.secret()),
        SealError::NoKeyring
    );
    let resealed_row = raw(legacy.id()).await;
    for form in forms_of(resealed.secret()) {
        assert!(
            !contains(&resealed_row, &form),
            "plaintext left after resealing"
        );
    }
}

/// Rows of the account index planted by hand with plain SQL (`plant(scope, account, webhook
/// id)`) that point at the wrong webhooks never change what the store lists: another scope's
/// webhook stays hidden, and no webhook is listed twice or for an account it does not serve.
pub async fn stray_index_rows_change_no_listing<S: WebhookStore>(
    store: &S,
    plant: impl AsyncFn(&Scope, &str, &WebhookId),
) {
    let owner = scope();
    let intruder = scope();
    let for_a = webhook(&owner, &["acc_a"]);
    let for_all = webhook(&owner, &[]);
    let for_b = webhook(&owner, &["acc_b"]);
    for hook in [&for_a, &for_all, &for_b] {
        store.insert(hook).await.unwrap();
    }
    let before = store.list(&owner, Some(&account("acc_a"))).await.unwrap();

    plant(&intruder, "acc_a", for_a.id()).await;
    plant(&owner, "acc_a", for_all.id()).await;
    plant(&owner, "acc_a", for_b.id()).await;

    let intruding = store
        .list(&intruder, Some(&account("acc_a")))
        .await
        .unwrap();
    assert!(intruding.is_empty(), "another scope's webhook was listed");
    let after = store.list(&owner, Some(&account("acc_a"))).await.unwrap();
    let ids = |hooks: &[Webhook]| {
        hooks
            .iter()
            .map(|hook| hook.id().clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&after), ids(&before));
    assert_eq!(ids(&after), [for_a.id().clone(), for_all.id().clone()]);
}
