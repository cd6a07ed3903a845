//! Live updates: the browser listens to `/api/fleet/events` (server-sent events) and bumps a
//! version signal that the pages' resources depend on, so they refetch within a second of a change.
//! When the stream breaks (the server restarts, the network drops), a banner says since when the
//! page may be stale; the browser's EventSource reconnects by itself.

use leptos::prelude::*;

/// The URL of the fleet event stream.
pub const EVENTS_PATH: &str = "/api/fleet/events";

#[derive(Clone, Copy)]
pub struct LiveFleet {
    /// The fleet model's version, as last announced by the server.
    pub version: RwSignal<u64>,
    /// Epoch ms since which the stream is down; `None` while it is connected.
    pub down_since: RwSignal<Option<f64>>,
    /// The server ended the stream because the session ended (revoked, expired, signed out).
    pub signed_out: RwSignal<bool>,
    /// The header's fingerprint, as last announced by the server (`header` events): the header
    /// reads itself again when it differs from the one it drew.
    pub header: RwSignal<Option<u64>>,
}

/// Provides [`LiveFleet`] and, in the browser, connects the event stream.
pub fn provide_live_fleet() -> LiveFleet {
    let live = LiveFleet {
        version: RwSignal::new(0),
        down_since: RwSignal::new(None),
        signed_out: RwSignal::new(false),
        header: RwSignal::new(None),
    };
    provide_context(live);
    Effect::new(move |_| connect(live));
    live
}

pub fn use_live_fleet() -> LiveFleet {
    use_context::<LiveFleet>().unwrap_or_else(|| LiveFleet {
        version: RwSignal::new(0),
        down_since: RwSignal::new(None),
        signed_out: RwSignal::new(false),
        header: RwSignal::new(None),
    })
}

#[cfg(feature = "hydrate")]
fn connect(live: LiveFleet) {
    use wasm_bindgen::closure::Closure;
    use wasm_bindgen::JsCast;

    let Ok(source) = web_sys::EventSource::new(EVENTS_PATH) else {
        live.down_since.set(Some(js_sys::Date::now()));
        return;
    };
    let on_fleet =
        Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |ev: web_sys::MessageEvent| {
            if let Some(v) = ev
                .data()
                .as_string()
                .and_then(|s| s.trim().parse::<u64>().ok())
            {
                live.version.set(v);
            }
            live.down_since.set(None);
        });
    let _ = source.add_event_listener_with_callback("fleet", on_fleet.as_ref().unchecked_ref());
    on_fleet.forget();
    let on_header =
        Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |ev: web_sys::MessageEvent| {
            if let Some(v) = ev
                .data()
                .as_string()
                .and_then(|s| s.trim().parse::<u64>().ok())
            {
                live.header.set(Some(v));
            }
        });
    let _ = source.add_event_listener_with_callback("header", on_header.as_ref().unchecked_ref());
    on_header.forget();
    let closer = source.clone();
    let on_signed_out = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |_| {
        // Do not reconnect: the next attempt would be refused (401) anyway.
        closer.close();
        live.signed_out.set(true);
    });
    let _ = source
        .add_event_listener_with_callback("signed_out", on_signed_out.as_ref().unchecked_ref());
    on_signed_out.forget();
    let on_open = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
        if live.down_since.get_untracked().is_some() {
            // Back after an outage: refetch even if the version number happens to match.
            live.version.update(|v| *v = v.wrapping_add(1_000_000_007));
        }
        live.down_since.set(None);
    });
    source.set_onopen(Some(on_open.as_ref().unchecked_ref()));
    on_open.forget();
    let probe = source.clone();
    let on_error = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
        if live.down_since.get_untracked().is_none() {
            live.down_since.set(Some(js_sys::Date::now()));
        }
        // CLOSED (2): the browser gave up, which it does when the server refuses the stream
        // (401 after the session ended) rather than when the server is merely away.
        if probe.ready_state() == 2 {
            live.signed_out.set(true);
        }
    });
    source.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    on_error.forget();
    // The EventSource lives as long as the page.
    std::mem::forget(source);
}

#[cfg(not(feature = "hydrate"))]
fn connect(_live: LiveFleet) {}

/// The banner shown while live updates are interrupted.
#[component]
pub fn StaleBanner() -> impl IntoView {
    let live = use_live_fleet();
    move || {
        if live.signed_out.get() {
            return Some(
                view! {
                    <div class="stale-banner" role="alert" data-testid="signed-out-banner">
                        <strong>"⌛ Live updates stopped"</strong>
                        ": your session has ended (signed out, revoked or expired), or the server refused the stream. What you see is not live. "
                        <a href="/signin" rel="external">"Sign in again"</a>
                        " or reload the page."
                    </div>
                }
                .into_any(),
            );
        }
        live.down_since.get().map(|since| {
            view! {
                <div class="stale-banner" role="alert" data-testid="stale-banner">
                    <strong>"⌛ Live updates interrupted"</strong>
                    " since " {clock(since)} ": what you see may be out of date. Reconnecting…"
                </div>
            }
            .into_any()
        })
    }
}

/// The time the stream was lost, in the page's zone like every other time (not the browser's
/// locale, which would speak another zone than the rest of the page).
fn clock(ms: f64) -> String {
    crate::fmt::clock(ms as i64)
}
