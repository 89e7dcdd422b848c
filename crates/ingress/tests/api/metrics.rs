//! `/metrics` on the metrics listener: every API request is counted and timed by route
//! template, method and status class.

use reqwest::Method;
use reqwest::StatusCode;

use crate::harness::App;

async fn scrape(app: &App) -> String {
    app.http
        .get(format!("{}/metrics", app.metrics))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics text")
}

/// The value of the series `line` (name and labels exactly as exported), 0 when absent.
fn value(text: &str, line: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(line)?.trim().parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test]
async fn a_request_moves_the_duration_histogram_of_its_route_template() {
    let app = App::start().await;
    let series = r#"{method="DELETE",route="/v1/webhooks/{id}",status="4xx"}"#;
    let count = format!("fluxcascade_http_request_duration_seconds_count{series}");
    let before = value(&scrape(&app).await, &count);
    let path = format!("/v1/webhooks/{}", uuid::Uuid::new_v4());
    let (s, _) = app
        .call(Method::DELETE, &path, Some(&app.owner), None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let text = scrape(&app).await;
    // Other tests share the process's registry: counts only ever grow.
    assert!(value(&text, &count) >= before + 1.0, "{text}");
    assert!(
        text.contains("# TYPE fluxcascade_http_request_duration_seconds histogram"),
        "{text}"
    );
    let inf = r#"fluxcascade_http_request_duration_seconds_bucket{method="DELETE",route="/v1/webhooks/{id}",status="4xx",le="+Inf"}"#;
    assert!(value(&text, inf) >= 1.0, "{text}");
    assert!(
        text.contains(
            r#"fluxcascade_http_request_duration_seconds_bucket{method="DELETE",route="/v1/webhooks/{id}",status="4xx",le="0.005"}"#
        ),
        "buckets are exported: {text}"
    );
    assert!(
        !text.contains(&path),
        "the raw path (an id) is never a label: {text}"
    );
    let counted = r#"fluxcascade_http_requests_total{route="/v1/webhooks/{id}",status="404"}"#;
    assert!(value(&text, counted) >= 1.0, "{text}");
}
