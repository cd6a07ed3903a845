//! Pieces every fleet page uses: state cells (word + icon + colour) and links. The grid, alarms
//! and counts are in [`super::markup`].

use leptos::prelude::*;
use vocab::CellState;

/// The icon of a state. Colour is never the only signal: the word is always there too.
pub fn icon(state: CellState) -> &'static str {
    match state {
        CellState::Healthy => "✔",
        CellState::Warning => "▲",
        CellState::Critical => "✖",
        CellState::Down => "■",
        CellState::Unreachable => "⊘",
        CellState::Stale => "⌛",
        CellState::Unknown => "?",
        CellState::Stopped => "◻",
    }
}

#[component]
pub fn StateCell(state: CellState, #[prop(optional)] title: String) -> impl IntoView {
    let word = state.as_str();
    view! {
        <span class=format!("state state-{word}") title=title data-state=word>
            <span class="state-icon" aria-hidden="true">{icon(state)}</span>
            " "
            <span class="state-word">{word}</span>
        </span>
    }
}

pub fn env_href(env: &str) -> String {
    format!("/environments/{env}")
}

pub fn host_href(env: &str, host: &str) -> String {
    format!("/environments/{env}/hosts/{}", urlencode(host))
}

pub fn service_href(service: &str) -> String {
    format!("/services/{}", crate::fleet::slug_of(service))
}

/// Percent-encodes what a host name may contain that a path segment may not.
pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
