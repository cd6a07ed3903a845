//! Sections whose live features arrive with later capabilities. Each says what it will hold and,
//! meanwhile, gives the runbook's manual procedure so the page is useful during an incident today.

use leptos::prelude::*;
use leptos_meta::Title;

#[component]
fn SectionPage(
    title: &'static str,
    purpose: &'static str,
    /// The manual procedure from the runbook, one step per item.
    manual: &'static [&'static str],
) -> impl IntoView {
    view! {
        <Title text=title/>
        <section class="page">
            <h1>{title}</h1>
            <p class="lede">{purpose}</p>
            <div class="callout">
                <h2>"Until this section is live, by hand"</h2>
                <ol class="manual">{manual.iter().map(|step| view! { <li>{*step}</li> }).collect_view()}</ol>
            </div>
        </section>
    }
}

#[component]
pub fn OnCallPage() -> impl IntoView {
    view! {
        <SectionPage
            title="On-call"
            purpose="Who is on call now and next (72-hour rotations), incident declaration and status updates in a friendly, professional tone."
            manual=&[
                "Check PagerDuty for the current primary and secondary.",
                "Declare the operational issue on statuspage.io; it posts to #general and tweets.",
                "Tell the team you are taking charge, and tell them when you stop.",
                "Post updates on statuspage.io only when the status materially changes.",
                "Escalate early: phone people, whatever the time.",
            ]
        />
    }
}

#[component]
pub fn OnboardingPage() -> impl IntoView {
    view! {
        <SectionPage
            title="Onboarding"
            purpose="A checklist per team member of everything needed before a first on-call shift, ticked off and tracked here."
            manual=&[
                "Member of the core origin and the habitat-sh GitHub group.",
                "Access to the team 1Password vault, PagerDuty, Datadog, Pingdom and statuspage.io.",
                "The Habitat AWS Portal app on your Okta dashboard (ask #helpdesk).",
                "ssh access to the production instances.",
                "Read the service synopses on the Services page.",
            ]
        />
    }
}
