//! Load and validate a grammar directory (`grammars/en/*.grammar`): intents with their patterns,
//! examples and help, and the lexicon (word classes, object words, field aliases, picklist value
//! synonyms). The embedded English grammar is compiled into the binary with `include_dir!`.
//!
//! Owns the grammar file format (specified in `grammars/README.md`) and its errors, which name
//! `file:line`. Reads files only in [`Grammar::load_dir`]; everything else is pure. The alias tables
//! are public so the resolver can use them ([`Grammar::field_aliases`], [`Grammar::value_hints`],
//! [`Grammar::object_word`]).

use std::collections::HashMap;
use std::path::Path;
use std::sync::LazyLock;

use include_dir::{Dir, include_dir};

use super::intent::{FieldAlias, ObjectKind, ValueHint};
use super::pattern::{self, Pattern};

static EMBEDDED_DIR: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/grammars/en");

static EMBEDDED: LazyLock<Result<Grammar, GrammarError>> = LazyLock::new(|| {
    let mut files: Vec<(String, String)> = EMBEDDED_DIR
        .files()
        .filter(|f| f.path().extension().is_some_and(|e| e == "grammar"))
        .map(|f| {
            (
                format!("grammars/en/{}", f.path().display()),
                f.contents_utf8().unwrap_or("").to_string(),
            )
        })
        .collect();
    files.sort();
    Grammar::from_sources(&files)
});

/// A grammar file could not be read or is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GrammarError {
    /// A line is invalid.
    #[error("{file}:{line}: {message}")]
    Line {
        /// The file (as given or as embedded, e.g. `grammars/en/update_fields.grammar`).
        file: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The grammar as a whole is incomplete (a required class is missing, no intents…).
    #[error("{dir}: {message}")]
    Incomplete {
        /// The directory.
        dir: String,
        /// What is missing.
        message: String,
    },
    /// A file or directory could not be read.
    #[error("cannot read grammar `{path}`: {message}")]
    Io {
        /// The path.
        path: String,
        /// The OS error text.
        message: String,
    },
}

/// The kinds of intent a grammar section can declare (`intent: update_fields`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IntentKind {
    /// `update_fields`
    UpdateFields,
    /// `add_note`
    AddNote,
    /// `log_call`
    LogCall,
    /// `create_task`
    CreateTask,
    /// `complete_task`
    CompleteTask,
    /// `create_record`
    CreateRecord,
    /// `add_contact_role`
    AddContactRole,
    /// `reassign`
    Reassign,
    /// `question`
    Question,
    /// `undo`
    Undo,
    /// `help`
    Help,
    /// `schedule_meeting`
    ScheduleMeeting,
    /// `create_case`
    CreateCase,
}

impl IntentKind {
    /// The header name of this kind (`update_fields`, …), also [`super::Intent::name`].
    pub fn name(self) -> &'static str {
        match self {
            IntentKind::UpdateFields => "update_fields",
            IntentKind::AddNote => "add_note",
            IntentKind::LogCall => "log_call",
            IntentKind::CreateTask => "create_task",
            IntentKind::CompleteTask => "complete_task",
            IntentKind::CreateRecord => "create_record",
            IntentKind::AddContactRole => "add_contact_role",
            IntentKind::Reassign => "reassign",
            IntentKind::Question => "question",
            IntentKind::Undo => "undo",
            IntentKind::Help => "help",
            IntentKind::ScheduleMeeting => "schedule_meeting",
            IntentKind::CreateCase => "create_case",
        }
    }

    /// The kind for a grammar header name.
    pub fn from_name(s: &str) -> Option<IntentKind> {
        Some(match s {
            "update_fields" => IntentKind::UpdateFields,
            "add_note" => IntentKind::AddNote,
            "log_call" => IntentKind::LogCall,
            "create_task" => IntentKind::CreateTask,
            "complete_task" => IntentKind::CompleteTask,
            "create_record" => IntentKind::CreateRecord,
            "add_contact_role" => IntentKind::AddContactRole,
            "reassign" => IntentKind::Reassign,
            "question" => IntentKind::Question,
            "undo" => IntentKind::Undo,
            "help" => IntentKind::Help,
            "schedule_meeting" => IntentKind::ScheduleMeeting,
            "create_case" => IntentKind::CreateCase,
            _ => return None,
        })
    }
}

/// One intent section of a grammar.
#[derive(Debug, Clone)]
pub(crate) struct IntentRule {
    pub(crate) kind: IntentKind,
    pub(crate) help: String,
    pub(crate) examples: Vec<String>,
    pub(crate) patterns: Vec<Pattern>,
}

/// A loaded grammar: intents and lexicon.
#[derive(Debug, Clone)]
pub struct Grammar {
    pub(crate) rules: Vec<IntentRule>,
    pub(crate) classes: HashMap<String, Vec<Vec<String>>>,
    /// object word (lowercase, joined) → (object, plural)
    objects: HashMap<String, (ObjectKind, bool)>,
    /// field words → aliases
    fields: HashMap<String, Vec<FieldAlias>>,
    /// value words → hints
    values: HashMap<String, Vec<ValueHint>>,
    /// shorthand words as typed (joined) → the words they stand for ("amt" → "amount")
    shorthand: HashMap<String, Vec<String>>,
    /// Longest shorthand in words.
    pub(crate) max_shorthand_words: usize,
    /// Every word of the lexicon and the patterns (field, value, object and class words, literals).
    known_words: std::collections::HashSet<String>,
    /// Lexicon words long enough to correct a typo to, by first letter (field, value and object
    /// words).
    typo_targets: HashMap<char, Vec<String>>,
    /// Longest field alias in words, for scanning.
    pub(crate) max_field_words: usize,
    /// Longest object word in words.
    pub(crate) max_object_words: usize,
    /// Words that start a clause (first words of patterns), for clause splitting.
    pub(crate) clause_starts: std::collections::HashSet<String>,
    /// (pattern index list) in order: (rule index, pattern index)
    pub(crate) by_first_word: HashMap<String, Vec<(usize, usize)>>,
    /// Patterns that may start with anything.
    pub(crate) open_start: Vec<(usize, usize)>,
}

/// Classes the Rust code relies on; a grammar without them is incomplete.
pub(crate) const REQUIRED_CLASSES: &[&str] = &[
    "filler",
    "noise_filler",
    "trailing_filler",
    "lead_filler",
    "repair",
    "article",
    "conjunction",
    "pronoun_person",
    "pronoun_thing",
    "demonstrative",
    "mine",
    "open",
    "closed",
    "all",
    "task_word",
    "statement_start",
    "statement_verb",
    "bare_clause_start",
    "true_word",
    "false_word",
    "high_priority",
    "low_priority",
    "normal_priority",
    "overdue",
    "over",
    "under",
    "closing",
    "sector",
    "email_tld",
    "filter_filler",
    "won",
    "lost",
    "group_by",
    "rank_largest",
    "rank_smallest",
    "rank_soonest",
    "rank_latest",
    "interrogative",
    "question_tail",
    "month_group",
    "untouched",
    "stale",
    "weak_filler",
    "like_keep_after",
    "note_word",
    "clause_subject",
    "company_word",
    "create",
    "update",
    "list_lead",
    "list_companies",
];

impl Grammar {
    /// The English grammar embedded in the binary.
    ///
    /// # Errors
    /// Only if the embedded files are invalid, which the test suite rules out (a bug).
    pub fn embedded() -> Result<&'static Grammar, GrammarError> {
        EMBEDDED.as_ref().map_err(Clone::clone)
    }

    /// The embedded grammar, for tests (which rule out that it is invalid).
    #[cfg(test)]
    pub(crate) fn for_tests() -> &'static Grammar {
        Grammar::embedded().expect("embedded grammar")
    }

    /// Load every `*.grammar` file in `dir` (sorted by name).
    ///
    /// # Errors
    /// [`GrammarError::Io`] if the directory or a file cannot be read; [`GrammarError::Line`] naming
    /// `file:line` for an invalid line; [`GrammarError::Incomplete`] if a required class is missing.
    pub fn load_dir(dir: &Path) -> Result<Grammar, GrammarError> {
        let io = |p: &Path, e: std::io::Error| GrammarError::Io {
            path: p.display().to_string(),
            message: e.to_string(),
        };
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(|e| io(dir, e))? {
            let path = entry.map_err(|e| io(dir, e))?.path();
            if path.extension().is_some_and(|e| e == "grammar") {
                let text = std::fs::read_to_string(&path).map_err(|e| io(&path, e))?;
                files.push((path.display().to_string(), text));
            }
        }
        files.sort();
        if files.is_empty() {
            return Err(GrammarError::Incomplete {
                dir: dir.display().to_string(),
                message: "no `*.grammar` files".to_string(),
            });
        }
        Grammar::from_sources(&files)
    }

    /// Build a grammar from `(file name, contents)` pairs. Lexicon lines are read first (from every
    /// file), then intent sections, so a pattern may use a class defined in any file.
    ///
    /// # Errors
    /// As [`Grammar::load_dir`], without I/O.
    pub fn from_sources(files: &[(String, String)]) -> Result<Grammar, GrammarError> {
        let mut g = Grammar {
            rules: Vec::new(),
            classes: HashMap::new(),
            objects: HashMap::new(),
            fields: HashMap::new(),
            values: HashMap::new(),
            shorthand: HashMap::new(),
            max_shorthand_words: 1,
            known_words: Default::default(),
            typo_targets: HashMap::new(),
            max_field_words: 1,
            max_object_words: 1,
            clause_starts: Default::default(),
            by_first_word: HashMap::new(),
            open_start: Vec::new(),
        };
        // pass 1: lexicon
        for (file, text) in files {
            for (n, line) in content_lines(text) {
                let err = line_error(file, n);
                let (kw, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
                match kw {
                    "class" | "object" | "objects" | "field" | "value" | "shorthand" => {
                        g.lexicon_line(kw, rest).map_err(err)?;
                    }
                    _ => {}
                }
            }
        }
        for c in REQUIRED_CLASSES {
            if !g.classes.contains_key(*c) {
                return Err(GrammarError::Incomplete {
                    dir: files
                        .first()
                        .map(|(f, _)| {
                            Path::new(f)
                                .parent()
                                .map(|p| p.display().to_string())
                                .unwrap_or_default()
                        })
                        .unwrap_or_default(),
                    message: format!("missing required class `{c}`"),
                });
            }
        }
        // pass 2: intents
        for (file, text) in files {
            let mut current: Option<usize> = None;
            for (n, line) in content_lines(text) {
                let err = line_error(file, n);
                if let Some((key, val)) = line.split_once(':')
                    && matches!(key.trim(), "intent" | "pattern" | "example" | "help")
                {
                    let val = val.trim();
                    match key.trim() {
                        "intent" => {
                            let kind = IntentKind::from_name(val)
                                .ok_or_else(|| err(format!("unknown intent `{val}`")))?;
                            g.rules.push(IntentRule {
                                kind,
                                help: String::new(),
                                examples: Vec::new(),
                                patterns: Vec::new(),
                            });
                            current = Some(g.rules.len() - 1);
                        }
                        key => {
                            let idx = current.ok_or_else(|| {
                                err(format!("`{key}:` before any `intent:` line"))
                            })?;
                            match key {
                                "pattern" => {
                                    let p = pattern::compile(val, &g.classes).map_err(|m| {
                                        err(format!("invalid pattern `{val}`: {m}"))
                                    })?;
                                    g.rules[idx].patterns.push(p);
                                }
                                "example" => g.rules[idx].examples.push(val.to_string()),
                                _ => g.rules[idx].help = val.to_string(),
                            }
                        }
                    }
                    continue;
                }
                let kw = line.split_whitespace().next().unwrap_or("");
                if !matches!(
                    kw,
                    "class" | "object" | "objects" | "field" | "value" | "shorthand"
                ) {
                    return Err(err(format!(
                        "expected `intent:`, `pattern:`, `example:`, `help:`, `class`, `object`, `objects`, `field`, `value` or `shorthand`, found `{kw}`"
                    )));
                }
            }
        }
        if g.rules.is_empty() {
            return Err(GrammarError::Incomplete {
                dir: String::new(),
                message: "no `intent:` sections".to_string(),
            });
        }
        g.index();
        Ok(g)
    }

    /// The longest shorthand at the start of `ws` ("amt", "hi pri"): how many words, and the words
    /// it stands for.
    pub(crate) fn shorthand_prefix(&self, ws: &[&str]) -> Option<(usize, &[String])> {
        (1..=self.max_shorthand_words.min(ws.len()))
            .rev()
            .find_map(|n| {
                self.shorthand
                    .get(&ws[..n].join(" "))
                    .map(|e| (n, e.as_slice()))
            })
    }

    fn lexicon_line(&mut self, kw: &str, rest: &str) -> Result<(), String> {
        let (key, alts) = rest
            .split_once('=')
            .ok_or_else(|| format!("expected `{kw} KEY = word | word`"))?;
        let key = key.trim();
        if key.is_empty() {
            return Err(format!("`{kw}` needs a name before `=`"));
        }
        let phrases: Vec<Vec<String>> = alts
            .split('|')
            .map(|a| {
                a.split_whitespace()
                    .map(str::to_lowercase)
                    .collect::<Vec<_>>()
            })
            .filter(|a: &Vec<String>| !a.is_empty())
            .collect();
        if phrases.is_empty() {
            return Err(format!("`{kw} {key}` has no words after `=`"));
        }
        match kw {
            "class" => {
                let entry = self.classes.entry(key.to_string()).or_default();
                entry.extend(phrases);
                entry.sort_by_key(|p| std::cmp::Reverse(p.len()));
            }
            "object" | "objects" => {
                let kind = ObjectKind::from_api_name(key)
                    .ok_or_else(|| format!("unknown object `{key}`"))?;
                for p in phrases {
                    self.max_object_words = self.max_object_words.max(p.len());
                    self.objects.insert(p.join(" "), (kind, kw == "objects"));
                }
            }
            "shorthand" => {
                let expansion: Vec<String> =
                    key.split_whitespace().map(str::to_lowercase).collect();
                for p in phrases {
                    self.max_shorthand_words = self.max_shorthand_words.max(p.len());
                    self.shorthand.insert(p.join(" "), expansion.clone());
                }
            }
            "field" => {
                let (obj, api) = key
                    .split_once('.')
                    .ok_or_else(|| format!("expected `field Object.ApiName`, found `{key}`"))?;
                let object = if obj == "*" {
                    None
                } else {
                    Some(
                        ObjectKind::from_api_name(obj)
                            .ok_or_else(|| format!("unknown object `{obj}`"))?,
                    )
                };
                if api.is_empty() || !api.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    return Err(format!("invalid field API name `{api}`"));
                }
                for p in phrases {
                    self.max_field_words = self.max_field_words.max(p.len());
                    self.fields
                        .entry(p.join(" "))
                        .or_default()
                        .push(FieldAlias {
                            object,
                            api_name: api.to_string(),
                        });
                }
            }
            _ => {
                let (field, value) = key
                    .split_once('.')
                    .ok_or_else(|| format!("expected `value Field.Value`, found `{key}`"))?;
                if field.is_empty() || value.trim().is_empty() {
                    return Err(format!("expected `value Field.Value`, found `{key}`"));
                }
                for p in phrases {
                    self.values.entry(p.join(" ")).or_default().push(ValueHint {
                        field: field.to_string(),
                        value: value.trim().to_string(),
                    });
                }
            }
        }
        Ok(())
    }

    /// Words a typo may be corrected to are at least this long.
    const TYPO_MIN_LEN: usize = 5;

    fn index_words(&mut self) {
        let lexicon_words: Vec<String> = self
            .fields
            .keys()
            .chain(self.values.keys())
            .chain(self.objects.keys())
            .flat_map(|k| k.split_whitespace().map(str::to_string).collect::<Vec<_>>())
            .collect();
        for w in &lexicon_words {
            if w.chars().count() >= Self::TYPO_MIN_LEN
                && w.chars().all(char::is_alphabetic)
                && let Some(c) = w.chars().next()
            {
                let bucket = self.typo_targets.entry(c).or_default();
                if !bucket.contains(w) {
                    bucket.push(w.clone());
                }
            }
        }
        self.known_words.extend(lexicon_words);
        let class_words: Vec<String> = self.classes.values().flatten().flatten().cloned().collect();
        self.known_words.extend(class_words);
        let literals: Vec<String> = self
            .rules
            .iter()
            .flat_map(|r| &r.patterns)
            .flat_map(|p| p.literal_words())
            .collect();
        self.known_words.extend(literals);
    }

    /// The one lexicon word (field, value or object word) a longer unknown word is a typo of
    /// (one letter added, dropped, changed or two swapped; same first letter), if exactly one.
    pub(crate) fn typo_of(&self, word: &str) -> Option<&str> {
        let len = word.chars().count();
        if len <= Self::TYPO_MIN_LEN
            || self.known_words.contains(word)
            || !word.chars().all(char::is_alphabetic)
        {
            return None;
        }
        let bucket = self.typo_targets.get(&word.chars().next()?)?;
        // an added or dropped ending is another form of the word ("valued", "stages"), not a typo
        let mut found = bucket.iter().filter(|t| {
            t.chars().count().abs_diff(len) <= 1
                && !word.starts_with(t.as_str())
                && !t.starts_with(word)
                && strsim::damerau_levenshtein(word, t) == 1
        });
        let first = found.next()?;
        found.next().is_none().then_some(first.as_str())
    }

    fn index(&mut self) {
        self.index_words();
        for (ri, rule) in self.rules.iter().enumerate() {
            for (pi, p) in rule.patterns.iter().enumerate() {
                match &p.first_words {
                    Some(words) => {
                        for w in words {
                            self.clause_starts.insert(w.clone());
                            let list = self.by_first_word.entry(w.clone()).or_default();
                            if !list.contains(&(ri, pi)) {
                                list.push((ri, pi));
                            }
                        }
                    }
                    None => self.open_start.push((ri, pi)),
                }
            }
        }
    }

    /// Field aliases for some words ("close date" → Opportunity.CloseDate), most specific first.
    pub fn field_aliases(&self, said: &str) -> &[FieldAlias] {
        self.fields.get(said).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Picklist/boolean value synonyms for some words ("done" → `*`/Completed).
    pub fn value_hints(&self, said: &str) -> &[ValueHint] {
        self.values.get(said).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The object some words name ("deal" → Opportunity) and whether they are plural.
    pub fn object_word(&self, said: &str) -> Option<(ObjectKind, bool)> {
        self.objects.get(said).copied()
    }

    /// Every field alias as `(words, alias)`, for the resolver's tables.
    pub fn all_field_aliases(&self) -> impl Iterator<Item = (&str, &FieldAlias)> {
        self.fields
            .iter()
            .flat_map(|(k, v)| v.iter().map(move |a| (k.as_str(), a)))
    }

    /// Every value synonym as `(words, hint)`.
    pub fn all_value_hints(&self) -> impl Iterator<Item = (&str, &ValueHint)> {
        self.values
            .iter()
            .flat_map(|(k, v)| v.iter().map(move |h| (k.as_str(), h)))
    }

    /// Every example command with its intent kind, in grammar order (help, suggestions, tests).
    pub fn examples(&self) -> impl Iterator<Item = (IntentKind, &str)> {
        self.rules
            .iter()
            .flat_map(|r| r.examples.iter().map(move |e| (r.kind, e.as_str())))
    }

    /// The `help:` line of each intent section that has one, in grammar order (`:help`).
    pub fn help_lines(&self) -> impl Iterator<Item = (IntentKind, &str)> {
        self.rules
            .iter()
            .map(|r| (r.kind, r.help.as_str()))
            .filter(|(_, h)| !h.is_empty())
    }

    /// True if `words` is a phrase of class `class`.
    pub(crate) fn in_class(&self, class: &str, words: &[&str]) -> bool {
        self.classes.get(class).is_some_and(|ps| {
            ps.iter()
                .any(|p| p.len() == words.len() && p.iter().zip(words).all(|(a, b)| a == b))
        })
    }

    /// Length of the longest phrase of `class` at the start of `words`.
    pub(crate) fn class_prefix(&self, class: &str, words: &[&str]) -> Option<usize> {
        self.classes.get(class).and_then(|ps| {
            ps.iter()
                .filter(|p| p.len() <= words.len() && p.iter().zip(words).all(|(a, b)| a == b))
                .map(Vec::len)
                .max()
        })
    }
}

fn strip_comment(line: &str) -> &str {
    let line = line.trim();
    if line.starts_with('#') { "" } else { line }
}

/// A grammar file's lines that say something (comments stripped), with their line numbers.
fn content_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(n, line)| (n + 1, strip_comment(line)))
        .filter(|(_, line)| !line.is_empty())
}

/// The error for a line of a grammar file, given its message.
fn line_error(file: &str, line: usize) -> impl Fn(String) -> GrammarError + '_ {
    move |message| GrammarError::Line {
        file: file.to_string(),
        line,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minimal_lexicon() -> String {
        REQUIRED_CLASSES
            .iter()
            .map(|c| format!("class {c} = x{c}\n"))
            .collect()
    }

    #[test]
    fn embedded_grammar_loads() {
        let g = Grammar::embedded().expect("embedded grammar is valid");
        assert!(g.rules.len() >= 11);
        assert!(g.examples().count() >= 30);
    }

    #[test]
    fn every_example_parses_to_its_own_intent() {
        let g = Grammar::embedded().expect("embedded grammar is valid");
        let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 18).expect("date");
        for (kind, example) in g.examples() {
            let parsed = g.parse(example, today);
            let first = &parsed.clauses[0].intent;
            assert_eq!(first.name(), kind.name(), "example `{example}`: {first:?}");
        }
    }

    #[test]
    fn every_intent_kind_has_a_section_with_examples() {
        let g = Grammar::embedded().expect("embedded grammar is valid");
        for name in [
            "update_fields",
            "add_note",
            "log_call",
            "create_task",
            "complete_task",
            "create_record",
            "add_contact_role",
            "reassign",
            "question",
            "undo",
            "help",
        ] {
            let kind = IntentKind::from_name(name).expect("known kind");
            assert_eq!(kind.name(), name);
            assert!(
                g.rules
                    .iter()
                    .any(|r| r.kind == kind && !r.examples.is_empty() && !r.help.is_empty()),
                "{name}"
            );
        }
    }

    /// Every word class the code looks up by name (`class("…")`, `in_class("…")`,
    /// `class_prefix("…")`) is one the loader requires, so a grammar without it fails to load
    /// instead of the lookup silently matching nothing.
    #[test]
    fn every_class_the_code_names_is_required_at_load() {
        let re = regex::Regex::new(r#"(?:\.class|in_class|class_prefix)\(\s*"([a-z_]+)""#).unwrap();
        let mut dirs = vec![std::path::PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/src"
        ))];
        let mut seen = 0;
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    for c in re.captures_iter(&text) {
                        seen += 1;
                        assert!(
                            REQUIRED_CLASSES.contains(&&c[1]),
                            "{} names class `{}`, missing from REQUIRED_CLASSES",
                            path.display(),
                            &c[1]
                        );
                    }
                }
            }
        }
        assert!(seen > 20, "the scan found the lookups ({seen})");
    }

    #[test]
    fn required_classes_are_sorted_longest_first() {
        let g = Grammar::embedded().expect("embedded grammar is valid");
        for (name, phrases) in &g.classes {
            assert!(
                phrases.windows(2).all(|w| w[0].len() >= w[1].len()),
                "class {name} must try longer phrases first"
            );
        }
    }

    #[test]
    fn errors_name_file_and_line() {
        let files = vec![
            ("a.grammar".to_string(), minimal_lexicon()),
            (
                "b.grammar".to_string(),
                "# comment\nintent: undo\npattern: undo (it\n".to_string(),
            ),
        ];
        let e = Grammar::from_sources(&files).expect_err("bad pattern");
        assert_eq!(
            e.to_string(),
            "b.grammar:3: invalid pattern `undo (it`: missing `)`"
        );
        let files = vec![
            ("a.grammar".to_string(), minimal_lexicon()),
            ("b.grammar".to_string(), "intent: bogus\n".to_string()),
        ];
        assert_eq!(
            Grammar::from_sources(&files)
                .expect_err("bad intent")
                .to_string(),
            "b.grammar:1: unknown intent `bogus`"
        );
        let files = vec![(
            "a.grammar".to_string(),
            format!("{}\nfield Opportunity = stage\n", minimal_lexicon()),
        )];
        let e = Grammar::from_sources(&files).expect_err("bad field");
        assert!(e.to_string().starts_with("a.grammar:"), "{e}");
        assert!(
            e.to_string().contains("expected `field Object.ApiName`"),
            "{e}"
        );
        let files = vec![("a.grammar".to_string(), "pattern: x\n".to_string())];
        assert!(
            Grammar::from_sources(&files)
                .expect_err("missing classes")
                .to_string()
                .contains("missing required class")
        );
    }

    #[test]
    fn lexicon_tables() {
        let files = vec![(
            "a.grammar".to_string(),
            format!(
                "{}\nobject Opportunity = deal | opp\nobjects Opportunity = deals\nfield Opportunity.CloseDate = close date\nvalue StageName.Negotiation/Review = negotiation\nintent: undo\npattern: undo\n",
                minimal_lexicon()
            ),
        )];
        let g = Grammar::from_sources(&files).expect("valid");
        assert_eq!(
            g.object_word("deal"),
            Some((ObjectKind::Opportunity, false))
        );
        assert_eq!(
            g.object_word("deals"),
            Some((ObjectKind::Opportunity, true))
        );
        assert_eq!(g.field_aliases("close date")[0].api_name, "CloseDate");
        assert_eq!(g.value_hints("negotiation")[0].value, "Negotiation/Review");
        assert!(g.field_aliases("nope").is_empty());
    }
}
