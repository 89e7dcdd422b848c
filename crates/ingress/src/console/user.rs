//! The console's signed-in user: a live session from the cookie, or a redirect to the login page.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use fluxcascade_store::orgs::Role;
use fluxcascade_store::sessions::SessionRow;

use crate::auth::Caller;
use crate::AppState;

/// A console request with a live session (no session: 303 to `/login`).
#[derive(Debug, Clone)]
pub struct ConsoleUser {
    pub session: SessionRow,
}

impl ConsoleUser {
    /// The session as an API caller (its key's role now).
    pub fn caller(&self) -> Caller {
        Caller(self.session.principal)
    }

    pub fn role(&self) -> Role {
        self.session.principal.role
    }

    /// Admins and Owners may change connections, mappings and syncs; Members only read.
    pub fn may_manage(&self) -> bool {
        self.role() >= Role::Admin
    }

    pub fn csrf_token(&self) -> &str {
        &self.session.csrf_token
    }

    /// The checks of every form post that changes something: the CSRF field and the role rule
    /// (Admin, Owner). The 403 answer when either fails (the API's `csrf_failed` body, or an
    /// error page), `None` when the post may go on.
    pub fn refuse_manage_post(&self, csrf: Option<&str>) -> Option<Response> {
        if let Err(e) = super::csrf::check_field(&self.session, csrf) {
            return Some(e.into_response());
        }
        self.caller().require_manage().err().map(|e| {
            tracing::warn!(
                org_id = %self.session.principal.org_id,
                member_id = %self.session.principal.member_id,
                "a member's change refused by the console"
            );
            super::layout::error_page(e.status, &e.message)
        })
    }
}

impl FromRequestParts<AppState> for ConsoleUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        match super::session::current(&parts.headers, state).await {
            Ok(Some((_, session))) => Ok(ConsoleUser { session }),
            Ok(None) => Err(Redirect::to("/login").into_response()),
            Err(e) => Err(super::layout::error_page(e.status, &e.message)),
        }
    }
}
