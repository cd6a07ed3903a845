//! The sentinel page's "Does it run?": its systemd unit's state, read over SSH when a responder
//! presses the button (audited, rate-limited), said in words. A viewer sees no button.

use leptos::prelude::*;

use crate::sentinel::{check_sentinel, SentinelCheckView};

#[component]
pub fn SentinelStatus(host: String) -> impl IntoView {
    let may_check = crate::components::my_role().is_some_and(|r| r.allows(vocab::Role::Responder));
    let result = RwSignal::new(None::<Result<SentinelCheckView, String>>);
    let busy = RwSignal::new(false);
    let check = move |_| {
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        leptos::task::spawn_local(async move {
            let r = check_sentinel().await.map_err(|e| e.to_string());
            result.set(Some(r));
            busy.set(false);
        });
    };
    view! {
        <div class="sentinel-status" data-testid="sentinel-status">
            <h3>"Does it run?"</h3>
            {if may_check {
                view! {
                    <p class="muted small">"Onwatch does not watch the sentinel (it is not under a Supervisor): it reads its unit's state on "
                        {host} " over SSH when you ask (" <code>"systemctl is-active sentinel"</code> "; each check is audited)."</p>
                    <button type="button" class="button" data-testid="sentinel-check" on:click=check disabled=move || busy.get()>
                        {move || if busy.get() { "Checking…" } else { "Check whether the sentinel runs" }}
                    </button>
                }.into_any()
            } else {
                view! {
                    <p class="muted small" data-testid="sentinel-check-denied">"Onwatch does not watch the sentinel; a responder can check whether it runs (its unit's state, read over SSH) from this page."</p>
                }.into_any()
            }}
            {move || result.get().map(|r| match r {
                Err(e) => view! {
                    <div class="callout callout-error" role="alert" data-testid="sentinel-state" data-state="unchecked">
                        "could not check: " {e}
                    </div>
                }.into_any(),
                Ok(c) => {
                    let class = match (c.runs, c.state.as_str()) {
                        (true, _) => "callout callout-ok",
                        (false, "activating" | "deactivating" | "reloading") => "callout",
                        _ => "callout callout-error",
                    };
                    view! {
                        <div class=class role="status" data-testid="sentinel-state" data-state=c.state.clone()>
                            <strong>{c.sentence}</strong>
                            {c.advice.map(|a| view! { <p class="small">{a}</p> })}
                            {c.raw.map(|raw| view! {
                                <details data-testid="sentinel-raw">
                                    <summary>"What the host answered"</summary>
                                    <pre class="mono small">{raw}</pre>
                                </details>
                            })}
                        </div>
                    }.into_any()
                }
            })}
        </div>
    }
}
