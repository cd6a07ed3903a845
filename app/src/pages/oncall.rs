//! The on-call page: who is on call now and next, the calendar, overrides (asked for and
//! answered here), the handoff of each shift, and the iCal feeds.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::oncall::*;

/// Who is on call, as the dashboard shows it (from the shell's data: no extra request).
#[component]
pub fn OnCallCard() -> impl IntoView {
    let shell = use_context::<crate::components::Shell>();
    let now = shell.and_then(|s| s.0.ok()).and_then(|d| d.oncall);
    now.map(|n| {
        view! {
            <section class="oncall-card" data-testid="oncall-card" aria-label="On call">
                <a href="/oncall" class="oncall-card-link">
                    <span class="label">"On call now"</span>
                    <span><strong>{n.primary.clone()}</strong>" primary · "<strong>{n.secondary.clone()}</strong>" secondary"</span>
                    {n.until.clone().map(|u| view! { <span class="muted small">"until " {u}</span> })}
                    {n.next_primary.clone().map(|p| view! { <span class="muted small">"next: " {p} {n.next_secondary.clone().map(|s| format!(", {s}")).unwrap_or_default()}</span> })}
                    {n.stale.clone().map(|s| view! { <span class="stale-note small">{s}</span> })}
                </a>
            </section>
        }
    })
}

#[component]
pub fn OnCallPage() -> impl IntoView {
    let version = RwSignal::new(0u32);
    let board = Resource::new(move || version.get(), |_| load_oncall());
    let message = RwSignal::new(None::<Done>);
    view! {
        <Title text="On-call"/>
        <section class="page oncall">
            <h1>"On-call"</h1>
            {move || message.get().map(|d| view! {
                <p class=if d.ok { "flash ok" } else { "flash error-text" } role=if d.ok { "status" } else { "alert" } data-testid="oncall-message">{d.message}</p>
            })}
            <Transition fallback=|| view! { <p class="muted">"Loading the rotation…"</p> }>
                {move || board.get().map(|b| match b {
                    Err(e) => view! { <p class="error-text" role="alert">"The rotation cannot be read: " {e.to_string()}</p> }.into_any(),
                    Ok(b) => view! { <Board b version message/> }.into_any(),
                })}
            </Transition>
        </section>
    }
}

#[component]
fn Board(b: OnCallBoard, version: RwSignal<u32>, message: RwSignal<Option<Done>>) -> impl IntoView {
    let mine_pending: Vec<RequestView> = b
        .requests
        .iter()
        .filter(|r| r.can_answer)
        .cloned()
        .collect();
    view! {
        <p class="lede">{b.about.clone()}</p>
        {b.now.clone().map(|n| view! { <NowPanel n/> })}
        {(!b.not_ready.is_empty()).then(|| view! {
            <div class="callout warn" role="alert" data-testid="oncall-not-ready">
                <strong>"Scheduled but not ready for on-call: "</strong>{b.not_ready.join(", ")}
                " — their onboarding checklist is not complete. "<a href="/onboarding">"See the team's progress"</a>
            </div>
        })}
        {(!mine_pending.is_empty()).then(|| view! {
            <section class="card attention" data-testid="requests-for-me">
                <h2>"Asked of you"</h2>
                <RequestList requests=mine_pending version message/>
            </section>
        })}
        {b.rotation.then(|| view! { <Calendar shifts=b.shifts.clone()/> })}
        {(b.rotation && b.in_rotation).then(|| view! {
            <AskForms my=b.my_shifts.clone() others=b.others.clone() members=b.members.clone() me=b.me.clone() version message/>
        })}
        {(b.rotation && !b.in_rotation).then(|| view! {
            <p class="muted">"You (" {b.me.clone()} ") are not in the rotation, so you have no shift to give away. Admins change the rotation's members in the configuration ([oncall] members)."</p>
        })}
        <section class="card">
            <h2>"Override requests"</h2>
            {if b.requests.is_empty() {
                view! { <p class="muted">"None yet."</p> }.into_any()
            } else {
                view! { <RequestList requests=b.requests.clone() version message/> }.into_any()
            }}
        </section>
        {b.rotation.then(|| view! { <Handoffs handoffs=b.handoffs.clone() version message/> })}
        {b.rotation.then(|| view! { <Feeds feeds=b.feeds.clone() version message/> })}
    }
}

#[component]
fn NowPanel(n: NowView) -> impl IntoView {
    view! {
        <section class="now-panel" data-testid="oncall-now">
            <div class="seat">
                <span class="label">"Primary"</span>
                <strong data-testid="now-primary">{n.primary.clone()}</strong>
            </div>
            <div class="seat">
                <span class="label">"Secondary"</span>
                <strong data-testid="now-secondary">{n.secondary.clone()}</strong>
            </div>
            <div class="seat">
                <span class="label">"Until"</span>
                <span>{n.until.clone().unwrap_or_else(|| "not known".into())}</span>
            </div>
            <div class="seat">
                <span class="label">"Next"</span>
                <span data-testid="now-next">{match (n.next_primary.clone(), n.next_secondary.clone()) {
                    (Some(p), Some(s)) => format!("{p} (primary), {s} (secondary)"),
                    (Some(p), None) => format!("{p} (primary)"),
                    _ => "not known".into(),
                }}</span>
            </div>
            <p class="muted small source">{if n.source == "pagerduty" { "From PagerDuty." } else { "From Onwatch's rotation, overrides applied." }}</p>
            {n.stale.clone().map(|s| view! { <p class="stale-note" role="status" data-testid="oncall-stale">{s}</p> })}
        </section>
    }
}

#[component]
fn Calendar(shifts: Vec<ShiftView>) -> impl IntoView {
    // A list of shifts, each with one row per part (who holds primary and secondary in it):
    // a grid on a wide screen, stacked on a phone (no wide table to swipe).
    view! {
        <section class="card">
            <h2>"Calendar"</h2>
            <ol class="calendar" data-testid="oncall-calendar" aria-label="Shifts and who holds them">
                {shifts.into_iter().map(|s| {
                    let class = if s.current { "cal-shift current" } else if s.past { "cal-shift past" } else { "cal-shift" };
                    let head = format!("#{}{}", s.index, if s.current { " (now)" } else { "" });
                    let parts = s.segments.len();
                    let not_ready = s.not_ready.clone();
                    view! {
                        <li class=class data-shift=s.index data-testid="calendar-shift">
                            <div class="cal-head">
                                <strong>{head}</strong>
                                <span class="muted small">{format!("{} h", s.hours)}{(parts > 1).then(|| format!(", {parts} parts"))}</span>
                                {s.clock_note.clone().map(|t| view! { <span class="clock-note small">{t}</span> })}
                            </div>
                            <ul class="cal-parts">
                                {s.segments.into_iter().map(|g| {
                                    let nr = |p: &str| not_ready.iter().any(|x| x.eq_ignore_ascii_case(p));
                                    let covered = g.primary_covered || g.secondary_covered;
                                    view! {
                                        <li class=if covered { "cal-part covered" } else { "cal-part" } data-testid="calendar-part" data-covered=covered.to_string()>
                                            <span class="cal-when" data-testid="calendar-when">
                                                <span class="cal-time">{g.start.clone()}</span>" → "<span class="cal-time">{g.end.clone()}</span>
                                            </span>
                                            <Holder label="Primary" seat="primary" who=g.primary.clone() covering=g.primary_for.clone().or_else(|| g.primary_covered.then(String::new)) not_ready=nr(&g.primary)/>
                                            <Holder label="Secondary" seat="secondary" who=g.secondary.clone() covering=g.secondary_for.clone().or_else(|| g.secondary_covered.then(String::new)) not_ready=nr(&g.secondary)/>
                                        </li>
                                    }
                                }).collect_view()}
                            </ul>
                        </li>
                    }
                }).collect_view()}
            </ol>
        </section>
    }
}

/// One seat of a part of a shift: who holds it, and whom they cover (`Some("")`: someone).
#[component]
fn Holder(
    label: &'static str,
    seat: &'static str,
    who: String,
    covering: Option<String>,
    not_ready: bool,
) -> impl IntoView {
    view! {
        <span class="cal-seat" data-seat=seat data-testid=format!("calendar-{seat}")>
            <span class="cal-label">{label}</span>
            <strong class="cal-who">{who}</strong>
            {covering.map(|c| view! {
                <span class="covering">{if c.is_empty() { "(covering)".to_owned() } else { format!("(covering {c})") }}</span>
            })}
            {not_ready.then(|| view! { <span class="not-ready" title="onboarding not complete">"not ready"</span> })}
        </span>
    }
}

#[component]
fn AskForms(
    my: Vec<MyShift>,
    others: Vec<OtherShift>,
    members: Vec<String>,
    me: String,
    version: RwSignal<u32>,
    message: RwSignal<Option<Done>>,
) -> impl IntoView {
    // A part is named `index@part` (its shift, its start).
    let first = my.first().map(part_value).unwrap_or_default();
    let shift = RwSignal::new(first.clone());
    let from = RwSignal::new(String::new());
    let to = RwSignal::new(String::new());
    let covering = RwSignal::new(String::new());
    let reason = RwSignal::new(String::new());
    let swap_mine = RwSignal::new(first);
    let swap_theirs = RwSignal::new(String::new());
    let swap_reason = RwSignal::new(String::new());
    // Each form's own answer, shown under its button (a refusal where the person looks).
    let cover_answer = RwSignal::new(None::<Done>);
    let swap_answer = RwSignal::new(None::<Done>);
    let cover = move || {
        let (sh, part) = split_part(&shift.get_untracked());
        let (k, f, t, c, r) = (
            "cover".to_owned(),
            from.get_untracked(),
            to.get_untracked(),
            covering.get_untracked(),
            reason.get_untracked(),
        );
        leptos::task::spawn_local(async move {
            let answer = oncall_ask(k, sh, f, t, c, String::new(), 0, r, part, String::new()).await;
            answered(cover_answer, version, message, answer);
        });
    };
    let swap = move || {
        let (mine, part) = split_part(&swap_mine.get_untracked());
        let theirs = swap_theirs.get_untracked();
        let (who, (idx, their_part)) = theirs
            .split_once('@')
            .map(|(w, rest)| (w.to_owned(), split_part(rest)))
            .unwrap_or_default();
        let r = swap_reason.get_untracked();
        leptos::task::spawn_local(async move {
            let answer = oncall_ask(
                "swap".into(),
                mine,
                String::new(),
                String::new(),
                String::new(),
                who,
                idx,
                r,
                part,
                their_part,
            )
            .await;
            answered(swap_answer, version, message, answer);
        });
    };
    let others_members: Vec<String> = members
        .into_iter()
        .filter(|m| !m.eq_ignore_ascii_case(&me))
        .collect();
    let has_shifts = !my.is_empty();
    let my2 = my.clone();
    let partners: Vec<(String, Vec<String>)> = my
        .iter()
        .map(|s| (part_value(s), s.partners.clone()))
        .collect();
    view! {
        <section class="card">
            <h2>"Your coming shifts"</h2>
            {if has_shifts {
                view! {
                    <ul class="plain" data-testid="my-shifts">{my.iter().map(|s| view! {
                        <li data-testid="my-part" data-shift=s.index>
                            {format!("#{} {}: ", s.index, s.seat)}<span class="cal-time">{s.start.clone()}</span>" → "<span class="cal-time">{s.end.clone()}</span>{s.covering.then_some(" (covering)")}
                        </li>
                    }).collect_view()}</ul>
                }.into_any()
            } else {
                view! { <p class="muted">"None in the next ten shifts."</p> }.into_any()
            }}
            {has_shifts.then(|| view! {
                <div class="forms-row">
                <form class="stack-form" data-testid="cover-form" on:submit=move |ev| { ev.prevent_default(); cover(); }>
                    <h3>"Ask someone to cover"</h3>
                    <p class="muted small">"The runbook: if you cannot cover your shift, find a team mate. Nothing changes until they accept."</p>
                    <label for="cover-shift">"Shift"</label>
                    <select id="cover-shift" data-testid="cover-shift" prop:value=move || shift.get() on:change=move |ev| shift.set(event_target_value(&ev))>
                        {my2.iter().map(|s| view! { <option value=part_value(s)>{part_label(s)}</option> }).collect_view()}
                    </select>
                    <label for="cover-from">"From (blank: the part's start, or now), in " {crate::fmt::zone().name}</label>
                    <input id="cover-from" type="datetime-local" prop:value=move || from.get() on:input=move |ev| from.set(event_target_value(&ev))/>
                    <label for="cover-to">"To (blank: the part's end), in " {crate::fmt::zone().name}</label>
                    <input id="cover-to" type="datetime-local" prop:value=move || to.get() on:input=move |ev| to.set(event_target_value(&ev))/>
                    <label for="cover-who">"Who covers"</label>
                    <select id="cover-who" data-testid="cover-who" prop:value=move || covering.get() on:change=move |ev| covering.set(event_target_value(&ev))>
                        <option value="">"Choose…"</option>
                        // Not whoever holds the other seat of the chosen shift: the server
                        // would refuse them.
                        {move || {
                            let chosen = shift.get();
                            let partner = partners
                                .iter()
                                .find(|(v, _)| *v == chosen)
                                .map(|(_, p)| p.clone())
                                .unwrap_or_default();
                            others_members
                                .iter()
                                .filter(|m| !partner.iter().any(|p| m.eq_ignore_ascii_case(p)))
                                .map(|m| view! { <option value=m.clone()>{m.clone()}</option> })
                                .collect_view()
                        }}
                    </select>
                    <label for="cover-reason">"Why (for the team)"</label>
                    <input id="cover-reason" type="text" data-testid="cover-reason" placeholder="flying on Tuesday" prop:value=move || reason.get() on:input=move |ev| reason.set(event_target_value(&ev))/>
                    <button type="submit" class="button">"Ask for cover"</button>
                    <FormAnswer answer=cover_answer testid="cover-answer"/>
                </form>
                <form class="stack-form" data-testid="swap-form" on:submit=move |ev| { ev.prevent_default(); swap(); }>
                    <h3>"Swap a shift"</h3>
                    <label for="swap-mine">"Your shift"</label>
                    <select id="swap-mine" data-testid="swap-mine" prop:value=move || swap_mine.get() on:change=move |ev| swap_mine.set(event_target_value(&ev))>
                        {my.iter().map(|s| view! { <option value=part_value(s)>{part_label(s)}</option> }).collect_view()}
                    </select>
                    <label for="swap-theirs">"For"</label>
                    <select id="swap-theirs" data-testid="swap-theirs" prop:value=move || swap_theirs.get() on:change=move |ev| swap_theirs.set(event_target_value(&ev))>
                        <option value="">"Choose…"</option>
                        {others.iter().map(|o| view! { <option value=format!("{}@{}@{}", o.person, o.index, o.part)>{format!("{}'s #{} {} from {}", o.person, o.index, o.seat, o.start)}</option> }).collect_view()}
                    </select>
                    <label for="swap-reason">"Why"</label>
                    <input id="swap-reason" type="text" prop:value=move || swap_reason.get() on:input=move |ev| swap_reason.set(event_target_value(&ev))/>
                    <button type="submit" class="button">"Ask to swap"</button>
                    <FormAnswer answer=swap_answer testid="swap-answer"/>
                </form>
                </div>
            })}
        </section>
    }
}

/// A part of a shift as a picker's value: `index@part`.
fn part_value(s: &MyShift) -> String {
    format!("{}@{}", s.index, s.part)
}

/// A picker's value back to (shift, part); a bare index names no part.
fn split_part(v: &str) -> (i64, String) {
    let (index, part) = v.split_once('@').unwrap_or((v, ""));
    (index.parse().unwrap_or_default(), part.to_owned())
}

fn part_label(s: &MyShift) -> String {
    format!(
        "#{} {}, {} → {}{}",
        s.index,
        s.seat,
        s.start,
        s.end,
        if s.covering { " (covering)" } else { "" }
    )
}

#[component]
fn RequestList(
    requests: Vec<RequestView>,
    version: RwSignal<u32>,
    message: RwSignal<Option<Done>>,
) -> impl IntoView {
    let answer = move |id: String, a: &'static str| {
        leptos::task::spawn_local(async move {
            settle(version, message, oncall_answer(id, a.into()).await);
        });
    };
    view! {
        <ul class="requests">
            {requests.into_iter().map(|r| {
                let (id1, id2, id3) = (r.id.clone(), r.id.clone(), r.id.clone());
                view! {
                    <li class=format!("request {}", r.state) data-testid="override-request" data-id=r.id.clone()>
                        <p>
                            <strong>{format!("{} asks {} to {}", r.requested_by, r.counterpart, r.kind)}</strong>
                            " · " <span class=format!("pill {}", r.state)>{r.state.clone()}</span>
                        </p>
                        <ul class="plain small">{r.covers.iter().map(|c| view! { <li>{c.clone()}</li> }).collect_view()}</ul>
                        <p class="small">"“" {r.reason.clone()} "” — asked " {r.requested.clone()}
                            {r.answered.clone().map(|a| view! { <span>"; answered " {a}</span> })}</p>
                        <div class="button-row">
                            {r.can_answer.then(|| view! {
                                <button type="button" class="button" on:click=move |_| answer(id1.clone(), "accept")>"Accept"</button>
                                <button type="button" class="button secondary" on:click=move |_| answer(id2.clone(), "decline")>"Decline"</button>
                            })}
                            {r.can_cancel.then(|| view! {
                                <button type="button" class="link-button" on:click=move |_| answer(id3.clone(), "cancel")>"Cancel the request"</button>
                            })}
                        </div>
                    </li>
                }
            }).collect_view()}
        </ul>
    }
}

#[component]
fn Handoffs(
    handoffs: Vec<HandoffView>,
    version: RwSignal<u32>,
    message: RwSignal<Option<Done>>,
) -> impl IntoView {
    view! {
        <section class="card">
            <h2>"Handoffs"</h2>
            <p class="muted small">"At each shift's end Onwatch keeps what the next people need to know: actions, alarms, repeated restarts and what is still unhealthy. The outgoing engineers add a note; the incoming ones acknowledge it."</p>
            {handoffs.into_iter().map(|h| view! { <HandoffCard h version message/> }).collect_view()}
        </section>
    }
}

#[component]
fn HandoffCard(
    h: HandoffView,
    version: RwSignal<u32>,
    message: RwSignal<Option<Done>>,
) -> impl IntoView {
    let note = RwSignal::new(h.note.clone());
    let shift = h.shift_index;
    let save = move || {
        let n = note.get_untracked();
        leptos::task::spawn_local(
            async move { settle(version, message, handoff_note(shift, n).await) },
        );
    };
    let ack = move || {
        leptos::task::spawn_local(
            async move { settle(version, message, handoff_ack(shift).await) },
        );
    };
    let title = if h.kept {
        format!("Shift #{} — handed over", h.shift_index)
    } else {
        format!(
            "Shift #{} — under way (what would be handed over now)",
            h.shift_index
        )
    };
    view! {
        <article class="handoff" data-testid=if h.kept { "handoff-kept" } else { "handoff-current" } data-shift=h.shift_index>
            <h3>{title}</h3>
            <p class="small">{h.span.clone()} " · from " {h.outgoing.join(" and ")} " to " {h.incoming.join(" and ")}</p>
            <h4>"Actions taken"</h4>
            {if h.actions.is_empty() {
                view! { <p class="muted small">"None."</p> }.into_any()
            } else {
                view! { <ul class="plain small" data-testid="handoff-actions">{h.actions.iter().map(|a| view! {
                    <li><a href=format!("/actions/{}", a.id)>{a.what.clone()}</a> " by " {a.who.clone()} ", " {a.when.clone()} ": " <span class=format!("pill {}", a.state)>{a.state.clone()}</span> " " {a.summary.clone()}</li>
                }).collect_view()}</ul> }.into_any()
            }}
            <h4>"Alarms that fired"</h4>
            {if h.alarms.is_empty() {
                view! { <p class="muted small">"None."</p> }.into_any()
            } else {
                view! { <ul class="plain small" data-testid="handoff-alarms">{h.alarms.iter().map(|a| view! {
                    <li>{a.subject.clone()} " went " <strong>{a.state.clone()}</strong> " at " {a.when.clone()} ": "
                        {match a.cleared.clone() { Some(c) => format!("cleared {c}"), None => "NOT cleared".into() }}</li>
                }).collect_view()}</ul> }.into_any()
            }}
            {(!h.repeated.is_empty()).then(|| view! {
                <h4>"Restarted more than once"</h4>
                <ul class="plain small">{h.repeated.iter().map(|r| view! { <li>{r.clone()}</li> }).collect_view()}</ul>
            })}
            {(!h.incidents.is_empty()).then(|| view! {
                <h4>"Incidents"</h4>
                <ul class="plain small" data-testid="handoff-incidents">{h.incidents.iter().map(|(id, t)| view! {
                    <li><a href=format!("/incidents/{id}")>{t.clone()}</a></li>
                }).collect_view()}</ul>
            })}
            {(!h.open_cleanups.is_empty()).then(|| view! {
                <h4>"Rules broken, cleanup still open"</h4>
                <ul class="plain small bad" data-testid="handoff-cleanups">{h.open_cleanups.iter().map(|c| view! { <li>{c.clone()}</li> }).collect_view()}</ul>
            })}
            <h4>"Still unhealthy"</h4>
            {if h.unhealthy.is_empty() {
                view! { <p class="muted small">"Nothing, when this was written (" {h.generated.clone()} ")."</p> }.into_any()
            } else {
                view! { <ul class="plain small bad">{h.unhealthy.iter().map(|u| view! { <li>{u.clone()}</li> }).collect_view()}</ul> }.into_any()
            }}
            {h.kept.then(|| view! {
                <h4>"Note from the outgoing engineers"</h4>
                {if h.can_note {
                    view! {
                        <form class="stack-form" on:submit=move |ev| { ev.prevent_default(); save(); }>
                            <textarea rows="3" aria-label="Handoff note" prop:value=move || note.get() on:input=move |ev| note.set(event_target_value(&ev))></textarea>
                            <button type="submit" class="button secondary">"Save the note"</button>
                        </form>
                    }.into_any()
                } else if h.note.is_empty() {
                    view! { <p class="muted small">"No note."</p> }.into_any()
                } else {
                    view! { <p class="handoff-note">{h.note.clone()}</p> }.into_any()
                }}
                {h.note_by.clone().map(|b| view! { <p class="muted small">"— " {b}</p> })}
                {match h.acknowledged.clone() {
                    Some(a) => view! { <p class="small ok-text">"Acknowledged by " {a}</p> }.into_any(),
                    None if h.can_ack => view! { <button type="button" class="button" on:click=move |_| ack()>"Acknowledge the handoff"</button> }.into_any(),
                    None => view! { <p class="small warn-text">"Not yet acknowledged by " {h.incoming.join(" or ")}</p> }.into_any(),
                }}
            })}
        </article>
    }
}

#[component]
fn Feeds(
    feeds: Vec<FeedView>,
    version: RwSignal<u32>,
    message: RwSignal<Option<Done>>,
) -> impl IntoView {
    let made = RwSignal::new(None::<String>);
    let make = move |scope: &'static str| {
        leptos::task::spawn_local(async move {
            match oncall_feed(scope.into()).await {
                Ok(d) if d.ok => {
                    let origin = window().location().origin().unwrap_or_default();
                    made.set(Some(format!("{origin}{}", d.message)));
                    version.update(|v| *v += 1);
                }
                other => settle(version, message, other),
            }
        });
    };
    let revoke = move |id: String| {
        leptos::task::spawn_local(
            async move { settle(version, message, oncall_feed_revoke(id).await) },
        );
    };
    view! {
        <section class="card">
            <h2>"Calendar feeds (iCal)"</h2>
            <p class="muted small">"Subscribe from your calendar. Each URL is a secret: anyone with it can read the rotation, so revoke one that leaked. Times are exact instants; your calendar shows them in your zone."</p>
            <div class="button-row">
                <button type="button" class="button secondary" on:click=move |_| make("me")>"New feed of my shifts"</button>
                <button type="button" class="button secondary" on:click=move |_| make("team")>"New feed of the team's rotation"</button>
            </div>
            {move || made.get().map(|u| view! {
                <p class="small" role="status">"Your feed's URL (shown once): " <code data-testid="feed-url">{u}</code></p>
            })}
            <ul class="plain small">
                {feeds.into_iter().map(|f| {
                    let id = f.id.clone();
                    view! {
                        <li>{format!("{} — made by {} {}", if f.scope == "team" { "the team".to_owned() } else { f.scope.clone() }, f.created_by, f.created)}
                            {match f.revoked.clone() {
                                Some(r) => view! { <span class="muted">" · revoked " {r}</span> }.into_any(),
                                None => view! { <button type="button" class="link-button" on:click=move |_| revoke(id.clone())>" revoke"</button> }.into_any(),
                            }}
                        </li>
                    }
                }).collect_view()}
            </ul>
        </section>
    }
}

/// A form's answer: a change done goes to the page (which reads itself again); a refusal stays
/// by the form that asked, where the person is looking.
fn answered(
    here: RwSignal<Option<Done>>,
    version: RwSignal<u32>,
    message: RwSignal<Option<Done>>,
    answer: Result<Done, ServerFnError>,
) {
    match answer {
        Ok(d) if d.ok => {
            here.set(Some(d.clone()));
            settle(version, message, Ok(d));
        }
        Ok(d) => here.set(Some(d)),
        Err(e) => here.set(Some(Done::of(false, e.to_string()))),
    }
}

/// The answer under a form's button; a refusal takes the focus, so that a screen reader says
/// it and the page scrolls to it.
#[component]
fn FormAnswer(answer: RwSignal<Option<Done>>, testid: &'static str) -> impl IntoView {
    let node = NodeRef::<leptos::html::P>::new();
    Effect::new(move |_| {
        if answer.with(|a| a.as_ref().is_some_and(|d| !d.ok)) {
            if let Some(el) = node.get() {
                let _ = el.focus();
            }
        }
    });
    move || {
        answer.get().map(|d| {
            view! {
                <p node_ref=node tabindex="-1" class=if d.ok { "flash ok" } else { "flash error-text" }
                    role=if d.ok { "status" } else { "alert" } data-testid=testid>{d.message}</p>
            }
        })
    }
}
