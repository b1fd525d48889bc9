//! The OpenAPI 3.1 document of the router, generated from its handlers (`utoipa::path`)
//! and the schemas below, which mirror the wire types field for field. The router's tests
//! validate every answer against these schemas, so the two cannot drift apart unnoticed.

use serde::Deserialize;
use utoipa::{OpenApi, ToSchema};

/// The body of every answer that is not a success (mirrors [`crate::ErrorBody`]).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub(super) struct ErrorBody {
    /// The stable machine code.
    code: String,
    /// A human-readable message.
    message: String,
}

/// The 401 of every route: `unauthorized`, with the `WWW-Authenticate` challenge RFC 9110
/// asks of every 401.
#[derive(utoipa::IntoResponses)]
#[response(
    status = 401,
    description = "`unauthorized`.",
    headers(("www-authenticate" = String, description = "The challenge: `Bearer` unless the host's `Authenticate` names another."))
)]
#[allow(dead_code)]
pub(super) struct Unauthorized(ErrorBody);

/// The account's type (mirrors [`crate::AccountType`]).
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
pub(super) enum AccountType {
    /// Real accounts.
    Live,
    /// Test accounts.
    Test,
}

/// A webhook as list, get and update answer it: the secret masked.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub(super) struct Webhook {
    /// The webhook's unique identifier.
    #[schema(pattern = "^wh_[0-9a-z]{26}$")]
    id: String,
    /// An HTTPS URL, matching the seed's regular expression.
    #[schema(
        pattern = r"^https:\/\/[-a-zA-Z0-9@:%._\+~#=]{2,256}\.[a-z]{2,6}\b([-a-zA-Z0-9@:%_\+.~#?&\/\/=]*)$",
        max_length = 4096
    )]
    url: String,
    /// Determines if events should be sent to the webhook or not.
    enabled: bool,
    /// The account's type.
    account_type: AccountType,
    /// The webhook exclusively pushes events which belong to these account identifiers.
    /// Absent when it pushes the events of all the organisation's accounts.
    #[schema(max_items = 1000, min_items = 1)]
    #[serde(default)]
    account_ids: Vec<String>,
    /// The webhook's creation timestamp (RFC 3339, UTC).
    #[schema(format = DateTime)]
    created_at: String,
    /// The last 4 characters of the secret key used to generate the webhook payload HMAC.
    #[schema(min_length = 4, max_length = 4)]
    secret: String,
}

/// A webhook as create and rotate-secret answer it: with its full secret, shown this once.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub(super) struct WebhookWithSecret {
    /// The webhook's unique identifier.
    #[schema(pattern = "^wh_[0-9a-z]{26}$")]
    id: String,
    /// An HTTPS URL, matching the seed's regular expression.
    #[schema(
        pattern = r"^https:\/\/[-a-zA-Z0-9@:%._\+~#=]{2,256}\.[a-z]{2,6}\b([-a-zA-Z0-9@:%_\+.~#?&\/\/=]*)$",
        max_length = 4096
    )]
    url: String,
    /// Determines if events should be sent to the webhook or not.
    enabled: bool,
    /// The account's type.
    account_type: AccountType,
    /// The webhook exclusively pushes events which belong to these account identifiers.
    /// Absent when it pushes the events of all the organisation's accounts.
    #[schema(max_items = 1000, min_items = 1)]
    #[serde(default)]
    account_ids: Vec<String>,
    /// The webhook's creation timestamp (RFC 3339, UTC).
    #[schema(format = DateTime)]
    created_at: String,
    /// The secret key used to generate the webhook payload HMAC (Standard Webhooks:
    /// `whsec_` and base64).
    #[schema(pattern = "^whsec_[A-Za-z0-9+/]+={0,2}$")]
    secret: String,
}

/// The body of a create request.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub(super) struct CreateWebhook {
    /// An HTTPS URL, matching the seed's regular expression.
    #[schema(
        pattern = r"^https:\/\/[-a-zA-Z0-9@:%._\+~#=]{2,256}\.[a-z]{2,6}\b([-a-zA-Z0-9@:%_\+.~#?&\/\/=]*)$",
        max_length = 4096
    )]
    url: String,
    /// The created webhook will exclusively push events which belong to the given account
    /// identifiers. Absent, `null` or empty: all the organisation's accounts.
    #[schema(max_items = 1000)]
    account_ids: Option<Vec<String>>,
}

/// The body of an update request.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub(super) struct UpdateWebhook {
    /// An HTTPS URL, matching the seed's regular expression.
    #[schema(
        pattern = r"^https:\/\/[-a-zA-Z0-9@:%._\+~#=]{2,256}\.[a-z]{2,6}\b([-a-zA-Z0-9@:%_\+.~#?&\/\/=]*)$",
        max_length = 4096
    )]
    url: String,
    /// Determines if events should be sent to the webhook or not. When absent, the stored
    /// value is kept.
    enabled: Option<bool>,
    /// The updated webhook will exclusively push events which belong to the given account
    /// identifiers. Absent or `null`: the filter is kept; empty: all accounts.
    #[schema(max_items = 1000)]
    account_ids: Option<Vec<String>>,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "webhook-kit",
        description = "Register webhooks: the seed's REST API as served by `webhook_kit::api::router`. \
            Every answer that is not a success is `{\"code\", \"message\"}`.",
    ),
    paths(
        super::create,
        super::list,
        super::get_one,
        super::update,
        super::delete,
        super::rotate_secret,
    ),
    components(schemas(
        Webhook,
        WebhookWithSecret,
        CreateWebhook,
        UpdateWebhook,
        ErrorBody,
        AccountType
    ))
)]
struct Document;

/// The OpenAPI 3.1 document of [`router`](super::router)'s routes: their parameters, bodies
/// (with the seed's required fields, URL pattern, `account_type` values, `created_at`
/// format and the secret's two meanings) and error answers. Serialise it with
/// `serde_json` or `to_pretty_json`.
///
/// ```
/// let document = webhook_kit::api::openapi();
/// assert!(document.paths.paths.contains_key("/v1/webhooks/{id}/rotate-secret"));
/// ```
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut document = Document::openapi();
    document.info.version = env!("CARGO_PKG_VERSION").to_owned();
    document
}

/// The document as JSON, for serving.
pub(super) fn document_json() -> Vec<u8> {
    serde_json::to_vec(&openapi()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn every_401_names_its_challenge_header() {
        let document = serde_json::to_value(openapi()).unwrap();
        let mut seen = 0;
        for (path, item) in document["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                let unauthorized = &operation["responses"]["401"];
                assert!(
                    unauthorized["headers"]["www-authenticate"].is_object(),
                    "{method} {path}: {unauthorized}"
                );
                assert_eq!(
                    unauthorized["content"]["application/json"]["schema"]["$ref"],
                    "#/components/schemas/ErrorBody"
                );
                seen += 1;
            }
        }
        assert_eq!(seen, 6, "the six routes");
    }

    #[test]
    fn every_url_schema_has_the_seeds_pattern() {
        let document = serde_json::to_value(openapi()).unwrap();
        let schemas = document["components"]["schemas"].as_object().unwrap();
        for name in [
            "Webhook",
            "WebhookWithSecret",
            "CreateWebhook",
            "UpdateWebhook",
        ] {
            assert_eq!(
                schemas[name]["properties"]["url"]["pattern"],
                crate::url::SEED_URL_PATTERN,
                "{name}"
            );
        }
    }
}
