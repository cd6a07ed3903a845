//! The onboarding checklist's recorded changes, each made through [`change::record`]: a person
//! ticks (or unticks) their own item, an admin confirms or resets anyone's, an admin edits the
//! list. The attempt rows keep the labels they always had (`ticked`, `confirmed`,
//! `item_add`, …); each is followed by exactly one outcome row.

use serde_json::json;

use super::{ItemStatus, Onboarding, Verify};
use crate::audit::{AuditLog, Event};
use crate::auth::Identity;
use crate::change::{self, Attempt, Done, Error};

/// Ticks (`on`) or unticks the person's own item `item`. `mine` is their checklist as it
/// stands (`Onboarding::status`): only items they tick by hand can be ticked; the others are
/// checked by Onwatch (an admin can confirm them).
pub async fn tick(
    ob: &Onboarding,
    log: &AuditLog,
    who: &Identity,
    mine: &[ItemStatus],
    item: &str,
    on: bool,
    now_ms: i64,
) -> Result<&'static str, Error> {
    match mine.iter().find(|i| i.item.id == item) {
        None => {
            return Err(Error::refused(
                "item",
                format!("No item {item} on the checklist."),
            ))
        }
        Some(i) if !i.tickable => {
            return Err(Error::refused(
                "tickable",
                format!(
                    "“{}” is checked by Onwatch itself ({}); an admin can confirm it.",
                    i.item.text, i.how
                ),
            ))
        }
        Some(_) => {}
    }
    let mark = if on { "ticked" } else { "unticked" };
    let attempt = Attempt::new(Event::Onboarding, "", mark)
        .asked(json!({ "item": item, "person": who.login }));
    change::record(log, &who.actor(), attempt, || async {
        ob.mark(item, &who.login, mark, &who.login, now_ms).await?;
        Ok(Done::new(mark, json!({ "item": item })))
    })
    .await
}

/// An admin confirms or resets `person`'s item `item` (the caller checks the role).
pub async fn mark(
    ob: &Onboarding,
    log: &AuditLog,
    who: &Identity,
    person: &str,
    item: &str,
    mark: &str,
    now_ms: i64,
) -> Result<(), Error> {
    if !matches!(mark, "confirmed" | "reset") {
        return Err(Error::refused(
            "mark",
            "An admin confirms or resets an item.",
        ));
    }
    let attempt =
        Attempt::new(Event::Onboarding, "", mark).asked(json!({ "item": item, "person": person }));
    change::record(log, &who.actor(), attempt, || async {
        ob.mark(item, person, mark, &who.login, now_ms).await?;
        Ok(Done::new((), json!({ "item": item, "person": person })))
    })
    .await
}

/// An admin edits the list: `add` (with `text` and `verify`), `reword`, `retire`, `restore`,
/// `up` or `down` item `id`.
#[allow(clippy::too_many_arguments)]
pub async fn edit(
    ob: &Onboarding,
    log: &AuditLog,
    who: &Identity,
    op: &str,
    id: &str,
    text: &str,
    verify: &str,
    now_ms: i64,
) -> Result<(), Error> {
    let attempt = Attempt::new(Event::Onboarding, "", format!("item_{op}"))
        .asked(json!({ "id": id, "text": text, "verify": verify }));
    change::record(log, &who.actor(), attempt, || async {
        let by = who.login.as_str();
        match op {
            "add" => {
                let v = Verify::parse(if verify.is_empty() { "manual" } else { verify })
                    .ok_or_else(|| {
                        Error::refused(
                            "verify",
                            format!("{verify:?}: manual, github, core_origin, ssh or services."),
                        )
                    })?;
                let item = ob.add(text, v, by, now_ms).await?;
                return Ok(Done::new((), json!({ "id": item.id })));
            }
            "reword" => ob.reword(id, text, by, now_ms).await?,
            "retire" => ob.retire(id, true, by, now_ms).await?,
            "restore" => ob.retire(id, false, by, now_ms).await?,
            "up" => ob.shift(id, -1).await?,
            "down" => ob.shift(id, 1).await?,
            other => {
                return Err(Error::refused(
                    "op",
                    format!("{other:?}: add, reword, retire, restore, up or down."),
                ))
            }
        }
        Ok(Done::new((), json!({ "id": id })))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Role;
    use crate::oncall::accounts::tests::stores;
    use crate::oncall::changes::tests::{person, rows};

    fn status(item: &super::super::Item, tickable: bool) -> ItemStatus {
        ItemStatus {
            item: item.clone(),
            done: false,
            how: "not yet".into(),
            tickable,
            last_mark: None,
        }
    }

    /// The rule first: an item Onwatch checks itself cannot be ticked by hand (nothing is
    /// recorded); one the person ticks is recorded as its attempt (`ticked`) and `done`.
    #[tokio::test]
    async fn an_item_onwatch_checks_cannot_be_ticked_by_hand() {
        for (store, _dir) in stores().await {
            store.migrate().await.unwrap();
            let ob = Onboarding::new(store.clone(), Default::default());
            let log = AuditLog::new(store.clone());
            let root = person(&store, "github", "9", "root", Role::Admin).await;
            let ana = person(&store, "github", "1", "ana", Role::Viewer).await;
            edit(
                &ob,
                &log,
                &root,
                "add",
                "",
                "Read the runbook",
                "manual",
                1_000,
            )
            .await
            .unwrap();
            edit(
                &ob,
                &log,
                &root,
                "add",
                "",
                "Sign in with GitHub",
                "github",
                1_000,
            )
            .await
            .unwrap();
            let items = ob.items(false).await.unwrap();
            let by_text = |t: &str| items.iter().find(|i| i.text == t).unwrap().clone();
            let (manual, github) = (by_text("Read the runbook"), by_text("Sign in with GitHub"));
            let mine = [status(&manual, true), status(&github, false)];
            let e = tick(&ob, &log, &ana, &mine, &github.id, true, 2_000)
                .await
                .unwrap_err();
            assert_eq!(
                e.refusal().map(|r| r.guard.as_str()),
                Some("tickable"),
                "{e}"
            );
            let e = tick(&ob, &log, &ana, &mine, "nope", true, 2_000)
                .await
                .unwrap_err();
            assert_eq!(e.refusal().map(|r| r.guard.as_str()), Some("item"));
            assert!(ob.latest_marks().await.unwrap().is_empty());
            assert_eq!(
                tick(&ob, &log, &ana, &mine, &manual.id, true, 3_000)
                    .await
                    .unwrap(),
                "ticked"
            );
            assert_eq!(ob.latest_marks().await.unwrap().len(), 1);
            let e = edit(&ob, &log, &root, "shuffle", &manual.id, "", "", 4_000)
                .await
                .unwrap_err();
            assert_eq!(e.refusal().map(|r| r.guard.as_str()), Some("op"));
            let e = mark(&ob, &log, &root, "ana", &manual.id, "ticked", 4_000)
                .await
                .unwrap_err();
            assert_eq!(e.refusal().map(|r| r.guard.as_str()), Some("mark"));
            let r = rows(&store, Event::Onboarding).await;
            let seen: Vec<&str> = r.iter().map(|r| r.1.as_str()).collect();
            assert_eq!(
                seen,
                [
                    "item_add",
                    "done",
                    "item_add",
                    "done",
                    "ticked",
                    "done",
                    "item_shuffle",
                    "refused"
                ]
            );
        }
    }
}
