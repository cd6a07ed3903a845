//! Who a person is on the on-call and incident records: the provider's account
//! (`github:1234`, `oidc:<sub>`, as the audit log names people), never the login alone. With
//! GitHub and OIDC both on, two accounts can share a login; comparing logins let one act as
//! the other.
//!
//! The rotation, a hand-over and old rows name people by login. Such a name means the account
//! that first signed in with it (the earliest `signin` row of the audit log, which every
//! sign-in writes before it is let in): a login taken later by another account, at another
//! provider or after a rename, never inherits the first one's seat, as role rules pinned to an
//! account id do (`auth::pins`).

use sqlx::Row;

use crate::audit::Event;
use crate::store::{Store, StoreError};

/// Someone acting: their account and the login shown for them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Who {
    /// `provider:subject`; empty when not known (such a person proves to be nobody).
    pub account: String,
    pub login: String,
}

impl Who {
    pub fn of(identity: &crate::auth::Identity) -> Who {
        Who {
            account: format!("{}:{}", identity.provider, identity.subject),
            login: identity.login.clone(),
        }
    }

    /// A person known by login only (tests, tools): matched through the login's first account.
    pub fn login_only(login: &str) -> Who {
        Who {
            account: String::new(),
            login: login.to_owned(),
        }
    }

    /// The provider part of the account (`github`).
    pub fn provider(&self) -> &str {
        provider_of(&self.account)
    }
}

/// `github` of `github:1234`.
pub fn provider_of(account: &str) -> &str {
    account.split_once(':').map(|(p, _)| p).unwrap_or("")
}

/// The account that first signed in as `login` (logins compared without case), if any did.
pub async fn first_account(store: &Store, login: &str) -> Result<Option<String>, StoreError> {
    let row = sqlx::query(
        "SELECT actor FROM audit_log WHERE kind = $1 AND LOWER(actor_name) = LOWER($2) \
         ORDER BY seq LIMIT 1",
    )
    .bind(Event::Signin.as_str())
    .bind(login.trim())
    .fetch_optional(store.pool())
    .await?;
    Ok(match row {
        Some(r) => Some(r.try_get(0)?),
        None => None,
    })
}

/// Whether `who` is the person a record names as `login`, with `recorded` the account the record
/// kept (empty or `None` for rows that have none: then the login's first account decides).
pub async fn is(
    store: &Store,
    who: &Who,
    login: &str,
    recorded: Option<&str>,
) -> Result<bool, StoreError> {
    if who.account.is_empty() || !who.login.trim().eq_ignore_ascii_case(login.trim()) {
        return Ok(false);
    }
    match recorded.filter(|r| !r.is_empty()) {
        Some(r) => Ok(r == who.account),
        None => Ok(first_account(store, login).await?.as_deref() == Some(who.account.as_str())),
    }
}

/// Whether `who` is one of the people `logins` names (a rotation's seats).
pub async fn is_one_of(store: &Store, who: &Who, logins: &[String]) -> Result<bool, StoreError> {
    for l in logins {
        if is(store, who, l, None).await? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Whether an account still has access, as far as Onwatch can tell without its session: its
/// provider is still a configured way in (`providers`), it has signed in, and no sign-in of
/// its login at its provider was refused since (the provider no longer gives it a role).
pub async fn still_allowed(
    store: &Store,
    account: &str,
    login: &str,
    providers: &[&str],
) -> Result<bool, StoreError> {
    let provider = provider_of(account);
    if provider.is_empty() || !providers.contains(&provider) {
        return Ok(false);
    }
    // A refused sign-in names no account (the provider gave none Onwatch accepts): its
    // provider and the login it reported are what it has.
    let row = sqlx::query(
        "SELECT kind FROM audit_log WHERE (kind = $1 AND actor = $2) \
         OR (kind = $3 AND actor = $4 AND LOWER(actor_name) = LOWER($5)) \
         ORDER BY seq DESC LIMIT 1",
    )
    .bind(Event::Signin.as_str())
    .bind(account)
    .bind(Event::SigninRefused.as_str())
    .bind(format!("{provider}:?"))
    .bind(login.trim())
    .fetch_optional(store.pool())
    .await?;
    Ok(match row {
        Some(r) => Event::parse(&r.try_get::<String, _>(0)?) == Some(Event::Signin),
        None => false,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::audit::{Actor, AuditLog, Entry, Event};
    use crate::store::StoreOptions;

    /// A store of each backend (Postgres when `ONWATCH_TEST_PG_URL` or a local cluster is
    /// there), migrated; the temp dir keeps SQLite's file alive.
    pub(crate) async fn stores() -> Vec<(Store, Option<tempfile::TempDir>)> {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/store/onwatch.db", dir.path().display());
        let sqlite = Store::open(&url, &StoreOptions::default()).await.unwrap();
        let pg_url = testkit::postgres_database()
            .await
            .expect("a Postgres for the tests (scripts/pg-test-cluster.sh start)");
        let pg = Store::open(&pg_url, &StoreOptions::default())
            .await
            .unwrap();
        vec![(sqlite, Some(dir)), (pg, None)]
    }

    /// Signs `login` in at `provider` as account `sub` (the audit row a sign-in writes).
    pub(crate) async fn sign_in(store: &Store, provider: &str, sub: &str, login: &str) -> Who {
        let account = format!("{provider}:{sub}");
        AuditLog::new(store.clone())
            .append(
                &Actor {
                    id: account.clone(),
                    name: login.into(),
                    role: "responder".into(),
                },
                &Entry::new(Event::Signin),
            )
            .await
            .unwrap();
        Who {
            account,
            login: login.into(),
        }
    }

    /// A sign-in refused at `provider` for `login` (no role any more).
    pub(crate) async fn refused(store: &Store, provider: &str, login: &str) {
        AuditLog::new(store.clone())
            .append(
                &Actor {
                    id: format!("{provider}:?"),
                    name: login.into(),
                    role: String::new(),
                },
                &Entry {
                    outcome: "refused".into(),
                    ..Entry::new(Event::SigninRefused)
                },
            )
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn a_login_is_the_account_that_first_signed_in_with_it() {
        for (store, _dir) in stores().await {
            store.migrate().await.unwrap();
            let gh = sign_in(&store, "github", "1001", "ana").await;
            let oidc = sign_in(&store, "oidc", "sub-9", "Ana").await;
            assert!(is(&store, &gh, "ana", None).await.unwrap());
            assert!(!is(&store, &oidc, "ana", None).await.unwrap());
            // A recorded account decides over the login's first one.
            assert!(is(&store, &oidc, "ana", Some("oidc:sub-9")).await.unwrap());
            assert!(!is(&store, &gh, "ana", Some("oidc:sub-9")).await.unwrap());
            // A different login is never the person, whatever the account.
            assert!(!is(&store, &gh, "bo", Some("github:1001")).await.unwrap());
            assert!(!is(&store, &Who::login_only("ana"), "ana", None)
                .await
                .unwrap());
        }
    }

    #[tokio::test]
    async fn access_ends_with_the_provider_or_a_refused_sign_in() {
        for (store, _dir) in stores().await {
            store.migrate().await.unwrap();
            let bo = sign_in(&store, "github", "77", "bo").await;
            let both = ["github", "oidc"];
            assert!(still_allowed(&store, &bo.account, "bo", &both)
                .await
                .unwrap());
            assert!(!still_allowed(&store, &bo.account, "bo", &["oidc"])
                .await
                .unwrap());
            // A refusal of another provider's "bo" says nothing about this one.
            refused(&store, "oidc", "bo").await;
            assert!(still_allowed(&store, &bo.account, "bo", &both)
                .await
                .unwrap());
            refused(&store, "github", "BO").await;
            assert!(!still_allowed(&store, &bo.account, "bo", &both)
                .await
                .unwrap());
            // Signed in again with a role: back.
            sign_in(&store, "github", "77", "bo").await;
            assert!(still_allowed(&store, &bo.account, "bo", &both)
                .await
                .unwrap());
            // An account never seen signing in has no access.
            assert!(!still_allowed(&store, "github:78", "cy", &both)
                .await
                .unwrap());
        }
    }
}
