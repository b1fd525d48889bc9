//! The service's operations are `tracing` spans naming the scope, the operation and the
//! webhook id, and never a secret, a URL or a body.
#![cfg(feature = "tracing")]
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};
use webhook_kit::{
    AccountType, CreateWebhookRequest, MemoryStore, Scope, UpdateWebhookRequest, Webhooks,
};

/// A span's name and its fields, as text.
type RecordedSpan = (String, Vec<(String, String)>);

/// Every span opened, with every field recorded on it, as text; and the stack of entered
/// spans, so that `Span::current()` works as under a real subscriber.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<RecordedSpan>>>, Arc<Mutex<Stack>>);

#[derive(Default)]
struct Stack {
    metadata: Vec<&'static Metadata<'static>>,
    entered: Vec<Id>,
}

struct Fields<'a>(&'a mut Vec<(String, String)>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.push((field.name().to_owned(), format!("{value:?}")));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.push((field.name().to_owned(), value.to_owned()));
    }
}

impl Subscriber for Recorder {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let mut spans = self.0.lock().unwrap();
        let mut fields = Vec::new();
        span.record(&mut Fields(&mut fields));
        spans.push((span.metadata().name().to_owned(), fields));
        self.1.lock().unwrap().metadata.push(span.metadata());
        Id::from_u64(spans.len() as u64)
    }

    fn record(&self, span: &Id, values: &Record<'_>) {
        let mut spans = self.0.lock().unwrap();
        let index = usize::try_from(span.into_u64()).unwrap() - 1;
        values.record(&mut Fields(&mut spans[index].1));
    }

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, _: &Event<'_>) {}

    fn enter(&self, span: &Id) {
        self.1.lock().unwrap().entered.push(span.clone());
    }

    fn exit(&self, _: &Id) {
        self.1.lock().unwrap().entered.pop();
    }

    fn current_span(&self) -> tracing_core::span::Current {
        let stack = self.1.lock().unwrap();
        match stack.entered.last() {
            Some(id) => {
                let index = usize::try_from(id.into_u64()).unwrap() - 1;
                tracing_core::span::Current::new(id.clone(), stack.metadata[index])
            }
            None => tracing_core::span::Current::none(),
        }
    }
}

#[test]
fn operations_are_spans_with_scope_operation_and_id_and_no_secret() {
    let recorder = Recorder::default();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let (id, secrets) = tracing::subscriber::with_default(recorder.clone(), || {
        runtime.block_on(async {
            let webhooks = Webhooks::new(MemoryStore::new());
            let scope = Scope::new("org_traced".parse().unwrap(), AccountType::Test);
            let url = "https://example.com/secret-path".parse().unwrap();
            let created = webhooks
                .create(&scope, CreateWebhookRequest::new(url))
                .await
                .unwrap();
            let id = created.webhook().id().to_string();
            webhooks.list(&scope, None).await.unwrap();
            webhooks.get(&scope, &id).await.unwrap();
            let update = UpdateWebhookRequest::new("https://example.com/b".parse().unwrap());
            webhooks.update(&scope, &id, update).await.unwrap();
            let rotated = webhooks.rotate_secret(&scope, &id).await.unwrap();
            webhooks.delete(&scope, &id).await.unwrap();
            webhooks.get(&scope, "not an id").await.unwrap_err();
            let secrets = [
                created.secret().expose_secret().to_owned(),
                rotated.secret().expose_secret().to_owned(),
            ];
            (id, secrets)
        })
    });
    let spans = recorder.0.lock().unwrap().clone();
    let names: Vec<&str> = spans.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(
        names,
        [
            "webhooks.create",
            "webhooks.list",
            "webhooks.get",
            "webhooks.update",
            "webhooks.rotate_secret",
            "webhooks.delete",
            "webhooks.get",
        ]
    );
    for (index, (name, fields)) in spans.iter().enumerate() {
        let field = |wanted: &str| {
            fields
                .iter()
                .find(|(field, _)| field == wanted)
                .map(|(_, value)| value.as_str())
        };
        assert_eq!(field("organization"), Some("org_traced"), "{name}");
        assert_eq!(field("account_type"), Some("test"), "{name}");
        let expected_id = match name.as_str() {
            "webhooks.list" => None,
            // A malformed id is never recorded.
            _ if index == spans.len() - 1 => None,
            _ => Some(id.as_str()),
        };
        assert_eq!(field("webhook_id"), expected_id, "{name}");
        let everything = format!("{fields:?}");
        for secret in &secrets {
            assert!(!everything.contains(&secret[6..]), "{name}: a secret");
            assert!(!everything.contains(&secret[secret.len() - 4..]), "{name}");
        }
        assert!(!everything.contains("secret-path"), "{name}: the URL");
    }
}
