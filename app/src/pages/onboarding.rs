//! The onboarding page: my checklist (or, for an admin, anyone's), the team's progress and
//! readiness, and the admins' editor of the list.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::onboarding::*;
use crate::oncall::settle;

#[component]
pub fn OnboardingPage() -> impl IntoView {
    let query = use_query_map();
    let person = move || query.with(|q| q.get("person").unwrap_or_default());
    let version = RwSignal::new(0u32);
    let board = Resource::new(
        move || (person(), version.get()),
        |(p, _)| load_onboarding(p),
    );
    let message = RwSignal::new(None::<Done>);
    view! {
        <Title text="Onboarding"/>
        <section class="page onboarding">
            <h1>"Onboarding"</h1>
            <p class="lede">"Everything needed before a first on-call shift. Onwatch checks what it can know itself; the rest you tick, and it keeps who ticked what and when."</p>
            {move || message.get().map(|d| view! {
                <p class=if d.ok { "flash ok" } else { "flash error-text" } role=if d.ok { "status" } else { "alert" } data-testid="onboarding-message">{d.message}</p>
            })}
            <Transition fallback=|| view! { <p class="muted">"Loading the checklist…"</p> }>
                {move || board.get().map(|b| match b {
                    Err(e) => view! { <p class="error-text" role="alert">"The checklist cannot be read: " {e.to_string()}</p> }.into_any(),
                    Ok(b) => view! { <Board b version message/> }.into_any(),
                })}
            </Transition>
        </section>
    }
}

#[component]
fn Board(
    b: OnboardingBoard,
    version: RwSignal<u32>,
    message: RwSignal<Option<Done>>,
) -> impl IntoView {
    let mine = b.person == b.me;
    let done = b.items.iter().filter(|i| i.done).count();
    let total = b.items.len();
    let person = b.person.clone();
    let admin = b.is_admin;
    let has_ssh_item = b.items.iter().any(|i| i.verify == "ssh");
    view! {
        <section class="card">
            <h2>{if mine { "Your checklist".to_owned() } else { format!("{}'s checklist", b.person) }}
                <span class="muted small" data-testid="checklist-progress">{format!(" {done} of {total} done")}</span></h2>
            <ul class="checklist" data-testid="checklist">
                {b.items.into_iter().map(|i| {
                    let id = i.id.clone();
                    let (id2, id3) = (i.id.clone(), i.id.clone());
                    let p2 = person.clone();
                    let p3 = person.clone();
                    let checked = i.done;
                    view! {
                        <li class=if i.done { "item done" } else { "item" } data-testid="checklist-item" data-item=i.id.clone()>
                            <label>
                                <input type="checkbox" prop:checked=checked
                                    disabled=!(mine && i.tickable)
                                    on:change=move |ev| {
                                        let on = event_target_checked(&ev);
                                        let id = id.clone();
                                        leptos::task::spawn_local(async move { settle(version, message, onboarding_tick(id, on).await) });
                                    }/>
                                <span class="item-text">{i.text.clone()}</span>
                            </label>
                            <span class="how small" data-testid="item-how">{i.how.clone()}</span>
                            {admin.then(|| view! {
                                <span class="admin-marks">
                                    <button type="button" class="link-button small" on:click=move |_| {
                                        let (p, id) = (p2.clone(), id2.clone());
                                        leptos::task::spawn_local(async move { settle(version, message, onboarding_mark(p, id, "confirmed".into()).await) });
                                    }>"confirm"</button>
                                    <button type="button" class="link-button small" on:click=move |_| {
                                        let (p, id) = (p3.clone(), id3.clone());
                                        leptos::task::spawn_local(async move { settle(version, message, onboarding_mark(p, id, "reset".into()).await) });
                                    }>"reset"</button>
                                </span>
                            })}
                        </li>
                    }
                }).collect_view()}
            </ul>
            {(mine && has_ssh_item && b.ssh_check).then(|| view! {
                <KeyForm key=b.public_key.clone() account=b.ssh_account.clone() shared=b.ssh_shared command=b.key_proof_command.clone() version message/>
            })}
        </section>
        <section class="card">
            <h2>"The team"</h2>
            <div class="table-wrap">
            <table class="data" data-testid="team-table">
                <thead><tr><th scope="col">"Person"</th><th scope="col">"Progress"</th><th scope="col">"Ready for on-call"</th><th scope="col">"Still to do"</th></tr></thead>
                <tbody>
                {b.team.into_iter().map(|r| {
                    let flag = r.scheduled && !r.ready;
                    view! {
                        <tr data-testid="team-row" data-person=r.login.clone() class=if flag { "flagged" } else { "" }>
                            <th scope="row">{if admin || r.login == b.me {
                                view! { <a href=format!("/onboarding?person={}", r.login)>{r.name.clone()}</a> }.into_any()
                            } else {
                                view! { <span>{r.name.clone()}</span> }.into_any()
                            }}
                            // The login only when it says something the name does not.
                            {(!r.name.eq_ignore_ascii_case(&r.login)).then(|| view! { <span class="muted small" data-testid="team-login">{format!(" {}", r.login)}</span> })}
                            </th>
                            <td data-testid="team-progress" data-label="Progress">{format!("{} of {}", r.done, r.total)}</td>
                            <td data-testid="team-ready">{if r.ready {
                                view! { <span class="pill succeeded">"ready"</span> }.into_any()
                            } else if r.scheduled {
                                view! { <span class="pill failed">"not ready — scheduled on the rotation"</span> }.into_any()
                            } else {
                                view! { <span class="pill">"not yet"</span> }.into_any()
                            }}</td>
                            <td class="small todo" data-label="Still to do">{r.missing.join("; ")}</td>
                        </tr>
                    }
                }).collect_view()}
                </tbody>
            </table>
            </div>
        </section>
        {admin.then(|| view! { <Editor items=b.all_items.clone() version message/> })}
    }
}

/// The SSH item's key form. For the person's own account the public key is enough; for an
/// account everyone shares, Onwatch checks only a key the person proves they hold, so the form
/// shows the `ssh-keygen -Y sign` command and takes its output.
#[component]
fn KeyForm(
    key: String,
    account: String,
    shared: bool,
    command: String,
    version: RwSignal<u32>,
    message: RwSignal<Option<Done>>,
) -> impl IntoView {
    let key = RwSignal::new(key);
    let signature = RwSignal::new(String::new());
    let test = move || {
        let (k, s) = (key.get_untracked(), signature.get_untracked());
        leptos::task::spawn_local(
            async move { settle(version, message, onboarding_key(k, s).await) },
        );
    };
    let whose = if account.is_empty() {
        "your production account".to_owned()
    } else if shared {
        format!("the shared production account {account}")
    } else {
        format!("your production account {account}")
    };
    view! {
        <form class="stack-form" data-testid="key-form" on:submit=move |ev| { ev.prevent_default(); test(); }>
            <label for="pubkey">{format!("Your SSH public key (Onwatch asks a production host whether it would accept it for {whose}; the private key never leaves your machine; at most 5 checks an hour)")}</label>
            <input id="pubkey" type="text" placeholder="ssh-ed25519 AAAA… you@laptop" prop:value=move || key.get() on:input=move |ev| key.set(event_target_value(&ev))/>
            {shared.then(|| view! {
                <label for="keyproof">"Proof that you hold it: run this with that key's private key, and paste the output"</label>
                <code class="small" data-testid="key-proof-command">{command.clone()}</code>
                <textarea id="keyproof" rows="6" placeholder="-----BEGIN SSH SIGNATURE-----" prop:value=move || signature.get() on:input=move |ev| signature.set(event_target_value(&ev))></textarea>
            })}
            <button type="submit" class="button secondary">"Test my key"</button>
        </form>
    }
}

#[component]
fn Editor(
    items: Vec<ItemView>,
    version: RwSignal<u32>,
    message: RwSignal<Option<Done>>,
) -> impl IntoView {
    let edit = move |op: &'static str, id: String, text: String, verify: String| {
        leptos::task::spawn_local(async move {
            settle(
                version,
                message,
                onboarding_edit(op.into(), id, text, verify).await,
            )
        });
    };
    let new_text = RwSignal::new(String::new());
    let new_verify = RwSignal::new("manual".to_owned());
    view! {
        <section class="card" data-testid="checklist-editor">
            <h2>"Edit the list (admins)"</h2>
            <p class="muted small">"Rewording keeps who ticked an item; retiring hides it and keeps its history."</p>
            <ul class="editor">
                {items.into_iter().map(|i| {
                    let text = RwSignal::new(i.text.clone());
                    let (a, b, c, d) = (i.id.clone(), i.id.clone(), i.id.clone(), i.id.clone());
                    let retired = i.retired;
                    view! {
                        <li class=if retired { "retired" } else { "" }>
                            <input type="text" aria-label="Item text" prop:value=move || text.get() on:input=move |ev| text.set(event_target_value(&ev))/>
                            <span class="muted small">{format!(" {} · {}", i.verify, i.how)}</span>
                            <button type="button" class="link-button small" on:click=move |_| edit("reword", a.clone(), text.get_untracked(), String::new())>"save"</button>
                            <button type="button" class="link-button small" on:click=move |_| edit("up", b.clone(), String::new(), String::new())>"up"</button>
                            <button type="button" class="link-button small" on:click=move |_| edit("down", c.clone(), String::new(), String::new())>"down"</button>
                            <button type="button" class="link-button small" on:click=move |_| edit(if retired { "restore" } else { "retire" }, d.clone(), String::new(), String::new())>{if retired { "restore" } else { "retire" }}</button>
                        </li>
                    }
                }).collect_view()}
            </ul>
            <form class="inline-form" on:submit=move |ev| { ev.prevent_default(); edit("add", String::new(), new_text.get_untracked(), new_verify.get_untracked()); new_text.set(String::new()); }>
                <input type="text" aria-label="New item" placeholder="A new item" prop:value=move || new_text.get() on:input=move |ev| new_text.set(event_target_value(&ev))/>
                <select aria-label="How it is checked" prop:value=move || new_verify.get() on:change=move |ev| new_verify.set(event_target_value(&ev))>
                    <option value="manual">"ticked by the person"</option>
                    <option value="github">"GitHub group (sign-in)"</option>
                    <option value="core_origin">"core origin (Builder)"</option>
                    <option value="ssh">"SSH to production (key test)"</option>
                    <option value="services">"knows the services (Onwatch's records)"</option>
                </select>
                <button type="submit" class="button secondary">"Add"</button>
            </form>
        </section>
    }
}
