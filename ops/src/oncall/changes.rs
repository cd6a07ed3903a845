//! The on-call team's recorded changes, each made through [`change::record`]: an override
//! asked or answered, a calendar feed made or revoked, a handoff's note or acknowledgement.
//!
//! Each takes what the person sent (the form's fields, as text) and who they are, and returns
//! what changed or why not ([`Error`]). What cannot even be asked (no rotation, a word that is
//! not an answer, a time that does not parse) is refused before the attempt row, as a form
//! error; everything after the attempt row ends in exactly one outcome row.

use serde_json::json;

use super::accounts::Who;
use super::handoff::Handoff;
use super::overrides::{Ask, OverrideRequest, RequestState};
use super::rotation::{self, Cover, Part, Rotation};
use super::OnCall;
use crate::audit::{AuditLog, Event};
use crate::auth::{Identity, Role};
use crate::change::{self, Attempt, Done, Error};

/// What the override form sends: `kind` `cover` (of the seat held in `shift`, from `from` to
/// `to` on the rotation's wall clock in the person's zone, blank for the whole part) or `swap`
/// (my seat in `shift` for `theirs`'s seat in `their_shift`).
#[derive(Debug, Clone, Default)]
pub struct AskForm {
    pub kind: String,
    pub shift: i64,
    pub from: String,
    pub to: String,
    pub covering: String,
    pub theirs: String,
    pub their_shift: i64,
    pub reason: String,
    /// The part of `shift` (its start, epoch ms) or blank.
    pub part: String,
    /// The part of `their_shift` or blank.
    pub their_part: String,
}

/// A cover in words, as the audit row and the board say it.
pub fn describe(r: &Rotation, c: &Cover) -> String {
    format!(
        "{} covers {} as {}, {} → {}",
        c.covering,
        c.covered,
        c.seat.as_str(),
        r.local(c.start_ms),
        r.local(c.end_ms)
    )
}

/// A form error: refused before anything is recorded.
fn form(why: impl Into<String>) -> Error {
    Error::refused("form", why)
}

fn rotation_of(oc: &OnCall, zone: &str) -> Result<Rotation, Error> {
    oc.rotation
        .as_ref()
        .map(|r| r.shown_in(zone))
        .ok_or_else(|| Error::refused("rotation", "No rotation is configured in Onwatch."))
}

/// The part of shift `index` that `login` holds (overrides applied) starting at `part` (epoch
/// ms, as the board lists it), or, for a blank `part`, the first that has not ended by
/// `now_ms`. `None`: they hold none such.
fn held_part(
    r: &Rotation,
    covers: &[Cover],
    login: &str,
    index: i64,
    part: &str,
    now_ms: i64,
) -> Result<Option<Part>, Error> {
    let s = r.shift(index);
    let mut held = rotation::parts(r, covers, s.start_ms, s.end_ms)
        .into_iter()
        .filter(|p| p.holder.eq_ignore_ascii_case(login.trim()) && p.end_ms > now_ms);
    match part.trim() {
        "" => Ok(held.next()),
        t => {
            let at: i64 = t
                .parse()
                .map_err(|_| form(format!("{t:?} does not name a part of shift #{index}.")))?;
            held.find(|p| p.start_ms == at).map(Some).ok_or_else(|| {
                Error::refused(
                    "shift",
                    format!(
                        "{} no longer holds that part of shift #{index} ({}): the rotation has changed since the page was read. Reload it and choose again.",
                        login.trim(),
                        r.local(at.max(s.start_ms))
                    ),
                )
            })
        }
    }
}

/// What the form asks for, worked out against the rotation as it is now (whose seat is given,
/// which part): the person must hold what they give away.
async fn what_is_asked(
    oc: &OnCall,
    r: &Rotation,
    who: &Identity,
    f: &AskForm,
    now_ms: i64,
) -> Result<Ask, Error> {
    match f.kind.as_str() {
        "cover" => {
            let shift = r.shift(f.shift);
            let covers = oc.overrides.accepted_covers().await?;
            let from = if f.from.trim().is_empty() {
                None
            } else {
                Some(
                    r.parse_local(&f.from)
                        .map_err(|e| form(format!("From: {e}.")))?,
                )
            };
            // The part the requester gives (some of): the one named, else the one holding
            // `from`, else the first still to come.
            let part = if !f.part.trim().is_empty() || from.is_none() {
                held_part(r, &covers, &who.login, f.shift, &f.part, now_ms)?
            } else {
                let at = from.unwrap_or_default();
                rotation::parts(r, &covers, shift.start_ms, shift.end_ms)
                    .into_iter()
                    .find(|p| {
                        p.holder.eq_ignore_ascii_case(&who.login)
                            && p.start_ms <= at
                            && at < p.end_ms
                    })
            };
            let Some(part) = part else {
                return Err(Error::refused(
                    "shift",
                    format!(
                        "You ({}) hold no seat at {}: only the person on call asks for cover.",
                        who.login,
                        r.local(from.unwrap_or(shift.start_ms.max(now_ms)))
                    ),
                ));
            };
            let from = from.unwrap_or(part.start_ms.max(now_ms));
            let to = if f.to.trim().is_empty() {
                part.end_ms
            } else {
                r.parse_local(&f.to)
                    .map_err(|e| form(format!("To: {e}.")))?
            };
            if from < shift.start_ms || to > shift.end_ms {
                return Err(form(format!(
                    "The span must lie inside the shift ({} → {}).",
                    r.local(shift.start_ms),
                    r.local(shift.end_ms)
                )));
            }
            if f.covering.trim().is_empty() {
                return Err(form("Choose who covers."));
            }
            Ok(Ask::Cover {
                seat: part.seat,
                start_ms: from,
                end_ms: to,
                covering: f.covering.trim().to_owned(),
            })
        }
        "swap" => {
            if f.theirs.trim().is_empty() {
                return Err(form("Choose the shift to swap with."));
            }
            // Parts named: the parts each person holds now (overrides applied), from now on;
            // none named: the two whole shifts of the base rotation.
            let parts = if f.part.trim().is_empty() && f.their_part.trim().is_empty() {
                None
            } else {
                let covers = oc.overrides.accepted_covers().await?;
                let mine = held_part(r, &covers, &who.login, f.shift, &f.part, now_ms)?;
                let theirs =
                    held_part(r, &covers, &f.theirs, f.their_shift, &f.their_part, now_ms)?;
                let Some(m) = mine else {
                    return Err(Error::refused(
                        "shift",
                        format!(
                            "You ({}) hold no seat in shift #{} from now on.",
                            who.login, f.shift
                        ),
                    ));
                };
                let Some(t) = theirs else {
                    return Err(Error::refused(
                        "shift",
                        format!(
                            "{} holds no seat in shift #{} from now on.",
                            f.theirs.trim(),
                            f.their_shift
                        ),
                    ));
                };
                Some((
                    (m.start_ms.max(now_ms), m.end_ms),
                    (t.start_ms.max(now_ms), t.end_ms),
                ))
            };
            Ok(Ask::Swap {
                mine: f.shift,
                theirs: f.theirs.trim().to_owned(),
                their_shift: f.their_shift,
                parts,
            })
        }
        other => Err(form(format!("{other:?} is neither a cover nor a swap."))),
    }
}

/// Asks for an override (pending until the counterpart accepts). `zone`: the person's time
/// zone, in which the form's times are read.
pub async fn ask(
    oc: &OnCall,
    log: &AuditLog,
    who: &Identity,
    zone: &str,
    f: &AskForm,
    now_ms: i64,
) -> Result<OverrideRequest, Error> {
    let r = rotation_of(oc, zone)?;
    let ask = what_is_asked(oc, &r, who, f, now_ms).await?;
    let asked = json!({
        "kind": f.kind, "shift": f.shift, "from": f.from, "to": f.to,
        "covering": f.covering, "theirs": f.theirs, "their_shift": f.their_shift,
        "reason": f.reason,
    });
    let attempt = Attempt::new(Event::OncallOverride, "", "request:attempt").asked(asked);
    change::record(log, &who.actor(), attempt, || async {
        let q = oc
            .overrides
            .ask(
                &r,
                (&Who::of(who), &who.name),
                None,
                &ask,
                &f.reason,
                now_ms,
            )
            .await?;
        let detail = json!({
            "kind": q.kind, "counterpart": q.counterpart, "reason": q.reason,
            "covers": q.covers.iter().map(|c| describe(&r, c)).collect::<Vec<_>>(),
        });
        let id = q.id.clone();
        Ok(Done::new(q, detail).labelled("requested").about(id))
    })
    .await
}

/// Answers a pending override: `accept`, `decline` (its counterpart) or `cancel` (who asked,
/// or an admin).
pub async fn answer(
    oc: &OnCall,
    log: &AuditLog,
    who: &Identity,
    zone: &str,
    id: &str,
    answer: &str,
    now_ms: i64,
) -> Result<OverrideRequest, Error> {
    let r = rotation_of(oc, zone)?;
    let to = match answer {
        "accept" => RequestState::Accepted,
        "decline" => RequestState::Declined,
        "cancel" => RequestState::Cancelled,
        other => {
            return Err(form(format!(
                "{other:?}: answer accept, decline or cancel."
            )))
        }
    };
    let admin = who.role.allows(Role::Admin);
    let attempt = Attempt::new(
        Event::OncallOverride,
        id,
        format!("{}:attempt", to.as_str()),
    );
    let q = change::record(log, &who.actor(), attempt, || async {
        let q = oc
            .overrides
            .answer(&r, id, &Who::of(who), admin, to, now_ms)
            .await?;
        let detail = json!({ "requested_by": q.requested_by, "counterpart": q.counterpart });
        let label = q.state.as_str();
        Ok(Done::new(q, detail).labelled(label))
    })
    .await?;
    if let Err(e) = oc.refresh_header(now_ms).await {
        tracing::warn!(error = %e, "the on-call header could not be refreshed");
    }
    Ok(q)
}

/// Makes a calendar feed, of `me` or the `team`: returns its secret token (shown once).
pub async fn create_feed(
    oc: &OnCall,
    log: &AuditLog,
    who: &Identity,
    scope: &str,
    now_ms: i64,
) -> Result<String, Error> {
    if oc.rotation.is_none() {
        return Err(Error::refused(
            "rotation",
            "No rotation is configured in Onwatch, so there is nothing to publish.",
        ));
    }
    let scope = match scope {
        "team" => "team".to_owned(),
        "me" => who.login.to_ascii_lowercase(),
        other => {
            return Err(form(format!(
                "{other:?}: a feed is for `me` or the `team`."
            )))
        }
    };
    let attempt =
        Attempt::new(Event::OncallFeed, "", "create:attempt").asked(json!({ "scope": scope }));
    change::record(log, &who.actor(), attempt, || async {
        let (f, token) = oc.feeds.create(&scope, &Who::of(who), now_ms).await?;
        Ok(Done::new(token, json!({ "scope": scope }))
            .labelled("created")
            .about(f.id))
    })
    .await
}

/// Revokes a feed (its maker's account, or an admin).
pub async fn revoke_feed(
    oc: &OnCall,
    log: &AuditLog,
    who: &Identity,
    id: &str,
    now_ms: i64,
) -> Result<(), Error> {
    let admin = who.role.allows(Role::Admin);
    let attempt = Attempt::new(Event::OncallFeed, id, "revoke:attempt");
    change::record(log, &who.actor(), attempt, || async {
        oc.feeds.revoke(id, &Who::of(who), admin, now_ms).await?;
        Ok(Done::new((), json!({})).labelled("revoked"))
    })
    .await
}

/// The handoff kept for `shift` (one is kept when its shift ends).
async fn kept(oc: &OnCall, shift: i64) -> Result<Handoff, Error> {
    oc.handoffs.get(shift).await?.ok_or_else(|| {
        Error::refused(
            "handoff",
            format!("No kept handoff for shift {shift}: a handoff is kept when its shift ends."),
        )
    })
}

fn logins(csv: &str) -> Vec<String> {
    csv.split(',').map(str::to_owned).collect()
}

/// The outgoing engineer's note on a kept handoff: only one of its outgoing people's accounts
/// writes it, and only until it is acknowledged.
pub async fn note(
    oc: &OnCall,
    log: &AuditLog,
    who: &Identity,
    shift: i64,
    note: &str,
    now_ms: i64,
) -> Result<(), Error> {
    let attempt = Attempt::new(Event::OncallHandoff, shift.to_string(), "note:attempt")
        .asked(json!({ "note": note }));
    change::record(log, &who.actor(), attempt, || async {
        let h = kept(oc, shift).await?;
        oc.handoffs
            .annotate(shift, &logins(&h.outgoing), &Who::of(who), note, now_ms)
            .await?;
        Ok(Done::new((), json!({ "what": "note" })))
    })
    .await
}

/// The incoming engineer's acknowledgement of a kept handoff: only one of its incoming
/// people's accounts gives it, once.
pub async fn acknowledge(
    oc: &OnCall,
    log: &AuditLog,
    who: &Identity,
    shift: i64,
    now_ms: i64,
) -> Result<(), Error> {
    let attempt = Attempt::new(
        Event::OncallHandoff,
        shift.to_string(),
        "acknowledge:attempt",
    );
    change::record(log, &who.actor(), attempt, || async {
        let h = kept(oc, shift).await?;
        oc.handoffs
            .acknowledge(shift, &logins(&h.incoming), &Who::of(who), now_ms)
            .await?;
        Ok(Done::new((), json!({ "what": "acknowledge" })))
    })
    .await
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::oncall::accounts::tests::{sign_in, stores};
    use crate::oncall::handoff::tests::kept as handoff;
    use crate::oncall::OncallOptions;
    use crate::store::Store;
    use sqlx::Row;

    const H: i64 = 3_600_000;

    /// The person `login`, signed in at `provider` as account `sub` (so that the login's first
    /// account is known), as the pages hand them over.
    pub(crate) async fn person(
        store: &Store,
        provider: &str,
        sub: &str,
        login: &str,
        role: Role,
    ) -> Identity {
        sign_in(store, provider, sub, login).await;
        Identity {
            provider: provider.into(),
            subject: sub.into(),
            login: login.into(),
            name: login.into(),
            email: None,
            role,
            memberships: Vec::new(),
        }
    }

    /// The rows of `kind` after the sign-ins: (action_id, outcome, detail), oldest first.
    pub(crate) async fn rows(
        store: &Store,
        kind: Event,
    ) -> Vec<(String, String, serde_json::Value)> {
        sqlx::query("SELECT action_id, outcome, detail FROM audit_log WHERE kind = $1 ORDER BY seq")
            .bind(kind.as_str())
            .fetch_all(store.pool())
            .await
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r.get("action_id"),
                    r.get("outcome"),
                    serde_json::from_str(&r.get::<String, _>("detail")).unwrap(),
                )
            })
            .collect()
    }

    fn outcomes(rows: &[(String, String, serde_json::Value)]) -> Vec<&str> {
        rows.iter().map(|r| r.1.as_str()).collect()
    }

    /// ana, bo, cy, dan in UTC, 72-hour shifts from 2030: shift 0 is ana primary, bo secondary.
    fn oncall(store: &Store) -> OnCall {
        OnCall::new(
            store.clone(),
            &OncallOptions {
                members: vec!["ana".into(), "bo".into(), "cy".into(), "dan".into()],
                start: "2030-01-07T09:00".into(),
                time_zone: "UTC".into(),
                shift_hours: 72,
                pagerduty: None,
            },
        )
        .unwrap()
    }

    fn cover_by_cy() -> AskForm {
        AskForm {
            kind: "cover".into(),
            shift: 0,
            covering: "cy".into(),
            reason: "flying".into(),
            ..AskForm::default()
        }
    }

    /// The rule first: only the counterpart answers an override. bo (not asked) and an account
    /// that only shares cy's login try to accept; both are refused and recorded so, the request
    /// stays pending; cy's own account accepts.
    #[tokio::test]
    async fn someone_elses_override_cannot_be_answered() {
        for (store, _dir) in stores().await {
            store.migrate().await.unwrap();
            let (oc, log) = (oncall(&store), AuditLog::new(store.clone()));
            let ana = person(&store, "github", "1", "ana", Role::Responder).await;
            let bo = person(&store, "github", "2", "bo", Role::Responder).await;
            let cy = person(&store, "github", "3", "cy", Role::Responder).await;
            let fake_cy = person(&store, "oidc", "s-cy", "cy", Role::Responder).await;
            let now = oc.rotation.as_ref().unwrap().shift(0).start_ms - H;
            let q = ask(&oc, &log, &ana, "UTC", &cover_by_cy(), now)
                .await
                .unwrap();
            assert_eq!(q.counterpart, "cy");
            for intruder in [&bo, &fake_cy] {
                let e = answer(&oc, &log, intruder, "UTC", &q.id, "accept", now)
                    .await
                    .unwrap_err();
                assert_eq!(
                    e.refusal().map(|r| r.guard.as_str()),
                    Some("counterpart"),
                    "{e}"
                );
                assert!(e.to_string().contains("Only cy can accept"), "{e}");
            }
            let kept = oc.overrides.get(&q.id).await.unwrap().unwrap();
            assert_eq!(kept.state, RequestState::Pending);
            let done = answer(&oc, &log, &cy, "UTC", &q.id, "accept", now)
                .await
                .unwrap();
            assert_eq!(done.state, RequestState::Accepted);
            let r = rows(&store, Event::OncallOverride).await;
            assert_eq!(
                outcomes(&r),
                [
                    "request:attempt",
                    "requested",
                    "accepted:attempt",
                    "refused",
                    "accepted:attempt",
                    "refused",
                    "accepted:attempt",
                    "accepted",
                ],
                "{r:?}"
            );
            assert_eq!(r[1].0, q.id, "the outcome names the request it made");
            assert_eq!(r[3].2["guard"], "counterpart");
            assert!(r[3].2["why"].as_str().unwrap().contains("Only cy"));
            assert!(log.verify().await.unwrap().broken.is_none());
        }
    }

    /// A form that asks for nothing sensible is refused before anything is recorded.
    #[tokio::test]
    async fn a_malformed_ask_is_refused_before_the_log() {
        for (store, _dir) in stores().await {
            store.migrate().await.unwrap();
            let (oc, log) = (oncall(&store), AuditLog::new(store.clone()));
            let ana = person(&store, "github", "1", "ana", Role::Responder).await;
            let now = oc.rotation.as_ref().unwrap().shift(0).start_ms - H;
            let f = AskForm {
                kind: "trade".into(),
                ..cover_by_cy()
            };
            let e = ask(&oc, &log, &ana, "UTC", &f, now).await.unwrap_err();
            assert_eq!(e.refusal().map(|r| r.guard.as_str()), Some("form"));
            // dan holds no seat in shift 0 to give away.
            let dan = person(&store, "github", "4", "dan", Role::Responder).await;
            let e = ask(&oc, &log, &dan, "UTC", &cover_by_cy(), now)
                .await
                .unwrap_err();
            assert_eq!(e.refusal().map(|r| r.guard.as_str()), Some("shift"), "{e}");
            assert!(rows(&store, Event::OncallOverride).await.is_empty());
        }
    }

    /// The rule first: only the incoming people acknowledge a handoff, only the outgoing write
    /// its note, and a note is final once acknowledged. Each attempt is recorded before its
    /// rules are judged, then exactly one outcome.
    #[tokio::test]
    async fn a_handoff_that_is_not_yours_cannot_be_acknowledged_or_noted() {
        for (store, _dir) in stores().await {
            store.migrate().await.unwrap();
            let (oc, log) = (oncall(&store), AuditLog::new(store.clone()));
            assert!(oc.handoffs.keep(&handoff(5)).await.unwrap());
            let ana = person(&store, "github", "1", "ana", Role::Responder).await;
            let cy = person(&store, "github", "3", "cy", Role::Responder).await;
            let dan = person(&store, "github", "4", "dan", Role::Admin).await;

            let e = acknowledge(&oc, &log, &ana, 5, 2_000).await.unwrap_err();
            assert_eq!(
                e.refusal().map(|r| r.guard.as_str()),
                Some("incoming"),
                "{e}"
            );
            let e = note(&oc, &log, &cy, 5, "x", 2_000).await.unwrap_err();
            assert_eq!(
                e.refusal().map(|r| r.guard.as_str()),
                Some("outgoing"),
                "{e}"
            );
            let e = acknowledge(&oc, &log, &dan, 5, 2_000).await.unwrap_err();
            assert_eq!(
                e.refusal().map(|r| r.guard.as_str()),
                Some("incoming"),
                "an admin is not the incoming engineer: {e}"
            );
            assert!(oc
                .handoffs
                .get(5)
                .await
                .unwrap()
                .unwrap()
                .acknowledged_ms
                .is_none());

            note(&oc, &log, &ana, 5, "watch the api", 2_000)
                .await
                .unwrap();
            acknowledge(&oc, &log, &cy, 5, 3_000).await.unwrap();
            let e = note(&oc, &log, &ana, 5, "too late", 4_000)
                .await
                .unwrap_err();
            assert_eq!(e.refusal().map(|r| r.guard.as_str()), Some("acknowledged"));
            let e = acknowledge(&oc, &log, &cy, 6, 4_000).await.unwrap_err();
            assert_eq!(e.refusal().map(|r| r.guard.as_str()), Some("handoff"));
            let h = oc.handoffs.get(5).await.unwrap().unwrap();
            assert_eq!(h.note, "watch the api");
            assert_eq!(h.acknowledged_by.as_deref(), Some("cy"));

            let r = rows(&store, Event::OncallHandoff).await;
            assert_eq!(
                outcomes(&r),
                [
                    "acknowledge:attempt",
                    "refused",
                    "note:attempt",
                    "refused",
                    "acknowledge:attempt",
                    "refused",
                    "note:attempt",
                    "done",
                    "acknowledge:attempt",
                    "done",
                    "note:attempt",
                    "refused",
                    "acknowledge:attempt",
                    "refused",
                ],
                "{r:?}"
            );
            assert_eq!(r[1].2["guard"], "incoming");
            assert_eq!(r[7].2, json!({ "what": "note" }));
        }
    }

    /// An audit log that cannot take the attempt: the note is not written, and the person
    /// hears the store failed (not that a rule said no).
    #[tokio::test]
    async fn a_note_the_log_cannot_hold_is_not_written() {
        let (store, _dir) = stores().await.swap_remove(0);
        store.migrate().await.unwrap();
        let (oc, log) = (oncall(&store), AuditLog::new(store.clone()));
        assert!(oc.handoffs.keep(&handoff(5)).await.unwrap());
        let ana = person(&store, "github", "1", "ana", Role::Responder).await;
        sqlx::query(
            "CREATE TRIGGER full_log BEFORE INSERT ON audit_log WHEN NEW.kind <> 'signin' \
             BEGIN SELECT RAISE(ABORT, 'the disk is full'); END",
        )
        .execute(store.pool())
        .await
        .unwrap();
        let e = note(&oc, &log, &ana, 5, "watch the api", 2_000)
            .await
            .unwrap_err();
        assert!(matches!(e, Error::Store(_)), "{e:?}");
        assert_eq!(oc.handoffs.get(5).await.unwrap().unwrap().note, "");
        assert!(rows(&store, Event::OncallHandoff).await.is_empty());
    }
}
