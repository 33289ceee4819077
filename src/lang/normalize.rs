//! Normalisation of typed and dictated text, on tokens: fillers, self-corrections and false starts,
//! spoken numbers ("ninety two thousand" → `92000`), spoken emails ("john dot smith at hooli dot com"
//! → `john.smith@hooli.com`), and lead-in words ("okay so", "can you").
//!
//! Owns these steps only; the word lists come from the grammar's classes (`filler`, `weak_filler`,
//! `like_keep_after`, `lead_filler`, `repair`, `email_tld`). Quoted spans are never touched. Called by
//! [`super::parse`] before clause splitting; `strip_lead` again on each clause.

use super::entity;
use super::grammar::Grammar;
use super::lexer::{TokKind, Token};

/// Run every normalisation step, in order.
pub(crate) fn normalize(g: &Grammar, tokens: Vec<Token>) -> Vec<Token> {
    let tokens = drop_fillers(g, tokens);
    let tokens = spoken_emails(g, tokens);
    let tokens = spoken_numbers(tokens);
    let tokens = repairs(g, tokens);
    let tokens = drop_repeats(tokens);
    strip_lead(g, tokens)
}

fn words(tokens: &[Token]) -> Vec<&str> {
    tokens
        .iter()
        .map(|t| {
            if t.kind == TokKind::Quoted {
                "\u{0}"
            } else {
                t.word.as_str()
            }
        })
        .collect()
}

/// Remove fillers ("um", "uh", "you know"), and "like" unless it is a verb ("I'd like").
pub(crate) fn drop_fillers(g: &Grammar, tokens: Vec<Token>) -> Vec<Token> {
    let ws = words(&tokens);
    let mut keep = vec![true; tokens.len()];
    let mut i = 0;
    while i < ws.len() {
        if let Some(n) = g.class_prefix("filler", &ws[i..]) {
            keep[i..i + n].iter_mut().for_each(|k| *k = false);
            i += n;
            continue;
        }
        if g.in_class("weak_filler", &ws[i..=i])
            && !(i > 0 && g.in_class("like_keep_after", &ws[i - 1..i]))
            && i + 1 < ws.len()
        {
            keep[i] = false;
        }
        i += 1;
    }
    drop(ws);
    tokens
        .into_iter()
        .zip(keep)
        .filter_map(|(t, k)| k.then_some(t))
        .collect()
}

/// "john dot smith at hooli dot example dot com" → "john.smith@hooli.example.com".
pub(crate) fn spoken_emails(g: &Grammar, tokens: Vec<Token>) -> Vec<Token> {
    let ws = words(&tokens);
    let Some(at) = ws.iter().position(|w| *w == "at") else {
        return tokens;
    };
    let mut at = at;
    loop {
        // domain: W (dot W)+ ending in a known top-level domain
        let mut j = at + 1;
        let mut domain = Vec::new();
        if j < ws.len() && is_email_part(ws[j]) {
            domain.push(ws[j]);
            j += 1;
            while j + 1 < ws.len() && ws[j] == "dot" && is_email_part(ws[j + 1]) {
                domain.push(ws[j + 1]);
                j += 2;
            }
        }
        let tld_ok =
            domain.len() >= 2 && domain.last().is_some_and(|t| g.in_class("email_tld", &[t]));
        // local part: (W dot)* W immediately before "at"
        if tld_ok && at > 0 && is_email_part(ws[at - 1]) {
            let mut start = at - 1;
            while start >= 2 && ws[start - 1] == "dot" && is_email_part(ws[start - 2]) {
                start -= 2;
            }
            let local: Vec<&str> = ws[start..at]
                .iter()
                .copied()
                .filter(|w| *w != "dot")
                .collect();
            let email = format!("{}@{}", local.join("."), domain.join("."));
            let mut out: Vec<Token> = tokens[..start].to_vec();
            out.push(Token::word(&email));
            out.extend(tokens[j..].iter().cloned());
            return spoken_emails(g, out);
        }
        match ws[at + 1..].iter().position(|w| *w == "at") {
            Some(p) => at = at + 1 + p,
            None => return tokens,
        }
    }
}

fn is_email_part(w: &str) -> bool {
    !w.is_empty()
        && w != "dot"
        && w != "at"
        && w.chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '+' | '.'))
}

/// Spoken numbers to digits: "ninety two thousand" → "92000", "twenty percent" → "20 percent",
/// "one point two million" → "1200000". A lone "one" stays a word ("one of them").
pub(crate) fn spoken_numbers(tokens: Vec<Token>) -> Vec<Token> {
    // "ninety-two" is "ninety two"
    let tokens: Vec<Token> = tokens
        .into_iter()
        .flat_map(|t| {
            let parts: Vec<&str> = t.word.split('-').collect();
            if t.kind == TokKind::Word
                && parts.len() > 1
                && parts.iter().all(|p| entity::is_number_word(p))
            {
                parts.into_iter().map(Token::word).collect()
            } else {
                vec![t]
            }
        })
        .collect();
    let mut out = Vec::with_capacity(tokens.len());
    let mut i = 0;
    while i < tokens.len() {
        if tokens[i].kind == TokKind::Word
            && (entity::is_number_word(&tokens[i].word)
                || (matches!(tokens[i].word.as_str(), "a" | "an")
                    && tokens.get(i + 1).is_some_and(|t| {
                        matches!(t.word.as_str(), "hundred" | "thousand" | "million")
                    })))
        {
            let end = (i + 12).min(tokens.len());
            let ws: Vec<&str> = tokens[i..end]
                .iter()
                .map(|t| {
                    if t.kind == TokKind::Word {
                        t.word.as_str()
                    } else {
                        "\u{0}"
                    }
                })
                .collect();
            if let Some((value, used)) = entity::spoken_number(&ws) {
                let lone_one = used == 1 && matches!(ws[0], "one" | "zero");
                if !lone_one || ws.get(1).is_some_and(|n| is_unit_suffix(n)) {
                    // the digits are read by entities; free text keeps the words as said
                    let mut t = Token::word(&format_number(value));
                    t.raw = tokens[i..i + used]
                        .iter()
                        .map(|t| t.raw.as_str())
                        .collect::<Vec<_>>()
                        .join(" ");
                    out.push(t);
                    i += used;
                    continue;
                }
            }
        }
        out.push(tokens[i].clone());
        i += 1;
    }
    out
}

fn is_unit_suffix(w: &str) -> bool {
    matches!(
        w,
        "k" | "percent" | "dollars" | "dollar" | "bucks" | "thousand" | "million" | "hundred" | "m"
    )
}

/// A number without a trailing `.0`.
pub(crate) fn format_number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// Self-corrections: "update the I mean set the amount…" drops what came before "I mean" in the
/// clause when a verb follows; "to 50k no wait 60k" drops the one word before the marker.
pub(crate) fn repairs(g: &Grammar, tokens: Vec<Token>) -> Vec<Token> {
    let mut tokens = tokens;
    let mut guard = 0;
    loop {
        guard += 1;
        let ws = words(&tokens);
        let Some((at, len)) =
            (0..ws.len()).find_map(|i| g.class_prefix("repair", &ws[i..]).map(|n| (i, n)))
        else {
            return tokens;
        };
        let next = ws.get(at + len).copied().unwrap_or("");
        let drop_from = if g.clause_starts.contains(next) {
            // back to the previous clause boundary
            let mut s = at;
            while s > 0 && !tokens[s - 1].is_punct() && !g.in_class("conjunction", &ws[s - 1..s]) {
                s -= 1;
            }
            s
        } else {
            at.saturating_sub(1)
        };
        drop(ws);
        tokens.drain(drop_from..at + len);
        if guard > 16 {
            return tokens;
        }
    }
}

/// A word said twice in a row ("the the", "on on") is said once.
pub(crate) fn drop_repeats(tokens: Vec<Token>) -> Vec<Token> {
    let mut out: Vec<Token> = Vec::with_capacity(tokens.len());
    for t in tokens {
        if let Some(prev) = out.last()
            && prev.kind == TokKind::Word
            && t.kind == TokKind::Word
            && prev.word == t.word
            && t.word.chars().all(char::is_alphabetic)
        {
            continue;
        }
        out.push(t);
    }
    out
}

/// Drop lead-in words at the start ("okay so", "can you", "please", "and then") and trailing
/// politeness ("please", "thanks"), keeping at least one token.
pub(crate) fn strip_lead(g: &Grammar, mut tokens: Vec<Token>) -> Vec<Token> {
    loop {
        while tokens.first().is_some_and(Token::is_punct) {
            tokens.remove(0);
        }
        let ws = words(&tokens);
        match g.class_prefix("lead_filler", &ws) {
            Some(n) if n < ws.len() => {
                drop(ws);
                tokens.drain(..n);
            }
            _ => break,
        }
    }
    while tokens.last().is_some_and(Token::is_punct) {
        tokens.pop();
    }
    loop {
        let n = tokens.len();
        if n > 1 {
            let last = tokens[n - 1].word.as_str();
            let two = if n > 2 {
                format!("{} {}", tokens[n - 2].word, last)
            } else {
                String::new()
            };
            if two == "thank you" || two == "for me" {
                tokens.truncate(n - 2);
                continue;
            }
            if tokens[n - 1].kind == TokKind::Word && matches!(last, "please" | "thanks" | "thx") {
                tokens.truncate(n - 1);
                continue;
            }
            if tokens[n - 1].is_punct() {
                tokens.pop();
                continue;
            }
        }
        break;
    }
    tokens
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lang::lexer::tokenize;

    fn g() -> &'static Grammar {
        Grammar::embedded().expect("embedded grammar")
    }

    #[track_caller]
    fn norm(text: &str) -> String {
        normalize(g(), tokenize(text))
            .iter()
            .map(|t| t.word.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn fillers_go() {
        assert_eq!(
            norm("um so update the uh project titan opportunity to negotiation review"),
            "update the project titan opportunity to negotiation review"
        );
        assert_eq!(norm("okay so you know set it to like ten"), "set it to 10");
        assert_eq!(norm("i'd like to update titan"), "update titan");
        assert_eq!(norm("they would like a demo"), "they would like a demo");
    }

    #[test]
    fn lead_and_trailing_politeness() {
        assert_eq!(norm("can you please show my cases please"), "show my cases");
        assert_eq!(norm("hey sayso, show my cases. thanks"), "show my cases");
        assert_eq!(norm("please"), "please");
    }

    #[test]
    fn spoken_numbers_become_digits() {
        assert_eq!(
            norm("set the amount to ninety two thousand dollars"),
            "set the amount to 92000 dollars"
        );
        assert_eq!(norm("fifty k"), "50 k");
        assert_eq!(norm("set it to twenty percent"), "set it to 20 percent");
        assert_eq!(norm("in two weeks"), "in 2 weeks");
        assert_eq!(norm("one point two million"), "1200000");
        assert_eq!(norm("a hundred and fifty thousand"), "150000");
        assert_eq!(norm("one of them"), "one of them");
        assert_eq!(norm("ninety-two thousand"), "92000");
        assert_eq!(norm("twenty-five percent"), "25 percent");
        assert_eq!(norm("in one week"), "in one week");
        // free text keeps the words as said; entities read the digits
        let toks = normalize(g(), tokenize("renew for two years"));
        assert_eq!(toks[2].word, "2");
        assert_eq!(toks[2].raw, "two");
    }

    #[test]
    fn spoken_emails_join() {
        assert_eq!(
            norm("email john dot smith at hooli dot example dot com"),
            "email john.smith@hooli.example.com"
        );
        assert_eq!(norm("jane doe at acme corp"), "jane doe at acme corp");
        assert_eq!(norm("jane at acme dot com"), "jane@acme.com");
    }

    #[test]
    fn repairs_and_false_starts() {
        assert_eq!(
            norm("update the I mean set the amount on titan to 5"),
            "set the amount on titan to 5"
        );
        assert_eq!(
            norm("set the amount to 50k no wait 60k"),
            "set the amount to 60k"
        );
        assert_eq!(norm("update the the deal"), "update the deal");
    }

    #[test]
    fn quoted_text_is_untouched() {
        let toks = normalize(g(), tokenize("add 'um like ninety' to the notes"));
        assert_eq!(toks[1].raw, "um like ninety");
    }
}
