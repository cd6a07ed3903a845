//! The environments page: one card per configured environment, production marked in red.

use leptos::prelude::*;
use leptos_meta::Title;

use super::LoadError;
use crate::api::EnvironmentSummary;
use crate::components::EnvBadge;
use crate::components::Shell;

#[component]
pub fn EnvironmentsPage() -> impl IntoView {
    // The shell's data: the environments are known as soon as the page is (see `Layout`).
    let envs = use_context::<Shell>()
        .map(|shell| shell.0)
        .unwrap_or_else(|| Err("the page was drawn without the portal's layout: reload it".into()))
        .map(|info| info.environments);
    view! {
        <Title text="Environments"/>
        <section class="page">
            <h1>"Environments"</h1>
            <p class="lede">
                "Each environment is the set of EC2 instances tagged with its "
                <code>"X-Environment"</code>
                " value. Production is marked in red on every page."
            </p>
            {match envs {
                Ok(envs) => view! { <EnvironmentCards envs/> }.into_any(),
                Err(message) => view! { <LoadError message/> }.into_any(),
            }}
        </section>
    }
}

#[component]
fn EnvironmentCards(envs: Vec<EnvironmentSummary>) -> impl IntoView {
    if envs.is_empty() {
        return view! {
            <div class="callout">
                "No environments are configured. Add an [environments.NAME] table to the configuration file."
            </div>
        }
        .into_any();
    }
    view! {
        <div class="env-cards">
            {envs
                .into_iter()
                .map(|env| {
                    let class = if env.production { "env-card env-card-prod" } else { "env-card" };
                    let description = env.description.clone();
                    let name = env.name.clone();
                    view! {
                        <article class=class data-env=name.clone()>
                            <header><a href=format!("/environments/{name}")><EnvBadge env=env/></a></header>
                            <p>{description}</p>
                        </article>
                    }
                })
                .collect_view()}
        </div>
    }
    .into_any()
}
