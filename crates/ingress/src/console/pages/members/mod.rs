//! The Members page: the organization's members with their roles ([`roster`]: an Owner changes
//! roles and removes members), pending invites ([`invites`]: created with a role, the token shown
//! once, revoked) and API keys ([`api_keys`]: name, role, last use; created with the secret shown
//! once; revoked). Every action goes through the `/v1` handlers, so the API's role rules apply
//! exactly; on top of them the console lets only Admins and Owners change anything (a Member sees
//! the lists).

pub mod api_keys;
pub mod invites;
pub mod roster;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use maud::html;
use serde::Deserialize;

use crate::api::members::RoleName;
use crate::console::layout::{page, Nav};
use crate::console::user::ConsoleUser;
use crate::AppState;

/// What the page says on arrival after an action (`?done=…`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Done {
    RoleChanged,
    MemberRemoved,
    InviteRevoked,
    KeyRevoked,
}

impl Done {
    fn text(self) -> &'static str {
        match self {
            Done::RoleChanged => "Role changed.",
            Done::MemberRemoved => "Member removed, with their API keys.",
            Done::InviteRevoked => "Invite revoked: its token no longer works.",
            Done::KeyRevoked => "API key revoked: it is refused from its next request.",
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct Notice {
    done: Option<Done>,
}

/// What one render of the page carries besides the lists: a notice, or the outcome of a form.
#[derive(Debug, Default)]
pub struct Outcome {
    pub done: Option<Done>,
    pub roster: roster::RosterState,
    pub invite: invites::InviteFormState,
    pub key: api_keys::KeyFormState,
}

/// A role as people read it.
pub fn role_label(role: RoleName) -> &'static str {
    match role {
        RoleName::Owner => "owner",
        RoleName::Admin => "admin",
        RoleName::Member => "member",
    }
}

/// The page's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/members", get(show))
        .route("/members/{id}/role", post(roster::change_role))
        .route("/members/{id}/remove", post(roster::remove))
        .route("/members/invites", post(invites::create))
        .route("/members/invites/{id}/revoke", post(invites::revoke))
        .route("/members/api-keys", post(api_keys::create))
        .route("/members/api-keys/{id}/revoke", post(api_keys::revoke))
}

/// `GET /members`.
pub async fn show(
    State(state): State<AppState>,
    user: ConsoleUser,
    Query(notice): Query<Notice>,
) -> Response {
    let outcome = Outcome {
        done: notice.done,
        ..Outcome::default()
    };
    render(&state, &user, StatusCode::OK, outcome).await
}

/// The whole page, with `outcome` shown where it belongs.
pub async fn render(
    state: &AppState,
    user: &ConsoleUser,
    status: StatusCode,
    outcome: Outcome,
) -> Response {
    let roster = match roster::section(state, user, &outcome.roster).await {
        Ok(markup) => markup,
        Err(resp) => return resp,
    };
    let invites = match invites::section(state, user, &outcome.invite).await {
        Ok(markup) => markup,
        Err(resp) => return resp,
    };
    let keys = match api_keys::section(state, user, &outcome.key).await {
        Ok(markup) => markup,
        Err(resp) => return resp,
    };
    let body = html! {
        @if let Some(done) = outcome.done {
            p.notice role="status" { (done.text()) }
        }
        @if !user.may_manage() {
            p.meta { "You are a member of this organization: you see its members and your API keys; an admin or owner manages them." }
        }
        (roster)
        (invites)
        (keys)
    };
    let mut resp = page(user, Nav::Members, body);
    *resp.status_mut() = status;
    resp
}
