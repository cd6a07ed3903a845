//! The rotation's arithmetic: who is primary and who is secondary at any instant, with the
//! accepted overrides applied. Pure: no store, no clock (instants are epoch milliseconds).
//!
//! A shift is a span of *real* time (`shift_hours` × 3,600 s) counted from the rotation's start,
//! which is a wall-clock time in the rotation's zone. Shifts are never stretched or shrunk to
//! keep a local time of day: when a local clock jumps during a shift, the shift still lasts 72
//! real hours and ends an hour earlier or later on the wall clock, and [`Shift::clock_change`]
//! says so.

use jiff::tz::TimeZone;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::change::Refusal;

/// Primary or secondary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Seat {
    Primary,
    Secondary,
}

impl Seat {
    pub fn as_str(self) -> &'static str {
        match self {
            Seat::Primary => "primary",
            Seat::Secondary => "secondary",
        }
    }

    pub fn parse(s: &str) -> Option<Seat> {
        match s {
            "primary" => Some(Seat::Primary),
            "secondary" => Some(Seat::Secondary),
            _ => None,
        }
    }

    pub fn other(self) -> Seat {
        match self {
            Seat::Primary => Seat::Secondary,
            Seat::Secondary => Seat::Primary,
        }
    }
}

/// The rotation as configured (the keys of `[oncall]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RotationOptions {
    /// Logins (as people sign in: the GitHub login or the OIDC username) in rotation order.
    /// Shift k's primary is `members[k mod n]`, its secondary `members[(k + 1) mod n]`.
    #[serde(default)]
    pub members: Vec<String>,
    /// The first shift's start, a wall-clock time in `time_zone` (`2026-11-02T09:00`).
    #[serde(default = "default_start")]
    pub start: String,
    /// An IANA zone (`America/Los_Angeles`).
    #[serde(default = "default_zone")]
    pub time_zone: String,
    /// Real hours per shift.
    #[serde(default = "default_shift_hours")]
    pub shift_hours: u32,
}

pub(crate) fn default_start() -> String {
    "2026-01-05T09:00".into()
}
pub(crate) fn default_zone() -> String {
    "UTC".into()
}
pub(crate) fn default_shift_hours() -> u32 {
    72
}

impl Default for RotationOptions {
    fn default() -> Self {
        RotationOptions {
            members: Vec::new(),
            start: default_start(),
            time_zone: default_zone(),
            shift_hours: default_shift_hours(),
        }
    }
}

/// The rotation, checked and ready for arithmetic.
#[derive(Debug, Clone)]
pub struct Rotation {
    members: Vec<String>,
    start_ms: i64,
    shift_ms: i64,
    tz: TimeZone,
    zone_name: String,
    /// The zone times are shown and read in, when not the rotation's own: the reader's (issue
    /// #28, point 12). Shifts are still counted on the rotation's clock.
    shown: Option<TimeZone>,
}

/// One shift of the base rotation (before overrides).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shift {
    /// 0 for the shift that starts at the configured start; negative before it.
    pub index: i64,
    pub start_ms: i64,
    pub end_ms: i64,
    pub primary: String,
    pub secondary: String,
}

/// What is wrong with the rotation's configuration: the key (`oncall.members`, …) and what is
/// expected there. A configuration mistake, found at start-up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {why}")]
pub struct RotationConfigError {
    pub key: &'static str,
    pub why: String,
}

impl Rotation {
    /// The rotation, or what is wrong with its configuration (the key and what is expected).
    pub fn new(o: &RotationOptions) -> Result<Rotation, RotationConfigError> {
        Rotation::build(o).map_err(|(key, why)| RotationConfigError { key, why })
    }

    fn build(o: &RotationOptions) -> Result<Rotation, (&'static str, String)> {
        let members: Vec<String> = o.members.iter().map(|m| m.trim().to_owned()).collect();
        if members.len() < 2 {
            return Err((
                "oncall.members",
                "at least two people (a shift has a primary and a different secondary)".into(),
            ));
        }
        if let Some(m) = members.iter().find(|m| m.is_empty()) {
            return Err(("oncall.members", format!("an empty name ({m:?})")));
        }
        let mut seen = std::collections::BTreeSet::new();
        for m in &members {
            if !seen.insert(m.to_ascii_lowercase()) {
                return Err((
                    "oncall.members",
                    format!("{m} is listed twice; each person once, in rotation order"),
                ));
            }
        }
        if !(1..=24 * 14).contains(&o.shift_hours) {
            return Err((
                "oncall.shift_hours",
                "1 to 336 (the runbook's rotation is 72)".into(),
            ));
        }
        let tz = TimeZone::get(o.time_zone.trim()).map_err(|_| {
            (
                "oncall.time_zone",
                format!(
                    "{:?} is not an IANA time zone (such as America/Los_Angeles or Europe/Berlin)",
                    o.time_zone
                ),
            )
        })?;
        let civil: jiff::civil::DateTime = o.start.trim().parse().map_err(|_| {
            (
                "oncall.start",
                format!(
                    "{:?} is not a wall-clock time such as 2026-11-02T09:00",
                    o.start
                ),
            )
        })?;
        let start = civil
            .to_zoned(tz.clone())
            .map_err(|e| ("oncall.start", e.to_string()))?;
        Ok(Rotation {
            members,
            start_ms: start.timestamp().as_millisecond(),
            shift_ms: i64::from(o.shift_hours) * 3_600_000,
            tz,
            zone_name: o.time_zone.trim().to_owned(),
            shown: None,
        })
    }

    /// The same rotation, its times shown (and forms read) in `zone` (an IANA name): a page
    /// speaks its reader's zone. A zone the database does not know leaves the rotation's own.
    pub fn shown_in(&self, zone: &str) -> Rotation {
        Rotation {
            shown: TimeZone::get(zone).ok(),
            ..self.clone()
        }
    }

    /// The zone times are shown in: the reader's when set, else the rotation's.
    fn display_tz(&self) -> TimeZone {
        self.shown.clone().unwrap_or_else(|| self.tz.clone())
    }

    pub fn members(&self) -> &[String] {
        &self.members
    }

    pub fn zone_name(&self) -> &str {
        &self.zone_name
    }

    pub fn shift_ms(&self) -> i64 {
        self.shift_ms
    }

    /// Whether `login` is in the rotation (logins compare without case, as GitHub's do).
    pub fn is_member(&self, login: &str) -> bool {
        self.members.iter().any(|m| m.eq_ignore_ascii_case(login))
    }

    /// The member as configured, for a login spelled in any case.
    pub fn member(&self, login: &str) -> Option<&str> {
        self.members
            .iter()
            .find(|m| m.eq_ignore_ascii_case(login))
            .map(String::as_str)
    }

    /// The shift with this index.
    pub fn shift(&self, index: i64) -> Shift {
        let n = self.members.len() as i64;
        let start_ms = self.start_ms + index * self.shift_ms;
        Shift {
            index,
            start_ms,
            end_ms: start_ms + self.shift_ms,
            primary: self.members[index.rem_euclid(n) as usize].clone(),
            secondary: self.members[(index + 1).rem_euclid(n) as usize].clone(),
        }
    }

    /// The index of the shift holding instant `t_ms` (a shift holds its start, not its end).
    pub fn index_at(&self, t_ms: i64) -> i64 {
        (t_ms - self.start_ms).div_euclid(self.shift_ms)
    }

    pub fn shift_at(&self, t_ms: i64) -> Shift {
        self.shift(self.index_at(t_ms))
    }

    /// Every shift that overlaps `[from_ms, to_ms)`, in order.
    pub fn shifts(&self, from_ms: i64, to_ms: i64) -> Vec<Shift> {
        if to_ms <= from_ms {
            return Vec::new();
        }
        (self.index_at(from_ms)..=self.index_at(to_ms - 1))
            .map(|i| self.shift(i))
            .collect()
    }

    /// A wall-clock rendering of an instant, in the zone shown ([`Rotation::shown_in`], else
    /// the rotation's): `Mon 2 Nov 2026 09:00 PST`, as [`vocab::Zone::day_time`] writes it.
    pub fn local(&self, t_ms: i64) -> String {
        match Timestamp::from_millisecond(t_ms) {
            Ok(ts) => ts
                .to_zoned(self.display_tz())
                .strftime("%a %-d %b %Y %H:%M %Z")
                .to_string(),
            Err(_) => t_ms.to_string(),
        }
    }

    /// A wall-clock time in the zone shown, as a form sends it (`2026-12-02T09:00`), to
    /// an instant. A time inside a daylight-saving gap reads as the clock reads after it.
    pub fn parse_local(&self, text: &str) -> Result<i64, crate::time::LocalTimeError> {
        crate::time::local_in(self.display_tz(), text)
    }

    /// An instant as a form's `datetime-local` value in the zone shown.
    pub fn local_input(&self, t_ms: i64) -> String {
        Timestamp::from_millisecond(t_ms)
            .map(|ts| {
                ts.to_zoned(self.display_tz())
                    .strftime("%Y-%m-%dT%H:%M")
                    .to_string()
            })
            .unwrap_or_default()
    }

    /// The zone's UTC offset at an instant, in seconds.
    pub fn offset_secs(&self, t_ms: i64) -> i32 {
        Timestamp::from_millisecond(t_ms)
            .map(|ts| self.tz.to_offset(ts).seconds())
            .unwrap_or(0)
    }

    /// When the local clock jumps between `start_ms` and `end_ms`: by how much, in words
    /// ("local clocks go back 1 h during this shift: 72 real hours end at 08:00 on the wall
    /// clock, not 09:00"). `None` when the offset is the same at both ends.
    pub fn clock_change(&self, start_ms: i64, end_ms: i64) -> Option<String> {
        let delta = self.offset_secs(end_ms) - self.offset_secs(start_ms);
        if delta == 0 {
            return None;
        }
        let amount = crate::time::human_age(i64::from(delta.abs()) * 1000);
        let hm = |t_ms: i64| {
            Timestamp::from_millisecond(t_ms)
                .map(|ts| ts.to_zoned(self.tz.clone()).strftime("%H:%M").to_string())
                .unwrap_or_default()
        };
        // The wall-clock end a shift would have without the jump.
        let naive_end = hm(end_ms - i64::from(delta) * 1000);
        let way = if delta > 0 { "forward" } else { "back" };
        let hours = (end_ms - start_ms) / 3_600_000;
        Some(format!(
            "local clocks go {way} {amount} during this span: {hours} real hours end at {} on the wall clock, not {naive_end}",
            hm(end_ms)
        ))
    }
}

/// A cover: `covering` holds `seat` during `[start_ms, end_ms)` instead of `covered`. A swap is
/// two covers accepted together.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cover {
    pub seat: Seat,
    pub start_ms: i64,
    pub end_ms: i64,
    pub covered: String,
    pub covering: String,
}

/// A stretch of time with one primary and one secondary, after overrides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    pub start_ms: i64,
    pub end_ms: i64,
    pub shift_index: i64,
    pub primary: String,
    pub secondary: String,
    /// Whether an override put this primary (or secondary) there.
    pub primary_covered: bool,
    pub secondary_covered: bool,
}

impl Segment {
    pub fn holder(&self, seat: Seat) -> &str {
        match seat {
            Seat::Primary => &self.primary,
            Seat::Secondary => &self.secondary,
        }
    }
}

/// Who holds each seat at `t_ms`, applying `covers` in order (the accepted ones, oldest
/// acceptance first: a later override of the same span applies on top of an earlier one).
pub fn on_call_at(rotation: &Rotation, covers: &[Cover], t_ms: i64) -> Segment {
    let shift = rotation.shift_at(t_ms);
    let mut seg = Segment {
        start_ms: shift.start_ms,
        end_ms: shift.end_ms,
        shift_index: shift.index,
        primary: shift.primary,
        secondary: shift.secondary,
        primary_covered: false,
        secondary_covered: false,
    };
    for c in covers {
        if c.start_ms <= t_ms && t_ms < c.end_ms {
            let (holder, flag) = match c.seat {
                Seat::Primary => (&mut seg.primary, &mut seg.primary_covered),
                Seat::Secondary => (&mut seg.secondary, &mut seg.secondary_covered),
            };
            if holder.eq_ignore_ascii_case(&c.covered) {
                *holder = c.covering.clone();
                *flag = true;
            }
        }
    }
    seg
}

/// The timeline of `[from_ms, to_ms)`: consecutive segments, split at every shift boundary and
/// wherever an override changes a seat's holder. Adjacent stretches of one shift with the same
/// people are one segment.
pub fn timeline(rotation: &Rotation, covers: &[Cover], from_ms: i64, to_ms: i64) -> Vec<Segment> {
    if to_ms <= from_ms {
        return Vec::new();
    }
    let mut cuts: Vec<i64> = vec![from_ms, to_ms];
    for s in rotation.shifts(from_ms, to_ms) {
        cuts.push(s.start_ms);
        cuts.push(s.end_ms);
    }
    for c in covers {
        cuts.push(c.start_ms);
        cuts.push(c.end_ms);
    }
    cuts.retain(|&t| from_ms <= t && t <= to_ms);
    cuts.sort_unstable();
    cuts.dedup();
    let mut out: Vec<Segment> = Vec::new();
    for w in cuts.windows(2) {
        let mut seg = on_call_at(rotation, covers, w[0]);
        seg.start_ms = w[0];
        seg.end_ms = w[1];
        match out.last_mut() {
            Some(last)
                if last.shift_index == seg.shift_index
                    && last.primary == seg.primary
                    && last.secondary == seg.secondary
                    && last.primary_covered == seg.primary_covered
                    && last.secondary_covered == seg.secondary_covered =>
            {
                last.end_ms = seg.end_ms;
            }
            _ => out.push(seg),
        }
    }
    out
}

/// A stretch of one shift in which one person holds one seat, after overrides: what "your
/// coming shifts" lists and what a person can give away (by a cover or a swap).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Part {
    pub shift_index: i64,
    pub seat: Seat,
    pub start_ms: i64,
    pub end_ms: i64,
    pub holder: String,
    /// Whether an override put the holder there.
    pub covering: bool,
    /// Who holds the other seat during the part, in order, each once: none of them can cover
    /// it.
    pub others: Vec<String>,
}

/// The parts of every shift that overlaps `[from_ms, to_ms)` (cut to it), ordered by shift,
/// then start, primary before secondary.
pub fn parts(rotation: &Rotation, covers: &[Cover], from_ms: i64, to_ms: i64) -> Vec<Part> {
    let segments = timeline(rotation, covers, from_ms, to_ms);
    let mut out: Vec<Part> = Vec::new();
    for seat in [Seat::Primary, Seat::Secondary] {
        let mut run: Option<Part> = None;
        for g in &segments {
            let covering = match seat {
                Seat::Primary => g.primary_covered,
                Seat::Secondary => g.secondary_covered,
            };
            let (holder, other) = (g.holder(seat), g.holder(seat.other()));
            match &mut run {
                Some(p)
                    if p.shift_index == g.shift_index
                        && p.holder == holder
                        && p.covering == covering =>
                {
                    p.end_ms = g.end_ms;
                    if !p.others.iter().any(|o| o == other) {
                        p.others.push(other.to_owned());
                    }
                }
                _ => {
                    out.extend(run.take());
                    run = Some(Part {
                        shift_index: g.shift_index,
                        seat,
                        start_ms: g.start_ms,
                        end_ms: g.end_ms,
                        holder: holder.to_owned(),
                        covering,
                        others: vec![other.to_owned()],
                    });
                }
            }
        }
        out.extend(run);
    }
    out.sort_by_key(|p| (p.shift_index, p.start_ms, p.seat == Seat::Secondary));
    out
}

/// [`check_cover`]'s reasons, in words.
fn check_cover_why(rotation: &Rotation, accepted: &[Cover], c: &Cover) -> Result<(), String> {
    if c.end_ms <= c.start_ms {
        return Err("The override's end must be after its start.".into());
    }
    if c.end_ms - c.start_ms > 14 * 24 * 3_600_000 {
        return Err("An override covers at most 14 days; ask for one per shift instead.".into());
    }
    if c.covered.eq_ignore_ascii_case(&c.covering) {
        return Err(format!("{} cannot cover for themselves.", c.covering));
    }
    if !rotation.is_member(&c.covering) {
        return Err(format!(
            "{} is not in the rotation ([oncall] members); only people in it can cover.",
            c.covering
        ));
    }
    for seg in timeline(rotation, accepted, c.start_ms, c.end_ms) {
        let holder = seg.holder(c.seat);
        if !holder.eq_ignore_ascii_case(&c.covered) {
            return Err(format!(
                "{} is not {} from {} to {} ({holder} is); an override gives away only what its person holds.",
                c.covered,
                c.seat.as_str(),
                rotation.local(seg.start_ms),
                rotation.local(seg.end_ms),
            ));
        }
        if seg.holder(c.seat.other()).eq_ignore_ascii_case(&c.covering) {
            return Err(format!(
                "{} is already {} from {} to {}: a person cannot be primary and secondary at once. Ask someone else.",
                c.covering,
                c.seat.other().as_str(),
                rotation.local(seg.start_ms),
                rotation.local(seg.end_ms),
            ));
        }
    }
    Ok(())
}

/// Why a cover cannot apply on top of the accepted ones, or `Ok`. The same check runs when the
/// override is asked for and again when it is accepted (others may have been accepted since).
///
/// Over the whole span, `covered` must hold the seat (one cannot give away what one does not
/// hold), and `covering` must not hold the other seat (a primary cannot be their own secondary).
///
/// A refusal by the guard `rotation`: the same check is part of asking and of accepting.
pub fn check_cover(rotation: &Rotation, accepted: &[Cover], c: &Cover) -> Result<(), Refusal> {
    check_cover_why(rotation, accepted, c).map_err(|why| Refusal::new("rotation", why))
}

#[cfg(test)]
mod tests;
