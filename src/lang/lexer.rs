//! Utterance → tokens. Never fails: any text becomes a list of tokens (possibly empty).
//!
//! Owns splitting text into words, quoted spans and the punctuation the grammar can see (`:` `,`
//! `;` `.` and the possessive `'s`). Knows nothing about the grammar; normalisation (fillers,
//! spoken numbers) happens afterwards in `normalize`. Called by [`super::parse`].

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokKind {
    /// A word (letters, digits, symbols; inner punctuation kept: `1.2`, `john.smith@x.com`, `add-on`).
    Word,
    /// A span that was quoted in the input; `raw` is the inner text.
    Quoted,
    /// Clause punctuation: `:` `,` `;` `.` (also `!` `?` and dashes, mapped to `.` and `,`).
    Punct,
}

/// One token.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    /// Lowercase form used for matching (`"sarah"`, `"'s"`, `":"`, `"92000"`).
    pub(crate) word: String,
    /// The text as written, for values kept as said (inner text for quoted spans).
    pub(crate) raw: String,
    /// Word, quoted span or punctuation.
    pub(crate) kind: TokKind,
}

impl Token {
    pub(crate) fn word(raw: &str) -> Token {
        Token {
            word: raw.to_lowercase(),
            raw: raw.to_string(),
            kind: TokKind::Word,
        }
    }

    fn punct(c: char) -> Token {
        Token {
            word: c.to_string(),
            raw: c.to_string(),
            kind: TokKind::Punct,
        }
    }

    /// True for punctuation tokens.
    pub(crate) fn is_punct(&self) -> bool {
        self.kind == TokKind::Punct
    }
}

/// The words patterns match against: each token's lowercase word, a quoted span as `"\u{0}"`
/// (which no pattern word equals, so quoted text is only ever a value).
pub(crate) fn match_words(toks: &[Token]) -> Vec<&str> {
    toks.iter()
        .map(|t| {
            if t.kind == TokKind::Quoted {
                "\u{0}"
            } else {
                t.word.as_str()
            }
        })
        .collect()
}

/// The words of some tokens as matched (lowercase), joined by spaces.
pub(crate) fn word_text(toks: &[Token]) -> String {
    toks.iter()
        .map(|t| t.word.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

/// What some tokens said, as typed (the `raw` of each, joined by spaces).
pub(crate) fn raw_text(toks: &[Token]) -> String {
    toks.iter()
        .map(|t| t.raw.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

fn is_open_quote(c: char) -> bool {
    matches!(c, '\'' | '"' | '\u{201C}' | '\u{2018}' | '`')
}

fn closes(open: char, c: char) -> bool {
    match open {
        '\'' | '\u{2018}' => matches!(c, '\'' | '\u{2019}'),
        '"' | '\u{201C}' => matches!(c, '"' | '\u{201D}'),
        '`' => c == '`',
        _ => false,
    }
}

fn is_boundary_punct(c: char) -> bool {
    matches!(c, ',' | ';' | ':' | '.' | '!' | '?' | ')' | ']')
}

/// Map clause punctuation to the token the grammar sees.
fn punct_token(c: char) -> Option<char> {
    match c {
        ',' => Some(','),
        ';' => Some(';'),
        ':' => Some(':'),
        '.' | '!' | '?' => Some('.'),
        '\u{2014}' | '\u{2013}' => Some(','),
        _ => None,
    }
}

/// Split `text` into tokens. Control characters count as spaces.
pub(crate) fn tokenize(text: &str) -> Vec<Token> {
    let chars: Vec<char> = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        // A quoted span: an opening quote at a word start with a matching close before a boundary.
        if is_open_quote(c) {
            let at_start = i == 0
                || chars[i - 1].is_whitespace()
                || matches!(chars[i - 1], ':' | ',' | '(' | ';');
            if at_start && let Some(end) = find_close(&chars, i) {
                let inner: String = chars[i + 1..end].iter().collect();
                let inner = inner.trim();
                if !inner.is_empty() {
                    out.push(Token {
                        word: inner.to_lowercase(),
                        raw: inner.to_string(),
                        kind: TokKind::Quoted,
                    });
                }
                i = end + 1;
                continue;
            }
        }
        // a dash between spaces separates like a comma ("note for Acme - they want to move")
        if c == '-'
            && chars.get(i + 1).is_none_or(|n| n.is_whitespace())
            && (i == 0 || chars[i - 1].is_whitespace())
        {
            out.push(Token::punct(','));
            i += 1;
            continue;
        }
        if let Some(p) = punct_token(c)
            && (!matches!(c, '.' | '!' | '?')
                || chars
                    .get(i + 1)
                    .is_none_or(|n| n.is_whitespace() || is_boundary_punct(*n)))
        {
            out.push(Token::punct(p));
            i += 1;
            continue;
        }
        // A word: up to whitespace; trailing boundary punctuation split off.
        let start = i;
        while i < chars.len() && !chars[i].is_whitespace() {
            // a dash surrounded by spaces is handled above; an em dash inside a word splits it
            if matches!(chars[i], '\u{2014}' | '\u{2013}') {
                break;
            }
            i += 1;
        }
        let mut end = i;
        // an abbreviation's dot before a lowercase word or a number ("Dec. 15", "Inc. deal") is
        // not the end of a sentence
        if end - start >= 2
            && end - start <= 5
            && chars[end - 1] == '.'
            && chars[start..end - 1].iter().all(|c| c.is_alphabetic())
            && next_word_start(&chars, end).is_some_and(|c| c.is_ascii_digit() || c.is_lowercase())
        {
            end -= 1;
            i = end + 1;
            push_word(&mut out, &chars[start..end]);
            continue;
        }
        while end > start && (is_boundary_punct(chars[end - 1]) || closes_any(chars[end - 1])) {
            end -= 1;
        }
        let mut wstart = start;
        while wstart < end && matches!(chars[wstart], '(' | '[' | '"' | '\u{201C}') {
            wstart += 1;
        }
        if wstart < end {
            push_word(&mut out, &chars[wstart..end]);
        }
        for &pc in &chars[end..i] {
            if let Some(p) = punct_token(pc) {
                out.push(Token::punct(p));
            }
        }
    }
    out
}

fn next_word_start(chars: &[char], from: usize) -> Option<char> {
    chars[from..].iter().copied().find(|c| !c.is_whitespace())
}

fn closes_any(c: char) -> bool {
    matches!(c, '"' | '\u{201D}' | '\u{2019}')
}

fn find_close(chars: &[char], open: usize) -> Option<usize> {
    let o = chars[open];
    let mut j = open + 1;
    while j < chars.len() {
        if closes(o, chars[j]) {
            let after = chars.get(j + 1).copied();
            let ok = match after {
                None => true,
                Some(a) => a.is_whitespace() || is_boundary_punct(a),
            };
            // an apostrophe inside a word ("client's") is not a closing quote
            let inside_word = j > 0
                && chars[j - 1].is_alphanumeric()
                && after.is_some_and(|a| a.is_alphanumeric());
            if ok && !inside_word {
                return Some(j);
            }
        }
        j += 1;
    }
    None
}

/// Push a word, splitting a possessive `'s` / `’s` into its own token.
fn push_word(out: &mut Vec<Token>, chars: &[char]) {
    let n = chars.len();
    if n > 2
        && matches!(chars[n - 2], '\'' | '\u{2019}')
        && matches!(chars[n - 1], 's' | 'S')
        && chars[n - 3].is_alphanumeric()
    {
        let w: String = chars[..n - 2].iter().collect();
        out.push(Token::word(&w));
        out.push(Token {
            word: "'s".to_string(),
            raw: "'s".to_string(),
            kind: TokKind::Word,
        });
        return;
    }
    let w: String = chars.iter().collect();
    out.push(Token::word(&w));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn words(text: &str) -> Vec<String> {
        tokenize(text)
            .into_iter()
            .map(|t| match t.kind {
                TokKind::Quoted => format!("<{}>", t.raw),
                _ => t.word,
            })
            .collect()
    }

    #[test]
    fn splits_clause_punctuation() {
        assert_eq!(
            words("update Initech Renewal: stage to negotiation, amount to 90,000."),
            [
                "update",
                "initech",
                "renewal",
                ":",
                "stage",
                "to",
                "negotiation",
                ",",
                "amount",
                "to",
                "90,000",
                "."
            ]
        );
    }

    #[test]
    fn quoted_spans_single_double_curly() {
        assert_eq!(
            words("set it to 'Send final contract' and \u{201C}B\u{201D} or \"c d\""),
            [
                "set",
                "it",
                "to",
                "<Send final contract>",
                "and",
                "<B>",
                "or",
                "<c d>"
            ]
        );
    }

    #[test]
    fn apostrophes_in_words_are_not_quotes() {
        assert_eq!(
            words("set acme corp's tier to 'the client's pick'"),
            [
                "set",
                "acme",
                "corp",
                "'s",
                "tier",
                "to",
                "<the client's pick>"
            ]
        );
        assert_eq!(words("what's up"), ["what", "'s", "up"]);
    }

    #[test]
    fn unbalanced_quote_stays_in_word() {
        assert_eq!(
            words("titan' OR Name != 'x to"),
            ["titan'", "or", "name", "!=", "'x", "to"]
        );
    }

    #[test]
    fn keeps_inner_dots_and_signs() {
        assert_eq!(
            words("$1.2M john.smith@hooli.example.com +1-555-0199 Inc."),
            [
                "$1.2m",
                "john.smith@hooli.example.com",
                "+1-555-0199",
                "inc",
                "."
            ]
        );
    }

    #[test]
    fn abbreviation_dots() {
        assert_eq!(words("Dec. 15"), ["dec", "15"]);
        assert_eq!(words("Monsters Inc. deal"), ["monsters", "inc", "deal"]);
        assert_eq!(
            words("to Acme Inc. Then"),
            ["to", "acme", "inc", ".", "then"]
        );
    }

    #[test]
    fn control_chars_and_dashes() {
        assert_eq!(words("a\u{0}b \u{2014} c"), ["a", "b", ",", "c"]);
        assert!(tokenize("").is_empty());
        assert!(tokenize("''").is_empty() || words("''") == ["''"]);
    }
}
