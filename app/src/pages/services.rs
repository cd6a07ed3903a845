use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use super::LoadError;
use crate::api::{get_service, list_services, ServiceSynopsis};

#[component]
pub fn ServicesPage() -> impl IntoView {
    let services = Resource::new(|| (), |_| list_services());
    view! {
        <Title text="Services"/>
        <section class="page">
            <h1>"Services"</h1>
            <p class="lede">"The Builder services and the sentinel bot: what each does and what to do when it misbehaves."</p>
            <Suspense fallback=|| view! { <p class="muted">"Loading services…"</p> }>
                {move || Suspend::new(async move {
                    match services.await {
                        Ok(list) => view! {
                            <div class="service-cards">
                                {list.into_iter().map(|s| view! { <ServiceCard service=s/> }).collect_view()}
                            </div>
                        }.into_any(),
                        Err(e) => view! { <LoadError message=e.to_string()/> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn ServiceCard(service: ServiceSynopsis) -> impl IntoView {
    let href = format!("/services/{}", service.slug);
    view! {
        <article class="service-card" data-service=service.slug.clone()>
            <h2><a href=href>{service.slug.clone()}</a><span class="muted small">" " {service.title}</span></h2>
            <p>{service.role}</p>
        </article>
    }
}

#[component]
pub fn ServicePage() -> impl IntoView {
    let params = use_params_map();
    let slug = move || params.read().get("slug").unwrap_or_default();
    let service = Resource::new(slug, get_service);
    view! {
        <section class="page">
            <Suspense fallback=|| view! { <p class="muted">"Loading service…"</p> }>
                {move || Suspend::new(async move {
                    match service.await {
                        Ok(Some(s)) => view! { <ServiceDetail service=s/> }.into_any(),
                        Ok(None) => view! {
                            <Title text="Unknown service"/>
                            <h1>"Unknown service"</h1>
                            <p>"Onwatch knows no service by that name. "<a href="/services">"See all services"</a>"."</p>
                        }.into_any(),
                        Err(e) => view! { <LoadError message=e.to_string()/> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn ServiceDetail(service: ServiceSynopsis) -> impl IntoView {
    let cautions = service.cautions.clone();
    view! {
        <Title text=service.slug.clone()/>
        <p class="crumbs"><a href="/services">"Services"</a>" / "{service.slug.clone()}</p>
        <h1>{service.slug.clone()}<span class="muted">" · " {service.title.clone()}</span></h1>
        <p class="lede">{service.role.clone()}</p>
        <dl class="facts">
            <dt>"Package"</dt><dd><code>{service.package.clone()}</code></dd>
            <dt>"Runs as"</dt><dd>{service.runner.clone()}</dd>
        </dl>
        <h2>"Symptoms and remedy"</h2>
        <table class="symptoms">
            <thead><tr><th>"If you see"</th><th>"Do this"</th></tr></thead>
            <tbody>
                {service
                    .symptoms
                    .into_iter()
                    .map(|(seen, remedy)| view! { <tr><td>{seen}</td><td>{remedy}</td></tr> })
                    .collect_view()}
            </tbody>
        </table>
        {(!cautions.is_empty()).then(|| view! {
            <h2>"Before you restart it"</h2>
            <ul class="cautions">{cautions.into_iter().map(|c| view! { <li>{c}</li> }).collect_view()}</ul>
        })}
    }
}
