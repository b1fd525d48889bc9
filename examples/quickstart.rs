//! The main flow, end to end over the memory store: create two webhooks (one filtered),
//! list, get, update, rotate the secret, sign a delivery and verify it, delete.
//!
//! Run: `cargo run --example quickstart`.

use std::error::Error as StdError;

use chrono::{TimeDelta, Utc};
use webhook_kit::{
    AccountType, CreateWebhookRequest, Event, EventId, MemoryStore, Scope, UpdateWebhookRequest,
    Verifier, Webhooks,
};

fn show(step: &str, value: &impl serde::Serialize) -> Result<(), Box<dyn StdError>> {
    println!("== {step}\n{}\n", serde_json::to_string_pretty(value)?);
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn StdError>> {
    // A host service keeps one of these and calls it from its HTTP handlers.
    let webhooks = Webhooks::new(MemoryStore::new());
    // The caller's organisation and mode, from the host's authentication.
    let scope = Scope::new("org_acme".parse()?, AccountType::Test);

    // POST /v1/webhooks, twice: one for every account, one for a single account.
    let all = CreateWebhookRequest::from_json(br#"{"url": "https://example.com/all"}"#)?;
    let all = webhooks.create(&scope, all).await?;
    show("create (every account): the full secret, shown once", &all)?;
    let filtered = CreateWebhookRequest::from_json(
        br#"{"url": "https://example.com/acc-1", "account_ids": ["acc_1"]}"#,
    )?;
    let filtered = webhooks.create(&scope, filtered).await?;
    show("create (only acc_1)", &filtered)?;

    // GET /v1/webhooks and GET /v1/webhooks?account_id=acc_2
    show("list", &webhooks.list(&scope, None).await?)?;
    show(
        "list ?account_id=acc_2 (only the unfiltered webhook)",
        &webhooks.list(&scope, Some("acc_2")).await?,
    )?;

    // GET /v1/webhooks/{id}: the secret masked to its last 4 characters.
    let id = filtered.webhook().id().to_string();
    show("get: secret masked", &webhooks.get(&scope, &id).await?)?;

    // PUT /v1/webhooks/{id}: enabled kept when absent, account_ids replaced.
    let update = UpdateWebhookRequest::from_json(
        br#"{"url": "https://example.com/acc-1-and-2", "account_ids": ["acc_1", "acc_2"]}"#,
    )?;
    show("update", &webhooks.update(&scope, &id, update).await?)?;

    // PUT /v1/webhooks/{id}/rotate-secret: the old secret stops signing at once.
    let rotated = webhooks.rotate_secret(&scope, &id).await?;
    show("rotate secret", &rotated)?;
    // Beyond the seed: an overlap during which deliveries carry both signatures.
    let overlapped = webhooks
        .rotate_secret_with_overlap(&scope, &id, TimeDelta::hours(1))
        .await?;
    let stored = webhooks.webhook(&scope, &id).await?;
    println!(
        "== rotate with a 1-hour overlap: {} secrets sign now, the new one first: {}\n",
        stored.signing_secrets(Utc::now()).count(),
        stored
            .signing_secrets(Utc::now())
            .next()
            .is_some_and(|secret| secret.expose_secret() == overlapped.secret().expose_secret()),
    );

    // An event in account acc_2: one signed delivery per webhook that wants it. During the
    // overlap each delivery carries two signatures, the new secret's first.
    let event = Event::new(
        EventId::generate(),
        scope.clone(),
        "acc_2".parse()?,
        &br#"{"type":"order.paid","order":"ord_1"}"#[..],
    );
    let now = Utc::now().timestamp();
    let deliveries = webhooks.deliveries(&event, now).await?;
    println!(
        "== deliveries of {} to acc_2: {}",
        event.id(),
        deliveries.len()
    );
    for delivery in &deliveries {
        println!("POST {}", delivery.url());
        for (name, value) in delivery.header_pairs() {
            println!("{name}: {value}");
        }
        println!();
    }

    // The receiver of the rotated webhook, which knows only the newest secret, checks what
    // arrives: the raw body and the headers, as they came over the wire.
    let delivery = deliveries
        .iter()
        .find(|delivery| delivery.webhook_id().as_str() == id)
        .ok_or("the rotated webhook got no delivery")?;
    let receiver = Verifier::from_secret(overlapped.secret());
    receiver.verify_at(&delivery.header_pairs(), delivery.body(), now)?;
    println!(
        "== the receiver verified the delivery to {}
",
        delivery.url()
    );
    let tampered = receiver.verify_at(
        &delivery.header_pairs(),
        b"{\"type\":\"order.refunded\"}",
        now,
    );
    show(
        "a tampered body is refused",
        &tampered.err().map(|error| error.code()),
    )?;

    // DELETE /v1/webhooks/{id}
    webhooks.delete(&scope, &id).await?;
    match webhooks.get(&scope, &id).await {
        Err(gone) => show("delete, then get", &gone.to_body())?,
        Ok(_) => return Err("the deleted webhook is still there".into()),
    }
    show("list", &webhooks.list(&scope, None).await?)?;
    Ok(())
}
