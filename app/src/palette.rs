//! Quick navigation: Ctrl+K (⌘K on a Mac) opens a palette to jump to any environment, host,
//! service or section; the arrow keys move the selection and Enter follows it. Every target is a
//! plain link, so pages also have deep links to paste into a channel.

use leptos::prelude::*;
use leptos_router::hooks::use_navigate;

use crate::fleet::load_fleet;

/// The sections of the portal, in the order of the navigation bar (which draws them) and of
/// the palette (which finds them).
pub const SECTIONS: &[(&str, &str)] = &[
    ("/environments", "Environments"),
    ("/services", "Services"),
    ("/actions", "Actions"),
    ("/audit", "Audit"),
    ("/console", "Console"),
    ("/incidents", "Incidents"),
    ("/oncall", "On-call"),
    ("/onboarding", "Onboarding"),
];

#[derive(Clone, Debug, PartialEq)]
struct Entry {
    label: String,
    kind: &'static str,
    href: String,
}

#[component]
pub fn Palette() -> impl IntoView {
    let open = RwSignal::new(false);
    let query = RwSignal::new(String::new());
    // The shortcut as this platform writes it: the server cannot know, so it writes Ctrl+K (Linux
    // and Windows) and a Mac's browser corrects it once hydrated.
    let mac = RwSignal::new(false);
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        let platform = web_sys::window()
            .and_then(|w| w.navigator().platform().ok())
            .unwrap_or_default();
        mac.set(platform.starts_with("Mac") || platform.starts_with("iP"));
    });
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::closure::Closure;
        use wasm_bindgen::JsCast;
        Effect::new(move |_| {
            let on_key = Closure::<dyn FnMut(web_sys::KeyboardEvent)>::new(
                move |ev: web_sys::KeyboardEvent| {
                    if (ev.ctrl_key() || ev.meta_key()) && ev.key().eq_ignore_ascii_case("k") {
                        ev.prevent_default();
                        open.update(|o| *o = !*o);
                        query.set(String::new());
                    } else if ev.key() == "Escape" {
                        open.set(false);
                    }
                },
            );
            if let Some(w) = web_sys::window() {
                let _ =
                    w.add_event_listener_with_callback("keydown", on_key.as_ref().unchecked_ref());
            }
            on_key.forget();
        });
    }

    view! {
        <button
            class="palette-open"
            type="button"
            title=move || if mac.get() { "Jump to… (⌘K)" } else { "Jump to… (Ctrl+K)" }
            aria-keyshortcuts=move || if mac.get() { "Meta+K" } else { "Control+K" }
            data-testid="palette-open"
            on:click=move |_| open.set(true)
        >
            {move || if mac.get() { "⌘K" } else { "Ctrl K" }}
        </button>
        // The dialog, and the fleet it lists, exist only while it is open: nothing of it is drawn
        // on the server or carried by a page that never opens it.
        <Show when=move || open.get()>
            <PaletteDialog open query/>
        </Show>
    }
}

/// The open palette: a search box and the first matches.
#[component]
fn PaletteDialog(open: RwSignal<bool>, query: RwSignal<String>) -> impl IntoView {
    let input_ref = NodeRef::<leptos::html::Input>::new();
    // Fetched in the browser when the palette opens (never during server rendering).
    let fleet = LocalResource::new(|| async { load_fleet().await.ok() });
    Effect::new(move |_| {
        if let Some(input) = input_ref.get() {
            let _ = input.focus();
        }
    });

    let entries = move || {
        let mut list: Vec<Entry> = SECTIONS
            .iter()
            .map(|(href, label)| Entry {
                label: (*label).to_owned(),
                kind: "section",
                href: (*href).to_owned(),
            })
            .collect();
        list.push(Entry {
            label: "What's broken?".into(),
            kind: "section",
            href: "/broken".into(),
        });
        list.push(Entry {
            label: "Acceptance vs live".into(),
            kind: "section",
            href: "/releases".into(),
        });
        for (slug, _) in crate::fleet::SERVICE_ORDER
            .iter()
            .map(|s| (crate::fleet::slug_of(s), ()))
        {
            list.push(Entry {
                label: slug.clone(),
                kind: "service",
                href: format!("/services/{slug}"),
            });
        }
        if let Some(Some(f)) = fleet.get() {
            for e in &f.environments {
                list.push(Entry {
                    label: e.name.clone(),
                    kind: "environment",
                    href: format!("/environments/{}", e.name),
                });
                for h in &e.hosts {
                    list.push(Entry {
                        label: format!("{} ({})", h.name, e.name),
                        kind: "host",
                        href: crate::pages::host_href(&e.name, &h.name),
                    });
                }
            }
        }
        let q = query.get();
        list.into_iter()
            .filter(|e| matches(&q, &format!("{} {}", e.kind, e.label)))
            .take(12)
            .collect::<Vec<_>>()
    };

    // The highlighted entry: the first until the arrow keys move it; a new query starts over.
    let selected = RwSignal::new(0usize);
    let navigate = use_navigate();
    let go_selected = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let list = entries();
        if let Some(entry) = list.get(selected.get_untracked()).or(list.first()) {
            open.set(false);
            navigate(&entry.href, Default::default());
        }
    };
    let on_key = move |ev: leptos::ev::KeyboardEvent| {
        let n = entries().len();
        if n == 0 {
            return;
        }
        match ev.key().as_str() {
            "ArrowDown" => {
                ev.prevent_default();
                selected.update(|i| *i = (*i + 1) % n);
            }
            "ArrowUp" => {
                ev.prevent_default();
                selected.update(|i| *i = (*i + n - 1) % n);
            }
            _ => {}
        }
    };

    view! {
        <div class="palette-backdrop" on:click=move |_| open.set(false)></div>
        <div class="palette" role="dialog" aria-label="Jump to" data-testid="palette">
            <form on:submit=go_selected.clone()>
                <input
                    node_ref=input_ref
                    type="search"
                    placeholder="Jump to an environment, host, service or section…"
                    aria-label="Jump to"
                    aria-controls="palette-list"
                    prop:value=move || query.get()
                    on:input=move |ev| {
                        query.set(event_target_value(&ev));
                        selected.set(0);
                    }
                    on:keydown=on_key
                />
            </form>
            {move || (entries().is_empty()).then(|| view! {
                <p class="palette-none muted" role="status" data-testid="palette-none">
                    {format!("Nothing matches “{}”: try a host, service or environment name.", query.get().trim())}
                </p>
            })}
            <ul id="palette-list" role="listbox" aria-label="Matches">
                {move || entries().into_iter().enumerate().map(|(i, e)| {
                    let href = e.href.clone();
                    let is_selected = move || selected.get() == i;
                    view! {
                        <li role="option" aria-selected=move || is_selected().to_string() class:selected=is_selected>
                            <a href=href on:click=move |_| open.set(false)>
                                <span class="palette-kind">{e.kind}</span>
                                {e.label}
                            </a>
                        </li>
                    }
                }).collect_view()}
            </ul>
        </div>
    }
}

/// Whether every word of `query` (in any order, any case) is in `text`: "originsrv acc" finds
/// "builder-originsrv-acceptance-1 (acceptance)". An empty query matches everything.
fn matches(query: &str, text: &str) -> bool {
    let text = text.to_lowercase();
    query
        .split_whitespace()
        .all(|w| text.contains(&w.to_lowercase()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_word_must_match_in_any_order() {
        let host = "host builder-originsrv-acceptance-1 (acceptance)";
        assert!(super::matches("originsrv acc", host));
        assert!(super::matches("acc  ORIGINSRV", host));
        assert!(super::matches("", host));
        assert!(!super::matches("originsrv live", host));
    }
}
