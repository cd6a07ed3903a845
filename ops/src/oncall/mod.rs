//! The on-call team: the 72-hour rotation and its overrides, who is on call now (from Onwatch's
//! own rotation or from PagerDuty), the iCal feeds, and the handoff summary at each shift's end.

pub mod accounts;
pub mod changes;
pub mod feeds;
pub mod handoff;
pub mod overrides;
pub mod pagerduty;
pub mod rotation;

use serde::{Deserialize, Serialize};

pub use accounts::Who;
pub use rotation::{Cover, Rotation, RotationConfigError, RotationOptions, Seat, Segment, Shift};

use crate::store::{Store, StoreError};

/// `[oncall]`: the rotation (see [`RotationOptions`] for each key), and optionally PagerDuty as
/// the source of who is on call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OncallOptions {
    #[serde(default)]
    pub members: Vec<String>,
    #[serde(default = "rotation::default_start")]
    pub start: String,
    #[serde(default = "rotation::default_zone")]
    pub time_zone: String,
    #[serde(default = "rotation::default_shift_hours")]
    pub shift_hours: u32,
    #[serde(default)]
    pub pagerduty: Option<pagerduty::PagerDutyOptions>,
}

impl Default for OncallOptions {
    fn default() -> Self {
        let r = RotationOptions::default();
        OncallOptions {
            members: r.members,
            start: r.start,
            time_zone: r.time_zone,
            shift_hours: r.shift_hours,
            pagerduty: None,
        }
    }
}

impl OncallOptions {
    pub fn rotation(&self) -> RotationOptions {
        RotationOptions {
            members: self.members.clone(),
            start: self.start.clone(),
            time_zone: self.time_zone.clone(),
            shift_hours: self.shift_hours,
        }
    }
}

/// Who is on call now and next, and where that comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NowAndNext {
    /// `onwatch` (the rotation here) or `pagerduty`.
    pub source: String,
    pub primary: String,
    pub secondary: String,
    /// When the current holders' stretch ends (the next change of either seat).
    pub until_ms: Option<i64>,
    pub next_primary: Option<String>,
    pub next_secondary: Option<String>,
    /// PagerDuty's answer is old: its age in words and why it was not refreshed.
    pub stale: Option<String>,
}

/// What every page's header shows, kept in memory so that drawing a page costs no query:
/// refreshed every few seconds and at once when an override is accepted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeaderState {
    pub now: Option<NowAndNext>,
    /// People scheduled in the coming shifts who are not ready for on-call (the onboarding
    /// checklist), for the rotation and for admins.
    pub not_ready: Vec<String>,
    pub refreshed_ms: i64,
}

/// The on-call capability: the rotation (when configured), its overrides, feeds, handoffs, and
/// PagerDuty (when configured).
#[derive(Clone)]
pub struct OnCall {
    pub rotation: Option<Rotation>,
    pub overrides: overrides::Overrides,
    pub feeds: feeds::Feeds,
    pub handoffs: handoff::Handoffs,
    pub pagerduty: Option<pagerduty::PagerDuty>,
    header: std::sync::Arc<std::sync::RwLock<HeaderState>>,
}

/// Why on-call cannot be set up: a configuration mistake.
#[derive(Debug, thiserror::Error)]
pub enum OnCallError {
    /// `[oncall]`'s rotation: which key, and what is expected there.
    #[error(transparent)]
    Rotation(#[from] rotation::RotationConfigError),
    /// PagerDuty's HTTP client could not be set up.
    #[error("{0}")]
    PagerDuty(reqwest::Error),
}

impl OnCall {
    /// The header's state as last refreshed.
    pub fn header(&self) -> HeaderState {
        self.header.read().map(|h| h.clone()).unwrap_or_default()
    }

    /// Recomputes who is on call now and next for the header.
    pub async fn refresh_header(&self, now_ms: i64) -> Result<(), StoreError> {
        let now = self.now_and_next(now_ms).await?;
        if let Ok(mut h) = self.header.write() {
            h.now = now;
            h.refreshed_ms = now_ms;
        }
        Ok(())
    }

    /// Sets who is scheduled but not ready (worked out from the onboarding checklist).
    pub fn set_not_ready(&self, people: Vec<String>) {
        if let Ok(mut h) = self.header.write() {
            h.not_ready = people;
        }
    }

    /// Everyone holding a seat in `[from_ms, to_ms)`, overrides applied.
    pub async fn scheduled(&self, from_ms: i64, to_ms: i64) -> Result<Vec<String>, StoreError> {
        let Some(r) = &self.rotation else {
            return Ok(Vec::new());
        };
        let covers = self.overrides.accepted_covers().await?;
        let mut people: Vec<String> = rotation::timeline(r, &covers, from_ms, to_ms)
            .into_iter()
            .flat_map(|s| [s.primary, s.secondary])
            .collect();
        people.sort_by_key(|p| p.to_ascii_lowercase());
        people.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
        Ok(people)
    }

    /// `rotation` is `None` when `[oncall] members` is empty: nothing is scheduled here.
    pub fn new(store: Store, options: &OncallOptions) -> Result<OnCall, OnCallError> {
        let rotation = if options.members.is_empty() {
            None
        } else {
            Some(Rotation::new(&options.rotation())?)
        };
        let pagerduty = match &options.pagerduty {
            Some(o) => Some(
                pagerduty::PagerDuty::new(o.clone(), store.clone())
                    .map_err(OnCallError::PagerDuty)?,
            ),
            None => None,
        };
        Ok(OnCall {
            rotation,
            overrides: overrides::Overrides::new(store.clone()),
            feeds: feeds::Feeds::new(store.clone()),
            handoffs: handoff::Handoffs::new(store),
            pagerduty,
            header: Default::default(),
        })
    }

    /// Who is on call at `now_ms` and next: PagerDuty's view when it is configured (its last
    /// answer, marked stale when the last read failed), else the rotation with overrides.
    pub async fn now_and_next(&self, now_ms: i64) -> Result<Option<NowAndNext>, StoreError> {
        if let Some(pd) = &self.pagerduty {
            let view = pd.refresh(now_ms).await;
            let Some(a) = view.answer else {
                return Ok(Some(NowAndNext {
                    source: "pagerduty".into(),
                    primary: "not known".into(),
                    secondary: "not known".into(),
                    until_ms: None,
                    next_primary: None,
                    next_secondary: None,
                    stale: Some(format!(
                        "PagerDuty has not answered yet: {}",
                        view.error.unwrap_or_else(|| "no answer so far".into())
                    )),
                }));
            };
            let names = |v: &[pagerduty::PdOnCall]| {
                if v.is_empty() {
                    "nobody".to_owned()
                } else {
                    v.iter()
                        .map(|p| p.name.as_str())
                        .collect::<Vec<_>>()
                        .join(" and ")
                }
            };
            let until_ms = a.primary.iter().filter_map(|p| p.end_ms).min();
            let stale = view.error.map(|e| {
                format!(
                    "as PagerDuty said {} ago; it cannot be read now: {e}",
                    crate::time::human_age(now_ms - view.fetched_ms.unwrap_or(now_ms))
                )
            });
            return Ok(Some(NowAndNext {
                source: "pagerduty".into(),
                primary: names(&a.primary),
                secondary: names(&a.secondary),
                until_ms,
                next_primary: a.next_primary.map(|p| p.name),
                next_secondary: a.next_secondary.map(|p| p.name),
                stale,
            }));
        }
        let Some(r) = &self.rotation else {
            return Ok(None);
        };
        let covers = self.overrides.accepted_covers().await?;
        let now = rotation::on_call_at(r, &covers, now_ms);
        // The next stretch with different people, within a few shifts.
        let ahead = rotation::timeline(r, &covers, now_ms, now_ms + 4 * r.shift_ms());
        let current_end = ahead.first().map(|s| s.end_ms);
        let next = ahead
            .iter()
            .find(|s| s.primary != now.primary || s.secondary != now.secondary);
        let until_ms = next.map(|s| s.start_ms).or(current_end);
        Ok(Some(NowAndNext {
            source: "onwatch".into(),
            primary: now.primary.clone(),
            secondary: now.secondary.clone(),
            until_ms,
            next_primary: next.map(|s| s.primary.clone()),
            next_secondary: next.map(|s| s.secondary.clone()),
            stale: None,
        }))
    }

    /// Keeps the handoff of the shift that ended most recently before `now_ms`, if it is not
    /// kept yet. `unhealthy_now` is what the fleet shows as still wrong. Returns the shift
    /// index written, if any.
    pub async fn write_due_handoff(
        &self,
        now_ms: i64,
        unhealthy_now: Vec<handoff::Unhealthy>,
    ) -> Result<Option<i64>, StoreError> {
        let Some(r) = &self.rotation else {
            return Ok(None);
        };
        let ended = r.index_at(now_ms) - 1;
        if self.handoffs.get(ended).await?.is_some() {
            return Ok(None);
        }
        let covers = self.overrides.accepted_covers().await?;
        let h = self.draft(r, &covers, ended, now_ms, unhealthy_now).await?;
        Ok(self.handoffs.keep(&h).await?.then_some(ended))
    }

    /// The handoff of shift `index` as it reads at `now_ms` (for the shift under way, what
    /// would be handed over now), with `covers` the accepted overrides the caller has read.
    pub async fn draft(
        &self,
        r: &Rotation,
        covers: &[Cover],
        index: i64,
        now_ms: i64,
        unhealthy_now: Vec<handoff::Unhealthy>,
    ) -> Result<handoff::Handoff, StoreError> {
        let shift = r.shift(index);
        let last = rotation::on_call_at(r, covers, shift.end_ms - 1);
        let first_next = rotation::on_call_at(r, covers, shift.end_ms);
        let summary = handoff::summarize(
            self.handoffs.store(),
            shift.start_ms,
            shift.end_ms.min(now_ms.max(shift.start_ms)),
            unhealthy_now,
        )
        .await?;
        Ok(handoff::Handoff {
            shift_index: index,
            start_ms: shift.start_ms,
            end_ms: shift.end_ms,
            outgoing: format!("{},{}", last.primary, last.secondary),
            incoming: format!("{},{}", first_next.primary, first_next.secondary),
            summary,
            generated_ms: now_ms,
            note: String::new(),
            note_by: None,
            note_by_id: None,
            note_ms: None,
            acknowledged_by: None,
            acknowledged_by_id: None,
            acknowledged_ms: None,
        })
    }
}
