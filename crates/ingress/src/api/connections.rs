//! `/v1/connections`: create (tokens sealed by the store), list, get, delete. Tokens are never returned.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use fluxcascade_core::{limits, ProviderKind};
use fluxcascade_providers::egress::{self, ProviderMode};
use fluxcascade_providers::{identity, ProviderError};
use fluxcascade_store::connections::{ConnectionRow, NewConnection};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::api::PathId;
use crate::auth::{Caller, Manager};
use crate::error::{ApiError, ErrorBody, ErrorDetail};
use crate::json::ApiJson;
use crate::paging::{ListParams, Page, Params};
use crate::AppState;

/// `POST /v1/connections` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateConnectionBody {
    pub provider: String,
    #[serde(default)]
    pub account_name: Option<String>,
    #[serde(default)]
    pub external_account_id: Option<String>,
    pub credentials: CredentialsBody,
    #[serde(default)]
    pub instance_url: Option<String>,
}

/// The provider tokens of an imported connection (sealed at rest, never returned).
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CredentialsBody {
    pub access_token: String,
    #[serde(default)]
    pub refresh_token: Option<String>,
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
}

impl std::fmt::Debug for CredentialsBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialsBody")
            .field("access_token", &"[redacted]")
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "[redacted]"),
            )
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// A connection as the API shows it (its tokens never are).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionView {
    pub id: Uuid,
    pub provider: String,
    pub status: String,
    pub account_name: String,
    pub external_account_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_message: Option<String>,
    pub created_at: DateTime<Utc>,
    /// Salesforce: the outbound-message endpoint (with its secret), shown once at creation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_url: Option<String>,
}

impl From<ConnectionRow> for ConnectionView {
    fn from(r: ConnectionRow) -> ConnectionView {
        ConnectionView {
            id: r.id,
            provider: r.provider,
            status: r.status,
            account_name: r.account_name,
            external_account_id: r.external_account_id,
            status_message: r.status_message,
            created_at: r.created_at,
            webhook_url: None,
        }
    }
}

/// The longest access or refresh token accepted (real ones are well under 2 KiB; JWTs included).
pub(crate) const MAX_TOKEN_CHARS: usize = 8 * 1024;

/// Every problem with the body, each naming its field. `mode` decides which API hosts an
/// `instanceUrl` may name (egress policy: outside sandbox mode only the provider's own).
fn validate(body: &CreateConnectionBody, mode: ProviderMode) -> Result<ProviderKind, ApiError> {
    let mut details = Vec::new();
    let provider = ProviderKind::parse(&body.provider);
    if provider.is_none() {
        let known: Vec<&str> = ProviderKind::ALL.iter().map(|p| p.as_str()).collect();
        details.push(ErrorDetail::new(
            "provider",
            format!("unknown provider; expected one of {}", known.join(", ")),
        ));
    }
    for (field, value, max) in [
        (
            "accountName",
            body.account_name.as_deref(),
            limits::MAX_NAME_CHARS,
        ),
        (
            "externalAccountId",
            body.external_account_id.as_deref(),
            limits::MAX_IDENT_CHARS,
        ),
        (
            "credentials.accessToken",
            Some(body.credentials.access_token.as_str()),
            MAX_TOKEN_CHARS,
        ),
        (
            "credentials.refreshToken",
            body.credentials.refresh_token.as_deref(),
            MAX_TOKEN_CHARS,
        ),
    ] {
        if let Some(Err(e)) = value.map(|v| limits::check_text(v, max)) {
            details.push(ErrorDetail::new(field, e.to_string()));
        }
    }
    if body.credentials.access_token.trim().is_empty() {
        details.push(ErrorDetail::new(
            "credentials.accessToken",
            "must not be empty",
        ));
    }
    if let (Some(url), Some(kind)) = (&body.instance_url, provider) {
        if let Err(e) = egress::check_instance_url(kind, url, mode) {
            details.push(ErrorDetail::new("instanceUrl", e.to_string()));
        }
    }
    match provider {
        Some(p) if details.is_empty() => Ok(p),
        _ => Err(ApiError::invalid(details)),
    }
}

/// Imports a connection from provider tokens (Admin, Owner); the provider is asked which account
/// the token belongs to before anything is stored.
#[utoipa::path(post, path = "/v1/connections", tag = "connections",
    request_body = CreateConnectionBody,
    responses(
        (status = 201, body = ConnectionView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, description = "`provider_not_configured`", body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 502, body = ErrorBody), (status = 503, body = ErrorBody),
    ),
    extensions(("x-min-role" = json!("admin"))))]
pub async fn create(
    State(state): State<AppState>,
    Manager(caller): Manager,
    ApiJson(body): ApiJson<CreateConnectionBody>,
) -> Result<(StatusCode, Json<ConnectionView>), ApiError> {
    let provider = validate(&body, state.providers.mode())?;
    let access_token = body.credentials.access_token.clone();
    // The account comes from the provider, with the token; a client's claim must agree with it.
    let account = learn_account(
        &state,
        provider,
        &access_token,
        body.instance_url.as_deref(),
    )
    .await?;
    if let Some(claimed) = body
        .external_account_id
        .as_deref()
        .filter(|c| !c.is_empty())
    {
        if !same_account(provider, claimed, &account) {
            tracing::warn!(org_id = %caller.org_id(), provider = %provider, "externalAccountId disagrees with the token's account");
            return Err(ApiError::invalid_field(
                "externalAccountId",
                "does not match the account the provider says this token belongs to; omit it",
            ));
        }
    }
    let new = NewConnection {
        provider: provider.as_str().to_string(),
        account_name: body.account_name.unwrap_or_default(),
        external_account_id: account,
        access_token: body.credentials.access_token,
        refresh_token: body.credentials.refresh_token.filter(|t| !t.is_empty()),
        expires_at: body.credentials.expires_at,
        instance_url: body.instance_url,
    };
    let view = create_connection(&state, caller.org_id(), new, &access_token).await?;
    crate::api::audit::record(&state, &caller, "connection.created", "connection", view.id).await;
    Ok((StatusCode::CREATED, Json(view)))
}

/// The provider account `token` belongs to, asked of the provider (never taken from a client).
/// A token the provider refuses is 422 naming `credentials.accessToken`; a provider that cannot
/// be asked is 502 and nothing is stored (a connection is never stored unverified).
pub(crate) async fn learn_account(
    state: &AppState,
    kind: ProviderKind,
    token: &str,
    instance_url: Option<&str>,
) -> Result<String, ApiError> {
    learn_account_named(state, kind, token, instance_url, "credentials.accessToken").await
}

/// [`learn_account`], a refused token naming `field` (the body's name for the access token).
pub(crate) async fn learn_account_named(
    state: &AppState,
    kind: ProviderKind,
    token: &str,
    instance_url: Option<&str>,
    field: &str,
) -> Result<String, ApiError> {
    let app = state.provider_app(kind)?;
    match identity::account_of(kind, app, &state.http, token, instance_url).await {
        Ok(account) => Ok(account),
        Err(ProviderError::Auth(e)) => {
            tracing::info!(provider = %kind, error = %e, "connection token refused by the provider");
            Err(ApiError::invalid_field(
                field,
                format!(
                    "{} refused this token; connect the account again",
                    kind.as_str()
                ),
            ))
        }
        Err(e) => {
            tracing::warn!(provider = %kind, error = %e, "cannot learn the token's account");
            Err(ApiError::new(
                StatusCode::BAD_GATEWAY,
                "provider_unavailable",
                format!(
                    "{} could not tell which account this token belongs to; nothing was stored, try again",
                    kind.as_str()
                ),
            ))
        }
    }
}

/// Whether a client's `externalAccountId` names `account` (Jobber ids also in their encoded form).
pub(crate) fn same_account(kind: ProviderKind, claimed: &str, account: &str) -> bool {
    claimed == account
        || (kind == ProviderKind::Jobber
            && identity::jobber_account_number(claimed).as_deref() == Some(account))
}

/// Stores a new connection and sets up its webhooks (shared by `POST /v1/connections` and the
/// OAuth callback).
pub(crate) async fn create_connection(
    state: &AppState,
    org_id: Uuid,
    new: NewConnection,
    access_token: &str,
) -> Result<ConnectionView, ApiError> {
    let row = state
        .store
        .create_connection(org_id, &state.master_key, new)
        .await?;
    tracing::info!(org_id = %org_id, connection_id = %row.id, provider = %row.provider, "connection created");
    let hooks = crate::hooks::on_connection_created(state, org_id, &row, access_token).await?;
    let mut view = ConnectionView::from(row);
    view.webhook_url = hooks.webhook_url;
    Ok(view)
}

/// The organization's connections, oldest first.
#[utoipa::path(get, path = "/v1/connections", tag = "connections",
    params(ListParams),
    responses(
        (status = 200, body = Page<ConnectionView>),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 503, body = ErrorBody),
    ),
    extensions(("x-min-role" = json!("member"))))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
) -> Result<Json<Page<ConnectionView>>, ApiError> {
    let limit = params.limit()?;
    let rows = state
        .store
        .list_connections(caller.org_id(), limit + 1, params.uuid_cursor()?)
        .await?;
    Ok(Json(Page::from_rows(
        rows,
        limit,
        |r| r.id,
        ConnectionView::from,
    )))
}

/// One connection of the caller's organization.
#[utoipa::path(get, path = "/v1/connections/{id}", tag = "connections",
    params(("id" = Uuid, Path, description = "The connection's id")),
    responses(
        (status = 200, body = ConnectionView),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    extensions(("x-min-role" = json!("member"))))]
pub async fn get_one(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> Result<Json<ConnectionView>, ApiError> {
    let row = state
        .store
        .get_connection(caller.org_id(), id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(Json(row.into()))
}

/// Deletes a connection (Admin, Owner); 409 while a mapping uses it.
#[utoipa::path(delete, path = "/v1/connections/{id}", tag = "connections",
    params(("id" = Uuid, Path, description = "The connection's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    extensions(("x-min-role" = json!("admin"))))]
pub async fn delete(
    State(state): State<AppState>,
    Manager(caller): Manager,
    PathId(id): PathId,
) -> Result<StatusCode, ApiError> {
    if state.store.delete_connection(caller.org_id(), id).await? {
        tracing::info!(org_id = %caller.org_id(), connection_id = %id, "connection deleted");
        crate::api::audit::record(&state, &caller, "connection.deleted", "connection", id).await;
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(json: &str) -> CreateConnectionBody {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn unknown_provider_and_empty_token_are_both_reported() {
        let e = validate(
            &body(r#"{"provider":"zoho","credentials":{"accessToken":" "}}"#),
            ProviderMode::Production,
        )
        .unwrap_err();
        let fields: Vec<&str> = e.details.iter().map(|d| d.field.as_str()).collect();
        assert_eq!(fields, ["provider", "credentials.accessToken"]);
    }

    #[test]
    fn valid_body_yields_the_provider() {
        let b = body(
            r#"{"provider":"jobber","credentials":{"accessToken":"t","expiresAt":"2030-01-01T00:00:00Z"}}"#,
        );
        assert_eq!(
            validate(&b, ProviderMode::Production).unwrap(),
            ProviderKind::Jobber
        );
        assert!(
            !format!("{b:?}").contains("\"t\""),
            "tokens are redacted in Debug"
        );
    }

    fn instance_url_fields(provider: &str, url: &str, mode: ProviderMode) -> Vec<String> {
        let b = body(&format!(
            r#"{{"provider":"{provider}","credentials":{{"accessToken":"t"}},"instanceUrl":"{url}"}}"#
        ));
        match validate(&b, mode) {
            Ok(_) => Vec::new(),
            Err(e) => e.details.into_iter().map(|d| d.field).collect(),
        }
    }

    #[test]
    fn an_instance_url_outside_the_providers_domains_is_refused_in_production() {
        use ProviderMode::*;
        for (provider, url) in [
            ("salesforce", "https://acme.my.salesforce.com"),
            ("pipedrive", "https://acme.pipedrive.com"),
        ] {
            assert!(
                instance_url_fields(provider, url, Production).is_empty(),
                "{url}"
            );
        }
        for (provider, url) in [
            ("salesforce", "http://127.0.0.1:5432/"),
            ("salesforce", "https://2130706433/"),
            ("salesforce", "http://acme.my.salesforce.com"),
            ("pipedrive", "https://169.254.169.254/latest"),
            ("pipedrive", "https://acme.pipedrive.com.evil.test"),
            ("hubspot", "https://internal.example"),
        ] {
            assert_eq!(
                instance_url_fields(provider, url, Production),
                ["instanceUrl"],
                "{url}"
            );
        }
        // The sandbox serves every provider on loopback.
        assert!(
            instance_url_fields("salesforce", "http://127.0.0.1:9100/salesforce", Sandbox)
                .is_empty()
        );
        assert_eq!(
            instance_url_fields("salesforce", "ftp://127.0.0.1/", Sandbox),
            ["instanceUrl"]
        );
    }
}
