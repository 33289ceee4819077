//! API usage: the `Sforce-Limit-Info` header, and the local ledger of calls per profile and day
//! (`SAYSO_HOME/usage/<profile>.json`) that enforces the `[budget]` of `config.toml`.
//!
//! The ledger is re-read before each update and written atomically, so several sayso processes
//! of one profile share a count (a rare lost update between two processes is accepted).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use super::error::{Error, LimitExceeded, LimitScope};
use crate::auth::store::write_replace;
use crate::config::{Budget, Home};

/// Days of history kept in a ledger file.
const KEEP_DAYS: usize = 31;

/// The org's numbers from one `Sforce-Limit-Info` header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LimitInfo {
    /// Calls used in the org's rolling 24 hours.
    pub used: u64,
    /// The org's daily allocation.
    pub max: u64,
    /// `per-app-api-usage=U/M(appName=…)`, when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_app: Option<PerAppUsage>,
}

/// A connected app's share of the org's allocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PerAppUsage {
    /// Calls used by the app.
    pub used: u64,
    /// The app's cap.
    pub max: u64,
    /// The app's name.
    pub app: String,
}

impl LimitInfo {
    /// Calls the org has left.
    pub fn remaining(&self) -> u64 {
        self.max.saturating_sub(self.used)
    }
}

fn parse_pair(s: &str) -> Option<(u64, u64)> {
    let (u, m) = s.trim().split_once('/')?;
    let m = m.split(|c: char| !c.is_ascii_digit()).next()?;
    Some((u.trim().parse().ok()?, m.parse().ok()?))
}

/// Parses a `Sforce-Limit-Info` value: `api-usage=25/5000; per-app-api-usage=17/250(appName=x)`.
pub fn parse_limit_info(value: &str) -> Option<LimitInfo> {
    let mut api = None;
    let mut per_app = None;
    for part in value.split(';') {
        let part = part.trim();
        if let Some(rest) = part.strip_prefix("api-usage=") {
            api = parse_pair(rest);
        } else if let Some(rest) = part.strip_prefix("per-app-api-usage=")
            && let Some((used, max)) = parse_pair(rest)
        {
            let app = rest
                .split_once("(appName=")
                .map(|(_, a)| a.trim_end_matches(')').to_string())
                .unwrap_or_default();
            per_app = Some(PerAppUsage { used, max, app });
        }
    }
    let (used, max) = api?;
    Some(LimitInfo { used, max, per_app })
}

/// One day of one profile in the ledger.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayUsage {
    /// REST calls this profile sent that day.
    pub calls: u64,
    /// The org's numbers from the last response of the day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org: Option<LimitInfo>,
    /// When the ledger was last updated (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct LedgerFile {
    #[serde(default)]
    days: BTreeMap<String, DayUsage>,
}

/// How close the profile is to its limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BudgetLevel {
    /// Below the warning threshold.
    Ok,
    /// Past `warn_at` of the budget or of the org's allocation.
    Warning,
    /// The budget is used up: calls stop before anything is sent.
    Exceeded,
}

/// The budget status of a profile today (`sayso usage`, warnings on every command).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BudgetStatus {
    /// The profile.
    pub profile: String,
    /// The ledger day (`YYYY-MM-DD`).
    pub day: String,
    /// Calls sent today by this profile.
    pub calls_today: u64,
    /// `[budget] daily_calls`.
    pub daily_calls: Option<u64>,
    /// `[budget] warn_at`.
    pub warn_at: f64,
    /// The org's numbers from the last response today.
    pub org: Option<LimitInfo>,
    /// The resulting level.
    pub level: BudgetLevel,
}

impl BudgetStatus {
    fn compute(profile: &str, day: &str, usage: &DayUsage, budget: Budget) -> BudgetStatus {
        let mut level = BudgetLevel::Ok;
        if let Some(max) = budget.daily_calls {
            if usage.calls >= max {
                level = BudgetLevel::Exceeded;
            } else if usage.calls as f64 >= budget.warn_at * max as f64 {
                level = BudgetLevel::Warning;
            }
        }
        if level == BudgetLevel::Ok
            && let Some(org) = &usage.org
            && org.max > 0
            && org.used as f64 >= budget.warn_at * org.max as f64
        {
            level = BudgetLevel::Warning;
        }
        BudgetStatus {
            profile: profile.to_string(),
            day: day.to_string(),
            calls_today: usage.calls,
            daily_calls: budget.daily_calls,
            warn_at: budget.warn_at,
            org: usage.org.clone(),
            level,
        }
    }

    /// The warning every command prints past the threshold, `None` below it.
    pub fn warning(&self) -> Option<String> {
        if self.level == BudgetLevel::Ok {
            return None;
        }
        let mut parts = Vec::new();
        if let Some(max) = self.daily_calls {
            parts.push(format!(
                "{} of {} calls of today's budget used",
                self.calls_today, max
            ));
        }
        if let Some(org) = &self.org {
            parts.push(format!(
                "org: {} of {} daily API requests used",
                org.used, org.max
            ));
        }
        Some(match self.level {
            BudgetLevel::Exceeded => format!(
                "API budget of profile `{}` is used up ({}); commands that call the API will stop",
                self.profile,
                parts.join("; ")
            ),
            _ => format!(
                "API usage of profile `{}` is past {:.0}% ({})",
                self.profile,
                self.warn_at * 100.0,
                parts.join("; ")
            ),
        })
    }
}

/// The usage ledger of one profile for one day, with its budget.
#[derive(Debug)]
pub struct Ledger {
    path: PathBuf,
    profile: String,
    day: String,
    budget: Budget,
    /// Serialises read-modify-write of the file within this process; held only for file I/O,
    /// never across `.await`.
    lock: Mutex<()>,
}

impl Ledger {
    /// The ledger of `profile` in `home` for `day` (`YYYY-MM-DD`).
    pub fn new(home: &Home, profile: &str, day: &str, budget: Budget) -> Ledger {
        let name: String = profile
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        Ledger {
            path: home.usage_dir().join(format!("{name}.json")),
            profile: profile.to_string(),
            day: day.to_string(),
            budget,
            lock: Mutex::new(()),
        }
    }

    /// The ledger of `profile` for today (`SAYSO_TODAY` or the local date) with the `[budget]` of
    /// `config.toml`: what a command reads to print the budget warning before it starts.
    ///
    /// # Errors
    /// [`crate::config::ConfigError`] for a bad `config.toml`.
    pub fn for_profile(home: &Home, profile: &str) -> Result<Ledger, crate::config::ConfigError> {
        let settings = crate::config::Settings::load(home)?;
        Ok(Ledger::new(
            home,
            profile,
            &super::client::ledger_day(),
            settings.budget,
        ))
    }

    /// The ledger file.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    fn read(&self) -> LedgerFile {
        std::fs::read(&self.path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    fn write(&self, mut file: LedgerFile) -> Result<(), Error> {
        while file.days.len() > KEEP_DAYS {
            let Some(oldest) = file.days.keys().next().cloned() else {
                break;
            };
            file.days.remove(&oldest);
        }
        let bytes = serde_json::to_vec_pretty(&file).unwrap_or_default();
        write_replace(&self.path, &bytes, false).map_err(|e| match e {
            crate::auth::Error::Io { path, source } => Error::Ledger { path, source },
            other => Error::Auth(other),
        })
    }

    fn update(&self, f: impl FnOnce(&mut DayUsage)) -> Result<(), Error> {
        let _g = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let mut file = self.read();
        let day = file.days.entry(self.day.clone()).or_default();
        f(day);
        day.updated_at = Some(chrono::Utc::now().to_rfc3339());
        self.write(file)
    }

    /// Today's usage.
    pub fn today(&self) -> DayUsage {
        let _g = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        self.read().days.remove(&self.day).unwrap_or_default()
    }

    /// The budget status now.
    pub fn status(&self) -> BudgetStatus {
        BudgetStatus::compute(&self.profile, &self.day, &self.today(), self.budget)
    }

    /// Refuses a call when the budget is used up — before anything is sent.
    ///
    /// # Errors
    /// [`Error::LimitExceeded`] with [`LimitScope::Budget`].
    pub fn check(&self) -> Result<(), Error> {
        let Some(max) = self.budget.daily_calls else {
            return Ok(());
        };
        let used = self.today().calls;
        if used >= max {
            return Err(Error::LimitExceeded(LimitExceeded {
                scope: LimitScope::Budget,
                used: Some(used),
                max: Some(max),
                profile: self.profile.clone(),
            }));
        }
        Ok(())
    }

    /// Counts one call sent.
    ///
    /// # Errors
    /// [`Error::Ledger`] when the file cannot be written.
    pub fn record_call(&self) -> Result<(), Error> {
        self.update(|d| d.calls += 1)
    }

    /// Keeps the org's numbers from a response.
    ///
    /// # Errors
    /// [`Error::Ledger`] when the file cannot be written.
    pub fn observe(&self, info: LimitInfo) -> Result<(), Error> {
        self.update(|d| d.org = Some(info))
    }

    /// The org's last known numbers today.
    pub fn org(&self) -> Option<LimitInfo> {
        self.today().org
    }

    /// The profile.
    pub fn profile(&self) -> &str {
        &self.profile
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_header_shapes() {
        assert_eq!(
            parse_limit_info("api-usage=18/5000"),
            Some(LimitInfo {
                used: 18,
                max: 5000,
                per_app: None
            })
        );
        let l = parse_limit_info(
            "api-usage=25/5000; per-app-api-usage=17/250(appName=sample-connected-app)",
        )
        .unwrap();
        assert_eq!(l.used, 25);
        assert_eq!(
            l.per_app,
            Some(PerAppUsage {
                used: 17,
                max: 250,
                app: "sample-connected-app".into()
            })
        );
        let l = parse_limit_info("api-usage=10018/100000; api-bursts=1/750").unwrap();
        assert_eq!((l.used, l.max, l.remaining()), (10018, 100000, 89982));
        assert_eq!(parse_limit_info("per-app-api-usage=1/2(appName=a)"), None);
        assert_eq!(parse_limit_info("garbage"), None);
        assert_eq!(parse_limit_info("api-usage=x/5"), None);
    }

    #[test]
    fn budget_warns_then_stops_before_sending() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::new(dir.path());
        let budget = Budget {
            daily_calls: Some(5),
            warn_at: 0.6,
        };
        let l = Ledger::new(&home, "p", "2026-11-18", budget);
        for _ in 0..2 {
            l.check().unwrap();
            l.record_call().unwrap();
        }
        assert_eq!(l.status().level, BudgetLevel::Ok);
        l.record_call().unwrap();
        let s = l.status();
        assert_eq!(s.level, BudgetLevel::Warning);
        assert!(s.warning().unwrap().contains("3 of 5"), "{:?}", s.warning());
        l.record_call().unwrap();
        l.record_call().unwrap();
        assert_eq!(l.status().level, BudgetLevel::Exceeded);
        assert!(matches!(
            l.check(),
            Err(Error::LimitExceeded(LimitExceeded {
                scope: LimitScope::Budget,
                ..
            }))
        ));
        // Another day starts fresh; another process sees the same count.
        assert!(
            Ledger::new(&home, "p", "2026-11-19", budget)
                .check()
                .is_ok()
        );
        assert_eq!(
            Ledger::new(&home, "p", "2026-11-18", budget).today().calls,
            5
        );
    }

    #[test]
    fn org_usage_past_the_threshold_warns() {
        let dir = tempfile::tempdir().unwrap();
        let l = Ledger::new(&Home::new(dir.path()), "p", "d", Budget::default());
        l.observe(parse_limit_info("api-usage=4100/5000").unwrap())
            .unwrap();
        assert_eq!(l.status().level, BudgetLevel::Warning);
        assert!(l.status().warning().unwrap().contains("4100 of 5000"));
    }
}
