//! Request-path normalization done before routing, per provider, so the sandbox accepts the URL
//! forms the real API accepts and no more: Salesforce serves its REST resources with or without
//! a trailing slash (`/services/data/v59.0/query/?q=…`, `/sobjects/Contact/`,
//! `/sobjects/Contact/{id}/`); the other providers' forms are left as they are.

use axum::extract::Request;
use axum::http::uri::{PathAndQuery, Uri};

/// Salesforce's REST resource prefix, at the root of the instance listener.
const SF_DATA: &str = "/services/data/";
/// The same under the main listener's `/salesforce` prefix (login host and legacy base).
const SF_DATA_PREFIXED: &str = "/salesforce/services/data/";

/// Drops one trailing slash from a Salesforce REST resource path below the version
/// (`/services/data/vXX.X/<resource>/`); every other path is untouched.
pub fn salesforce_trailing_slash(mut req: Request) -> Request {
    if let Some(trimmed) = trimmed_path(req.uri()) {
        let pq = match req.uri().query() {
            Some(q) => format!("{trimmed}?{q}"),
            None => trimmed,
        };
        if let Ok(pq) = pq.parse::<PathAndQuery>() {
            let mut parts = req.uri().clone().into_parts();
            parts.path_and_query = Some(pq);
            if let Ok(uri) = Uri::from_parts(parts) {
                *req.uri_mut() = uri;
            }
        }
    }
    req
}

/// The path without its trailing slash when it is a Salesforce resource below a version.
fn trimmed_path(uri: &Uri) -> Option<String> {
    let path = uri.path();
    let rest = path
        .strip_prefix(SF_DATA)
        .or_else(|| path.strip_prefix(SF_DATA_PREFIXED))?;
    let inner = rest.strip_suffix('/')?;
    // `vXX.X/<resource>`: at least one segment after the version, and no empty segment.
    let mut segments = inner.split('/');
    let version = segments.next()?;
    let resource: Vec<&str> = segments.collect();
    if !version.starts_with('v') || resource.is_empty() || resource.iter().any(|s| s.is_empty()) {
        return None;
    }
    Some(path[..path.len() - 1].to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(uri: &str) -> String {
        let req = Request::builder()
            .uri(uri)
            .body(axum::body::Body::empty())
            .unwrap();
        salesforce_trailing_slash(req).uri().to_string()
    }

    #[test]
    fn salesforce_resource_paths_lose_one_trailing_slash() {
        for (given, want) in [
            (
                "/services/data/v59.0/query/?q=SELECT+Id+FROM+Contact",
                "/services/data/v59.0/query?q=SELECT+Id+FROM+Contact",
            ),
            (
                "/services/data/v59.0/sobjects/Contact/",
                "/services/data/v59.0/sobjects/Contact",
            ),
            (
                "/salesforce/services/data/v59.0/sobjects/Contact/003x/",
                "/salesforce/services/data/v59.0/sobjects/Contact/003x",
            ),
            (
                "/services/data/v59.0/composite/sobjects/",
                "/services/data/v59.0/composite/sobjects",
            ),
        ] {
            assert_eq!(norm(given), want, "{given}");
        }
    }

    #[test]
    fn other_paths_are_untouched() {
        for given in [
            "/services/data/v59.0/query?q=x",
            "/services/data/v59.0/",
            "/services/data/v59.0/sobjects//",
            "/services/data/v59.0/sobjects/Contact//",
            "/hubspot/crm/v3/objects/contacts/",
            "/pipedrive/api/v2/persons/",
            "/jobber/api/graphql/",
        ] {
            assert_eq!(norm(given), given, "{given}");
        }
    }
}
