//! CSRF: a request authenticated by the session cookie that changes anything must carry the
//! session's token, as the form field `csrf` (console forms) or the `X-CSRF-Token` header
//! (cookie-authenticated API calls); otherwise 403 `csrf_failed`. Bearer API-key calls carry no
//! ambient credential and need none.

use axum::http::{HeaderMap, StatusCode};
use fluxcascade_store::sessions::SessionRow;
use subtle::ConstantTimeEq;

use crate::error::ApiError;

/// The header cookie-authenticated API calls carry the token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// 403 `csrf_failed`.
pub fn failed() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "csrf_failed",
        "the session's CSRF token is missing or wrong (form field `csrf` or header X-CSRF-Token)",
    )
}

/// Whether `given` is the session's token (constant time).
pub fn matches(session: &SessionRow, given: Option<&str>) -> bool {
    given.is_some_and(|g| {
        bool::from(g.as_bytes().ct_eq(session.csrf_token.as_bytes())) && !g.is_empty()
    })
}

/// The form field `csrf` of a console form post.
pub fn check_field(session: &SessionRow, field: Option<&str>) -> Result<(), ApiError> {
    if matches(session, field) {
        Ok(())
    } else {
        tracing::warn!(org_id = %session.principal.org_id, "console form post without a valid CSRF token");
        Err(failed())
    }
}

/// The `X-CSRF-Token` header of a cookie-authenticated request.
pub fn check_header(headers: &HeaderMap, session: &SessionRow) -> Result<(), ApiError> {
    let given = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
    if matches(session, given) {
        Ok(())
    } else {
        tracing::warn!(org_id = %session.principal.org_id, "cookie-authenticated request without a valid CSRF token");
        Err(failed())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fluxcascade_store::orgs::{Principal, Role};

    fn session() -> SessionRow {
        SessionRow {
            principal: Principal {
                org_id: uuid::Uuid::nil(),
                key_id: uuid::Uuid::nil(),
                member_id: uuid::Uuid::nil(),
                role: Role::Admin,
            },
            csrf_token: "s3cret".into(),
            expires_at: chrono::Utc::now(),
        }
    }

    #[test]
    fn only_the_sessions_token_passes() {
        let s = session();
        assert!(check_field(&s, Some("s3cret")).is_ok());
        for bad in [None, Some(""), Some("s3cre"), Some("s3cret2")] {
            let e = check_field(&s, bad).unwrap_err();
            assert_eq!((e.status.as_u16(), e.code), (403, "csrf_failed"));
        }
        let mut h = HeaderMap::new();
        assert!(check_header(&h, &s).is_err());
        h.insert(CSRF_HEADER, "s3cret".parse().unwrap());
        assert!(check_header(&h, &s).is_ok());
    }
}
