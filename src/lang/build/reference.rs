//! Record references and bulk filters as said: qualifiers (my, open/closed, at `<account>`), object
//! words, record numbers, pronouns, task subjects with their related record, and filter qualifiers
//! (industry, stage, closing `<period>`, over/under `<amount>`, overdue). Part of `build`.

use super::*;

impl Builder<'_> {
    /// Record(s) a slot names: a filter when it says "all", a plural object, "overdue", …
    pub(crate) fn target(&self, toks: &[Token]) -> Target {
        if self.is_filter(toks) {
            Target::Filter(self.filter(toks))
        } else {
            Target::Record(self.record_ref(toks))
        }
    }

    pub(super) fn is_filter(&self, toks: &[Token]) -> bool {
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
    /// Words that are no qualifier are kept, in order, as the filter's `text`.
    pub(crate) fn filter(&self, toks: &[Token]) -> RecordFilter {
        let ws = words(toks);
        let mut f = RecordFilter::default();
        let mut rest: Vec<&str> = Vec::new();
        let mut i = 0;
        while i < ws.len() {
            if toks[i].is_punct() {
                i += 1;
                continue;
            }
            let next = self
                .word_qualifier(&ws, i, &mut f)
                .or_else(|| self.date_qualifier(&ws, i, &mut f))
                .or_else(|| self.amount_qualifier(&ws, i, &mut f))
                .or_else(|| self.place_qualifier(toks, &ws, i, &mut f));
            match next {
                Some(n) => i = n,
                None => {
                    rest.push(ws[i]);
                    i += 1;
                }
            }
        }
        f.text = rest.join(" ");
        f
    }

    /// A qualifier word or phrase at `i` (ownership, open/closed, overdue, won, untouched, amount range, owner, priority, object, "with <account>"); the index after it.
    fn word_qualifier(&self, ws: &[&str], i: usize, f: &mut RecordFilter) -> Option<usize> {
        let w = ws[i];
        if let Some(n) = self.class("all", &ws[i..]) {
            return Some(i + n);
        }
        if let Some(n) = self.class("article", &ws[i..i + 1]) {
            return Some(i + n);
        }
        if let Some(n) = self.class("mine", &ws[i..]) {
            f.mine = true;
            return Some(i + n);
        }
        if let Some(n) = self.mine_phrase(&ws[i..]) {
            f.mine = true;
            return Some(i + n);
        }
        if let Some((who, n)) = self.possession_at(&ws[i..]) {
            match who {
                Possessor::Me => f.mine = true,
                Possessor::Us => {}
                Possessor::User(name) => f.owner = Some(name),
            }
            return Some(i + n);
        }
        if let Some(n) = self.class("open", &ws[i..]) {
            f.open = Some(true);
            return Some(i + n);
        }
        if let Some(n) = self.class("closed", &ws[i..]) {
            f.open = Some(false);
            return Some(i + n);
        }
        if let Some(n) = self.class("overdue", &ws[i..]) {
            f.overdue = true;
            return Some(i + n);
        }
        // "sitting", "across the team", "do we have": no qualifier, no name
        if let Some(n) = self.class("filter_filler", &ws[i..]) {
            return Some(i + n);
        }
        if let Some((won, n)) = self.won_at(&ws[i..]) {
            f.won = Some(won);
            return Some(i + n);
        }
        if let Some((since, n)) = self.untouched_at(&ws[i..]) {
            f.untouched_since = Some(since);
            return Some(i + n);
        }
        if let Some((range, n)) = between_at(&ws[i..]) {
            f.amount_between = Some(range);
            return Some(i + n);
        }
        if let Some(end) = self.owned_by(ws, i) {
            f.owner = Some(ws[i + 2..end].join(" "));
            return Some(end);
        }
        if let Some((p, n)) = self.priority_at(&ws[i..]) {
            f.priority = Some(p);
            return Some(i + n);
        }
        if let Some((k, n)) = self.object_at(ws, i) {
            f.object = Some(k);
            return Some(i + n);
        }
        if matches!(w, "that" | "which" | "are" | "is" | "with" | "where") && i + 1 < ws.len() {
            if w == "with"
                && self.class("over", &ws[i + 1..]).is_none()
                && self.class("under", &ws[i + 1..]).is_none()
                && !matches!(ws[i + 1], "amount" | "an" | "a")
            {
                // "with Acme": account
                let end = self.qualifier_end(ws, i + 1);
                f.account = Some(ws[i + 1..end].join(" "));
                return Some(end);
            }
            return Some(i + 1);
        }
        None
    }

    /// A period or date at `i` ("this week", "closing next month", "due friday", "closing by December 15"); the index after it.
    fn date_qualifier(&self, ws: &[&str], i: usize, f: &mut RecordFilter) -> Option<usize> {
        // "this week", "for today", "due next month": a bare period is a date range
        let bare = match ws[i] {
            "for" | "in" | "during" => i + 1,
            _ => i,
        };
        if bare < ws.len()
            && matches!(ws[bare], "this" | "next" | "last" | "today" | "tomorrow")
            && let Some(end) =
                self.longest(ws, bare, 4, |x| entity::period(x, self.today).is_some())
        {
            f.closing = entity::period(&ws[bare..end], self.today);
            return Some(end);
        }
        if let Some(n) = self.class("closing", &ws[i..]) {
            let k = i + n;
            // deals close; what is "due" is a task
            if ws[i] == "due" && f.object.is_none() && i + n < ws.len() {
                f.object = Some(ObjectKind::Task);
            }
            if let Some(end) = self.longest(ws, k, 5, |x| entity::period(x, self.today).is_some()) {
                f.closing = entity::period(&ws[k..end], self.today);
                return Some(end);
            }
            if let Some(end) = self.longest(ws, k, 6, |x| entity::date(x, self.today).is_some()) {
                // "closing by December 15": up to that day; "due friday": that day
                if let Some(d) = entity::date(&ws[k..end], self.today) {
                    let by = matches!(ws[k], "by" | "before" | "until" | "till");
                    f.closing = Some(DateRange {
                        start: if by { self.today.min(d) } else { d },
                        end: d,
                    });
                }
                return Some(end);
            }
        }
        None
    }

    /// "over 50k", "under $10,000", or the bare words "worth"/"amount" at `i`; the index after it.
    fn amount_qualifier(&self, ws: &[&str], i: usize, f: &mut RecordFilter) -> Option<usize> {
        let w = ws[i];
        let over = self.class("over", &ws[i..]);
        let under = self.class("under", &ws[i..]);
        if let Some(n) = over.or(under) {
            let k = i + n;
            if let Some(end) = self.longest(ws, k, 4, |x| entity::amount(x).is_some()) {
                let v = entity::amount(&ws[k..end]).map(|a| a.value);
                if over.is_some() {
                    f.amount_over = v;
                } else {
                    f.amount_under = v;
                }
                return Some(end);
            }
        }
        if matches!(w, "worth" | "amount") {
            return Some(i + 1);
        }
        None
    }

    /// "in <industry>", "at <stage>", "for <account>" at `i`; the index after it.
    fn place_qualifier(
        &self,
        toks: &[Token],
        ws: &[&str],
        i: usize,
        f: &mut RecordFilter,
    ) -> Option<usize> {
        let w = ws[i];
        if matches!(w, "in" | "at" | "from" | "for" | "on") && i + 1 < ws.len() {
            let mut k = i + 1;
            while k < ws.len() && self.class("article", &ws[k..k + 1]).is_some() {
                k += 1;
            }
            let end = self.qualifier_end(ws, k);
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
                    // "for the Acme deal": the name without the object word
                    let mut n = vt.len();
                    if n > 1 && self.g.object_word(&vt[n - 1].word).is_some() {
                        n -= 1;
                    }
                    f.account = Some(text_of(&vt[..n]).to_lowercase());
                }
                return Some(end);
            }
        }
        None
    }

    /// "I own", "owned by me", "assigned to me", "I have", "do I have".
    /// "high priority", "urgent", "low pri" at the start of `ws`.
    pub(super) fn priority_at(&self, ws: &[&str]) -> Option<(Priority, usize)> {
        [
            ("high_priority", Priority::High),
            ("low_priority", Priority::Low),
            ("normal_priority", Priority::Normal),
        ]
        .into_iter()
        .find_map(|(class, p)| self.class(class, ws).map(|n| (p, n)))
    }

    pub(super) fn mine_phrase(&self, ws: &[&str]) -> Option<usize> {
        const PHRASES: &[&[&str]] = &[
            &["that", "i", "own"],
            &["i", "own"],
            &["owned", "by", "me"],
            &["assigned", "to", "me"],
            &["do", "i", "have"],
            &["have", "i", "got"],
            &["i", "have", "got"],
            &["i", "'ve", "got"],
            &["i've", "got"],
            &["i", "got"],
            &["have", "i"],
            &["did", "i"],
            &["i", "have"],
            &["i"],
            &["of", "mine"],
        ];
        PHRASES.iter().find(|p| ws.starts_with(p)).map(|p| p.len())
    }

    /// "do I still have", "have I got", "has the team", "does Sam have", "I've got", "we have":
    /// whose records, and how many words say it.
    fn possession_at(&self, ws: &[&str]) -> Option<(Possessor, usize)> {
        const AUX: [&str; 6] = ["do", "does", "did", "have", "has", "had"];
        const ADVERBS: [&str; 5] = ["still", "currently", "actually", "already", "really"];
        const HAVE: [&str; 8] = ["have", "has", "got", "own", "get", "'ve", "'s", "hold"];
        let aux = ws.first().is_some_and(|w| AUX.contains(w));
        let mut k = usize::from(aux);
        let (who, n) = subject_at(&ws[k..])?;
        k += n;
        while ws.get(k).is_some_and(|w| ADVERBS.contains(w)) {
            k += 1;
        }
        let mut had = false;
        while ws.get(k).is_some_and(|w| HAVE.contains(w)) {
            k += 1;
            had = true;
        }
        // "i" alone is the existing `mine_phrase`; a name needs its auxiliary and verb
        let named = matches!(who, Possessor::User(_));
        ((aux || had) && (!named || (aux && had))).then_some((who, k))
    }

    /// "not touched in 30 days", "no activity for two weeks", "stale" (30 days): the day before
    /// which the records were last touched.
    fn untouched_at(&self, ws: &[&str]) -> Option<(NaiveDate, usize)> {
        if let Some(n) = self.class("untouched", ws) {
            let end = self.longest(ws, n, 3, |x| entity::span(x).is_some())?;
            let span = entity::span(&ws[n..end])?;
            let back = Span {
                months: -span.months,
                days: -span.days,
            };
            return Some((entity::add_span(self.today, back)?, end));
        }
        let n = self.class("stale", ws)?;
        Some((self.today - chrono::Duration::days(STALE_DAYS), n))
    }

    /// "won", "closed won", "lost": closed and won (`true`) or lost (`false`).
    fn won_at(&self, ws: &[&str]) -> Option<(bool, usize)> {
        [("won", true), ("lost", false)]
            .into_iter()
            .find_map(|(class, won)| self.class(class, ws).map(|n| (won, n)))
    }

    /// "owned by Sam Okafor", "assigned to Sam": where another user's name ends (not "me").
    fn owned_by(&self, ws: &[&str], i: usize) -> Option<usize> {
        let lead = ws.get(i..i + 2)?;
        if !matches!(
            lead,
            ["owned", "by"] | ["assigned", "to"] | ["belonging", "to"]
        ) {
            return None;
        }
        let end = self.qualifier_end(ws, i + 2);
        let name = ws.get(i + 2..end)?;
        (!name.is_empty() && !matches!(name, ["me"] | ["myself"])).then_some(end)
    }

    /// Where a qualifier's words end: at the next qualifier keyword.
    pub(super) fn qualifier_end(&self, ws: &[&str], start: usize) -> usize {
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

    pub(super) fn object_at(&self, ws: &[&str], i: usize) -> Option<(ObjectKind, usize)> {
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
                .filter(|n| i + n < end)
            {
                demonstrative = Some(ws[i..i + n].join(" "));
                i += n;
                continue;
            }
            if let Some(n) = self
                .class("article", &ws[i..(i + 1).min(end)])
                .filter(|n| i + n < end)
            {
                i += n;
                continue;
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
        // "case 00001005", and "case 1005" (the auto-number without its leading zeros)
        if let [one] = rest_words.as_slice()
            && (entity::is_record_number(one)
                || (r.object == Some(ObjectKind::Case)
                    && one.len() <= 8
                    && one.chars().all(|c| c.is_ascii_digit())))
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
        // with words left ("that Acme deal"), a demonstrative was only a determiner
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

/// "stale deals": not touched in this many days.
const STALE_DAYS: i64 = 30;

/// "between 100k and 300k" (either order): an inclusive amount range.
fn between_at(ws: &[&str]) -> Option<((f64, f64), usize)> {
    if ws.first() != Some(&"between") {
        return None;
    }
    let and = ws.iter().position(|w| *w == "and")?;
    let low = entity::amount(&ws[1..and])?.value;
    let (end, high) = (and + 2..=ws.len().min(and + 5))
        .rev()
        .find_map(|e| entity::amount(&ws[and + 1..e]).map(|a| (e, a.value)))?;
    Some(((low.min(high), low.max(high)), end))
}

/// Whose records a question asks about.
enum Possessor {
    /// "I", "do I have".
    Me,
    /// "we", "the team": everyone's the user can see.
    Us,
    /// "does Sam have": another user, by name as said.
    User(String),
}

/// The subject of "do I have", "has the team", "does Sam Okafor have": who, and its length.
fn subject_at(ws: &[&str]) -> Option<(Possessor, usize)> {
    const US: [&[&str]; 7] = [
        &["the", "team"],
        &["my", "team"],
        &["our", "team"],
        &["the", "company"],
        &["we"],
        &["you"],
        &["everyone"],
    ];
    match ws.first().copied()? {
        "i" | "i've" => return Some((Possessor::Me, 1)),
        "we've" => return Some((Possessor::Us, 1)),
        _ => {}
    }
    if let Some(p) = US.iter().find(|p| ws.starts_with(p)) {
        return Some((Possessor::Us, p.len()));
    }
    // a user's name: one or two words before the verb
    (1..=2).find_map(|n| {
        let next = ws.get(n)?;
        let name = &ws[..n];
        let plain = name.iter().all(|w| {
            w.chars().all(char::is_alphabetic)
                && !matches!(*w, "it" | "they" | "that" | "this" | "there")
        });
        (plain
            && matches!(
                *next,
                "have" | "got" | "own" | "get" | "still" | "currently"
            ))
        .then(|| (Possessor::User(name.join(" ")), n))
    })
}
