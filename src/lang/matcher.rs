//! Tokens × patterns → the best match: a backtracking matcher over compiled patterns with typed,
//! lazily-extended slots, scored by specificity.
//!
//! Owns matching and scoring only. Slot types are checked here (a date slot must read as a date),
//! so a wrong split backtracks; turning captures into intents is `build`'s job. Called by
//! [`super::parse`] once per clause.

use chrono::NaiveDate;

use super::entity;
use super::grammar::Grammar;
use super::lexer::{TokKind, Token, match_words};
use super::pattern::{Elem, SlotName, SlotType};

/// A captured slot: token range `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Capture {
    pub(crate) slot: SlotName,
    pub(crate) start: usize,
    pub(crate) end: usize,
}

/// The best match of a clause.
#[derive(Debug, Clone)]
pub(crate) struct Match {
    pub(crate) rule: usize,
    pub(crate) pattern: usize,
    pub(crate) caps: Vec<Capture>,
    pub(crate) score: i32,
}

struct State {
    caps: Vec<Capture>,
    literals: i32,
    strict: i32,
    steps: u32,
}

/// Longest slot in tokens; longer clauses are free text that only `text` slots take.
const MAX_RECORD_TOKENS: usize = 14;
/// Backtracking budget per pattern, so adversarial input stays fast.
const MAX_STEPS: u32 = 20_000;

struct Matcher<'a> {
    g: &'a Grammar,
    toks: &'a [Token],
    words: Vec<&'a str>,
    today: NaiveDate,
}

/// Find the best-scoring pattern match for a clause; `None` if no pattern matches.
pub(crate) fn best_match(g: &Grammar, toks: &[Token], today: NaiveDate) -> Option<Match> {
    if toks.is_empty() {
        return None;
    }
    let m = Matcher {
        g,
        toks,
        words: match_words(toks),
        today,
    };
    let mut best: Option<Match> = None;
    // "close date on X to …" starts with a field name, not with the verb "close"
    let verb_led = if super::clause::starts_field_name(g, &m.words) {
        None
    } else {
        g.by_first_word.get(m.words[0])
    };
    let candidates = verb_led.into_iter().flatten().chain(g.open_start.iter());
    for &(ri, pi) in candidates {
        let pattern = &g.rules[ri].patterns[pi];
        if !pattern
            .required
            .iter()
            .all(|alts| alts.iter().any(|w| m.words.contains(&w.as_str())))
        {
            continue;
        }
        let mut st = State {
            caps: Vec::new(),
            literals: 0,
            strict: 0,
            steps: 0,
        };
        let mut stack = Vec::new();
        if m.go(&pattern.elems, &mut stack, 0, &mut st) {
            let score = st.literals * 4 + st.strict * 3 + m.fit_bonus(&st.caps);
            let better = match &best {
                None => true,
                Some(b) => score > b.score,
            };
            if better {
                best = Some(Match {
                    rule: ri,
                    pattern: pi,
                    caps: st.caps,
                    score,
                });
            }
        }
    }
    best
}

impl<'a> Matcher<'a> {
    fn go<'p>(
        &self,
        elems: &'p [Elem],
        stack: &mut Vec<&'p [Elem]>,
        pos: usize,
        st: &mut State,
    ) -> bool {
        st.steps += 1;
        if st.steps > MAX_STEPS {
            return false;
        }
        let Some((first, rest)) = elems.split_first() else {
            return match stack.pop() {
                Some(next) => {
                    let ok = self.go(next, stack, pos, st);
                    stack.push(next);
                    ok
                }
                None => pos == self.toks.len(),
            };
        };
        match first {
            Elem::Words { alts, optional } => {
                for alt in alts {
                    if self.words_at(pos, alt) {
                        st.literals += alt.len() as i32;
                        if self.go(rest, stack, pos + alt.len(), st) {
                            return true;
                        }
                        st.literals -= alt.len() as i32;
                    }
                }
                *optional && self.go(rest, stack, pos, st)
            }
            Elem::Slot { name, ty, optional } => {
                let next = next_words(rest, stack);
                let n = self.toks.len();
                for end in pos + 1..=n {
                    if !self.extendable(*ty, pos, end) {
                        break;
                    }
                    if let Some(alts) = next
                        && !alts.iter().any(|a| self.words_at(end, a))
                    {
                        continue;
                    }
                    if !self.slot_ok(*ty, pos, end) {
                        continue;
                    }
                    st.caps.push(Capture {
                        slot: *name,
                        start: pos,
                        end,
                    });
                    let strict = i32::from(ty.is_strict());
                    st.strict += strict;
                    if self.go(rest, stack, end, st) {
                        return true;
                    }
                    st.strict -= strict;
                    st.caps.pop();
                }
                *optional && self.go(rest, stack, pos, st)
            }
            Elem::Group { alts, optional } => {
                for alt in alts {
                    stack.push(rest);
                    let ok = self.go(alt, stack, pos, st);
                    stack.pop();
                    if ok {
                        return true;
                    }
                }
                *optional && self.go(rest, stack, pos, st)
            }
        }
    }

    fn words_at(&self, pos: usize, alt: &[String]) -> bool {
        pos + alt.len() <= self.words.len()
            && alt.iter().zip(&self.words[pos..]).all(|(a, w)| a == w)
    }

    /// False once a slot cannot grow any further (so the loop stops early).
    fn extendable(&self, ty: SlotType, start: usize, end: usize) -> bool {
        let len = end - start;
        let last = &self.toks[end - 1];
        match ty {
            SlotType::Record | SlotType::Task => len <= MAX_RECORD_TOKENS && !last.is_punct(),
            SlotType::Name => len <= 5 && !last.is_punct(),
            SlotType::Field => len <= 4 && !last.is_punct() && last.kind == TokKind::Word,
            SlotType::Date | SlotType::Duration | SlotType::Amount | SlotType::Span => {
                len <= 8 && !last.is_punct()
            }
            _ => true,
        }
    }

    fn slot_ok(&self, ty: SlotType, start: usize, end: usize) -> bool {
        let ws = &self.words[start..end];
        match ty {
            SlotType::Text => !(end - start == 1 && self.toks[start].is_punct()),
            SlotType::Statement => {
                self.toks[start].kind == TokKind::Quoted
                    || self.g.class_prefix("statement_start", ws).is_some()
                    || (ws.len() > 2 && self.g.in_class("statement_verb", &ws[1..2]))
            }
            // a subject pronoun after the first word starts a statement, not more of a name
            // … and a record reference does not end in "to" ("set the amount on X to 95k")
            SlotType::Record | SlotType::Name => {
                !self.toks[start].is_punct()
                    && (end - start == 1 || ws.last() != Some(&"to"))
                    && !ws
                        .iter()
                        .skip(1)
                        .any(|w| self.g.in_class("clause_subject", &[w]))
            }
            SlotType::Task => (start..end).any(|i| {
                self.g
                    .class_prefix("task_word", &self.words[i..end])
                    .is_some()
            }),
            // a field name is not a record set ("all my open deals") and has no digits
            SlotType::Field => {
                !ws.iter().any(|w| w.chars().any(|c| c.is_ascii_digit()))
                    && self.g.class_prefix("all", ws).is_none()
                    && self.g.class_prefix("mine", ws).is_none()
                    && !ws
                        .iter()
                        .any(|w| self.g.object_word(w).is_some_and(|(_, plural)| plural))
            }
            SlotType::Date => entity::date(ws, self.today).is_some(),
            SlotType::Duration => entity::duration(ws).is_some(),
            SlotType::Amount => entity::amount(ws).is_some() || entity::span(ws).is_some(),
            SlotType::Span => {
                let ws = match ws {
                    ["by", rest @ ..] => rest,
                    _ => ws,
                };
                entity::span(ws).is_some()
            }
            SlotType::Alias => {
                let ws = match ws {
                    ["the" | "a" | "an", rest @ ..] if !rest.is_empty() => rest,
                    _ => ws,
                };
                ws.len() <= self.g.max_field_words
                    && !self.g.field_aliases(&ws.join(" ")).is_empty()
            }
            SlotType::Hint => {
                let ws = match ws {
                    ["the" | "a" | "an", rest @ ..] if !rest.is_empty() => rest,
                    _ => ws,
                };
                !self.g.value_hints(&ws.join(" ")).is_empty()
            }
            SlotType::Changes => {
                super::build::split_changes(self.g, self.toks, start, end, true).is_some()
            }
            SlotType::ChangesAny => {
                super::build::split_changes(self.g, self.toks, start, end, false).is_some()
            }
        }
    }

    /// Bonus for slots whose words are known: a field alias, a value with a hint or entity.
    fn fit_bonus(&self, caps: &[Capture]) -> i32 {
        let mut bonus = 0;
        for c in caps {
            let ws = &self.words[c.start..c.end];
            let ws = match ws {
                ["the", rest @ ..] if !rest.is_empty() => rest,
                _ => ws,
            };
            let joined = ws.join(" ");
            match c.slot {
                SlotName::Field if !self.g.field_aliases(&joined).is_empty() => bonus += 2,
                // "move titan to stage negotiation": words led by a field name, or holding a
                // picklist value, are no person ("Jordan Price" still is)
                SlotName::Owner
                    if (1..=ws.len().min(self.g.max_field_words))
                        .any(|j| !self.g.field_aliases(&ws[..j].join(" ")).is_empty())
                        || (0..ws.len()).any(|i| {
                            (i + 1..=ws.len().min(i + self.g.max_field_words))
                                .any(|j| !self.g.value_hints(&ws[i..j].join(" ")).is_empty())
                        }) =>
                {
                    bonus -= 8
                }
                // "the stage of X" is a field of a record, not a record's name
                SlotName::Target
                    if (1..ws.len().min(self.g.max_field_words + 1)).any(|n| {
                        matches!(ws[n], "of" | "on" | "for")
                            && !self.g.field_aliases(&ws[..n].join(" ")).is_empty()
                    }) =>
                {
                    bonus -= 8
                }
                // a "to" inside a record name is more likely the one that introduces the value
                // ("the close date for X to december first"): prefer a parse that reads it so
                SlotName::Target if ws.contains(&"to") => bonus -= 6,
                // each "field to value" item counts like the literals of a single-field pattern
                SlotName::Changes => {
                    let items =
                        super::build::split_changes(self.g, self.toks, c.start, c.end, false)
                            .unwrap_or_default();
                    for ((fa, fb), (va, vb)) in items {
                        bonus += if self.compatible(&self.words[fa..fb], &self.words[va..vb]) {
                            6
                        } else {
                            -8
                        };
                    }
                }
                SlotName::Value
                    if !self.g.value_hints(&joined).is_empty()
                        || self.g.in_class("true_word", ws)
                        || self.g.in_class("false_word", ws)
                        || entity::amount(ws).is_some()
                        || entity::date(ws, self.today).is_some() =>
                {
                    bonus += 2
                }
                _ => {}
            }
        }
        // a field and a value that cannot go together ("renewal" = a date, "closed won" = a stage)
        let field = caps.iter().find(|c| c.slot == SlotName::Field);
        let value = caps.iter().find(|c| c.slot == SlotName::Value);
        if let (Some(f), Some(v)) = (field, value)
            && !self.compatible(&self.words[f.start..f.end], &self.words[v.start..v.end])
        {
            bonus -= 8;
        }
        bonus
    }

    /// False when the value is a known picklist value of other fields only, while the words name
    /// a known field that is none of them.
    fn compatible(&self, field: &[&str], value: &[&str]) -> bool {
        let aliases = self.g.field_aliases(&strip_article(field).join(" "));
        let hints = self.g.value_hints(&strip_article(value).join(" "));
        if aliases.is_empty() || hints.is_empty() {
            return true;
        }
        hints.iter().any(|h| {
            h.field == "*"
                || aliases.iter().any(|a| {
                    a.api_name == h.field
                        || a.api_name.ends_with(&format!("{}Name", h.field))
                        || h.field.starts_with(&a.api_name)
                })
        }) || self.g.in_class("true_word", value)
            || self.g.in_class("false_word", value)
    }
}

fn strip_article<'w>(ws: &'w [&'w str]) -> &'w [&'w str] {
    match ws {
        ["the" | "a" | "an", rest @ ..] if !rest.is_empty() => rest,
        _ => ws,
    }
}

/// The literal alternatives that must follow, when the next element is a required literal.
fn next_words<'p>(rest: &'p [Elem], stack: &[&'p [Elem]]) -> Option<&'p Vec<Vec<String>>> {
    let next = match rest.first() {
        Some(e) => e,
        None => stack.last().and_then(|s| s.first())?,
    };
    match next {
        Elem::Words {
            alts,
            optional: false,
        } => Some(alts),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lang::lexer::tokenize;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 18).expect("date")
    }

    /// A tiny grammar: the required classes plus the given lines.
    fn grammar(lines: &str) -> Grammar {
        let mut lex: String = crate::lang::grammar::REQUIRED_CLASSES
            .iter()
            .map(|c| format!("class {c} = zz{c}\n"))
            .collect();
        lex.push_str(
            "class article = the | a\nclass task_word = task\nclass statement_start = she\n",
        );
        lex.push_str(
            "field Opportunity.Amount = amount\nfield Opportunity.CloseDate = close date\n",
        );
        lex.push_str("value StageName.Closed Won = won\n");
        lex.push_str(lines);
        Grammar::from_sources(&[("t.grammar".to_string(), lex)]).expect("test grammar")
    }

    /// (pattern index, captures as "slot=words") of the best match.
    #[track_caller]
    fn best(g: &Grammar, text: &str) -> Option<(usize, Vec<String>)> {
        let toks = tokenize(text);
        best_match(g, &toks, today()).map(|m| {
            let caps = m
                .caps
                .iter()
                .map(|c| {
                    let w: Vec<&str> = toks[c.start..c.end]
                        .iter()
                        .map(|t| t.word.as_str())
                        .collect();
                    format!("{:?}={}", c.slot, w.join(" "))
                })
                .collect();
            (m.pattern, caps)
        })
    }

    #[test]
    fn slots_are_lazy_and_literals_anchor_them() {
        let g =
            grammar("intent: update_fields\npattern: set [the] {field} on {target} to {value}\n");
        assert_eq!(
            best(&g, "set the amount on acme to the moon and on to mars"),
            Some((
                0,
                vec![
                    "Field=amount".into(),
                    "Target=acme".into(),
                    "Value=the moon and on to mars".into()
                ]
            ))
        );
        assert_eq!(best(&g, "set the amount on acme"), None);
    }

    #[test]
    fn typed_slots_backtrack_until_they_parse() {
        let g = grammar("intent: create_task\npattern: remind me to {subject} [{due}]\n");
        assert_eq!(
            best(&g, "remind me to send it to acme by friday"),
            Some((
                0,
                vec!["Subject=send it to acme".into(), "Due=by friday".into()]
            ))
        );
        // no date at the end: the optional slot is skipped
        assert_eq!(
            best(&g, "remind me to send it"),
            Some((0, vec!["Subject=send it".into()]))
        );
    }

    #[test]
    fn the_most_specific_pattern_wins() {
        let g = grammar(
            "intent: update_fields\npattern: set {target} to {value}\npattern: set the {field} on {target} to {value}\n",
        );
        let (p, _) = best(&g, "set the amount on acme to 5").expect("matches");
        assert_eq!(
            p, 1,
            "more literals and a known field beat a looser pattern"
        );
        let (p, _) = best(&g, "set acme to won").expect("matches");
        assert_eq!(p, 0);
    }

    #[test]
    fn record_slots_stop_at_punctuation_and_task_slots_need_a_task_word() {
        let g = grammar("intent: complete_task\npattern: mark {target:task} as done\n");
        assert!(best(&g, "mark the pricing task as done").is_some());
        assert!(best(&g, "mark the pricing call as done").is_none());
        let g = grammar("intent: add_note\npattern: note for {target} : {text}\n");
        assert_eq!(
            best(&g, "note for acme: a, b: c"),
            Some((0, vec!["Target=acme".into(), "Text=a , b : c".into()]))
        );
        assert!(best(&g, "note for acme, inc: x").is_none());
    }

    #[test]
    fn record_slots_stop_before_a_subject_pronoun_and_do_not_end_in_to() {
        let mut src = String::from("class clause_subject = he | she\nclass statement_start = he\n");
        src.push_str("intent: log_call\npattern: call with {who} for {what}\n");
        src.push_str("pattern: call with {who} {text:statement}\n");
        let g = grammar(&src);
        assert_eq!(
            best(
                &g,
                "call with michael scott he wants to renew for two years"
            ),
            Some((
                1,
                vec![
                    "Who=michael scott".into(),
                    "Text=he wants to renew for two years".into()
                ]
            ))
        );
        let g = grammar("intent: reassign\npattern: give {target} {owner}\n");
        assert_eq!(
            best(&g, "give titan to sam"),
            Some((0, vec!["Target=titan".into(), "Owner=to sam".into()]))
        );
    }

    #[test]
    fn a_to_inside_a_record_name_loses_to_a_parse_that_reads_it_as_to() {
        let g = grammar(
            "intent: update_fields\npattern: set {field:alias} on {target} {value:date}\n\
             pattern: set {field} on {target} to {value}\n",
        );
        let (i, caps) = best(&g, "set close date on titan to december first").expect("match");
        assert_eq!(i, 1, "{caps:?}");
        assert!(caps.contains(&"Target=titan".to_string()), "{caps:?}");
    }

    #[test]
    fn statement_slots_find_where_free_text_starts() {
        let g = grammar("intent: add_note\npattern: note for {target} {text:statement}\n");
        assert_eq!(
            best(&g, "note for acme corp she wants a demo"),
            Some((
                0,
                vec!["Target=acme corp".into(), "Text=she wants a demo".into()]
            ))
        );
    }

    #[test]
    fn groups_with_slots_and_fixed_values() {
        let g = grammar(
            "intent: add_note\npattern: add {text} to the notes [(on|for) {target}]\nintent: update_fields\npattern: escalate {target} => field=status\n",
        );
        assert_eq!(
            best(&g, "add 'x y' to the notes on acme"),
            Some((0, vec!["Text=x y".into(), "Target=acme".into()]))
        );
        assert_eq!(
            best(&g, "add 'x y' to the notes"),
            Some((0, vec!["Text=x y".into()]))
        );
        let toks = tokenize("escalate case 1");
        let m = best_match(&g, &toks, today()).expect("matches");
        assert_eq!(g.rules[m.rule].patterns[m.pattern].fixed[0].1, "status");
    }

    #[test]
    fn a_clause_starting_with_a_field_name_is_not_verb_led() {
        let g = grammar(
            "intent: update_fields\npattern: close {target}\npattern: {field:alias} on {target} to {value}\n",
        );
        let (p, caps) = best(&g, "close date on acme to friday").expect("matches");
        assert_eq!(p, 1, "{caps:?}");
    }
}
