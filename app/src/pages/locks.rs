//! The datastore's service page: "Stale lock files". Read on request (it costs an SSH session
//! per datastore host), shown per host with size, owner, age and what holds each file; when
//! every named file may go, one guarded action removes exactly those and starts the datastore.

use leptos::prelude::*;

use crate::locks::{datastore_locks, HostLocksView};

#[component]
pub fn LockFilesPanel() -> impl IntoView {
    let result = RwSignal::new(None::<Result<Vec<HostLocksView>, String>>);
    let busy = RwSignal::new(false);
    let look = move |_| {
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        leptos::task::spawn_local(async move {
            let r = datastore_locks().await.map_err(|e| e.to_string());
            result.set(Some(r));
            busy.set(false);
        });
    };
    view! {
        <section class="lock-files" data-testid="lock-files">
            <h2>"Stale lock files"</h2>
            <p class="muted small">"The runbook: a stopped datastore may leave lock files that stop it from starting, and its error names them. "
                "Onwatch reads the datastore's Supervisor log over SSH for the lock files postgres itself names (each read is audited), and can remove exactly those, then start it: only postgres's own lock files (postmaster.pid in the data directory, a socket's .s.PGSQL.<port>.lock), never one still held, whatever a log line says."</p>
            <button type="button" class="button" data-testid="locks-look" on:click=look disabled=move || busy.get()>
                {move || if busy.get() { "Reading the log…" } else { "Look for stale lock files" }}
            </button>
            {move || result.get().map(|r| match r {
                Err(e) => view! { <div class="callout callout-error" role="alert">"Could not look: " {e}</div> }.into_any(),
                Ok(hosts) if hosts.is_empty() => view! { <p class="muted" data-testid="locks-none">"No host in the inventory runs the datastore."</p> }.into_any(),
                Ok(hosts) => hosts.into_iter().map(|h| view! { <HostLocks h/> }).collect_view().into_any(),
            })}
        </section>
    }
}

#[component]
fn HostLocks(h: HostLocksView) -> impl IntoView {
    let removable = !h.files.is_empty() && h.files.iter().all(|f| f.refusal.is_none());
    let paths: Vec<String> = h.files.iter().map(|f| f.path.clone()).collect();
    let n = paths.len();
    view! {
        <div class="lock-host" data-host=h.host.clone()>
            <h3>{h.environment.clone()} " / " {h.host.clone()}</h3>
            {match (&h.error, h.files.is_empty()) {
                (Some(e), _) => view! { <div class="callout callout-error" role="alert" data-testid="locks-error">{e.clone()}</div> }.into_any(),
                (None, true) => view! { <p class="muted" data-testid="locks-clean">"The log names no lock file: nothing to clean up."</p> }.into_any(),
                (None, false) => view! {
                    <div class="table-scroll">
                        <table data-testid="lock-table">
                            <thead><tr><th>"File"</th><th>"Size"</th><th>"Owner"</th><th>"Age"</th><th>"Can go?"</th></tr></thead>
                            <tbody>
                                {h.files.iter().map(|f| view! {
                                    <tr data-path=f.path.clone()>
                                        <td><code>{f.path.clone()}</code><div class="muted small mono">{f.line.clone()}</div></td>
                                        <td>{f.size.map(|s| format!("{s} B")).unwrap_or_else(|| "—".into())}</td>
                                        <td>{f.owner.clone().unwrap_or_else(|| "—".into())}</td>
                                        <td>{f.age.clone().unwrap_or_else(|| "—".into())}</td>
                                        <td data-testid="lock-verdict">{match &f.refusal {
                                            None => view! { <span class="verdict-pass">"yes"</span> }.into_any(),
                                            Some(why) => view! { <span class="warn-inline">"no: " {why.clone()}</span> }.into_any(),
                                        }}</td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    </div>
                    {if removable {
                        view! {
                            <super::actions::RestartControl environment=h.environment.clone() host=h.host.clone()
                                service_group=h.service_group.clone() kind="remove_lock_files" paths=paths
                                label=format!("Remove {n} file{} and start the datastore…", if n == 1 { "" } else { "s" })/>
                        }.into_any()
                    } else {
                        view! { <p class="muted small" data-testid="locks-refused">"Onwatch removes them only when every file named can go: clean up by hand, and say so in the incident."</p> }.into_any()
                    }}
                }.into_any(),
            }}
        </div>
    }
}
