//! The shard console's page: pick a database and shards (or locate them from a name or an id),
//! write a query, see progress shard by shard, then the rows with their shard, what failed and
//! what was cut; download them; find a query again in one's history or the team's saved ones.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::console::*;
use crate::fmt;

/// Rows drawn in the grid; the download has them all.
const GRID_ROWS: usize = 1000;

const FIRST_SQL: &str = "SELECT name, id, owner_id, created_at FROM origins ORDER BY name";

#[component]
pub fn ConsolePage() -> impl IntoView {
    let setup = Resource::new(|| (), |_| console_setup());
    view! {
        <Title text="Query console"/>
        <section class="page console-page">
            <h1>"Query console"</h1>
            <p class="lede">"Read-only SQL over the builder datastore: one shard, a list, or all 128 at once, in place of "
                <code>"psql"</code>" on the datastore host. Writes are refused, and every query is in the "
                <a href="/audit?kind=console">"audit log"</a>"."</p>
            <Suspense fallback=|| view! { <p class="muted">"Loading the console…"</p> }>
                {move || setup.get().map(|s| match s {
                    Err(e) => view! { <div class="callout callout-error" role="alert">{e.to_string()}</div> }.into_any(),
                    Ok(s) if s.environments.is_empty() => view! { <NotConfigured/> }.into_any(),
                    Ok(s) => view! { <Console setup=s/> }.into_any(),
                })}
            </Suspense>
            <details class="manual-fallback">
                <summary>"Without Onwatch (the runbook's way)"</summary>
                <ol class="manual">
                    <li>"ssh to the builder-datastore instance and become the hab user: " <code>"sudo su - hab"</code></li>
                    <li>"Run the packaged psql; " <code>"\\l"</code>" lists databases, " <code>"\\c builder_originsrv"</code>" connects."</li>
                    <li><code>"SET SEARCH_PATH TO shard_30;"</code>" — " <code>"\\dn"</code>" lists the shards; unsharded data (jobsrv) is in shard_0."</li>
                </ol>
            </details>
        </section>
    }
}

#[component]
fn NotConfigured() -> impl IntoView {
    view! {
        <div class="callout" data-testid="console-unconfigured">
            <h2>"No datastore is configured"</h2>
            <p>"Give Onwatch each environment's databases, connecting as a read-only role:"</p>
            <pre class="config-snippet">"[environments.live.databases.builder_originsrv]\nurl = \"postgres://onwatch_ro@datastore.live:5432/builder_originsrv\"\npassword_file = \"/etc/onwatch/datastore-live.pw\""</pre>
            <p>"The README's “Query console” section has the SQL that creates the role."</p>
        </div>
    }
}

#[component]
fn Console(setup: ConsoleSetupView) -> impl IntoView {
    let first_env = setup
        .environments
        .first()
        .map(|e| e.0.clone())
        .unwrap_or_default();
    let first_db = setup
        .environments
        .first()
        .map(|e| default_database(&e.1))
        .unwrap_or_default();
    let env = RwSignal::new(first_env);
    let db = RwSignal::new(first_db);
    let shards = RwSignal::new("all".to_owned());
    let sql = RwSignal::new(FIRST_SQL.to_owned());
    let running = RwSignal::new(None::<String>);
    let progress = RwSignal::new(None::<ConsoleProgress>);
    let result = RwSignal::new(None::<ResultView>);
    let refused = RwSignal::new(None::<String>);
    let history_version = RwSignal::new(0u32);
    let databases = Resource::new(move || env.get(), console_databases);
    let envs = setup.environments.clone();
    let may_query = setup.may_query;

    let run = move || {
        if running.get_untracked().is_some() {
            return;
        }
        refused.set(None);
        result.set(None);
        progress.set(None);
        let (e, d, s, q) = (
            env.get_untracked(),
            db.get_untracked(),
            shards.get_untracked(),
            sql.get_untracked(),
        );
        leptos::task::spawn_local(async move {
            match console_start(e, d, s, q).await {
                Ok(StartView::Started { id }) => {
                    running.set(Some(id.clone()));
                    match console_result(id, true).await {
                        Ok(Some(r)) => result.set(Some(r)),
                        Ok(None) => refused.set(Some("The result is no longer here: results are kept for a while on the Onwatch replica that ran them. Run the query again.".into())),
                        Err(e) => refused.set(Some(format!("The result could not be fetched: {e}"))),
                    }
                    running.set(None);
                    history_version.update(|v| *v += 1);
                }
                Ok(StartView::Refused { reason }) => refused.set(Some(reason)),
                Err(e) => refused.set(Some(e.to_string())),
            }
        });
    };
    follow(move || running.get(), progress);

    let db_choice = move || {
        let e = env.get();
        envs.iter()
            .find(|(n, _)| *n == e)
            .map(|(_, d)| d.clone())
            .unwrap_or_default()
    };
    let envs_for_select = setup.environments.clone();
    let envs_for_change = setup.environments.clone();
    let current_db = move || {
        let name = db.get();
        databases
            .get()
            .and_then(|r| r.ok())
            .and_then(|v| v.into_iter().find(|d| d.name == name))
    };

    view! {
        <div class="console-layout">
            <div class="console-main">
                <form class="console-form" data-testid="console-form" on:submit=move |ev| { ev.prevent_default(); run(); }>
                    <div class="console-target">
                        <label>"Environment "
                            <select data-testid="console-env" prop:value=move || env.get()
                                on:change=move |ev| {
                                    let e = event_target_value(&ev);
                                    if let Some((_, dbs)) = envs_for_change.iter().find(|(n, _)| *n == e) {
                                        db.set(default_database(dbs));
                                    }
                                    env.set(e);
                                }>
                                {envs_for_select.iter().map(|(e, _)| view! { <option value=e.clone()>{e.clone()}</option> }).collect_view()}
                            </select>
                        </label>
                        <label>"Database "
                            <select data-testid="console-db" prop:value=move || db.get() on:change=move |ev| db.set(event_target_value(&ev))>
                                {move || db_choice().into_iter().map(|d| view! { <option value=d.clone() selected=db.get_untracked() == d>{d.clone()}</option> }).collect_view()}
                            </select>
                        </label>
                        <label>"Shards "
                            <input type="text" data-testid="console-shards" class="shards-input" prop:value=move || shards.get()
                                on:input=move |ev| shards.set(event_target_value(&ev))
                                aria-describedby="shards-help" spellcheck="false"/>
                        </label>
                        <span id="shards-help" class="muted small">"all, 30, 1,2,5 or 0-15"</span>
                    </div>
                    <Transition fallback=|| ()>
                        {move || current_db().map(|d| view! { <DatabaseNote d=d/> })}
                    </Transition>
                    <label for="console-sql" class="visually-hidden">"SQL"</label>
                    <textarea id="console-sql" class="console-sql" data-testid="console-sql" rows="7" spellcheck="false"
                        prop:value=move || sql.get()
                        on:input=move |ev| sql.set(event_target_value(&ev))
                        on:keydown=move |ev: leptos::ev::KeyboardEvent| {
                            if ev.key() == "Enter" && (ev.ctrl_key() || ev.meta_key()) {
                                ev.prevent_default();
                                run();
                            }
                        }></textarea>
                    <div class="console-buttons">
                        {if may_query {
                            view! {
                                <button type="submit" class="button button-primary" data-testid="console-run" disabled=move || running.get().is_some()>
                                    {move || if running.get().is_some() { "Running…" } else { "Run (Ctrl+Enter)" }}
                                </button>
                            }.into_any()
                        } else {
                            view! {
                                <button type="button" class="button" disabled=true>"Run"</button>
                                <span class="muted small" data-testid="console-denied">"Running queries needs the responder role (you: "{setup.role.clone()}"): the datastore holds tokens and keys. You can browse the tables."</span>
                            }.into_any()
                        }}
                        {move || running.get().map(|id| view! {
                            <button type="button" class="button btn-danger" data-testid="console-cancel"
                                on:click=move |_| {
                                    let id = id.clone();
                                    leptos::task::spawn_local(async move { let _ = console_cancel(id).await; });
                                }>"Cancel"</button>
                        })}
                        <span class="muted small">"Caps: "{setup.rows_per_shard}" rows per shard, "{setup.rows_total}" in all, "
                            {human_bytes(setup.bytes_total)}"; "{setup.statement_timeout_secs}" s per statement."</span>
                    </div>
                </form>
                {move || refused.get().map(|r| view! {
                    <div class="callout callout-error" role="alert" data-testid="console-refused"><strong>"Not run. "</strong>{r}</div>
                })}
                {move || running.get().map(|_| view! { <ProgressBar progress=progress/> })}
                {move || result.get().map(|r| view! { <ResultPanel r=r/> })}
            </div>
            <aside class="console-side">
                <Locator shards=shards/>
                <Browse env=env db=db sql=sql current=Signal::derive(current_db)/>
                <Saved db=db shards=shards sql=sql version=history_version may_save=may_query/>
                <History env=env db=db shards=shards sql=sql version=history_version/>
            </aside>
        </div>
    }
}

/// Where most questions are answered (origins, packages, members): the first database shown.
fn default_database(dbs: &[String]) -> String {
    dbs.iter()
        .find(|d| d.as_str() == "builder_originsrv")
        .or(dbs.first())
        .cloned()
        .unwrap_or_default()
}

fn human_bytes(n: u64) -> String {
    if n >= 1 << 20 {
        format!("{} MiB", n >> 20)
    } else {
        format!("{} KiB", n >> 10)
    }
}

#[component]
fn DatabaseNote(d: DatabaseView) -> impl IntoView {
    if let Some(e) = d.error {
        return view! {
            <div class="callout callout-error" role="alert" data-testid="console-db-error">
                <strong>{format!("{} cannot be read. ", d.name)}</strong>{e}
                " Check that the datastore runs and that Onwatch may connect; the rest of Onwatch works without it."
            </div>
        }
        .into_any();
    }
    let layout = match &d.schema {
        None => format!(
            "{} shards (shard_0 … shard_{})",
            d.shard_count,
            d.shard_count.saturating_sub(1)
        ),
        Some(s) => format!("not sharded: everything is in {s}"),
    };
    view! {
        <p class="muted small db-note" data-testid="console-db-note">{d.name.clone()}": "{layout}"; connected as "<code>{d.role_user.clone()}</code>
            ", statement timeout "{d.statement_timeout.clone()}"."</p>
        {(!d.can_write.is_empty()).then(|| view! {
            <div class="callout callout-error" role="alert" data-testid="console-role-warning">
                <strong>{format!("Onwatch's role {} could write here. ", d.role_user)}</strong>
                "The console runs no query here until Onwatch connects with a role that can only read:"
                <ul>{d.can_write.iter().map(|w| view! { <li>{w.clone()}</li> }).collect_view()}</ul>
                "Use a read-only role (README: the query console)."
            </div>
        })}
    }
    .into_any()
}

#[component]
fn ProgressBar(progress: RwSignal<Option<ConsoleProgress>>) -> impl IntoView {
    view! {
        <div class="console-progress" data-testid="console-progress" aria-live="polite">
            {move || match progress.get() {
                None => view! { <span class="muted">"Starting…"</span> }.into_any(),
                Some(p) => view! {
                    <progress max=p.total value=p.done></progress>
                    <span>{format!("shards done {} of {}", p.done, p.total)}
                        {(!p.failed.is_empty()).then(|| format!(" · {} failed", p.failed.len()))}
                        {format!(" · {}", fmt::count(p.rows as i64, "row"))}</span>
                }.into_any(),
            }}
        </div>
    }
}

#[component]
fn ResultPanel(r: ResultView) -> impl IntoView {
    let sort = RwSignal::new(None::<(usize, bool)>);
    let failed: Vec<ShardView> = r.failed().cloned().collect();
    let shard_total = r.shards.len();
    let ok = r
        .shards
        .iter()
        .filter(|s| s.state == "ok" || s.state == "truncated")
        .count();
    let state_words = match r.state.as_str() {
        "complete" => "complete",
        "truncated" => "truncated: some rows are not shown",
        "partial" => "partial: some shards failed",
        "failed" => "failed on every shard",
        "cancelled" => "cancelled",
        other => other,
    }
    .to_owned();
    let columns = r.columns.clone();
    let numeric = r.numeric.clone();
    let rows = r.rows.clone();
    let id = r.id.clone();
    let shown = rows.len().min(GRID_ROWS);
    let total = rows.len();
    let sorted = move || {
        let mut idx: Vec<usize> = (0..rows.len()).collect();
        if let Some((col, asc)) = sort.get() {
            let key_num = |i: usize| -> Option<f64> {
                if col == 0 {
                    return Some(f64::from(rows[i].0));
                }
                rows[i]
                    .1
                    .get(col - 1)
                    .cloned()
                    .flatten()
                    .and_then(|s| s.parse().ok())
            };
            let numeric_col = col == 0 || numeric.get(col - 1).copied().unwrap_or(false);
            idx.sort_by(|&a, &b| {
                let o = if numeric_col {
                    key_num(a)
                        .partial_cmp(&key_num(b))
                        .unwrap_or(std::cmp::Ordering::Equal)
                } else {
                    rows[a].1.get(col - 1).cmp(&rows[b].1.get(col - 1))
                };
                if asc {
                    o
                } else {
                    o.reverse()
                }
            });
        }
        idx.into_iter()
            .take(GRID_ROWS)
            .map(|i| rows[i].clone())
            .collect::<Vec<_>>()
    };
    let header = {
        let mut names = vec!["shard".to_owned()];
        names.extend(columns.iter().cloned());
        names
    };
    let numeric_cols = r.numeric.clone();
    view! {
        <section class="console-result" data-testid="console-result" data-state=r.state.clone()>
            <h2>"Result"</h2>
            <p class=format!("result-state result-{}", r.state) data-testid="console-state">
                <strong>{state_words}</strong>
                {format!(" — {} from {ok} of {} in {} ms", fmt::count(r.total_rows as i64, "row"), fmt::count(shard_total as i64, "shard"), r.duration_ms)}
            </p>
            {(!r.truncated.is_empty()).then(|| view! {
                <div class="callout callout-warn" data-testid="console-truncated">
                    <strong>"Truncated. "</strong>
                    <ul>{r.truncated.iter().map(|t| view! { <li>{t.clone()}</li> }).collect_view()}</ul>
                    "Narrow the query (WHERE, LIMIT, fewer shards) to see everything."
                </div>
            })}
            {(!failed.is_empty()).then(|| view! {
                <div class="callout callout-error" role="alert" data-testid="console-failed">
                    <strong>{format!("{} shard{} failed; ", failed.len(), if failed.len() == 1 { "" } else { "s" })}</strong>
                    "the other shards' rows are below."
                    <ul class="failed-shards">{failed.iter().map(|s| view! {
                        <li data-shard=s.shard><code>{format!("shard_{}", s.shard)}</code>": "{s.error.clone().unwrap_or_default()}</li>
                    }).collect_view()}</ul>
                </div>
            })}
            <p class="downloads">
                <a class="button" data-testid="console-csv" href=format!("/api/console/queries/{id}/export?format=csv") download="onwatch-query.csv">"Download CSV"</a>
                " "
                <a class="button" data-testid="console-json" href=format!("/api/console/queries/{id}/export?format=json") download="onwatch-query.json">"Download JSON"</a>
                {(total > shown).then(|| view! { <span class="muted small">{format!(" The grid shows the first {shown} of {total} rows; the downloads have them all.")}</span> })}
            </p>
            // A scroll box of its own (its header stays in view): a thousand rows do not make
            // the page tens of thousands of pixels long.
            <div class="table-scroll console-grid-box" data-testid="console-grid-box" tabindex="0" aria-label="Query result rows">
                <table class="console-grid" data-testid="console-grid">
                    <thead><tr>
                        {header.into_iter().enumerate().map(|(i, name)| {
                            let arrow = move || match sort.get() {
                                Some((c, true)) if c == i => " ▲",
                                Some((c, false)) if c == i => " ▼",
                                _ => "",
                            };
                            let aria = move || match sort.get() {
                                Some((c, true)) if c == i => "ascending",
                                Some((c, false)) if c == i => "descending",
                                _ => "none",
                            };
                            view! {
                                <th aria-sort=aria scope="col">
                                    <button type="button" class="sort-button" data-column=name.clone()
                                        on:click=move |_| sort.update(|s| *s = match *s {
                                            Some((c, true)) if c == i => Some((i, false)),
                                            _ => Some((i, true)),
                                        })>{name.clone()}{arrow}</button>
                                </th>
                            }
                        }).collect_view()}
                    </tr></thead>
                    <tbody>
                        {move || sorted().into_iter().map(|(shard, cells)| {
                            let numeric_cols = numeric_cols.clone();
                            view! {
                                <tr data-shard=shard>
                                    <td class="num">{shard}</td>
                                    {cells.into_iter().enumerate().map(|(i, c)| {
                                        let class = if numeric_cols.get(i).copied().unwrap_or(false) { "num" } else { "" };
                                        match c {
                                            None => view! { <td class=format!("{class} null")>"NULL"</td> }.into_any(),
                                            Some(s) => view! { <td class=class>{s}</td> }.into_any(),
                                        }
                                    }).collect_view()}
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
        </section>
    }
}

#[component]
fn Locator(shards: RwSignal<String>) -> impl IntoView {
    let input = RwSignal::new(String::new());
    let found = RwSignal::new(None::<Result<LocatedView, String>>);
    let locate = move || {
        let text = input.get_untracked();
        leptos::task::spawn_local(async move {
            found.set(Some(console_locate(text).await.map_err(|e| e.to_string())));
        });
    };
    view! {
        <section class="side-card" data-testid="console-locator">
            <h2>"Which shard?"</h2>
            <form on:submit=move |ev| { ev.prevent_default(); locate(); }>
                <label for="locate-input" class="small">"An origin or account name, or a numeric id"</label>
                <div class="inline-form">
                    <input id="locate-input" type="text" data-testid="locate-input" placeholder="core"
                        prop:value=move || input.get() on:input=move |ev| input.set(event_target_value(&ev)) spellcheck="false"/>
                    <button type="submit" class="button" data-testid="locate-run">"Locate"</button>
                </div>
            </form>
            {move || found.get().map(|f| match f {
                Err(e) => view! { <p class="error-text" role="alert">{e}</p> }.into_any(),
                Ok(l) => {
                    let how = if l.rule == "id" { "the id's low 13 bits" } else { "FNV-1a-64 of the name, mod 128" };
                    let shard = l.shard;
                    view! {
                        <p data-testid="locate-result"><code>{l.input.clone()}</code>" → "<strong>{format!("shard_{shard}")}</strong>
                            <span class="muted small">" ("{how}")"</span></p>
                        {l.warning.clone().map(|w| view! { <p class="warn-inline small">{w}</p> })}
                        <button type="button" class="button" data-testid="locate-use" on:click=move |_| shards.set(shard.to_string())>
                            {format!("Query shard {shard}")}</button>
                    }.into_any()
                }
            })}
        </section>
    }
}

#[component]
fn Browse(
    env: RwSignal<String>,
    db: RwSignal<String>,
    sql: RwSignal<String>,
    current: Signal<Option<DatabaseView>>,
) -> impl IntoView {
    let shard = RwSignal::new(0u32);
    let tables = Resource::new(
        move || (env.get(), db.get(), shard.get()),
        |(e, d, s)| console_tables(e, d, s),
    );
    view! {
        <section class="side-card" data-testid="console-browse">
            <h2>"Tables"</h2>
            // Inside a Transition: `current` reads the databases' resource.
            <Transition fallback=|| ()>
            {move || current.get().filter(|d| d.shard_count > 1).map(|d| view! {
                <label class="small">"of shard "
                    <input type="number" min="0" max=d.shard_count - 1 class="shard-number" data-testid="browse-shard"
                        prop:value=move || shard.get().to_string()
                        on:change=move |ev| {
                            if let Ok(n) = event_target_value(&ev).parse::<u32>() {
                                if n < d.shard_count { shard.set(n); }
                            }
                        }/>
                </label>
            })}
            </Transition>
            <Transition fallback=|| view! { <p class="muted small">"Reading the tables…"</p> }>
                {move || tables.get().map(|t| match t {
                    Err(e) => view! { <p class="error-text small">{e.to_string()}</p> }.into_any(),
                    Ok(t) if t.is_empty() => view! { <p class="muted small">"No tables here."</p> }.into_any(),
                    Ok(t) => view! {
                        <ul class="table-list">
                            {t.into_iter().map(|t| {
                                let name = t.name.clone();
                                let estimate = if t.estimate < 0.0 { "never analysed".to_owned() } else { format!("≈{} rows", t.estimate as i64) };
                                view! {
                                    <li>
                                        <details>
                                            <summary><code>{t.name.clone()}</code>" "<span class="muted small">{estimate}</span></summary>
                                            <ul class="columns">{t.columns.iter().map(|(c, ty)| view! { <li><code>{c.clone()}</code>" "<span class="muted small">{ty.clone()}</span></li> }).collect_view()}</ul>
                                            <button type="button" class="button small" on:click=move |_| sql.set(format!("SELECT * FROM {name} LIMIT 100"))>"Query it"</button>
                                        </details>
                                    </li>
                                }
                            }).collect_view()}
                        </ul>
                    }.into_any(),
                })}
            </Transition>
        </section>
    }
}

#[component]
fn Saved(
    db: RwSignal<String>,
    shards: RwSignal<String>,
    sql: RwSignal<String>,
    version: RwSignal<u32>,
    may_save: bool,
) -> impl IntoView {
    let saved = Resource::new(move || version.get(), |_| console_saved());
    let name = RwSignal::new(String::new());
    let shared = RwSignal::new(true);
    let message = RwSignal::new(None::<Result<String, String>>);
    let save = move || {
        let (n, d, s, q, sh) = (
            name.get_untracked(),
            db.get_untracked(),
            shards.get_untracked(),
            sql.get_untracked(),
            if shared.get_untracked() { "on" } else { "" }.to_owned(),
        );
        leptos::task::spawn_local(async move {
            match console_save(n.clone(), d, s, q, sh).await {
                Ok(Some(why)) => message.set(Some(Err(why))),
                Ok(None) => {
                    message.set(Some(Ok(format!("Saved as “{n}”."))));
                    version.update(|v| *v += 1);
                }
                Err(e) => message.set(Some(Err(e.to_string()))),
            }
        });
    };
    view! {
        <section class="side-card" data-testid="console-saved">
            <h2>"Saved queries"</h2>
            <Transition fallback=|| ()>
                {move || saved.get().map(|s| match s {
                    Err(e) => view! { <p class="error-text small">{e.to_string()}</p> }.into_any(),
                    Ok(s) if s.is_empty() => view! { <p class="muted small">"None yet: save one below, shared with the team."</p> }.into_any(),
                    Ok(s) => view! {
                        <ul class="saved-list">{s.into_iter().map(|q| {
                            let (qd, qs, qq) = (q.database.clone(), q.shards.clone(), q.sql.clone());
                            let id = q.id.clone();
                            view! {
                                <li>
                                    <button type="button" class="link-button" title=q.sql.clone()
                                        on:click=move |_| { db.set(qd.clone()); shards.set(qs.clone()); sql.set(qq.clone()); }>{q.name.clone()}</button>
                                    <span class="muted small">{format!(" {} · {} · {}", q.database, q.shards, if q.shared { format!("shared by {}", q.owner_name) } else { "yours only".to_owned() })}</span>
                                    {q.deletable.then(|| {
                                        let id = id.clone();
                                        view! {
                                            <button type="button" class="link-button small" aria-label=format!("Delete {}", q.name)
                                                on:click=move |_| {
                                                    let id = id.clone();
                                                    leptos::task::spawn_local(async move {
                                                        let _ = console_delete_saved(id).await;
                                                        version.update(|v| *v += 1);
                                                    });
                                                }>" delete"</button>
                                        }
                                    })}
                                </li>
                            }
                        }).collect_view()}</ul>
                    }.into_any(),
                })}
            </Transition>
            {may_save.then(|| view! {
                <form class="save-form" on:submit=move |ev| { ev.prevent_default(); save(); }>
                    <label for="save-name" class="small">"Save the editor's query as"</label>
                    <div class="inline-form">
                        <input id="save-name" type="text" data-testid="save-name" placeholder="origins in every shard"
                            prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev))/>
                        <button type="submit" class="button">"Save"</button>
                    </div>
                    <label class="small"><input type="checkbox" prop:checked=move || shared.get()
                        on:change=move |ev| shared.set(event_target_checked(&ev))/>" shared with the team"</label>
                </form>
            })}
            {move || message.get().map(|m| match m {
                Ok(t) => view! { <p class="small" role="status">{t}</p> }.into_any(),
                Err(e) => view! { <p class="error-text small" role="alert">{e}</p> }.into_any(),
            })}
        </section>
    }
}

#[component]
fn History(
    env: RwSignal<String>,
    db: RwSignal<String>,
    shards: RwSignal<String>,
    sql: RwSignal<String>,
    version: RwSignal<u32>,
) -> impl IntoView {
    let history = Resource::new(move || version.get(), |_| console_history());
    view! {
        <section class="side-card" data-testid="console-history">
            <h2>"Your recent queries"</h2>
            <Transition fallback=|| ()>
                {move || history.get().map(|h| match h {
                    Err(e) => view! { <p class="error-text small">{e.to_string()}</p> }.into_any(),
                    Ok(h) if h.is_empty() => view! { <p class="muted small">"None yet."</p> }.into_any(),
                    Ok(h) => {
                        let now = crate::fmt::now_ms();
                        view! {
                            <ul class="history-list">{h.into_iter().map(|q| {
                                let (qe, qd, qs, qq) = (q.environment.clone(), q.database.clone(), q.shards.clone(), q.sql.clone());
                                view! {
                                    <li>
                                        <button type="button" class="link-button code-like" title="Load into the editor"
                                            on:click=move |_| { env.set(qe.clone()); db.set(qd.clone()); shards.set(qs.clone()); sql.set(qq.clone()); }>
                                            {q.sql.chars().take(80).collect::<String>()}</button>
                                        <div class="muted small">{format!("{} ago · {}/{} · {} · {} · {} · {} ms",
                                            fmt::age(now - q.started_ms), q.environment, q.database, q.shards, q.state, fmt::count(q.rows, "row"), q.duration_ms)}</div>
                                    </li>
                                }
                            }).collect_view()}</ul>
                        }.into_any()
                    }
                })}
            </Transition>
        </section>
    }
}

/// Follows the running query's progress events in the browser.
#[cfg(feature = "hydrate")]
fn follow(id: impl Fn() -> Option<String> + 'static, progress: RwSignal<Option<ConsoleProgress>>) {
    use wasm_bindgen::closure::Closure;
    use wasm_bindgen::JsCast;
    Effect::new(move |prev: Option<Option<web_sys::EventSource>>| {
        if let Some(Some(old)) = prev {
            old.close();
        }
        let id = id()?;
        let source =
            web_sys::EventSource::new(&format!("/api/console/queries/{id}/events")).ok()?;
        let closer = source.clone();
        let on_progress =
            Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |ev: web_sys::MessageEvent| {
                let Some(text) = ev.data().as_string() else {
                    return;
                };
                if let Ok(p) = serde_json::from_str::<ConsoleProgress>(&text) {
                    if p.state != "running" {
                        closer.close();
                    }
                    progress.set(Some(p));
                }
            });
        let _ = source
            .add_event_listener_with_callback("progress", on_progress.as_ref().unchecked_ref());
        on_progress.forget();
        Some(source)
    });
}

#[cfg(not(feature = "hydrate"))]
fn follow(
    _id: impl Fn() -> Option<String> + 'static,
    _progress: RwSignal<Option<ConsoleProgress>>,
) {
}
