//! Who an access token belongs to, asked of the provider: the account a connection is routed by.
//!
//! A connection's `externalAccountId` decides which webhook events reach its org, so it is never
//! taken from a client: it is learned here, with the token, from the provider's own identity
//! endpoint, which also proves the token is live.
//!
//! | provider | endpoint | account |
//! |---|---|---|
//! | HubSpot | `GET /oauth/v1/access-tokens/{token}` | `hub_id` |
//! | Jobber | GraphQL `query { account { id } }` | the account's number (`gid://Jobber/Account/<n>`) |
//! | Pipedrive | `GET {api_domain}/api/v1/users/me` | `data.company_id` |
//! | Salesforce | `GET {instance_url}/services/oauth2/userinfo` | `organization_id` |

use base64::Engine as _;
use fluxcascade_core::ProviderKind;
use serde_json::Value;

use crate::{egress, HubspotAuth, ProviderApp, ProviderError};

/// The largest identity answer read (they are a few hundred bytes).
const MAX_IDENTITY_BODY: usize = 64 * 1024;

/// The provider account `token` belongs to. `instance_url` is the connection's API host
/// (Pipedrive `api_domain`, Salesforce `instance_url`), already checked by the egress policy;
/// `None` uses the app's `api_base`. A token the provider refuses is [`ProviderError::Auth`].
pub async fn account_of(
    kind: ProviderKind,
    app: &ProviderApp,
    http: &reqwest::Client,
    token: &str,
    instance_url: Option<&str>,
) -> Result<String, ProviderError> {
    let base = instance_url
        .filter(|u| !u.trim().is_empty())
        .unwrap_or(&app.api_base)
        .trim_end_matches('/');
    match kind {
        ProviderKind::Hubspot => HubspotAuth::portal_id(app, http, token).await,
        ProviderKind::Jobber => {
            let request = http
                .post(format!(
                    "{}/api/graphql",
                    app.api_base.trim_end_matches('/')
                ))
                .header("X-JOBBER-GRAPHQL-VERSION", crate::jobber::GRAPHQL_VERSION)
                .json(&serde_json::json!({"query": "query { account { id } }"}));
            let body = send(request, token).await?;
            let id = text(&body["data"]["account"]["id"])
                .ok_or_else(|| missing("Jobber", "data.account.id"))?;
            Ok(jobber_account_number(&id).unwrap_or(id))
        }
        ProviderKind::Pipedrive => {
            let body = send(http.get(format!("{base}/api/v1/users/me")), token).await?;
            text(&body["data"]["company_id"]).ok_or_else(|| missing("Pipedrive", "data.company_id"))
        }
        ProviderKind::Salesforce => {
            let body = send(http.get(format!("{base}/services/oauth2/userinfo")), token).await?;
            text(&body["organization_id"]).ok_or_else(|| missing("Salesforce", "organization_id"))
        }
    }
}

/// `gid://Jobber/Account/42` (base64-encoded, as Jobber's ids are) → `42`; what the access
/// token's `account_id` claim and the OAuth path store.
pub fn jobber_account_number(encoded: &str) -> Option<String> {
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(encoded))
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let number = text.strip_prefix("gid://Jobber/Account/")?;
    number
        .chars()
        .all(|c| c.is_ascii_digit())
        .then(|| number.to_owned())
}

async fn send(request: reqwest::RequestBuilder, token: &str) -> Result<Value, ProviderError> {
    let failed = |e: String| ProviderError::Transient(format!("identity call failed: {e}"));
    let response = request
        .bearer_auth(token)
        .send()
        .await
        .map_err(|e| failed(egress::describe(e)))?;
    let status = response.status();
    let body = egress::read_capped(response, MAX_IDENTITY_BODY)
        .await
        .map_err(|e| match e {
            egress::BodyError::TooLarge { .. } => {
                ProviderError::Permanent("the identity answer is too large".into())
            }
            egress::BodyError::Transport(e) => failed(e),
        })?;
    if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
        return Err(ProviderError::Auth(format!(
            "the provider refused the token ({status})"
        )));
    }
    if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
        return Err(ProviderError::Transient(format!(
            "the identity endpoint answered {status}"
        )));
    }
    if !status.is_success() {
        return Err(ProviderError::Permanent(format!(
            "the identity endpoint answered {status}"
        )));
    }
    let value: Value = serde_json::from_slice(&body)
        .map_err(|_| ProviderError::Permanent("the identity answer is not JSON".into()))?;
    // GraphQL reports a bad token as 200 with errors.
    if value.get("errors").is_some_and(|e| !e.is_null()) && value["data"].is_null() {
        return Err(ProviderError::Auth(
            "the provider refused the token (GraphQL errors)".into(),
        ));
    }
    Ok(value)
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() && s.len() <= 200 => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn missing(provider: &str, field: &str) -> ProviderError {
    ProviderError::Permanent(format!("{provider}'s identity answer has no {field}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobber_encoded_account_ids_decode_to_their_number() {
        let encoded = base64::engine::general_purpose::STANDARD.encode("gid://Jobber/Account/42");
        assert_eq!(jobber_account_number(&encoded), Some("42".into()));
        assert_eq!(jobber_account_number("42"), None);
        let client = base64::engine::general_purpose::STANDARD.encode("gid://Jobber/Client/42");
        assert_eq!(jobber_account_number(&client), None);
    }
}
