//! The runbook's "before you go on call for the first time" list, as a checklist per person.
//!
//! Items verify themselves where Onwatch can know: the GitHub group from what the person's
//! sign-in showed, the `core` origin from the Builder API, SSH to production from a key check
//! against a production host, and "knows the services" from Onwatch's own records (every
//! service's page opened, a restart done in a non-production environment). The rest are ticked
//! by the person. Every tick, untick, admin confirmation and reset is appended with who and
//! when; the latest one is the item's state.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::change::{self, Error, Refusal};
use crate::store::{Store, StoreError};

/// The team's readiness, from the records and what Onwatch finds out itself.
pub mod changes;
pub mod team;

/// `[onboarding]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OnboardingOptions {
    /// The GitHub organisation (`habitat-sh`) or team (`habitat-sh/core`) the "GitHub group"
    /// item looks for among the memberships seen at sign-in.
    pub github_group: String,
    /// The Builder origin of the "core origin" item.
    pub origin: String,
    /// The environment whose Builder API answers the origin's members (with its
    /// `builder_token_file`), and whose hosts the SSH item tests a key against. Default: the
    /// first environment marked `production`.
    pub production_environment: Option<String>,
    /// The login the SSH item tests the person's key for: `{login}` is the person's login.
    pub ssh_user: String,
}

impl Default for OnboardingOptions {
    fn default() -> Self {
        OnboardingOptions {
            github_group: "habitat-sh".into(),
            origin: "core".into(),
            production_environment: None,
            ssh_user: "{login}".into(),
        }
    }
}

/// The audit outcomes of the SSH item's key check (its rows are of kind
/// [`Event::Onboarding`](crate::audit::Event::Onboarding)). Its attempts are counted from the
/// audit log (see [`Onboarding::key_checks`]), so that every replica enforces one limit.
pub const KEY_CHECK: &str = "ssh_key_test";
pub const KEY_CHECK_REFUSED: &str = "ssh_key_test_refused";
/// A person may ask production about at most this many keys in [`KEY_CHECK_WINDOW_MS`]: enough
/// to fix a typo or try a second key, too few to survey keys.
pub const KEY_CHECKS_PER_WINDOW: i64 = 5;
pub const KEY_CHECK_WINDOW_MS: i64 = 3_600_000;
/// The `ssh-keygen -Y sign -n` namespace of a proof that a person holds a key.
pub const KEY_PROOF_NAMESPACE: &str = "onwatch-onboarding";

/// The production account a person's key is checked for.
///
/// The check asks sshd whether it would accept a key for an account (the publickey query
/// without a signature), and sshd answers for anyone's key. So it may only ever ask about the
/// signed-in person's own access:
/// - `Own`: `ssh_user` has `{login}`, the mapping from a person to their production account
///   (their sign-in login). The account comes from the session, never from the request, so the
///   answer is about the person's own account and says nothing about anyone else's keys.
/// - `Shared`: `ssh_user` names one account everyone uses (`hab`, the demo's user). sshd's answer
///   then says whether *some* holder's key is authorised, which, for a colleague's public key
///   (public keys are public), tells who holds the shared account's keys. Here the person's
///   own access is a key they hold, so the check runs only for a key the person proves they
///   hold: an `ssh-keygen -Y sign` over their own challenge ([`key_challenge`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SshAccount {
    Own(String),
    Shared(String),
}

impl SshAccount {
    pub fn name(&self) -> &str {
        match self {
            SshAccount::Own(a) | SshAccount::Shared(a) => a,
        }
    }
}

/// A sign-in login that maps (through `ssh_user`) to no account name: the key cannot be checked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Your sign-in login gives the production account {0:?}, which is not an account name (letters, digits, _ - . up to 32): Onwatch cannot check your key, so ask an admin to confirm the item.")]
pub struct NoAccount(pub String);

/// Why a key proof proves nothing: what the person pasted is not what it should be.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyProofError {
    /// The key is not an OpenSSH public key (the parser's words).
    #[error("That is not an OpenSSH public key ({0}): paste one line such as `ssh-ed25519 AAAA… you@laptop`.")]
    NotAKey(String),
    /// The signature is not `ssh-keygen -Y sign` output (the parser's words).
    #[error("The signature is not `ssh-keygen -Y sign` output ({0}): paste everything from -----BEGIN SSH SIGNATURE----- to -----END SSH SIGNATURE-----.")]
    NotASignature(String),
    /// A signature, but not this key's over this person's challenge; `command` makes the right one.
    #[error("The signature is not this key's signature over your challenge: sign it with the private key of the key you pasted, with `{command}`.")]
    NotSigned { command: String },
}

impl OnboardingOptions {
    /// The account `login`'s key is checked for, or why there is none.
    pub fn ssh_account(&self, login: &str) -> Result<SshAccount, NoAccount> {
        if !self.ssh_user.contains("{login}") {
            return Ok(SshAccount::Shared(self.ssh_user.clone()));
        }
        let account = self.ssh_user.replace("{login}", login.trim());
        // A Unix account name (what useradd takes): a login such as `ana smith` or an e-mail
        // address maps to no account, and is not sent to sshd as one.
        let valid = !account.is_empty()
            && account.len() <= 32
            && !account.starts_with('-')
            && account
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
        if valid {
            Ok(SshAccount::Own(account))
        } else {
            Err(NoAccount(account))
        }
    }
}

/// What a person signs to prove they hold a key, for a shared account: it names them by their
/// stable identity (`provider:subject`), so a proof made by one person serves no one else.
pub fn key_challenge(actor_id: &str) -> String {
    format!("onwatch onboarding key check for {actor_id}")
}

/// The command that makes the proof (shown on the page), with the challenge quoted for a shell.
pub fn key_proof_command(actor_id: &str) -> String {
    format!(
        "printf '%s' '{}' | ssh-keygen -Y sign -n {KEY_PROOF_NAMESPACE} -f ~/.ssh/id_ed25519",
        key_challenge(actor_id).replace('\'', r"'\''")
    )
}

/// Whether `signature` (the armored `ssh-keygen -Y sign` output) proves that whoever made it
/// holds `public_key`'s private key and signed `actor_id`'s challenge. `Err` says what is wrong.
pub fn verify_key_proof(
    public_key: &str,
    signature: &str,
    actor_id: &str,
) -> Result<(), KeyProofError> {
    use russh::keys::ssh_key::{PublicKey, SshSig};
    let key = PublicKey::from_openssh(public_key.trim())
        .map_err(|e| KeyProofError::NotAKey(e.to_string()))?;
    let sig = SshSig::from_pem(signature.trim())
        .map_err(|e| KeyProofError::NotASignature(e.to_string()))?;
    let challenge = key_challenge(actor_id);
    // `echo` adds a newline that `printf '%s'` does not: either is the person's own challenge.
    let signed = [challenge.clone(), format!("{challenge}\n")]
        .iter()
        .any(|m| key.verify(KEY_PROOF_NAMESPACE, m.as_bytes(), &sig).is_ok());
    if signed {
        Ok(())
    } else {
        Err(KeyProofError::NotSigned {
            command: key_proof_command(actor_id),
        })
    }
}

/// The key checks a person made in the window: how many, and when the oldest was (it leaves the
/// window an hour later).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyChecks {
    pub count: i64,
    pub oldest_ms: Option<i64>,
}

/// How an item is satisfied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verify {
    Manual,
    Github,
    CoreOrigin,
    Ssh,
    Services,
}

impl Verify {
    pub fn as_str(self) -> &'static str {
        match self {
            Verify::Manual => "manual",
            Verify::Github => "github",
            Verify::CoreOrigin => "core_origin",
            Verify::Ssh => "ssh",
            Verify::Services => "services",
        }
    }

    pub fn parse(s: &str) -> Option<Verify> {
        Some(match s {
            "manual" => Verify::Manual,
            "github" => Verify::Github,
            "core_origin" => Verify::CoreOrigin,
            "ssh" => Verify::Ssh,
            "services" => Verify::Services,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    pub id: String,
    pub position: i64,
    pub text: String,
    pub verify: Verify,
    pub updated_by: String,
    pub updated_ms: i64,
    pub retired_by: Option<String>,
    pub retired_ms: Option<i64>,
}

/// One tick, untick, confirmation or reset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mark {
    pub item_id: String,
    pub person: String,
    /// `ticked`, `unticked`, `confirmed`, `reset`
    pub mark: String,
    pub by: String,
    pub at_ms: i64,
}

impl Mark {
    /// Whether this mark leaves the item done.
    pub fn done(&self) -> bool {
        matches!(self.mark.as_str(), "ticked" | "confirmed")
    }
}

/// A person Onwatch has seen signed in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    pub login: String,
    pub name: String,
    pub provider: String,
    pub memberships: Vec<String>,
    pub public_key: String,
    pub ssh_result: String,
    pub ssh_ms: Option<i64>,
    pub last_seen_ms: i64,
}

/// The stored half of the checklists (see [`Onboarding::records`]).
#[derive(Debug, Clone, Default)]
pub struct Records {
    pub items: Vec<Item>,
    pub people: Vec<Person>,
    /// The latest mark of each (person, item).
    pub marks: BTreeMap<(String, String), Mark>,
    /// Each person's service pages opened.
    pub views: BTreeMap<String, BTreeSet<String>>,
    /// Each person's first successful restart outside production: action id and when.
    pub restarts: BTreeMap<String, (String, i64)>,
}

/// What Onwatch knows for the automatic items, gathered once for a page.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// The origin's members from the Builder API: `None` when no token is configured (the item
    /// is then ticked by hand), `Some(Err)` when Builder could not say.
    pub origin_members: Option<Result<BTreeSet<String>, crate::text::Unread>>,
    /// Whether a key check against production is set up (else the SSH item is ticked).
    pub ssh_configured: bool,
    /// Every service page there is (`service:api`, …).
    pub service_pages: Vec<String>,
}

/// An item for one person: done or not, and how Onwatch knows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemStatus {
    pub item: Item,
    pub done: bool,
    /// "verified: …", "ticked by ana …", "not yet: …"
    pub how: String,
    /// Whether the person ticks it themselves (manual items, and automatic ones whose source
    /// is not configured).
    pub tickable: bool,
    pub last_mark: Option<Mark>,
}

#[derive(Debug, Clone)]
pub struct Onboarding {
    store: Store,
    pub options: OnboardingOptions,
    /// When each login was last recorded as seen (and with which memberships), so that a page
    /// view writes nothing unless something changed or ten minutes passed.
    recent: std::sync::Arc<std::sync::Mutex<BTreeMap<String, LastSeen>>>,
}

/// When a person was last recorded as seen, and their memberships then.
type LastSeen = (i64, Vec<String>);

fn lower(s: &str) -> String {
    s.trim().to_ascii_lowercase()
}

impl Onboarding {
    pub fn new(store: Store, options: OnboardingOptions) -> Onboarding {
        Onboarding {
            store,
            options,
            recent: Default::default(),
        }
    }

    /// Records, in the background, that someone signed in is using Onwatch (called on every
    /// page; writes at most every ten minutes a person, or when their memberships changed).
    /// The team view lists everyone seen, and the GitHub item reads their latest memberships.
    pub fn touch(&self, login: &str, name: &str, provider: &str, memberships: &[String]) {
        let now = crate::time::now_ms();
        let key = lower(login);
        {
            let Ok(mut recent) = self.recent.lock() else {
                return;
            };
            if let Some((at, m)) = recent.get(&key) {
                if now - at < 600_000 && m.as_slice() == memberships {
                    return;
                }
            }
            recent.insert(key, (now, memberships.to_vec()));
        }
        let (me, login, name, provider, memberships) = (
            self.clone(),
            login.to_owned(),
            name.to_owned(),
            provider.to_owned(),
            memberships.to_vec(),
        );
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                if let Err(e) = me.seen(&login, &name, &provider, &memberships, now).await {
                    tracing::warn!(error = %e, "a sign-in could not be recorded for onboarding");
                }
            });
        }
    }

    /// The checklist's items in order; retired ones too when asked.
    pub async fn items(&self, with_retired: bool) -> Result<Vec<Item>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, position, text, verify, updated_by, updated_ms, retired_by, retired_ms \
             FROM onboarding_items WHERE $1 = 1 OR retired_ms IS NULL ORDER BY position, id",
        )
        .bind(i64::from(with_retired))
        .fetch_all(self.store.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Item {
                    id: r.try_get(0)?,
                    position: r.try_get(1)?,
                    text: r.try_get(2)?,
                    verify: Verify::parse(&r.try_get::<String, _>(3)?).unwrap_or(Verify::Manual),
                    updated_by: r.try_get(4)?,
                    updated_ms: r.try_get(5)?,
                    retired_by: r.try_get(6)?,
                    retired_ms: r.try_get(7)?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    fn check_text(text: &str) -> Result<&str, Error> {
        let t = text.trim();
        if t.is_empty() || t.chars().count() > 200 {
            return Err(Error::refused(
                "item",
                "An item's text is 1 to 200 characters.",
            ));
        }
        Ok(t)
    }

    /// Adds an item at the end of the list.
    pub async fn add(
        &self,
        text: &str,
        verify: Verify,
        by: &str,
        now_ms: i64,
    ) -> Result<Item, Error> {
        let text = Self::check_text(text)?;
        let last = sqlx::query("SELECT COALESCE(MAX(position), 0) FROM onboarding_items")
            .fetch_one(self.store.pool())
            .await?;
        let position: i64 = last.try_get::<i64, _>(0)? + 10;
        let id = format!("i{}", &crate::auth::random_token()[..10]);
        sqlx::query(
            "INSERT INTO onboarding_items (id, position, text, verify, created_by, created_ms, \
             updated_by, updated_ms) VALUES ($1, $2, $3, $4, $5, $6, $5, $6)",
        )
        .bind(&id)
        .bind(position)
        .bind(text)
        .bind(verify.as_str())
        .bind(by)
        .bind(now_ms)
        .execute(self.store.pool())
        .await?;
        Ok(Item {
            id,
            position,
            text: text.into(),
            verify,
            updated_by: by.into(),
            updated_ms: now_ms,
            retired_by: None,
            retired_ms: None,
        })
    }

    /// Rewords an item; its marks stay (they name the item, not its words).
    pub async fn reword(&self, id: &str, text: &str, by: &str, now_ms: i64) -> Result<(), Error> {
        let text = Self::check_text(text)?;
        change::one(&self.store, sqlx::query(
                "UPDATE onboarding_items SET text = $1, updated_by = $2, updated_ms = $3 WHERE id = $4",
            )
            .bind(text)
            .bind(by)
            .bind(now_ms)
            .bind(id),
            || Refusal::new("item", format!("No item {id}.")),
        )
        .await
    }

    /// Retires an item (it leaves the checklist; who ticked it is kept) or brings it back.
    pub async fn retire(&self, id: &str, retire: bool, by: &str, now_ms: i64) -> Result<(), Error> {
        let q = if retire {
            sqlx::query(
                "UPDATE onboarding_items SET retired_by = $1, retired_ms = $2 WHERE id = $3",
            )
            .bind(by)
            .bind(now_ms)
            .bind(id)
        } else {
            sqlx::query(
                "UPDATE onboarding_items SET retired_by = NULL, retired_ms = NULL, updated_by = $1, \
                 updated_ms = $2 WHERE id = $3",
            )
            .bind(by)
            .bind(now_ms)
            .bind(id)
        };
        change::one(&self.store, q, || {
            Refusal::new("item", format!("No item {id}."))
        })
        .await
    }

    /// Moves an item one place up (`-1`) or down (`1`) among the live ones.
    pub async fn shift(&self, id: &str, by_places: i64) -> Result<(), Error> {
        let items = self.items(false).await?;
        let at = items
            .iter()
            .position(|i| i.id == id)
            .ok_or_else(|| Error::refused("item", format!("No live item {id}.")))?;
        let to = at as i64 + by_places.signum();
        if to < 0 || to >= items.len() as i64 {
            return Ok(());
        }
        let other = &items[to as usize];
        let me = &items[at];
        let mut tx = self.store.begin_write().await?;
        for (item, pos) in [(me, other.position), (other, me.position)] {
            sqlx::query("UPDATE onboarding_items SET position = $1 WHERE id = $2")
                .bind(pos)
                .bind(&item.id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Appends a mark. `ticked`/`unticked` by the person on their own tickable items;
    /// `confirmed`/`reset` by an admin on anyone's (the caller checks the role).
    pub async fn mark(
        &self,
        item_id: &str,
        person: &str,
        mark: &str,
        by: &str,
        now_ms: i64,
    ) -> Result<(), Error> {
        if !matches!(mark, "ticked" | "unticked" | "confirmed" | "reset") {
            return Err(Error::refused(
                "mark",
                format!("{mark:?} is not a mark (ticked, unticked, confirmed, reset)."),
            ));
        }
        let live = self
            .items(false)
            .await?
            .into_iter()
            .any(|i| i.id == item_id);
        if !live {
            return Err(Error::refused(
                "item",
                format!("No item {item_id} on the checklist (it may be retired)."),
            ));
        }
        sqlx::query(
            "INSERT INTO onboarding_marks (id, item_id, person, mark, by_login, at_ms) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(format!("m{}", &crate::auth::random_token()[..16]))
        .bind(item_id)
        .bind(lower(person))
        .bind(mark)
        .bind(by)
        .bind(now_ms)
        .execute(self.store.pool())
        .await?;
        Ok(())
    }

    /// The latest mark of each (person, item).
    pub async fn latest_marks(&self) -> Result<BTreeMap<(String, String), Mark>, StoreError> {
        let rows = sqlx::query(
            "SELECT item_id, person, mark, by_login, at_ms FROM onboarding_marks ORDER BY at_ms, id",
        )
        .fetch_all(self.store.pool())
        .await?;
        let mut out = BTreeMap::new();
        for r in &rows {
            let m = Mark {
                item_id: r.try_get(0)?,
                person: r.try_get(1)?,
                mark: r.try_get(2)?,
                by: r.try_get(3)?,
                at_ms: r.try_get(4)?,
            };
            out.insert((m.person.clone(), m.item_id.clone()), m);
        }
        Ok(out)
    }

    /// Records that someone signed in is using Onwatch (their name and memberships as the
    /// sign-in showed them).
    pub async fn seen(
        &self,
        login: &str,
        name: &str,
        provider: &str,
        memberships: &[String],
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let m = serde_json::to_string(memberships).unwrap_or_else(|_| "[]".into());
        let updated = sqlx::query(
            "UPDATE onboarding_people SET name = $1, provider = $2, memberships = $3, last_seen_ms = $4 \
             WHERE login = $5",
        )
        .bind(name)
        .bind(provider)
        .bind(&m)
        .bind(now_ms)
        .bind(lower(login))
        .execute(self.store.pool())
        .await?;
        if updated.rows_affected() == 0 {
            sqlx::query(
                "INSERT INTO onboarding_people (login, name, provider, memberships, last_seen_ms) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (login) DO NOTHING",
            )
            .bind(lower(login))
            .bind(name)
            .bind(provider)
            .bind(&m)
            .bind(now_ms)
            .execute(self.store.pool())
            .await?;
        }
        Ok(())
    }

    pub async fn people(&self) -> Result<Vec<Person>, StoreError> {
        let rows = sqlx::query(
            "SELECT login, name, provider, memberships, public_key, ssh_result, ssh_ms, last_seen_ms \
             FROM onboarding_people ORDER BY login",
        )
        .fetch_all(self.store.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let m: String = r.try_get(3)?;
                Ok(Person {
                    login: r.try_get(0)?,
                    name: r.try_get(1)?,
                    provider: r.try_get(2)?,
                    memberships: serde_json::from_str(&m).unwrap_or_default(),
                    public_key: r.try_get(4)?,
                    ssh_result: r.try_get(5)?,
                    ssh_ms: r.try_get(6)?,
                    last_seen_ms: r.try_get(7)?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    /// Keeps the person's declared public key and the result of testing it.
    pub async fn set_key(
        &self,
        login: &str,
        key: &str,
        result: &str,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE onboarding_people SET public_key = $1, ssh_result = $2, ssh_ms = $3 WHERE login = $4",
        )
        .bind(key.trim())
        .bind(result)
        .bind(now_ms)
        .bind(lower(login))
        .execute(self.store.pool())
        .await?;
        Ok(())
    }

    /// The key checks `actor_id` (`provider:subject`, the audit rows' stable actor) made in the
    /// last [`KEY_CHECK_WINDOW_MS`] by the store's clock (which stamps audit rows), counted from
    /// the audit log so that every replica agrees. `up_to_seq` counts only rows up to that
    /// one: a check that has appended its row asks whether it is still within the limit, which
    /// settles two checks racing (appends are serialised, so each sees the ones before it).
    pub async fn key_checks(
        &self,
        actor_id: &str,
        up_to_seq: Option<i64>,
    ) -> Result<KeyChecks, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT COUNT(*), MIN(at_ms) FROM audit_log \
             WHERE kind = $1 AND outcome = $2 AND actor = $3 AND at_ms > ({}) - $4 AND seq <= $5",
            self.store.clock_sql()
        ))
        .bind(crate::audit::Event::Onboarding.as_str())
        .bind(KEY_CHECK)
        .bind(actor_id)
        .bind(KEY_CHECK_WINDOW_MS)
        .bind(up_to_seq.unwrap_or(i64::MAX))
        .fetch_one(self.store.pool())
        .await?;
        Ok(KeyChecks {
            count: row.try_get(0)?,
            oldest_ms: row.try_get(1)?,
        })
    }

    /// Records the first time `login` opened `page` (`service:api`). Idempotent.
    pub async fn viewed(&self, login: &str, page: &str, now_ms: i64) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO page_views (login, page, first_ms) VALUES ($1, $2, $3) \
             ON CONFLICT (login, page) DO NOTHING",
        )
        .bind(lower(login))
        .bind(page)
        .bind(now_ms)
        .execute(self.store.pool())
        .await?;
        Ok(())
    }

    /// Each person's viewed pages.
    pub async fn views(&self) -> Result<BTreeMap<String, BTreeSet<String>>, StoreError> {
        let rows = sqlx::query("SELECT login, page FROM page_views")
            .fetch_all(self.store.pool())
            .await?;
        let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for r in &rows {
            out.entry(r.try_get(0)?).or_default().insert(r.try_get(1)?);
        }
        Ok(out)
    }

    /// Each person's first successful service restart outside production (the actions table,
    /// which the audit log backs): action id and when.
    pub async fn practice_restarts(
        &self,
        non_production: &[String],
    ) -> Result<BTreeMap<String, (String, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT actor_name, environment, id, requested_ms FROM actions \
             WHERE kind = 'restart_service' AND state = 'succeeded' ORDER BY requested_ms",
        )
        .fetch_all(self.store.pool())
        .await?;
        let mut out = BTreeMap::new();
        for r in &rows {
            let env: String = r.try_get(1)?;
            if non_production.contains(&env) {
                out.entry(lower(&r.try_get::<String, _>(0)?))
                    .or_insert((r.try_get(2)?, r.try_get(3)?));
            }
        }
        Ok(out)
    }

    /// Everything the checklists are worked out from, read once for a page: the live items,
    /// the people seen, the latest marks, the service pages opened and the practice restarts in
    /// the `non_production` environments.
    pub async fn records(&self, non_production: &[String]) -> Result<Records, StoreError> {
        Ok(Records {
            items: self.items(false).await?,
            people: self.people().await?,
            marks: self.latest_marks().await?,
            views: self.views().await?,
            restarts: self.practice_restarts(non_production).await?,
        })
    }

    /// One person's checklist.
    /// Times in the sentences are in `zone`, the reader's.
    pub fn status(
        &self,
        records: &Records,
        person: &str,
        facts: &Facts,
        zone: &vocab::Zone,
    ) -> Vec<ItemStatus> {
        let person = lower(person);
        let Records {
            items,
            people,
            marks,
            views,
            restarts,
        } = records;
        let who = people.iter().find(|p| p.login == person);
        let views = views.get(&person);
        let restart = restarts.get(&person);
        items
            .iter()
            .map(|item| {
                let last_mark = marks.get(&(person.clone(), item.id.clone())).cloned();
                // An automatic check: Some((done, how)) when its source is configured.
                let auto: Option<(bool, String)> = match item.verify {
                    Verify::Manual => None,
                    Verify::Github => Some(match who {
                        None => (false, "not yet: Onwatch has not seen this person sign in".into()),
                        Some(p) => {
                            let g = lower(&self.options.github_group);
                            let hit = p.memberships.iter().any(|m| {
                                let m = lower(m);
                                m == g || (!g.contains('/') && m.starts_with(&format!("{g}/")))
                            });
                            if hit {
                                (true, format!("verified: the {} sign-in shows {}", p.provider, self.options.github_group))
                            } else {
                                (false, format!(
                                    "not yet: the last sign-in ({}) did not show {}; ask an owner to add you, then sign in again",
                                    p.provider, self.options.github_group
                                ))
                            }
                        }
                    }),
                    Verify::CoreOrigin => match &facts.origin_members {
                        None => None,
                        Some(Ok(members)) => Some(if members.contains(&person) {
                            (true, format!("verified: Builder lists {person} in the {} origin", self.options.origin))
                        } else {
                            (false, format!(
                                "not yet: Builder does not list {person} in the {} origin; ask an origin owner to invite you",
                                self.options.origin
                            ))
                        }),
                        Some(Err(e)) => Some((false, format!("cannot check now: {e}"))),
                    },
                    Verify::Ssh => {
                        if facts.ssh_configured {
                            Some(match who {
                                Some(p) if p.ssh_result == "accepted" => (true, format!(
                                    "verified: production accepted the key you declared ({})",
                                    p.ssh_ms.map(|t| zone.date_time(t)).unwrap_or_default()
                                )),
                                Some(p) if !p.public_key.is_empty() => {
                                    (false, format!("not yet: {}", p.ssh_result))
                                }
                                _ => (false, "not yet: declare your public key below and Onwatch will test it against production".into()),
                            })
                        } else {
                            None
                        }
                    }
                    Verify::Services => {
                        let seen = views.cloned().unwrap_or_default();
                        let missing: Vec<&str> = facts
                            .service_pages
                            .iter()
                            .filter(|p| !seen.contains(*p))
                            .map(|p| p.trim_start_matches("service:"))
                            .collect();
                        Some(match (missing.is_empty(), restart) {
                            (true, Some((id, at))) => (true, format!(
                                "verified: opened every service's page, and restarted a service in acceptance ({id}, {})",
                                zone.date_time(*at)
                            )),
                            (false, _) => (false, format!("not yet: open the pages of {}", missing.join(", "))),
                            (true, None) => (false, "not yet: every page opened; now restart a service in acceptance".into()),
                        })
                    }
                };
                let by_mark = |m: &Mark| {
                    format!("{} by {} ({})", m.mark, m.by, zone.date_time(m.at_ms))
                };
                let (done, how) = match (&auto, &last_mark) {
                    // An admin's confirmation or reset has the last word over a check.
                    (_, Some(m)) if m.mark == "confirmed" => (true, by_mark(m)),
                    (Some((ok, how)), _) => (*ok, how.clone()),
                    (None, Some(m)) => (m.done(), by_mark(m)),
                    (None, None) => (false, "not yet ticked".into()),
                };
                ItemStatus {
                    item: item.clone(),
                    done,
                    how,
                    tickable: auto.is_none(),
                    last_mark,
                }
            })
            .collect()
    }
}
