//! A whole phrase → clauses → intents: splits run-on text into clauses where a new verb starts,
//! matches and builds each clause, links pronouns and implied records to earlier clauses, folds
//! "find all X and do Y" into one bulk clause, and suggests close commands when nothing matched.
//!
//! Owns the multi-clause logic only; single clauses go through `matcher` and `build`. Pure.

use chrono::NaiveDate;

use super::build::{Builder, IMPLIED, Slots};
use super::grammar::Grammar;
use super::intent::*;
use super::lexer::{TokKind, Token, tokenize};
use super::matcher::best_match;
use super::normalize::{normalize, strip_lead};

/// Phrases longer than this (in tokens) are not matched (a 10 kB line is not a command).
const MAX_TOKENS: usize = 600;

/// Parse a whole phrase.
pub(crate) fn parse_command(g: &Grammar, text: &str, today: NaiveDate) -> ParsedCommand {
    let toks = tokenize(text);
    let clauses = if toks.is_empty() || toks.len() > MAX_TOKENS {
        vec![not_understood(g, text)]
    } else {
        let toks = normalize(g, toks);
        let mut clauses = split_and_build(g, &toks, today);
        fold_selections(&mut clauses);
        link_references(&mut clauses);
        clauses
    };
    ParsedCommand {
        input: text.to_string(),
        today,
        clauses,
    }
}

fn not_understood(g: &Grammar, text: &str) -> Clause {
    Clause {
        text: text
            .split_whitespace()
            .take(50)
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase(),
        intent: Intent::NotUnderstood {
            suggestions: suggest(g, text),
        },
    }
}

/// Where clauses may start: after punctuation or a conjunction, when a pattern verb follows (and the
/// verb is not the first word of a field name such as "close date"). Returns (cut, next start).
fn split_points(g: &Grammar, toks: &[Token]) -> Vec<(usize, usize)> {
    let ws: Vec<&str> = toks
        .iter()
        .map(|t| {
            if t.kind == TokKind::Quoted {
                "\u{0}"
            } else {
                t.word.as_str()
            }
        })
        .collect();
    let mut out = Vec::new();
    let mut i = 1;
    while i < toks.len() {
        let mut j = i;
        let mut sep = false;
        if toks[j].is_punct() && toks[j].word != ":" {
            j += 1;
            sep = true;
        }
        if let Some(n) = g.class_prefix("conjunction", &ws[j.min(ws.len())..]) {
            j += n;
            sep = true;
        }
        if !sep {
            i += 1;
            continue;
        }
        while j < ws.len()
            && let Some(n) = g.class_prefix("lead_filler", &ws[j..])
            && j + n < ws.len()
        {
            j += n;
        }
        if j < toks.len()
            && toks[j].kind == TokKind::Word
            && g.clause_starts.contains(ws[j])
            && !starts_field_name(g, &ws[j..])
        {
            out.push((i, j));
            i = j + 1;
            continue;
        }
        i += 1;
    }
    out
}

pub(crate) fn starts_field_name(g: &Grammar, ws: &[&str]) -> bool {
    (2..=g.max_field_words.min(ws.len())).any(|n| !g.field_aliases(&ws[..n].join(" ")).is_empty())
}

struct Built {
    start: usize,
    end: usize,
    clause: Clause,
}

fn split_and_build(g: &Grammar, toks: &[Token], today: NaiveDate) -> Vec<Clause> {
    let points = split_points(g, toks);
    let mut segments = Vec::new();
    let mut start = 0;
    for (cut, next) in points {
        segments.push((start, cut));
        start = next;
    }
    segments.push((start, toks.len()));
    let segments: Vec<(usize, usize)> = segments
        .into_iter()
        .flat_map(|(s, e)| bare_splits(g, toks, s, e, today))
        .collect();
    let mut built: Vec<Built> = Vec::new();
    for (s, e) in segments {
        let clause = build_clause(g, &toks[s..e], today);
        if clause.is_none()
            && let Some(last) = built.last_mut()
            && !matches!(last.clause.intent, Intent::NotUnderstood { .. })
            && let Some(merged) = build_clause(g, &toks[last.start..e], today)
        {
            last.end = e;
            last.clause = merged;
            continue;
        }
        let clause = clause.unwrap_or_else(|| {
            let text = toks[s..e]
                .iter()
                .map(|t| t.raw.as_str())
                .collect::<Vec<_>>()
                .join(" ");
            not_understood(g, &text)
        });
        built.push(Built {
            start: s,
            end: e,
            clause,
        });
    }
    let _ = built.last().map(|b| b.end);
    built.into_iter().map(|b| b.clause).collect()
}

/// Split a dictated run-on segment at a verb with no separator before it ("create a contact for
/// Jane Doe at Acme associate her with the Acme deal"), when both halves parse and the left half
/// does not end in free text (a note, a call description, a task subject, a text value).
fn bare_splits(
    g: &Grammar,
    toks: &[Token],
    s: usize,
    e: usize,
    today: NaiveDate,
) -> Vec<(usize, usize)> {
    let ws: Vec<&str> = toks.iter().map(|t| t.word.as_str()).collect();
    let candidates: Vec<usize> = (s + 2..e)
        .filter(|&k| {
            toks[k].kind == TokKind::Word
                && g.in_class("bare_clause_start", &ws[k..=k])
                && !starts_field_name(g, &ws[k..e])
                && !matches!(ws[k - 1], "to" | "and" | "then" | "also" | "'s")
        })
        .take(MAX_BARE_CANDIDATES)
        .collect();
    if candidates.is_empty() {
        return vec![(s, e)];
    }
    // memo[i]: how the suffix starting at cut point i (or s) splits, if it can
    let mut starts = vec![s];
    starts.extend(&candidates);
    let mut memo: Vec<Memo> = vec![None; starts.len()];
    split_from(g, toks, &starts, 0, e, today, &mut memo).unwrap_or_else(|| vec![(s, e)])
}

/// Per cut point: not computed yet (`None`), or how the rest splits (`Some(None)`: it cannot).
type Memo = Option<Option<Vec<(usize, usize)>>>;

/// Candidate clause starts tried per run-on segment (bounds the work on adversarial input).
const MAX_BARE_CANDIDATES: usize = 6;

/// Split `toks[starts[i]..e]` into parsable clauses at later `starts`; the first clause may be
/// followed by another only when it does not end in free text. Memoised per start.
fn split_from(
    g: &Grammar,
    toks: &[Token],
    starts: &[usize],
    i: usize,
    e: usize,
    today: NaiveDate,
    memo: &mut [Memo],
) -> Option<Vec<(usize, usize)>> {
    if let Some(done) = &memo[i] {
        return done.clone();
    }
    let s = starts[i];
    let mut result = None;
    for j in i + 1..starts.len() {
        let k = starts[j];
        let Some(left) = build_clause(g, &toks[s..k], today) else {
            continue;
        };
        if ends_in_free_text(&left.intent) {
            continue;
        }
        if let Some(rest) = split_from(g, toks, starts, j, e, today, memo) {
            let mut out = vec![(s, k)];
            out.extend(rest);
            result = Some(out);
            break;
        }
    }
    if result.is_none() && i > 0 && build_clause(g, &toks[s..e], today).is_some() {
        result = Some(vec![(s, e)]);
    }
    memo[i] = Some(result.clone());
    result
}

fn ends_in_free_text(intent: &Intent) -> bool {
    match intent {
        Intent::AddNote { .. } | Intent::CreateTask { .. } => true,
        Intent::LogCall { description, .. } => description.is_some(),
        Intent::UpdateFields { changes, .. } => changes
            .last()
            .is_some_and(|c| c.value.hints.is_empty() && c.value.entities.is_empty()),
        _ => false,
    }
}

/// Match and build one clause; `None` if nothing matches.
fn build_clause(g: &Grammar, toks: &[Token], today: NaiveDate) -> Option<Clause> {
    let toks = strip_lead(g, toks.to_vec());
    if toks.is_empty() {
        return None;
    }
    let m = best_match(g, &toks, today)?;
    let rule = &g.rules[m.rule];
    let pattern = &rule.patterns[m.pattern];
    let mut items: Vec<_> = m
        .caps
        .iter()
        .map(|c| (c.slot, toks[c.start..c.end].to_vec()))
        .collect();
    items.extend(Slots::from_fixed(&pattern.fixed));
    let slots = Slots { items };
    let intent = Builder { g, today }.build(rule.kind, &slots)?;
    Some(Clause {
        text: toks
            .iter()
            .map(|t| t.word.as_str())
            .collect::<Vec<_>>()
            .join(" "),
        intent,
    })
}

/// A placeholder reference (a pronoun or an implied record) not yet linked.
fn is_placeholder(r: &RecordRef) -> bool {
    r.antecedent
        .as_ref()
        .is_some_and(|a| a.clause == usize::MAX)
}

fn placeholder_target(t: &Target) -> Option<&RecordRef> {
    match t {
        Target::Record(r) if is_placeholder(r) => Some(r),
        _ => None,
    }
}

/// "find all my open deals in tech and add a note …": the question only selects the records the
/// next clause acts on, so the next clause gets the filter and the question goes.
fn fold_selections(clauses: &mut Vec<Clause>) {
    let mut i = 0;
    while i + 1 < clauses.len() {
        let filter = match &clauses[i].intent {
            Intent::Question {
                kind: QuestionKind::List | QuestionKind::LookUp,
                target: Target::Filter(f),
            } => Some(f.clone()),
            _ => None,
        };
        if let Some(f) = filter {
            let next = &mut clauses[i + 1].intent;
            let slot = match next {
                Intent::UpdateFields { target, .. }
                | Intent::AddNote { target, .. }
                | Intent::CompleteTask { target }
                | Intent::Reassign { target, .. } => Some(target),
                _ => None,
            };
            if let Some(target) = slot
                && let Some(r) = placeholder_target(target)
                && r.antecedent.as_ref().is_some_and(|a| {
                    matches!(
                        a.pronoun.as_str(),
                        IMPLIED | "them" | "those" | "these" | "they" | "it" | "each" | "all"
                    )
                })
            {
                *target = Target::Filter(f);
                complete_if_tasks_done(next);
                clauses.remove(i);
                continue;
            }
        }
        i += 1;
    }
}

/// "… and mark them as done" on tasks is completing them.
fn complete_if_tasks_done(intent: &mut Intent) {
    if let Intent::UpdateFields {
        target: Target::Filter(f),
        changes,
    } = intent
        && f.object == Some(ObjectKind::Task)
        && let [change] = changes.as_slice()
        && change.field.as_ref().is_none_or(|fr| fr.said == "status")
        && change.value.hints.iter().any(|h| h.value == "Completed")
    {
        *intent = Intent::CompleteTask {
            target: Target::Filter(f.clone()),
        };
    }
}

#[derive(Clone)]
struct Mention {
    r: RecordRef,
    clause: usize,
    created: bool,
    person: Option<bool>,
}

fn person_kind(r: &RecordRef, default: Option<bool>) -> Option<bool> {
    match r.object {
        Some(ObjectKind::Contact | ObjectKind::Lead | ObjectKind::User) => Some(true),
        Some(_) => Some(false),
        None => default,
    }
}

/// Link pronouns ("her", "it", "that deal") and implied records to the record named or created
/// before, in clause order.
fn link_references(clauses: &mut [Clause]) {
    let mut mentions: Vec<Mention> = Vec::new();
    for (ci, clause) in clauses.iter_mut().enumerate() {
        let intent = &mut clause.intent;
        // implied who/what of "… and log my call notes"
        if let Intent::LogCall { who, what, .. } = intent
            && who.is_none()
            && what.is_none()
            && !mentions.is_empty()
        {
            *who = pick(&mentions, Some(true), None, IMPLIED);
            *what = pick(&mentions, Some(false), None, IMPLIED);
        }
        for (r, role) in refs_mut(intent) {
            if is_placeholder(r) {
                let pronoun = r
                    .antecedent
                    .as_ref()
                    .map(|a| a.pronoun.clone())
                    .unwrap_or_default();
                let want = match pronoun.as_str() {
                    "her" | "him" | "she" | "he" | "his" => Some(true),
                    "it" | "its" | "that" | "this" | "that one" | "this one" => Some(false),
                    _ => role,
                };
                match pick(&mentions, want, r.object, &pronoun) {
                    Some(found) => *r = found,
                    None => {
                        r.antecedent = None;
                        if r.text.is_empty() && pronoun != IMPLIED {
                            r.text = pronoun;
                        }
                    }
                }
            }
        }
        let mut new: Vec<Mention> = Vec::new();
        for (r, role) in refs_mut(intent) {
            new.push(Mention {
                r: r.clone(),
                clause: ci,
                created: false,
                person: person_kind(r, role),
            });
        }
        if let Intent::CreateRecord {
            object,
            person,
            name,
            account,
            ..
        } = intent
        {
            let text = match (person, name) {
                (Some(p), _) => match &p.first {
                    Some(f) => format!("{f} {}", p.last).to_lowercase(),
                    None => p.last.to_lowercase(),
                },
                (None, Some(n)) => n.to_lowercase(),
                (None, None) => String::new(),
            };
            let r = RecordRef {
                text,
                object: Some(*object),
                account: account.as_ref().map(|a| a.text.clone()),
                ..Default::default()
            };
            new.push(Mention {
                person: person_kind(&r, None),
                r,
                clause: ci,
                created: true,
            });
        }
        mentions.extend(new);
    }
}

/// The latest mention that fits, as a reference that points back at it.
fn pick(
    mentions: &[Mention],
    person: Option<bool>,
    object: Option<ObjectKind>,
    pronoun: &str,
) -> Option<RecordRef> {
    let m = mentions.iter().rev().find(|m| {
        let kind_ok = match (person, m.person) {
            (Some(a), Some(b)) => a == b,
            _ => true,
        };
        let object_ok = match (object, m.r.object) {
            (Some(a), Some(b)) => a == b,
            _ => true,
        };
        kind_ok && object_ok
    })?;
    let mut r = m.r.clone();
    let (clause, created) = match &m.r.antecedent {
        Some(a) if a.clause != usize::MAX => (a.clause, a.created),
        _ => (m.clause, m.created),
    };
    r.antecedent = Some(Antecedent {
        pronoun: pronoun.to_string(),
        clause,
        created,
    });
    Some(r)
}

/// Every record reference of an intent with its role (Some(true) = a person slot, Some(false) =
/// a thing slot, None = either).
fn refs_mut(intent: &mut Intent) -> Vec<(&mut RecordRef, Option<bool>)> {
    let mut out: Vec<(&mut RecordRef, Option<bool>)> = Vec::new();
    match intent {
        Intent::UpdateFields { target, .. }
        | Intent::AddNote { target, .. }
        | Intent::CompleteTask { target }
        | Intent::Reassign { target, .. }
        | Intent::Question { target, .. } => {
            if let Target::Record(r) = target {
                out.push((r, None));
            }
        }
        Intent::LogCall { who, what, .. } | Intent::CreateTask { who, what, .. } => {
            if let Some(w) = who {
                out.push((w, Some(true)));
            }
            if let Some(w) = what {
                out.push((w, Some(false)));
            }
        }
        Intent::CreateRecord { account, .. } => {
            if let Some(a) = account {
                out.push((a, Some(false)));
            }
        }
        Intent::AddContactRole {
            contact,
            opportunity,
            ..
        } => {
            out.push((contact, Some(true)));
            out.push((opportunity, Some(false)));
        }
        Intent::Undo { .. } | Intent::Help { .. } | Intent::NotUnderstood { .. } => {}
    }
    out
}

/// The closest example commands to `text`, best first (at most 3).
pub(crate) fn suggest(g: &Grammar, text: &str) -> Vec<String> {
    let lower: String = text.chars().take(60).collect::<String>().to_lowercase();
    let words: Vec<&str> = lower.split_whitespace().collect();
    // word overlap first (cheap), then edit distance on the best dozen
    let mut scored: Vec<(f64, &str)> = g
        .examples()
        .map(|(_, ex)| {
            let exl = ex.to_lowercase();
            let exw: Vec<&str> = exl.split_whitespace().collect();
            let common = words.iter().filter(|w| exw.contains(w)).count() as f64;
            let overlap = common / (words.len().max(exw.len()).max(1)) as f64;
            let first = f64::from(u8::from(words.first() == exw.first()));
            (overlap + 0.3 * first, ex)
        })
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    scored.truncate(12);
    for (score, ex) in &mut scored {
        let exl: String = ex.chars().take(60).collect::<String>().to_lowercase();
        *score += strsim::normalized_levenshtein(&lower, &exl);
    }
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut out: Vec<String> = Vec::new();
    for (_, ex) in scored {
        if !out.iter().any(|o| o == ex) {
            out.push(ex.to_string());
        }
        if out.len() == 3 {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g() -> &'static Grammar {
        Grammar::embedded().expect("embedded grammar")
    }

    #[track_caller]
    fn cuts(text: &str) -> Vec<String> {
        let toks = normalize(g(), tokenize(text));
        let mut out = Vec::new();
        let mut start = 0;
        for (cut, next) in split_points(g(), &toks) {
            out.push(
                toks[start..cut]
                    .iter()
                    .map(|t| t.word.as_str())
                    .collect::<Vec<_>>()
                    .join(" "),
            );
            start = next;
        }
        out.push(
            toks[start..]
                .iter()
                .map(|t| t.word.as_str())
                .collect::<Vec<_>>()
                .join(" "),
        );
        out
    }

    #[test]
    fn splits_where_a_verb_starts() {
        assert_eq!(
            cuts(
                "create a contact for Jane Doe at ACME Corp, associate her with the ACME deal, and log my call notes"
            ),
            [
                "create a contact for jane doe at acme corp",
                "associate her with the acme deal",
                "log my call notes"
            ]
        );
        assert_eq!(
            cuts("update titan to negotiation and then add a note that they signed"),
            ["update titan to negotiation", "add a note that they signed"]
        );
    }

    #[test]
    fn no_split_inside_names_fields_or_text() {
        assert_eq!(cuts("add a note that pricing and legal are done").len(), 1);
        assert_eq!(
            cuts("update initech renewal: stage to negotiation, close date to december 15").len(),
            1
        );
        assert_eq!(cuts("look up procter and gamble").len(), 1);
    }

    #[test]
    fn suggestions_are_examples() {
        let s = suggest(g(), "updat the titan deal");
        assert_eq!(s.len(), 3);
        assert!(g().examples().any(|(_, e)| e == s[0]));
    }
}
