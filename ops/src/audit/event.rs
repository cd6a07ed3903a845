//! What an audit row is about: its kind, as code names it ([`Event`]) and as the log stores it
//! ([`Event::as_str`]).
//!
//! The stored text is part of every row's hash, so it never changes: renaming a variant is
//! free, changing its text would make every row written before fail to verify (the tests below
//! list the exact texts). Rows are read back as text ([`super::AuditRow::kind`]), and a kind this
//! version does not know (written by a newer one) stays readable: [`Event::parse`] gives `None`.

use std::fmt;
use std::str::FromStr;

/// Declares [`Event`], [`Event::ALL`] and [`Event::as_str`] from one list, so that no variant
/// lacks its text or its place in `ALL`.
macro_rules! events {
    ($($(#[$doc:meta])* $variant:ident => $text:literal,)*) => {
        /// The kind of an audit row.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Event {
            $($(#[$doc])* $variant,)*
        }

        impl Event {
            /// Every kind, in the order of the enum.
            pub const ALL: &'static [Event] = &[$(Event::$variant),*];

            /// The text the log stores (and hashes) for this kind. Never change one: rows
            /// written before would no longer verify.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Event::$variant => $text,)*
                }
            }
        }
    };
}

events! {
    /// An action (restart, build request) about to run: its guards passed.
    ActionIntent => "action.intent",
    /// How an action ended (or that it was interrupted).
    ActionOutcome => "action.outcome",
    /// An action its guards refused.
    ActionRefused => "action.refused",
    /// An action asked again with the idempotency key of one already asked.
    ActionDuplicate => "action.duplicate",
    /// A note that an action's outcome was superseded (the sweeper settled it first).
    ActionSuperseded => "action.superseded",
    /// A query run on the shard console (or refused).
    ConsoleQuery => "console.query",
    /// A console result exported.
    ConsoleExport => "console.export",
    /// A Supervisor log watched.
    LogsWatch => "logs.watch",
    /// The datastore's lock files read (an attempt, then `done`, `failed` or `refused`;
    /// rate-limited per person by counting the attempts).
    LocksRead => "locks.read",
    /// The sentinel's status asked (an attempt, then `done`, `failed` or `refused`;
    /// rate-limited per person by counting the attempts).
    SentinelStatus => "sentinel.status",
    /// A sign-in.
    Signin => "signin",
    /// A sign-in refused.
    SigninRefused => "signin.refused",
    /// A sign-out.
    Signout => "signout",
    /// A session revoked by an admin.
    SessionRevoked => "session.revoked",
    /// Audit rows exported.
    AuditExport => "audit.export",
    /// An on-call override (swap, cover) asked, accepted, declined or withdrawn.
    OncallOverride => "oncall.override",
    /// The on-call calendar feed's link made or revoked.
    OncallFeed => "oncall.feed",
    /// A shift's handoff written or acknowledged.
    OncallHandoff => "oncall.handoff",
    /// An incident declared, updated or closed.
    Incident => "incident",
    /// An onboarding checklist changed, or an SSH key checked (outcomes
    /// [`KEY_CHECK`](crate::onboarding::KEY_CHECK) and
    /// [`KEY_CHECK_REFUSED`](crate::onboarding::KEY_CHECK_REFUSED), counted for its limit).
    Onboarding => "onboarding",
    /// A cancel of a running action asked (an attempt, then `done` when the request is in the
    /// action's row, or `refused` with the guard: `role`, `action` unknown, `state` not running
    /// or already asked). The action's own end follows in its `action.outcome` (`cancelled`).
    ActionCancel => "action.cancel",
}

impl Event {
    /// The kind a stored text names, or `None` for one this version does not know (a newer
    /// version's, or not a kind at all): such a row is still read, as text.
    pub fn parse(text: &str) -> Option<Event> {
        Event::ALL.iter().copied().find(|e| e.as_str() == text)
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stored text that names no kind this version knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownEvent(pub String);

impl fmt::Display for UnknownEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` is not an audit kind this version knows", self.0)
    }
}

impl std::error::Error for UnknownEvent {}

impl FromStr for Event {
    type Err = UnknownEvent;

    fn from_str(text: &str) -> Result<Event, UnknownEvent> {
        Event::parse(text).ok_or_else(|| UnknownEvent(text.to_owned()))
    }
}

impl TryFrom<&str> for Event {
    type Error = UnknownEvent;

    fn try_from(text: &str) -> Result<Event, UnknownEvent> {
        text.parse()
    }
}

impl From<Event> for String {
    fn from(e: Event) -> String {
        e.as_str().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_own_text_and_reads_back() {
        let mut texts = std::collections::BTreeSet::new();
        for &e in Event::ALL {
            assert!(
                texts.insert(e.as_str()),
                "{e:?}'s text is another kind's too"
            );
            assert_eq!(Event::parse(e.as_str()), Some(e));
            assert_eq!(e.as_str().parse::<Event>(), Ok(e));
            assert_eq!(Event::try_from(e.as_str()), Ok(e));
            assert_eq!(e.to_string(), e.as_str());
        }
        assert_eq!(texts.len(), Event::ALL.len());
    }

    #[test]
    fn an_unknown_kind_is_none_not_an_error_to_read() {
        assert_eq!(Event::parse("something.new"), None);
        assert_eq!(Event::parse(""), None);
        assert_eq!(Event::parse("Signin"), None, "texts are exact");
        assert_eq!(
            "something.new".parse::<Event>(),
            Err(UnknownEvent("something.new".into()))
        );
    }

    /// The stored texts, exactly: every row ever written hashed one of these, so a changed
    /// text breaks the verification of old chains. Only ever add a line.
    #[test]
    fn the_stored_texts_never_change() {
        let texts: Vec<&str> = Event::ALL.iter().map(|e| e.as_str()).collect();
        assert_eq!(
            texts,
            [
                "action.intent",
                "action.outcome",
                "action.refused",
                "action.duplicate",
                "action.superseded",
                "console.query",
                "console.export",
                "logs.watch",
                "locks.read",
                "sentinel.status",
                "signin",
                "signin.refused",
                "signout",
                "session.revoked",
                "audit.export",
                "oncall.override",
                "oncall.feed",
                "oncall.handoff",
                "incident",
                "onboarding",
                "action.cancel",
            ]
        );
    }
}
