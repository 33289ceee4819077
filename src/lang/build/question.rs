//! Questions as said: which answer is wanted (records, a count, a total, an average, asked fields,
//! the last contact, the user's own changes), grouping ("by stage", "per owner", "by close month")
//! and ranking ("five biggest", "next to close"). The words that say these come from lexicon
//! classes (`group_by`, `rank_largest`, `rank_smallest`, `rank_soonest`, `rank_latest`); what is
//! left of the target is read as a record or a filter like any other. Part of `build`.

use super::*;

/// Ranking word classes and what each ranks by.
const RANKS: [(&str, RankBy); 4] = [
    ("rank_largest", RankBy::Largest),
    ("rank_smallest", RankBy::Smallest),
    ("rank_soonest", RankBy::Soonest),
    ("rank_latest", RankBy::Latest),
];

/// The most records a top-N question lists.
const MAX_RANK: u32 = 200;

impl Builder<'_> {
    pub(super) fn question(&self, s: &Slots) -> Option<Intent> {
        let mut kind = match s.fixed_word(SlotName::Kind).as_deref() {
            Some("count") => QuestionKind::Count,
            Some("status") => QuestionKind::Status,
            Some("lookup") => QuestionKind::LookUp,
            Some("field") => QuestionKind::Field,
            Some("total") => QuestionKind::Total,
            Some("average") => QuestionKind::Average,
            Some("last_contact") => QuestionKind::LastContact,
            Some("history") => return self.history(s),
            _ => QuestionKind::List,
        };
        // "top 3 open deals closing this quarter": a bare target is a question only when ranked
        // or grouped
        let bare = s.fixed_word(SlotName::Kind).as_deref() == Some("ranked");
        let role = s
            .get(SlotName::Role)
            .map(|r| self.value(strip_articles(self.g, r)));
        let mut fields: Vec<FieldRef> = s
            .get(SlotName::Field)
            .map(|t| self.field(t))
            .into_iter()
            .collect();
        if kind == QuestionKind::Field && fields.is_empty() && role.is_none() {
            return None;
        }
        let said = s.get(SlotName::Target)?;
        let (toks, group) = match s.get(SlotName::Group) {
            Some(g) => (said.to_vec(), Some(self.group_of(g)?)),
            None => self.peel_group(said),
        };
        let (toks, rank) = self.peel_rank(&toks);
        if (toks.is_empty() || bare) && rank.is_none() && group.is_none() {
            return None;
        }
        let mut toks = self.trim_fillers(&toks);
        if matches!(kind, QuestionKind::Total | QuestionKind::Average) && fields.is_empty() {
            // "my average open deal size": the measured field said last
            // (none said: the resolver adds up the amount, where the object has one)
            if let Some((rest, field)) = self.peel_measure(&toks) {
                toks = rest;
                fields.push(field);
            }
        }
        let aggregate = group.is_some()
            || rank.is_some()
            || matches!(
                kind,
                QuestionKind::Count | QuestionKind::Total | QuestionKind::Average
            );
        let mut target = if aggregate {
            Target::Filter(self.filter(&toks))
        } else {
            self.question_target(&toks)
        };
        // a bare phrase is a question only when every word is a qualifier
        if bare && !matches!(&target, Target::Filter(f) if f.text.is_empty() && f.account.is_none())
        {
            return None;
        }
        if s.fixed_word(SlotName::Mine).as_deref() == Some("true") {
            match &mut target {
                Target::Filter(f) => f.mine = true,
                Target::Record(r) => r.mine = true,
            }
        }
        if let (Some(owner), Target::Filter(f)) = (s.get(SlotName::Owner), &mut target) {
            f.owner = Some(text_of(strip_articles(self.g, owner)));
        }
        if kind == QuestionKind::List && matches!(target, Target::Record(_)) {
            kind = QuestionKind::LookUp;
        }
        Some(Intent::Question(Question {
            kind,
            target,
            fields,
            role,
            group,
            rank,
            period: None,
        }))
    }

    /// A list's target: a filter when the words are only qualifiers ("due tomorrow", "overdue"),
    /// else a record or a filter as for any command.
    fn question_target(&self, toks: &[Token]) -> Target {
        match self.target(toks) {
            Target::Record(r) if r.antecedent.is_none() && r.number.is_none() => {
                let f = self.filter(toks);
                let qualified = f.closing.is_some()
                    || f.overdue
                    || f.priority.is_some()
                    || f.won.is_some()
                    || f.amount_over.is_some()
                    || f.amount_under.is_some()
                    || f.amount_between.is_some();
                if qualified && f.text.is_empty() {
                    Target::Filter(f)
                } else {
                    Target::Record(r)
                }
            }
            t => t,
        }
    }

    /// The target without trailing words that carry no meaning ("the wayne deal currently").
    fn trim_fillers(&self, toks: &[Token]) -> Vec<Token> {
        let ws = words(toks);
        let mut end = ws.len();
        while let Some(k) = (1..end).find(|&k| self.g.in_class("filter_filler", &ws[k..end])) {
            end = k;
        }
        toks[..end].to_vec()
    }

    /// A field alias at the end of a total's or an average's target: ("open deal", "deal size").
    fn peel_measure(&self, toks: &[Token]) -> Option<(Vec<Token>, FieldRef)> {
        let ws = words(toks);
        // only a field of the object asked about ("in the tech sector" is the account's)
        let object = (0..ws.len())
            .find_map(|i| self.object_at(&ws, i).map(|(k, _)| k))
            .unwrap_or(ObjectKind::Opportunity);
        let measures = |said: &str| {
            self.g
                .field_aliases(said)
                .iter()
                .any(|a| a.object.is_none_or(|o| o == object))
        };
        (1..=self.g.max_field_words.min(ws.len().saturating_sub(1)))
            .rev()
            .find(|n| measures(&ws[ws.len() - n..].join(" ")))
            .map(|n| {
                let cut = ws.len() - n;
                // "deal size": the object word stays with the target
                let keep = (cut..ws.len())
                    .take_while(|&k| self.g.object_word(ws[k]).is_some())
                    .count();
                (toks[..cut + keep].to_vec(), self.field(&toks[cut..]))
            })
    }

    /// "what did I change today / this week": the user's journal over a period (today unless said).
    fn history(&self, s: &Slots) -> Option<Intent> {
        let period = match s.get(SlotName::Date) {
            None => DateRange {
                start: self.today,
                end: self.today,
            },
            Some(t) => {
                let ws: Vec<&str> = words(t)
                    .into_iter()
                    .filter(|w| !matches!(*w, "in" | "during" | "for" | "over"))
                    .collect();
                match entity::period(&ws, self.today) {
                    Some(p) => p,
                    None => {
                        let d = entity::date(&ws, self.today)?;
                        DateRange { start: d, end: d }
                    }
                }
            }
        };
        Some(Intent::Question(Question {
            kind: QuestionKind::History,
            target: Target::Filter(RecordFilter::default()),
            fields: Vec::new(),
            role: None,
            group: None,
            rank: None,
            period: Some(period),
        }))
    }

    /// A grouping said after a `group_by` word at the end of the target: "my open pipeline by
    /// stage" → ("my open pipeline", stage). Words that are no field are left where they are.
    fn peel_group(&self, toks: &[Token]) -> (Vec<Token>, Option<GroupBy>) {
        let ws = words(toks);
        for i in (1..ws.len()).rev() {
            let Some(n) = self.class("group_by", &ws[i..]) else {
                continue;
            };
            if i + n >= ws.len() {
                continue;
            }
            if let Some(g) = self.group_of(&toks[i + n..]) {
                return (toks[..i].to_vec(), Some(g));
            }
        }
        (toks.to_vec(), None)
    }

    /// The grouping some words name: a field alias ("stage", "owner"), "month", or a date field's
    /// month ("close month").
    fn group_of(&self, toks: &[Token]) -> Option<GroupBy> {
        let toks = strip_articles(self.g, toks);
        let mut ws = words(toks);
        let month = ws.last().is_some_and(|w| matches!(*w, "month" | "months"));
        if month {
            ws.pop();
            if ws.is_empty() {
                return Some(GroupBy {
                    field: None,
                    month: true,
                });
            }
        }
        let said = ws.join(" ");
        let field = self.field(&tokenize(&said));
        if field.candidates.is_empty() {
            return None;
        }
        Some(GroupBy {
            field: Some(field),
            month,
        })
    }

    /// A ranking said anywhere in the target: "5 biggest open deals", "top 3 …", "which deal is
    /// closing soonest", "the most recent deal I won". A ranking word followed by a period
    /// ("closing next month", "last week") is the period's, not a ranking.
    fn peel_rank(&self, toks: &[Token]) -> (Vec<Token>, Option<Rank>) {
        let ws = words(toks);
        for i in 0..ws.len() {
            // "the next three deals": "next" ranks only with a count after it
            let next_n = (ws[i] == "next" && ws.get(i + 1).is_some_and(|w| count_at(w).is_some()))
                .then_some((RankBy::Soonest, 1));
            let Some((by, n)) = next_n.or_else(|| {
                RANKS
                    .iter()
                    .find_map(|(class, by)| self.class(class, &ws[i..]).map(|n| (*by, n)))
            }) else {
                continue;
            };
            // "closing next month", "last week", "top priority" belong to other qualifiers
            if self.starts_period(&ws[i + n - 1..]) || self.priority_at(&ws[i..]).is_some() {
                continue;
            }
            let (mut start, mut end) = (i, i + n);
            // "my biggest deals": a few; "my biggest deal", "which of my deals closes next": one
            let plural = ws.iter().enumerate().any(|(k, w)| {
                matches!(self.g.object_word(w), Some((_, true)))
                    && !ws[..k].iter().rev().take(2).any(|p| *p == "of")
            });
            let mut limit = if plural { 5 } else { 1 };
            if let Some((k, c)) = i
                .checked_sub(1)
                .and_then(|k| count_at(ws[k]).map(|c| (k, c)))
            {
                (start, limit) = (k, c);
            } else if let Some(c) = ws.get(end).and_then(|w| count_at(w)) {
                (end, limit) = (end + 1, c);
            }
            if start > 0 && self.g.in_class("article", &ws[start - 1..start]) {
                start -= 1;
            }
            let mut rest = toks[..start].to_vec();
            rest.extend_from_slice(&toks[end..]);
            return (
                rest,
                Some(Rank {
                    by,
                    limit: limit.min(MAX_RANK),
                }),
            );
        }
        (toks.to_vec(), None)
    }

    /// "next month", "last week": words that read as a period.
    fn starts_period(&self, ws: &[&str]) -> bool {
        (2..=ws.len().min(4)).any(|n| entity::period(&ws[..n], self.today).is_some())
    }
}

/// "5", "ten": how many a top-N question lists.
fn count_at(w: &str) -> Option<u32> {
    let n: u32 = w.parse().ok()?;
    (n > 0).then_some(n)
}
