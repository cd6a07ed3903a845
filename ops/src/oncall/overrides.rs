//! Overrides of the rotation, kept in the store: asked for by one person, applied only once the
//! covering person accepts (the runbook: whoever cannot cover must find someone, so the someone
//! must agree). A swap is two covers that apply together.

use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::rotation::{check_cover, Cover, Rotation, Seat};
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
    pub requested_by_name: String,
    pub counterpart: String,
    pub reason: String,
    pub state: RequestState,
    pub requested_ms: i64,
    pub answered_by: Option<String>,
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
    /// exchanged whole.
    Swap {
        mine: i64,
        theirs: String,
        their_shift: i64,
    },
}

const REQUEST_COLUMNS: &str = "id, kind, requested_by, requested_by_name, counterpart, reason, \
                               state, requested_ms, answered_by, answered_ms";

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
        let rows = sqlx::query(
            "SELECT c.seat, c.start_ms, c.end_ms, c.covered, c.covering FROM oncall_covers c \
             JOIN oncall_requests r ON r.id = c.request_id WHERE r.state = 'accepted' \
             ORDER BY r.answered_ms, r.id, c.part",
        )
        .fetch_all(self.store.pool())
        .await?;
        rows.iter()
            .map(cover_from)
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
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
        requester: (&str, &str),
        on_behalf_of: Option<&str>,
        ask: &Ask,
        reason: &str,
        now_ms: i64,
    ) -> Result<OverrideRequest, String> {
        let (login, name) = requester;
        let reason = reason.trim();
        if reason.is_empty() {
            return Err("Say why (a sentence for the team: \"flying on Tuesday\").".into());
        }
        if reason.chars().count() > 500 {
            return Err("The reason is longer than 500 characters.".into());
        }
        let holder = on_behalf_of.unwrap_or(login);
        let holder = rotation.member(holder).ok_or_else(|| {
            format!(
                "{holder} is not in the rotation ([oncall] members), so has no shift to give away."
            )
        })?;
        let accepted = self.accepted_covers().await.map_err(|e| e.to_string())?;
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
            } => {
                let theirs = rotation
                    .member(theirs)
                    .ok_or_else(|| format!("{theirs} is not in the rotation ([oncall] members)."))?
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
                let (my_seat, my_shift) = seat_in(*mine, holder)
                    .ok_or_else(|| format!("{holder} has no seat in that shift to swap."))?;
                let (their_seat, other) = seat_in(*their_shift, &theirs)
                    .ok_or_else(|| format!("{theirs} has no seat in the shift asked for."))?;
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
            return Err("That time has passed; an override covers time still to come.".into());
        }
        check_all(rotation, &accepted, &covers)?;
        let id = format!("o{}", crate::auth::random_token());
        let mut tx = self.store.begin_write().await.map_err(|e| e.to_string())?;
        sqlx::query(
            "INSERT INTO oncall_requests (id, kind, requested_by, requested_by_name, counterpart, \
             reason, state, requested_ms) VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7)",
        )
        .bind(&id)
        .bind(kind)
        .bind(login)
        .bind(name)
        .bind(&counterpart)
        .bind(reason)
        .bind(now_ms)
        .execute(&mut *tx)
        .await
        .map_err(|e| e.to_string())?;
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
            .map_err(|e| e.to_string())?;
        }
        tx.commit().await.map_err(|e| e.to_string())?;
        Ok(OverrideRequest {
            id,
            kind: kind.into(),
            requested_by: login.into(),
            requested_by_name: name.into(),
            counterpart,
            reason: reason.into(),
            state: RequestState::Pending,
            requested_ms: now_ms,
            answered_by: None,
            answered_ms: None,
            covers,
        })
    }

    /// Accepts, declines or cancels a pending request. Only the counterpart accepts or
    /// declines; the requester (or an admin) cancels. Accepting checks the covers again against
    /// the overrides accepted since it was asked for.
    pub async fn answer(
        &self,
        rotation: &Rotation,
        id: &str,
        who: &str,
        is_admin: bool,
        to: RequestState,
        now_ms: i64,
    ) -> Result<OverrideRequest, String> {
        let req = self
            .get(id)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("No override request {id}."))?;
        if req.state != RequestState::Pending {
            return Err(format!(
                "This request is already {}; ask for a new one.",
                req.state.as_str()
            ));
        }
        match to {
            RequestState::Accepted | RequestState::Declined => {
                if !req.counterpart.eq_ignore_ascii_case(who) {
                    return Err(format!(
                        "Only {} can {} this: it is their time being asked for.",
                        req.counterpart,
                        if to == RequestState::Accepted {
                            "accept"
                        } else {
                            "decline"
                        }
                    ));
                }
            }
            RequestState::Cancelled => {
                if !req.requested_by.eq_ignore_ascii_case(who) && !is_admin {
                    return Err(format!(
                        "Only {} or an admin can cancel this.",
                        req.requested_by
                    ));
                }
            }
            RequestState::Pending => return Err("A request cannot be made pending again.".into()),
        }
        if to == RequestState::Accepted {
            if req.covers.iter().any(|c| c.end_ms <= now_ms) {
                return Err("That time has passed; the request can only be declined now.".into());
            }
            let accepted = self.accepted_covers().await.map_err(|e| e.to_string())?;
            check_all(rotation, &accepted, &req.covers)?;
        }
        // Only a pending row changes, so two answers racing cannot both win.
        self.store
            .change_one(
                sqlx::query(
                    "UPDATE oncall_requests SET state = $1, answered_by = $2, answered_ms = $3 \
                     WHERE id = $4 AND state = 'pending'",
                )
                .bind(to.as_str())
                .bind(who)
                .bind(now_ms)
                .bind(id),
                || "Someone answered this request at the same moment; reload.".into(),
            )
            .await?;
        Ok(OverrideRequest {
            state: to,
            answered_by: Some(who.into()),
            answered_ms: Some(now_ms),
            ..req
        })
    }
}

/// Checks covers one after the other, each on top of the accepted ones and those before it.
fn check_all(rotation: &Rotation, accepted: &[Cover], covers: &[Cover]) -> Result<(), String> {
    let mut so_far = accepted.to_vec();
    for c in covers {
        check_cover(rotation, &so_far, c)?;
        so_far.push(c.clone());
    }
    Ok(())
}
