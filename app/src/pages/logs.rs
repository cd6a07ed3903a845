//! A host's log in the page: the runbook's `journalctl -fu hab-sup` (or the sentinel's), opened
//! on request, followed live; filtered by text and level as lines arrive; paused and resumed
//! without losing lines (within bounds, and counted when not); downloaded as shown.

use leptos::prelude::*;

use super::fleet_common::urlencode;

/// Lines kept in the page (older ones go, counted).
const KEEP: usize = 2_000;

/// One line as the stream sends it (`ops::logs::LogLine`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct Line {
    pub seq: u64,
    pub text: String,
    /// debug, info, warn, error
    pub level: String,
    pub service: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Buffer {
    lines: std::collections::VecDeque<Line>,
    /// Lines the server's bounds dropped (it says how many).
    dropped_upstream: u64,
    /// Lines this page let go (over `KEEP`, or while paused beyond it).
    dropped_here: u64,
    ended: Option<String>,
}

impl Buffer {
    fn push(&mut self, l: Line) {
        if self.lines.len() >= KEEP {
            self.lines.pop_front();
            self.dropped_here += 1;
        }
        self.lines.push_back(l);
    }
}

fn level_rank(l: &str) -> u8 {
    match l {
        "error" => 3,
        "warn" => 2,
        "info" => 1,
        _ => 0,
    }
}

/// The log panel. `service`: show only that service's lines (the service page).
#[component]
pub fn LogPanel(
    environment: String,
    host: String,
    /// `supervisor` or `sentinel`.
    #[prop(into)]
    source: String,
    #[prop(default = None)] service: Option<String>,
) -> impl IntoView {
    let open = RwSignal::new(false);
    let since = RwSignal::new(String::new());
    let text = RwSignal::new(String::new());
    let min_level = RwSignal::new("debug".to_owned());
    let paused = RwSignal::new(false);
    let shown = RwSignal::new(Buffer::default());
    // Lines that came while paused (bounded like the rest).
    let held = RwSignal::new(Buffer::default());
    let generation = RwSignal::new(0u32);
    let title = if source == "sentinel" {
        "The sentinel's log".to_owned()
    } else {
        "The Supervisor's log".to_owned()
    };
    let service_filter = service.clone();
    let url = {
        let (env, host, source) = (environment.clone(), host.clone(), source.clone());
        move || {
            let s = since.get();
            let mut u = format!(
                "/api/logs/{}/{}/events?source={}&lines=200",
                urlencode(&env),
                urlencode(&host),
                source
            );
            if !s.is_empty() {
                u.push_str(&format!("&since={}", urlencode(&s)));
            }
            u
        }
    };
    stream(
        move || (open.get() && generation.get() > 0).then(url.clone()),
        shown,
        held,
        paused,
    );
    let visible = Memo::new(move |_| {
        let needle = text.get().to_lowercase();
        let min = level_rank(&min_level.get());
        let svc = service_filter.clone();
        shown
            .get()
            .lines
            .into_iter()
            .filter(|l| level_rank(&l.level) >= min)
            .filter(|l| {
                svc.as_ref()
                    .is_none_or(|s| l.service.as_deref() == Some(s.as_str()))
            })
            .filter(|l| needle.is_empty() || l.text.to_lowercase().contains(&needle))
            .collect::<Vec<_>>()
    });
    let start = move || {
        shown.set(Buffer::default());
        held.set(Buffer::default());
        paused.set(false);
        open.set(true);
        generation.update(|g| *g += 1);
    };
    let download = move || {
        let body: String = visible
            .get_untracked()
            .iter()
            .map(|l| format!("{}\n", l.text))
            .collect();
        save_text("onwatch-log.txt", &body);
    };
    view! {
        <section class="log-panel" id="log" data-testid="log-panel">
            <h2>{title}</h2>
            {
                let service = service.clone();
                move || (!open.get()).then(|| {
                    let service = service.clone();
                    view! {
                        <p class="muted small">"Read over SSH ("<code>"journalctl -f"</code>"), as the runbook does it; opening it is audited."
                            {service.map(|s| format!(" Only {s}'s lines are shown."))}</p>
                        <button type="button" class="button" data-testid="log-open" on:click=move |_| start()>"Show the log"</button>
                    }
                })
            }
            {move || open.get().then(|| view! {
                <div class="log-controls">
                    <label>"From "
                        <select data-testid="log-since" prop:value=move || since.get()
                            on:change=move |ev| { since.set(event_target_value(&ev)); start(); }>
                            <option value="">"the last 200 lines"</option>
                            <option value="10 minutes ago">"10 minutes ago"</option>
                            <option value="1 hour ago">"1 hour ago"</option>
                            <option value="6 hours ago">"6 hours ago"</option>
                        </select>
                    </label>
                    <label>"Level "
                        <select data-testid="log-level" prop:value=move || min_level.get()
                            on:change=move |ev| min_level.set(event_target_value(&ev))>
                            <option value="debug">"all"</option>
                            <option value="info">"info and above"</option>
                            <option value="warn">"warnings and errors"</option>
                            <option value="error">"errors"</option>
                        </select>
                    </label>
                    <label>"Filter "
                        <input type="search" data-testid="log-filter" placeholder="text in the line"
                            prop:value=move || text.get() on:input=move |ev| text.set(event_target_value(&ev))/>
                    </label>
                    <button type="button" class="button" data-testid="log-pause"
                        on:click=move |_| {
                            if paused.get_untracked() {
                                // Resume: what came meanwhile, in order.
                                let h = std::mem::take(&mut *held.write());
                                shown.update(|b| {
                                    b.dropped_upstream += h.dropped_upstream;
                                    b.dropped_here += h.dropped_here;
                                    for l in h.lines { b.push(l); }
                                    if h.ended.is_some() { b.ended = h.ended; }
                                });
                                paused.set(false);
                            } else {
                                paused.set(true);
                            }
                        }>
                        {move || if paused.get() { "Resume" } else { "Pause" }}
                    </button>
                    <button type="button" class="button" on:click=move |_| download()>"Download shown"</button>
                </div>
                <p class="muted small" data-testid="log-status" aria-live="polite">{move || {
                    let b = shown.get();
                    let mut s = match &b.ended {
                        Some(why) => format!("Stopped: {why}. "),
                        None if paused.get() => format!("Paused ({} lines waiting). ", held.get().lines.len()),
                        None => "Following. ".to_owned(),
                    };
                    s.push_str(&format!("{} lines here", b.lines.len()));
                    if b.dropped_upstream > 0 {
                        s.push_str(&format!("; {} dropped by the server's bounds (too fast)", b.dropped_upstream));
                    }
                    if b.dropped_here > 0 {
                        s.push_str(&format!("; {} older lines not kept", b.dropped_here));
                    }
                    s.push('.');
                    s
                }}</p>
                {move || shown.get().ended.is_some().then(|| view! {
                    <button type="button" class="button" on:click=move |_| start()>"Reopen"</button>
                })}
                <div class="log-lines" data-testid="log-lines" role="log">
                    {move || visible.get().into_iter().map(|l| {
                        let class = format!("log-line level-{}", l.level);
                        let link = l.service.clone().map(|s| view! {
                            <a class="log-service" href=format!("/services/{}", vocab::slug_of(&s))>{s.clone()}</a>
                        });
                        view! { <div class=class data-seq=l.seq>{link}<span class="log-text">{l.text}</span></div> }
                    }).collect_view()}
                </div>
            })}
        </section>
    }
}

#[cfg(feature = "hydrate")]
fn save_text(name: &str, body: &str) {
    use wasm_bindgen::JsCast;
    let parts = js_sys::Array::of1(&wasm_bindgen::JsValue::from_str(body));
    let Ok(blob) = web_sys::Blob::new_with_str_sequence(&parts) else {
        return;
    };
    let Ok(url) = web_sys::Url::create_object_url_with_blob(&blob) else {
        return;
    };
    let doc = leptos::prelude::document();
    if let Ok(a) = doc.create_element("a") {
        let a: web_sys::HtmlElement = a.unchecked_into();
        let _ = a.set_attribute("href", &url);
        let _ = a.set_attribute("download", name);
        a.click();
    }
    let _ = web_sys::Url::revoke_object_url(&url);
}

#[cfg(not(feature = "hydrate"))]
fn save_text(_name: &str, _body: &str) {}

/// Follows the stream in the browser; a new URL (a new `since`, a reopen) closes the old one.
#[cfg(feature = "hydrate")]
fn stream(
    url: impl Fn() -> Option<String> + 'static,
    shown: RwSignal<Buffer>,
    held: RwSignal<Buffer>,
    paused: RwSignal<bool>,
) {
    use wasm_bindgen::closure::Closure;
    use wasm_bindgen::JsCast;
    Effect::new(move |prev: Option<Option<web_sys::EventSource>>| {
        if let Some(Some(old)) = prev {
            old.close();
        }
        let url = url()?;
        let source = web_sys::EventSource::new(&url).ok()?;
        let target = move || if paused.get_untracked() { held } else { shown };
        // The server sends the lines waiting together (`lines`, a JSON array): one update each.
        let on_line =
            Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |ev: web_sys::MessageEvent| {
                if let Some(Ok(lines)) = ev
                    .data()
                    .as_string()
                    .map(|t| serde_json::from_str::<Vec<Line>>(&t))
                {
                    target().update(|b| {
                        for l in lines {
                            b.push(l);
                        }
                    });
                }
            });
        let on_dropped =
            Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |ev: web_sys::MessageEvent| {
                if let Some(Ok(n)) = ev.data().as_string().map(|t| t.parse::<u64>()) {
                    target().update(|b| b.dropped_upstream += n);
                }
            });
        let closer = source.clone();
        let on_ended =
            Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |ev: web_sys::MessageEvent| {
                let why = ev.data().as_string().unwrap_or_default();
                closer.close();
                shown.update(|b| b.ended = Some(why));
            });
        let _ = source.add_event_listener_with_callback("lines", on_line.as_ref().unchecked_ref());
        let _ =
            source.add_event_listener_with_callback("dropped", on_dropped.as_ref().unchecked_ref());
        let _ = source.add_event_listener_with_callback("ended", on_ended.as_ref().unchecked_ref());
        on_line.forget();
        on_dropped.forget();
        on_ended.forget();
        Some(source)
    });
}

#[cfg(not(feature = "hydrate"))]
fn stream(
    _url: impl Fn() -> Option<String> + 'static,
    _shown: RwSignal<Buffer>,
    _held: RwSignal<Buffer>,
    _paused: RwSignal<bool>,
) {
}
