//! The console's page frame (head, navigation, signed-in bar) and HTML responses with their
//! security headers: a strict CSP (`default-src 'self'`, no inline script or style), no framing,
//! no referrer, never cached.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::{html, Markup, DOCTYPE};

use super::user::ConsoleUser;

/// The console's Content-Security-Policy.
pub const CSP: &str =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                       object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

/// The pages of the navigation, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Connections,
    Mappings,
    Syncs,
    DeadLetters,
    Webhooks,
    Members,
    Usage,
}

impl Nav {
    const ALL: [Nav; 7] = [
        Nav::Connections,
        Nav::Mappings,
        Nav::Syncs,
        Nav::DeadLetters,
        Nav::Webhooks,
        Nav::Members,
        Nav::Usage,
    ];

    fn label(self) -> &'static str {
        match self {
            Nav::Connections => "Connections",
            Nav::Mappings => "Mappings",
            Nav::Syncs => "Syncs",
            Nav::DeadLetters => "Dead letters",
            Nav::Webhooks => "Webhooks",
            Nav::Members => "Members",
            Nav::Usage => "Usage",
        }
    }

    /// The page's path.
    fn href(self) -> &'static str {
        match self {
            Nav::Connections => "/connections",
            Nav::Mappings => "/mappings",
            Nav::Syncs => "/syncs",
            Nav::DeadLetters => "/dead-letters",
            Nav::Webhooks => "/webhooks",
            Nav::Members => "/members",
            Nav::Usage => "/usage",
        }
    }
}

/// An HTML answer with the console's security headers.
pub fn html_response(status: StatusCode, markup: Markup) -> Response {
    let mut resp = (status, markup.into_string()).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            // htmx must not inject its indicator `<style>` (the CSP allows no inline style).
            meta name="htmx-config" content=r#"{"includeIndicatorStyles":false}"#;
            title { (title) " · FluxCascade" }
            link rel="stylesheet" href=(super::assets::url("console.css"));
            script src=(super::assets::url("htmx.min.js")) defer {}
        }
    }
}

/// The hidden CSRF field every state-changing form carries.
pub fn csrf_field(user: &ConsoleUser) -> Markup {
    html! { input type="hidden" name="csrf" value=(user.csrf_token()); }
}

/// A page of the signed-in console.
pub fn page(user: &ConsoleUser, active: Nav, body: Markup) -> Response {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            (head(active.label()))
            body {
                header.top {
                    a.brand href="/" { "FluxCascade" }
                    nav.pages aria-label="Console" {
                        @for item in Nav::ALL {
                            a href=(item.href()) aria-current=[(item == active).then_some("page")] { (item.label()) }
                        }
                    }
                    form.logout method="post" action="/logout" {
                        span.role { (user.role().as_str()) }
                        (csrf_field(user))
                        button type="submit" { "Log out" }
                    }
                }
                main {
                    h1 { (active.label()) }
                    (body)
                }
            }
        }
    };
    html_response(StatusCode::OK, markup)
}

/// A page outside the signed-in frame (login, errors).
pub fn bare(status: StatusCode, title: &str, body: Markup) -> Response {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body.bare {
                main.narrow {
                    p.brand { "FluxCascade" }
                    (body)
                }
            }
        }
    };
    html_response(status, markup)
}

/// An error page with a way back.
pub fn error_page(status: StatusCode, message: &str) -> Response {
    bare(
        status,
        "Error",
        html! {
            h1 { (status.canonical_reason().unwrap_or("Error")) }
            p.error { (message) }
            p { a href="/connections" { "Back to the console" } }
        },
    )
}
