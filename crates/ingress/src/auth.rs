//! Bearer API-key (or console session cookie) authentication and role checks.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use fluxcascade_store::orgs::{Principal, Role};

use crate::error::ApiError;
use crate::AppState;

/// The authenticated caller (401 when the key is missing, malformed, unknown or revoked). Without
/// a bearer key, the console's session cookie authenticates too, acting for the key the session
/// was created from; such a request that changes anything (not GET/HEAD/OPTIONS) needs the
/// session's `X-CSRF-Token` (403 `csrf_failed`).
#[derive(Debug, Clone, Copy)]
pub struct Caller(pub Principal);

impl Caller {
    pub fn org_id(&self) -> uuid::Uuid {
        self.0.org_id
    }

    /// The member the key acts for.
    pub fn member_id(&self) -> uuid::Uuid {
        self.0.member_id
    }

    /// 403 unless the caller's member is an Owner (org, members, any key).
    pub fn require_owner(&self) -> Result<(), ApiError> {
        if self.0.role == Role::Owner {
            Ok(())
        } else {
            Err(ApiError::new(
                axum::http::StatusCode::FORBIDDEN,
                "forbidden",
                "only an owner of the organization may do this",
            ))
        }
    }

    /// 403 unless the caller may change things (Admins and Owners; Members read only).
    pub fn require_manage(&self) -> Result<(), ApiError> {
        if self.0.role >= Role::Admin {
            Ok(())
        } else {
            Err(ApiError::forbidden())
        }
    }
}

/// The key in `Authorization: Bearer <key>` (scheme case-insensitive).
fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, key) = value.trim().split_once(' ')?;
    let key = key.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !key.is_empty()).then_some(key)
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if let Some(key) = bearer(parts) {
            return match state.store.authenticate(key).await? {
                Some(principal) => Ok(Caller(principal)),
                None => Err(ApiError::unauthorized()),
            };
        }
        let Some((_, session)) = crate::console::session::current(&parts.headers, state).await?
        else {
            return Err(ApiError::unauthorized());
        };
        if !parts.method.is_safe() {
            crate::console::csrf::check_header(&parts.headers, &session)?;
        }
        Ok(Caller(session.principal))
    }
}

/// A caller that may change things (Admin, Owner), checked before the request body is read:
/// a Member's write is 403 whatever its body (never a 400/422 that would mask the role rule).
/// Handlers taking it document `x-min-role: admin`.
#[derive(Debug, Clone, Copy)]
pub struct Manager(pub Caller);

impl FromRequestParts<AppState> for Manager {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let caller = Caller::from_request_parts(parts, state).await?;
        caller.require_manage()?;
        Ok(Manager(caller))
    }
}

/// An Owner caller, checked (403) before any body is read, like [`Manager`]. Handlers taking it
/// document `x-min-role: owner`.
#[derive(Debug, Clone, Copy)]
pub struct OrgOwner(pub Caller);

impl FromRequestParts<AppState> for OrgOwner {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let caller = Caller::from_request_parts(parts, state).await?;
        caller.require_owner()?;
        Ok(OrgOwner(caller))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;

    fn parts(auth: Option<&str>) -> Parts {
        let mut b = Request::builder().uri("/v1/connections");
        if let Some(a) = auth {
            b = b.header(AUTHORIZATION, a);
        }
        b.body(()).unwrap().into_parts().0
    }

    #[test]
    fn reads_bearer_keys_only() {
        assert_eq!(bearer(&parts(Some("Bearer fc_abc"))), Some("fc_abc"));
        assert_eq!(bearer(&parts(Some("bearer  fc_abc "))), Some("fc_abc"));
        assert_eq!(bearer(&parts(Some("Basic Zm9vOmJhcg=="))), None);
        assert_eq!(bearer(&parts(Some("Bearer "))), None);
        assert_eq!(bearer(&parts(None)), None);
    }

    #[test]
    fn members_may_not_manage() {
        let p = |role| {
            Caller(Principal {
                org_id: uuid::Uuid::nil(),
                key_id: uuid::Uuid::nil(),
                member_id: uuid::Uuid::nil(),
                role,
            })
        };
        assert_eq!(
            p(Role::Member)
                .require_manage()
                .unwrap_err()
                .status
                .as_u16(),
            403
        );
        assert!(p(Role::Admin).require_manage().is_ok());
        assert!(p(Role::Owner).require_manage().is_ok());
        assert_eq!(
            p(Role::Admin).require_owner().unwrap_err().status.as_u16(),
            403
        );
        assert!(p(Role::Owner).require_owner().is_ok());
    }
}
