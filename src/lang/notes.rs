//! Where one command ends and the next begins in piped input: a script's lines
//! ([`script_line`]) and voice-note transcripts ([`split_notes`]: notes at blank lines, sentences
//! at stops, chatter set aside, sentences that refer back joined to the command before).
//!
//! Pure text work over the language: uses [`super::parse`] and the grammar's examples only. The
//! parsing of one command (fillers, run-on clauses, pronouns) stays in the rest of `lang`.

use super::Grammar;

/// One command cut from the input, with the text it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Piece {
    /// The command as it will be submitted.
    pub phrase: String,
    /// 1-based note (transcripts) or line (scripts) number it came from.
    pub source: usize,
}

/// One line of a script: blank lines and `#` comments are skipped.
pub fn script_line(line: &str) -> Option<String> {
    let t = line.trim();
    if t.is_empty() || t.starts_with('#') {
        None
    } else {
        Some(t.to_string())
    }
}

/// Splits voice-note transcripts into commands.
///
/// Notes are separated by blank lines; inside a note, sentences end at `.`, `!`, `?` or `;` (not
/// inside quotes, not in `1.2M` or after `Mr.`/`Dr.`). A sentence the language does not fully
/// understand and that has no command verb is chatter ("It went really well.", "We lost on price.")
/// and is returned in the second list instead; one with a command verb is kept, so that a garbled
/// command is reported as `not_understood` rather than silently dropped. A sentence that refers back ("her", "it", "that deal") joins the command before it,
/// so the pronoun is resolved and both are applied together, as one spoken command would be.
/// Run-on sentences stay whole: the language splits their clauses itself.
pub fn split_notes(text: &str) -> (Vec<Piece>, Vec<String>) {
    let verbs = command_verbs();
    let today = chrono::NaiveDate::from_ymd_opt(2000, 1, 3).unwrap_or_default();
    let mut pieces: Vec<Piece> = Vec::new();
    let mut skipped = Vec::new();
    for (n, note) in notes(text).into_iter().enumerate() {
        let mut last_in_note: Option<usize> = None;
        for sentence in sentences(&note) {
            let words = word_list(&sentence);
            if words.is_empty() {
                continue;
            }
            let understood = super::parse(&sentence, today)
                .map(|p| !p.is_not_understood())
                .unwrap_or(false);
            if !understood && !words.iter().any(|w| verbs.contains(w)) {
                skipped.push(sentence);
                continue;
            }
            match last_in_note {
                Some(i) if refers_back(&words) => {
                    let prev = &mut pieces[i].phrase;
                    let sep = if prev.ends_with(['.', '!', '?', ';']) {
                        " "
                    } else {
                        ". "
                    };
                    prev.push_str(sep);
                    prev.push_str(&sentence);
                }
                _ => {
                    pieces.push(Piece {
                        phrase: sentence,
                        source: n + 1,
                    });
                    last_in_note = Some(pieces.len() - 1);
                }
            }
        }
    }
    (pieces, skipped)
}

/// The verbs commands start with, from the grammars' examples.
fn command_verbs() -> Vec<String> {
    let mut v: Vec<String> = Grammar::embedded()
        .map(|g| {
            g.examples()
                .filter_map(|(_, e)| e.split_whitespace().next().map(str::to_lowercase))
                .collect()
        })
        .unwrap_or_default();
    v.retain(|w| {
        !matches!(
            w.as_str(),
            "what" | "what's" | "how" | "help" | "task" | "note"
        )
    });
    v.sort();
    v.dedup();
    v
}

/// Lowercase words without punctuation.
fn word_list(s: &str) -> Vec<String> {
    s.split(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '-'))
        .filter(|w| !w.is_empty())
        .map(|w| w.trim_matches('\'').to_lowercase())
        .collect()
}

fn refers_back(words: &[String]) -> bool {
    const PRONOUNS: [&str; 6] = ["her", "him", "it", "them", "his", "its"];
    const OBJECTS: [&str; 8] = [
        "deal",
        "opportunity",
        "opp",
        "account",
        "contact",
        "case",
        "lead",
        "ticket",
    ];
    words.iter().any(|w| PRONOUNS.contains(&w.as_str()))
        || words.windows(2).any(|p| {
            matches!(p[0].as_str(), "that" | "this" | "same") && OBJECTS.contains(&p[1].as_str())
        })
}

/// Paragraphs: runs of non-blank lines joined with spaces.
fn notes(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for line in text.lines() {
        let t = line.trim();
        if t.is_empty() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
        } else {
            if !cur.is_empty() {
                cur.push(' ');
            }
            cur.push_str(t);
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Sentences of one note.
fn sentences(note: &str) -> Vec<String> {
    const ABBREV: [&str; 9] = ["mr", "mrs", "ms", "dr", "st", "jr", "sr", "vs", "etc"];
    let chars: Vec<char> = note.chars().collect();
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    for (i, &c) in chars.iter().enumerate() {
        cur.push(c);
        let prev = if i > 0 { chars[i - 1] } else { ' ' };
        let next = chars.get(i + 1).copied().unwrap_or(' ');
        match quote {
            Some(q) => {
                let closes = match q {
                    '"' => c == '"',
                    '\u{201c}' => c == '\u{201d}',
                    '\u{2018}' => c == '\u{2019}' && !next.is_alphanumeric(),
                    _ => c == '\'' && !next.is_alphanumeric(),
                };
                if closes {
                    quote = None;
                }
                continue;
            }
            None => {
                let opens = matches!(c, '"' | '\u{201c}')
                    || (matches!(c, '\'' | '\u{2018}') && !prev.is_alphanumeric());
                if opens {
                    quote = Some(c);
                    continue;
                }
            }
        }
        if !matches!(c, '.' | '!' | '?' | ';') || !next.is_whitespace() {
            continue;
        }
        if c == '.' {
            let last = cur[..cur.len() - 1]
                .rsplit(|ch: char| !ch.is_alphanumeric())
                .next()
                .unwrap_or("")
                .to_lowercase();
            if ABBREV.contains(&last.as_str()) || (last.len() == 1 && last != "i") {
                continue;
            }
        }
        let s = cur.trim().to_string();
        if !s.is_empty() {
            out.push(s);
        }
        cur.clear();
    }
    let s = cur.trim().to_string();
    if !s.is_empty() {
        out.push(s);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phrases(text: &str) -> Vec<String> {
        split_notes(text).0.into_iter().map(|p| p.phrase).collect()
    }

    #[test]
    fn sentences_split_at_stops_not_inside_numbers_or_quotes() {
        assert_eq!(
            sentences("Set the amount to $1.2M. Add a note 'call back. soon' to Acme! Done?"),
            vec![
                "Set the amount to $1.2M.",
                "Add a note 'call back. soon' to Acme!",
                "Done?"
            ]
        );
        assert_eq!(
            sentences("Log a call with Dr. Smith"),
            vec!["Log a call with Dr. Smith"]
        );
    }

    #[test]
    fn chatter_is_skipped_and_commands_kept() {
        let (p, skipped) = split_notes(
            "Okay so um I just got off the phone with Sarah Chen. It went really well. She sounded happy.\n\
             Move the Acme deal to negotiation.\n\nRemind me to send the proposal Friday.",
        );
        let got: Vec<(&str, usize)> = p.iter().map(|p| (p.phrase.as_str(), p.source)).collect();
        assert_eq!(
            got,
            vec![
                // the language reads "got off the phone with X" as logging a call
                ("Okay so um I just got off the phone with Sarah Chen.", 1),
                ("Move the Acme deal to negotiation.", 1),
                ("Remind me to send the proposal Friday.", 2)
            ]
        );
        assert_eq!(skipped, vec!["It went really well.", "She sounded happy."]);
    }

    #[test]
    fn references_join_the_command_before() {
        assert_eq!(
            phrases(
                "Create a contact Jane Doe at Acme. Add her as the economic buyer on the Acme deal."
            ),
            vec![
                "Create a contact Jane Doe at Acme. Add her as the economic buyer on the Acme deal."
            ]
        );
        // a new note starts fresh
        assert_eq!(
            phrases("Create a contact Jane Doe at Acme.\n\nLog a call with her."),
            vec!["Create a contact Jane Doe at Acme.", "Log a call with her."]
        );
    }

    #[test]
    fn commands_that_look_garbled_are_kept_to_be_reported() {
        // has a command verb: reported as not understood rather than dropped
        assert_eq!(
            phrases("She wants to move the thing somewhere."),
            vec!["She wants to move the thing somewhere."]
        );
    }

    #[test]
    fn script_lines_skip_comments_and_blanks() {
        assert_eq!(script_line("  # setup"), None);
        assert_eq!(script_line("   "), None);
        assert_eq!(script_line(" show my deals "), Some("show my deals".into()));
    }
}
