//! Tab completion and hints for the shell: verbs and example commands (from the grammars), object
//! words, field labels and picklist values (from this user's cached describes under
//! `SAYSO_HOME/cache/describe/<user>/`), recently seen record names, and the `:` commands.
//!
//! Owns the [`Vocab`] (what can be completed) and the rustyline [`Helper`]. Reads cache files only;
//! never calls the org. The shell refreshes the vocabulary after each command.

use std::borrow::Cow;
use std::path::Path;
use std::sync::{Arc, Mutex};

use rustyline::completion::{Completer, Pair};
use rustyline::highlight::{CmdKind, Highlighter};
use rustyline::hint::Hinter;
use rustyline::validate::Validator;
use rustyline::{Context, Helper};
use sayso::lang::Grammar;
use sayso::resolve::schema::ObjectDescribe;

/// The shell's own commands.
pub(crate) const COLON_COMMANDS: [&str; 10] = [
    ":undo",
    ":history",
    ":dry-run on",
    ":dry-run off",
    ":whoami",
    ":usage",
    ":help",
    ":profile ",
    ":quit",
    ":clear",
];

/// Object words a phrase may use.
const OBJECT_WORDS: [&str; 10] = [
    "opportunity",
    "deal",
    "account",
    "contact",
    "lead",
    "case",
    "task",
    "note",
    "call",
    "reminder",
];

/// Everything the shell can complete.
#[derive(Debug, Default)]
pub(crate) struct Vocab {
    /// First words of commands.
    pub(crate) verbs: Vec<String>,
    /// Whole example commands, for hints.
    pub(crate) examples: Vec<String>,
    /// Field labels (lowercase as users say them) from the cached describes.
    pub(crate) fields: Vec<String>,
    /// Picklist values from the cached describes.
    pub(crate) values: Vec<String>,
    /// Record names seen in this session, newest first.
    pub(crate) records: Vec<String>,
}

impl Vocab {
    /// Verbs and examples from the embedded grammar, fields from the describe cache in `cache`.
    pub(crate) fn load(cache: &Path) -> Vocab {
        let mut v = Vocab::default();
        if let Ok(g) = Grammar::embedded() {
            for (_, e) in g.examples() {
                if let Some(w) = e.split_whitespace().next() {
                    push_unique(&mut v.verbs, w.to_lowercase());
                }
                push_unique(&mut v.examples, e.to_string());
            }
        }
        v.refresh_describes(cache);
        v
    }

    /// Re-reads the cached describes (they appear as commands touch new objects).
    pub(crate) fn refresh_describes(&mut self, cache: &Path) {
        let Ok(dir) = std::fs::read_dir(cache) else {
            return;
        };
        for entry in dir.flatten() {
            let path = entry.path();
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            let Some(doc) = std::fs::read(&path)
                .ok()
                .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            else {
                continue;
            };
            let Some(d) = doc.get("describe") else {
                continue;
            };
            let d = ObjectDescribe::from_json(d);
            for f in &d.fields {
                if f.updateable || f.createable {
                    push_unique(&mut self.fields, f.label.to_lowercase());
                }
                for p in f.picklist.iter().filter(|p| p.active) {
                    push_unique(&mut self.values, p.label.clone());
                }
            }
        }
    }

    /// Remembers a record name (newest first, at most 200).
    pub(crate) fn saw_record(&mut self, name: &str) {
        let name = name.trim();
        if name.is_empty() {
            return;
        }
        self.records.retain(|r| r != name);
        self.records.insert(0, name.to_string());
        self.records.truncate(200);
    }

    /// Completions for the text before the cursor: `(start, candidates)`.
    pub(crate) fn complete(&self, line: &str) -> (usize, Vec<String>) {
        if line.starts_with(':') {
            let c: Vec<String> = COLON_COMMANDS
                .iter()
                .filter(|c| c.starts_with(line) && c.len() > line.len())
                .map(|c| c.to_string())
                .collect();
            return (0, c);
        }
        let starts = word_starts(line);
        if starts.len() <= 1 && !line.ends_with(' ') {
            let frag = line.trim_start();
            let start = line.len() - frag.len();
            let c = matching(self.verbs.iter(), frag);
            if !c.is_empty() {
                return (start, c);
            }
        }
        // The longest tail of up to four words that starts some known phrase wins.
        let pools: [&[String]; 3] = [&self.records, &self.fields, &self.values];
        for &s in starts.iter().rev().take(4).rev() {
            let frag = &line[s..];
            if frag.trim().is_empty() {
                continue;
            }
            let mut c: Vec<String> = Vec::new();
            for pool in pools {
                for m in matching(pool.iter(), frag) {
                    push_unique(&mut c, m);
                }
            }
            for m in matching(OBJECT_WORDS.iter(), frag) {
                push_unique(&mut c, m);
            }
            if !c.is_empty() {
                return (s, c);
            }
        }
        (line.len(), Vec::new())
    }

    /// A hint for the line so far: the rest of an example command, or of the one completion.
    pub(crate) fn hint(&self, line: &str) -> Option<String> {
        if line.trim().len() < 2 {
            return None;
        }
        let lower = line.to_lowercase();
        if let Some(e) = self
            .examples
            .iter()
            .find(|e| e.to_lowercase().starts_with(&lower) && e.len() > line.len())
        {
            // `get`: a line whose lowercase has another byte length must not panic
            return e.get(line.len()..).map(str::to_string);
        }
        if line.ends_with(' ') {
            return None;
        }
        let (start, c) = self.complete(line);
        match c.as_slice() {
            [one] => one.get(line.len() - start..).map(str::to_string),
            _ => None,
        }
    }
}

fn push_unique(v: &mut Vec<String>, s: String) {
    if !v.contains(&s) {
        v.push(s);
    }
}

/// Byte offsets where words start.
fn word_starts(line: &str) -> Vec<usize> {
    let mut out = Vec::new();
    let mut prev_space = true;
    for (i, c) in line.char_indices() {
        let space = c.is_whitespace() || c == '"' || c == '\'';
        if prev_space && !space {
            out.push(i);
        }
        prev_space = space;
    }
    out
}

/// Entries that start with `frag` (case-insensitive) and are longer, best (shortest) first.
fn matching<'a, S: AsRef<str> + 'a>(pool: impl Iterator<Item = &'a S>, frag: &str) -> Vec<String> {
    let f = frag.to_lowercase();
    let mut out: Vec<String> = pool
        .map(AsRef::as_ref)
        .filter(|p| p.len() > frag.len() && p.to_lowercase().starts_with(&f))
        .map(str::to_string)
        .collect();
    out.sort_by_key(String::len);
    out.truncate(40);
    out
}

/// The rustyline helper over a shared vocabulary.
pub(crate) struct ShellHelper {
    pub(crate) vocab: Arc<Mutex<Vocab>>,
    pub(crate) color: bool,
}

impl Completer for ShellHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let Ok(v) = self.vocab.lock() else {
            return Ok((pos, Vec::new()));
        };
        let (start, c) = v.complete(&line[..pos]);
        Ok((
            start,
            c.into_iter()
                .map(|s| Pair {
                    display: s.clone(),
                    replacement: s,
                })
                .collect(),
        ))
    }
}

impl Hinter for ShellHelper {
    type Hint = String;

    fn hint(&self, line: &str, pos: usize, _ctx: &Context<'_>) -> Option<String> {
        if pos < line.len() {
            return None;
        }
        self.vocab.lock().ok()?.hint(line)
    }
}

impl Highlighter for ShellHelper {
    fn highlight_hint<'h>(&self, hint: &'h str) -> Cow<'h, str> {
        if self.color {
            Cow::Owned(format!("\x1b[2m{hint}\x1b[0m"))
        } else {
            Cow::Borrowed(hint)
        }
    }

    fn highlight_char(&self, _line: &str, _pos: usize, _kind: CmdKind) -> bool {
        false
    }
}

impl Validator for ShellHelper {}

impl Helper for ShellHelper {}

#[cfg(test)]
mod tests {
    use super::*;

    fn vocab() -> Vocab {
        let mut v = Vocab::load(Path::new("/nonexistent"));
        v.fields = vec!["close date".into(), "amount".into(), "next step".into()];
        v.values = vec!["Negotiation/Review".into(), "Closed Won".into()];
        v.saw_record("Initech Renewal");
        v.saw_record("Globex Enterprise License");
        v
    }

    #[test]
    fn completes_verbs_at_the_start_from_the_grammar() {
        let (start, c) = vocab().complete("upd");
        assert_eq!(start, 0);
        assert_eq!(c, vec!["update"]);
    }

    #[test]
    fn completes_names_fields_and_values_after_the_verb() {
        let v = vocab();
        assert_eq!(
            v.complete("set the amount on Init"),
            (18, vec!["Initech Renewal".to_string()])
        );
        assert_eq!(
            v.complete("move globex enterprise license to negot"),
            (34, vec!["Negotiation/Review".to_string()])
        );
        assert_eq!(
            v.complete("push the clo").1,
            vec!["close date", "Closed Won"]
        );
        // several words typed of a multi-word name
        assert_eq!(
            v.complete("update Globex Ent").1,
            vec!["Globex Enterprise License"]
        );
        assert_eq!(v.complete(":dr").1, vec![":dry-run on", ":dry-run off"]);
    }

    #[test]
    fn odd_input_never_panics() {
        let v = vocab();
        for line in [
            "İİİ",
            "ß how many",
            "how many ópen",
            "\u{0}",
            "set the ámount on Í",
        ] {
            let _ = v.hint(line);
            let _ = v.complete(line);
        }
    }

    #[test]
    fn hints_finish_an_example_or_the_only_completion() {
        let v = vocab();
        assert!(v.hint("how many open d").is_some_and(|h| !h.is_empty()));
        assert_eq!(
            v.hint("log a call about Initech Ren"),
            Some("ewal".to_string())
        );
    }
}
