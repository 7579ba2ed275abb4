//! GraphiQL, the in-browser IDE at GET /graphql, served from files embedded in the binary.
//!
//! async-graphql's `GraphiQLSource` loads React and GraphiQL from a public CDN, so the
//! IDE never starts offline or behind a strict Content-Security-Policy. The same browser
//! builds, pinned and checked by `assets/graphiql/fetch.sh`, are compiled in instead and
//! served under /graphiql/, and the page's CSP lets it load nothing from anywhere else.

use axum::Router;
use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// Same origin only, for everything (checked in headless Chromium: no other violation).
/// React and CodeMirror set styles through the CSSOM, which CSP leaves alone, and the
/// fonts and icons in GraphiQL's CSS are `data:` URLs. The one inline style is the
/// `<style>` that react-remove-scroll-bar adds while a dialog is open; with page.css
/// (no body margin, no scroll bar) its text is always the same, so its hash lets it in
/// rather than 'unsafe-inline'. Should an upgrade change that text, the style is merely
/// refused, with a console error: the body never scrolls anyway. `'self'` in
/// connect-src covers ws:/wss: to the same host too (CSP Level 3), for /graphql/ws.
const CSP: &str = "default-src 'none'; script-src 'self'; \
    style-src 'self' 'sha256-nzTgYzXYDNe6BAHiiI7NNlfK8n/auuOAhh2t92YvuXo='; \
    img-src 'self' data:; font-src 'self' data:; connect-src 'self'; \
    base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// No inline script or style: the start-up code and the page's CSS are files too.
const PAGE: &str = r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="robots" content="noindex">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>GraphiQL</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/graphiql/graphiql.min.css">
<link rel="stylesheet" href="/graphiql/page.css">
</head>
<body>
<div id="graphiql">Loading…</div>
<script src="/graphiql/react.production.min.js"></script>
<script src="/graphiql/react-dom.production.min.js"></script>
<script src="/graphiql/graphiql.min.js"></script>
<script src="/graphiql/init.js"></script>
</body>
</html>
"#;

/// The IDE's page, for a GET /graphql that accepts text/html.
pub(crate) fn page() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, CSP),
        ],
        PAGE,
    )
        .into_response()
}

/// The page's files at /graphiql/{file}.
pub(crate) fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new().route("/graphiql/{file}", get(asset))
}

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const TEXT: &str = "text/plain; charset=utf-8";

macro_rules! embed {
    ($name:literal, $content_type:expr) => {
        (
            $name,
            $content_type,
            include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/assets/graphiql/",
                $name
            )) as &'static [u8],
        )
    };
}

/// Name, content type and bytes of each file. The licences ship with the code they
/// cover, since the binary is how that code is distributed.
static ASSETS: [(&str, &str, &[u8]); 9] = [
    embed!("react.production.min.js", JS),
    embed!("react-dom.production.min.js", JS),
    embed!("graphiql.min.js", JS),
    embed!("graphiql.min.css", CSS),
    embed!("init.js", JS),
    embed!("page.css", CSS),
    embed!("LICENSE.react", TEXT),
    embed!("LICENSE.react-dom", TEXT),
    embed!("LICENSE.graphiql", TEXT),
];

/// The names carry no version, so a browser may keep an old file for up to a day after
/// an upgrade; versioned, immutable names would have to be kept in step across the page,
/// init.js and fetch.sh, which a developer tool does not need.
async fn asset(Path(file): Path<String>) -> Response {
    match ASSETS.iter().find(|(name, _, _)| *name == file) {
        Some(&(_, content_type, body)) => (
            [
                (header::CONTENT_TYPE, content_type),
                (header::CACHE_CONTROL, "public, max-age=86400"),
            ],
            body,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
