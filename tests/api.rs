//! The router (`webhook_kit::api`, feature `axum`) served on loopback and called by a real
//! HTTP client: every route and every error, with status, headers and JSON body, each
//! answer validated against the OpenAPI document's schemas.
#![cfg(feature = "axum")]
#![allow(clippy::unwrap_used)]

mod contract;

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Arc;

use axum::http::request::Parts;
use serde_json::{Value, json};
use webhook_kit::api::{self, Api, Authenticate, RateLimit, Unauthorized};
use webhook_kit::{AccountType, CreateWebhookRequest, MemoryStore, Scope, WebhookStore, Webhooks};

use contract::{create_request, new_organization};

/// Bearer tokens mapped to scopes: the host's authentication in these tests.
struct Tokens(HashMap<String, Scope>);

impl Authenticate for Tokens {
    async fn authenticate(&self, request: &Parts) -> Result<Scope, Unauthorized> {
        let token = request
            .headers
            .get("authorization")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .ok_or_else(|| Unauthorized::new("a bearer token is required"))?;
        self.0
            .get(token)
            .cloned()
            .ok_or_else(|| Unauthorized::new("unknown token"))
    }
}

/// Three callers: `live` and `test` of one organisation, `other` of another.
struct World {
    base: String,
    client: reqwest::Client,
    webhooks: Arc<Webhooks<Arc<MemoryStore>>>,
    scopes: HashMap<&'static str, Scope>,
    document: Document,
}

impl World {
    async fn start() -> Self {
        Self::start_with(|api| api.without_rate_limit()).await
    }

    async fn start_with(
        configure: impl FnOnce(Api<Arc<MemoryStore>, Tokens>) -> Api<Arc<MemoryStore>, Tokens>,
    ) -> Self {
        let organization = new_organization();
        let scopes: HashMap<&'static str, Scope> = [
            ("live", Scope::new(organization.clone(), AccountType::Live)),
            ("test", Scope::new(organization, AccountType::Test)),
            ("other", Scope::new(new_organization(), AccountType::Live)),
        ]
        .into_iter()
        .collect();
        let tokens = Tokens(
            scopes
                .iter()
                .map(|(name, scope)| ((*name).to_owned(), scope.clone()))
                .collect(),
        );
        let store = Arc::new(MemoryStore::new());
        let service = Webhooks::new(Arc::clone(&store));
        let router = configure(Api::new(service.clone(), tokens)).into_router();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        Self {
            base,
            client: client_builder()
                .timeout(std::time::Duration::from_secs(30))
                .build()
                .unwrap(),
            webhooks: Arc::new(service),
            scopes,
            document: Document::new(),
        }
    }

    /// Sends a request as `caller` (a token; `None` sends none) with an optional raw body.
    async fn send(
        &self,
        method: &str,
        path: &str,
        caller: Option<&str>,
        body: Option<Vec<u8>>,
    ) -> Answer {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(token) = caller {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.unwrap();
        Answer {
            status,
            headers,
            raw: bytes.to_vec(),
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        }
    }

    /// Sends a request of the operation `(method, template)` and validates the answer
    /// against the document: its status is documented, its body matches the schema.
    async fn call(
        &self,
        method: &str,
        template: &str,
        path: &str,
        caller: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let body = body.map(|body| serde_json::to_vec(&body).unwrap());
        let answer = self.send(method, path, caller, body).await;
        self.document.check(method, template, &answer);
        answer
    }

    async fn create(&self, caller: &str, body: Value) -> Answer {
        self.call(
            "POST",
            "/v1/webhooks",
            "/v1/webhooks",
            Some(caller),
            Some(body),
        )
        .await
    }

    async fn list(&self, caller: &str, query: &str) -> Answer {
        self.call(
            "GET",
            "/v1/webhooks",
            &format!("/v1/webhooks{query}"),
            Some(caller),
            None,
        )
        .await
    }

    async fn on_id(&self, method: &str, id: &str, caller: &str, body: Option<Value>) -> Answer {
        self.call(
            method,
            "/v1/webhooks/{id}",
            &format!("/v1/webhooks/{id}"),
            Some(caller),
            body,
        )
        .await
    }

    async fn rotate(&self, id: &str, caller: &str) -> Answer {
        self.call(
            "PUT",
            "/v1/webhooks/{id}/rotate-secret",
            &format!("/v1/webhooks/{id}/rotate-secret"),
            Some(caller),
            None,
        )
        .await
    }

    /// Everything stored in the three scopes, comparable.
    async fn snapshot(&self) -> Vec<String> {
        let mut all = Vec::new();
        for name in ["live", "test", "other"] {
            for webhook in self
                .webhooks
                .store()
                .list(&self.scopes[name], None)
                .await
                .unwrap()
            {
                all.push(format!(
                    "{name} {} {} {} {:?} {} {}",
                    webhook.id(),
                    webhook.url().as_str(),
                    webhook.enabled(),
                    webhook.account_filter(),
                    webhook.secret().expose_secret(),
                    webhook.revision()
                ));
            }
        }
        all
    }
}

struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    raw: Vec<u8>,
    body: Value,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|value| value.to_str().unwrap())
    }

    /// Asserts an error answer: status, JSON content type, `{code, message}` only.
    #[track_caller]
    fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(
            (self.status, self.body["code"].as_str()),
            (status, Some(code)),
            "{}",
            String::from_utf8_lossy(&self.raw)
        );
        assert_eq!(self.header("content-type"), Some("application/json"));
        let object = self.body.as_object().unwrap();
        assert_eq!(object.len(), 2, "{object:?}");
        assert!(!object["message"].as_str().unwrap().is_empty());
    }

    fn id(&self) -> String {
        self.body["id"].as_str().unwrap().to_owned()
    }

    fn ids(&self) -> Vec<String> {
        self.body
            .as_array()
            .unwrap()
            .iter()
            .map(|webhook| webhook["id"].as_str().unwrap().to_owned())
            .collect()
    }
}

/// The OpenAPI document, and validators for the schemas of its answers.
struct Document {
    json: Value,
}

impl Document {
    fn new() -> Self {
        Self {
            json: serde_json::to_value(api::openapi()).unwrap(),
        }
    }

    /// The schema `schema` (which may `$ref` the components) as a validator.
    fn validator(&self, schema: &Value) -> jsonschema::Validator {
        let root = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "components": self.json["components"],
            "allOf": [schema],
        });
        jsonschema::validator_for(&root).unwrap()
    }

    /// Validates `answer` as an answer of `(method, template)`.
    #[track_caller]
    fn check(&self, method: &str, template: &str, answer: &Answer) {
        let operation = &self.json["paths"][template][method.to_lowercase()];
        assert!(
            operation.is_object(),
            "{method} {template} is not documented"
        );
        let documented = &operation["responses"][answer.status.to_string()];
        assert!(
            documented.is_object(),
            "{method} {template} answered {}, not documented: {}",
            answer.status,
            String::from_utf8_lossy(&answer.raw)
        );
        match documented["content"]["application/json"]["schema"].as_object() {
            None => assert!(answer.raw.is_empty(), "{method} {template}: a body"),
            Some(schema) => self.validate(&Value::Object(schema.clone()), &answer.body),
        }
    }

    #[track_caller]
    fn validate(&self, schema: &Value, instance: &Value) {
        let validator = self.validator(schema);
        let errors: Vec<String> = validator
            .iter_errors(instance)
            .map(|error| error.to_string())
            .collect();
        assert!(errors.is_empty(), "{instance} against {schema}: {errors:?}");
    }

    /// An error body, checked against the `ErrorBody` schema (for answers no operation
    /// documents: unknown routes, wrong methods).
    #[track_caller]
    fn check_error_body(&self, answer: &Answer) {
        self.validate(
            &json!({"$ref": "#/components/schemas/ErrorBody"}),
            &answer.body,
        );
    }
}

const URL: &str = "https://example.com/hook";

// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn every_route_answers_with_the_seeds_status_and_fields() {
    let world = World::start().await;

    let created = world
        .create(
            "live",
            json!({"url": URL, "account_ids": ["acc_b", "acc_a", "acc_b"]}),
        )
        .await;
    assert_eq!(created.status, 201);
    assert_eq!(created.header("content-type"), Some("application/json"));
    let id = created.id();
    let secret = created.body["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"));
    assert_eq!(created.body["url"], URL);
    assert_eq!(created.body["enabled"], true);
    assert_eq!(created.body["account_type"], "live");
    assert_eq!(created.body["account_ids"], json!(["acc_a", "acc_b"]));
    assert!(created.body["created_at"].as_str().unwrap().ends_with('Z'));

    let got = world.on_id("GET", &id, "live", None).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body["secret"], secret[secret.len() - 4..]);
    assert_eq!(got.body["created_at"], created.body["created_at"]);

    let listed = world.list("live", "").await;
    assert_eq!(listed.status, 200);
    assert_eq!(listed.body, json!([got.body]));
    assert!(listed.header("link").is_none());

    let updated = world
        .on_id(
            "PUT",
            &id,
            "live",
            Some(json!({"url": "https://example.com/new", "enabled": false, "account_ids": []})),
        )
        .await;
    assert_eq!(updated.status, 200);
    assert_eq!(updated.body["url"], "https://example.com/new");
    assert_eq!(updated.body["enabled"], false);
    assert!(updated.body.get("account_ids").is_none());
    assert_eq!(updated.body["secret"], secret[secret.len() - 4..]);

    let rotated = world.rotate(&id, "live").await;
    assert_eq!(rotated.status, 200);
    let new_secret = rotated.body["secret"].as_str().unwrap();
    assert!(new_secret.starts_with("whsec_") && new_secret != secret);
    assert_eq!(rotated.body["enabled"], false);

    let deleted = world.on_id("DELETE", &id, "live", None).await;
    assert_eq!(deleted.status, 204);
    assert!(deleted.raw.is_empty());
    world
        .on_id("GET", &id, "live", None)
        .await
        .assert_error(404, "not_found");
    world
        .on_id("DELETE", &id, "live", None)
        .await
        .assert_error(404, "not_found");
    assert_eq!(world.list("live", "").await.body, json!([]));
}

#[tokio::test]
async fn refused_requests_answer_the_seeds_errors_and_change_nothing() {
    let world = World::start().await;
    let id = world.create("live", json!({"url": URL})).await.id();
    let before = world.snapshot().await;

    let bad_bodies = [
        (json!({"url": "http://example.com/hook"}), "url_invalid"),
        (
            json!({"url": "https://127.0.0.1.example/x@"}),
            "url_invalid",
        ),
        (
            json!({"url": "https://user:pw@example.com/hook"}),
            "url_not_allowed",
        ),
        (
            json!({"url": URL, "account_ids": ["acc 1"]}),
            "account_ids_invalid",
        ),
        (json!({"url": URL, "extra": 1}), "body_invalid"),
        (json!(["not", "an", "object"]), "body_invalid"),
        (json!({}), "body_invalid"),
    ];
    for (body, code) in &bad_bodies {
        world
            .create("live", body.clone())
            .await
            .assert_error(400, code);
        world
            .on_id("PUT", &id, "live", Some(body.clone()))
            .await
            .assert_error(400, code);
    }
    let not_json = world
        .send(
            "POST",
            "/v1/webhooks",
            Some("live"),
            Some(b"{\"url\":".to_vec()),
        )
        .await;
    world.document.check("POST", "/v1/webhooks", &not_json);
    not_json.assert_error(400, "body_invalid");

    // Malformed ids: not found where the seed lists no 400, id_invalid on update.
    for malformed in [
        "nope",
        "wh_%2E%2E",
        "%FF%FE",
        "wh_0000000000000000000000000%21",
    ] {
        world
            .on_id("GET", malformed, "live", None)
            .await
            .assert_error(404, "not_found");
        world
            .on_id("DELETE", malformed, "live", None)
            .await
            .assert_error(404, "not_found");
        world
            .rotate(malformed, "live")
            .await
            .assert_error(404, "not_found");
        world
            .on_id("PUT", malformed, "live", Some(json!({"url": URL})))
            .await
            .assert_error(400, "id_invalid");
    }
    let unknown = webhook_kit::WebhookId::generate();
    world
        .on_id("PUT", unknown.as_str(), "live", Some(json!({"url": URL})))
        .await
        .assert_error(404, "not_found");

    // Bad queries on the list.
    for query in [
        "?limit=0",
        "?limit=1001",
        "?limit=ten",
        "?limit=-1",
        "?limit=1&limit=2",
        "?account_id=a&account_id=b",
        "?starting_after=nope",
        "?starting_after=wh_&starting_after=wh_",
        "?acount_id=acc_a",
    ] {
        world
            .list("live", query)
            .await
            .assert_error(400, "query_invalid");
    }
    // An unknown parameter's name is echoed escaped and cut.
    let long = format!("%07{}", "x".repeat(5000));
    let answer = world.list("live", &format!("?{long}=1")).await;
    answer.assert_error(400, "query_invalid");
    let message = answer.body["message"].as_str().unwrap();
    assert!(
        message.contains("\\u{7}xxx") && message.len() < 1000,
        "{message}"
    );
    assert_eq!(world.snapshot().await, before);
}

#[tokio::test]
async fn list_filters_by_account_and_a_malformed_account_matches_only_the_unfiltered() {
    let world = World::start().await;
    let all = world.create("live", json!({"url": URL})).await.id();
    let a = world
        .create("live", json!({"url": URL, "account_ids": ["acc_a"]}))
        .await
        .id();
    world
        .create("live", json!({"url": URL, "account_ids": ["acc_b"]}))
        .await;
    assert_eq!(
        world.list("live", "?account_id=acc_a").await.ids(),
        [all.clone(), a]
    );
    assert_eq!(
        world.list("live", "?account_id=acc_z").await.ids(),
        std::slice::from_ref(&all)
    );
    for malformed in ["", "acc%201", "%C3%A9", &"x".repeat(300)] {
        let answer = world
            .list("live", &format!("?account_id={malformed}"))
            .await;
        assert_eq!(answer.status, 200);
        assert_eq!(answer.ids(), std::slice::from_ref(&all), "{malformed}");
    }
}

#[tokio::test]
async fn another_scope_gets_not_found_and_sees_nothing() {
    let world = World::start().await;
    let id = world.create("live", json!({"url": URL})).await.id();
    let before = world.snapshot().await;
    for stranger in ["test", "other"] {
        world
            .on_id("GET", &id, stranger, None)
            .await
            .assert_error(404, "not_found");
        world
            .on_id(
                "PUT",
                &id,
                stranger,
                Some(json!({"url": "https://example.com/x"})),
            )
            .await
            .assert_error(404, "not_found");
        world
            .rotate(&id, stranger)
            .await
            .assert_error(404, "not_found");
        world
            .on_id("DELETE", &id, stranger, None)
            .await
            .assert_error(404, "not_found");
        assert_eq!(world.list(stranger, "").await.body, json!([]));
        assert_eq!(world.list(stranger, "?limit=5").await.body, json!([]));
    }
    assert_eq!(world.snapshot().await, before);
}

#[tokio::test]
async fn requests_without_a_valid_token_are_401_on_every_route() {
    let world = World::start().await;
    let id = world.create("live", json!({"url": URL})).await.id();
    let before = world.snapshot().await;
    let item = format!("/v1/webhooks/{id}");
    let rotate = format!("{item}/rotate-secret");
    let routes = [
        ("POST", "/v1/webhooks", "/v1/webhooks", true),
        ("GET", "/v1/webhooks", "/v1/webhooks", false),
        ("GET", "/v1/webhooks/{id}", item.as_str(), false),
        ("PUT", "/v1/webhooks/{id}", item.as_str(), true),
        ("DELETE", "/v1/webhooks/{id}", item.as_str(), false),
        (
            "PUT",
            "/v1/webhooks/{id}/rotate-secret",
            rotate.as_str(),
            false,
        ),
    ];
    for (method, template, path, with_body) in routes {
        for caller in [None, Some("stolen")] {
            let body = with_body.then(|| json!({"url": URL}));
            let answer = world.call(method, template, path, caller, body).await;
            answer.assert_error(401, "unauthorized");
            // RFC 9110: every 401 names a challenge.
            assert_eq!(answer.header("www-authenticate"), Some("Bearer"), "{path}");
        }
    }
    let answer = world.send("GET", "/v1/webhooks", None, None).await;
    assert_eq!(answer.body["message"], "a bearer token is required");
    assert_eq!(world.snapshot().await, before);
}

#[tokio::test]
async fn a_scope_over_its_rate_limit_gets_429_with_retry_after() {
    let limit =
        RateLimit::per_minute(NonZeroU32::new(1).unwrap()).with_burst(NonZeroU32::new(3).unwrap());
    let world = World::start_with(|api| api.with_rate_limit(limit)).await;
    for _ in 0..3 {
        assert_eq!(world.list("live", "").await.status, 200);
    }
    let limited = world.list("live", "").await;
    limited.assert_error(429, "rate_limited");
    let retry_after: u64 = limited.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    // Writes are limited too, and refused before they change anything.
    let before = world.snapshot().await;
    world
        .create("live", json!({"url": URL}))
        .await
        .assert_error(429, "rate_limited");
    assert_eq!(world.snapshot().await, before);
    // Buckets are per scope.
    assert_eq!(world.list("test", "").await.status, 200);
    assert_eq!(world.list("other", "").await.status, 200);
    // Unauthenticated requests take no scope's tokens: still 401.
    world
        .call("GET", "/v1/webhooks", "/v1/webhooks", None, None)
        .await
        .assert_error(401, "unauthorized");
}

#[tokio::test]
async fn the_default_rate_limit_allows_a_burst_and_off_means_off() {
    let default = World::start_with(|api| api).await;
    let burst = RateLimit::DEFAULT.burst().get();
    let mut statuses = Vec::new();
    for _ in 0..burst + 20 {
        statuses.push(
            default
                .send("GET", "/v1/webhooks", Some("live"), None)
                .await
                .status,
        );
    }
    assert!(
        statuses[..usize::try_from(burst).unwrap()]
            .iter()
            .all(|&s| s == 200)
    );
    assert!(statuses.contains(&429), "{statuses:?}");

    let unlimited = World::start().await;
    for _ in 0..burst + 20 {
        assert_eq!(
            unlimited
                .send("GET", "/v1/webhooks", Some("live"), None)
                .await
                .status,
            200
        );
    }
}

#[tokio::test]
async fn a_body_over_the_limit_is_413() {
    let world = World::start_with(|api| api.without_rate_limit().with_body_limit(1024)).await;
    let id = world.create("live", json!({"url": URL})).await.id();
    let before = world.snapshot().await;
    let big = json!({"url": URL, "account_ids": (0..200).map(|i| format!("acc_{i}")).collect::<Vec<_>>()});
    assert!(serde_json::to_vec(&big).unwrap().len() > 1024);
    world
        .create("live", big.clone())
        .await
        .assert_error(413, "payload_too_large");
    world
        .on_id("PUT", &id, "live", Some(big))
        .await
        .assert_error(413, "payload_too_large");
    assert_eq!(world.snapshot().await, before);

    // The default limit takes the largest valid body.
    let world = World::start().await;
    let largest: Vec<String> = (0..webhook_kit::MAX_ACCOUNT_IDS)
        .map(|i| format!("{i:0>255}"))
        .collect();
    let created = world
        .create("live", json!({"url": URL, "account_ids": largest}))
        .await;
    assert_eq!(created.status, 201);
    let too_big = vec![b' '; api::DEFAULT_BODY_LIMIT + 1];
    world
        .send("POST", "/v1/webhooks", Some("live"), Some(too_big))
        .await
        .assert_error(413, "payload_too_large");
}

#[tokio::test]
async fn unknown_paths_and_wrong_methods_answer_json() {
    let world = World::start().await;
    let id = world.create("live", json!({"url": URL})).await.id();
    for path in [
        "/",
        "/v1",
        "/v1/webhook",
        "/v2/webhooks",
        &format!("/v1/webhooks/{id}/x"),
    ] {
        for caller in [None, Some("live")] {
            let answer = world.send("GET", path, caller, None).await;
            answer.assert_error(404, "not_found");
            world.document.check_error_body(&answer);
        }
    }
    let cases = [
        ("DELETE", "/v1/webhooks".to_owned(), "GET,HEAD,POST"),
        ("PATCH", format!("/v1/webhooks/{id}"), "GET,HEAD,PUT,DELETE"),
        ("POST", format!("/v1/webhooks/{id}/rotate-secret"), "PUT"),
        ("GET", format!("/v1/webhooks/{id}/rotate-secret"), "PUT"),
    ];
    for (method, path, allow) in cases {
        let answer = world.send(method, &path, Some("live"), None).await;
        answer.assert_error(405, "method_not_allowed");
        world.document.check_error_body(&answer);
        let mut allowed: Vec<&str> = answer
            .header("allow")
            .unwrap()
            .split(',')
            .map(str::trim)
            .collect();
        let mut expected: Vec<&str> = allow.split(',').collect();
        allowed.sort_unstable();
        expected.sort_unstable();
        assert_eq!(allowed, expected, "{method} {path}");
    }
}

#[tokio::test]
async fn walking_2500_webhooks_in_pages_of_100_returns_each_once_in_order() {
    let world = World::start().await;
    let scope = &world.scopes["live"];
    let mut created = Vec::new();
    let mut unfiltered = Vec::new();
    for index in 0..2500_u32 {
        let accounts: &[&str] = if index.is_multiple_of(5) {
            &["acc_a"]
        } else {
            &[]
        };
        let answer = world
            .webhooks
            .create(scope, create_request(&format!("w{index}"), accounts))
            .await
            .unwrap();
        created.push(answer.webhook().id().to_string());
        if accounts.is_empty() {
            unfiltered.push(answer.webhook().id().to_string());
        }
    }
    let mut walked: Vec<String> = Vec::new();
    let mut path = "/v1/webhooks?limit=100".to_owned();
    for _ in 0..30 {
        let answer = world
            .call("GET", "/v1/webhooks", &path, Some("live"), None)
            .await;
        assert_eq!(answer.status, 200);
        let page = answer.ids();
        assert!(page.len() <= 100);
        walked.extend(page);
        let Some(link) = answer.header("link") else {
            break;
        };
        let next = link
            .strip_prefix('<')
            .and_then(|rest| rest.strip_suffix(">; rel=\"next\""))
            .unwrap();
        assert!(
            next.starts_with("/v1/webhooks?limit=100&starting_after=wh_"),
            "{next}"
        );
        path = next.to_owned();
    }
    assert_eq!(walked, created);

    // With a filter (a malformed account: the unfiltered), and starting_after alone (pages
    // of the default size).
    let path = format!(
        "/v1/webhooks?account_id=bad%20id&starting_after={}",
        unfiltered[0]
    );
    let first = world
        .call("GET", "/v1/webhooks", &path, Some("live"), None)
        .await;
    assert_eq!(
        first.ids(),
        unfiltered[1..=api::DEFAULT_PAGE_LIMIT].to_vec()
    );
    let link = first.header("link").unwrap();
    assert!(
        link.contains("account_id=bad+id&limit=100&starting_after="),
        "{link}"
    );
    let answer = world.list("live", "?account_id=acc_z&limit=1000").await;
    assert_eq!(answer.ids().len(), 1000);
    assert!(answer.header("link").is_some());
    // The full array without parameters, as the seed answers.
    assert_eq!(world.list("live", "").await.ids(), created);
}

#[tokio::test]
async fn every_documented_operation_answers_on_the_router() {
    let world = World::start_with(|api| api.without_rate_limit().serving_openapi()).await;
    let document = world.document.json.clone();
    let mut operations = Vec::new();
    for (template, item) in document["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            operations.push((method.to_uppercase(), template.clone()));
        }
    }
    operations.sort();
    let expected = [
        ("DELETE", "/v1/webhooks/{id}"),
        ("GET", "/v1/webhooks"),
        ("GET", "/v1/webhooks/{id}"),
        ("POST", "/v1/webhooks"),
        ("PUT", "/v1/webhooks/{id}"),
        ("PUT", "/v1/webhooks/{id}/rotate-secret"),
    ];
    assert_eq!(
        operations,
        expected.map(|(m, t)| (m.to_owned(), t.to_owned())).to_vec()
    );
    for (method, template) in &operations {
        let id = world.create("live", json!({"url": URL})).await.id();
        let path = template.replace("{id}", &id);
        let with_body = method == "POST" || (method == "PUT" && template == "/v1/webhooks/{id}");
        let body = with_body.then(|| json!({"url": URL}));
        let answer = world
            .call(method, template, &path, Some("live"), body)
            .await;
        assert!(
            (200..300).contains(&answer.status),
            "{method} {template}: {}",
            answer.status
        );
    }
    // The served document is the same one, and needs no token.
    let served = world.send("GET", api::OPENAPI_PATH, None, None).await;
    assert_eq!(served.status, 200);
    assert_eq!(served.body, document);
    assert_eq!(document["openapi"].as_str().unwrap().get(..3), Some("3.1"));
    // Without serving_openapi the path is unknown.
    let plain = World::start().await;
    plain
        .send("GET", api::OPENAPI_PATH, None, None)
        .await
        .assert_error(404, "not_found");
}

#[tokio::test]
async fn the_router_serves_any_store_through_the_one_line_constructor() {
    let organization = new_organization();
    let scope = Scope::new(organization, AccountType::Test);
    let tokens = Tokens([("t".to_owned(), scope.clone())].into_iter().collect());
    let service = Webhooks::new(MemoryStore::new());
    service
        .create(&scope, CreateWebhookRequest::new(URL.parse().unwrap()))
        .await
        .unwrap();
    let router = api::router(service, tokens);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let listed: Value = serde_json::from_str(
        &client_builder()
            .build()
            .unwrap()
            .get(format!("{base}/v1/webhooks"))
            .header("authorization", "Bearer t")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(listed[0]["account_type"], "test");
}

#[tokio::test]
async fn verified_webhook_refuses_with_the_code_bounds_the_body_and_guards_replays() {
    use webhook_kit::api::{MemoryReplayGuard, Receiver, VerifiedWebhook};
    use webhook_kit::{Secret, Signer, Verifier};

    let secret = Secret::generate();
    let handled = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = Arc::clone(&handled);
    let receiver = Receiver::new(Verifier::from_secret(&secret))
        .with_replay_guard(MemoryReplayGuard::new(100))
        .with_body_limit(64);
    let app = axum::Router::new()
        .route(
            "/hook",
            axum::routing::post(move |webhook: VerifiedWebhook| {
                let counter = Arc::clone(&counter);
                async move {
                    counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let shown = format!("{webhook:?}");
                    assert!(
                        shown.contains("body_len: 7") && !shown.contains(":1}"),
                        "{shown}"
                    );
                    format!(
                        "{} {} {}",
                        webhook.id(),
                        webhook.timestamp(),
                        webhook.body().len()
                    )
                }
            }),
        )
        .with_state(Arc::new(receiver));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let client = client_builder().build().unwrap();
    let signer = Signer::from_secret(&secret);
    let post = |id: &'static str, body: Vec<u8>, signed_body: Vec<u8>| {
        let signed = signer.headers_now(id, &signed_body).unwrap();
        let mut request = client.post(&url).body(body);
        for (name, value) in signed.pairs() {
            request = request.header(name, value);
        }
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.text().await.unwrap())
        }
    };
    let body = b"{\"a\":1}".to_vec();
    let (status, text) = post("msg_1", body.clone(), body.clone()).await;
    assert_eq!(status, 200);
    assert!(text.starts_with("msg_1 ") && text.ends_with(" 7"), "{text}");
    let (status, text) = post("msg_1", body.clone(), body.clone()).await;
    let answer: Value = serde_json::from_str(&text).unwrap();
    assert_eq!((status, answer["code"].as_str()), (200, Some("duplicate")));
    let (status, text) = post("msg_2", b"{\"a\":2}".to_vec(), body.clone()).await;
    let answer: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        (status, answer["code"].as_str()),
        (401, Some("signature_mismatch"))
    );
    let large = vec![b'x'; 65];
    let (status, text) = post("msg_3", large.clone(), large).await;
    let answer: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        (status, answer["code"].as_str()),
        (413, Some("payload_too_large"))
    );
    let unsigned = client.post(&url).body(body).send().await.unwrap();
    assert_eq!(unsigned.status().as_u16(), 401);
    let answer: Value = serde_json::from_str(&unsigned.text().await.unwrap()).unwrap();
    assert_eq!(answer["code"], "header_missing");
    assert_eq!(handled.load(std::sync::atomic::Ordering::SeqCst), 1);
}

/// A plain-HTTP client. With the `send` feature in the build, reqwest's TLS comes without
/// a crypto provider (the transport brings its own), so a process default is installed
/// before any client is built.
fn client_builder() -> reqwest::ClientBuilder {
    let _ = tokio_rustls::rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
}

#[test]
fn a_refusal_names_the_hosts_challenge_and_never_an_invalid_one() {
    use axum::response::IntoResponse;
    let challenge = |refusal: Unauthorized| {
        let response = api::ApiError::Unauthorized(refusal).into_response();
        assert_eq!(response.status(), 401);
        response
            .headers()
            .get("www-authenticate")
            .map(|value| value.to_str().unwrap().to_owned())
    };
    assert_eq!(
        challenge(Unauthorized::new("no key").with_challenge(r#"Basic realm="hooks""#)),
        Some(r#"Basic realm="hooks""#.to_owned())
    );
    // A value that cannot be a header (a line break) is not sent: the default is.
    assert_eq!(
        challenge(Unauthorized::new("no key").with_challenge("Basic\r\nX-Injected: 1")),
        Some("Bearer".to_owned())
    );
}
