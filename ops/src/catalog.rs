//! What the on-call engineer knows about each Builder service: what it does, the symptoms that
//! point to it, and the remedy. This is the runbook's knowledge in our own words; the service
//! pages, the "What's broken?" picker and the dashboard all read it from here.

use serde::{Deserialize, Serialize};

/// One symptom a person notices, and what to do about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Symptom {
    /// What the person sees, in their words.
    pub observed: &'static str,
    /// What to do about it.
    pub remedy: &'static str,
}

/// How a service is run and restarted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Runner {
    /// A Habitat service under the Supervisor (`hab svc stop/start`).
    Supervisor,
    /// A plain systemd unit on its own host (the sentinel bot: `systemctl restart sentinel`).
    Systemd,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ServiceInfo {
    /// Short name used in URLs and in the runbook: `api`, `sessionsrv`, …
    pub slug: &'static str,
    /// Habitat package name, which is also the service name in a service group.
    pub package: &'static str,
    pub title: &'static str,
    pub runner: Runner,
    /// One sentence: what it does.
    pub role: &'static str,
    pub symptoms: &'static [Symptom],
    /// Things to know before restarting it.
    pub cautions: &'static [&'static str],
}

/// Every service the on-call engineer looks after, in the order the runbook lists them.
pub const SERVICES: &[ServiceInfo] = &[
    ServiceInfo {
        slug: "api",
        package: "builder-api",
        title: "API gateway",
        runner: Runner::Supervisor,
        role: "The REST API gateway: every request from the web site and the hab CLI enters here.",
        symptoms: &[Symptom {
            observed: "The web site or `hab` commands get connection errors or 5xx from every endpoint",
            remedy: "Check its health here, read its Supervisor log, then restart the api service.",
        }],
        cautions: &[],
    },
    ServiceInfo {
        slug: "sessionsrv",
        package: "builder-sessionsrv",
        title: "Session service",
        runner: Runner::Supervisor,
        role: "Authenticates API calls and keeps each account's data.",
        symptoms: &[
            Symptom {
                observed: "Signing in to the web site does not work",
                remedy: "Restart sessionsrv.",
            },
            Symptom {
                observed: "\"My Origins\" shows up empty for people who have origins",
                remedy: "Restart sessionsrv.",
            },
        ],
        cautions: &[],
    },
    ServiceInfo {
        slug: "originsrv",
        package: "builder-originsrv",
        title: "Origin service",
        runner: Runner::Supervisor,
        role: "Owns the depot's data: origins, packages, channels, keys.",
        symptoms: &[Symptom {
            observed: "Package search is broken or returns nothing",
            remedy: "Restart originsrv.",
        }],
        cautions: &[],
    },
    ServiceInfo {
        slug: "router",
        package: "builder-router",
        title: "Router",
        runner: Runner::Supervisor,
        role: "The hub that routes every request to the service that handles it.",
        symptoms: &[Symptom {
            observed: "The site shows errors that survive restarting the individual services",
            remedy: "Restart the router.",
        }],
        cautions: &[
            "Every service talks through the router: a restart briefly interrupts all of them.",
        ],
    },
    ServiceInfo {
        slug: "datastore",
        package: "builder-datastore",
        title: "Datastore (PostgreSQL)",
        runner: Runner::Supervisor,
        role: "Runs the PostgreSQL database that holds every service's data.",
        symptoms: &[
            Symptom {
                observed: "Its log shows database errors",
                remedy: "Restart the datastore; it rarely needs it otherwise.",
            },
            Symptom {
                observed: "It will not start after a stop, and the log names lock files",
                remedy: "A stop did not clean up: remove the lock files the error names, then start it.",
            },
        ],
        cautions: &[
            "Restart it only when its logs show errors.",
            "A stop sometimes leaves lock files behind; the start error names them.",
        ],
    },
    ServiceInfo {
        slug: "scheduler",
        package: "builder-scheduler",
        title: "Scheduler",
        runner: Runner::Supervisor,
        role: "Manages package builds: decides what gets built and in which order.",
        symptoms: &[Symptom {
            observed: "Clicking \"Request new build\" does nothing",
            remedy: "Restart the scheduler.",
        }],
        cautions: &[],
    },
    ServiceInfo {
        slug: "jobsrv",
        package: "builder-jobsrv",
        title: "Job service",
        runner: Runner::Supervisor,
        role: "Handles build jobs and their output.",
        symptoms: &[Symptom {
            observed: "A build request says it was accepted, but no build output ever appears",
            remedy: "Restart jobsrv.",
        }],
        cautions: &[],
    },
    ServiceInfo {
        slug: "sentinel",
        package: "sentinel",
        title: "Sentinel bot",
        runner: Runner::Systemd,
        role: "The GitHub pull-request bot (@thesentinels) at bots.habitat.sh; a systemd unit, not under a Supervisor.",
        symptoms: &[Symptom {
            observed: "Pull requests get no welcome comment, or approve/merge commands are ignored",
            remedy: "Read its log (journalctl -u sentinel); if it is stuck, restart the sentinel unit.",
        }],
        cautions: &["Its configuration lives in /hab/svc/sentinel."],
    },
];

/// The service with this slug or package name.
pub fn service(name: &str) -> Option<&'static ServiceInfo> {
    SERVICES
        .iter()
        .find(|s| s.slug == name || s.package == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_runbook_service_is_described() {
        for slug in [
            "api",
            "sessionsrv",
            "originsrv",
            "router",
            "datastore",
            "scheduler",
            "jobsrv",
            "sentinel",
        ] {
            let s = service(slug).unwrap_or_else(|| panic!("{slug} missing"));
            assert!(!s.role.is_empty() && !s.symptoms.is_empty(), "{slug}");
        }
        assert_eq!(
            service("builder-originsrv").map(|s| s.slug),
            Some("originsrv")
        );
        assert!(service("nope").is_none());
    }

    #[test]
    fn slugs_are_unique() {
        let mut slugs: Vec<_> = SERVICES.iter().map(|s| s.slug).collect();
        slugs.sort_unstable();
        slugs.dedup();
        assert_eq!(slugs.len(), SERVICES.len());
    }
}
