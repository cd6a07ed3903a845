//! The on-call page's data and its server functions (`ops::oncall`): who is on call now and
//! next, the calendar, overrides, feeds and handoffs. Times are written on the server in the
//! rotation's zone, so the browser never guesses a zone.

// A form's fields are a server function's arguments (the macro expands to a client function
// of the same shape, where an attribute on the function does not reach).
#![allow(clippy::too_many_arguments)]

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// Who is on call now and next, as the header, the dashboard and the page show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NowView {
    /// `onwatch` or `pagerduty`.
    pub source: String,
    pub primary: String,
    pub secondary: String,
    pub until: Option<String>,
    pub next_primary: Option<String>,
    pub next_secondary: Option<String>,
    /// Why the answer may be old (PagerDuty unreachable), with its age.
    pub stale: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegView {
    pub start: String,
    pub end: String,
    pub primary: String,
    pub secondary: String,
    pub primary_covered: bool,
    pub secondary_covered: bool,
    /// Whom the covering primary (secondary) stands in for: the shift's own holder.
    #[serde(default)]
    pub primary_for: Option<String>,
    #[serde(default)]
    pub secondary_for: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShiftView {
    pub index: i64,
    pub start: String,
    pub end: String,
    pub hours: i64,
    /// When a local clock jumps during the shift: what the wall clock says.
    pub clock_note: Option<String>,
    pub current: bool,
    pub past: bool,
    pub segments: Vec<SegView>,
    /// People in this shift who are not ready for on-call.
    pub not_ready: Vec<String>,
}

/// A part of a shift in which the signed-in person holds a seat, still to come or under way
/// (a shift partly covered by someone else leaves its other parts here).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MyShift {
    pub index: i64,
    pub seat: String,
    pub start: String,
    pub end: String,
    /// Who holds the other seat during this part: they cannot also cover it.
    #[serde(default)]
    pub partners: Vec<String>,
    /// The part's start (epoch ms), which names it to `oncall_ask` (`part`).
    #[serde(default)]
    pub part: i64,
    /// Held by an override: the person covers someone in it.
    #[serde(default)]
    pub covering: bool,
}

/// Someone else's part of a coming shift (a swap's other half).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OtherShift {
    pub index: i64,
    pub person: String,
    pub seat: String,
    pub start: String,
    /// The part's start (epoch ms), which names it to `oncall_ask` (`their_part`).
    #[serde(default)]
    pub part: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestView {
    pub id: String,
    pub kind: String,
    pub requested_by: String,
    pub counterpart: String,
    pub reason: String,
    pub state: String,
    pub requested: String,
    pub answered: Option<String>,
    /// "cy covers ana as primary, Mon 2 Nov 09:00 → Tue 3 Nov 09:00 PST"
    pub covers: Vec<String>,
    pub can_answer: bool,
    pub can_cancel: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedView {
    pub id: String,
    pub scope: String,
    pub created_by: String,
    pub created: String,
    pub revoked: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandoffAction {
    pub id: String,
    pub when: String,
    pub what: String,
    pub who: String,
    pub state: String,
    pub summary: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandoffAlarm {
    pub when: String,
    pub subject: String,
    pub state: String,
    pub detail: String,
    /// When it was next healthy, if it was.
    pub cleared: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandoffView {
    pub shift_index: i64,
    pub span: String,
    pub outgoing: Vec<String>,
    pub incoming: Vec<String>,
    /// `false`: the shift under way, as it would be handed over now.
    pub kept: bool,
    pub generated: String,
    pub actions: Vec<HandoffAction>,
    pub alarms: Vec<HandoffAlarm>,
    pub repeated: Vec<String>,
    pub unhealthy: Vec<String>,
    /// (id, "title — status, who is in charge")
    pub incidents: Vec<(String, String)>,
    /// "rule — what was done (owner)"
    pub open_cleanups: Vec<String>,
    pub note: String,
    pub note_by: Option<String>,
    pub acknowledged: Option<String>,
    pub can_note: bool,
    pub can_ack: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OnCallBoard {
    /// A rotation is configured here (PagerDuty alone shows only now and next).
    pub rotation: bool,
    pub about: String,
    pub me: String,
    pub is_admin: bool,
    pub in_rotation: bool,
    pub members: Vec<String>,
    pub now: Option<NowView>,
    pub shifts: Vec<ShiftView>,
    pub my_shifts: Vec<MyShift>,
    pub others: Vec<OtherShift>,
    pub requests: Vec<RequestView>,
    pub not_ready: Vec<String>,
    pub feeds: Vec<FeedView>,
    pub handoffs: Vec<HandoffView>,
}

/// What a change did, in words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Done {
    pub ok: bool,
    pub message: String,
    /// Nothing changed, and the same request again with its confirmation would go through:
    /// `message` says what the person is asked to confirm.
    #[serde(default)]
    pub confirm: bool,
}

impl Done {
    pub fn of(ok: bool, message: impl Into<String>) -> Done {
        Done {
            ok,
            message: message.into(),
            confirm: false,
        }
    }

    /// Nothing changed: `question` is asked of the person first.
    pub fn ask(question: impl Into<String>) -> Done {
        Done {
            ok: false,
            message: question.into(),
            confirm: true,
        }
    }
}

/// Shows a change's answer in `message` and, when it changed something, bumps `version` so
/// that the page reads its data again (the on-call and onboarding pages).
pub fn settle(
    version: RwSignal<u32>,
    message: RwSignal<Option<Done>>,
    answer: Result<Done, ServerFnError>,
) {
    match answer {
        Ok(d) => {
            if d.ok {
                version.update(|v| *v += 1);
            }
            message.set(Some(d));
        }
        Err(e) => message.set(Some(Done::of(false, e.to_string()))),
    }
}

#[server(prefix = "/api/read", endpoint = "oncall")]
pub async fn load_oncall() -> Result<OnCallBoard, ServerFnError> {
    let who = crate::portal::require(vocab::Role::Viewer)?;
    let portal = crate::portal::portal()?;
    ssr::board(&portal, &who).await.map_err(ServerFnError::new)
}

/// Asks for an override: `kind` `cover` (of the seat held in `shift`, from `from` to `to` on
/// the rotation's wall clock, blank for the whole part) or `swap` (my seat in `shift` for
/// `theirs`'s seat in `their_shift`). `part` and `their_part` name a part of the shift by its
/// start (epoch ms, as the board lists it); blank: the first part still to come that the
/// person holds (a cover), or the whole shifts (a swap).
#[server(prefix = "/api/attempt", endpoint = "oncall-ask")]
pub async fn oncall_ask(
    kind: String,
    shift: i64,
    #[server(default)] from: String,
    #[server(default)] to: String,
    #[server(default)] covering: String,
    #[server(default)] theirs: String,
    #[server(default)] their_shift: i64,
    reason: String,
    #[server(default)] part: String,
    #[server(default)] their_part: String,
) -> Result<Done, ServerFnError> {
    let who = crate::portal::require(vocab::Role::Viewer)?;
    let portal = crate::portal::portal()?;
    Ok(ssr::ask(
        &portal,
        &who,
        ssr::AskForm {
            kind,
            shift,
            from,
            to,
            covering,
            theirs,
            their_shift,
            reason,
            part,
            their_part,
        },
    )
    .await)
}

/// `accept`, `decline` or `cancel` a pending override.
#[server(prefix = "/api/attempt", endpoint = "oncall-answer")]
pub async fn oncall_answer(id: String, answer: String) -> Result<Done, ServerFnError> {
    let who = crate::portal::require(vocab::Role::Viewer)?;
    let portal = crate::portal::portal()?;
    Ok(ssr::answer(&portal, &who, &id, &answer).await)
}

/// Makes a feed (`me` or `team`); the message is its secret path, shown once.
#[server(prefix = "/api/attempt", endpoint = "oncall-feed")]
pub async fn oncall_feed(scope: String) -> Result<Done, ServerFnError> {
    let who = crate::portal::require(vocab::Role::Viewer)?;
    let portal = crate::portal::portal()?;
    Ok(ssr::feed(&portal, &who, &scope).await)
}

#[server(prefix = "/api/attempt", endpoint = "oncall-feed-revoke")]
pub async fn oncall_feed_revoke(id: String) -> Result<Done, ServerFnError> {
    let who = crate::portal::require(vocab::Role::Viewer)?;
    let portal = crate::portal::portal()?;
    Ok(ssr::revoke(&portal, &who, &id).await)
}

/// The outgoing engineer's note on a kept handoff.
#[server(prefix = "/api/attempt", endpoint = "handoff-note")]
pub async fn handoff_note(shift: i64, note: String) -> Result<Done, ServerFnError> {
    let who = crate::portal::require(vocab::Role::Viewer)?;
    let portal = crate::portal::portal()?;
    Ok(ssr::note(&portal, &who, shift, &note).await)
}

/// The incoming engineer's acknowledgement of a kept handoff.
#[server(prefix = "/api/attempt", endpoint = "handoff-ack")]
pub async fn handoff_ack(shift: i64) -> Result<Done, ServerFnError> {
    let who = crate::portal::require(vocab::Role::Viewer)?;
    let portal = crate::portal::portal()?;
    Ok(ssr::ack(&portal, &who, shift).await)
}

#[cfg(feature = "ssr")]
pub mod ssr {
    use super::*;
    use crate::portal::Portal;
    use ops::auth::Identity;
    use ops::oncall::accounts;
    use ops::oncall::changes;
    use ops::oncall::handoff::Handoff;
    use ops::oncall::overrides::{OverrideRequest, RequestState};
    use ops::oncall::{rotation, Rotation, Who};

    /// Whether the signed-in account is the one its login names in the rotation (the first
    /// account to sign in with it): a second account that shares the login holds no seat.
    async fn holds_login(portal: &Portal, me: &Who) -> Result<bool, String> {
        accounts::is(portal.oncall.handoffs.store(), me, &me.login, None)
            .await
            .map_err(|e| e.to_string())
    }

    pub fn now_view(n: &ops::oncall::NowAndNext) -> NowView {
        NowView {
            source: n.source.clone(),
            primary: n.primary.clone(),
            secondary: n.secondary.clone(),
            // In the reader's zone, like every time (the header is drawn per request).
            until: n.until_ms.map(|t| crate::fmt::zone().day_time(t)),
            next_primary: n.next_primary.clone(),
            next_secondary: n.next_secondary.clone(),
            stale: n.stale.clone(),
        }
    }

    use ops::oncall::changes::describe;

    /// `genuine`: `me` is the account its login names (see `holds_login`).
    fn request_view(
        r: Option<&Rotation>,
        q: OverrideRequest,
        me: &Who,
        genuine: bool,
        admin: bool,
    ) -> RequestView {
        let stamp = |ms: i64| match r {
            Some(r) => r.local(ms),
            None => crate::fmt::zone().day_time(ms),
        };
        let pending = q.state == RequestState::Pending;
        let asked_by_me = if q.requested_by_id.is_empty() {
            genuine && q.requested_by.eq_ignore_ascii_case(&me.login)
        } else {
            q.requested_by_id == me.account
        };
        RequestView {
            can_answer: pending && genuine && q.counterpart.eq_ignore_ascii_case(&me.login),
            can_cancel: pending && (asked_by_me || admin),
            covers: q
                .covers
                .iter()
                .map(|c| match r {
                    Some(r) => describe(r, c),
                    None => format!("{} covers {}", c.covering, c.covered),
                })
                .collect(),
            id: q.id,
            kind: q.kind,
            requested_by: q.requested_by,
            counterpart: q.counterpart,
            reason: q.reason,
            state: q.state.as_str().into(),
            requested: stamp(q.requested_ms),
            answered: q.answered_ms.map(|ms| {
                format!(
                    "{} by {}",
                    stamp(ms),
                    q.answered_by.clone().unwrap_or_default()
                )
            }),
        }
    }

    fn handoff_view(r: &Rotation, h: Handoff, kept: bool, me: &str, genuine: bool) -> HandoffView {
        let split = |s: &str| s.split(',').map(str::to_owned).collect::<Vec<_>>();
        let outgoing = split(&h.outgoing);
        let incoming = split(&h.incoming);
        let subject = |env: &str, host: &str, svc: &str| {
            if svc.is_empty() {
                format!("{env}/{host} (Supervisor)")
            } else {
                format!("{env}/{host} {svc}")
            }
        };
        let is = |list: &[String]| genuine && list.iter().any(|p| p.eq_ignore_ascii_case(me));
        HandoffView {
            shift_index: h.shift_index,
            span: format!("{} → {}", r.local(h.start_ms), r.local(h.end_ms)),
            can_note: kept && h.acknowledged_ms.is_none() && is(&outgoing),
            can_ack: kept && h.acknowledged_ms.is_none() && is(&incoming),
            outgoing,
            incoming,
            kept,
            generated: r.local(h.generated_ms),
            actions: h
                .summary
                .actions
                .into_iter()
                .map(|a| HandoffAction {
                    when: r.local(a.requested_ms),
                    what: format!(
                        "{} {}",
                        a.kind.replace('_', " "),
                        subject(&a.environment, &a.host, &a.service)
                    ),
                    id: a.id,
                    who: a.actor,
                    state: a.state,
                    summary: a.summary,
                })
                .collect(),
            alarms: h
                .summary
                .alarms
                .into_iter()
                .map(|a| HandoffAlarm {
                    when: r.local(a.at_ms),
                    subject: subject(&a.environment, &a.host, &a.service),
                    state: a.state,
                    detail: a.detail,
                    cleared: match (a.cleared_ms, a.healthy_at_handoff) {
                        (Some(ms), _) => Some(r.local(ms)),
                        (None, true) => {
                            Some("before this handoff (healthy when it was written)".to_owned())
                        }
                        (None, false) => None,
                    },
                })
                .collect(),
            repeated: h
                .summary
                .repeated_restarts
                .into_iter()
                .map(|x| {
                    format!(
                        "{} restarted {} times",
                        subject(&x.environment, &x.host, &x.service),
                        x.count
                    )
                })
                .collect(),
            incidents: h
                .summary
                .incidents
                .iter()
                .map(|i| {
                    (
                        i.id.clone(),
                        format!(
                            "{} — {}, {}",
                            i.title,
                            i.status,
                            if i.owner.is_empty() {
                                "nobody in charge".to_owned()
                            } else {
                                format!("{} in charge", i.owner)
                            }
                        ),
                    )
                })
                .collect(),
            open_cleanups: h
                .summary
                .open_cleanups
                .iter()
                .map(|c| format!("{} — {} (cleanup: {})", c.rule, c.what_done, c.owner))
                .collect(),
            unhealthy: h
                .summary
                .unhealthy_now
                .into_iter()
                .map(|u| {
                    format!(
                        "{} is {}",
                        subject(&u.environment, &u.host, &u.service),
                        u.state
                    )
                })
                .collect(),
            note: h.note,
            note_by: h.note_by.map(|b| {
                format!(
                    "{b}, {}",
                    h.note_ms.map(|ms| r.local(ms)).unwrap_or_default()
                )
            }),
            acknowledged: h.acknowledged_by.map(|b| {
                format!(
                    "{b}, {}",
                    h.acknowledged_ms.map(|ms| r.local(ms)).unwrap_or_default()
                )
            }),
        }
    }

    pub async fn board(portal: &Portal, who: &Identity) -> Result<OnCallBoard, String> {
        let oc = &portal.oncall;
        let now_ms = ops::time::now_ms();
        let admin = who.role.allows(vocab::Role::Admin);
        let me = who.login.clone();
        let me_who = Who::of(who);
        let genuine = holds_login(portal, &me_who).await?;
        let now = oc
            .now_and_next(now_ms)
            .await
            .map_err(|e| e.to_string())?
            .map(|n| now_view(&n));
        let not_ready = oc.header().not_ready;
        let requests_raw = oc.overrides.requests(20).await.map_err(|e| e.to_string())?;
        let feeds = oc
            .feeds
            .list(if admin { None } else { Some(&me_who) })
            .await
            .map_err(|e| e.to_string())?;
        let Some(r) = &oc.rotation else {
            let about = match &oc.pagerduty {
                Some(_) => "Who is on call comes from PagerDuty; no rotation is kept in Onwatch ([oncall] members is empty).".to_owned(),
                None => "No rotation is set up: list the team in [oncall] members (in rotation order), with start and time_zone, or configure [oncall.pagerduty].".to_owned(),
            };
            return Ok(OnCallBoard {
                rotation: false,
                about,
                me,
                is_admin: admin,
                in_rotation: false,
                members: Vec::new(),
                now,
                shifts: Vec::new(),
                my_shifts: Vec::new(),
                others: Vec::new(),
                requests: requests_raw
                    .into_iter()
                    .map(|q| request_view(None, q, &me_who, genuine, admin))
                    .collect(),
                not_ready,
                feeds: Vec::new(),
                handoffs: Vec::new(),
            });
        };
        // Times in the reader's zone; shifts still counted on the rotation's clock.
        let shown = r.shown_in(&crate::fmt::zone().name);
        let r = &shown;
        let covers = oc
            .overrides
            .accepted_covers()
            .await
            .map_err(|e| e.to_string())?;
        let current = r.index_at(now_ms);
        let shifts: Vec<ShiftView> = (current - 1..current + 8)
            .map(|i| {
                let s = r.shift(i);
                let segs = rotation::timeline(r, &covers, s.start_ms, s.end_ms);
                let mut people: Vec<String> = segs
                    .iter()
                    .flat_map(|g| [g.primary.clone(), g.secondary.clone()])
                    .collect();
                people.dedup();
                ShiftView {
                    index: i,
                    start: r.local(s.start_ms),
                    end: r.local(s.end_ms),
                    hours: (s.end_ms - s.start_ms) / 3_600_000,
                    clock_note: r.clock_change(s.start_ms, s.end_ms),
                    current: i == current,
                    past: i < current,
                    not_ready: not_ready
                        .iter()
                        .filter(|p| people.iter().any(|q| q.eq_ignore_ascii_case(p)))
                        .cloned()
                        .collect(),
                    segments: segs
                        .into_iter()
                        .map(|g| SegView {
                            start: r.local(g.start_ms),
                            end: r.local(g.end_ms),
                            primary_for: g.primary_covered.then(|| s.primary.clone()),
                            secondary_for: g.secondary_covered.then(|| s.secondary.clone()),
                            primary: g.primary,
                            secondary: g.secondary,
                            primary_covered: g.primary_covered,
                            secondary_covered: g.secondary_covered,
                        })
                        .collect(),
                }
            })
            .collect();
        // Each part of a shift with who holds it, overrides applied: what one holds is what
        // one can give away, including the rest of a shift someone covers a part of.
        let parts = rotation::parts(
            r,
            &covers,
            r.shift(current).start_ms,
            r.shift(current + 9).end_ms,
        );
        let mut my_shifts = Vec::new();
        let mut others = Vec::new();
        for p in parts.into_iter().filter(|p| p.end_ms > now_ms) {
            if genuine && p.holder.eq_ignore_ascii_case(&me) {
                my_shifts.push(MyShift {
                    index: p.shift_index,
                    seat: p.seat.as_str().into(),
                    start: r.local(p.start_ms.max(now_ms)),
                    end: r.local(p.end_ms),
                    partners: p.others,
                    part: p.start_ms,
                    covering: p.covering,
                });
            } else if p.shift_index > current {
                others.push(OtherShift {
                    index: p.shift_index,
                    person: p.holder,
                    seat: p.seat.as_str().into(),
                    start: r.local(p.start_ms),
                    part: p.start_ms,
                });
            }
        }
        let mut handoffs = Vec::new();
        let unhealthy = ops::oncall::handoff::unhealthy(&portal.fleet.snapshot(now_ms));
        let draft = oc
            .draft(r, &covers, current, now_ms, unhealthy)
            .await
            .map_err(|e| e.to_string())?;
        handoffs.push(handoff_view(r, draft, false, &me, genuine));
        for h in oc.handoffs.latest(4).await.map_err(|e| e.to_string())? {
            handoffs.push(handoff_view(r, h, true, &me, genuine));
        }
        Ok(OnCallBoard {
            rotation: true,
            about: format!(
                "{} shifts of {} real hours from {} (counted on {}'s clock), in order: {}.{}",
                r.members().len(),
                r.shift_ms() / 3_600_000,
                r.local(r.shift(0).start_ms),
                r.zone_name(),
                r.members().join(", "),
                if oc.pagerduty.is_some() {
                    " Who is on call now comes from PagerDuty."
                } else {
                    ""
                }
            ),
            in_rotation: genuine && r.is_member(&me),
            members: r.members().to_vec(),
            me: me.clone(),
            is_admin: admin,
            now,
            shifts,
            my_shifts,
            others,
            requests: requests_raw
                .into_iter()
                .map(|q| request_view(Some(r), q, &me_who, genuine, admin))
                .collect(),
            not_ready,
            feeds: feeds
                .into_iter()
                .map(|f| FeedView {
                    id: f.id,
                    scope: f.scope,
                    created_by: f.created_by,
                    created: r.local(f.created_ms),
                    revoked: f.revoked_ms.map(|ms| {
                        format!("{} by {}", r.local(ms), f.revoked_by.unwrap_or_default())
                    }),
                })
                .collect(),
            handoffs,
        })
    }

    pub use ops::oncall::changes::AskForm;

    /// What a page says when a change did not happen: the rule's why, or that the store did
    /// not answer (logged here, not shown).
    pub fn refused(e: ops::change::Error) -> Done {
        match e {
            ops::change::Error::Refused(r) => Done::of(false, r.why),
            ops::change::Error::Store(e) => {
                tracing::error!(error = %e, "a change could not be made: the store did not answer");
                Done::of(
                    false,
                    "The store or its audit log cannot be written, so nothing was changed: try again.",
                )
            }
        }
    }

    fn zone() -> String {
        crate::fmt::zone().name
    }

    pub async fn ask(portal: &Portal, who: &Identity, f: AskForm) -> Done {
        let now_ms = ops::time::now_ms();
        match changes::ask(&portal.oncall, &portal.audit, who, &zone(), &f, now_ms).await {
            Ok(q) => Done::of(
                true,
                format!(
                    "Asked {} to {}. Nothing changes until they accept.",
                    q.counterpart,
                    if q.kind == "swap" { "swap" } else { "cover" }
                ),
            ),
            Err(e) => refused(e),
        }
    }

    pub async fn answer(portal: &Portal, who: &Identity, id: &str, answer: &str) -> Done {
        let now_ms = ops::time::now_ms();
        match changes::answer(
            &portal.oncall,
            &portal.audit,
            who,
            &zone(),
            id,
            answer,
            now_ms,
        )
        .await
        {
            Ok(q) => Done::of(true, format!("The request is {}.", q.state.as_str())),
            Err(e) => refused(e),
        }
    }

    pub async fn feed(portal: &Portal, who: &Identity, scope: &str) -> Done {
        let now_ms = ops::time::now_ms();
        match changes::create_feed(&portal.oncall, &portal.audit, who, scope, now_ms).await {
            Ok(token) => Done::of(true, format!("/ical/{token}.ics")),
            Err(e) => refused(e),
        }
    }

    pub async fn revoke(portal: &Portal, who: &Identity, id: &str) -> Done {
        let now_ms = ops::time::now_ms();
        match changes::revoke_feed(&portal.oncall, &portal.audit, who, id, now_ms).await {
            Ok(()) => Done::of(true, "Revoked: its URL answers 404 from now on."),
            Err(e) => refused(e),
        }
    }

    /// The outgoing engineer's note (the rules: `ops::oncall::changes::note`).
    pub async fn note(portal: &Portal, who: &Identity, shift: i64, note: &str) -> Done {
        let now_ms = ops::time::now_ms();
        match changes::note(&portal.oncall, &portal.audit, who, shift, note, now_ms).await {
            Ok(()) => Done::of(true, "Note saved."),
            Err(e) => refused(e),
        }
    }

    /// The incoming engineer's acknowledgement (`ops::oncall::changes::acknowledge`).
    pub async fn ack(portal: &Portal, who: &Identity, shift: i64) -> Done {
        let now_ms = ops::time::now_ms();
        match changes::acknowledge(&portal.oncall, &portal.audit, who, shift, now_ms).await {
            Ok(()) => Done::of(true, "Acknowledged: the shift is handed over."),
            Err(e) => refused(e),
        }
    }
}
