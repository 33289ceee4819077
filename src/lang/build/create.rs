//! Details of records to create: a person's name, the account or company, title, email, phone,
//! amount, close date, stage ("John Smith, VP Sales at Hooli, john.smith@hooli.example.com";
//! "Initech, $200K, closing in June"). Part of `build`.

use super::*;

impl Builder<'_> {
    pub(super) fn create_record(&self, s: &Slots) -> Option<Intent> {
        let object = match s.fixed_word(SlotName::Object).as_deref() {
            Some(o) => self.g.object_word(o).map(|(k, _)| k)?,
            None => ObjectKind::Contact,
        };
        let mut person = s.get(SlotName::Person).and_then(person_name);
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
        Some(Intent::CreateRecord(CreateRecord {
            object,
            person,
            name,
            account,
            company,
            fields,
        }))
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
                // the name ends at punctuation or at "for <account>"
                let end = (i + 2..toks.len())
                    .find(|&k| {
                        toks[k].is_punct()
                            || matches!(ws[k], "for" | "at" | "with" | "worth" | "closing" | "due")
                    })
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
            // "worth 75k", "valued at $1.2m", "for 50k", "amount 90,000"
            let lead = [
                &["worth"][..],
                &["valued", "at"],
                &["value", "of"],
                &["valued"],
                &["amount", "of"],
                &["amount"],
                &["totaling"],
                &["totalling"],
                &["for"],
                &["at"],
                &["of"],
            ]
            .iter()
            .find(|l| ws[i..].starts_with(l))
            .map_or(0, |l| l.len());
            if lead > 0
                && let Some(end) = self.longest(&ws, i + lead, 4, |x| {
                    entity::amount(x).is_some_and(|a| !a.percent && (a.money || a.value >= 100.0))
                })
            {
                flush(&mut chunk, &mut out);
                out.push(Detail::Field("amount", self.value(&toks[i + lead..end])));
                i = end;
                continue;
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
            // a chunk does not start with a preposition ("… called X for Hooli")
            if !(chunk.is_empty() && matches!(w, "for" | "at" | "with")) {
                chunk.push(t.clone());
            }
            i += 1;
        }
        flush(&mut chunk, &mut out);
        out
    }

    /// The longest `end` in `start+1..=start+max` such that `ok(ws[start..end])`.
    pub(super) fn longest(
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

/// A person's name as said; dictated all-lowercase words get capitals ("jane doe" → "Jane Doe"),
/// anything typed with capitals stays as typed ("McDonald", "DeShawn").
pub(crate) fn person_name(toks: &[Token]) -> Option<PersonName> {
    let names: Vec<String> = toks
        .iter()
        .filter(|t| !t.is_punct())
        .map(|t| {
            if t.raw.chars().any(char::is_uppercase) {
                t.raw.clone()
            } else {
                capitalise(&t.raw)
            }
        })
        .collect();
    let (last, first) = names.split_last()?;
    Some(PersonName {
        first: (!first.is_empty()).then(|| first.join(" ")),
        last: last.clone(),
    })
}
