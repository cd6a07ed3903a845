//! The home dashboard: alarms first, then each environment (production first) as a grid of
//! hosts × services whose cells say their state in a word, an icon and a colour.

use leptos::prelude::*;
use leptos_meta::Title;

use super::markup;
use super::LoadError;
use crate::fleet::FleetView;
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

/// The dashboard's view: like [`crate::fleet::load_fleet`], but without what only the host page
/// shows (census, tags, hook output), and, in environments of more than the configured
/// `[fleet] dashboard_collapse_above` hosts, without the hosts that are entirely healthy
/// (counted instead). It takes no argument: what is built is the server's choice, so that no
/// request can make it build something else.
#[server(prefix = "/api/read", endpoint = "dashboard")]
pub async fn load_dashboard() -> Result<crate::data::Shared<FleetView>, ServerFnError> {
    Ok(dashboard_now()?.view.clone())
}

/// The dashboard of the latest snapshot, at once: built once per snapshot (the view with its
/// JSON) and shared by every viewer. The page's server render and [`load_dashboard`] both read it.
#[cfg(feature = "ssr")]
fn dashboard_now() -> Result<Arc<cache::DashboardBuilt>, ServerFnError> {
    crate::portal::require(ops::auth::Role::Viewer)?;
    let portal = crate::portal::portal()?;
    let cache = use_context::<cache::DashboardCache>()
        .ok_or_else(|| ServerFnError::new("the dashboard cache is missing"))?;
    let snap = portal.fleet.snapshot(ops::time::now_ms());
    Ok(cache.get_or_build((snap.version, snap.generated_ms), || {
        let view = Arc::new(crate::fleet::ssr::dashboard(
            &snap,
            portal.fleet_source.clone(),
            snap.generated_ms,
            portal.dashboard_collapse_above,
        ));
        // Its JSON too, once: every live update of every viewer sends it.
        crate::data::Shared::with_json(view.clone()).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "dashboard view: JSON not cached");
            crate::data::Shared::new(view)
        })
    }))
}

/// Which snapshot the dashboard drawn now shows (built if it is not yet): part of the key under
/// which the server keeps the whole page (server/src/page_cache.rs).
#[cfg(feature = "ssr")]
pub fn dashboard_key() -> Result<cache::Key, ServerFnError> {
    Ok(dashboard_now()?.key())
}

#[cfg(feature = "ssr")]
pub mod cache {
    //! The dashboard of the latest fleet snapshot, shared by every viewer (the server provides
    //! one [`DashboardCache`] as context to every render and server function).

    use std::sync::{Arc, Mutex, PoisonError};

    use crate::data::Shared;
    use crate::fleet::FleetView;

    /// Which snapshot a dashboard was built from: the fleet model's version and when the
    /// snapshot was taken. Later snapshots have larger keys.
    pub type Key = (u64, i64);

    /// The dashboard of one fleet snapshot: its view (with its JSON, for live updates) and,
    /// once a page asks for it, its alarms and grids as HTML, once per time zone that readers
    /// speak (a team has a handful).
    pub struct DashboardBuilt {
        key: Key,
        pub view: Shared<FleetView>,
        markup: Mutex<Vec<(String, Arc<str>)>>,
    }

    /// More zones than this in one snapshot's cache and the oldest is dropped (rebuilt if asked).
    const ZONES_KEPT: usize = 16;

    impl DashboardBuilt {
        /// The snapshot this dashboard was built from.
        pub fn key(&self) -> Key {
            self.key
        }

        /// The alarms and grids as HTML in `zone`, written the first time a page in that zone
        /// asks. The build runs outside the lock (two first readers may both build).
        pub fn markup(&self, zone: &vocab::Zone) -> Arc<str> {
            let cached = self
                .markup
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .iter()
                .find(|(name, _)| *name == zone.name)
                .map(|(_, m)| m.clone());
            if let Some(m) = cached {
                return m;
            }
            let built: Arc<str> = super::markup::dashboard(&self.view, zone).into();
            let mut kept = self.markup.lock().unwrap_or_else(PoisonError::into_inner);
            if !kept.iter().any(|(name, _)| *name == zone.name) {
                if kept.len() >= ZONES_KEPT {
                    kept.remove(0);
                }
                kept.push((zone.name.clone(), built.clone()));
            }
            built
        }
    }

    /// The last dashboard built. Its lock is held only to copy or swap one pointer, never
    /// across a build: a request that finds the snapshot newer than the cache builds without
    /// making anyone wait, and the cache keeps whichever is the newest snapshot's (so a slow
    /// build of an older snapshot never replaces a newer one). Two requests that arrive in the
    /// same millisecond after a change may both build; nobody blocks a runtime thread on
    /// another's build.
    #[derive(Clone, Default)]
    pub struct DashboardCache(Arc<Mutex<Option<Arc<DashboardBuilt>>>>);

    impl DashboardCache {
        pub fn get_or_build(
            &self,
            key: Key,
            build: impl FnOnce() -> Shared<FleetView>,
        ) -> Arc<DashboardBuilt> {
            // A cache left poisoned by a panic is only a pointer: it is used all the same.
            let last = self
                .0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone();
            if let Some(last) = last.filter(|l| l.key == key) {
                return last;
            }
            let built = Arc::new(DashboardBuilt {
                key,
                view: build(),
                markup: Mutex::default(),
            });
            let mut slot = self.0.lock().unwrap_or_else(PoisonError::into_inner);
            if slot.as_ref().is_none_or(|s| s.key < key) {
                *slot = Some(built.clone());
            }
            built
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
    // Read here, under the page's owner: the live updates below draw from a task, outside it.
    let zone = crate::fmt::zone();
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
        let zone = zone.clone();
        leptos::task::spawn_local(async move {
            let answer = load_dashboard().await;
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
                    shown.try_set(Some(Shown::of(&fleet, |f| {
                        markup::dashboard(f, &zone).into()
                    })));
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
        let shown = match dashboard_now() {
            Ok(built) => Shown::of(&built.view, |_| built.markup(&crate::fmt::zone())),
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
                "as of " {crate::fmt::clock(now)} " · " {source.unwrap_or_default()}
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
