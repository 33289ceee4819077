//! Working offline: commands said while the org cannot be reached wait in the journal's queue
//! ([`crate::journal::QueuedCommand`]) and are replayed by [`Agent::sync`] when it answers again,
//! without overwriting what a colleague changed in between.
//!
//! Owns the `[offline]` table of `config.toml`, the decision to queue (only when nothing reached
//! the org: [`crate::salesforce::OrgError::Unreachable`] before any write), what is refused
//! instead (phrases not understood, questions: they need the org), the record values remembered
//! for a later conflict check (*base*), and the sync ([`sync`]). Never prints or prompts; may
//! import what [`crate::app`] imports.

mod sync;

pub use sync::{FieldConflict, SyncOptions, SyncReport, Synced};

use std::path::Path;

use serde::Deserialize;
use serde_json::{Map, Value as Json, json};

use super::{Agent, Outcome, Preview, RunOptions, Status, What, parse_phrase};
use crate::config::{ConfigError, Home};
use crate::journal::{JournalError, QueueState, QueuedCommand, SeenRecord};

/// The `[offline]` settings of `config.toml`.
///
/// ```toml
/// [offline]
/// queue = true   # queue every command said while the org cannot be reached
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OfflineSettings {
    /// Queue commands when the org cannot be reached, as `sayso run --queue` does.
    pub queue: bool,
}

#[derive(Deserialize, Default)]
struct RawFile {
    #[serde(default)]
    offline: Option<RawOffline>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOffline {
    queue: Option<bool>,
}

impl OfflineSettings {
    /// Reads `[offline]` of `config.toml` in `home`; a missing file or table gives the defaults.
    ///
    /// # Errors
    /// [`ConfigError`] for an unreadable file or a bad value.
    pub fn load(home: &Home) -> Result<OfflineSettings, ConfigError> {
        let path = home.config_file();
        match std::fs::read_to_string(&path) {
            Ok(t) => OfflineSettings::parse(&t, &path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(OfflineSettings::default()),
            Err(source) => Err(ConfigError::Read { path, source }),
        }
    }

    /// Parses the `[offline]` table of a `config.toml` text; `path` is for messages.
    ///
    /// # Errors
    /// [`ConfigError::Parse`] naming the line.
    pub fn parse(text: &str, path: &Path) -> Result<OfflineSettings, ConfigError> {
        let raw: RawFile = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string().trim().replace('\n', " "),
        })?;
        Ok(OfflineSettings {
            queue: raw.offline.and_then(|o| o.queue).unwrap_or(false),
        })
    }
}

/// The current time as the queue stores it (RFC 3339, UTC, milliseconds).
fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// At most this many records of one outcome are remembered (a long answer is a list, not a
/// record the rep looked at).
const REMEMBER_MAX: usize = 200;

/// Words of a record name too common to say which record a phrase means.
const COMMON: &[&str] = &[
    "the", "and", "for", "inc", "corp", "ltd", "llc", "deal", "renewal", "new", "account",
];

/// The lowercase words of `text` (letters and digits).
fn words(text: &str) -> Vec<String> {
    text.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// Whether the phrase mentions this record: its whole name, or a distinctive word of it.
fn mentions(phrase_words: &[String], phrase: &str, name: &str) -> bool {
    let name_l = name.to_lowercase();
    if name_l.len() >= 3 && phrase.contains(&name_l) {
        return true;
    }
    words(name)
        .iter()
        .filter(|w| w.len() >= 4 && !COMMON.contains(&w.as_str()))
        .any(|w| phrase_words.contains(w))
}

/// A record's display name in an answer row.
fn row_name(r: &Json) -> String {
    ["Name", "Subject", "CaseNumber", "Title"]
        .iter()
        .find_map(|k| r.get(*k).and_then(Json::as_str))
        .unwrap_or_default()
        .to_string()
}

/// The object of a record id, from its key prefix.
fn object_of(id: &str) -> String {
    id.get(..3)
        .and_then(crate::id::object_for_prefix)
        .unwrap_or_default()
        .to_string()
}

/// The records an outcome showed or changed, with the values shown (for a later base).
fn seen_in(out: &Outcome, at: &str) -> Vec<SeenRecord> {
    let mut seen = Vec::new();
    let mut push = |id: &str, sobject: &str, name: String, fields: Map<String, Json>| {
        if !id.is_empty() && !fields.is_empty() {
            seen.push(SeenRecord {
                id: id.to_string(),
                sobject: if sobject.is_empty() {
                    object_of(id)
                } else {
                    sobject.to_string()
                },
                name,
                fields,
                seen_at: at.to_string(),
            });
        }
    };
    for c in out.changes() {
        let fields: Map<String, Json> = c
            .fields
            .iter()
            .filter(|(_, v)| !v["new"].as_str().is_some_and(|s| s.starts_with("@{")))
            .map(|(k, v)| (k.clone(), v["new"].clone()))
            .collect();
        push(
            c.id.as_deref().unwrap_or_default(),
            &c.sobject,
            c.name.clone(),
            fields,
        );
    }
    for r in out.records() {
        let id = r.get("id").or_else(|| r.get("Id")).and_then(Json::as_str);
        let Some(id) = id else { continue };
        let fields: Map<String, Json> = match r.get("fields").and_then(Json::as_object) {
            // A preview row: the old values are what the rep saw.
            Some(f) => f
                .iter()
                .map(|(k, v)| (k.clone(), v["old"].clone()))
                .collect(),
            None => r
                .as_object()
                .into_iter()
                .flatten()
                .filter(|(k, v)| k.as_str() != "Id" && !v.is_object() && !v.is_array())
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        };
        let sobject = r.get("sobject").and_then(Json::as_str).unwrap_or_default();
        push(id, sobject, row_name(r), fields);
    }
    seen
}

impl Agent {
    /// Runs a phrase like [`Agent::submit`]; when the org cannot be reached before anything was
    /// sent and `queue` is set, the command is queued instead ([`Agent::queue_phrase`]). What an
    /// answer or a change showed is remembered for the conflict check of later queued commands.
    pub async fn submit_or_queue(
        &mut self,
        phrase: &str,
        opts: RunOptions,
        queue: bool,
    ) -> Outcome {
        let out = self.submit(phrase, opts).await;
        self.after_submit(phrase, out, queue)
    }

    /// What [`Agent::submit_or_queue`] does with an outcome: remember what it showed, or (no
    /// connection, nothing written) queue the command or say how to.
    pub fn after_submit(&mut self, phrase: &str, out: Outcome, queue: bool) -> Outcome {
        if !out.unreachable || out.journal_entry.is_some() {
            self.remember(&out);
            return out;
        }
        if !queue {
            // A lookup that found no connection may have read as "not found": say what happened.
            let why = if out.status == Status::Failed {
                out.message
            } else {
                "could not reach the org".to_string()
            };
            let mut o = Outcome::new(
                Status::Failed,
                format!(
                    "{why}; nothing was sent (run with --queue, or set [offline] queue = true, to keep it for `sayso sync`)"
                ),
            );
            o.unreachable = true;
            o.api_calls = out.api_calls;
            return o;
        }
        self.queue_phrase(phrase)
    }

    /// Remembers the values an outcome showed or changed (the record cache of the queue's
    /// conflict check). Best effort: a journal error only loses the memory.
    pub fn remember(&self, out: &Outcome) {
        let seen = seen_in(out, &now());
        let _ = self
            .journal
            .seen_records_put(&seen[..seen.len().min(REMEMBER_MAX)]);
    }

    /// Queues a phrase said while the org cannot be reached: refused at once when it is not
    /// understood or asks something (a question needs the org); otherwise stored with the time
    /// said and the values the rep could see then. [`Status::Queued`].
    pub fn queue_phrase(&mut self, phrase: &str) -> Outcome {
        let parsed = parse_phrase(phrase, self.today);
        if parsed.is_not_understood() {
            let mut o = Outcome::new(
                Status::NotUnderstood,
                "not understood, so not queued; say it another way",
            );
            o.what = What::Suggestions(
                parsed
                    .clauses
                    .iter()
                    .flat_map(|c| match &c.intent {
                        crate::lang::Intent::NotUnderstood { suggestions } => suggestions.clone(),
                        _ => Vec::new(),
                    })
                    .collect(),
            );
            return o;
        }
        if let Some(c) = parsed.clauses.iter().find(|c| !c.intent.writes()) {
            return Outcome::new(
                Status::Failed,
                format!(
                    "needs the org: \"{}\" ({}) is answered by the org, which cannot be reached now; nothing was queued",
                    c.text,
                    c.intent.name().replace('_', " ")
                ),
            );
        }
        match self.push_queue(phrase) {
            Ok(o) => o,
            Err(e) => Outcome::new(Status::Failed, format!("not queued: {e}")),
        }
    }

    fn push_queue(&mut self, phrase: &str) -> Result<Outcome, JournalError> {
        let lower = phrase.to_lowercase();
        let phrase_words = words(phrase);
        let seen: Map<String, Json> = self
            .journal
            .seen_records()?
            .into_iter()
            .filter(|r| mentions(&phrase_words, &lower, &r.name))
            .map(|r| (r.id.clone(), json!(r)))
            .collect();
        let said_at = now();
        let id = self
            .journal
            .queue_push(&self.username, phrase, &said_at, &Json::Object(seen))?;
        let pending = self.journal.queue_pending()?;
        let mut o = Outcome::new(
            Status::Queued,
            format!(
                "queued as #{id} (the org cannot be reached; {pending} waiting): `sayso sync` sends it when it can"
            ),
        );
        o.what = What::Preview(Preview {
            records: vec![json!({"queue": id, "said_at": said_at, "phrase": phrase})],
            ..Preview::default()
        });
        o.count = Some(pending as u64);
        Ok(o)
    }

    /// The queue: the commands waiting to be synced, or (`all`) every one not dropped.
    ///
    /// # Errors
    /// [`JournalError`].
    pub fn queue(&self, all: bool) -> Result<Vec<QueuedCommand>, JournalError> {
        self.journal.queue_list(all)
    }

    /// How many commands wait to be synced (the shell's prompt).
    pub fn queued_count(&self) -> usize {
        self.journal.queue_pending().unwrap_or(0)
    }
}

/// Drops queued command `n` from the queue of the journal at `home` (no session needed).
///
/// # Errors
/// [`QueueDropError`].
pub fn queue_drop(home: &Home, n: i64) -> Result<QueuedCommand, QueueDropError> {
    let journal = super::open_journal(home)?;
    let item = journal.queue_get(n)?.ok_or(QueueDropError::NoSuch(n))?;
    if !item.state.is_pending() {
        return Err(QueueDropError::NotPending(n, item.state.as_str()));
    }
    journal.queue_set(n, QueueState::Dropped, "dropped", &Json::Null, None)?;
    Ok(item)
}

/// The queue of the journal at `home` (no session needed): pending commands, or every one.
///
/// # Errors
/// [`JournalError`].
pub fn queue_list(home: &Home, all: bool) -> Result<Vec<QueuedCommand>, JournalError> {
    super::open_journal(home)?.queue_list(all)
}

/// Why `sayso queue drop N` did nothing.
#[derive(Debug, thiserror::Error)]
pub enum QueueDropError {
    /// No such queued command.
    #[error("there is no queued command #{0}; `sayso queue` lists them")]
    NoSuch(i64),
    /// It was already synced or dropped.
    #[error("command #{0} is {1}, not waiting; nothing to drop")]
    NotPending(i64, &'static str),
    /// The journal.
    #[error(transparent)]
    Journal(#[from] JournalError),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::Answer;

    #[test]
    fn settings_read_the_offline_table() {
        let p = Path::new("config.toml");
        assert!(
            OfflineSettings::parse("[offline]\nqueue = true\n", p)
                .unwrap()
                .queue
        );
        assert!(!OfflineSettings::parse("[budget]\n", p).unwrap().queue);
        assert!(OfflineSettings::parse("[offline]\nqueue = 3\n", p).is_err());
    }

    #[test]
    fn a_phrase_mentions_a_record_by_a_distinctive_word() {
        let p = "set the amount on the initech deal to 92k";
        let w = words(p);
        assert!(mentions(&w, p, "Initech Renewal"));
        assert!(!mentions(&w, p, "Acme Renewal"));
    }

    #[test]
    fn answers_and_changes_are_remembered_with_their_values() {
        let o = Outcome::with(
            Status::Answered,
            "x",
            What::Answer(Answer {
                records: vec![
                    json!({"Id": "006000000000001AAA", "Name": "Initech Renewal", "Amount": 85000, "Account": {"Name": "I"}}),
                ],
                ..Answer::default()
            }),
        );
        let seen = seen_in(&o, "t");
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].fields["Amount"], json!(85000));
        assert!(!seen[0].fields.contains_key("Account"));
        assert_eq!(seen[0].sobject, "Opportunity");
    }
}
