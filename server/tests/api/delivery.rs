//! What a browser downloads: static files compressed once at build time and validated by ETag,
//! pages compressed on the fly, event streams left to flow.

use reqwest::StatusCode;

use crate::helpers::{spawn_app_with, test_config, StoreKind};

#[tokio::test]
async fn static_files_are_precompressed_and_validated_by_etag() {
    let (config, dir) = test_config(StoreKind::Sqlite).await;
    let pkg = config.server.site_root.join("pkg");
    std::fs::create_dir_all(&pkg).unwrap();
    let js = "export default function init() {}\n".repeat(200);
    std::fs::write(pkg.join("onwatch.js"), &js).unwrap();
    std::fs::write(pkg.join("onwatch.js.br"), b"BROTLI-BYTES").unwrap();
    std::fs::write(pkg.join("onwatch.js.gz"), b"GZIP-BYTES").unwrap();
    let app = spawn_app_with(config, dir, axum::Router::new()).await;
    let client = app.anonymous();
    let url = format!("{}/pkg/onwatch.js", app.address);

    let res = client
        .get(&url)
        .header("accept-encoding", "gzip, deflate, br")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK, "public, no sign-in needed");
    assert_eq!(res.headers()["content-encoding"], "br");
    assert_eq!(res.headers()["vary"], "accept-encoding");
    assert_eq!(res.headers()["cache-control"], "no-cache");
    let etag = res.headers()["etag"].to_str().unwrap().to_owned();
    assert_eq!(
        res.bytes().await.unwrap().as_ref(),
        b"BROTLI-BYTES",
        "the file built beforehand"
    );

    let res = client
        .get(&url)
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["content-encoding"], "gzip");
    assert_eq!(res.bytes().await.unwrap().as_ref(), b"GZIP-BYTES");

    let res = client.get(&url).send().await.unwrap();
    assert!(res.headers().get("content-encoding").is_none());
    assert_eq!(res.text().await.unwrap(), js);

    // The next page load: the browser's copy is current, nothing is sent again.
    let res = client
        .get(&url)
        .header("accept-encoding", "br")
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_MODIFIED);
    assert!(res.bytes().await.unwrap().is_empty());

    // A new release changes the file, so the old copy is no longer current.
    std::fs::write(app_site(&app).join("pkg/onwatch.js"), "new release").unwrap();
    let res = client
        .get(&url)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_ne!(res.headers()["etag"].to_str().unwrap(), etag);

    let res = client
        .get(format!("{}/pkg/nope.js", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

fn app_site(app: &crate::helpers::TestApp) -> std::path::PathBuf {
    app.site_root.clone()
}

#[tokio::test]
async fn pages_are_compressed_and_event_streams_are_not() {
    let app = crate::helpers::spawn_app(StoreKind::Sqlite).await;
    let page = app
        .client
        .get(format!("{}/", app.address))
        .header("accept-encoding", "br")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(page.headers()["content-encoding"], "br");
    assert!(page.headers()["vary"]
        .to_str()
        .unwrap()
        .to_lowercase()
        .contains("accept-encoding"));
    let compressed = page.bytes().await.unwrap().len();
    let plain = app.get("/").await.bytes().await.unwrap().len();
    assert!(
        compressed * 2 < plain,
        "brotli {compressed} bytes vs {plain} plain"
    );

    let stream = app
        .client
        .get(format!("{}{}", app.address, app::live::EVENTS_PATH))
        .header("accept-encoding", "br, gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    assert!(
        stream.headers().get("content-encoding").is_none(),
        "events flow uncompressed"
    );
}
