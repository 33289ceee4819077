//! Captured slots → typed [`Intent`]s: record references with qualifiers, bulk filters, field
//! changes, values with entity candidates, task subjects, record details.
//!
//! Owns the meaning of each slot name per intent kind. Does not match (`matcher`) and does not link
//! pronouns across clauses (`super::clause` does, after every clause is built). Pure.
//!
//! Split by concern: this file builds each intent kind; `reference` reads record references and
//! bulk filters; `value` reads fields, values and multi-field change lists; `create` reads the
//! details of records to create.

mod create;
mod event;
mod question;
mod reference;
#[cfg(test)]
mod tests;
mod value;

pub(crate) use create::person_name;
pub(crate) use value::split_changes;

use chrono::NaiveDate;

use super::entity;
use super::grammar::{Grammar, IntentKind};
use super::intent::*;
use super::lexer::{TokKind, Token, tokenize};
use super::pattern::SlotName;

/// The slots of one match: each captured or fixed slot as tokens.
pub(crate) struct Slots {
    pub(crate) items: Vec<(SlotName, Vec<Token>)>,
}

impl Slots {
    fn get(&self, name: SlotName) -> Option<&[Token]> {
        self.items
            .iter()
            .find(|(n, t)| *n == name && !t.is_empty())
            .map(|(_, t)| t.as_slice())
    }

    fn fixed_word(&self, name: SlotName) -> Option<String> {
        self.get(name).map(|t| words(t).join(" "))
    }

    pub(crate) fn from_fixed(fixed: &[(SlotName, String)]) -> Vec<(SlotName, Vec<Token>)> {
        fixed.iter().map(|(n, v)| (*n, tokenize(v))).collect()
    }
}

/// The placeholder pronoun for "no record said here; take it from an earlier clause".
pub(crate) const IMPLIED: &str = "";

fn words(toks: &[Token]) -> Vec<&str> {
    toks.iter().map(|t| t.word.as_str()).collect()
}

/// The text of some tokens as said: original casing, no space before punctuation, quotes removed.
pub(crate) fn text_of(toks: &[Token]) -> String {
    let mut s = String::new();
    for t in toks {
        let tight = t.is_punct() && t.word != ".";
        if !s.is_empty() && !tight && t.word != "'s" {
            s.push(' ');
        }
        if t.kind == TokKind::Punct && t.word == "." {
            if !s.is_empty() {
                s.pop();
            }
            s.push('.');
            continue;
        }
        s.push_str(&t.raw);
    }
    s.trim_end_matches(['.', ',', ';', ':', ' '])
        .trim()
        .to_string()
}

fn lower_text(toks: &[Token]) -> String {
    words(toks)
        .into_iter()
        .filter(|w| !matches!(*w, "," | ";" | ":" | "."))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Builds intents for one grammar.
pub(crate) struct Builder<'a> {
    pub(crate) g: &'a Grammar,
    pub(crate) today: NaiveDate,
}

impl<'a> Builder<'a> {
    fn class(&self, class: &str, ws: &[&str]) -> Option<usize> {
        self.g.class_prefix(class, ws)
    }

    /// Build the intent for a match; `None` when the slots do not make a sensible intent.
    pub(crate) fn build(&self, kind: IntentKind, s: &Slots) -> Option<Intent> {
        match kind {
            IntentKind::UpdateFields => self.update(s),
            IntentKind::AddNote => Some(Intent::AddNote(AddNote {
                target: s
                    .get(SlotName::Target)
                    .map(|t| self.target(t))
                    .unwrap_or_else(implied_target),
                text: note_text(s.get(SlotName::Text)?),
            })),
            IntentKind::LogCall => Some(self.log_call(s)),
            IntentKind::CreateTask => self.create_task(s),
            IntentKind::CompleteTask => {
                let t = s.get(SlotName::Target)?;
                let target = match self.target(t) {
                    Target::Filter(mut f) => {
                        f.object.get_or_insert(ObjectKind::Task);
                        Target::Filter(f)
                    }
                    Target::Record(r) if r.antecedent.is_some() => Target::Record(r),
                    Target::Record(_) => Target::Record(self.task_ref(t)),
                };
                Some(Intent::CompleteTask(CompleteTask { target }))
            }
            IntentKind::CreateRecord => self.create_record(s),
            IntentKind::AddContactRole => {
                let mut contact = self.record_ref(s.get(SlotName::Contact)?);
                contact.object.get_or_insert(ObjectKind::Contact);
                // "…, and add charlie bucket as the decision maker": the deal named or created before
                let mut opportunity = match s.get(SlotName::Opportunity) {
                    Some(t) => self.record_ref(t),
                    None => implied_record(),
                };
                opportunity.object.get_or_insert(ObjectKind::Opportunity);
                Some(Intent::AddContactRole(AddContactRole {
                    contact,
                    opportunity,
                    role: s
                        .get(SlotName::Role)
                        .map(|r| self.value(strip_articles(self.g, r))),
                }))
            }
            IntentKind::Reassign => {
                let owner = strip_articles(self.g, s.get(SlotName::Owner)?);
                Some(Intent::Reassign(Reassign {
                    target: self.target(s.get(SlotName::Target)?),
                    owner: text_of(owner),
                }))
            }
            IntentKind::Question => self.question(s),
            IntentKind::Undo => {
                let steps = match s.get(SlotName::Steps) {
                    Some(t) => {
                        let ws = words(t);
                        let a = entity::amount(&ws)?;
                        if a.value < 1.0 || a.value > 1000.0 || a.value.fract() != 0.0 {
                            return None;
                        }
                        a.value as u32
                    }
                    None => 1,
                };
                Some(Intent::Undo(Undo { steps }))
            }
            IntentKind::ScheduleMeeting => self.meeting(s),
            IntentKind::CreateCase => self.case(s),
            IntentKind::Help => Some(Intent::Help(Help {
                topic: s.get(SlotName::Topic).map(lower_text),
            })),
        }
    }

    fn update(&self, s: &Slots) -> Option<Intent> {
        let target = s
            .get(SlotName::Target)
            .map(|t| self.target(t))
            .unwrap_or_else(implied_target);
        let op = match s.fixed_word(SlotName::Op).as_deref() {
            Some("add") => ChangeOp::Add,
            Some("subtract") => ChangeOp::Subtract,
            Some("shift") | Some("pull") => ChangeOp::Shift,
            _ => ChangeOp::Set,
        };
        let negate = s.fixed_word(SlotName::Op).as_deref() == Some("pull");
        let mut changes = Vec::new();
        // "set stage on X to qualification and probability to 25%": the first change, then a list;
        // "set X to value prop and the amount to 110k": a first value with no field (never dropped)
        if let (Some(v), Some(_)) = (s.get(SlotName::Value), s.get(SlotName::Changes)) {
            let field = s.get(SlotName::Field).map(|f| self.field(f));
            let value = self.value(strip_value_lead(v));
            if field.is_none() && self.ends_in_field_for(s.get(SlotName::Target), &value) {
                // "update the X stage to proposal and …": "stage" names the value's field
                return None;
            }
            changes.push(FieldChange {
                field,
                op: ChangeOp::Set,
                value,
            });
        }
        if let Some(t) = s.get(SlotName::Changes) {
            let pairs = split_changes(self.g, t, 0, t.len(), false)?;
            for ((fa, fb), (va, vb)) in pairs {
                changes.push(FieldChange {
                    field: Some(self.field(&t[fa..fb])),
                    op: ChangeOp::Set,
                    value: self.value(&t[va..vb]),
                });
            }
        } else {
            let vt = s.get(SlotName::Value)?;
            let mut field = s.get(SlotName::Field).map(|f| self.field(f));
            let mut vt = vt;
            // "to stage 'Negotiation'" / "to negotiation stage" — but a known value said whole
            // keeps a first word that would leave no known value ("to value proposition" is a
            // stage; "to high priority" is still Priority = high)
            if field.is_none() && vt.len() >= 2 {
                let ws = words(vt);
                for n in (1..=self.g.max_field_words.min(vt.len() - 1)).rev() {
                    let head = ws[..n].join(" ");
                    let keeps_value =
                        !value::is_whole_value(self.g, &ws.join(" "), &ws[n..].join(" "));
                    if !self.g.field_aliases(&head).is_empty()
                        && vt[0].kind == TokKind::Word
                        && keeps_value
                    {
                        field = Some(self.field(&vt[..n]));
                        vt = &vt[n..];
                        if vt
                            .first()
                            .is_some_and(|t| matches!(t.word.as_str(), "to" | "of" | "=" | "as"))
                            && vt.len() > 1
                        {
                            vt = &vt[1..];
                        }
                        break;
                    }
                    let tail = ws[ws.len() - n..].join(" ");
                    let rest = ws[..ws.len() - n].join(" ");
                    if !self.g.field_aliases(&tail).is_empty()
                        && !self.g.value_hints(&rest).is_empty()
                    {
                        field = Some(self.field(&vt[vt.len() - n..]));
                        vt = &vt[..vt.len() - n];
                        break;
                    }
                }
            }
            let mut value = self.value(strip_value_lead(vt));
            if op == ChangeOp::Shift {
                let ws: Vec<&str> = words(vt).into_iter().filter(|w| *w != "by").collect();
                let mut sp = entity::span(&ws)?;
                if negate {
                    sp.months = -sp.months;
                    sp.days = -sp.days;
                }
                value.entities = vec![Entity::Span(sp)];
                field.get_or_insert_with(|| self.field(&tokenize("close date")));
            }
            changes.push(FieldChange { field, op, value });
        }
        Some(Intent::UpdateFields(UpdateFields { target, changes }))
    }

    /// True when the last words of a record slot name the field of the value's picklist hint
    /// ("the hooli deal stage" … "proposal").
    fn ends_in_field_for(&self, target: Option<&[Token]>, value: &Value) -> bool {
        let Some(t) = target else {
            return false;
        };
        let ws = words(t);
        (1..=self.g.max_field_words.min(ws.len().saturating_sub(1))).any(|n| {
            self.g
                .field_aliases(&ws[ws.len() - n..].join(" "))
                .iter()
                .any(|a| value.hints.iter().any(|h| h.field == a.api_name))
        })
    }

    fn log_call(&self, s: &Slots) -> Intent {
        let mut who = s.get(SlotName::Who).map(|t| self.record_ref(t));
        let mut what = s.get(SlotName::What).map(|t| self.record_ref(t));
        let mut topic = None;
        // "with Richard about the pilot scope": a topic, unless it names a record (an object word
        // or a capitalised name as typed: "about the Globex deal", "about the Globex License")
        if let Some(a) = s.get(SlotName::About) {
            let r = self.record_ref(a);
            let named = r.object.is_some()
                || r.antecedent.is_some()
                || a.iter()
                    .any(|t| t.raw.chars().next().is_some_and(char::is_uppercase));
            if named {
                what = Some(r);
            } else {
                topic = Some(note_text(a));
            }
        }
        let date = s
            .get(SlotName::Date)
            .and_then(|t| entity::date(&words(t), self.today));
        // "log a call with Globex": a company is a `what`, not a `who`
        if let Some(w) = &who
            && matches!(
                w.object,
                Some(ObjectKind::Account | ObjectKind::Opportunity | ObjectKind::Case)
            )
            && what.is_none()
        {
            return Intent::LogCall(LogCall {
                about: Regarding {
                    who: None,
                    what: who.take(),
                },
                description: s.get(SlotName::Text).map(note_text),
                date,
                ..LogCall::default()
            });
        }
        let mut duration_seconds = s
            .get(SlotName::Duration)
            .and_then(|t| entity::duration(&words(t)));
        let mut subject = None;
        if let Some(c) = s.get(SlotName::Call) {
            let ws = words(c);
            let mut rest_from = 0;
            for n in (1..=ws.len().min(4)).rev() {
                if let Some(d) = entity::duration(&ws[..n]) {
                    duration_seconds = Some(d);
                    rest_from = n;
                    break;
                }
            }
            let rest = &c[rest_from..];
            let rest = strip_articles(self.g, rest);
            if !rest.is_empty() {
                subject = Some(format!("{} call", text_of(rest)));
            }
        }
        // "…, it was like a twenty minute call": the call's length said at the end of its notes
        let (description, duration_seconds) = match s.get(SlotName::Text) {
            Some(t) if duration_seconds.is_none() => match trailing_call_length(t) {
                Some((secs, cut)) => (Some(note_text(&t[..cut])), Some(secs)),
                None => (Some(note_text(t)), None),
            },
            Some(t) => (Some(note_text(t)), duration_seconds),
            None => (topic, duration_seconds),
        };
        Intent::LogCall(LogCall {
            about: Regarding { who, what },
            subject,
            description,
            duration_seconds,
            date,
        })
    }

    fn create_task(&self, s: &Slots) -> Option<Intent> {
        let mut due = s
            .get(SlotName::Due)
            .and_then(|t| entity::date(&words(t), self.today));
        let mut who = s.get(SlotName::Who).map(|t| self.record_ref(t));
        let mut what = s.get(SlotName::What).map(|t| self.record_ref(t));
        let mut priority = s
            .get(SlotName::Priority)
            .and_then(|t| self.priority(&words(t)));
        let about = s.get(SlotName::About);
        let mut subject_toks: Vec<Token> = s
            .get(SlotName::Subject)
            .map(<[Token]>::to_vec)
            .unwrap_or_default();
        self.peel_lead(&mut subject_toks, &mut due, &mut priority);
        self.peel_trailing(&mut subject_toks, &mut due, &mut priority);
        self.split_subject_ref(&mut subject_toks, &mut who, &mut what);
        // "tell Richard Hendricks we won't …": a two-word name after a verb of speaking is who
        if who.is_none()
            && subject_toks.len() > 4
            && matches!(
                subject_toks[0].word.as_str(),
                "call" | "email" | "ping" | "text" | "phone" | "tell" | "ask" | "remind"
            )
            && looks_like_person(&subject_toks[1..3])
            && subject_toks[1..3].iter().all(|t| {
                !self.g.in_class("article", &[t.word.as_str()])
                    && self.g.object_word(&t.word).is_none()
                    && self.g.field_aliases(&t.word).is_empty()
            })
        {
            let r = self.record_ref(&subject_toks[1..3]);
            if r.antecedent.is_none() && !r.text.is_empty() {
                who = Some(r);
            }
        }
        // "call Jane Smith", "email Richard" (also "… re titan"): the person is the task's who; the
        // subject stays whole
        if who.is_none()
            && subject_toks.len() >= 2
            && subject_toks.len() <= 4
            && matches!(
                subject_toks[0].word.as_str(),
                "call" | "email" | "ping" | "text" | "phone" | "meet"
            )
            && subject_toks[1..].iter().all(|t| t.kind == TokKind::Word)
        {
            let r = self.record_ref(&subject_toks[1..]);
            if r.antecedent.is_none() && !r.text.is_empty() {
                who = Some(r);
            }
        }
        if let Some(a) = about {
            let r = self.record_ref(a);
            let person = matches!(r.object, Some(ObjectKind::Contact | ObjectKind::Lead));
            if person
                || (who.is_none()
                    && s.get(SlotName::Who).is_none()
                    && r.object.is_none()
                    && looks_like_person(a)
                    && what.is_some())
            {
                who.get_or_insert(r);
            } else if what.is_none() {
                what = Some(r);
            } else {
                who.get_or_insert(r);
            }
        }
        let mut subject = text_of(strip_articles(self.g, &subject_toks));
        if subject.is_empty() {
            subject = s
                .get(SlotName::Kind)
                .map(text_of)
                .unwrap_or_else(|| "Follow up".to_string());
        }
        Some(Intent::CreateTask(CreateTask {
            subject: capitalise(&subject),
            due,
            about: Regarding { who, what },
            priority,
        }))
    }

    /// A priority and a due date said at the end of a subject ("schedule demo, high priority",
    /// "send the deck friday"): taken out of the subject.
    fn peel_trailing(
        &self,
        subject_toks: &mut Vec<Token>,
        due: &mut Option<NaiveDate>,
        priority: &mut Option<Priority>,
    ) {
        loop {
            while subject_toks.last().is_some_and(Token::is_punct) {
                subject_toks.pop();
            }
            let owned: Vec<String> = subject_toks.iter().map(|t| t.word.clone()).collect();
            let ws: Vec<&str> = owned.iter().map(String::as_str).collect();
            let mut found = false;
            for n in (1..=ws.len().min(3)).rev() {
                if let Some(p) = self.priority(&ws[ws.len() - n..])
                    && ws.len() > n
                {
                    *priority = Some(p);
                    subject_toks.truncate(ws.len() - n);
                    found = true;
                    break;
                }
            }
            if !found && due.is_none() {
                for n in (1..=ws.len().saturating_sub(1).min(5)).rev() {
                    if let Some(d) = entity::date(&ws[ws.len() - n..], self.today) {
                        *due = Some(d);
                        subject_toks.truncate(ws.len() - n);
                        found = true;
                        break;
                    }
                }
            }
            if !found {
                break;
            }
        }
    }

    /// "follow up with Richard Hendricks" / "send the proposal to Monsters Inc": the record after
    /// the first linking word becomes the task's who (a person) or what, and leaves the subject.
    fn split_subject_ref(
        &self,
        subject_toks: &mut Vec<Token>,
        who: &mut Option<RecordRef>,
        what: &mut Option<RecordRef>,
    ) {
        let ws: Vec<String> = subject_toks.iter().map(|t| t.word.clone()).collect();
        let mut cut = None;
        for (i, w) in ws.iter().enumerate() {
            let min = if w == "to" { 2 } else { 1 };
            // "… set the amount to 0": a number is no record
            let names_record = ws
                .get(i + 1)
                .is_some_and(|n| !n.starts_with(|c: char| c.is_ascii_digit()));
            if i >= min
                && names_record
                && i + 1 < ws.len()
                && matches!(
                    w.as_str(),
                    "with" | "for" | "on" | "about" | "regarding" | "re" | "to"
                )
                && subject_toks[i].kind == TokKind::Word
            {
                cut = Some(i);
                break;
            }
        }
        if let Some(i) = cut {
            let rest = &subject_toks[i + 1..];
            let r = self.record_ref(rest);
            // "send the contract to Pepper Potts": a two-word name after "to" is a person
            let person_to = ws[i] == "to"
                && r.object.is_none()
                && r.antecedent.is_none()
                && looks_like_person(rest)
                && !rest
                    .iter()
                    .any(|t| self.g.in_class("company_word", &[t.word.as_str()]));
            if ws[i] == "with" || person_to {
                if who.is_none() {
                    *who = Some(r);
                }
            } else if what.is_none() {
                *what = Some(r);
            }
            subject_toks.truncate(i);
        }
    }

    /// A due date and a priority said before a subject, each set off by punctuation ("for tmrw, hi
    /// pri: ask jane …", "hi pri - gauge stuck"): taken out of the subject.
    fn peel_lead(
        &self,
        subject: &mut Vec<Token>,
        due: &mut Option<NaiveDate>,
        priority: &mut Option<Priority>,
    ) {
        loop {
            while subject.first().is_some_and(Token::is_punct) {
                subject.remove(0);
            }
            let ws = words(subject);
            let set_off = |n: usize| subject.get(n).is_some_and(Token::is_punct);
            let p = (1..=3.min(ws.len())).rev().find_map(|n| {
                self.priority(&ws[..n])
                    .filter(|_| set_off(n))
                    .map(|p| (p, n))
            });
            if let Some((p, n)) = p {
                priority.get_or_insert(p);
                subject.drain(..n);
                continue;
            }
            let d = (1..=4.min(ws.len())).rev().find_map(|n| {
                entity::date(&ws[..n], self.today)
                    .filter(|_| set_off(n))
                    .map(|d| (d, n))
            });
            if let Some((d, n)) = d {
                due.get_or_insert(d);
                subject.drain(..n);
                continue;
            }
            return;
        }
    }

    fn priority(&self, ws: &[&str]) -> Option<Priority> {
        if self.g.in_class("high_priority", ws) {
            Some(Priority::High)
        } else if self.g.in_class("low_priority", ws) {
            Some(Priority::Low)
        } else if self.g.in_class("normal_priority", ws) {
            Some(Priority::Normal)
        } else {
            None
        }
    }
}

fn implied_target() -> Target {
    Target::Record(implied_record())
}

/// A record not said here: the one named or created before (linked by `clause`).
fn implied_record() -> RecordRef {
    RecordRef {
        antecedent: Some(Antecedent {
            pronoun: IMPLIED.to_string(),
            clause: usize::MAX,
            created: false,
        }),
        ..Default::default()
    }
}

fn strip_articles<'t>(g: &Grammar, toks: &'t [Token]) -> &'t [Token] {
    let mut t = toks;
    while t.len() > 1 && g.in_class("article", &[t[0].word.as_str()]) && t[0].kind == TokKind::Word
    {
        t = &t[1..];
    }
    t
}

/// Leading "to"/"as" left in a value by loose patterns.
fn strip_value_lead(toks: &[Token]) -> &[Token] {
    toks
}

fn note_text(toks: &[Token]) -> String {
    let mut t = toks;
    while t.first().is_some_and(|x| x.is_punct()) {
        t = &t[1..];
    }
    if t.len() == 1 && t[0].kind == TokKind::Quoted {
        return t[0].raw.clone();
    }
    text_of(t)
}

/// A call's length said as the last part of its notes ("…, it was like a twenty minute call",
/// "…, 15 minute call"): the seconds and where that part starts (its comma).
fn trailing_call_length(toks: &[Token]) -> Option<(u32, usize)> {
    let ws = words(toks);
    let cut = ws.iter().rposition(|w| *w == ",")?;
    let mut tail: &[&str] = ws[cut + 1..].strip_suffix(&["call"])?;
    while let Some((first, rest)) = tail.split_first() {
        let article_before_number = matches!(*first, "a" | "an")
            && rest
                .first()
                .is_some_and(|w| w.starts_with(|c: char| c.is_ascii_digit()));
        if !matches!(
            *first,
            "it" | "was" | "that" | "about" | "around" | "roughly" | "maybe" | "just" | "so"
        ) && !article_before_number
        {
            break;
        }
        tail = rest;
    }
    let secs = entity::duration(tail)?;
    (cut > 0).then_some((secs, cut))
}

fn looks_like_person(toks: &[Token]) -> bool {
    toks.len() == 2
        && toks
            .iter()
            .all(|t| t.kind == TokKind::Word && t.word.chars().all(char::is_alphabetic))
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}
