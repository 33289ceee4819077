//! Fields, values and change lists: field aliases, typed entity readings and picklist hints of a
//! value, and "field to value, field to value" lists. Part of `build`.

use super::*;

/// One "field to value" item: the field's and the value's token ranges `[start, end)`.
pub(crate) type ChangeSpan = ((usize, usize), (usize, usize));

/// Split "stage to negotiation, close date to December 15 and amount to 90,000" into
/// `(field range, value range)` pairs (absolute token indices). With `strict`, every field must be a
/// known alias; otherwise unknown names of up to 3 words are allowed.
pub(crate) fn split_changes(
    g: &Grammar,
    toks: &[Token],
    start: usize,
    end: usize,
    strict: bool,
) -> Option<Vec<ChangeSpan>> {
    // item boundaries: punctuation, or "and" followed by a field and "to", or (dictated, no
    // separator) a known field name followed by "to" after this item's value
    let mut items: Vec<(usize, usize)> = Vec::new();
    let mut s = start;
    let mut i = start;
    let mut seen_to: Option<usize> = None;
    while i < end {
        let w = toks[i].word.as_str();
        if seen_to.is_none() && is_to(&toks[i]) && i > s {
            seen_to = Some(i);
        }
        let sep_len = if toks[i].is_punct() {
            if toks.get(i + 1).is_some_and(|t| t.word == "and") {
                2
            } else {
                1
            }
        } else if w == "and" {
            1
        } else {
            0
        };
        if sep_len > 0 && i > s {
            // only a boundary if what follows looks like "field to" or "known-field value"
            let next = i + sep_len;
            let to_item = (next..end.min(next + 5))
                .find(|&k| is_to(&toks[k]))
                .is_some_and(|to| to > next);
            if to_item || alias_prefix(g, toks, next, end).is_some() {
                items.push((s, i));
                s = next;
                i = next;
                seen_to = None;
                continue;
            }
            if toks[i].is_punct() && toks[i].word != "," {
                return None;
            }
        } else if let Some(t) = seen_to
            && i > t + 1
            && toks[i].kind == TokKind::Word
        {
            let n_max = g.max_field_words.min(end - i - 1);
            let boundary = (1..=n_max).rev().any(|n| {
                is_to(&toks[i + n])
                    && toks[i..i + n].iter().all(|t| t.kind == TokKind::Word)
                    && !g.field_aliases(&lower_text(&toks[i..i + n])).is_empty()
            });
            if boundary {
                items.push((s, i));
                s = i;
                seen_to = None;
                continue;
            }
        }
        i += 1;
    }
    items.push((s, end));
    let mut out = Vec::new();
    for (a, b) in items {
        let mut fa = a;
        while fa < b && g.in_class("article", &[toks[fa].word.as_str()]) {
            fa += 1;
        }
        let Some(to) = (a..b).find(|&k| is_to(&toks[k])) else {
            // "stage proposal", "amount 500k": a known field name, then its value — unless the
            // words are together a known value and the rest is none ("value proposition" is a
            // stage, not Amount = "proposition")
            let n = alias_prefix(g, toks, fa, b)?;
            if is_whole_value(g, &lower_text(&toks[fa..b]), &lower_text(&toks[fa + n..b])) {
                return None;
            }
            // "next step on all my deals …" is a field of a record, not a value
            if matches!(
                toks[fa + n].word.as_str(),
                "on" | "of" | "for" | "in" | "at" | "with" | "from" | "by" | "is"
            ) {
                return None;
            }
            out.push(((fa, fa + n), (fa + n, b)));
            continue;
        };
        if fa >= to || to + 1 >= b {
            return None;
        }
        if toks[fa..to].iter().any(|t| t.kind != TokKind::Word) {
            return None;
        }
        let said = lower_text(&toks[fa..to]);
        let known = !g.field_aliases(&said).is_empty();
        if strict && !known {
            return None;
        }
        if !known && to - fa > 3 {
            return None;
        }
        out.push(((fa, to), (to + 1, b)));
    }
    Some(out)
}

/// Whether `whole` ("value proposition") is a value said whole, not a field name and the value
/// `rest` ("proposition"): the lexicon knows it as a value and does not know `rest` as one ("high
/// priority" still splits: "high" is a value).
pub(crate) fn is_whole_value(g: &Grammar, whole: &str, rest: &str) -> bool {
    !g.value_hints(whole).is_empty() && g.value_hints(rest).is_empty()
}

/// Length of the longest known field alias at `start` that leaves at least one value token before
/// `end` ("close date December 15" → 2).
fn alias_prefix(g: &Grammar, toks: &[Token], start: usize, end: usize) -> Option<usize> {
    let n_max = g.max_field_words.min(end.saturating_sub(start + 1));
    (1..=n_max).rev().find(|&n| {
        toks[start..start + n]
            .iter()
            .all(|t| t.kind == TokKind::Word)
            && !g
                .field_aliases(&lower_text(&toks[start..start + n]))
                .is_empty()
    })
}

fn is_to(t: &Token) -> bool {
    t.kind == TokKind::Word && matches!(t.word.as_str(), "to" | "=" | "as")
}

impl Builder<'_> {
    /// A field as said, with alias candidates.
    pub(crate) fn field(&self, toks: &[Token]) -> FieldRef {
        let toks = strip_articles(self.g, toks);
        let said = unless_known(
            lower_text(toks),
            |s| s.strip_suffix(" field"),
            |s| !self.g.field_aliases(s).is_empty(),
        );
        FieldRef {
            candidates: self.g.field_aliases(&said).to_vec(),
            said,
        }
    }

    /// A value as said, with entity candidates and picklist hints.
    pub(crate) fn value(&self, toks: &[Token]) -> Value {
        let quoted = toks.len() == 1 && toks[0].kind == TokKind::Quoted;
        let said = if quoted {
            toks[0].raw.clone()
        } else {
            text_of(toks)
        };
        let lower = said.to_lowercase();
        let inner: Vec<&str> = if quoted {
            lower.split_whitespace().collect()
        } else {
            toks.iter()
                .filter(|t| !t.is_punct())
                .map(|t| t.word.as_str())
                .collect()
        };
        let mut entities = Vec::new();
        if quoted {
            entities.push(Entity::Quoted(said.clone()));
        }
        if let Some(d) = entity::date(&inner, self.today) {
            entities.push(Entity::Date(d));
        }
        if let Some(a) = entity::amount(&inner) {
            entities.push(if a.percent {
                Entity::Percent(a.value)
            } else if a.money {
                Entity::Money(a.value)
            } else {
                Entity::Number(a.value)
            });
        }
        if let Some(d) = entity::duration(&inner) {
            entities.push(Entity::Duration(d));
        }
        if let Some(sp) = entity::span(&inner) {
            entities.push(Entity::Span(sp));
        }
        if self.g.in_class("true_word", &inner) {
            entities.push(Entity::Bool(true));
        } else if self.g.in_class("false_word", &inner) {
            entities.push(Entity::Bool(false));
        }
        if let [one] = inner.as_slice() {
            if entity::is_email(one) {
                entities.push(Entity::Email((*one).to_string()));
            } else if entity::is_phone(one) && entity::date(&[one], self.today).is_none() {
                entities.push(Entity::Phone(said.clone()));
            }
        }
        let key = unless_known(
            inner.join(" "),
            |k| k.strip_prefix("the "),
            |k| !self.g.value_hints(k).is_empty(),
        );
        Value {
            hints: self.g.value_hints(&key).to_vec(),
            said,
            entities,
        }
    }
}

/// `key` when the grammar knows it whole, else `key` without the word `strip` takes off ("close
/// date field" → "close date", "the negotiation" → "negotiation") when there is one.
fn unless_known(
    key: String,
    strip: impl Fn(&str) -> Option<&str>,
    known: impl Fn(&str) -> bool,
) -> String {
    if known(&key) {
        return key;
    }
    strip(&key).map(str::to_string).unwrap_or(key)
}
