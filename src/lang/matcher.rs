//! Tokens × patterns → the best match: a backtracking matcher over compiled patterns with typed,
//! lazily-extended slots, scored by specificity.
//!
//! Owns matching and scoring only. Slot types are checked here (a date slot must read as a date),
//! so a wrong split backtracks; turning captures into intents is `build`'s job. Called by
//! [`super::parse`] once per clause.

use chrono::NaiveDate;

use super::entity;
use super::grammar::Grammar;
use super::lexer::{TokKind, Token};
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
        words: toks
            .iter()
            .map(|t| {
                if t.kind == TokKind::Quoted {
                    "\u{0}"
                } else {
                    t.word.as_str()
                }
            })
            .collect(),
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
            SlotType::Record | SlotType::Name => !self.toks[start].is_punct(),
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
                // each "field to value" item counts like the literals of a single-field pattern
                SlotName::Changes => {
                    let items =
                        super::build::split_changes(self.g, self.toks, c.start, c.end, false)
                            .map_or(0, |v| v.len() as i32);
                    bonus += 6 * items;
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
        bonus
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
