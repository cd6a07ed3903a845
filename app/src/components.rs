//! The app shell: header, navigation, the signed-in person, theme toggle and environment badges.

use leptos::prelude::*;

use crate::api::EnvironmentSummary;

/// Runs in `<head>` before the first paint: applies the theme saved by [`ThemeToggle`], and
/// tells the server the browser's time zone (cookie [`ZONE_COOKIE`]) so that the next answer
/// speaks it when the person has not chosen one. IANA names need no escaping in a cookie.
pub const THEME_BOOT_SCRIPT: &str = "try{var t=localStorage.getItem('onwatch-theme');\
if(t==='light'||t==='dark'){document.documentElement.dataset.theme=t;}}catch(e){}\
try{var z=Intl.DateTimeFormat().resolvedOptions().timeZone;\
if(z&&/^[A-Za-z0-9_+\\/-]{1,64}$/.test(z)){document.cookie='onwatch_tz='+z+';path=/;max-age=31536000;SameSite=Lax';}}catch(e){}";

/// The cookie that carries the browser's time zone (set by [`THEME_BOOT_SCRIPT`]).
pub use vocab::zone::COOKIE as ZONE_COOKIE;

const THEME_KEY: &str = "onwatch-theme";

/// The id of the `<script>` that carries the shell's data from the server's render to the browser.
const SHELL_DATA_ID: &str = "onwatch-shell";

/// The shell's data for the page, or why there is none. Pages read it from the context.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Shell(pub Result<crate::api::ShellData, String>);

#[component]
pub fn Layout(children: Children) -> impl IntoView {
    // Who is signed in is known before the first render on both sides: the server reads it from
    // the request and writes it into the page; the browser reads that back before hydrating. The
    // header is therefore drawn at once, without a round trip or a Suspense boundary.
    let shell = shell_data();
    let json = crate::data::embed(&shell);
    provide_context(shell.clone());
    // One rule for time on every page (issue #28, point 12): the zone the server worked out
    // for this person, the same when the browser draws the page again.
    provide_context(shell.0.as_ref().map(|d| d.zone.clone()).unwrap_or_default());
    crate::live::provide_live_fleet();
    view! {
        <div class="shell">
            // The first stop of the Tab key: past the header, straight to what the page says.
            <a class="skip-link" href="#main" on:click=skip_to_content>"Skip to content"</a>
            <script type="application/json" id=SHELL_DATA_ID inner_html=json></script>
            <TopBar shell/>
            <crate::live::StaleBanner/>
            <main class="content" id="main" tabindex="-1">{children()}</main>
        </div>
    }
}

/// The signed-in person's role, from the shell's data (pages hide what it cannot do; the server
/// checks again).
pub fn my_role() -> Option<vocab::Role> {
    use_context::<Shell>()
        .and_then(|s| s.0.ok())
        .and_then(|d| d.signed_in)
        .map(|s| s.role)
}

/// The shell's data for the page being drawn (see [`Layout`]).
#[cfg(feature = "ssr")]
fn shell_data() -> Shell {
    Shell(crate::api::shell_data_now().map_err(|e| e.to_string()))
}

/// The shell's data for the page being drawn: what the server wrote into the page being
/// hydrated (see [`Layout`]). The layout is drawn once, when the page is hydrated.
#[cfg(not(feature = "ssr"))]
fn shell_data() -> Shell {
    if !crate::data::hydrating() {
        return Shell(Err(
            "the portal's layout was drawn outside of a page: reload it".into(),
        ));
    }
    crate::data::embedded(SHELL_DATA_ID).unwrap_or_else(|e| Shell(Err(e)))
}

/// The header bar, and the development sign-in banner under it.
#[component]
fn TopBar(shell: Shell) -> impl IntoView {
    let (data, error) = match shell.0 {
        Ok(data) => (Some(data), None),
        Err(e) => (None, Some(e)),
    };
    let admin = data
        .as_ref()
        .and_then(|i| i.signed_in.as_ref())
        .is_some_and(|v| v.can(vocab::Role::Admin));
    let dev_signin = data.as_ref().is_some_and(|i| i.dev_signin);
    // The strips under the header (incidents, on call, readiness) follow the server: when the
    // live stream announces another header than the one drawn, it is read again.
    let strips = RwSignal::new(data.as_ref().map(Strips::of).unwrap_or_default());
    let live = crate::live::use_live_fleet();
    Effect::new(move |_| {
        let Some(announced) = live.header.get() else {
            return;
        };
        if strips.with_untracked(|s| s.version) == announced {
            return;
        }
        leptos::task::spawn_local(async move {
            // A failed read leaves the strips as they were; the next announcement tries again.
            if let Ok(d) = crate::api::shell_info().await {
                strips.try_set(Strips::of(&d));
            }
        });
    });
    // The section the location is in, worked out once for all the links.
    let location = leptos_router::hooks::use_location();
    let current = Memo::new(move |_| section_of(&location.pathname.get()));
    let right = match data {
        Some(info) => {
            // The environment of the page (its badge red for production), or nothing: a
            // badge that says LIVE over an acceptance page is a badge nobody believes.
            let environments = info.environments;
            let page_env = move || {
                let path = location.pathname.get();
                let name = path
                    .strip_prefix("/environments/")
                    .and_then(|rest| rest.split('/').next())?
                    .to_owned();
                environments.iter().find(|e| e.name == name).cloned()
            };
            view! {
                <span class="prod-badges" data-testid="page-env">
                    {move || page_env().map(|e| view! { <EnvBadge env=e/> })}
                </span>
                <SignedInSlot signed_in=info.signed_in csrf=info.csrf_token/>
            }
            .into_any()
        }
        None => view! {
            <span class="error-inline" role="alert">"Portal unreachable: " {error.unwrap_or_default()}</span>
        }
        .into_any(),
    };
    view! {
        <header class="topbar">
            <a class="brand" href="/">
                <span class="brand-mark" aria-hidden="true">"◉"</span>
                <span class="brand-name">"Onwatch"</span>
            </a>
            <nav class="mainnav" aria-label="Sections">
                {crate::palette::SECTIONS
                    .iter()
                    .map(|(href, label)| view! { <NavLink href current>{*label}</NavLink> })
                    .collect_view()}
                // Only admins see the admin section; the server refuses it to anyone else.
                {admin.then(|| view! { <NavLink href=ADMIN_SECTION current>"Admin"</NavLink> })}
            </nav>
            <div class="topbar-right">
                {right}
                <crate::palette::Palette/>
                <ThemeToggle/>
            </div>
        </header>
        {move || strips.with(|s| (!s.incidents.is_empty()).then(|| view! { <IncidentStrip incidents=s.incidents.clone()/> }))}
        {move || strips.with(|s| s.oncall.clone().map(|now| view! { <OnCallStrip now not_ready=s.not_ready.clone()/> }))}
        {dev_signin.then(|| view! {
            <div class="dev-banner" role="alert" data-testid="dev-banner">
                <strong>"Development sign-in is enabled."</strong>
                " Anyone who can reach this portal can pick any name and role. For a laptop or a test run only, never for the real fleet."
            </div>
        })}
    }
}

/// What the strips under the header show, and which header (its fingerprint) that is.
#[derive(Clone, Default, PartialEq)]
struct Strips {
    version: u64,
    incidents: Vec<crate::incidents::OpenView>,
    oncall: Option<crate::oncall::NowView>,
    not_ready: Vec<String>,
}

impl Strips {
    fn of(d: &crate::api::ShellData) -> Strips {
        Strips {
            version: d.header_version,
            incidents: d.incidents.clone(),
            oncall: d.oncall.clone(),
            not_ready: d.not_ready.clone(),
        }
    }
}

/// The open incidents, under the header of every page: who is in charge of each, and an
/// unmissable "nobody in charge" when whoever was stepped away without handing over.
#[component]
fn IncidentStrip(incidents: Vec<crate::incidents::OpenView>) -> impl IntoView {
    view! {
        <div class="incident-strip" data-testid="incident-strip">
            {incidents.into_iter().map(|i| {
                let nobody = i.owner.is_empty();
                view! {
                    <a href=format!("/incidents/{}", i.id) class=if nobody { "incident-open nobody" } else { "incident-open" } data-testid="incident-open">
                        <strong>"Incident: "</strong>{i.title.clone()}" (" {i.status.clone()} ") — "
                        {if nobody {
                            view! { <strong data-testid="nobody-in-charge">"nobody in charge: take it"</strong> }.into_any()
                        } else {
                            view! { <span>{format!("{} in charge", i.owner)}</span> }.into_any()
                        }}
                    </a>
                }
            }).collect_view()}
        </div>
    }
}

/// Who is on call now and next, under the header of every page.
#[component]
fn OnCallStrip(now: crate::oncall::NowView, not_ready: Vec<String>) -> impl IntoView {
    let next = match (&now.next_primary, &now.next_secondary) {
        (Some(p), Some(s)) => Some(format!("{p} (primary), {s} (secondary)")),
        (Some(p), None) => Some(format!("{p} (primary)")),
        _ => None,
    };
    view! {
        <div class="oncall-strip" data-testid="oncall-strip">
            <a href="/oncall" class="oncall-now">
                <span class="muted">"On call now: "</span>
                <strong data-testid="oncall-primary">{now.primary.clone()}</strong>
                <span class="muted">" (primary), "</span>
                <strong data-testid="oncall-secondary">{now.secondary.clone()}</strong>
                <span class="muted">" (secondary)"</span>
            </a>
            {now.until.clone().map(|u| view! { <span class="muted" data-testid="oncall-until">" until " {u}</span> })}
            {next.map(|n| view! { <span class="oncall-next">" · next: " {n}</span> })}
            {(now.source == "pagerduty").then(|| view! { <span class="muted small">" · from PagerDuty"</span> })}
            {now.stale.clone().map(|s| view! { <span class="stale-note" role="status">" · " {s}</span> })}
            {(!not_ready.is_empty()).then(|| view! {
                <a href="/onboarding" class="not-ready-flag" data-testid="not-ready-flag">
                    {format!(" · scheduled but not ready for on-call: {}", not_ready.join(", "))}
                </a>
            })}
        </div>
    }
}

const ADMIN_SECTION: &str = "/admin/sessions";

/// The section (its link) that `path` is in, if any.
fn section_of(path: &str) -> Option<&'static str> {
    crate::palette::SECTIONS
        .iter()
        .map(|(href, _)| *href)
        .chain([ADMIN_SECTION])
        .find(|href| {
            path.strip_prefix(href)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        })
}

/// A section link, marked `aria-current="page"` while the location is in its section. A plain
/// anchor (the router handles the clicks): cheaper to render than the router's `<A>`.
#[component]
fn NavLink(
    href: &'static str,
    current: Memo<Option<&'static str>>,
    children: Children,
) -> impl IntoView {
    let aria_current = move || (current.get() == Some(href)).then_some("page");
    view! { <a href=href aria-current=aria_current>{children()}</a> }
}

/// Who is signed in, with which role, and the sign-out button (a plain form: it works before
/// the page is interactive).
#[component]
fn SignedInSlot(signed_in: Option<crate::api::SignedIn>, csrf: String) -> impl IntoView {
    match signed_in {
        Some(v) => view! {
            <span class="viewer" data-testid="viewer" title=format!("{} via {}", v.login, v.provider)>
                <a class="viewer-name" href="/settings" title="Your settings: the time zone Onwatch shows times in" data-testid="settings-link">{v.name}</a>
                <span class=format!("role role-{}", v.role) data-testid="viewer-role">{v.role.as_str()}</span>
                <form method="post" action="/auth/signout" class="signout">
                    <input type="hidden" name="_csrf" value=csrf/>
                    <button type="submit" class="link-button" data-testid="signout">"Sign out"</button>
                </form>
            </span>
        }
        .into_any(),
        None => view! {
            <span class="viewer viewer-anon" data-testid="viewer">"Not signed in"</span>
        }
        .into_any(),
    }
}

/// An environment's name, impossible to miss when it is production.
#[component]
pub fn EnvBadge(env: EnvironmentSummary) -> impl IntoView {
    let (class, title, label) = badge_parts(&env.name, env.production);
    view! { <span class=class title=title data-env=env.name.clone()>{label}</span> }
}

/// The class, title and label of an environment's badge (also written as text by
/// [`crate::pages::markup`]).
pub fn badge_parts(name: &str, production: bool) -> (&'static str, String, String) {
    if production {
        (
            "env-badge env-prod",
            format!("{name}: production environment"),
            format!("⚠ {}", name.to_ascii_uppercase()),
        )
    } else {
        (
            "env-badge env-nonprod",
            format!("{name}: not production"),
            name.to_ascii_uppercase(),
        )
    }
}

/// Cycles the theme: follow the OS → light → dark. Saved in the browser, applied without reload.
#[component]
pub fn ThemeToggle() -> impl IntoView {
    let (theme, set_theme) = signal(String::from("system"));
    // In the browser only: pick up the theme saved by an earlier visit.
    Effect::new(move |_| {
        if let Some(saved) = saved_theme() {
            set_theme.set(saved);
        }
    });
    let cycle = move |_| {
        let next = match theme.get_untracked().as_str() {
            "system" => "light",
            "light" => "dark",
            _ => "system",
        };
        apply_theme(next);
        set_theme.set(next.to_owned());
    };
    view! {
        <button
            class="theme-toggle"
            type="button"
            data-testid="theme-toggle"
            data-theme-choice=move || theme.get()
            on:click=cycle
            title="Theme: follow the system, light or dark"
        >
            {move || match theme.get().as_str() {
                "light" => "☀ Light",
                "dark" => "☾ Dark",
                _ => "◐ System",
            }}
        </button>
    }
}

/// The skip link's click: focus the page's content (the router would otherwise take the
/// `#main` link as a navigation and leave the focus where it was). Without script the plain
/// link does the same.
fn skip_to_content(ev: leptos::ev::MouseEvent) {
    use wasm_bindgen::JsCast;
    let main = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.get_element_by_id("main"))
        .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok());
    if let Some(main) = main {
        ev.prevent_default();
        let _ = main.focus();
        main.scroll_into_view();
    }
}

fn saved_theme() -> Option<String> {
    let storage = web_sys::window()?.local_storage().ok()??;
    storage
        .get_item(THEME_KEY)
        .ok()?
        .filter(|t| t == "light" || t == "dark")
}

fn apply_theme(theme: &str) {
    let Some(window) = web_sys::window() else {
        return;
    };
    if let Some(root) = window.document().and_then(|d| d.document_element()) {
        let _ = if theme == "system" {
            root.remove_attribute("data-theme")
        } else {
            root.set_attribute("data-theme", theme)
        };
    }
    if let Ok(Some(storage)) = window.local_storage() {
        let _ = if theme == "system" {
            storage.remove_item(THEME_KEY)
        } else {
            storage.set_item(THEME_KEY, theme)
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_is_in_the_section_it_starts_with_and_no_other() {
        assert_eq!(section_of("/services"), Some("/services"));
        assert_eq!(section_of("/services/sessionsrv"), Some("/services"));
        assert_eq!(section_of("/admin/sessions"), Some(ADMIN_SECTION));
        assert_eq!(section_of("/servicesx"), None);
        assert_eq!(section_of("/"), None);
        assert_eq!(section_of("/releases"), None);
    }

    #[test]
    fn the_boot_script_sets_the_cookie_the_server_reads() {
        assert!(THEME_BOOT_SCRIPT.contains(&format!("'{ZONE_COOKIE}='")));
    }

    #[cfg(feature = "ssr")]
    #[test]
    fn shell_data_cannot_end_its_script_element() {
        let data = crate::api::ShellData {
            header_version: 0,
            version: "1".into(),
            store_backend: "sqlite".into(),
            environments: vec![],
            signed_in: Some(crate::api::SignedIn {
                name: "</script><script>alert(1)</script> & <!--".into(),
                login: "x".into(),
                role: vocab::Role::Viewer,
                provider: "dev".into(),
            }),
            dev_signin: false,
            csrf_token: "t".into(),
            oncall: None,
            not_ready: vec![],
            incidents: vec![],
            zone: vocab::Zone::utc(),
        };
        let json = crate::data::script_json(&data);
        assert!(!json.contains('<') && !json.contains('>') && !json.contains('&'));
        let back: crate::api::ShellData = serde_json::from_str(&json).unwrap();
        assert_eq!(back, data);
    }
}
