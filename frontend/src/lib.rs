//! The browser half of Onwatch: takes over the server-rendered page (hydration) so that it reacts
//! without reloads.

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    // Asynchronous hydration, because some pages' code is loaded on demand (app/src/lazy.rs): the
    // server's markup for such a page is taken over once its chunk has arrived, which the page's
    // head has already started fetching.
    wasm_bindgen_futures::spawn_local(async {
        let Some(body) = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.body())
        else {
            return;
        };
        leptos::mount::hydrate_from_async(body, app::App)
            .await
            .forget();
        // A marker for people and tests: the page is now interactive.
        if let Some(root) = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.document_element())
        {
            let _ = root.set_attribute("data-hydrated", "true");
        }
    });
}
