//! Normalisation of typed and dictated text, on tokens: fillers, self-corrections and false starts,
//! spoken numbers ("ninety two thousand" → `92000`), spoken emails ("john dot smith at hooli dot com"
//! → `john.smith@hooli.com`), and lead-in words ("okay so", "can you").
//!
//! Owns these steps only; the word lists come from the grammar's classes (`filler`, `weak_filler`,
//! `like_keep_after`, `lead_filler`, `repair`, `email_tld`). Quoted spans are never touched. Called by
//! [`super::parse`] before clause splitting; `strip_lead` again on each clause.

use super::entity;
use super::grammar::Grammar;
use super::lexer::{TokKind, Token, match_words, raw_text};

/// Run every normalisation step, in order.
pub(crate) fn normalize(g: &Grammar, tokens: Vec<Token>) -> Vec<Token> {
    let tokens = expand_shorthand(g, tokens);
    let tokens = correct_typos(g, tokens);
    let tokens = drop_fillers(g, tokens);
    let tokens = spoken_emails(g, tokens);
    let tokens = spoken_ordinals(tokens);
    let tokens = spoken_numbers(tokens);
    let tokens = repairs(g, tokens);
    let tokens = drop_repeats(tokens);
    strip_lead(g, tokens)
}

/// Shorthand as typed ("amt", "nxt", "tmrw", "hi pri", "w/", "->") read as the words it stands for
/// (the grammar's `shorthand` lines). Free text keeps what was typed: the first word's `raw` is the
/// shorthand, the others' `raw` is empty.
pub(crate) fn expand_shorthand(g: &Grammar, tokens: Vec<Token>) -> Vec<Token> {
    rewrite(tokens, |tokens, i| {
        if tokens[i].kind != TokKind::Word {
            return None;
        }
        let ws = match_words(&tokens[i..(i + g.max_shorthand_words).min(tokens.len())]);
        let (n, expansion) = g.shorthand_prefix(&ws)?;
        let raw = raw_text(&tokens[i..i + n]);
        let with = expansion
            .iter()
            .enumerate()
            .map(|(k, w)| {
                let mut t = Token::word(w);
                t.raw = if k == 0 { raw.clone() } else { String::new() };
                t
            })
            .collect();
        Some((n, with))
    })
}

/// Rewrites tokens left to right: where `at` reads a run starting at token `i` (how many tokens,
/// and the tokens that stand for them), those go in instead; every other token is kept.
fn rewrite(
    tokens: Vec<Token>,
    mut at: impl FnMut(&[Token], usize) -> Option<(usize, Vec<Token>)>,
) -> Vec<Token> {
    let mut out = Vec::with_capacity(tokens.len());
    let mut i = 0;
    while i < tokens.len() {
        match at(&tokens, i) {
            Some((used, with)) if used > 0 => {
                out.extend(with);
                i += used;
            }
            _ => {
                out.push(tokens[i].clone());
                i += 1;
            }
        }
    }
    out
}

/// One-letter typos of field, value and object words ("ammount", "negotation") read as the word
/// meant, when exactly one is that close (`raw` keeps what was typed).
pub(crate) fn correct_typos(g: &Grammar, mut tokens: Vec<Token>) -> Vec<Token> {
    for t in &mut tokens {
        if t.kind == TokKind::Word
            && let Some(fixed) = g.typo_of(&t.word)
        {
            t.word = fixed.to_string();
        }
    }
    tokens
}

/// "twenty third" → `23rd` (the date reader knows single ordinal words and `23rd`).
pub(crate) fn spoken_ordinals(tokens: Vec<Token>) -> Vec<Token> {
    const UNITS: [&str; 9] = [
        "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth",
    ];
    rewrite(tokens, |tokens, i| {
        let tens = match tokens[i].word.as_str() {
            "twenty" => 20,
            "thirty" => 30,
            _ => return None,
        };
        let next = tokens.get(i + 1)?;
        let u = UNITS.iter().position(|w| *w == next.word)?;
        if tens + u >= 31 {
            return None;
        }
        let day = tens + u + 1;
        let suffix = match day % 10 {
            1 if day != 11 => "st",
            2 if day != 12 => "nd",
            3 if day != 13 => "rd",
            _ => "th",
        };
        let mut t = Token::word(&format!("{day}{suffix}"));
        t.raw = raw_text(&tokens[i..i + 2]);
        Some((2, vec![t]))
    })
}

/// Remove fillers ("um", "uh", "you know"), and "like" unless it is a verb ("I'd like"). A filler
/// set off by commas takes one comma with it (", uh," → ","), and a comma left right after "to"
/// goes too ("to, like, 280k" → "to 280k").
///
/// Free text keeps what was said: a dropped filler that is not noise (`noise_filler`: um, uh, erm)
/// stays in the `raw` of the word before it, with the commas dropped with it ("she, like, wants" is
/// matched as "she wants" and kept as said).
pub(crate) fn drop_fillers(g: &Grammar, tokens: Vec<Token>) -> Vec<Token> {
    let ws = match_words(&tokens);
    let mut keep = vec![true; tokens.len()];
    let mut noise = vec![false; tokens.len()];
    let mut i = 0;
    while i < ws.len() {
        if let Some(n) = g.class_prefix("filler", &ws[i..]) {
            let is_noise = g.in_class("noise_filler", &ws[i..i + n]);
            keep[i..i + n].iter_mut().for_each(|k| *k = false);
            noise[i..i + n].iter_mut().for_each(|k| *k = is_noise);
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
    for i in 0..tokens.len() {
        if !keep[i] && i > 0 && tokens[i - 1].word == "," {
            let mut j = i;
            while j < tokens.len() && !keep[j] {
                j += 1;
            }
            if j < tokens.len() && tokens[j].word == "," {
                keep[j] = false;
                noise[j] = noise[i];
                if i >= 2
                    && matches!(
                        ws[i - 2],
                        "to" | "is"
                            | "be"
                            | "at"
                            | "by"
                            | "are"
                            | "was"
                            | "were"
                            | "am"
                            | "the"
                            | "a"
                            | "an"
                    )
                {
                    keep[i - 1] = false;
                    noise[i - 1] = noise[i];
                }
            }
        }
    }
    drop(ws);
    let mut out: Vec<Token> = Vec::with_capacity(tokens.len());
    for ((t, k), n) in tokens.into_iter().zip(keep).zip(noise) {
        if k {
            out.push(t);
        } else if !n && let Some(prev) = out.last_mut() {
            carry_raw(prev, &t);
        }
    }
    out
}

/// Keep a dropped token's text in the `raw` of the word before it (free text is kept as said).
fn carry_raw(prev: &mut Token, dropped: &Token) {
    if !dropped.is_punct() {
        prev.raw.push(' ');
    }
    prev.raw.push_str(&dropped.raw);
}

/// "john dot smith at hooli dot example dot com" → "john.smith@hooli.example.com".
pub(crate) fn spoken_emails(g: &Grammar, tokens: Vec<Token>) -> Vec<Token> {
    let ws = match_words(&tokens);
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
    rewrite(tokens, |tokens, i| {
        let starts_number = entity::is_number_word(&tokens[i].word)
            || (matches!(tokens[i].word.as_str(), "a" | "an")
                && tokens.get(i + 1).is_some_and(|t| {
                    matches!(t.word.as_str(), "hundred" | "thousand" | "million")
                }));
        if tokens[i].kind != TokKind::Word || !starts_number {
            return None;
        }
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
        let (value, used) = entity::spoken_number(&ws)?;
        let lone_one = used == 1 && matches!(ws[0], "one" | "zero");
        if lone_one && !ws.get(1).is_some_and(|n| is_unit_suffix(n)) {
            return None;
        }
        // the digits are read by entities; free text keeps the words as said
        let mut t = Token::word(&format_number(value));
        t.raw = raw_text(&tokens[i..i + used]);
        Some((used, vec![t]))
    })
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

/// Self-corrections. When what follows the marker is a value (an amount, a date, a span, a
/// picklist value), it replaces the value of the same kind said just before the marker ("to 90k no
/// sorry 95k", "to proposal, no sorry, closed won", "december 12th actually make that the 15th").
/// Otherwise "update the I mean set the amount…" drops what came before the marker in the clause
/// when a verb follows, and "to 50k no wait 60k" drops the one word before the marker.
pub(crate) fn repairs(g: &Grammar, tokens: Vec<Token>) -> Vec<Token> {
    let mut tokens = tokens;
    for _ in 0..16 {
        let ws = match_words(&tokens);
        let Some((at, len)) =
            (0..ws.len()).find_map(|i| g.class_prefix("repair", &ws[i..]).map(|n| (i, n)))
        else {
            return tokens;
        };
        let mut after = at + len;
        while after < ws.len() && tokens[after].is_punct() {
            after += 1;
        }
        let mut before = at;
        while before > 0 && tokens[before - 1].is_punct() {
            before -= 1;
        }
        let (drop_from, drop_to) = match replaced_value(g, &ws[..before], &ws[after..]) {
            Some(n) => (before - n, after),
            None => {
                let next = ws.get(at + len).copied().unwrap_or("");
                let from = if g.clause_starts.contains(next) {
                    // back to the previous clause boundary
                    let mut s = at;
                    while s > 0
                        && !tokens[s - 1].is_punct()
                        && !g.in_class("conjunction", &ws[s - 1..s])
                    {
                        s -= 1;
                    }
                    s
                } else {
                    at.saturating_sub(1)
                };
                (from, at + len)
            }
        };
        drop(ws);
        tokens.drain(drop_from..drop_to);
    }
    tokens
}

/// What kind of value some words are, for self-corrections.
#[derive(PartialEq)]
enum ValueShape {
    Amount,
    Date,
    Span,
    Picklist,
}

fn value_shape(g: &Grammar, ws: &[&str]) -> Option<ValueShape> {
    // any fixed day will do: only whether the words are a date matters
    let day = chrono::NaiveDate::from_ymd_opt(2026, 1, 1)?;
    if ws.contains(&"\u{0}") {
        return None;
    }
    if entity::amount(ws).is_some() {
        Some(ValueShape::Amount)
    } else if entity::span(ws).is_some() {
        Some(ValueShape::Span)
    } else if entity::date(ws, day).is_some() {
        Some(ValueShape::Date)
    } else if !g.value_hints(&ws.join(" ")).is_empty() {
        Some(ValueShape::Picklist)
    } else {
        None
    }
}

/// When the correction (`after`) starts with a value and `before` ends with a value of the same
/// kind, how many words of `before` it replaces.
fn replaced_value(g: &Grammar, before: &[&str], after: &[&str]) -> Option<usize> {
    let shape = (1..=after.len().min(6))
        .rev()
        .find_map(|n| value_shape(g, &after[..n]))?;
    (1..=before.len().min(6))
        .rev()
        .find(|&n| value_shape(g, &before[before.len() - n..]).as_ref() == Some(&shape))
}

/// A word said twice in a row ("the the", "on on") is matched once; free text keeps both ("need
/// need" stays in the word's `raw`).
pub(crate) fn drop_repeats(tokens: Vec<Token>) -> Vec<Token> {
    let mut out: Vec<Token> = Vec::with_capacity(tokens.len());
    for t in tokens {
        if let Some(prev) = out.last_mut()
            && prev.kind == TokKind::Word
            && t.kind == TokKind::Word
            && prev.word == t.word
            && t.word.chars().all(char::is_alphabetic)
        {
            carry_raw(prev, &t);
            continue;
        }
        out.push(t);
    }
    out
}

/// Drop lead-in words at the start ("okay so", "can you", "please", "and then") and trailing
/// politeness ("please", "thanks"), keeping at least one token.
/// The longest `trailing_filler` phrase, in words.
const MAX_TRAILING: usize = 5;

pub(crate) fn strip_lead(g: &Grammar, mut tokens: Vec<Token>) -> Vec<Token> {
    loop {
        while tokens.first().is_some_and(Token::is_punct) {
            tokens.remove(0);
        }
        let ws = match_words(&tokens);
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
            // "… right now", "… at the moment", "… again"
            let ws = match_words(&tokens);
            if let Some(k) = (1..=MAX_TRAILING.min(n - 1))
                .rev()
                .find(|&k| g.in_class("trailing_filler", &ws[n - k..]))
            {
                drop(ws);
                tokens.truncate(n - k);
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
    use crate::lang::lexer::{tokenize, word_text};

    #[track_caller]
    fn norm(text: &str) -> String {
        word_text(&normalize(Grammar::for_tests(), tokenize(text)))
    }

    /// What the grammar matches after normalisation, for phrases as typed or dictated.
    const NORMALISED: &[(&str, &str)] = &[
        // fillers go
        (
            "um so update the uh project titan opportunity to negotiation review",
            "update the project titan opportunity to negotiation review",
        ),
        ("okay so you know set it to like ten", "set it to 10"),
        ("i'd like to update titan", "update titan"),
        ("they would like a demo", "they would like a demo"),
        // lead-in and trailing politeness
        ("can you please show my cases please", "show my cases"),
        ("hey sayso, show my cases. thanks", "show my cases"),
        ("please", "please"),
        // spoken numbers become digits
        (
            "set the amount to ninety two thousand dollars",
            "set the amount to 92000 dollars",
        ),
        ("fifty k", "50 k"),
        ("set it to twenty percent", "set it to 20 percent"),
        ("in two weeks", "in 2 weeks"),
        ("one point two million", "1200000"),
        ("a hundred and fifty thousand", "150000"),
        ("one of them", "one of them"),
        ("ninety-two thousand", "92000"),
        ("twenty-five percent", "25 percent"),
        ("in one week", "in one week"),
        // spoken emails join
        (
            "email john dot smith at hooli dot example dot com",
            "email john.smith@hooli.example.com",
        ),
        ("jane doe at acme corp", "jane doe at acme corp"),
        ("jane at acme dot com", "jane@acme.com"),
        // repairs and false starts
        (
            "update the I mean set the amount on titan to 5",
            "set the amount on titan to 5",
        ),
        ("set the amount to 50k no wait 60k", "set the amount to 60k"),
        ("update the the deal", "update the deal"),
        (
            "set the amount to ninety k no sorry ninety five k",
            "set the amount to 95 k",
        ),
        (
            "set nakatomi to proposal, no sorry, closed won",
            "set nakatomi to closed won",
        ),
        (
            "push it to december twelfth actually make that the fifteenth",
            "push it to the fifteenth",
        ),
        (
            "push it out a week no wait two weeks",
            "push it out 2 weeks",
        ),
        // shorthand, ordinals, typos and the commas around fillers
        (
            "titan amt 30k tmrw hi pri",
            "titan amount 30k tomorrow high priority",
        ),
        ("the twenty third of december", "the 23rd of december"),
        (
            "how many deals are in negotiation right now",
            "how many deals are in negotiation",
        ),
        ("initech ammount 92k", "initech amount 92k"),
        ("blue sun stage negotation", "blue sun stage negotiation"),
        ("the titan deal, uh, set it", "the titan deal , set it"),
        ("set it to, like, two hundred k", "set it to 200 k"),
    ];

    #[test]
    fn fillers_numbers_emails_repairs_and_shorthand_are_normalised() {
        let failures: Vec<String> = NORMALISED
            .iter()
            .filter(|(said, want)| norm(said) != *want)
            .map(|(said, want)| format!("{said}\n   expected {want}\n   got      {}", norm(said)))
            .collect();
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn free_text_keeps_spoken_numbers_and_shorthand_as_said() {
        // entities read the digits; free text keeps the words as said
        let toks = normalize(Grammar::for_tests(), tokenize("renew for two years"));
        assert_eq!(toks[2].word, "2");
        assert_eq!(toks[2].raw, "two");
        let toks = normalize(
            Grammar::for_tests(),
            tokenize("next step = final sign-off w/ lucius"),
        );
        assert_eq!(raw_text(&toks), "next step = final sign-off w/ lucius");
    }

    #[test]
    fn free_text_keeps_soft_fillers_and_repeats() {
        let raw = |text: &str| {
            crate::lang::build::text_of(&normalize(Grammar::for_tests(), tokenize(text)))
        };
        assert_eq!(raw("we need need more seats"), "we need need more seats");
        assert_eq!(raw("it is basically done"), "it is basically done");
        assert_eq!(raw("she, like, wants a pilot"), "she, like, wants a pilot");
        assert_eq!(raw("she um wants a pilot"), "she wants a pilot");
    }

    #[test]
    fn quoted_text_is_untouched() {
        let toks = normalize(
            Grammar::for_tests(),
            tokenize("add 'um like ninety' to the notes"),
        );
        assert_eq!(toks[1].raw, "um like ninety");
    }
}
