//! The team's readiness: everyone's checklist (the rotation's members and everyone seen signed
//! in), worked out from the records and from what Onwatch can find out itself (the origin's
//! members from Builder, whether production can be reached over SSH). The onboarding page and
//! the on-call chores (who is scheduled but not ready) read it from here, so a server task
//! never calls into the UI crate.

use std::collections::BTreeSet;
use std::sync::Mutex;

use super::{Facts, Onboarding, Records};
use crate::access::Access;
use crate::fleet::FleetModel;
use crate::oncall::OnCall;

/// What the team's readiness is read from.
#[derive(Clone, Copy)]
pub struct Sources<'a> {
    pub onboarding: &'a Onboarding,
    pub oncall: &'a OnCall,
    /// Which environments there are, and how Onwatch reaches them (SSH, the Builder API).
    pub access: &'a Access,
    pub fleet: &'a FleetModel,
}

/// One person's checklist, counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Readiness {
    pub login: String,
    pub name: String,
    pub done: usize,
    pub total: usize,
    pub ready: bool,
    /// In the rotation's coming shifts.
    pub scheduled: bool,
    /// The items not done, in words.
    pub missing: Vec<String>,
}

/// The origin's members, or why Builder could not say.
type Members = Result<BTreeSet<String>, crate::text::Unread>;

impl Sources<'_> {
    /// The environment the origin and SSH checks use: the configured one, else the first
    /// production environment.
    pub fn production(&self) -> Option<String> {
        self.onboarding
            .options
            .production_environment
            .clone()
            .or_else(|| {
                self.access
                    .environments()
                    .into_iter()
                    .find(|(_, p)| *p)
                    .map(|(n, _)| n)
            })
    }

    /// The environments that are not production (a practice restart counts there).
    pub fn non_production(&self) -> Vec<String> {
        self.access
            .environments()
            .into_iter()
            .filter(|(_, p)| !*p)
            .map(|(n, _)| n)
            .collect()
    }

    /// A production host Onwatch can reach over SSH (the first by name), if any.
    pub fn ssh_host(&self) -> Option<(String, String)> {
        let env = self.production()?;
        let snap = self.fleet.snapshot(crate::time::now_ms());
        let e = snap.environments.iter().find(|e| e.name == env)?;
        let mut hosts: Vec<&str> = e.hosts.iter().map(|h| h.host.name.as_str()).collect();
        hosts.sort_unstable();
        hosts
            .into_iter()
            .find(|h| self.access.ssh_target(&env, h).is_ok())
            .map(|h| (env.clone(), h.to_owned()))
    }

    /// The origin's members, asked of Builder at most every 30 s (`None`: no Builder API is
    /// configured for production).
    async fn origin_members(&self) -> Option<Members> {
        static LAST: Mutex<Option<(i64, Members)>> = Mutex::new(None);
        let env = self.production()?;
        let api = match self.access.builder_api(&env)? {
            Ok(api) => api,
            Err(e) => return Some(Err(crate::text::Unread(e.to_string()))),
        };
        let now = crate::time::now_ms();
        if let Some((at, r)) = LAST.lock().ok().and_then(|l| l.clone()) {
            if now - at < 30_000 {
                return Some(r);
            }
        }
        let origin = &self.onboarding.options.origin;
        let r = api
            .origin_members(origin)
            .await
            .map(|m| m.into_iter().map(|l| l.to_ascii_lowercase()).collect())
            .map_err(|e| {
                crate::text::Unread(format!(
                    "Builder ({env}) could not list the {origin} origin: {e}"
                ))
            });
        if let Ok(mut l) = LAST.lock() {
            *l = Some((now, r.clone()));
        }
        Some(r)
    }

    /// What Onwatch knows for the automatic items.
    pub async fn facts(&self) -> Facts {
        Facts {
            origin_members: self.origin_members().await,
            ssh_configured: self.ssh_host().is_some(),
            service_pages: crate::catalog::SERVICES
                .iter()
                .map(|s| format!("service:{}", s.slug))
                .collect(),
        }
    }

    /// Everyone's checklist (the rotation's members and everyone seen signed in), with the
    /// records and facts it was worked out from. Times in the items' words are in `zone`.
    pub async fn team(
        &self,
        zone: &vocab::Zone,
    ) -> Result<(Vec<Readiness>, Records, Facts), crate::store::StoreError> {
        let ob = self.onboarding;
        let records = ob.records(&self.non_production()).await?;
        let facts = self.facts().await;
        let now = crate::time::now_ms();
        let scheduled = match &self.oncall.rotation {
            Some(r) => self.oncall.scheduled(now, now + 4 * r.shift_ms()).await?,
            None => Vec::new(),
        };
        let mut logins: Vec<(String, String)> = records
            .people
            .iter()
            .map(|p| (p.login.clone(), p.name.clone()))
            .collect();
        if let Some(r) = &self.oncall.rotation {
            for m in r.members() {
                if !logins.iter().any(|(l, _)| l.eq_ignore_ascii_case(m)) {
                    logins.push((m.to_ascii_lowercase(), m.clone()));
                }
            }
        }
        logins.sort();
        let rows = logins
            .into_iter()
            .map(|(login, name)| {
                let st = ob.status(&records, &login, &facts, zone);
                let missing: Vec<String> = st
                    .iter()
                    .filter(|s| !s.done)
                    .map(|s| s.item.text.clone())
                    .collect();
                Readiness {
                    done: st.len() - missing.len(),
                    total: st.len(),
                    ready: missing.is_empty(),
                    scheduled: scheduled.iter().any(|s| s.eq_ignore_ascii_case(&login)),
                    missing,
                    login,
                    name,
                }
            })
            .collect();
        Ok((rows, records, facts))
    }

    /// The people scheduled in the coming shifts whose checklist is not complete.
    pub async fn not_ready(&self) -> Result<Vec<String>, crate::store::StoreError> {
        let (rows, _, _) = self.team(&vocab::Zone::utc()).await?;
        Ok(rows
            .into_iter()
            .filter(|r| r.scheduled && !r.ready)
            .map(|r| r.login)
            .collect())
    }
}
