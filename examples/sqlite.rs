//! A file-backed store: run it twice and the second run finds what the first stored.
//!
//! ```text
//! cargo run --example sqlite --features sqlite -- /tmp/webhooks.db
//! ```
//!
//! The secrets are sealed with a key read from `WEBHOOK_KIT_KEY` (base64 of 32 bytes); the
//! example makes one and prints it when the variable is unset, so pass it to the second run.
//! A second run with another key is refused at start (`SealError::KeyMismatch`): the database
//! keeps a key check value for key id 1.

use webhook_kit::{
    AccountFilter, AccountType, EncryptionKey, Keyring, Scope, SqliteStore, Webhook, WebhookStore,
};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "webhook-kit-example.db".to_owned());
    let key = match std::env::var("WEBHOOK_KIT_KEY") {
        Ok(text) => EncryptionKey::from_base64(1, &text)?,
        Err(_) => {
            let key = EncryptionKey::generate(1);
            println!(
                "no WEBHOOK_KIT_KEY given; run again with WEBHOOK_KIT_KEY={}",
                key.expose_base64().as_str()
            );
            key
        }
    };
    let store = SqliteStore::open(&path)
        .await?
        .with_keyring(Keyring::new(key));
    store.migrate().await?;

    let scope = Scope::new("org_example".parse()?, AccountType::Live);
    let stored = store.list(&scope, None).await?;
    println!("{} webhook(s) already in {path}:", stored.len());
    for webhook in &stored {
        println!(
            "  {} -> {} (created {}, secret …{})",
            webhook.id(),
            webhook.url(),
            webhook.created_at(),
            webhook.secret().masked()
        );
    }

    let webhook = Webhook::new(
        scope,
        "https://example.com/hooks".parse()?,
        AccountFilter::all(),
    );
    store.insert(&webhook).await?;
    println!("stored {}; run the example again to find it", webhook.id());
    Ok(())
}
