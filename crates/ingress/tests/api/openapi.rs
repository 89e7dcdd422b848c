//! `GET /openapi.json`: a valid OpenAPI 3.1 document (checked by a real validator,
//! `openapi-spec-validator`), with a security scheme, a minimum role on every operation that needs
//! a key, and every documented operation served by the router; the role an operation declares is
//! enforced before its body is read.

use std::path::Path;
use std::process::Command;

use reqwest::{Method, StatusCode};
use serde_json::Value;
use uuid::Uuid;

use crate::harness::App;

/// The document as the running app serves it.
async fn document(app: &App) -> Value {
    let (status, doc) = app.call(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    doc
}

/// Runs `python3 -m openapi_spec_validator` on the document. A machine without the validator
/// fails this test (never skips it): `.ci/run` installs it.
fn validate_with_openapi_spec_validator(doc: &Value) {
    let file = std::env::temp_dir().join(format!("fluxcascade-openapi-{}.json", Uuid::now_v7()));
    std::fs::write(&file, serde_json::to_vec_pretty(doc).expect("json")).expect("write");
    let out = Command::new("python3")
        .args(["-m", "openapi_spec_validator"])
        .arg(&file)
        .output();
    let _ = std::fs::remove_file(&file);
    let out = out.expect(
        "python3 is needed to validate /openapi.json (then `pip install openapi-spec-validator`)",
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("No module named openapi_spec_validator"),
        "the validator is missing: `pip install openapi-spec-validator` (.ci/run does)"
    );
    assert!(
        out.status.success(),
        "openapi-spec-validator rejects /openapi.json:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("OK"), "validator said: {stdout}\n{stderr}");
}

/// Whether an operation needs no key: it declares the empty security requirement `[{}]`.
fn is_public(op: &Value) -> bool {
    op["security"].as_array().is_some_and(|reqs| {
        reqs.iter()
            .all(|r| r.as_object().is_some_and(|o| o.is_empty()))
    })
}

/// The path with every `{param}` filled: ids with a fresh UUID, `{provider}` with a provider.
fn fill(path: &str) -> String {
    path.split('/')
        .map(|seg| match seg {
            "{provider}" => "hubspot".to_string(),
            s if s.starts_with('{') => Uuid::now_v7().to_string(),
            s => s.to_string(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[tokio::test]
async fn the_document_is_valid_openapi_3_1_and_describes_every_route() {
    let app = App::start().await;
    let doc = document(&app).await;
    validate_with_openapi_spec_validator(&doc);
    let member = app.member_key().await;

    let version = doc["openapi"].as_str().unwrap_or_default();
    assert!(version.starts_with("3.1."), "openapi {version}");
    let bearer = &doc["components"]["securitySchemes"]["apiKey"];
    assert_eq!(
        (bearer["type"].as_str(), bearer["scheme"].as_str()),
        (Some("http"), Some("bearer")),
        "{bearer}"
    );
    assert_eq!(doc["security"][0]["apiKey"], serde_json::json!([]));

    let paths = doc["paths"].as_object().expect("paths");
    let mut v1 = 0;
    for (path, item) in paths {
        for (method, op) in item.as_object().expect("path item") {
            let method_name = method.to_uppercase();
            let name = format!("{method_name} {path}");
            // Every operation that needs a key says which role it needs, and documents 401.
            if !is_public(op) {
                let role = op["x-min-role"].as_str();
                assert!(
                    matches!(role, Some("member" | "admin" | "owner")),
                    "{name}: x-min-role {role:?}"
                );
                assert!(op["responses"]["401"].is_object(), "{name} documents 401");
            }
            for (status, resp) in op["responses"].as_object().expect("responses") {
                // (`/readyz`'s 503 is its checks with the error object beside them.)
                if (status.starts_with('4') || status.starts_with('5')) && path != "/readyz" {
                    assert_eq!(
                        resp["content"]["application/json"]["schema"]["$ref"],
                        "#/components/schemas/ErrorBody",
                        "{name} {status} has the error shape"
                    );
                }
            }
            // The router serves it: never the fallback's `no such route`, never 405.
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
            let (status, body) = app.call(method, &fill(path), None, None).await;
            assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{name}: {body}");
            assert_ne!(
                body["error"]["message"].as_str(),
                Some("no such route"),
                "{name} is documented but not served"
            );
            // The role is checked before the body is read: a Member's write is 403 even with a
            // malformed body (never a 400/422 that would hide the rule).
            if matches!(op["x-min-role"].as_str(), Some("admin" | "owner")) {
                let method = Method::from_bytes(method_name.as_bytes()).expect("method");
                let (status, body) = app
                    .raw(method, &fill(path), &member, b"{\"truncated".to_vec())
                    .await;
                assert_eq!(status, StatusCode::FORBIDDEN, "{name} as a Member: {body}");
            }
            if path.starts_with("/v1/") {
                v1 += 1;
            }
        }
    }
    assert!(v1 >= 25, "only {v1} /v1 operations documented");
    for public in [
        "/healthz",
        "/hooks/hubspot",
        "/v1/oauth/{provider}/callback",
        "/v1/session",
    ] {
        let item = &doc["paths"][public];
        let op = item["get"].as_object().or(item["post"].as_object());
        assert!(
            op.is_some_and(|op| is_public(&Value::Object(op.clone()))),
            "{public} is documented as needing no key"
        );
    }
}

/// The other direction, by construction: a `/v1` route can only be registered through
/// `OpenApiRouter::routes(routes!(…))`, which documents it; a bare `.route(` in the ingress's
/// sources would serve an undocumented route (and escape the isolation sweep). The console's
/// HTML pages (`src/console/`, never under `/v1`) are outside the document by design.
#[test]
fn no_route_is_registered_outside_the_document() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut stack = vec![src];
    let mut offenders = Vec::new();
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("src dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs")
                && !path.components().any(|c| c.as_os_str() == "console")
            {
                let text = std::fs::read_to_string(&path).expect("source");
                for (n, line) in text.lines().enumerate() {
                    let line = line.trim();
                    if line.starts_with("//") {
                        continue;
                    }
                    if line.contains(".route(") && !line.contains("\"/openapi.json\"") {
                        offenders.push(format!("{}:{}: {line}", path.display(), n + 1));
                    }
                }
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "register routes with .routes(routes!(…)) so /openapi.json documents them:\n{}",
        offenders.join("\n")
    );
}
