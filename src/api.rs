//! The seed's REST API as an axum [`Router`] (feature `axum`), its OpenAPI document, and
//! the [`VerifiedWebhook`] extractor for receivers.
//!
//! [`router`] serves exactly the seed's six routes over a [`Webhooks`] service:
//!
//! | route | success |
//! |---|---|
//! | `POST /v1/webhooks` | 201 with the webhook and its full secret |
//! | `GET /v1/webhooks` | 200 with an array, secrets masked |
//! | `GET /v1/webhooks/{id}` | 200, secret masked |
//! | `PUT /v1/webhooks/{id}` | 200, secret masked |
//! | `DELETE /v1/webhooks/{id}` | 204, empty body |
//! | `PUT /v1/webhooks/{id}/rotate-secret` | 200 with the new full secret |
//!
//! Authentication is the host's: it implements [`Authenticate`], which turns a request's
//! parts into the caller's [`Scope`] or refuses (401). Every answer that is not a success
//! is JSON `{"code", "message"}` with a stable code, including what axum would otherwise
//! answer by itself: an unknown path (404 `not_found`), a wrong method (405
//! `method_not_allowed`, with `Allow`), a body over [`DEFAULT_BODY_LIMIT`] (413
//! `payload_too_large`) and a bad query (400 `query_invalid`). As the seed lists each
//! operation's errors, a malformed id is 404 `not_found` for get, delete and rotate-secret
//! and 400 `id_invalid` for update; a malformed `account_id` on list names no account, so
//! the answer holds the webhooks without a filter.
//!
//! Beyond the seed:
//!
//! - **Rate limit.** Each scope has a token bucket ([`RateLimit`], default
//!   [`RateLimit::DEFAULT`]); past it the answer is 429 `rate_limited` with `retry-after`.
//!   [`Api::without_rate_limit`] turns it off for hosts that limit elsewhere.
//! - **Pagination.** `GET /v1/webhooks` without parameters answers the seed's full array.
//!   With `limit` (1 to [`MAX_PAGE_LIMIT`]) and/or `starting_after` (a webhook id) it answers
//!   one page in creation order, still a plain array, with `Link: <…>; rel="next"` when
//!   more follow ([`DEFAULT_PAGE_LIMIT`] when only `starting_after` is given). Unknown or
//!   repeated query parameters are 400 `query_invalid`.
//! - **OpenAPI.** [`openapi`] is the OpenAPI 3.1 document of these routes, generated from
//!   the handlers and wire types; [`Api::serving_openapi`] also serves it at
//!   `GET /v1/openapi.json`.
//!
//! ```
//! use axum::http::request::Parts;
//! use webhook_kit::api::{self, Authenticate, Unauthorized};
//! use webhook_kit::{AccountType, MemoryStore, Scope, Webhooks};
//!
//! /// The host's authentication: here, one fixed bearer token.
//! struct OneToken;
//!
//! impl Authenticate for OneToken {
//!     async fn authenticate(&self, request: &Parts) -> Result<Scope, Unauthorized> {
//!         match request.headers.get("authorization").map(|value| value.as_bytes()) {
//!             Some(b"Bearer s3cr3t") => Ok(Scope::new("org_acme".parse().unwrap(), AccountType::Live)),
//!             _ => Err(Unauthorized::new("a valid bearer token is required")),
//!         }
//!     }
//! }
//!
//! let app: axum::Router = api::router(Webhooks::new(MemoryStore::new()), OneToken);
//! // The host nests or merges it into its own application, then serves it.
//! let host = axum::Router::new().merge(app);
//! # drop(host);
//! ```

mod openapi;
mod rate_limit;
mod receiver;

use std::borrow::Cow;
use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{DefaultBodyLimit, FromRequestParts, OriginalUri, Path, RawQuery, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use serde::Serialize;

pub use openapi::openapi;
pub use rate_limit::RateLimit;
pub use receiver::{
    DEFAULT_REMEMBERED_IDS, MemoryReplayGuard, Receiver, ReplayGuard, VerifiedWebhook,
    WebhookRejection,
};

use crate::error::{Error, ErrorBody};
use crate::id::{IdKind, InvalidId};
use crate::service::Webhooks;
use crate::store::{MAX_PAGE_LIMIT, WebhookStore};
use crate::webhook::Scope;
use crate::wire::{CreateWebhookRequest, UpdateWebhookRequest};
use rate_limit::Limiter;

/// Largest request body the router reads, in bytes, unless [`Api::with_body_limit`] says
/// otherwise: 1 MiB. The largest valid body (a 4,096-byte URL and 1,000 account ids of 255
/// characters) is under 264 KiB written plainly; the rest leaves room for JSON escapes and
/// whitespace.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// The page size when a listing gives `starting_after` without `limit`.
pub const DEFAULT_PAGE_LIMIT: usize = 100;

/// Where [`Api::serving_openapi`] serves the OpenAPI document.
pub const OPENAPI_PATH: &str = "/v1/openapi.json";

/// The host's authentication: decides from a request's parts (method, URI, headers,
/// extensions set by the host's middleware) which organisation calls, in live or test mode.
///
/// The crate never invents users or tokens: a refusal is answered 401 with the
/// [`Unauthorized`] message as the error body's `message` (code `unauthorized`).
pub trait Authenticate: Send + Sync + 'static {
    /// The caller's scope, or why the request is refused.
    ///
    /// # Errors
    ///
    /// [`Unauthorized`] when the request does not authenticate anyone.
    fn authenticate(
        &self,
        request: &Parts,
    ) -> impl Future<Output = Result<Scope, Unauthorized>> + Send;
}

impl<A: Authenticate> Authenticate for Arc<A> {
    fn authenticate(
        &self,
        request: &Parts,
    ) -> impl Future<Output = Result<Scope, Unauthorized>> + Send {
        (**self).authenticate(request)
    }
}

/// The `WWW-Authenticate` challenge of a 401 unless the refusal names another: `Bearer`.
pub const DEFAULT_CHALLENGE: &str = "Bearer";

/// An [`Authenticate`] refusal: answered 401 with this message, and with a
/// `WWW-Authenticate` challenge, as RFC 9110 requires of every 401 ([`DEFAULT_CHALLENGE`]
/// unless [`with_challenge`](Self::with_challenge) names the host's scheme).
///
/// ```
/// use webhook_kit::api::Unauthorized;
///
/// let refusal = Unauthorized::new("unknown key").with_challenge(r#"Basic realm="hooks""#);
/// assert_eq!(refusal.challenge(), r#"Basic realm="hooks""#);
/// assert_eq!(Unauthorized::default().challenge(), "Bearer");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unauthorized {
    message: Cow<'static, str>,
    challenge: Cow<'static, str>,
}

impl Unauthorized {
    /// A refusal saying `message` to the caller. Never put a secret or a token in it.
    pub fn new(message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            message: message.into(),
            challenge: Cow::Borrowed(DEFAULT_CHALLENGE),
        }
    }

    /// The same refusal with `challenge` as its `WWW-Authenticate` value (the host's auth
    /// scheme and its parameters, such as `Basic realm="hooks"`). A value that cannot be a
    /// header is answered as [`DEFAULT_CHALLENGE`].
    #[must_use]
    pub fn with_challenge(mut self, challenge: impl Into<Cow<'static, str>>) -> Self {
        self.challenge = challenge.into();
        self
    }

    /// What the caller is told.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The `WWW-Authenticate` challenge of the answer.
    pub fn challenge(&self) -> &str {
        &self.challenge
    }
}

impl Default for Unauthorized {
    /// "authentication required".
    fn default() -> Self {
        Self::new("authentication required")
    }
}

/// Why the router refused a request: a service [`Error`], or what the HTTP layer decides.
/// Each has a stable [`code`](ApiError::code) and status, and answers with the JSON
/// [`ErrorBody`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// The service refused or failed.
    #[error(transparent)]
    Service(#[from] Error),
    /// [`Authenticate`] refused the request (401 `unauthorized`).
    #[error("{}", .0.message())]
    Unauthorized(Unauthorized),
    /// The caller's scope is over its [`RateLimit`] (429 `rate_limited`, with `retry-after`).
    #[error("too many requests: retry in {retry_after_secs} s")]
    RateLimited {
        /// Whole seconds after which a request will be admitted again (at least 1).
        retry_after_secs: u64,
    },
    /// The body is larger than the router reads (413 `payload_too_large`).
    #[error("request body is larger than {limit} bytes")]
    PayloadTooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// No route has this path (404 `not_found`).
    #[error("no such route")]
    RouteNotFound,
    /// The route does not take this method (405 `method_not_allowed`).
    #[error("method not allowed on this route")]
    MethodNotAllowed,
}

impl ApiError {
    /// The stable machine code, part of the API.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Service(error) => error.code(),
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::RouteNotFound => "not_found",
            ApiError::MethodNotAllowed => "method_not_allowed",
        }
    }

    /// The HTTP status of the answer.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Service(error) => {
                StatusCode::from_u16(error.http_status()).unwrap_or(StatusCode::BAD_REQUEST)
            }
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::RouteNotFound => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        }
    }

    /// The JSON body of the answer.
    pub fn to_body(&self) -> ErrorBody {
        match self {
            ApiError::Service(error) => error.to_body(),
            other => ErrorBody {
                code: other.code().to_owned(),
                message: other.to_string(),
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Service(error) = self {
            return error.into_response();
        }
        let mut response = json(self.status(), &self.to_body());
        match self {
            ApiError::RateLimited { retry_after_secs } => {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
            }
            ApiError::Unauthorized(refusal) => {
                let challenge = HeaderValue::from_str(refusal.challenge())
                    .unwrap_or(HeaderValue::from_static(DEFAULT_CHALLENGE));
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, challenge);
            }
            _ => {}
        }
        response
    }
}

/// The service's error as an answer: its status and `{"code", "message"}`. A store failure
/// is logged (with its source) and answered 500 `internal_error` without detail.
impl IntoResponse for Error {
    fn into_response(self) -> Response {
        if let Error::Store(source) = &self {
            tracing::error!(error = %source, retryable = source.is_retryable(), "store failure");
        }
        let status = StatusCode::from_u16(self.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
        json(status, &self.to_body())
    }
}

/// `value` as a JSON answer with `status`.
fn json(status: StatusCode, value: &impl Serialize) -> Response {
    match serde_json::to_vec(value) {
        Ok(bytes) => (
            status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            bytes,
        )
            .into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// The seed's API over `webhooks`, authenticated by `auth`, with the defaults: the
/// [`RateLimit::DEFAULT`] per scope and bodies up to [`DEFAULT_BODY_LIMIT`]. See [`Api`]
/// to change them.
///
/// The router answers unknown paths itself (404 JSON): merge it into a router without a
/// fallback of its own, or [`nest`](Router::nest) it.
pub fn router<S, A>(webhooks: Webhooks<S>, auth: A) -> Router
where
    S: WebhookStore + 'static,
    A: Authenticate,
{
    Api::new(webhooks, auth).into_router()
}

/// The seed's API with its settings; [`into_router`](Api::into_router) builds the router.
///
/// ```
/// use std::num::NonZeroU32;
///
/// use axum::http::request::Parts;
/// use webhook_kit::api::{Api, Authenticate, RateLimit, Unauthorized};
/// use webhook_kit::{MemoryStore, Scope, Webhooks};
///
/// struct Nobody;
///
/// impl Authenticate for Nobody {
///     async fn authenticate(&self, _: &Parts) -> Result<Scope, Unauthorized> {
///         Err(Unauthorized::default())
///     }
/// }
///
/// let per_second = NonZeroU32::new(5).unwrap();
/// let router: axum::Router = Api::new(Webhooks::new(MemoryStore::new()), Nobody)
///     .with_rate_limit(RateLimit::per_second(per_second))
///     .with_body_limit(64 * 1024)
///     .serving_openapi()
///     .into_router();
/// # drop(router);
/// ```
#[derive(Debug)]
pub struct Api<S, A> {
    webhooks: Webhooks<S>,
    auth: A,
    rate_limit: Option<RateLimit>,
    body_limit: usize,
    serve_openapi: bool,
}

impl<S, A> Api<S, A>
where
    S: WebhookStore + 'static,
    A: Authenticate,
{
    /// The API over `webhooks`, authenticated by `auth`, with the defaults of [`router`].
    pub fn new(webhooks: Webhooks<S>, auth: A) -> Self {
        Self {
            webhooks,
            auth,
            rate_limit: Some(RateLimit::DEFAULT),
            body_limit: DEFAULT_BODY_LIMIT,
            serve_openapi: false,
        }
    }

    /// Limits each scope to `rate_limit`.
    #[must_use]
    pub fn with_rate_limit(mut self, rate_limit: RateLimit) -> Self {
        self.rate_limit = Some(rate_limit);
        self
    }

    /// No rate limit: for hosts that limit elsewhere.
    #[must_use]
    pub fn without_rate_limit(mut self) -> Self {
        self.rate_limit = None;
        self
    }

    /// Reads request bodies up to `bytes`; larger ones are 413.
    #[must_use]
    pub fn with_body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// Also serves the [`openapi`] document at [`OPENAPI_PATH`], without authentication.
    #[must_use]
    pub fn serving_openapi(mut self) -> Self {
        self.serve_openapi = true;
        self
    }

    /// The router.
    pub fn into_router(self) -> Router {
        let shared = Arc::new(Shared {
            webhooks: self.webhooks,
            auth: self.auth,
            limiter: self.rate_limit.map(Limiter::new),
            body_limit: self.body_limit,
        });
        let mut router = Router::new()
            .route("/v1/webhooks", get(list::<S, A>).post(create::<S, A>))
            .route(
                "/v1/webhooks/{id}",
                get(get_one::<S, A>)
                    .put(update::<S, A>)
                    .delete(delete::<S, A>),
            )
            .route(
                "/v1/webhooks/{id}/rotate-secret",
                put(rotate_secret::<S, A>),
            );
        if self.serve_openapi {
            let document = Bytes::from(openapi::document_json());
            router = router.route(
                OPENAPI_PATH,
                get(move || {
                    let document = document.clone();
                    async move {
                        (
                            [(
                                header::CONTENT_TYPE,
                                HeaderValue::from_static("application/json"),
                            )],
                            document,
                        )
                    }
                }),
            );
        }
        router
            .fallback(route_not_found)
            .method_not_allowed_fallback(method_not_allowed)
            .layer(DefaultBodyLimit::max(self.body_limit))
            .with_state(shared)
    }
}

/// What the handlers share.
struct Shared<S, A> {
    webhooks: Webhooks<S>,
    auth: A,
    limiter: Option<Limiter>,
    body_limit: usize,
}

/// The authenticated caller, within its rate limit.
struct Caller(Scope);

impl<S, A> FromRequestParts<Arc<Shared<S, A>>> for Caller
where
    S: WebhookStore + 'static,
    A: Authenticate,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        shared: &Arc<Shared<S, A>>,
    ) -> Result<Self, ApiError> {
        let scope = shared
            .auth
            .authenticate(parts)
            .await
            .map_err(ApiError::Unauthorized)?;
        if let Some(limiter) = &shared.limiter {
            limiter.check(&scope)?;
        }
        Ok(Caller(scope))
    }
}

type SharedState<S, A> = State<Arc<Shared<S, A>>>;

/// The request body, or why it cannot be read.
fn body(body: Result<Bytes, BytesRejection>, limit: usize) -> Result<Bytes, ApiError> {
    body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge { limit }
        } else {
            Error::BodyInvalid("the body could not be read".to_owned()).into()
        }
    })
}

/// The `{id}` of a path; undecodable percent-escapes give `refused`.
fn path_id(path: Result<Path<String>, PathRejection>, refused: Error) -> Result<String, Error> {
    path.map(|Path(id)| id).map_err(|_| refused)
}

fn answer<T: Serialize>(status: StatusCode, result: Result<T, Error>) -> Response {
    match result {
        Ok(value) => json(status, &value),
        Err(error) => error.into_response(),
    }
}

#[utoipa::path(
    post,
    path = "/v1/webhooks",
    operation_id = "create_webhook",
    summary = "Create a webhook",
    request_body = openapi::CreateWebhook,
    responses(
        (status = 201, description = "The webhook, with its full secret (shown this once).", body = openapi::WebhookWithSecret),
        (status = 400, description = "`body_invalid`, `url_invalid`, `url_not_allowed` or `account_ids_invalid`.", body = openapi::ErrorBody),
        openapi::Unauthorized,
        (status = 413, description = "`payload_too_large`.", body = openapi::ErrorBody),
        (status = 429, description = "`rate_limited`, with `retry-after`.", body = openapi::ErrorBody),
        (status = 500, description = "`internal_error`.", body = openapi::ErrorBody),
    ),
)]
async fn create<S: WebhookStore + 'static, A: Authenticate>(
    Caller(scope): Caller,
    State(shared): SharedState<S, A>,
    request: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let bytes = body(request, shared.body_limit)?;
    let request = CreateWebhookRequest::from_json(&bytes)?;
    Ok(answer(
        StatusCode::CREATED,
        shared.webhooks.create(&scope, request).await,
    ))
}

/// The query parameters of a listing.
#[derive(Debug, Default)]
struct ListQuery {
    account_id: Option<String>,
    limit: Option<usize>,
    starting_after: Option<String>,
}

impl ListQuery {
    fn parse(query: Option<&str>) -> Result<Self, Error> {
        let mut parsed = ListQuery::default();
        let Some(query) = query else {
            return Ok(parsed);
        };
        for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
            let slot = match &*name {
                "account_id" => &mut parsed.account_id,
                "starting_after" => &mut parsed.starting_after,
                "limit" => {
                    if parsed.limit.is_some() {
                        return Err(repeated("limit"));
                    }
                    let limit = value.parse::<usize>().map_err(|_| {
                        Error::QueryInvalid(format!(
                            "`limit` must be a whole number between 1 and {MAX_PAGE_LIMIT}"
                        ))
                    })?;
                    parsed.limit = Some(limit);
                    continue;
                }
                other => {
                    return Err(Error::QueryInvalid(format!(
                        "unknown parameter `{}` (expected `account_id`, `limit` or `starting_after`)",
                        crate::error::echo(other)
                    )));
                }
            };
            if slot.is_some() {
                return Err(repeated(if name == "account_id" {
                    "account_id"
                } else {
                    "starting_after"
                }));
            }
            *slot = Some(value.into_owned());
        }
        Ok(parsed)
    }

    /// The query of the page after `last`.
    fn next(&self, limit: usize, last: &str) -> String {
        let mut next = url::form_urlencoded::Serializer::new(String::new());
        if let Some(account) = &self.account_id {
            next.append_pair("account_id", account);
        }
        next.append_pair("limit", &limit.to_string());
        next.append_pair("starting_after", last);
        next.finish()
    }
}

fn repeated(name: &str) -> Error {
    Error::QueryInvalid(format!("`{name}` is given more than once"))
}

#[utoipa::path(
    get,
    path = "/v1/webhooks",
    operation_id = "list_webhooks",
    summary = "List all webhooks",
    params(
        ("account_id" = Option<String>, Query, description = "Only the webhooks that push events for this account: whose filter holds it, and those without a filter. A malformed id names no account: only webhooks without a filter match."),
        ("limit" = Option<usize>, Query, minimum = 1, maximum = 1000, description = "Beyond the seed: at most this many webhooks, in creation order."),
        ("starting_after" = Option<String>, Query, description = "Beyond the seed: the page after this webhook id (it need not still exist)."),
    ),
    responses(
        (status = 200, description = "The webhooks in creation order, secrets masked. A page when `limit` or `starting_after` is given, with `Link: <…>; rel=\"next\"` when more follow.", body = Vec<openapi::Webhook>,
            headers(("link" = String, description = "The next page, when more follow."))),
        (status = 400, description = "`query_invalid`: an unknown or repeated parameter, `limit` out of range, `starting_after` not a webhook id.", body = openapi::ErrorBody),
        openapi::Unauthorized,
        (status = 429, description = "`rate_limited`, with `retry-after`.", body = openapi::ErrorBody),
        (status = 500, description = "`internal_error`.", body = openapi::ErrorBody),
    ),
)]
async fn list<S: WebhookStore + 'static, A: Authenticate>(
    Caller(scope): Caller,
    State(shared): SharedState<S, A>,
    OriginalUri(uri): OriginalUri,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let query = ListQuery::parse(query.as_deref())?;
    let account_id = query.account_id.as_deref();
    if query.limit.is_none() && query.starting_after.is_none() {
        return Ok(answer(
            StatusCode::OK,
            shared.webhooks.list(&scope, account_id).await,
        ));
    }
    let limit = query.limit.unwrap_or(DEFAULT_PAGE_LIMIT);
    let page = shared
        .webhooks
        .list_page(&scope, account_id, query.starting_after.as_deref(), limit)
        .await?;
    let mut response = json(StatusCode::OK, &page.webhooks);
    if let Some(last) = page.next_starting_after() {
        let link = format!(
            "<{}?{}>; rel=\"next\"",
            uri.path(),
            query.next(limit, last.as_str())
        );
        if let Ok(link) = HeaderValue::from_str(&link) {
            response.headers_mut().insert(header::LINK, link);
        }
    }
    Ok(response)
}

#[utoipa::path(
    get,
    path = "/v1/webhooks/{id}",
    operation_id = "get_webhook",
    summary = "Get a webhook",
    params(("id" = String, Path, description = "The webhook's unique identifier.")),
    responses(
        (status = 200, description = "The webhook, its secret masked.", body = openapi::Webhook),
        openapi::Unauthorized,
        (status = 404, description = "`not_found`: no such webhook in the caller's scope (a malformed id included).", body = openapi::ErrorBody),
        (status = 429, description = "`rate_limited`, with `retry-after`.", body = openapi::ErrorBody),
        (status = 500, description = "`internal_error`.", body = openapi::ErrorBody),
    ),
)]
async fn get_one<S: WebhookStore + 'static, A: Authenticate>(
    Caller(scope): Caller,
    State(shared): SharedState<S, A>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let id = path_id(id, Error::NotFound)?;
    Ok(answer(
        StatusCode::OK,
        shared.webhooks.get(&scope, &id).await,
    ))
}

#[utoipa::path(
    put,
    path = "/v1/webhooks/{id}",
    operation_id = "update_webhook",
    summary = "Update a webhook",
    params(("id" = String, Path, description = "The webhook's unique identifier.")),
    request_body = openapi::UpdateWebhook,
    responses(
        (status = 200, description = "The updated webhook, its secret masked.", body = openapi::Webhook),
        (status = 400, description = "`id_invalid`, `body_invalid`, `url_invalid`, `url_not_allowed` or `account_ids_invalid`.", body = openapi::ErrorBody),
        openapi::Unauthorized,
        (status = 404, description = "`not_found`.", body = openapi::ErrorBody),
        (status = 409, description = "`conflict`: the webhook kept changing under the update; try again.", body = openapi::ErrorBody),
        (status = 413, description = "`payload_too_large`.", body = openapi::ErrorBody),
        (status = 429, description = "`rate_limited`, with `retry-after`.", body = openapi::ErrorBody),
        (status = 500, description = "`internal_error`.", body = openapi::ErrorBody),
    ),
)]
async fn update<S: WebhookStore + 'static, A: Authenticate>(
    Caller(scope): Caller,
    State(shared): SharedState<S, A>,
    id: Result<Path<String>, PathRejection>,
    request: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let refused = Error::Id(InvalidId::new(
        IdKind::Webhook,
        "not valid percent-encoded UTF-8",
    ));
    let id = path_id(id, refused)?;
    let bytes = body(request, shared.body_limit)?;
    let request = UpdateWebhookRequest::from_json(&bytes)?;
    Ok(answer(
        StatusCode::OK,
        shared.webhooks.update(&scope, &id, request).await,
    ))
}

#[utoipa::path(
    delete,
    path = "/v1/webhooks/{id}",
    operation_id = "delete_webhook",
    summary = "Delete a webhook",
    params(("id" = String, Path, description = "The webhook's unique identifier.")),
    responses(
        (status = 204, description = "Deleted; no body."),
        openapi::Unauthorized,
        (status = 404, description = "`not_found` (a malformed id included).", body = openapi::ErrorBody),
        (status = 429, description = "`rate_limited`, with `retry-after`.", body = openapi::ErrorBody),
        (status = 500, description = "`internal_error`.", body = openapi::ErrorBody),
    ),
)]
async fn delete<S: WebhookStore + 'static, A: Authenticate>(
    Caller(scope): Caller,
    State(shared): SharedState<S, A>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let id = path_id(id, Error::NotFound)?;
    shared.webhooks.delete(&scope, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[utoipa::path(
    put,
    path = "/v1/webhooks/{id}/rotate-secret",
    operation_id = "rotate_webhook_secret",
    summary = "Rotate a webhook secret",
    description = "The existing secret is invalidated immediately; later deliveries are signed with the new one.",
    params(("id" = String, Path, description = "The webhook's unique identifier.")),
    responses(
        (status = 200, description = "The webhook, with its new full secret (shown this once).", body = openapi::WebhookWithSecret),
        openapi::Unauthorized,
        (status = 404, description = "`not_found` (a malformed id included).", body = openapi::ErrorBody),
        (status = 409, description = "`conflict`: the webhook kept changing; try again.", body = openapi::ErrorBody),
        (status = 429, description = "`rate_limited`, with `retry-after`.", body = openapi::ErrorBody),
        (status = 500, description = "`internal_error`.", body = openapi::ErrorBody),
    ),
)]
async fn rotate_secret<S: WebhookStore + 'static, A: Authenticate>(
    Caller(scope): Caller,
    State(shared): SharedState<S, A>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let id = path_id(id, Error::NotFound)?;
    Ok(answer(
        StatusCode::OK,
        shared.webhooks.rotate_secret(&scope, &id).await,
    ))
}

async fn route_not_found() -> ApiError {
    ApiError::RouteNotFound
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}
