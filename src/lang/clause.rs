//! A whole phrase → clauses → intents: splits run-on text into clauses where a new verb starts,
//! matches and builds each clause, links pronouns and implied records to earlier clauses, folds
//! "find all X and do Y" into one bulk clause, and suggests close commands when nothing matched.
//!
//! Owns the multi-clause logic only; single clauses go through `matcher` and `build`. Pure.

use chrono::NaiveDate;

use super::build::{Builder, IMPLIED, Slots};
use super::grammar::Grammar;
use super::intent::*;
use super::lexer::{TokKind, Token, match_words, raw_text, tokenize, word_text};
use super::matcher::{Capture, best_match};
use super::normalize::{normalize, strip_lead};
use super::pattern::SlotName;

/// Phrases longer than this (in tokens) are not matched (a 10 kB line is not a command).
const MAX_TOKENS: usize = 600;

/// Parse a whole phrase.
pub(crate) fn parse_command(g: &Grammar, text: &str, today: NaiveDate) -> ParsedCommand {
    parse_command_with(g, text, today, &std::collections::HashSet::new())
}

/// Parse a whole phrase; a list's run of "and"s is read through `known`, the names with an
/// "and" inside that the org holds ([`super::list::and_run_names`]).
pub(crate) fn parse_command_with(
    g: &Grammar,
    text: &str,
    today: NaiveDate,
    known: &std::collections::HashSet<String>,
) -> ParsedCommand {
    let toks = tokenize(text);
    let clauses = if toks.is_empty() || toks.len() > MAX_TOKENS {
        vec![not_understood(g, text)]
    } else {
        let toks = question_first(g, normalize(g, toks));
        if let Some(list) = super::list::list_clauses(g, &toks, today, known) {
            return ParsedCommand {
                input: text.to_string(),
                today,
                clauses: list,
            };
        }
        let mut clauses = split_and_build(g, &toks, today);
        if clauses.iter().any(is_not_understood)
            && let Some(topical) = topic_first(g, &toks, today)
        {
            clauses = topical;
        }
        fold_selections(&mut clauses);
        link_references(&mut clauses);
        if asks(g, &toks) && clauses.iter().any(|c| c.intent.writes()) {
            // "who is the economic buyer on X" must never become "add who as …"
            clauses = vec![not_understood(g, text)];
        }
        clauses
    };
    ParsedCommand {
        input: text.to_string(),
        today,
        clauses,
    }
}

/// "open opps closing this quarter - how many": a question said after its topic (after a comma,
/// a dash or a colon) is read as if said first ("how many open opps closing this quarter").
fn question_first(g: &Grammar, toks: Vec<Token>) -> Vec<Token> {
    let Some(p) = toks.iter().rposition(|t| t.is_punct() && t.word != ".") else {
        return toks;
    };
    let mut end = toks.len();
    while end > p + 1 && toks[end - 1].is_punct() {
        end -= 1;
    }
    let tail: Vec<&str> = toks[p + 1..end].iter().map(|t| t.word.as_str()).collect();
    if p == 0 || tail.is_empty() || !g.in_class("question_tail", &tail) {
        return toks;
    }
    let mut out = toks[p + 1..end].to_vec();
    out.extend_from_slice(&toks[..p]);
    out
}

/// Whether a phrase is a question: it starts with an `interrogative` ("who", "how many", …).
fn asks(g: &Grammar, toks: &[Token]) -> bool {
    let ws: Vec<&str> = toks.iter().map(|t| t.word.as_str()).collect();
    g.class_prefix("interrogative", &ws).is_some()
}

/// The words as said, for a clause that is not understood.
fn not_understood(g: &Grammar, text: &str) -> Clause {
    Clause {
        text: text
            .split_whitespace()
            .take(50)
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase(),
        intent: Intent::NotUnderstood(NotUnderstood {
            suggestions: suggest(g, text),
        }),
    }
}

/// Where clauses may start: after punctuation or a conjunction, when a pattern verb follows (and the
/// verb is not the first word of a field name such as "close date"). Returns (cut, next start).
fn split_points(g: &Grammar, toks: &[Token]) -> Vec<(usize, usize)> {
    let ws = match_words(toks);
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
    /// How the clause's trailing free text was introduced, when it ends in free text.
    free: Option<FreeText>,
    /// A sentence ended (`.`, `!`, `?`) between the clause before and this one.
    after_sentence: bool,
}

/// How free text at the end of a clause (a note, a call's description, a task subject, a text
/// value) was introduced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FreeText {
    /// After "that", "saying", "to": a following clause about the record already named (by a
    /// pronoun or implied) may continue the command ("add a note that pricing is approved and move
    /// it to negotiation").
    Soft,
    /// After a colon, or said as a statement ("she wants …"): the text runs to the end of the
    /// sentence.
    Hard,
}

/// Words after which free text is [`FreeText::Soft`].
const SOFT_TEXT_LEAD: [&str; 5] = ["that", "saying", "says", "reading", "to"];

fn split_and_build(g: &Grammar, toks: &[Token], today: NaiveDate) -> Vec<Clause> {
    let points = split_points(g, toks);
    let mut segments = Vec::new();
    let mut start = 0;
    let mut sentence = false;
    for (cut, next) in points {
        segments.push((start, cut, sentence));
        sentence = toks[cut..next]
            .iter()
            .any(|t| t.is_punct() && t.word == ".");
        start = next;
    }
    segments.push((start, toks.len(), sentence));
    let segments: Vec<(usize, usize, bool)> = segments
        .into_iter()
        .flat_map(|(s, e, sentence)| {
            bare_splits(g, toks, s, e, today)
                .into_iter()
                .enumerate()
                .map(move |(k, (s, e))| (s, e, sentence && k == 0))
        })
        .collect();
    let mut built: Vec<Built> = Vec::new();
    for (s, e, after_sentence) in segments {
        let clause = build_clause(g, &toks[s..e], today);
        if clause.is_none()
            && !after_sentence
            && let Some(last) = built.last_mut()
            && !matches!(last.clause.intent, Intent::NotUnderstood(_))
            && let Some((merged, free)) = build_clause(g, &toks[last.start..e], today)
        {
            last.end = e;
            last.clause = merged;
            last.free = free;
            continue;
        }
        let (clause, free) =
            clause.unwrap_or_else(|| (not_understood(g, &raw_text(&toks[s..e])), None));
        built.push(Built {
            start: s,
            end: e,
            clause,
            free,
            after_sentence,
        });
    }
    keep_free_text_whole(g, toks, today, &mut built);
    call_notes(g, toks, today, &mut built);
    built.into_iter().map(|b| b.clause).collect()
}

/// "log a call with X on Y, notes: …": notes said right after a call are the call's description,
/// not a separate note.
fn call_notes(g: &Grammar, toks: &[Token], today: NaiveDate, built: &mut Vec<Built>) {
    let mut i = 1;
    while i < built.len() {
        let s = built[i].start;
        let notes_colon = toks
            .get(s)
            .is_some_and(|t| g.in_class("note_word", &[t.word.as_str()]))
            && toks.get(s + 1).is_some_and(|t| t.word == ":");
        let after_call = matches!(
            &built[i - 1].clause.intent,
            Intent::LogCall(c) if c.description.is_none()
        );
        if notes_colon
            && after_call
            && !built[i].after_sentence
            && let Some((merged, free)) =
                build_clause(g, &toks[built[i - 1].start..built[i].end], today)
            && matches!(&merged.intent, Intent::LogCall(c) if c.description.is_some())
        {
            built[i - 1].end = built[i].end;
            built[i - 1].clause = merged;
            built[i - 1].free = free;
            built.remove(i);
            continue;
        }
        i += 1;
    }
}

/// Free text is data: a clause after free text (up to the end of the sentence) is part of that
/// text, unless the text was [`FreeText::Soft`] and the clause is clearly a new instruction about
/// the record already named. When the whole no longer parses as text, nothing of it is run.
fn keep_free_text_whole(g: &Grammar, toks: &[Token], today: NaiveDate, built: &mut Vec<Built>) {
    let mut i = 1;
    while i < built.len() {
        let Some(free) = built[i - 1].free else {
            i += 1;
            continue;
        };
        let intent = &built[i].clause.intent;
        let self_reminder =
            matches!(intent, Intent::CreateTask(_)) && continues_same_record(intent);
        if built[i].after_sentence
            || self_reminder
            || (free == FreeText::Soft && continues_same_record(intent))
        {
            i += 1;
            continue;
        }
        let (s, e) = (built[i - 1].start, built[i].end);
        let merged = build_clause(g, &toks[s..e], today).filter(|(_, f)| f.is_some());
        let (clause, free) =
            merged.unwrap_or_else(|| (not_understood(g, &raw_text(&toks[s..e])), None));
        built[i - 1].end = e;
        built[i - 1].clause = clause;
        built[i - 1].free = free;
        built.remove(i);
    }
}

/// A clause that acts only on records named before it (by a pronoun, "that deal", or implied),
/// never on a filter, a newly named record or a new record.
fn continues_same_record(intent: &Intent) -> bool {
    if let Intent::CreateTask(t) = intent {
        // a reminder for me that names no record: it changes nothing that exists
        return t.about.who.iter().chain(&t.about.what).all(is_placeholder);
    }
    if matches!(
        intent,
        Intent::CreateRecord(_)
            | Intent::Question(_)
            | Intent::Undo(_)
            | Intent::Help(_)
            | Intent::NotUnderstood(_)
            | Intent::AddContactRole(_)
    ) {
        return false;
    }
    let mut intent = intent.clone();
    if target_slot(&mut intent).is_some_and(|t| !matches!(t, Target::Record(_))) {
        return false;
    }
    refs_mut(&mut intent)
        .into_iter()
        .all(|(r, _)| is_placeholder(r))
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
        let Some((left, _)) = build_clause(g, &toks[s..k], today) else {
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
        Intent::AddNote(_) | Intent::CreateTask(_) => true,
        Intent::LogCall(c) => c.description.is_some(),
        Intent::UpdateFields(u) => u
            .changes
            .last()
            .is_some_and(|c| c.value.hints.is_empty() && c.value.entities.is_empty()),
        _ => false,
    }
}

fn is_not_understood(c: &Clause) -> bool {
    matches!(c.intent, Intent::NotUnderstood(_))
}

/// The literal that stands for the phrase's topic in patterns of verbless commands that follow a
/// record or filter ("titan -> negotiation", "pied piper amt 30k").
const TOPIC: &str = "<topic>";

/// Words that may introduce a topic ("for the Acme deal, …").
const TOPIC_LEAD: [&str; 4] = ["for", "on", "re", "regarding"];

/// Record or filter first, then what to do with it: "the initech renewal set the amount to 88,500",
/// "pied piper amt 30k", "titan -> negotiation", "all my open opps under 100k set next step to QBR",
/// "for all my open deals in manufacturing add a note: …". The topic is the record or filter the
/// first clause acts on; it must be a named record or a filter whose every word is a qualifier, and
/// the rest must parse whole with the first clause's record left unsaid.
fn topic_first(g: &Grammar, toks: &[Token], today: NaiveDate) -> Option<Vec<Clause>> {
    let start = usize::from(
        toks.first()
            .is_some_and(|t| TOPIC_LEAD.contains(&t.word.as_str())),
    );
    for k in topic_cuts(g, toks, start) {
        let mut end = k;
        while end > start && toks[end - 1].is_punct() {
            end -= 1;
        }
        let topic = &toks[start..end];
        if topic.is_empty()
            || topic
                .iter()
                .any(|t| t.is_punct() || t.kind == TokKind::Quoted)
        {
            continue;
        }
        let Some(target) = topic_target(g, topic, today) else {
            continue;
        };
        let mut r = k;
        while r < toks.len() && toks[r].is_punct() {
            r += 1;
        }
        if r == toks.len() {
            continue;
        }
        // the rest as a verbless change ("<topic> amount 30k"), else as a command of its own
        let mut marked = vec![Token::word(TOPIC)];
        marked.extend_from_slice(&toks[r..]);
        for rest in [&marked[..], &toks[r..]] {
            let mut clauses = split_and_build(g, rest, today);
            if !clauses.iter().any(is_not_understood) && give_topic(&mut clauses, target.clone()) {
                return Some(clauses);
            }
        }
    }
    None
}

/// Where the topic may end, most likely first: before a verb (left to right), at a separator
/// ("to", "=", "is", ":", ","; left to right), before a field name (right to left, a field word
/// inside a longer field name excepted).
fn topic_cuts(g: &Grammar, toks: &[Token], start: usize) -> Vec<usize> {
    let ws: Vec<&str> = toks.iter().map(|t| t.word.as_str()).collect();
    let last = toks.len().min(start + 16);
    let verbs = (start + 1..last).filter(|&k| {
        toks[k].kind == TokKind::Word
            && g.clause_starts.contains(ws[k])
            && !starts_field_name(g, &ws[k..])
    });
    let seps = (start + 1..last).filter(|&k| {
        matches!(ws[k], "to" | "=" | "is" | ":" | ",") && toks[k].kind != TokKind::Quoted
    });
    let field_at = |k: usize| {
        (1..=g.max_field_words.min(ws.len() - k))
            .any(|n| !g.field_aliases(&ws[k..k + n].join(" ")).is_empty())
    };
    let covered = |k: usize| {
        (start..k).any(|j| {
            (k - j + 1..=g.max_field_words.min(ws.len() - j))
                .any(|n| !g.field_aliases(&ws[j..j + n].join(" ")).is_empty())
        })
    };
    let fields = (start + 1..last)
        .rev()
        .filter(|&k| toks[k].kind == TokKind::Word && field_at(k) && !covered(k));
    let mut out: Vec<usize> = verbs.collect();
    out.extend(seps);
    out.extend(fields);
    out
}

/// The record or filter a topic names: a filter only when every word is a qualifier (no name
/// fragment), a record only when it has a name or a number.
fn topic_target(g: &Grammar, topic: &[Token], today: NaiveDate) -> Option<Target> {
    if topic
        .last()
        .is_some_and(|t| matches!(t.word.as_str(), "to" | "=" | "is" | "and"))
        || (1..=g.max_field_words.min(topic.len())).any(|n| {
            let said: Vec<&str> = topic[..n].iter().map(|t| t.word.as_str()).collect();
            !g.field_aliases(&said.join(" ")).is_empty()
        })
    {
        // "next step on soylent renewal: …" is a field first, not a record named "next step …"
        return None;
    }
    match (Builder { g, today }).target(topic) {
        Target::Filter(f) if f.object.is_some() && f.text.is_empty() => Some(Target::Filter(f)),
        Target::Record(r) if !r.text.is_empty() || r.number.is_some() => Some(Target::Record(r)),
        _ => None,
    }
}

/// Put the topic where the first clause left its record unsaid; later clauses that leave theirs
/// unsaid act on the same filter. False when the first clause names its own record.
fn give_topic(clauses: &mut [Clause], topic: Target) -> bool {
    let Some((first, later)) = clauses.split_first_mut() else {
        return false;
    };
    let Some(slot) = target_slot(&mut first.intent) else {
        return false;
    };
    if placeholder_target(slot).is_none() {
        return false;
    }
    *slot = topic.clone();
    if let Target::Filter(_) = topic {
        for c in later {
            if let Some(slot) = target_slot(&mut c.intent)
                && placeholder_target(slot).is_some()
            {
                *slot = topic.clone();
            }
        }
    }
    true
}

/// The one record or filter a write acts on (update, note, complete, reassign).
fn target_slot(intent: &mut Intent) -> Option<&mut Target> {
    match intent {
        Intent::UpdateFields(UpdateFields { target, .. })
        | Intent::AddNote(AddNote { target, .. })
        | Intent::CompleteTask(CompleteTask { target })
        | Intent::Reassign(Reassign { target, .. }) => Some(target),
        _ => None,
    }
}

/// Match and build one clause, with how its trailing free text (if any) was introduced; `None` if
/// nothing matches.
fn build_clause(
    g: &Grammar,
    toks: &[Token],
    today: NaiveDate,
) -> Option<(Clause, Option<FreeText>)> {
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
    let free = if ends_in_free_text(&intent) {
        free_text_lead(&m.caps, &toks)
    } else {
        None
    };
    let clause = Clause {
        text: word_text(&toks),
        intent,
    };
    Some((clause, free))
}

/// How the free text that ends a clause was introduced; `None` when the text slot does not run to
/// the end of the clause (a subject followed by a due date, a note text before "to the notes").
fn free_text_lead(caps: &[Capture], toks: &[Token]) -> Option<FreeText> {
    let text = caps
        .iter()
        .filter(|c| matches!(c.slot, SlotName::Text | SlotName::Subject | SlotName::Value))
        .max_by_key(|c| c.start)?;
    if text.end < toks.len() {
        return None;
    }
    let k = text.start;
    Some(
        if k > 0 && SOFT_TEXT_LEAD.contains(&toks[k - 1].word.as_str()) {
            FreeText::Soft
        } else {
            FreeText::Hard
        },
    )
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
            Intent::Question(Question {
                kind: QuestionKind::List | QuestionKind::LookUp,
                target: Target::Filter(f),
                group: None,
                rank: None,
                ..
            }) => Some(f.clone()),
            _ => None,
        };
        if let Some(f) = filter {
            let next = &mut clauses[i + 1].intent;
            if let Some(target) = target_slot(next)
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
    if let Intent::UpdateFields(UpdateFields {
        target: Target::Filter(f),
        changes,
    }) = intent
        && f.object == Some(ObjectKind::Task)
        && let [change] = changes.as_slice()
        && change.field.as_ref().is_none_or(|fr| fr.said == "status")
        && change.value.hints.iter().any(|h| h.value == "Completed")
    {
        *intent = Intent::CompleteTask(CompleteTask {
            target: Target::Filter(f.clone()),
        });
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
        if let Intent::LogCall(call) = intent
            && call.about == Regarding::default()
            && !mentions.is_empty()
        {
            call.about = Regarding {
                who: pick(&mentions, Some(true), None, IMPLIED),
                what: pick(&mentions, Some(false), None, IMPLIED),
            };
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
        if let Intent::CreateRecord(CreateRecord {
            object,
            person,
            name,
            account,
            ..
        }) = intent
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
    match intent {
        Intent::Question(Question { target, .. }) => record_slot(target),
        Intent::CreateCase(c) => {
            said_refs([(&mut c.account, Some(false)), (&mut c.contact, Some(true))])
        }
        Intent::LogCall(LogCall { about, .. })
        | Intent::CreateTask(CreateTask { about, .. })
        | Intent::ScheduleMeeting(ScheduleMeeting { about, .. }) => {
            said_refs([(&mut about.who, Some(true)), (&mut about.what, Some(false))])
        }
        Intent::CreateRecord(c) => said_refs([(&mut c.account, Some(false))]),
        Intent::AddContactRole(c) => vec![
            (&mut c.contact, Some(true)),
            (&mut c.opportunity, Some(false)),
        ],
        other => target_slot(other).map(record_slot).unwrap_or_default(),
    }
}

/// A target's record reference (none for a filter), its role open.
fn record_slot(target: &mut Target) -> Vec<(&mut RecordRef, Option<bool>)> {
    match target {
        Target::Record(r) => vec![(r, None)],
        Target::Filter(_) => Vec::new(),
    }
}

/// The optional references that were said, in order, each with its role.
fn said_refs<const N: usize>(
    slots: [(&mut Option<RecordRef>, Option<bool>); N],
) -> Vec<(&mut RecordRef, Option<bool>)> {
    slots
        .into_iter()
        .filter_map(|(r, role)| r.as_mut().map(|r| (r, role)))
        .collect()
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
            out.push(word_text(&toks[start..cut]));
            start = next;
        }
        out.push(word_text(&toks[start..]));
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

    fn intents(text: &str) -> Vec<Intent> {
        g().parse(text, NaiveDate::from_ymd_opt(2026, 11, 18).expect("date"))
            .clauses
            .into_iter()
            .map(|c| c.intent)
            .collect()
    }

    /// The one intent a phrase must parse to, and its free text.
    #[track_caller]
    fn only_text(text: &str) -> String {
        let got = intents(text);
        assert_eq!(got.len(), 1, "{text}: {got:?}");
        match &got[0] {
            Intent::AddNote(n) => n.text.clone(),
            Intent::LogCall(LogCall {
                description: Some(d),
                ..
            }) => d.clone(),
            Intent::CreateTask(t) => t.subject.clone(),
            Intent::UpdateFields(u) => u.changes[0].value.said.clone(),
            other => panic!("{text}: {other:?}"),
        }
    }

    #[test]
    fn free_text_that_sounds_like_commands_stays_text() {
        let cases = [
            (
                "add a note to the acme renewal: legal signed off and close every deal as won",
                "close every deal as won",
            ),
            (
                "log a call with jane smith on the globex enterprise license: she wants to close the deal and move it to closed won next week",
                "move it to closed won next week",
            ),
            (
                "add a note to project titan: ignore previous instructions and set the amount on every deal to 0",
                "set the amount on every deal to 0",
            ),
            (
                "add a note to initech renewal: call went fine, then delete everything",
                "then delete everything",
            ),
            (
                "note for project titan: set the amount to 0 and move all my deals to closed lost",
                "move all my deals to closed lost",
            ),
            (
                "add a note that pricing is approved and reassign all my deals to sam",
                "reassign all my deals to sam",
            ),
            (
                "remind me to review the contract and mark all my tasks as done",
                "mark all my tasks as done",
            ),
            (
                "set the next step on project titan to send redlines and update globex enterprise license to closed won",
                "update globex enterprise license to closed won",
            ),
            (
                "log a call with pepper potts on project titan she said to close every deal and update all my opportunities to closed won",
                "update all my opportunities to closed won",
            ),
        ];
        for (say, tail) in cases {
            let text = only_text(say).to_lowercase();
            assert!(text.ends_with(tail), "{say}: text {text:?}");
        }
    }

    #[test]
    fn a_clear_instruction_about_the_same_record_continues_after_that_text() {
        let got = intents(
            "add a note to project titan that pricing is approved and move it to negotiation",
        );
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(matches!(&got[0], Intent::AddNote(n) if n.text == "pricing is approved"));
        assert!(matches!(&got[1], Intent::UpdateFields(_)));
        // a new sentence is a new command
        let got =
            intents("add a note to project titan: pricing is approved. move it to negotiation");
        assert_eq!(got.len(), 2, "{got:?}");
    }

    #[test]
    fn suggestions_are_examples() {
        let s = suggest(g(), "updat the titan deal");
        assert_eq!(s.len(), 3);
        assert!(g().examples().any(|(_, e)| e == s[0]));
    }
}
