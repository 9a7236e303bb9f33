//! The web console: its files, embedded in the binary at build time from
//! `web/dist/` (built by `web/build.sh` from a lock file), served by
//! `callscope serve` on the gRPC port beside gRPC-Web.
//!
//! The page talks to the same `CallScope` service through gRPC-Web with
//! the same TLS and the same tokens and roles as any other client; these
//! routes hand out only the page itself, which holds no call data.

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderValue, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// The page.
const INDEX: &[u8] = include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/web/dist/index.html"));
/// The script bundle.
const APP_JS: &[u8] = include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/web/dist/app.js"));
/// The style sheet.
const APP_CSS: &[u8] = include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/web/dist/app.css"));

/// The page may load its own files only, talk to its own origin only, and
/// play and draw what it made itself (blob: and data: URLs); no inline
/// script or style, no framing.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; \
     connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
     frame-ancestors 'none'";

/// A static file with the console's security headers.
fn file(body: &'static [u8], content_type: &'static str) -> Response {
    let mut r = Response::new(Body::from(body));
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

/// Anything else: an unknown gRPC service gets UNIMPLEMENTED as gRPC
/// clients expect; any other request gets 404.
async fn fallback(request: Request<Body>) -> Response {
    let grpc = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/grpc"));
    if grpc {
        return tonic::Status::unimplemented("no such service on this server").into_http();
    }
    (StatusCode::NOT_FOUND, "not found\n").into_response()
}

/// `router` (the gRPC services) with the console's page and assets.
pub fn with_console(router: Router) -> Router {
    router
        .route(
            "/",
            get(|| async { file(INDEX, "text/html; charset=utf-8") }),
        )
        .route(
            "/assets/app.js",
            get(|| async { file(APP_JS, "text/javascript; charset=utf-8") }),
        )
        .route(
            "/assets/app.css",
            get(|| async { file(APP_CSS, "text/css; charset=utf-8") }),
        )
        .fallback(fallback)
}
