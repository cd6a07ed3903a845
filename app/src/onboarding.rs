//! The onboarding page's data and server functions (`ops::onboarding`): one person's checklist,
//! the team's progress, and the admins' editor.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemView {
    pub id: String,
    pub text: String,
    /// `manual`, `github`, `core_origin`, `ssh`, `services`
    pub verify: String,
    pub done: bool,
    pub how: String,
    pub tickable: bool,
    pub retired: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonRow {
    pub login: String,
    pub name: String,
    pub done: usize,
    pub total: usize,
    pub ready: bool,
    /// In the rotation's coming shifts.
    pub scheduled: bool,
    pub missing: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OnboardingBoard {
    pub me: String,
    /// Whose checklist `items` is.
    pub person: String,
    pub is_admin: bool,
    pub items: Vec<ItemView>,
    pub team: Vec<PersonRow>,
    /// Every item, retired ones too (admins edit them).
    pub all_items: Vec<ItemView>,
    pub public_key: String,
    pub ssh_check: bool,
    /// The production account the signed-in person's key is checked for (empty when there is
    /// none), and whether everyone shares it (then the key form asks for a proof of holding
    /// the key, signed over `key_challenge` with `key_proof_command`).
    pub ssh_account: String,
    pub ssh_shared: bool,
    pub key_challenge: String,
    pub key_proof_command: String,
}

pub use crate::oncall::Done;

#[server(prefix = "/api/read", endpoint = "onboarding")]
pub async fn load_onboarding(
    #[server(default)] person: String,
) -> Result<OnboardingBoard, ServerFnError> {
    let who = crate::portal::require(vocab::Role::Viewer)?;
    let portal = crate::portal::portal()?;
    ssr::board(&portal, &who, &person)
        .await
        .map_err(ServerFnError::new)
}

/// Ticks (or unticks) one of the signed-in person's own items.
#[server(prefix = "/api/attempt", endpoint = "onboarding-tick")]
pub async fn onboarding_tick(item: String, done: bool) -> Result<Done, ServerFnError> {
    let who = crate::portal::require(vocab::Role::Viewer)?;
    let portal = crate::portal::portal()?;
    Ok(ssr::tick(&portal, &who, &item, done).await)
}

/// Declares the person's SSH public key; Onwatch tests it against a production host, for the
/// person's own account only, a few times an hour. For a shared account `signature` proves the
/// person holds the key (`ssh-keygen -Y sign` over their challenge).
#[server(prefix = "/api/attempt", endpoint = "onboarding-key")]
pub async fn onboarding_key(
    key: String,
    #[server(default)] signature: String,
) -> Result<Done, ServerFnError> {
    let who = crate::portal::require(vocab::Role::Viewer)?;
    let portal = crate::portal::portal()?;
    Ok(ssr::key(&portal, &who, &key, &signature).await)
}

/// An admin confirms or resets someone's item.
#[server(prefix = "/api/admin", endpoint = "onboarding-mark")]
pub async fn onboarding_mark(
    person: String,
    item: String,
    mark: String,
) -> Result<Done, ServerFnError> {
    let who = crate::portal::require(vocab::Role::Admin)?;
    let portal = crate::portal::portal()?;
    Ok(ssr::admin_mark(&portal, &who, &person, &item, &mark).await)
}

/// An admin edits the list: `add` (text, verify), `reword` (id, text), `retire`, `restore`,
/// `up`, `down` (id).
#[server(prefix = "/api/admin", endpoint = "onboarding-edit")]
pub async fn onboarding_edit(
    op: String,
    #[server(default)] id: String,
    #[server(default)] text: String,
    #[server(default)] verify: String,
) -> Result<Done, ServerFnError> {
    let who = crate::portal::require(vocab::Role::Admin)?;
    let portal = crate::portal::portal()?;
    Ok(ssr::edit(&portal, &who, &op, &id, &text, &verify).await)
}

#[cfg(feature = "ssr")]
pub mod ssr {
    use super::*;
    use crate::oncall::ssr::refused;
    use crate::portal::Portal;
    use ops::auth::Identity;
    use ops::onboarding::changes;
    use ops::onboarding::{
        Facts, ItemStatus, Records, SshAccount, KEY_CHECK, KEY_CHECKS_PER_WINDOW,
        KEY_CHECK_REFUSED, KEY_CHECK_WINDOW_MS,
    };

    /// A production host Onwatch can reach over SSH (the first by name), if any.
    fn ssh_host(portal: &Portal) -> Option<(String, String)> {
        portal.team().ssh_host()
    }

    fn view(s: ItemStatus) -> ItemView {
        ItemView {
            id: s.item.id,
            text: s.item.text,
            verify: s.item.verify.as_str().into(),
            done: s.done,
            how: s.how,
            tickable: s.tickable,
            retired: s.item.retired_ms.is_some(),
        }
    }

    /// Everyone's checklist, as the team view shows it, with the records and facts it was
    /// worked out from.
    pub async fn team(portal: &Portal) -> Result<(Vec<PersonRow>, Records, Facts), String> {
        let (rows, records, facts) = portal
            .team()
            .team(&crate::fmt::zone())
            .await
            .map_err(|e| e.to_string())?;
        let rows = rows
            .into_iter()
            .map(|r| PersonRow {
                login: r.login,
                name: r.name,
                done: r.done,
                total: r.total,
                ready: r.ready,
                scheduled: r.scheduled,
                missing: r.missing,
            })
            .collect();
        Ok((rows, records, facts))
    }

    pub async fn board(
        portal: &Portal,
        who: &Identity,
        person: &str,
    ) -> Result<OnboardingBoard, String> {
        let ob = &portal.onboarding;
        let now = ops::time::now_ms();
        ob.seen(&who.login, &who.name, &who.provider, &who.memberships, now)
            .await
            .map_err(|e| e.to_string())?;
        let admin = who.role.allows(vocab::Role::Admin);
        let me = who.login.to_ascii_lowercase();
        let person = match person.trim() {
            "" => me.clone(),
            p => p.to_ascii_lowercase(),
        };
        let (team, records, facts) = team(portal).await?;
        let all = ob.items(true).await.map_err(|e| e.to_string())?;
        let status = ob.status(&records, &person, &facts, &crate::fmt::zone());
        let mine = records.people.iter().find(|p| p.login == me);
        let actor = who.actor().id;
        let account = ob.options.ssh_account(&who.login).ok();
        Ok(OnboardingBoard {
            ssh_account: account
                .as_ref()
                .map(|a| a.name().to_owned())
                .unwrap_or_default(),
            ssh_shared: matches!(account, Some(SshAccount::Shared(_))),
            key_challenge: ops::onboarding::key_challenge(&actor),
            key_proof_command: ops::onboarding::key_proof_command(&actor),
            public_key: mine.map(|p| p.public_key.clone()).unwrap_or_default(),
            me,
            person,
            is_admin: admin,
            items: status.into_iter().map(view).collect(),
            team,
            all_items: all
                .into_iter()
                .map(|i| ItemView {
                    done: false,
                    how: format!(
                        "last changed by {} ({})",
                        i.updated_by,
                        crate::fmt::date_time(i.updated_ms)
                    ),
                    tickable: false,
                    retired: i.retired_ms.is_some(),
                    verify: i.verify.as_str().into(),
                    id: i.id,
                    text: i.text,
                })
                .collect(),
            ssh_check: facts.ssh_configured,
        })
    }

    pub async fn tick(portal: &Portal, who: &Identity, item: &str, on: bool) -> Done {
        let ob = &portal.onboarding;
        let now = ops::time::now_ms();
        if let Err(e) = ob
            .seen(&who.login, &who.name, &who.provider, &who.memberships, now)
            .await
        {
            return Done::of(false, e.to_string());
        }
        // The person's own checklist as it stands: only items ticked by hand can be ticked.
        let mine = match team(portal).await {
            Ok((_, records, facts)) => ob.status(&records, &who.login, &facts, &crate::fmt::zone()),
            Err(e) => return Done::of(false, e),
        };
        match changes::tick(ob, &portal.audit, who, &mine, item, on, now).await {
            Ok(mark) => Done::of(true, format!("{mark}.")),
            Err(e) => refused(e),
        }
    }

    /// Appends a key check's audit row and returns its sequence number (the rate limit counts
    /// up to it). `Err` is the refusal to show.
    async fn audit_key_check(
        portal: &Portal,
        who: &Identity,
        outcome: &str,
        detail: serde_json::Value,
    ) -> Result<i64, String> {
        portal
            .audit
            .append(
                &who.actor(),
                &ops::audit::Entry {
                    outcome: outcome.into(),
                    detail,
                    ..ops::audit::Entry::new(ops::audit::Event::Onboarding)
                },
            )
            .await
            .map(|a| a.seq)
            .map_err(|e| {
                tracing::error!(error = %e, "an audit row could not be written");
                "The audit log cannot be written, so nothing was checked: try again.".to_owned()
            })
    }

    /// The refusal of a check over the limit, audited: `checks` were made in the window.
    async fn over_limit(
        portal: &Portal,
        who: &Identity,
        checks: ops::onboarding::KeyChecks,
        detail: serde_json::Value,
    ) -> Done {
        let again = checks
            .oldest_ms
            .map(|t| crate::fmt::date_time(t + KEY_CHECK_WINDOW_MS))
            .unwrap_or_else(|| "an hour".into());
        let mut detail = detail;
        detail["limit"] = KEY_CHECKS_PER_WINDOW.into();
        detail["checks"] = checks.count.into();
        if let Err(e) = audit_key_check(portal, who, KEY_CHECK_REFUSED, detail).await {
            return Done::of(false, e);
        }
        Done::of(
            false,
            format!(
                "You have made {KEY_CHECKS_PER_WINDOW} key checks in the last hour, the most Onwatch allows, so this key was not checked: try again after {again}."
            ),
        )
    }

    pub async fn key(portal: &Portal, who: &Identity, key: &str, signature: &str) -> Done {
        let ob = &portal.onboarding;
        let key = key.trim();
        if key.is_empty() {
            return Done::of(
                false,
                "Paste your public key: one line such as `ssh-ed25519 AAAA… you@laptop`.",
            );
        }
        if key.len() > 16_384 || key.contains('\n') {
            return Done::of(false, "One public key, on one line.");
        }
        if signature.len() > 16_384 {
            return Done::of(
                false,
                "That signature is too long: paste one `ssh-keygen -Y sign` output.",
            );
        }
        let Some((env, host)) = ssh_host(portal) else {
            return Done::of(false, "Onwatch has no SSH access to a production host, so it cannot test keys: tick the item yourself.");
        };
        // Only the signed-in person's own access is asked about (see `SshAccount`): their own
        // account, or, for a shared one, a key they prove they hold.
        let actor = who.actor().id;
        let account = match ob.options.ssh_account(&who.login) {
            Ok(a) => a,
            Err(e) => return Done::of(false, e.to_string()),
        };
        if let SshAccount::Shared(user) = &account {
            if signature.trim().is_empty() {
                return Done::of(
                    false,
                    format!(
                        "Production's account {user} is shared, so Onwatch checks only a key you prove you hold: run `{}` (with the private key of the key you pasted) and paste its output as the signature.",
                        ops::onboarding::key_proof_command(&actor)
                    ),
                );
            }
            if let Err(e) = ops::onboarding::verify_key_proof(key, signature, &actor) {
                return Done::of(false, e.to_string());
            }
        }
        let user = account.name().to_owned();
        let now = ops::time::now_ms();
        if let Err(e) = ob
            .seen(&who.login, &who.name, &who.provider, &who.memberships, now)
            .await
        {
            return Done::of(false, e.to_string());
        }
        let detail =
            serde_json::json!({ "host": host, "environment": env, "user": user, "key": key });
        // At most a few checks an hour a person, counted from the audit log (all replicas see
        // the same rows): first before asking anything, then again up to this check's own row,
        // which settles two checks racing for the last place.
        let cannot_count = |e: ops::store::StoreError| {
            tracing::error!(error = %e, "the key checks could not be counted");
            Done::of(false, "Onwatch cannot count your recent key checks, so it did not check this key: try again.")
        };
        match ob.key_checks(&actor, None).await {
            Ok(c) if c.count >= KEY_CHECKS_PER_WINDOW => {
                return over_limit(portal, who, c, detail).await
            }
            Ok(_) => {}
            Err(e) => return cannot_count(e),
        }
        let seq = match audit_key_check(portal, who, KEY_CHECK, detail.clone()).await {
            Ok(seq) => seq,
            Err(e) => return Done::of(false, e),
        };
        match ob.key_checks(&actor, Some(seq)).await {
            Ok(c) if c.count > KEY_CHECKS_PER_WINDOW => {
                return over_limit(portal, who, c, detail).await
            }
            Ok(_) => {}
            Err(e) => return cannot_count(e),
        }
        let target = match portal.actions.ssh_target(&env, &host) {
            Ok(t) => t,
            Err(e) => return Done::of(false, e),
        };
        let (ok, result) = match ops::exec::ssh::key_accepted(&target, &user, key).await {
            Ok(true) => (true, "accepted".to_owned()),
            Ok(false) => (false, format!("{host} ({env}) does not accept this key for {user}: ask for it to be added to {user}'s authorized_keys")),
            Err(e) => (false, format!("the test against {host} ({env}) failed: {e}")),
        };
        if let Err(e) = ob.set_key(&who.login, key, &result, now).await {
            return Done::of(false, e.to_string());
        }
        if ok {
            Done::of(true, format!("{host} ({env}) accepts this key for {user}."))
        } else {
            Done::of(false, result)
        }
    }

    pub async fn admin_mark(
        portal: &Portal,
        who: &Identity,
        person: &str,
        item: &str,
        mark: &str,
    ) -> Done {
        let now = ops::time::now_ms();
        match changes::mark(
            &portal.onboarding,
            &portal.audit,
            who,
            person,
            item,
            mark,
            now,
        )
        .await
        {
            Ok(()) => Done::of(true, format!("{mark} for {person}.")),
            Err(e) => refused(e),
        }
    }

    pub async fn edit(
        portal: &Portal,
        who: &Identity,
        op: &str,
        id: &str,
        text: &str,
        verify: &str,
    ) -> Done {
        let now = ops::time::now_ms();
        let ob = &portal.onboarding;
        match changes::edit(ob, &portal.audit, who, op, id, text, verify, now).await {
            Ok(()) => Done::of(true, "Saved."),
            Err(e) => refused(e),
        }
    }
}
