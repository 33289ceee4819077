//! Captured slots → typed [`Intent`]s: record references with qualifiers, bulk filters, field
//! changes, values with entity candidates, task subjects, record details.
//!
//! Owns the meaning of each slot name per intent kind. Does not match (`matcher`) and does not link
//! pronouns across clauses (`super::parse` does, after every clause is built). Pure.

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
        if !s.is_empty() && !(t.is_punct() && t.word != ".") && t.word != "'s" {
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

/// Split "stage to negotiation, close date to December 15 and amount to 90,000" into
/// `(field range, value range)` pairs (absolute token indices). With `strict`, every field must be a
/// known alias; otherwise unknown names of up to 3 words are allowed.
pub(crate) fn split_changes(
    g: &Grammar,
    toks: &[Token],
    start: usize,
    end: usize,
    strict: bool,
) -> Option<Vec<((usize, usize), (usize, usize))>> {
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
            // only a boundary if what follows looks like "field to"
            let next = i + sep_len;
            if let Some(to) = (next..end.min(next + 5)).find(|&k| is_to(&toks[k]))
                && to > next
            {
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
        let to = (a..b).find(|&k| is_to(&toks[k]))?;
        let mut fa = a;
        while fa < to && g.in_class("article", &[toks[fa].word.as_str()]) {
            fa += 1;
        }
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

fn is_to(t: &Token) -> bool {
    t.kind == TokKind::Word && matches!(t.word.as_str(), "to" | "=" | "as")
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
            IntentKind::AddNote => Some(Intent::AddNote {
                target: s
                    .get(SlotName::Target)
                    .map(|t| self.target(t))
                    .unwrap_or_else(implied_target),
                text: note_text(s.get(SlotName::Text)?),
            }),
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
                Some(Intent::CompleteTask { target })
            }
            IntentKind::CreateRecord => self.create_record(s),
            IntentKind::AddContactRole => {
                let mut contact = self.record_ref(s.get(SlotName::Contact)?);
                contact.object.get_or_insert(ObjectKind::Contact);
                let mut opportunity = self.record_ref(s.get(SlotName::Opportunity)?);
                opportunity.object.get_or_insert(ObjectKind::Opportunity);
                Some(Intent::AddContactRole {
                    contact,
                    opportunity,
                    role: s
                        .get(SlotName::Role)
                        .map(|r| self.value(strip_articles(self.g, r))),
                })
            }
            IntentKind::Reassign => {
                let owner = strip_articles(self.g, s.get(SlotName::Owner)?);
                Some(Intent::Reassign {
                    target: self.target(s.get(SlotName::Target)?),
                    owner: text_of(owner),
                })
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
                Some(Intent::Undo { steps })
            }
            IntentKind::Help => Some(Intent::Help {
                topic: s.get(SlotName::Topic).map(lower_text),
            }),
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
            if field.is_none() && vt.len() >= 2 {
                // "to stage 'Negotiation'" / "to negotiation stage"
                let ws = words(vt);
                for n in (1..=self.g.max_field_words.min(vt.len() - 1)).rev() {
                    let head = ws[..n].join(" ");
                    if !self.g.field_aliases(&head).is_empty() && vt[0].kind == TokKind::Word {
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
        Some(Intent::UpdateFields { target, changes })
    }

    fn question(&self, s: &Slots) -> Option<Intent> {
        let mut kind = match s.fixed_word(SlotName::Kind).as_deref() {
            Some("count") => QuestionKind::Count,
            Some("status") => QuestionKind::Status,
            Some("lookup") => QuestionKind::LookUp,
            _ => QuestionKind::List,
        };
        let mut target = self.target(s.get(SlotName::Target)?);
        if s.fixed_word(SlotName::Mine).as_deref() == Some("true") {
            match &mut target {
                Target::Filter(f) => f.mine = true,
                Target::Record(r) => r.mine = true,
            }
        }
        if kind == QuestionKind::Count
            && let Target::Record(r) = &target
        {
            // "how many deals do I have": a count is always over a set
            target = Target::Filter(RecordFilter {
                object: r.object,
                mine: r.mine,
                open: r.open,
                account: r.account.clone(),
                text: r.text.clone(),
                ..Default::default()
            });
        }
        if kind == QuestionKind::List && matches!(target, Target::Record(_)) {
            kind = QuestionKind::LookUp;
        }
        Some(Intent::Question { kind, target })
    }

    fn log_call(&self, s: &Slots) -> Intent {
        let mut who = s.get(SlotName::Who).map(|t| self.record_ref(t));
        let what = s.get(SlotName::What).map(|t| self.record_ref(t));
        // "log a call with Globex": a company is a `what`, not a `who`
        if let Some(w) = &who
            && matches!(
                w.object,
                Some(ObjectKind::Account | ObjectKind::Opportunity | ObjectKind::Case)
            )
            && what.is_none()
        {
            return Intent::LogCall {
                who: None,
                what: who.take(),
                subject: None,
                description: s.get(SlotName::Text).map(note_text),
                duration_seconds: None,
                date: s
                    .get(SlotName::Date)
                    .and_then(|t| entity::date(&words(t), self.today)),
            };
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
        Intent::LogCall {
            who,
            what,
            subject,
            description: s.get(SlotName::Text).map(note_text),
            duration_seconds,
            date: s
                .get(SlotName::Date)
                .and_then(|t| entity::date(&words(t), self.today)),
        }
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
        // priority and due date said inside the subject ("schedule demo, high priority")
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
                    priority = Some(p);
                    subject_toks.truncate(ws.len() - n);
                    found = true;
                    break;
                }
            }
            if !found && due.is_none() {
                for n in (1..=ws.len().saturating_sub(1).min(5)).rev() {
                    if let Some(d) = entity::date(&ws[ws.len() - n..], self.today) {
                        due = Some(d);
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
        // "follow up with Richard Hendricks" / "send the proposal to Monsters Inc"
        let ws: Vec<String> = subject_toks.iter().map(|t| t.word.clone()).collect();
        let mut cut = None;
        for (i, w) in ws.iter().enumerate() {
            let min = if w == "to" { 2 } else { 1 };
            if i >= min
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
            if ws[i] == "with" {
                if who.is_none() {
                    who = Some(r);
                }
            } else if what.is_none() {
                what = Some(r);
            }
            subject_toks.truncate(i);
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
        Some(Intent::CreateTask {
            subject: capitalise(&subject),
            due,
            who,
            what,
            priority,
        })
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

    fn create_record(&self, s: &Slots) -> Option<Intent> {
        let object = match s.fixed_word(SlotName::Object).as_deref() {
            Some(o) => self.g.object_word(o).map(|(k, _)| k)?,
            None => ObjectKind::Contact,
        };
        let mut person = s.get(SlotName::Person).and_then(|t| person_name(t));
        let mut name = s.get(SlotName::Name).map(text_of);
        let mut account = s.get(SlotName::Account).map(|t| {
            let mut r = self.record_ref(t);
            r.object = Some(ObjectKind::Account);
            r
        });
        let mut company = s.get(SlotName::Company).map(text_of);
        let mut fields = Vec::new();
        if let Some(d) = s.get(SlotName::Details) {
            let parts = self.detail_parts(d);
            let mut first_text = true;
            for part in parts {
                match part {
                    Detail::Field(said, value) => fields.push(FieldChange {
                        field: Some(self.field(&tokenize(said))),
                        op: ChangeOp::Set,
                        value,
                    }),
                    Detail::Named(t) => name = Some(text_of(&t)),
                    Detail::Text(t) => {
                        let ws = words(&t);
                        let at = ws
                            .iter()
                            .rposition(|w| matches!(*w, "at" | "from" | "with" | "of"));
                        let (head, tail) = match at {
                            Some(i) if i > 0 && i + 1 < t.len() => (&t[..i], Some(&t[i + 1..])),
                            _ => (&t[..], None),
                        };
                        match object {
                            ObjectKind::Contact | ObjectKind::Lead
                                if first_text && person.is_none() =>
                            {
                                let head = strip_articles(self.g, head);
                                let (p, title) = if head.len() > 2 && tail.is_some() {
                                    (&head[..2], Some(&head[2..]))
                                } else {
                                    (head, None)
                                };
                                person = person_name(p);
                                if let Some(title) = title {
                                    fields.push(self.text_field("title", title));
                                }
                                if let Some(tail) = tail {
                                    set_org(self, object, tail, &mut account, &mut company);
                                }
                            }
                            ObjectKind::Contact | ObjectKind::Lead => {
                                if tail.is_some() || object == ObjectKind::Contact {
                                    fields.push(self.text_field("title", head));
                                } else if company.is_none() {
                                    company = Some(text_of(head));
                                }
                                if let Some(tail) = tail {
                                    set_org(self, object, tail, &mut account, &mut company);
                                }
                            }
                            ObjectKind::Opportunity if first_text && account.is_none() => {
                                let mut r = self.record_ref(head);
                                r.object = Some(ObjectKind::Account);
                                account = Some(r);
                            }
                            ObjectKind::Opportunity | ObjectKind::Account if name.is_none() => {
                                name = Some(text_of(t.as_slice()));
                            }
                            _ => {}
                        }
                        first_text = false;
                    }
                }
            }
        }
        if object == ObjectKind::Lead
            && company.is_none()
            && let Some(a) = account.take()
        {
            company = Some(a.text);
        }
        if matches!(object, ObjectKind::Contact | ObjectKind::Lead) && person.is_none() {
            return None;
        }
        if object == ObjectKind::Opportunity && account.is_none() && name.is_none() {
            return None;
        }
        if object == ObjectKind::Account && name.is_none() {
            name = person.take().map(|p| match p.first {
                Some(f) => format!("{f} {}", p.last),
                None => p.last,
            });
            name.as_ref()?;
        }
        Some(Intent::CreateRecord {
            object,
            person,
            name,
            account,
            company,
            fields,
        })
    }

    fn text_field(&self, said: &str, toks: &[Token]) -> FieldChange {
        FieldChange {
            field: Some(self.field(&tokenize(said))),
            op: ChangeOp::Set,
            value: Value {
                said: text_of(toks),
                entities: Vec::new(),
                hints: Vec::new(),
            },
        }
    }

    /// Split record details into typed fields and text chunks ("Initech, $200K, closing in June").
    fn detail_parts(&self, toks: &[Token]) -> Vec<Detail> {
        let mut out = Vec::new();
        let mut chunk: Vec<Token> = Vec::new();
        let flush = |chunk: &mut Vec<Token>, out: &mut Vec<Detail>| {
            if !chunk.is_empty() {
                out.push(Detail::Text(std::mem::take(chunk)));
            }
        };
        let ws = words(toks);
        let mut i = 0;
        while i < toks.len() {
            let t = &toks[i];
            if t.is_punct() {
                flush(&mut chunk, &mut out);
                i += 1;
                continue;
            }
            let w = ws[i];
            if t.kind == TokKind::Word && entity::is_email(w) {
                flush(&mut chunk, &mut out);
                out.push(Detail::Field("email", self.value(&toks[i..=i])));
                i += 1;
                continue;
            }
            if t.kind == TokKind::Word
                && entity::is_phone(w)
                && entity::date(&[w], self.today).is_none()
            {
                flush(&mut chunk, &mut out);
                out.push(Detail::Field("phone", self.value(&toks[i..=i])));
                i += 1;
                continue;
            }
            if matches!(w, "named" | "called") && i + 1 < toks.len() {
                flush(&mut chunk, &mut out);
                let end = (i + 1..toks.len())
                    .find(|&k| toks[k].is_punct())
                    .unwrap_or(toks.len());
                out.push(Detail::Named(toks[i + 1..end].to_vec()));
                i = end;
                continue;
            }
            // "closing in June", "close date December 15", "due Friday"
            if let Some(n) = self.class("closing", &ws[i..]) {
                let mut k = i + n;
                if ws.get(k) == Some(&"date") {
                    k += 1;
                }
                if let Some(end) =
                    self.longest(&ws, k, 6, |x| entity::date(x, self.today).is_some())
                {
                    flush(&mut chunk, &mut out);
                    out.push(Detail::Field("close date", self.value(&toks[k..end])));
                    i = end;
                    continue;
                }
            }
            if let Some(end) = self.longest(&ws, i, 4, |x| {
                entity::amount(x).is_some_and(|a| a.money || a.value >= 1000.0)
            }) {
                flush(&mut chunk, &mut out);
                let said = if entity::amount(&ws[i..end]).is_some_and(|a| a.percent) {
                    "probability"
                } else {
                    "amount"
                };
                out.push(Detail::Field(said, self.value(&toks[i..end])));
                i = end;
                continue;
            }
            if ws.get(i) == Some(&"stage") || ws.get(i) == Some(&"in") {
                let k = i + 1;
                if let Some(end) = self.longest(&ws, k, 4, |x| {
                    self.g
                        .value_hints(&x.join(" "))
                        .iter()
                        .any(|h| h.field == "StageName")
                }) {
                    flush(&mut chunk, &mut out);
                    out.push(Detail::Field("stage", self.value(&toks[k..end])));
                    i = end;
                    continue;
                }
            }
            chunk.push(t.clone());
            i += 1;
        }
        flush(&mut chunk, &mut out);
        out
    }

    /// The longest `end` in `start+1..=start+max` such that `ok(ws[start..end])`.
    fn longest(
        &self,
        ws: &[&str],
        start: usize,
        max: usize,
        ok: impl Fn(&[&str]) -> bool,
    ) -> Option<usize> {
        (start + 1..=(start + max).min(ws.len()))
            .rev()
            .find(|&end| ok(&ws[start..end]))
    }

    /// A field as said, with alias candidates.
    pub(crate) fn field(&self, toks: &[Token]) -> FieldRef {
        let toks = strip_articles(self.g, toks);
        let mut said = lower_text(toks);
        if self.g.field_aliases(&said).is_empty()
            && let Some(stripped) = said.strip_suffix(" field")
        {
            said = stripped.to_string();
        }
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
        let mut key = inner.join(" ");
        if self.g.value_hints(&key).is_empty()
            && let Some(rest) = key.strip_prefix("the ")
        {
            key = rest.to_string();
        }
        Value {
            hints: self.g.value_hints(&key).to_vec(),
            said,
            entities,
        }
    }

    /// Record(s) a slot names: a filter when it says "all", a plural object, "overdue", …
    pub(crate) fn target(&self, toks: &[Token]) -> Target {
        if self.is_filter(toks) {
            Target::Filter(self.filter(toks))
        } else {
            Target::Record(self.record_ref(toks))
        }
    }

    fn is_filter(&self, toks: &[Token]) -> bool {
        let ws = words(toks);
        if self.class("all", &ws).is_some() && ws.len() > 1 {
            return true;
        }
        for i in 0..ws.len() {
            if toks[i].kind != TokKind::Word {
                continue;
            }
            for n in (1..=self.g.max_object_words.min(ws.len() - i)).rev() {
                if let Some((_, true)) = self.g.object_word(&ws[i..i + n].join(" ")) {
                    return true;
                }
            }
            if self.class("overdue", &ws[i..]).is_some() && i > 0 {
                return true;
            }
        }
        false
    }

    /// Parse bulk qualifiers: my, open/closed, object, industry, stage, closing, amount, overdue.
    pub(crate) fn filter(&self, toks: &[Token]) -> RecordFilter {
        let ws = words(toks);
        let mut f = RecordFilter::default();
        let mut rest: Vec<&str> = Vec::new();
        let mut i = 0;
        while i < ws.len() {
            let w = ws[i];
            if toks[i].is_punct() {
                i += 1;
                continue;
            }
            if let Some(n) = self.class("all", &ws[i..]) {
                i += n;
                continue;
            }
            if let Some(n) = self.class("article", &ws[i..i + 1]) {
                i += n;
                continue;
            }
            if let Some(n) = self.class("mine", &ws[i..]) {
                f.mine = true;
                i += n;
                continue;
            }
            if let Some(n) = self.mine_phrase(&ws[i..]) {
                f.mine = true;
                i += n;
                continue;
            }
            if let Some(n) = self.class("open", &ws[i..]) {
                f.open = Some(true);
                i += n;
                continue;
            }
            if let Some(n) = self.class("closed", &ws[i..]) {
                f.open = Some(false);
                i += n;
                continue;
            }
            if let Some(n) = self.class("overdue", &ws[i..]) {
                f.overdue = true;
                i += n;
                continue;
            }
            if let Some((k, n)) = self.object_at(&ws, i) {
                f.object = Some(k);
                i += n;
                continue;
            }
            if matches!(w, "that" | "which" | "are" | "is" | "with" | "where") && i + 1 < ws.len() {
                if w == "with"
                    && self.class("over", &ws[i + 1..]).is_none()
                    && self.class("under", &ws[i + 1..]).is_none()
                    && !matches!(ws[i + 1], "amount" | "an" | "a")
                {
                    // "with Acme": account
                    let end = self.qualifier_end(&ws, i + 1);
                    f.account = Some(ws[i + 1..end].join(" "));
                    i = end;
                    continue;
                }
                i += 1;
                continue;
            }
            if let Some(n) = self.class("closing", &ws[i..]) {
                let k = i + n;
                if let Some(end) =
                    self.longest(&ws, k, 5, |x| entity::period(x, self.today).is_some())
                {
                    f.closing = entity::period(&ws[k..end], self.today);
                    i = end;
                    continue;
                }
                if let Some(end) =
                    self.longest(&ws, k, 6, |x| entity::date(x, self.today).is_some())
                {
                    // "closing by December 15": up to that day
                    if let Some(d) = entity::date(&ws[k..end], self.today) {
                        f.closing = Some(DateRange {
                            start: self.today.min(d),
                            end: d,
                        });
                    }
                    i = end;
                    continue;
                }
            }
            let over = self.class("over", &ws[i..]);
            let under = self.class("under", &ws[i..]);
            if let Some(n) = over.or(under) {
                let k = i + n;
                if let Some(end) = self.longest(&ws, k, 4, |x| entity::amount(x).is_some()) {
                    let v = entity::amount(&ws[k..end]).map(|a| a.value);
                    if over.is_some() {
                        f.amount_over = v;
                    } else {
                        f.amount_under = v;
                    }
                    i = end;
                    continue;
                }
            }
            if matches!(w, "worth" | "amount") {
                i += 1;
                continue;
            }
            if matches!(w, "in" | "at" | "from" | "for" | "on") && i + 1 < ws.len() {
                let mut k = i + 1;
                while k < ws.len() && self.class("article", &ws[k..k + 1]).is_some() {
                    k += 1;
                }
                let end = self.qualifier_end(&ws, k);
                if end > k {
                    let mut phrase: Vec<&str> = ws[k..end].to_vec();
                    let sector = phrase
                        .last()
                        .is_some_and(|l| self.g.in_class("sector", &[l]));
                    let stage_word = phrase.last().is_some_and(|l| *l == "stage");
                    if (sector || stage_word) && phrase.len() > 1 {
                        phrase.pop();
                    }
                    let key = phrase.join(" ");
                    let hints = self.g.value_hints(&key);
                    let value = |t: &[Token]| self.value(t);
                    let vt = &toks[k..k + phrase.len()];
                    if sector || hints.iter().any(|h| h.field == "Industry") && !stage_word {
                        f.industry = Some(value(vt));
                    } else if stage_word || hints.iter().any(|h| h.field == "StageName") {
                        f.stage = Some(value(vt));
                    } else if w != "in" || f.account.is_none() {
                        f.account = Some(text_of(vt).to_lowercase());
                    }
                    i = end;
                    continue;
                }
            }
            rest.push(w);
            i += 1;
        }
        f.text = rest.join(" ");
        f
    }

    /// "I own", "owned by me", "assigned to me", "I have", "do I have".
    fn mine_phrase(&self, ws: &[&str]) -> Option<usize> {
        const PHRASES: &[&[&str]] = &[
            &["that", "i", "own"],
            &["i", "own"],
            &["owned", "by", "me"],
            &["assigned", "to", "me"],
            &["do", "i", "have"],
            &["i", "have"],
            &["of", "mine"],
        ];
        PHRASES.iter().find(|p| ws.starts_with(p)).map(|p| p.len())
    }

    /// Where a qualifier's words end: at the next qualifier keyword.
    fn qualifier_end(&self, ws: &[&str], start: usize) -> usize {
        let mut k = start;
        while k < ws.len() {
            let w = ws[k];
            if k > start
                && (self.class("closing", &ws[k..]).is_some()
                    || self.class("over", &ws[k..]).is_some()
                    || self.class("under", &ws[k..]).is_some()
                    || self.class("overdue", &ws[k..]).is_some()
                    || matches!(
                        w,
                        "in" | "that"
                            | "which"
                            | "with"
                            | "at"
                            | "for"
                            | "from"
                            | ","
                            | "owned"
                            | "assigned"
                            | "i"
                    ))
            {
                break;
            }
            k += 1;
        }
        k
    }

    fn object_at(&self, ws: &[&str], i: usize) -> Option<(ObjectKind, usize)> {
        for n in (1..=self.g.max_object_words.min(ws.len() - i)).rev() {
            if let Some((k, _)) = self.g.object_word(&ws[i..i + n].join(" ")) {
                return Some((k, n));
            }
        }
        None
    }

    /// One record as said: qualifiers, object word, number, "at <account>", pronouns.
    pub(crate) fn record_ref(&self, toks: &[Token]) -> RecordRef {
        let ws = words(toks);
        let mut r = RecordRef::default();
        let mut i = 0;
        let mut end = ws.len();
        let mut demonstrative = None;
        // trailing possessive
        if end > 1 && ws[end - 1] == "'s" {
            end -= 1;
        }
        loop {
            if i >= end {
                break;
            }
            if let Some(n) = self
                .class("demonstrative", &ws[i..end])
                .filter(|_| i + 1 < end || demonstrative.is_none())
            {
                if i + n < end {
                    demonstrative = Some(ws[i..i + n].join(" "));
                    i += n;
                    continue;
                }
            }
            if let Some(n) = self.class("article", &ws[i..(i + 1).min(end)]) {
                if i + n < end {
                    i += n;
                    continue;
                }
            }
            if let Some(n) = self.class("mine", &ws[i..end]).filter(|n| i + n < end) {
                r.mine = true;
                i += n;
                continue;
            }
            if let Some(n) = self.class("open", &ws[i..end]).filter(|n| i + n < end) {
                r.open = Some(true);
                i += n;
                continue;
            }
            if ws[i] == "closed" && i + 1 < end {
                r.open = Some(false);
                i += 1;
                continue;
            }
            break;
        }
        // leading object word: "opportunity Project Titan", "case 00001001"
        if let Some((k, n)) = self.object_at(&ws[..end], i)
            && (i + n < end || demonstrative.is_some() || i + n == end)
        {
            r.object = Some(k);
            i += n;
        }
        // trailing object word: "the blue sun deal", "the pricing call task"
        if r.object.is_none() || r.object == Some(ObjectKind::Task) {
            for n in (1..=self.g.max_object_words.min(end.saturating_sub(i))).rev() {
                if end - n > i
                    && let Some((k, _)) = self.g.object_word(&ws[end - n..end].join(" "))
                {
                    if k == ObjectKind::Task
                        && !matches!(
                            ws[end - 1],
                            "task" | "tasks" | "reminder" | "to-do" | "todo"
                        )
                    {
                        continue;
                    }
                    r.object = Some(k);
                    end -= n;
                    break;
                }
            }
        }
        // "Jane Doe at ACME Corp" / "Sam Flynn from ENCOM"
        if let Some(k) = (i + 1..end.saturating_sub(1))
            .rev()
            .find(|&k| matches!(ws[k], "at" | "from") && toks[k].kind == TokKind::Word)
        {
            let acct = strip_articles(self.g, &toks[k + 1..end]);
            if !acct.is_empty() {
                r.account = Some(lower_text(acct));
                end = k;
            }
        }
        let rest = &toks[i..end];
        let rest_words: Vec<&str> = ws[i..end].to_vec();
        if let [one] = rest_words.as_slice()
            && entity::is_record_number(one)
        {
            r.number = Some((*one).to_string());
            return r;
        }
        if rest.is_empty()
            || (self.g.in_class("pronoun_person", &rest_words)
                || self.g.in_class("pronoun_thing", &rest_words))
                && demonstrative.is_none()
        {
            let pronoun = if rest.is_empty() {
                let mut p = demonstrative.unwrap_or_default();
                if let Some(o) = r.object {
                    p = format!("{p} {}", o.api_name().to_lowercase())
                        .trim()
                        .to_string();
                }
                p
            } else {
                rest_words.join(" ")
            };
            r.antecedent = Some(Antecedent {
                pronoun,
                clause: usize::MAX,
                created: false,
            });
            return r;
        }
        if let Some(d) = demonstrative {
            // "that Acme deal" keeps its words; "this" was only a determiner
            let _ = d;
        }
        r.text = lower_text(rest);
        if r.object == Some(ObjectKind::Task) {
            return self.task_ref(toks);
        }
        r
    }

    /// A task as said: subject words and the related record ("the pricing call task for Monsters
    /// Inc", "the follow up call with sarah chen", "my Acme follow-up task").
    pub(crate) fn task_ref(&self, toks: &[Token]) -> RecordRef {
        let ws = words(toks);
        let mut r = RecordRef {
            object: Some(ObjectKind::Task),
            ..Default::default()
        };
        let mut i = 0;
        loop {
            if i >= ws.len() {
                break;
            }
            if self.g.in_class("article", &ws[i..i + 1])
                || self.g.in_class("demonstrative", &ws[i..i + 1])
            {
                i += 1;
            } else if let Some(n) = self.class("mine", &ws[i..]) {
                r.mine = true;
                i += n;
            } else if let Some(n) = self.class("open", &ws[i..]) {
                r.open = Some(true);
                i += n;
            } else {
                break;
            }
        }
        let mut end = ws.len();
        if let Some(k) = (i + 1..end.saturating_sub(1))
            .find(|&k| matches!(ws[k], "for" | "with" | "on" | "about" | "regarding" | "re"))
        {
            r.related = Some(lower_text(strip_articles(self.g, &toks[k + 1..end])));
            end = k;
        }
        while end > i + 1
            && matches!(
                ws[end - 1],
                "task" | "tasks" | "to-do" | "todo" | "reminder"
            )
        {
            end -= 1;
        }
        r.text = lower_text(&toks[i..end]);
        r
    }
}

enum Detail {
    Field(&'static str, Value),
    Named(Vec<Token>),
    Text(Vec<Token>),
}

fn set_org(
    b: &Builder<'_>,
    object: ObjectKind,
    tail: &[Token],
    account: &mut Option<RecordRef>,
    company: &mut Option<String>,
) {
    if object == ObjectKind::Lead {
        if company.is_none() {
            *company = Some(text_of(tail));
        }
    } else if account.is_none() {
        let mut r = b.record_ref(tail);
        r.object = Some(ObjectKind::Account);
        *account = Some(r);
    }
}

fn implied_target() -> Target {
    Target::Record(RecordRef {
        antecedent: Some(Antecedent {
            pronoun: IMPLIED.to_string(),
            clause: usize::MAX,
            created: false,
        }),
        ..Default::default()
    })
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

fn person_name(toks: &[Token]) -> Option<PersonName> {
    let names: Vec<&str> = toks
        .iter()
        .filter(|t| !t.is_punct())
        .map(|t| t.raw.as_str())
        .collect();
    let (last, first) = names.split_last()?;
    Some(PersonName {
        first: (!first.is_empty()).then(|| first.join(" ")),
        last: (*last).to_string(),
    })
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
