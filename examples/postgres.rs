//! A PostgreSQL store shared by every instance of a service.
//!
//! ```text
//! DATABASE_URL=postgres://user@localhost/app cargo run --example postgres --features postgres
//! ```
//!
//! Secrets are sealed with a key read from `WEBHOOK_KIT_KEY` (base64 of 32 bytes) when it
//! is set, and stored in plaintext otherwise. Keep the same choice across runs on one
//! database: a store with a keyring refuses plaintext rows unless its keyring is
//! `accepting_plaintext()`.

use webhook_kit::{
    AccountFilter, AccountType, EncryptionKey, Keyring, PostgresStore, Scope, Webhook, WebhookStore,
};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("DATABASE_URL")
        .map_err(|_| "set DATABASE_URL, e.g. postgres://user@localhost/app")?;
    let mut store = PostgresStore::connect(&url).await?;
    match std::env::var("WEBHOOK_KIT_KEY") {
        Ok(text) => store = store.with_keyring(Keyring::new(EncryptionKey::from_base64(1, &text)?)),
        Err(_) => println!("WEBHOOK_KIT_KEY is not set: secrets are stored in plaintext"),
    }
    // Safe to run from every instance at start-up: an advisory lock serialises them.
    store.migrate().await?;

    let scope = Scope::new("org_example".parse()?, AccountType::Live);
    let webhook = Webhook::new(
        scope.clone(),
        "https://example.com/hooks".parse()?,
        AccountFilter::from_ids(["acc_1".parse()?])?,
    );
    store.insert(&webhook).await?;
    for webhook in store.list(&scope, Some(&"acc_1".parse()?)).await? {
        println!(
            "{} -> {} (revision {})",
            webhook.id(),
            webhook.url(),
            webhook.revision()
        );
    }
    Ok(())
}
