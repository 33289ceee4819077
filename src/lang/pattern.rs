//! One grammar rule: the pattern DSL (`grammars/README.md`) compiled to a matcher-ready element list.
//!
//! Owns the pattern syntax — literals, `(a|b c)` choices, `[a|b]` optionals, `@class` word classes,
//! `{slot}` / `{slot:type}` captures, `=> slot=value` fixed assignments — and the names of slots and
//! slot types. Does not own matching (`matcher`) or building intents (`build`). Called by `grammar`
//! at load time only.

use std::collections::HashMap;

/// The typed slot names a pattern can capture. Each intent builder reads the ones it knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum SlotName {
    Target,
    Field,
    Value,
    Text,
    Who,
    What,
    About,
    Subject,
    Due,
    Date,
    Duration,
    Call,
    Priority,
    Person,
    Name,
    Account,
    Company,
    Details,
    Contact,
    Opportunity,
    Role,
    Owner,
    Kind,
    Steps,
    Topic,
    Op,
    Amount,
    Changes,
    Mine,
    Object,
    Group,
}

impl SlotName {
    pub(crate) fn from_name(s: &str) -> Option<SlotName> {
        use SlotName::*;
        Some(match s {
            "target" => Target,
            "field" => Field,
            "value" => Value,
            "text" => Text,
            "who" => Who,
            "what" => What,
            "about" => About,
            "subject" => Subject,
            "due" => Due,
            "date" => Date,
            "duration" => Duration,
            "call" => Call,
            "group" => Group,
            "priority" => Priority,
            "person" => Person,
            "name" => Name,
            "account" => Account,
            "company" => Company,
            "details" => Details,
            "contact" => Contact,
            "opportunity" => Opportunity,
            "role" => Role,
            "owner" => Owner,
            "kind" => Kind,
            "steps" => Steps,
            "topic" => Topic,
            "op" => Op,
            "amount" => Amount,
            "changes" => Changes,
            "mine" => Mine,
            "object" => Object,
            _ => return None,
        })
    }

    /// The type a slot has when the pattern does not say `{name:type}`.
    pub(crate) fn default_type(self) -> SlotType {
        use SlotName::*;
        match self {
            Target | Who | What | About | Contact | Opportunity | Account | Company | Owner => {
                SlotType::Record
            }
            Field | Group => SlotType::Field,
            Due | Date => SlotType::Date,
            Duration => SlotType::Duration,
            Amount => SlotType::Amount,
            Changes => SlotType::Changes,
            Person | Name => SlotType::Name,
            Steps => SlotType::Amount,
            Value | Text | Subject | Call | Priority | Details | Role | Kind | Topic | Op
            | Mine | Object => SlotType::Text,
        }
    }
}

/// What a slot accepts; checked while matching so a wrong split backtracks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SlotType {
    /// Any non-empty words (punctuation allowed).
    Text,
    /// Text whose first word is in the `statement_start` class ("she wants…", "discussed…") or whose
    /// second word is in `statement_verb` ("miles wants…").
    Statement,
    /// A record reference: no clause punctuation, at most 12 tokens.
    Record,
    /// A task reference: a record reference containing a `task_word` ("the pricing call task").
    Task,
    /// A person's or record's name: 1–5 words, no punctuation.
    Name,
    /// A field name: 1–4 words, no punctuation, no digits.
    Field,
    /// A date (see `entity::date`).
    Date,
    /// A duration ("30-minute", "an hour").
    Duration,
    /// A number/amount ("10k", "20 percent").
    Amount,
    /// A calendar span ("two weeks").
    Span,
    /// A known field alias ("close date", "budget approved").
    Alias,
    /// Words with a picklist hint in the grammar ("decision maker", "negotiation").
    Hint,
    /// "F to V, F to V and F to V" where every F is a known field alias.
    Changes,
    /// Like `changes`, but unknown field names (≤ 3 words) are allowed (after an explicit colon).
    ChangesAny,
}

impl SlotType {
    fn from_name(s: &str) -> Option<SlotType> {
        Some(match s {
            "text" => SlotType::Text,
            "statement" => SlotType::Statement,
            "record" => SlotType::Record,
            "task" => SlotType::Task,
            "name" => SlotType::Name,
            "field" => SlotType::Field,
            "date" => SlotType::Date,
            "duration" => SlotType::Duration,
            "amount" => SlotType::Amount,
            "span" => SlotType::Span,
            "hint" => SlotType::Hint,
            "alias" => SlotType::Alias,
            "changes" => SlotType::Changes,
            "changes_any" => SlotType::ChangesAny,
            _ => return None,
        })
    }

    /// Strict types earn a bonus in match scoring: a match that needed them is more specific.
    pub(crate) fn is_strict(self) -> bool {
        !matches!(
            self,
            SlotType::Text | SlotType::Record | SlotType::Name | SlotType::Field
        )
    }
}

/// One element of a compiled pattern.
#[derive(Debug, Clone)]
pub(crate) enum Elem {
    /// One of several literal word sequences (a literal, a choice or a class).
    Words {
        alts: Vec<Vec<String>>,
        optional: bool,
    },
    /// A capture.
    Slot {
        name: SlotName,
        ty: SlotType,
        optional: bool,
    },
    /// A nested group with slots inside: alternatives of element lists.
    Group {
        alts: Vec<Vec<Elem>>,
        optional: bool,
    },
}

/// A compiled pattern.
#[derive(Debug, Clone)]
pub(crate) struct Pattern {
    pub(crate) elems: Vec<Elem>,
    /// Fixed slot values from `=> slot=value`.
    pub(crate) fixed: Vec<(SlotName, String)>,
    /// First words a match can start with; `None` when it may start with a slot or optional.
    pub(crate) first_words: Option<Vec<String>>,
    /// For each required literal element, the words one of which must occur in the clause (a
    /// cheap filter before matching).
    pub(crate) required: Vec<Vec<String>>,
}

/// Tokenise pattern source: words, `(`, `)`, `[`, `]`, `|`, `{…}`, `@name`, punctuation `:` `,`.
fn pattern_tokens(src: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut chars = src.chars().peekable();
    let mut cur = String::new();
    let flush = |cur: &mut String, out: &mut Vec<String>| {
        if !cur.is_empty() {
            out.push(std::mem::take(cur));
        }
    };
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => flush(&mut cur, &mut out),
            '(' | ')' | '[' | ']' | '|' | ':' | ',' | ';' => {
                flush(&mut cur, &mut out);
                out.push(c.to_string());
            }
            '{' => {
                flush(&mut cur, &mut out);
                let mut s = String::from("{");
                loop {
                    match chars.next() {
                        Some('}') => break,
                        Some(x) => s.push(x),
                        None => return Err("unclosed `{`".to_string()),
                    }
                }
                out.push(s);
            }
            _ => cur.extend(c.to_lowercase()),
        }
    }
    flush(&mut cur, &mut out);
    Ok(out)
}

/// Compile one pattern. `classes` maps class names to their phrases (lowercase words).
pub(crate) fn compile(
    src: &str,
    classes: &HashMap<String, Vec<Vec<String>>>,
) -> Result<Pattern, String> {
    let (body, fixed_src) = match src.split_once("=>") {
        Some((b, f)) => (b, Some(f)),
        None => (src, None),
    };
    let toks = pattern_tokens(body)?;
    let mut pos = 0;
    let elems = parse_seq(&toks, &mut pos, classes)?;
    if pos < toks.len() {
        return Err(format!("unexpected `{}`", toks[pos]));
    }
    if elems.is_empty() {
        return Err("empty pattern".to_string());
    }
    let mut fixed = Vec::new();
    if let Some(f) = fixed_src {
        for part in f.split(',') {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| format!("expected `slot=value`, found `{part}`"))?;
            let name = SlotName::from_name(k.trim())
                .ok_or_else(|| format!("unknown slot `{}`", k.trim()))?;
            fixed.push((name, v.trim().to_string()));
        }
    }
    let first_words = first_words(&elems);
    let required = elems
        .iter()
        .filter_map(|e| match e {
            Elem::Words {
                alts,
                optional: false,
            } => Some(alts.iter().filter_map(|a| a.first().cloned()).collect()),
            _ => None,
        })
        .collect();
    Ok(Pattern {
        required,
        elems,
        fixed,
        first_words,
    })
}

impl Pattern {
    /// Every literal word the pattern can match (classes expanded), for the grammar's vocabulary.
    pub(crate) fn literal_words(&self) -> Vec<String> {
        fn walk(elems: &[Elem], out: &mut Vec<String>) {
            for e in elems {
                match e {
                    Elem::Words { alts, .. } => out.extend(alts.iter().flatten().cloned()),
                    Elem::Group { alts, .. } => alts.iter().for_each(|a| walk(a, out)),
                    Elem::Slot { .. } => {}
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.elems, &mut out);
        out
    }
}

fn first_words(elems: &[Elem]) -> Option<Vec<String>> {
    match elems.first()? {
        Elem::Words {
            alts,
            optional: false,
        } => Some(alts.iter().filter_map(|a| a.first().cloned()).collect()),
        _ => None,
    }
}

/// Parse a sequence up to `)` `]` `|` or the end.
fn parse_seq(
    toks: &[String],
    pos: &mut usize,
    classes: &HashMap<String, Vec<Vec<String>>>,
) -> Result<Vec<Elem>, String> {
    let mut out: Vec<Elem> = Vec::new();
    while *pos < toks.len() {
        let t = toks[*pos].as_str();
        match t {
            ")" | "]" | "|" => break,
            "(" | "[" => {
                let close = if t == "(" { ")" } else { "]" };
                *pos += 1;
                let mut alts = Vec::new();
                loop {
                    let seq = parse_seq(toks, pos, classes)?;
                    if seq.is_empty() {
                        return Err("empty alternative in a group".to_string());
                    }
                    alts.push(seq);
                    match toks.get(*pos).map(String::as_str) {
                        Some("|") => *pos += 1,
                        Some(c) if c == close => {
                            *pos += 1;
                            break;
                        }
                        Some(other) => return Err(format!("expected `{close}`, found `{other}`")),
                        None => return Err(format!("missing `{close}`")),
                    }
                }
                out.push(group(alts, t == "["));
            }
            _ if t.starts_with('{') => {
                let inner = &t[1..];
                let (n, ty) = match inner.split_once(':') {
                    Some((n, ty)) => (n.trim(), Some(ty.trim())),
                    None => (inner.trim(), None),
                };
                let name = SlotName::from_name(n).ok_or_else(|| format!("unknown slot `{n}`"))?;
                let ty = match ty {
                    Some(ty) => SlotType::from_name(ty)
                        .ok_or_else(|| format!("unknown slot type `{ty}`"))?,
                    None => name.default_type(),
                };
                out.push(Elem::Slot {
                    name,
                    ty,
                    optional: false,
                });
                *pos += 1;
            }
            _ if t.starts_with('@') => {
                let name = &t[1..];
                let phrases = classes
                    .get(name)
                    .ok_or_else(|| format!("unknown class `@{name}`"))?;
                out.push(Elem::Words {
                    alts: phrases.clone(),
                    optional: false,
                });
                *pos += 1;
            }
            _ => {
                push_literal(&mut out, t);
                *pos += 1;
            }
        }
    }
    Ok(out)
}

/// Consecutive literal words merge into one sequence element.
fn push_literal(out: &mut Vec<Elem>, w: &str) {
    if let Some(Elem::Words {
        alts,
        optional: false,
    }) = out.last_mut()
        && alts.len() == 1
    {
        alts[0].push(w.to_string());
        return;
    }
    out.push(Elem::Words {
        alts: vec![vec![w.to_string()]],
        optional: false,
    });
}

/// A group of alternatives: literal-only alternatives collapse into one `Words` element.
fn group(alts: Vec<Vec<Elem>>, optional: bool) -> Elem {
    let mut words = Vec::new();
    for a in &alts {
        let mut seq: Vec<String> = Vec::new();
        for e in a {
            match e {
                Elem::Words {
                    alts: inner,
                    optional: false,
                } if inner.len() == 1 => seq.extend(inner[0].iter().cloned()),
                Elem::Words {
                    alts: inner,
                    optional: false,
                } if a.len() == 1 => {
                    // a lone class inside a group: its phrases are the alternatives
                    words.extend(inner.iter().cloned());
                    seq.clear();
                    break;
                }
                _ => {
                    return if let [Elem::Slot { name, ty, .. }] = a.as_slice()
                        && alts.len() == 1
                    {
                        Elem::Slot {
                            name: *name,
                            ty: *ty,
                            optional,
                        }
                    } else {
                        Elem::Group { alts, optional }
                    };
                }
            }
        }
        if !seq.is_empty() {
            words.push(seq);
        }
    }
    // longest alternatives first so "stage name" is tried before "stage"
    words.sort_by_key(|w| std::cmp::Reverse(w.len()));
    Elem::Words {
        alts: words,
        optional,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classes() -> HashMap<String, Vec<Vec<String>>> {
        let mut m = HashMap::new();
        m.insert(
            "set".to_string(),
            vec![vec!["set".to_string()], vec!["change".to_string()]],
        );
        m
    }

    #[track_caller]
    fn shape(src: &str) -> String {
        let p = compile(src, &classes()).expect("compiles");
        let mut s: Vec<String> = p.elems.iter().map(describe).collect();
        if !p.fixed.is_empty() {
            s.push(format!("=> {:?}", p.fixed));
        }
        s.join(" ")
    }

    fn describe(e: &Elem) -> String {
        match e {
            Elem::Words { alts, optional } => {
                let a: Vec<String> = alts.iter().map(|x| x.join(" ")).collect();
                if *optional {
                    format!("[{}]", a.join("|"))
                } else {
                    format!("({})", a.join("|"))
                }
            }
            Elem::Slot { name, ty, optional } => {
                format!("{}{{{name:?}:{ty:?}}}", if *optional { "?" } else { "" })
            }
            Elem::Group { alts, optional } => {
                let a: Vec<String> = alts
                    .iter()
                    .map(|x| x.iter().map(describe).collect::<Vec<_>>().join(" "))
                    .collect();
                format!("{}<{}>", if *optional { "?" } else { "" }, a.join("|"))
            }
        }
    }

    #[test]
    fn literals_choices_optionals_classes_slots() {
        assert_eq!(
            shape("@set [the] {field} (on|of) {target} to {value}"),
            "(set|change) [the] {Field:Field} (on|of) {Target:Record} (to) {Value:Text}"
        );
        assert_eq!(shape("log a call"), "(log a call)");
        assert_eq!(
            shape("how many {target} do i have => kind=count, mine=true"),
            "(how many) {Target:Record} (do i have) => [(Kind, \"count\"), (Mine, \"true\")]"
        );
    }

    #[test]
    fn optional_slot_and_nested_group() {
        assert_eq!(shape("undo [{steps}]"), "(undo) ?{Steps:Amount}");
        assert_eq!(
            shape("add {text} to the notes [(on|for) {target}]"),
            "(add) {Text:Text} (to the notes) ?<(on|for) {Target:Record}>"
        );
        assert_eq!(shape("[@set] x"), "[set|change] (x)");
        assert_eq!(shape("{due:date} x"), "{Due:Date} (x)");
    }

    #[test]
    fn errors_say_what_is_wrong() {
        for (pattern, error) in [
            ("@nope x", "unknown class `@nope`"),
            ("{bogus}", "unknown slot `bogus`"),
            ("{value:bogus}", "unknown slot type `bogus`"),
            ("(a|b", "missing `)`"),
            ("a ]", "unexpected `]`"),
            ("x => nope", "expected `slot=value`, found `nope`"),
            ("", "empty pattern"),
        ] {
            let e = compile(pattern, &classes()).expect_err("must fail");
            assert_eq!(e, error, "{pattern}");
        }
    }
}
