//! Overrides of the rotation, kept in the store: asked for by one person, applied only once the
//! covering person accepts (the runbook: whoever cannot cover must find someone, so the someone
//! must agree). A swap is two covers that apply together.

use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::accounts::{self, Who};
use super::rotation::{check_cover, on_call_at, Cover, Rotation, Seat};
use crate::change::{Error, Refusal};
use crate::store::{Store, StoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RequestState {
    Pending,
    Accepted,
    Declined,
    Cancelled,
}

impl RequestState {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestState::Pending => "pending",
            RequestState::Accepted => "accepted",
            RequestState::Declined => "declined",
            RequestState::Cancelled => "cancelled",
        }
    }

    fn parse(s: &str) -> RequestState {
        match s {
            "accepted" => RequestState::Accepted,
            "declined" => RequestState::Declined,
            "cancelled" => RequestState::Cancelled,
            _ => RequestState::Pending,
        }
    }
}

/// An override as stored: who asked, who must accept, its covers and its state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OverrideRequest {
    pub id: String,
    /// `cover` or `swap`.
    pub kind: String,
    pub requested_by: String,
    /// The requester's account (`github:1234`); empty for requests older than accounts.
    pub requested_by_id: String,
    pub requested_by_name: String,
    pub counterpart: String,
    pub reason: String,
    pub state: RequestState,
    pub requested_ms: i64,
    pub answered_by: Option<String>,
    pub answered_by_id: Option<String>,
    pub answered_ms: Option<i64>,
    pub covers: Vec<Cover>,
}

/// What someone asks for.
#[derive(Debug, Clone)]
pub enum Ask {
    /// `covering` takes `seat` from its holder during `[start_ms, end_ms)`.
    Cover {
        seat: Seat,
        start_ms: i64,
        end_ms: i64,
        covering: String,
    },
    /// The requester's shift `mine` (their seat in it) and `theirs`'s shift `their_shift` are
    /// exchanged: whole (the base rotation's seats) or, with `parts`, the span `[start_ms,
    /// end_ms)` of each, in the seat each person holds there with the accepted overrides
    /// applied (the rest of a shift someone covers a part of).
    Swap {
        mine: i64,
        theirs: String,
        their_shift: i64,
        parts: Option<((i64, i64), (i64, i64))>,
    },
}

const REQUEST_COLUMNS: &str = "id, kind, requested_by, requested_by_name, counterpart, reason, \
                               state, requested_ms, answered_by, answered_ms, requested_by_id, \
                               answered_by_id";

/// A request from its row (`REQUEST_COLUMNS`), its covers read apart.
fn request_from(r: &sqlx::any::AnyRow, covers: Vec<Cover>) -> Result<OverrideRequest, sqlx::Error> {
    Ok(OverrideRequest {
        id: r.try_get(0)?,
        kind: r.try_get(1)?,
        requested_by: r.try_get(2)?,
        requested_by_name: r.try_get(3)?,
        counterpart: r.try_get(4)?,
        reason: r.try_get(5)?,
        state: RequestState::parse(&r.try_get::<String, _>(6)?),
        requested_ms: r.try_get(7)?,
        answered_by: r.try_get(8)?,
        answered_ms: r.try_get(9)?,
        requested_by_id: r.try_get(10)?,
        answered_by_id: r.try_get(11)?,
        covers,
    })
}

/// A cover from its row (seat, start_ms, end_ms, covered, covering).
fn cover_from(r: &sqlx::any::AnyRow) -> Result<Cover, sqlx::Error> {
    Ok(Cover {
        seat: Seat::parse(&r.try_get::<String, _>(0)?).unwrap_or(Seat::Primary),
        start_ms: r.try_get(1)?,
        end_ms: r.try_get(2)?,
        covered: r.try_get(3)?,
        covering: r.try_get(4)?,
    })
}

#[derive(Debug, Clone)]
pub struct Overrides {
    store: Store,
}

impl Overrides {
    pub fn new(store: Store) -> Overrides {
        Overrides { store }
    }

    /// The covers in force: those of accepted requests, in the order they were accepted.
    pub async fn accepted_covers(&self) -> Result<Vec<Cover>, StoreError> {
        accepted_in(self.store.pool()).await
    }

    /// Requests, newest first: every pending one and the latest `limit` answered ones.
    pub async fn requests(&self, limit: i64) -> Result<Vec<OverrideRequest>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {REQUEST_COLUMNS} FROM oncall_requests WHERE state = 'pending' OR id IN \
             (SELECT id FROM oncall_requests WHERE state <> 'pending' ORDER BY answered_ms DESC \
             LIMIT $1) ORDER BY requested_ms DESC"
        ))
        .bind(limit)
        .fetch_all(self.store.pool())
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let covers = self.covers_of(&r.try_get::<String, _>(0)?).await?;
            out.push(request_from(r, covers)?);
        }
        Ok(out)
    }

    async fn covers_of(&self, id: &str) -> Result<Vec<Cover>, StoreError> {
        let rows = sqlx::query(
            "SELECT seat, start_ms, end_ms, covered, covering FROM oncall_covers \
             WHERE request_id = $1 ORDER BY part",
        )
        .bind(id)
        .fetch_all(self.store.pool())
        .await?;
        rows.iter()
            .map(cover_from)
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    /// One request by id, whatever its state.
    pub async fn get(&self, id: &str) -> Result<Option<OverrideRequest>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {REQUEST_COLUMNS} FROM oncall_requests WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(self.store.pool())
        .await?;
        match row {
            Some(r) => Ok(Some(request_from(&r, self.covers_of(id).await?)?)),
            None => Ok(None),
        }
    }

    /// Asks for an override. `requester` must hold what they give away (an admin may ask on
    /// behalf of the holder with `on_behalf_of`); the covers are checked against the rotation
    /// with the accepted overrides applied. Returns the request, pending the counterpart.
    pub async fn ask(
        &self,
        rotation: &Rotation,
        requester: (&Who, &str),
        on_behalf_of: Option<&str>,
        ask: &Ask,
        reason: &str,
        now_ms: i64,
    ) -> Result<OverrideRequest, Error> {
        let (who, name) = requester;
        let login = who.login.as_str();
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(Error::refused(
                "reason",
                "Say why (a sentence for the team: \"flying on Tuesday\").",
            ));
        }
        if reason.chars().count() > 500 {
            return Err(Error::refused(
                "reason",
                "The reason is longer than 500 characters.",
            ));
        }
        let holder = on_behalf_of.unwrap_or(login);
        let holder = rotation.member(holder).ok_or_else(|| {
            Error::refused(
                "member",
                format!(
                    "{holder} is not in the rotation ([oncall] members), so has no shift to give away."
                ),
            )
        })?;
        // Only the account the login names holds its seats: another account that shares the
        // login (another provider) gives nothing away.
        let holds = on_behalf_of.is_some() || accounts::is(&self.store, who, holder, None).await?;
        if !holds {
            return Err(Error::refused(
                "account",
                format!(
                    "{holder}'s seats are held by the account that first signed in as {holder}; this account ({}) only shares the login.",
                    who.account
                ),
            ));
        }
        let accepted = self.accepted_covers().await?;
        let (kind, covers, counterpart) = match ask {
            Ask::Cover {
                seat,
                start_ms,
                end_ms,
                covering,
            } => {
                let covering = rotation.member(covering).unwrap_or(covering).to_owned();
                (
                    "cover",
                    vec![Cover {
                        seat: *seat,
                        start_ms: *start_ms,
                        end_ms: *end_ms,
                        covered: holder.to_owned(),
                        covering: covering.clone(),
                    }],
                    covering,
                )
            }
            Ask::Swap {
                mine,
                theirs,
                their_shift,
                parts,
            } => {
                let theirs = rotation
                    .member(theirs)
                    .ok_or_else(|| {
                        Error::refused(
                            "member",
                            format!("{theirs} is not in the rotation ([oncall] members)."),
                        )
                    })?
                    .to_owned();
                let seat_in = |index: i64, who: &str| {
                    let s = rotation.shift(index);
                    if s.primary.eq_ignore_ascii_case(who) {
                        Some((Seat::Primary, s))
                    } else if s.secondary.eq_ignore_ascii_case(who) {
                        Some((Seat::Secondary, s))
                    } else {
                        None
                    }
                };
                // A part of a shift: the seat `who` holds at its start (`check_all` sees that
                // they hold it throughout).
                let part_in = |index: i64, who: &str, (start_ms, end_ms): (i64, i64)| {
                    let s = rotation.shift(index);
                    if start_ms < s.start_ms || end_ms > s.end_ms || end_ms <= start_ms {
                        return None;
                    }
                    let at = on_call_at(rotation, &accepted, start_ms);
                    let seat = [Seat::Primary, Seat::Secondary]
                        .into_iter()
                        .find(|seat| at.holder(*seat).eq_ignore_ascii_case(who))?;
                    Some((
                        seat,
                        super::rotation::Shift {
                            start_ms,
                            end_ms,
                            ..s
                        },
                    ))
                };
                let (mine_part, their_part) = match parts {
                    Some((m, t)) => (Some(*m), Some(*t)),
                    None => (None, None),
                };
                let (my_seat, my_shift) = match mine_part {
                    Some(span) => part_in(*mine, holder, span),
                    None => seat_in(*mine, holder),
                }
                .ok_or_else(|| {
                    Error::refused(
                        "shift",
                        format!("{holder} has no seat in that shift to swap."),
                    )
                })?;
                let (their_seat, other) = match their_part {
                    Some(span) => part_in(*their_shift, &theirs, span),
                    None => seat_in(*their_shift, &theirs),
                }
                .ok_or_else(|| {
                    Error::refused(
                        "shift",
                        format!("{theirs} has no seat in the shift asked for."),
                    )
                })?;
                (
                    "swap",
                    vec![
                        Cover {
                            seat: my_seat,
                            start_ms: my_shift.start_ms,
                            end_ms: my_shift.end_ms,
                            covered: holder.to_owned(),
                            covering: theirs.clone(),
                        },
                        Cover {
                            seat: their_seat,
                            start_ms: other.start_ms,
                            end_ms: other.end_ms,
                            covered: theirs.clone(),
                            covering: holder.to_owned(),
                        },
                    ],
                    theirs,
                )
            }
        };
        if covers.iter().any(|c| c.end_ms <= now_ms) {
            return Err(Error::refused(
                "time",
                "That time has passed; an override covers time still to come.",
            ));
        }
        check_all(rotation, &accepted, &covers)?;
        let id = format!("o{}", crate::auth::random_token());
        let mut tx = self.store.begin_write().await?;
        sqlx::query(
            "INSERT INTO oncall_requests (id, kind, requested_by, requested_by_name, counterpart, \
             reason, state, requested_ms, requested_by_id) \
             VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $8)",
        )
        .bind(&id)
        .bind(kind)
        .bind(login)
        .bind(name)
        .bind(&counterpart)
        .bind(reason)
        .bind(now_ms)
        .bind(&who.account)
        .execute(&mut *tx)
        .await?;
        for (part, c) in covers.iter().enumerate() {
            sqlx::query(
                "INSERT INTO oncall_covers (request_id, part, seat, start_ms, end_ms, covered, covering) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&id)
            .bind(part as i64)
            .bind(c.seat.as_str())
            .bind(c.start_ms)
            .bind(c.end_ms)
            .bind(&c.covered)
            .bind(&c.covering)
            .execute(&mut *tx)
            .await
            ?;
        }
        tx.commit().await?;
        Ok(OverrideRequest {
            id,
            kind: kind.into(),
            requested_by: login.into(),
            requested_by_id: who.account.clone(),
            requested_by_name: name.into(),
            counterpart,
            reason: reason.into(),
            state: RequestState::Pending,
            requested_ms: now_ms,
            answered_by: None,
            answered_by_id: None,
            answered_ms: None,
            covers,
        })
    }

    /// Accepts, declines or cancels a pending request. Only the counterpart (the account that
    /// goes by their login) accepts or declines; the requester's account (or an admin)
    /// cancels. The state is checked and changed in one transaction, and an acceptance first
    /// takes the one acceptance lock: covers accepted at the same moment (two replicas) are
    /// checked against each other, the second on top of the first.
    pub async fn answer(
        &self,
        rotation: &Rotation,
        id: &str,
        who: &Who,
        is_admin: bool,
        to: RequestState,
        now_ms: i64,
    ) -> Result<OverrideRequest, Error> {
        // Who asked and who must answer never change once asked: checked before the
        // transaction, whose lock is then held no longer than the change.
        let req = self
            .get(id)
            .await?
            .ok_or_else(|| Error::refused("request", format!("No override request {id}.")))?;
        match to {
            RequestState::Accepted | RequestState::Declined => {
                let theirs = accounts::is(&self.store, who, &req.counterpart, None).await?;
                if !theirs {
                    return Err(Error::refused(
                        "counterpart",
                        format!(
                            "Only {} can {} this: it is their time being asked for (the account that first signed in as {0}).",
                            req.counterpart,
                            if to == RequestState::Accepted {
                                "accept"
                            } else {
                                "decline"
                            }
                        ),
                    ));
                }
            }
            RequestState::Cancelled => {
                let theirs = accounts::is(
                    &self.store,
                    who,
                    &req.requested_by,
                    Some(&req.requested_by_id),
                )
                .await?;
                if !theirs && !is_admin {
                    return Err(Error::refused(
                        "requester",
                        format!("Only {} or an admin can cancel this.", req.requested_by),
                    ));
                }
            }
            RequestState::Pending => {
                return Err(Error::refused(
                    "state",
                    "A request cannot be made pending again.",
                ))
            }
        }
        let mut tx = self.store.begin_write().await?;
        if to == RequestState::Accepted {
            sqlx::query("UPDATE oncall_accept_lock SET id = id WHERE id = 1")
                .execute(&mut *tx)
                .await?;
        }
        // The request's row, held until commit, read as it is now.
        let state: String =
            sqlx::query("UPDATE oncall_requests SET state = state WHERE id = $1 RETURNING state")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?
                .map(|r| r.try_get(0))
                .transpose()?
                .ok_or_else(|| Error::refused("request", format!("No override request {id}.")))?;
        let state = RequestState::parse(&state);
        if state != RequestState::Pending {
            return Err(Error::refused(
                "state",
                format!(
                    "This request is already {}; ask for a new one.",
                    state.as_str()
                ),
            ));
        }
        if to == RequestState::Accepted {
            if req.covers.iter().any(|c| c.end_ms <= now_ms) {
                return Err(Error::refused(
                    "time",
                    "That time has passed; the request can only be declined now.",
                ));
            }
            let accepted = accepted_in(&mut *tx).await?;
            check_all(rotation, &accepted, &req.covers)?;
        }
        sqlx::query(
            "UPDATE oncall_requests SET state = $1, answered_by = $2, answered_ms = $3, \
             answered_by_id = $4 WHERE id = $5 AND state = 'pending'",
        )
        .bind(to.as_str())
        .bind(&who.login)
        .bind(now_ms)
        .bind(&who.account)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(OverrideRequest {
            state: to,
            answered_by: Some(who.login.clone()),
            answered_by_id: Some(who.account.clone()),
            answered_ms: Some(now_ms),
            ..req
        })
    }
}

/// The accepted covers as `db` (the pool, or a transaction) sees them.
async fn accepted_in<'e>(
    db: impl sqlx::Executor<'e, Database = sqlx::Any>,
) -> Result<Vec<Cover>, StoreError> {
    let rows = sqlx::query(
        "SELECT c.seat, c.start_ms, c.end_ms, c.covered, c.covering FROM oncall_covers c \
         JOIN oncall_requests r ON r.id = c.request_id WHERE r.state = 'accepted' \
         ORDER BY r.answered_ms, r.id, c.part",
    )
    .fetch_all(db)
    .await?;
    rows.iter()
        .map(cover_from)
        .collect::<Result<_, sqlx::Error>>()
        .map_err(StoreError::from)
}

/// Checks covers one after the other, each on top of the accepted ones and those before it.
fn check_all(rotation: &Rotation, accepted: &[Cover], covers: &[Cover]) -> Result<(), Refusal> {
    let mut so_far = accepted.to_vec();
    for c in covers {
        check_cover(rotation, &so_far, c)?;
        so_far.push(c.clone());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oncall::accounts::tests::{sign_in, stores};
    use crate::oncall::rotation::RotationOptions;

    /// ana, bo, cy, dan in UTC, 72-hour shifts from 2030: shift 0 is ana primary, bo secondary.
    fn four() -> Rotation {
        Rotation::new(&RotationOptions {
            members: vec!["ana".into(), "bo".into(), "cy".into(), "dan".into()],
            start: "2030-01-07T09:00".into(),
            time_zone: "UTC".into(),
            shift_hours: 72,
        })
        .unwrap()
    }

    const H: i64 = 3_600_000;

    fn cover(seat: Seat, r: &Rotation, from_h: i64, to_h: i64, covering: &str) -> Ask {
        let s = r.shift(0);
        Ask::Cover {
            seat,
            start_ms: s.start_ms + from_h * H,
            end_ms: s.start_ms + to_h * H,
            covering: covering.into(),
        }
    }

    #[tokio::test]
    async fn an_account_that_shares_a_login_cannot_answer_or_cancel_for_its_owner() {
        for (store, _dir) in stores().await {
            store.migrate().await.unwrap();
            let r = four();
            let o = Overrides::new(store.clone());
            let ana = sign_in(&store, "github", "1", "ana").await;
            let cy = sign_in(&store, "github", "3", "cy").await;
            // Another provider's accounts with the same logins, signed in later.
            let fake_cy = sign_in(&store, "oidc", "s-cy", "cy").await;
            let fake_ana = sign_in(&store, "oidc", "s-ana", "ana").await;
            let now = r.shift(0).start_ms - H;
            let q = o
                .ask(
                    &r,
                    (&ana, "Ana"),
                    None,
                    &cover(Seat::Primary, &r, 1, 5, "cy"),
                    "flying",
                    now,
                )
                .await
                .unwrap();
            assert_eq!(q.requested_by_id, "github:1");
            let e = o
                .ask(
                    &r,
                    (&fake_ana, "x"),
                    None,
                    &cover(Seat::Primary, &r, 6, 8, "dan"),
                    "x",
                    now,
                )
                .await
                .unwrap_err();
            assert!(e.to_string().contains("only shares the login"), "{e}");
            for to in [RequestState::Accepted, RequestState::Declined] {
                let e = o
                    .answer(&r, &q.id, &fake_cy, false, to, now)
                    .await
                    .unwrap_err();
                assert!(e.to_string().contains("Only cy can"), "{e}");
            }
            let e = o
                .answer(&r, &q.id, &fake_ana, false, RequestState::Cancelled, now)
                .await
                .unwrap_err();
            assert!(e.to_string().contains("Only ana or an admin"), "{e}");
            assert_eq!(
                o.get(&q.id).await.unwrap().unwrap().state,
                RequestState::Pending
            );
            let done = o
                .answer(&r, &q.id, &cy, false, RequestState::Accepted, now)
                .await
                .unwrap();
            assert_eq!(done.answered_by_id.as_deref(), Some("github:3"));
            let kept = o.get(&q.id).await.unwrap().unwrap();
            assert_eq!(kept.state, RequestState::Accepted);
            assert_eq!(kept.answered_by_id.as_deref(), Some("github:3"));
        }
    }

    /// Two covers that are each fine alone but not together (cy primary and secondary at once):
    /// the second acceptance is checked against the first, one after the other and at once.
    #[tokio::test]
    async fn a_cover_accepted_after_another_is_checked_against_it() {
        for (store, _dir) in stores().await {
            store.migrate().await.unwrap();
            let r = four();
            let o = Overrides::new(store.clone());
            let ana = sign_in(&store, "github", "1", "ana").await;
            let bo = sign_in(&store, "github", "2", "bo").await;
            let cy = sign_in(&store, "github", "3", "cy").await;
            let now = r.shift(0).start_ms - H;
            let ask = |who: Who, seat, from, to| {
                let o = o.clone();
                let r = r.clone();
                async move {
                    o.ask(
                        &r,
                        (&who, "x"),
                        None,
                        &cover(seat, &r, from, to, "cy"),
                        "away",
                        now,
                    )
                    .await
                    .unwrap()
                }
            };
            let a = ask(ana.clone(), Seat::Primary, 1, 5).await;
            let b = ask(bo.clone(), Seat::Secondary, 2, 4).await;
            o.answer(&r, &a.id, &cy, false, RequestState::Accepted, now)
                .await
                .unwrap();
            let e = o
                .answer(&r, &b.id, &cy, false, RequestState::Accepted, now)
                .await
                .unwrap_err();
            assert!(e.to_string().contains("cy is already primary"), "{e}");
            assert_eq!(
                o.get(&b.id).await.unwrap().unwrap().state,
                RequestState::Pending
            );

            // At once: exactly one of two clashing acceptances wins, on either backend.
            for round in 0..4 {
                let base = 8 + round * 8;
                let a = ask(ana.clone(), Seat::Primary, base, base + 3).await;
                let b = ask(bo.clone(), Seat::Secondary, base + 1, base + 2).await;
                let (x, y) = tokio::join!(
                    o.answer(&r, &a.id, &cy, false, RequestState::Accepted, now),
                    o.answer(&r, &b.id, &cy, false, RequestState::Accepted, now),
                );
                assert!(x.is_ok() != y.is_ok(), "round {round}: {x:?} {y:?}");
            }
        }
    }
}
