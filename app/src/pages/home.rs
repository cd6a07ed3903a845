//! The home dashboard: alarms first, then each environment (production first) as a grid of
//! hosts × services whose cells say their state in a word, an icon and a colour.

use leptos::prelude::*;
use leptos_meta::Title;

use super::markup::{self, FULL_GRID_MAX_HOSTS};
use super::LoadError;
use crate::fleet::{load_dashboard, FleetView};
use crate::live::use_live_fleet;
use std::sync::Arc;

/// The id of the `<script>` that hands the dashboard's first state from the server to the browser.
const DASHBOARD_DATA_ID: &str = "onwatch-dashboard";

/// What the dashboard shows besides its grid: which snapshot (the fleet model's version, when
/// it was taken, from which inventory), or why there is nothing to show.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
enum Head {
    Fleet {
        version: u64,
        now_ms: i64,
        source: Option<String>,
    },
    /// No inventory source is configured.
    NoFleet,
    Failed(String),
}

/// The dashboard as drawn: its head, and the alarms and grids as HTML (see [`markup`]).
#[derive(Clone)]
struct Shown {
    head: Head,
    markup: Arc<str>,
}

impl Shown {
    fn of(fleet: &FleetView, markup: impl FnOnce(&FleetView) -> Arc<str>) -> Shown {
        if fleet.source.is_none() && fleet.environments.iter().all(|e| e.hosts.is_empty()) {
            return Shown::bare(Head::NoFleet);
        }
        Shown {
            head: Head::Fleet {
                version: fleet.version,
                now_ms: fleet.now_ms,
                source: fleet.source.clone(),
            },
            markup: markup(fleet),
        }
    }

    /// A head without a grid (or whose grid the page already holds).
    fn bare(head: Head) -> Shown {
        Shown {
            head,
            markup: Arc::from(""),
        }
    }

    /// The fleet model's version shown, if a fleet is.
    fn version(&self) -> Option<u64> {
        match self.head {
            Head::Fleet { version, .. } => Some(version),
            _ => None,
        }
    }
}

/// The home dashboard. The server draws the latest snapshot at once: its view and markup are
/// built once per snapshot for every viewer, so a page view is a copy, with no resource and no
/// Suspense boundary. The browser takes the page over as it is (the grid's HTML stays; only the
/// head travels, as a few bytes of JSON) and redraws on each live update.
#[component]
pub fn HomePage() -> impl IntoView {
    let live = use_live_fleet();
    let (first, first_error) = first_shown();
    let shown = RwSignal::new(first);
    // A failed refresh: the last good grid stays, under a warning that says it is not current.
    let refresh_error = RwSignal::new(first_error);
    // Live updates, and the first draw after a client-side navigation. An answer is drawn unless
    // a later request's answer has been drawn already: out-of-order answers are dropped, and a
    // fleet that changes faster than answers come back still gets drawn.
    let asked = StoredValue::new(0u64);
    let drawn = StoredValue::new(0u64);
    Effect::new(move |_| {
        let announced = live.version.get();
        let showing = shown.with_untracked(|s| s.as_ref().map(Shown::version));
        // Nothing announced yet (the stream is connecting): the page is what the server just
        // drew. Or the page shows the announced version already.
        if showing.is_some() && (announced == 0 || showing == Some(Some(announced))) {
            return;
        }
        let Some(ticket) = asked.try_update_value(|n| {
            *n += 1;
            *n
        }) else {
            return;
        };
        leptos::task::spawn_local(async move {
            let answer = load_dashboard(FULL_GRID_MAX_HOSTS).await;
            // The page may have gone (the person navigated away): then there is nothing to draw.
            if drawn.try_get_value().is_none_or(|d| d > ticket) {
                return;
            }
            drawn.set_value(ticket);
            let showing_fleet = shown
                .try_with_untracked(|s| s.as_ref().and_then(Shown::version).is_some())
                .unwrap_or(false);
            match answer {
                Ok(fleet) => {
                    shown.try_set(Some(Shown::of(&fleet, |f| markup::dashboard(f).into())));
                    refresh_error.try_set(None);
                }
                Err(e) if showing_fleet => {
                    refresh_error.try_set(Some(e.to_string()));
                }
                Err(e) => {
                    shown.try_set(Some(Shown::bare(Head::Failed(e.to_string()))));
                }
            }
        });
    });
    let json = shown.with_untracked(|s| {
        s.as_ref()
            .map(|s| crate::data::embed(&s.head))
            .unwrap_or_default()
    });
    view! {
        <Title text="Dashboard"/>
        <section class="page dashboard">
            <script type="application/json" id=DASHBOARD_DATA_ID inner_html=json></script>
            <super::OnCallCard/>
            {move || match shown.get() {
                None => view! { <p class="muted">"Loading the fleet…"</p> }.into_any(),
                Some(s) => view! { <Dashboard shown=s refresh_error/> }.into_any(),
            }}
        </section>
    }
}

/// The dashboard's first state, and an error to show over it: on the server, the latest
/// snapshot; in the browser, the head the server wrote into the page being hydrated (the grid
/// is already in it), or nothing yet after a client-side navigation.
fn first_shown() -> (Option<Shown>, Option<String>) {
    #[cfg(feature = "ssr")]
    {
        let shown = match crate::fleet::dashboard_now(FULL_GRID_MAX_HOSTS) {
            Ok(built) => Shown::of(&built.view, |_| built.markup()),
            Err(e) => Shown::bare(Head::Failed(e.to_string())),
        };
        (Some(shown), None)
    }
    #[cfg(not(feature = "ssr"))]
    {
        if !crate::data::hydrating() {
            return (None, None);
        }
        // The grid's HTML is in the page already: hydration keeps it and does not compare it.
        match crate::data::embedded::<Head>(DASHBOARD_DATA_ID) {
            Ok(head) => (Some(Shown::bare(head)), None),
            // Only a page altered on its way here: take the fleet's structure (the usual one),
            // say the page is not current, and let the first live update redraw it.
            Err(e) => (
                Some(Shown::bare(Head::Fleet {
                    version: 0,
                    now_ms: 0,
                    source: None,
                })),
                Some(e),
            ),
        }
    }
}

#[component]
fn Dashboard(shown: Shown, refresh_error: RwSignal<Option<String>>) -> impl IntoView {
    let (now, source) = match shown.head {
        Head::Fleet { now_ms, source, .. } => (now_ms, source),
        Head::NoFleet => {
            return view! {
                <h1>"Dashboard"</h1>
                <div class="callout">
                    <h2>"No fleet configured"</h2>
                    <p>"Set [inventory] source = \"ec2\" (instances by their X-Environment tag) or source = \"static\" with a fleet file, then restart Onwatch. See the README."</p>
                </div>
            }
            .into_any();
        }
        Head::Failed(message) => {
            return view! { <h1>"Dashboard"</h1> <LoadError message/> }.into_any();
        }
    };
    view! {
        <div class="dash-head">
            <h1>"Dashboard"</h1>
            <span class="muted small" data-testid="refreshed">
                "as of " {crate::fmt::utc_clock(now)} " · " {source.unwrap_or_default()}
            </span>
            <a class="small" href="/broken">"What's broken? →"</a>
            <a class="small" href="/releases">"Acceptance vs live →"</a>
        </div>
        {move || refresh_error.get().map(|e| view! {
            <div class="callout callout-error" role="alert" data-testid="refresh-error">
                <strong>"Not current: the last refresh failed. "</strong>
                {e}
                <p class="muted">"What you see is from the time above. Reload the page; if it persists, check that the Onwatch server is up (/healthz)."</p>
            </div>
        })}
        <div class="dash-body" inner_html=shown.markup></div>
    }
    .into_any()
}
