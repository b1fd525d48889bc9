//! Sealed secrets on a real SQL database: the binding to the scope, the format before the
//! version byte, the key check at start-up, unreadable rows and re-sealing. Each function
//! takes a store on a database of its own (no keyring) and runs against both SQL stores.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use chacha20poly1305::aead::{AeadInOut, KeyInit};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use webhook_kit::{
    AccountType, CreateWebhookRequest, EncryptionKey, Error, Event, EventId, Keyring, ResealBatch,
    ResealReport, Scope, SealError, StoreError, UpdateWebhookRequest, Webhook, WebhookId,
    WebhookStore, Webhooks,
};

use super::{assert_same, forms_of, rotated, scope, seal_error, webhook};

/// A SQL store as these tests drive it: the same database under other keyrings, its
/// maintenance calls, and plain SQL on its tables.
pub trait SqlBackend: WebhookStore + Clone {
    /// A store on the same database with `keyring` (none: plaintext).
    fn keyed(&self, keyring: Option<Keyring>) -> Self;
    async fn migrate_store(&self) -> Result<(), StoreError>;
    async fn reseal_all(&self, batch_size: u32) -> Result<ResealReport, StoreError>;
    async fn reseal_batch(
        &self,
        after: Option<&WebhookId>,
        limit: u32,
    ) -> Result<ResealBatch, StoreError>;
    /// Runs a statement of plain SQL.
    async fn execute(&self, sql: &str);
    /// The SQL literal of `bytes`.
    fn bytes_literal(bytes: &[u8]) -> String;
    /// A `bytea`/`BLOB` column of the webhook `id`.
    async fn bytes_column(&self, id: &WebhookId, column: &str) -> Option<Vec<u8>>;
    /// An integer (or count) read with plain SQL.
    async fn integer(&self, sql: &str) -> Option<i64>;
    /// A text column of the webhook `id`.
    async fn text_column(&self, id: &WebhookId, column: &str) -> Option<String>;
    /// A connection of the pool that ran `sql` inside a transaction it keeps open: the
    /// rows it wrote stay locked, their change unseen, until [`commit`](Self::commit).
    async fn uncommitted(&self, sql: &str) -> Self::Held;
    /// Commits what [`uncommitted`](Self::uncommitted) wrote.
    async fn commit(held: Self::Held);
    /// An open transaction.
    type Held;
}

fn key_bytes(key: &EncryptionKey) -> [u8; 32] {
    let bytes = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        key.expose_base64().as_bytes(),
    )
    .unwrap();
    bytes.try_into().unwrap()
}

/// `nonce || ciphertext || tag` bound to the webhook id and column only: the format earlier
/// releases wrote, before the version byte and the scope binding.
pub fn legacy_seal(key: &EncryptionKey, id: &WebhookId, column: &str, plaintext: &[u8]) -> Vec<u8> {
    let nonce: [u8; 24] = rand_nonce();
    let mut aad = id.as_str().as_bytes().to_vec();
    aad.push(0);
    aad.extend_from_slice(column.as_bytes());
    let mut sealed = nonce.to_vec();
    sealed.extend_from_slice(plaintext);
    let tag = XChaCha20Poly1305::new(&Key::from(key_bytes(key)))
        .encrypt_inout_detached(&XNonce::from(nonce), &aad, (&mut sealed[24..]).into())
        .unwrap();
    sealed.extend_from_slice(&tag);
    sealed
}

fn rand_nonce() -> [u8; 24] {
    // Any 24 bytes do for a test; distinct per call through a fresh id.
    let seed = WebhookId::generate();
    let mut nonce = [0u8; 24];
    for (byte, source) in nonce.iter_mut().zip(seed.as_str().bytes().rev()) {
        *byte = source;
    }
    nonce
}

/// Writing a row's `organization` or `account_type` moves it to another scope: its sealed
/// secrets no longer open there, and the service says `webhook_unreadable`.
pub async fn sealed_rows_are_bound_to_their_scope<S: SqlBackend>(plain: &S) {
    let key = EncryptionKey::generate(1);
    let store = plain.keyed(Some(Keyring::new(key)));
    let scope = scope();
    let hook = rotated(&webhook(&scope, &[]));
    store.insert(&hook).await.unwrap();
    let id = hook.id().as_str();
    let elsewhere = format!("org_{}", WebhookId::generate());

    plain
        .execute(&format!(
            "UPDATE webhook_kit_webhooks SET organization = '{elsewhere}' WHERE id = '{id}'"
        ))
        .await;
    let moved = Scope::new(elsewhere.parse().unwrap(), AccountType::Live);
    assert_eq!(
        seal_error(store.get(&moved, hook.id()).await, hook.secret()),
        SealError::Unauthentic { key_id: 1 }
    );
    let service = Webhooks::new(store.clone());
    let error = service.webhook(&moved, id).await.unwrap_err();
    assert_eq!(error.code(), "webhook_unreadable");
    assert_eq!(error.http_status(), 500);
    match &error {
        Error::Unreadable(unreadable) => assert_eq!(unreadable.webhook_id(), hook.id()),
        other => panic!("{other:?}"),
    }

    plain
        .execute(&format!(
            "UPDATE webhook_kit_webhooks SET organization = '{}', account_type = 'test' \
             WHERE id = '{id}'",
            scope.organization()
        ))
        .await;
    let test_mode = Scope::new(scope.organization().clone(), AccountType::Test);
    assert_eq!(
        seal_error(store.get(&test_mode, hook.id()).await, hook.secret()),
        SealError::Unauthentic { key_id: 1 }
    );

    // Put back where it belongs, it opens again.
    plain
        .execute(&format!(
            "UPDATE webhook_kit_webhooks SET account_type = 'live' WHERE id = '{id}'"
        ))
        .await;
    assert_same(&store.get(&scope, hook.id()).await.unwrap().unwrap(), &hook);
}

/// Rows sealed in the format before the version byte (and written before the hint column)
/// still open, list with their hint, and are sealed in the current format on their next
/// write, after which they are bound to their scope too.
pub async fn old_format_rows_open_and_are_sealed_again_on_their_next_write<S: SqlBackend>(
    plain: &S,
) {
    let key = EncryptionKey::generate(1);
    let store = plain.keyed(Some(Keyring::new(key.clone())));
    let scope = scope();
    let hook = webhook(&scope, &[]);
    store.insert(&hook).await.unwrap();
    write_legacy(plain, &key, &hook).await;
    let id = hook.id().as_str();

    let read = store.get(&scope, hook.id()).await.unwrap().unwrap();
    assert_same(&read, &hook);
    let listed = store.list_masked(&scope, None).await.unwrap();
    assert_eq!(listed[0].secret_last4(), hook.secret().masked());
    // The old format binds the id and column only: moved, it still opens (why it is
    // sealed again).
    let elsewhere = format!("org_{}", WebhookId::generate());
    plain
        .execute(&format!(
            "UPDATE webhook_kit_webhooks SET organization = '{elsewhere}' WHERE id = '{id}'"
        ))
        .await;
    let moved = Scope::new(elsewhere.parse().unwrap(), AccountType::Live);
    assert!(store.get(&moved, hook.id()).await.unwrap().is_some());
    plain
        .execute(&format!(
            "UPDATE webhook_kit_webhooks SET organization = '{}' WHERE id = '{id}'",
            scope.organization()
        ))
        .await;

    // The next write seals it in the current format, with its hint.
    let service = Webhooks::new(plain.keyed(Some(Keyring::new(key.clone()))));
    let update = UpdateWebhookRequest::new("https://example.com/moved".parse().unwrap());
    service.update(&scope, id, update).await.unwrap();
    let sealed = plain.bytes_column(hook.id(), "secret").await.unwrap();
    assert_eq!(sealed[0], webhook_kit::SEALED_FORMAT_VERSION);
    assert_eq!(
        sealed.len(),
        1 + webhook_kit::NONCE_LEN + hook.secret().expose_secret().len() + 16
    );
    assert_eq!(
        plain
            .text_column(hook.id(), "secret_last4")
            .await
            .as_deref(),
        Some(&*hook.secret().masked())
    );
    plain
        .execute(&format!(
            "UPDATE webhook_kit_webhooks SET organization = '{elsewhere}' WHERE id = '{id}'"
        ))
        .await;
    assert_eq!(
        seal_error(store.get(&moved, hook.id()).await, hook.secret()),
        SealError::Unauthentic { key_id: 1 }
    );
}

/// Rewrites the row of `hook` as an earlier release left it: secret in the old format, no
/// hint.
async fn write_legacy<S: SqlBackend>(plain: &S, key: &EncryptionKey, hook: &Webhook) {
    let legacy = legacy_seal(
        key,
        hook.id(),
        "secret",
        hook.secret().expose_secret().as_bytes(),
    );
    plain
        .execute(&format!(
            "UPDATE webhook_kit_webhooks SET secret = {}, secret_key_id = {}, \
             previous_secrets = NULL, previous_key_id = NULL, secret_last4 = NULL \
             WHERE id = '{}'",
            S::bytes_literal(&legacy),
            key.id(),
            hook.id()
        ))
        .await;
}

async fn count_rows<S: SqlBackend>(plain: &S) -> i64 {
    plain
        .integer("SELECT COUNT(*) FROM webhook_kit_webhooks")
        .await
        .unwrap()
}

/// The scenario: restarted with a different key under the same key id, the store
/// refuses at start (`migrate`, and every operation before it) with the key id named, and
/// no create succeeds; back on the right key, everything opens.
pub async fn a_different_key_under_a_known_id_is_refused_at_start<S: SqlBackend>(plain: &S) {
    let right = EncryptionKey::generate(1);
    let store = plain.keyed(Some(Keyring::new(right.clone())));
    store.migrate_store().await.unwrap();
    let scope = scope();
    let hook = webhook(&scope, &[]);
    store.insert(&hook).await.unwrap();
    let rows = count_rows(plain).await;

    let wrong = plain.keyed(Some(Keyring::new(EncryptionKey::generate(1))));
    let mismatch = SealError::KeyMismatch { key_id: 1 };
    assert_eq!(
        seal_error(wrong.migrate_store().await, hook.secret()),
        mismatch
    );
    assert_eq!(
        mismatch.to_string(),
        "key 1 is not the key first used under its id: wrong key for this database"
    );
    // A store never migrated by this process checks before its first operation.
    let wrong = plain.keyed(Some(Keyring::new(EncryptionKey::generate(1))));
    let new = webhook(&scope, &[]);
    assert_eq!(
        seal_error(wrong.insert(&new).await, hook.secret()),
        mismatch
    );
    let service = Webhooks::new(plain.keyed(Some(Keyring::new(EncryptionKey::generate(1)))));
    let url = "https://example.com/created".parse().unwrap();
    let error = service
        .create(&scope, CreateWebhookRequest::new(url))
        .await
        .unwrap_err();
    assert_eq!(error.code(), "internal_error");
    // A retired key under a known id is checked too.
    let retiring = plain.keyed(Some(
        Keyring::new(EncryptionKey::generate(2))
            .with_retired(EncryptionKey::generate(1))
            .unwrap(),
    ));
    assert_eq!(
        seal_error(retiring.list(&scope, None).await, hook.secret()),
        mismatch
    );
    assert_eq!(count_rows(plain).await, rows, "nothing was written");

    let back = plain.keyed(Some(Keyring::new(right.clone())));
    back.migrate_store().await.unwrap();
    let listed = back.list(&scope, None).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_same(&listed[0], &hook);

    // A database sealed before key checks existed: the first start records the key, but
    // only if the rows already sealed under its id open with it.
    plain.execute("DELETE FROM webhook_kit_key_checks").await;
    let wrong = plain.keyed(Some(Keyring::new(EncryptionKey::generate(1))));
    assert_eq!(
        seal_error(wrong.migrate_store().await, hook.secret()),
        mismatch
    );
    // Retired keys too; and a refused start stores no value, not even for the sound key.
    let wrong_retired = plain.keyed(Some(
        Keyring::new(EncryptionKey::generate(2))
            .with_retired(EncryptionKey::generate(1))
            .unwrap(),
    ));
    assert_eq!(
        seal_error(wrong_retired.migrate_store().await, hook.secret()),
        mismatch
    );
    assert_eq!(
        plain
            .integer("SELECT COUNT(*) FROM webhook_kit_key_checks")
            .await,
        Some(0)
    );
    back.migrate_store().await.unwrap();
    assert_eq!(
        plain
            .integer("SELECT COUNT(*) FROM webhook_kit_key_checks")
            .await,
        Some(1)
    );
}

/// One row whose secret does not open (here: another webhook's sealed secret copied onto
/// it) takes nothing else down: list and get answer from the hint, deliveries go to every
/// other webhook and name the broken one, and reading it for signing or changing it is
/// `webhook_unreadable`, changing nothing.
pub async fn one_corrupted_row_does_not_take_down_its_scope<S: SqlBackend>(plain: &S) {
    let keyring = Keyring::new(EncryptionKey::generate(1));
    let service = Webhooks::new(plain.keyed(Some(keyring.clone())));
    let scope = scope();
    let mut ids = Vec::new();
    let mut hints = Vec::new();
    for name in ["a", "b", "c"] {
        let url = format!("https://example.com/{name}").parse().unwrap();
        let created = service
            .create(&scope, CreateWebhookRequest::new(url))
            .await
            .unwrap();
        ids.push(created.webhook().id().clone());
        hints.push(created.secret().masked());
    }
    let broken = &ids[1];
    plain
        .execute(&format!(
            "UPDATE webhook_kit_webhooks SET secret = \
             (SELECT secret FROM webhook_kit_webhooks WHERE id = '{}') WHERE id = '{broken}'",
            ids[0]
        ))
        .await;

    let listed = service.list(&scope, None).await.unwrap();
    let listed_hints: Vec<&str> = listed.iter().map(|hook| hook.secret_last4()).collect();
    assert_eq!(listed_hints, hints);
    let got = service.get(&scope, broken.as_str()).await.unwrap();
    assert_eq!(got.secret_last4(), hints[1]);
    let page = service.list_page(&scope, None, None, 10).await.unwrap();
    let paged_hints: Vec<&str> = page
        .webhooks
        .iter()
        .map(|hook| hook.secret_last4())
        .collect();
    assert_eq!(paged_hints, hints);

    // Read together, the broken row is unreadable alone.
    let wanted: Vec<(Scope, WebhookId)> =
        ids.iter().map(|id| (scope.clone(), id.clone())).collect();
    let each = service.store().get_each(&wanted).await.unwrap();
    assert!(
        matches!(each[1], Err(StoreError::Unreadable(_))),
        "{:?}",
        each[1]
    );
    for read in [&each[0], &each[2]] {
        assert!(matches!(read, Ok(Some(_))));
    }

    let error = service.webhook(&scope, broken.as_str()).await.unwrap_err();
    assert_eq!(error.code(), "webhook_unreadable");
    assert!(!error.is_retryable());
    let Error::Unreadable(unreadable) = &error else {
        panic!("{error:?}")
    };
    assert_eq!(unreadable.webhook_id(), broken);
    assert_eq!(
        unreadable.reason().downcast_ref::<SealError>(),
        Some(&SealError::Unauthentic { key_id: 1 })
    );
    let update = UpdateWebhookRequest::new("https://example.com/changed".parse().unwrap());
    let error = service
        .update(&scope, broken.as_str(), update)
        .await
        .unwrap_err();
    assert_eq!(error.code(), "webhook_unreadable");
    assert_eq!(
        service
            .get(&scope, broken.as_str())
            .await
            .unwrap()
            .url()
            .as_str(),
        "https://example.com/b"
    );

    let event = Event::new(
        EventId::generate(),
        scope.clone(),
        "acc_1".parse().unwrap(),
        &b"{}"[..],
    );
    let deliveries = service.deliveries(&event, 1_700_000_000).await.unwrap();
    let delivered: Vec<&WebhookId> = deliveries.iter().map(|d| d.webhook_id()).collect();
    assert_eq!(delivered, [&ids[0], &ids[2]]);
    assert_eq!(deliveries.unreadable().len(), 1);
    assert_eq!(deliveries.unreadable()[0].webhook_id(), broken);
    let shown = format!(
        "{:?} {}",
        deliveries.unreadable(),
        deliveries.unreadable()[0]
    );
    assert!(shown.contains(broken.as_str()), "{shown}");
    assert!(!shown.contains("whsec_"), "{shown}");
    let error = service
        .redeliver(&event, broken, 1_700_000_000)
        .await
        .unwrap_err();
    assert_eq!(error.code(), "webhook_unreadable");
    assert!(
        service
            .redeliver(&event, &ids[2], 1_700_000_000)
            .await
            .unwrap()
            .is_some()
    );

    // A column other than the secrets holding a value the store never writes: `get` cannot
    // build the webhook either, and deliveries report it like the other.
    plain
        .execute(&format!(
            "UPDATE webhook_kit_webhooks SET url = 'not a url' WHERE id = '{}'",
            ids[0]
        ))
        .await;
    let error = service.get(&scope, ids[0].as_str()).await.unwrap_err();
    assert_eq!(error.code(), "webhook_unreadable");
    let deliveries = service.deliveries(&event, 1_700_000_000).await.unwrap();
    let delivered: Vec<&WebhookId> = deliveries.iter().map(|d| d.webhook_id()).collect();
    assert_eq!(delivered, [&ids[2]]);
    let unreadable: Vec<&WebhookId> = deliveries
        .unreadable()
        .iter()
        .map(|unreadable| unreadable.webhook_id())
        .collect();
    assert_eq!(unreadable, [&ids[0], &ids[1]]);
    assert_eq!(
        deliveries.unreadable()[0]
            .reason()
            .downcast_ref::<webhook_kit::RowError>(),
        Some(&webhook_kit::RowError::Corrupt { column: "url" })
    );
}

/// Re-sealing under a new key: batched and resumable, it rewrites every row sealed under
/// the old key (or in the old format, or without a hint) and reports how many; run again it
/// rewrites none; then the old key can leave the keyring and everything still opens.
pub async fn resealing_moves_every_row_to_the_current_key<S: SqlBackend>(plain: &S) {
    let old = EncryptionKey::generate(1);
    let new = EncryptionKey::generate(2);
    let before = plain.keyed(Some(Keyring::new(old.clone())));
    let scope = scope();
    let mut hooks = Vec::new();
    for index in 0..7 {
        let hook = webhook(&scope, &[]);
        before.insert(&hook).await.unwrap();
        let hook = if index % 2 == 0 {
            let next = rotated(&hook);
            before.replace(&next, 1).await.unwrap();
            next
        } else {
            hook
        };
        hooks.push(hook);
    }
    write_legacy(plain, &old, &hooks[3]).await;
    let mut legacy_parts = hooks[3].clone().into_parts();
    legacy_parts.previous_secrets.clear();
    hooks[3] = Webhook::from_parts(legacy_parts);

    let rotating = plain.keyed(Some(
        Keyring::new(new.clone()).with_retired(old.clone()).unwrap(),
    ));
    // Batches of 3: resumable from the id each one ends at.
    let first = rotating.reseal_batch(None, 3).await.unwrap();
    assert_eq!(first.rewritten, 3);
    let cursor = first.next.clone().expect("more to do");
    // A pass stopped here and started again goes on from the cursor.
    let mut rewritten = first.rewritten;
    let mut after = Some(cursor);
    while let Some(cursor) = after {
        let batch = rotating.reseal_batch(Some(&cursor), 3).await.unwrap();
        assert!(batch.unreadable.is_empty());
        rewritten += batch.rewritten;
        after = batch.next;
    }
    assert_eq!(rewritten, 7);
    let again = rotating.reseal_all(3).await.unwrap();
    assert_eq!(again.rewritten, 0);
    assert!(again.unreadable.is_empty());
    assert_eq!(
        plain
            .integer(
                "SELECT COUNT(*) FROM webhook_kit_webhooks \
                 WHERE secret_key_id <> 2 OR previous_key_id <> 2 OR secret_last4 IS NULL"
            )
            .await,
        Some(0)
    );

    let only_new = plain.keyed(Some(Keyring::new(new.clone())));
    let listed = only_new.list(&scope, None).await.unwrap();
    assert_eq!(listed.len(), hooks.len());
    for (got, want) in listed.iter().zip(&hooks) {
        // Re-sealing changes no revision: the webhook did not change.
        assert_same(got, want);
        let stored = plain.bytes_column(want.id(), "secret").await.unwrap();
        for form in forms_of(want.secret()) {
            assert!(!stored.windows(form.len()).any(|window| window == &form[..]));
        }
    }
}

/// A writer changes webhooks while the pass runs, through the service on its own store:
/// no change is lost (each webhook's revision and last URL are the writer's), and once the
/// pass is over the old key can go.
pub async fn resealing_loses_no_concurrent_write<S: SqlBackend>(plain: &S) {
    let old = EncryptionKey::generate(1);
    let new = EncryptionKey::generate(2);
    let before = plain.keyed(Some(Keyring::new(old.clone())));
    let scope = scope();
    let mut hooks = Vec::new();
    for _ in 0..40 {
        let hook = webhook(&scope, &[]);
        before.insert(&hook).await.unwrap();
        hooks.push(hook);
    }
    let rotating = || {
        plain.keyed(Some(
            Keyring::new(new.clone()).with_retired(old.clone()).unwrap(),
        ))
    };
    let resealer = rotating();
    let writer = Webhooks::new(rotating()).with_max_attempts(100);
    const ROUNDS: usize = 5;
    let changed: Vec<&Webhook> = hooks.iter().step_by(2).collect();
    // Rotations change the sealed columns themselves: a re-sealing based on a stale read
    // would put an old secret back. Each webhook is rotated and updated in turn.
    let expected = std::cell::RefCell::new(std::collections::HashMap::new());
    let writes = async {
        for round in 0..ROUNDS {
            for (index, hook) in changed.iter().enumerate() {
                let id = hook.id().as_str();
                let mut state = expected
                    .borrow()
                    .get(hook.id())
                    .cloned()
                    .unwrap_or_else(|| (hook.url().to_string(), hook.secret().clone()));
                if (index + round) % 2 == 0 {
                    let rotated = writer.rotate_secret(&scope, id).await.unwrap();
                    state.1 = rotated.secret().clone();
                } else {
                    let url = format!("https://example.com/{round}");
                    let request = UpdateWebhookRequest::new(url.parse().unwrap());
                    writer.update(&scope, id, request).await.unwrap();
                    state.0 = url;
                }
                expected.borrow_mut().insert(hook.id().clone(), state);
                tokio::task::yield_now().await;
            }
        }
    };
    let pass = async {
        let mut total = 0;
        let mut after = None;
        loop {
            // Large batches: a batch is read at once and written row by row, so the writer
            // changes rows between the read and their re-sealing.
            let batch = resealer.reseal_batch(after.as_ref(), 50).await.unwrap();
            total += batch.rewritten;
            tokio::task::yield_now().await;
            match batch.next {
                Some(next) => after = Some(next),
                None => return total,
            }
        }
    };
    let ((), rewritten) = tokio::join!(writes, pass);
    assert!(rewritten <= 40);
    // Whatever the writer sealed under the new key needs nothing more.
    let rest = resealer.reseal_all(8).await.unwrap();
    assert!(rest.unreadable.is_empty());
    assert_eq!(rest.rewritten, 0, "a row was left under the old key");

    let only_new = plain.keyed(Some(Keyring::new(new)));
    let expected = expected.into_inner();
    for hook in &hooks {
        let got = only_new.get(&scope, hook.id()).await.unwrap().unwrap();
        match expected.get(hook.id()) {
            Some((url, secret)) => {
                assert_eq!(got.revision(), 1 + ROUNDS as u64, "a write was lost");
                assert_eq!(
                    got.secret().expose_secret(),
                    secret.expose_secret(),
                    "a rotation was lost"
                );
                assert_eq!(got.url().as_str(), url);
            }
            None => {
                assert_eq!(got.secret().expose_secret(), hook.secret().expose_secret());
                assert_eq!(got.revision(), 1);
            }
        }
    }
}

/// The revision check of a re-sealing write, made deterministic: the pass reads a row, then
/// a rotation commits before the pass writes it (its write waits on the rotation's lock).
/// The pass must not put the old secret back: it reads the row again, finds it sealed
/// under the current key, and leaves it.
pub async fn resealing_never_overwrites_a_write_made_after_its_read<S: SqlBackend>(plain: &S) {
    let old = EncryptionKey::generate(1);
    let new = EncryptionKey::generate(2);
    let rotating = || {
        plain.keyed(Some(
            Keyring::new(new.clone()).with_retired(old.clone()).unwrap(),
        ))
    };
    let scope = scope();
    let hook = webhook(&scope, &[]);
    plain
        .keyed(Some(Keyring::new(old.clone())))
        .insert(&hook)
        .await
        .unwrap();
    let id = hook.id();
    let before = plain.bytes_column(id, "secret").await.unwrap();
    // The rotation as the service writes it, then the row put back as it was before, so
    // that the rotation can be replayed as plain SQL at the chosen moment.
    let rotated = Webhooks::new(rotating())
        .rotate_secret(&scope, id.as_str())
        .await
        .unwrap();
    let after = plain.bytes_column(id, "secret").await.unwrap();
    let set = |secret: &[u8], key_id: u32, hint: &str, revision: u64| {
        format!(
            "UPDATE webhook_kit_webhooks SET secret = {}, secret_key_id = {key_id}, \
             secret_last4 = '{hint}', revision = {revision} WHERE id = '{id}'",
            S::bytes_literal(secret)
        )
    };
    plain
        .execute(&set(&before, 1, &hook.secret().masked(), 1))
        .await;
    let held = plain
        .uncommitted(&set(&after, 2, &rotated.secret().masked(), 2))
        .await;
    let resealer = rotating();
    let (batch, ()) = tokio::join!(resealer.reseal_batch(None, 10), async {
        // Long enough for the pass to read the row and wait on the lock to write it.
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        S::commit(held).await;
    });
    let batch = batch.unwrap();
    assert_eq!(batch.rewritten, 0);
    let got = plain
        .keyed(Some(Keyring::new(new)))
        .get(&scope, id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        got.secret().expose_secret(),
        rotated.secret().expose_secret(),
        "the rotation was overwritten"
    );
    assert_eq!(got.revision(), 2);
}

/// Re-sealing reports rows it cannot open, and needs a keyring.
pub async fn resealing_reports_unreadable_rows<S: SqlBackend>(plain: &S) {
    let key = EncryptionKey::generate(1);
    let store = plain.keyed(Some(Keyring::new(key)));
    let scope = scope();
    let good = webhook(&scope, &[]);
    let bad = webhook(&scope, &[]);
    store.insert(&good).await.unwrap();
    store.insert(&bad).await.unwrap();
    plain
        .execute(&format!(
            "UPDATE webhook_kit_webhooks SET secret = \
             (SELECT secret FROM webhook_kit_webhooks WHERE id = '{}') WHERE id = '{}'",
            good.id(),
            bad.id()
        ))
        .await;
    let report = store.reseal_all(10).await.unwrap();
    assert_eq!(report.rewritten, 0);
    assert_eq!(report.unreadable.len(), 1);
    assert_eq!(report.unreadable[0].webhook_id(), bad.id());
    let error = plain.reseal_all(10).await.unwrap_err();
    assert!(
        matches!(&error, StoreError::Backend { source, .. }
            if source.is::<webhook_kit::NoKeyringToReseal>()),
        "{error:?}"
    );
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The [`SqlBackend`] of a store: its database, the statement that opens a write
/// transaction, the first placeholder, and the SQL literal of bytes.
macro_rules! sql_backend {
    ($store:ty, $database:ty, begin: $begin:literal, first: $first:literal, bytes: $bytes:expr) => {
        impl SqlBackend for $store {
            type Held = sqlx::pool::PoolConnection<$database>;

            fn keyed(&self, keyring: Option<Keyring>) -> Self {
                let store = Self::new(self.pool().clone());
                match keyring {
                    Some(keyring) => store.with_keyring(keyring),
                    None => store,
                }
            }

            async fn migrate_store(&self) -> Result<(), StoreError> {
                self.migrate().await
            }

            async fn reseal_all(&self, batch_size: u32) -> Result<ResealReport, StoreError> {
                Self::reseal_all(self, batch_size).await
            }

            async fn reseal_batch(
                &self,
                after: Option<&WebhookId>,
                limit: u32,
            ) -> Result<ResealBatch, StoreError> {
                Self::reseal_batch(self, after, limit).await
            }

            async fn execute(&self, sql: &str) {
                sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
                    .execute(self.pool())
                    .await
                    .unwrap();
            }

            fn bytes_literal(bytes: &[u8]) -> String {
                $bytes(hex(bytes))
            }

            async fn bytes_column(&self, id: &WebhookId, column: &str) -> Option<Vec<u8>> {
                sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                    "SELECT {column} FROM webhook_kit_webhooks WHERE id = {}",
                    $first
                )))
                .bind(id.as_str())
                .fetch_one(self.pool())
                .await
                .unwrap()
            }

            async fn integer(&self, sql: &str) -> Option<i64> {
                sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
                    .fetch_one(self.pool())
                    .await
                    .unwrap()
            }

            async fn text_column(&self, id: &WebhookId, column: &str) -> Option<String> {
                sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                    "SELECT {column} FROM webhook_kit_webhooks WHERE id = {}",
                    $first
                )))
                .bind(id.as_str())
                .fetch_one(self.pool())
                .await
                .unwrap()
            }

            async fn uncommitted(&self, sql: &str) -> Self::Held {
                let mut connection = self.pool().acquire().await.unwrap();
                sqlx::query($begin).execute(&mut *connection).await.unwrap();
                sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
                    .execute(&mut *connection)
                    .await
                    .unwrap();
                connection
            }

            async fn commit(mut held: Self::Held) {
                sqlx::query("COMMIT").execute(&mut *held).await.unwrap();
            }
        }
    };
}

#[cfg(feature = "sqlite")]
sql_backend!(
    webhook_kit::SqliteStore,
    sqlx::Sqlite,
    begin: "BEGIN IMMEDIATE",
    first: "?1",
    bytes: |hex| format!("X'{hex}'")
);

#[cfg(feature = "postgres")]
sql_backend!(
    webhook_kit::PostgresStore,
    sqlx::Postgres,
    begin: "BEGIN",
    first: "$1",
    bytes: |hex| format!("'\\x{hex}'::bytea")
);
