//! Your settings: the time zone every page speaks to you (issue #28, point 12). One rule for the
//! whole portal: each time is shown in the zone you chose here, else your browser's, and the
//! zone is written next to it; exports use the same zone.

use leptos::prelude::*;
use leptos_meta::Title;
use serde::{Deserialize, Serialize};

use super::LoadError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettingsView {
    /// The zone the pages speak now, and why (chosen, the browser's, or UTC).
    pub zone: vocab::Zone,
    /// The zone chosen here, if any.
    pub chosen: Option<String>,
    /// The zone the browser reported, if the database knows it.
    pub browser: Option<String>,
    /// Every zone one can choose.
    pub names: Vec<String>,
    pub now_ms: i64,
}

#[server(prefix = "/api/read", endpoint = "settings")]
pub async fn load_settings() -> Result<SettingsView, ServerFnError> {
    let who = crate::portal::require(vocab::Role::Viewer)?;
    let portal = crate::portal::portal()?;
    let now_ms = ops::time::now_ms();
    let chosen = portal
        .prefs
        .chosen_zone(&who.actor().id, now_ms)
        .await
        .map_err(|e| {
            crate::portal::set_status(503);
            ServerFnError::new(format!(
                "Your settings could not be read from Onwatch's store ({e}); try again shortly."
            ))
        })?;
    let browser = crate::portal::browser_zone()
        .and_then(|z| ops::time::zone(&z, now_ms))
        .map(|z| z.name);
    Ok(SettingsView {
        zone: crate::portal::zone(),
        chosen,
        browser,
        names: ops::time::zone_names(),
        now_ms,
    })
}

/// Sets the caller's zone (`""`: follow the browser). A person's own display setting: it
/// changes nothing anyone else sees, so it is not an audited change.
#[server(prefix = "/api/attempt", endpoint = "set-time-zone")]
pub async fn set_time_zone(zone: String) -> Result<String, ServerFnError> {
    let who = crate::portal::require(vocab::Role::Viewer)?;
    let portal = crate::portal::portal()?;
    let wanted = zone.trim();
    match portal
        .prefs
        .set_zone(
            &who.actor().id,
            (!wanted.is_empty()).then_some(wanted),
            ops::time::now_ms(),
        )
        .await
    {
        Ok(Some(name)) => Ok(format!("Times are now shown in {name}.")),
        Ok(None) => Ok("Times now follow your browser's zone.".to_owned()),
        Err(e @ ops::prefs::SetZoneError::Unknown(_)) => {
            crate::portal::set_status(400);
            Err(ServerFnError::new(e.to_string()))
        }
        Err(e) => {
            crate::portal::set_status(503);
            Err(ServerFnError::new(format!(
                "Not saved: Onwatch's store did not answer ({e}). Try again shortly."
            )))
        }
    }
}

#[component]
pub fn SettingsPage() -> impl IntoView {
    let settings = Resource::new(|| (), |_| load_settings());
    view! {
        <Title text="Your settings"/>
        <section class="page settings">
            <h1>"Your settings"</h1>
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || settings.get().map(|r| match r {
                    Ok(s) => view! { <ZoneForm s/> }.into_any(),
                    Err(e) => view! { <LoadError message=e.to_string()/> }.into_any(),
                })}
            </Transition>
        </section>
    }
}

#[component]
fn ZoneForm(s: SettingsView) -> impl IntoView {
    let message = RwSignal::new(None::<Result<String, String>>);
    let choice = RwSignal::new(s.chosen.clone().unwrap_or_default());
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let zone = choice.get_untracked();
        leptos::task::spawn_local(async move {
            match set_time_zone(zone).await {
                Ok(m) => {
                    message.set(Some(Ok(m)));
                    // Every page's times follow at once: the shell carries the zone.
                    #[cfg(feature = "hydrate")]
                    if let Some(w) = web_sys::window() {
                        let _ = w.location().reload();
                    }
                }
                Err(e) => message.set(Some(Err(e.to_string()))),
            }
        });
    };
    let follow = match &s.browser {
        Some(b) => format!("Follow my browser (now {b})"),
        None => "Follow my browser (it has not said its zone: UTC until it does)".to_owned(),
    };
    let chosen = s.chosen.clone().unwrap_or_default();
    let options = s
        .names
        .iter()
        .map(|n| {
            let selected = *n == chosen;
            view! { <option value=n.clone() selected=selected>{n.clone()}</option> }
        })
        .collect_view();
    view! {
        <h2>"Time zone"</h2>
        <p data-testid="zone-now">
            "Every time in Onwatch is shown in " <strong>{s.zone.describe()}</strong>
            ", with the zone written next to it; exports use it too. It is "
            <strong>{s.zone.clock(s.now_ms)}</strong> " there now."
        </p>
        <form class="stack" on:submit=save data-testid="zone-form">
            <label for="zone-choice">"Show times in"</label>
            <select
                id="zone-choice"
                name="zone"
                on:change=move |ev| choice.set(event_target_value(&ev))
            >
                <option value="" selected=chosen.is_empty()>{follow}</option>
                {options}
            </select>
            <button type="submit" class="button">"Save"</button>
            {move || message.get().map(|m| match m {
                Ok(t) => view! { <p class="ok" role="status" data-testid="zone-saved">{t}</p> }.into_any(),
                Err(t) => view! { <p class="error" role="alert" data-testid="zone-error">{t}</p> }.into_any(),
            })}
        </form>
    }
}
