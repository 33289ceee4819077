//! Lists of records to create in one phrase, typed or dictated: "add these companies as leads:
//! Vandelay Industries, Kramerica and Pendant Publishing", "add Jerry Seinfeld, Elaine Benes and
//! George Costanza at Vandelay Industries as contacts", "create accounts for Hooli, Initech, Umbrella".
//! A list becomes one [`Intent::CreateRecord`] clause per item, so the command is resolved,
//! previewed, applied (all or nothing), journaled and undone like any compound command.
//!
//! Also reads the phrase that goes with a file of rows ("add these as leads", "add the leads in
//! prospects.csv", "update the opportunities in forecast.csv") into a [`FileCommand`].
//!
//! Owns list recognition only; the words it relies on are lexicon classes (`create`, `update`,
//! `list_lead`, `list_companies`, the `objects` words). Pure. Imports `lexer`, `normalize`, `build`
//! (record references, text as said) and the intent types.

use std::collections::HashSet;

use chrono::NaiveDate;

use super::build::{Builder, person_name, text_of};
use super::grammar::Grammar;
use super::intent::{Clause, CreateRecord, Intent, NotUnderstood, ObjectKind, RecordRef};
use super::lexer::{TokKind, Token, match_words, raw_text, tokenize, word_text};
use super::normalize::normalize;

/// An item longer than this (in words) is not a name: the phrase is not a list.
const MAX_ITEM_WORDS: usize = 8;

/// Words that put an item's organisation after its name ("Jerry Seinfeld at Vandelay").
const ORG_WORDS: [&str; 4] = ["at", "from", "of", "with"];

/// What the items of a list are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ItemKind {
    /// People: a contact's or a lead's name.
    Person,
    /// Companies: a lead with no person, or an account.
    Company,
}

/// Items `(first, count)` of a list that a run of "and"s separated with no comma.
type AndRun = (usize, usize);

/// A list phrase taken apart: what to create, the items' tokens and an organisation said once
/// for all of them.
struct ListPhrase {
    object: ObjectKind,
    kind: ItemKind,
    items: Vec<Vec<Token>>,
    shared_org: Option<Vec<Token>>,
    /// Items `(first, count)` that a run of "and"s separated with no comma ("Procter and Gamble
    /// and Kramerica"): each "and" may be a separator or part of a company's name.
    and_run: Option<(usize, usize)>,
}

impl ListPhrase {
    /// A list of `object`s whose items were said as `said` (accounts and opportunities are
    /// companies whatever the noun), from its items and their run of "and"s.
    fn new(
        object: ObjectKind,
        said: ItemKind,
        (items, and_run): (Vec<Vec<Token>>, Option<AndRun>),
        shared_org: Option<Vec<Token>>,
    ) -> ListPhrase {
        ListPhrase {
            object,
            kind: kind_for(object, said),
            items,
            shared_org,
            and_run,
        }
    }
}

/// The clauses of a list phrase (one create per item), or `None` when `toks` (normalised) is not
/// a list.
pub(crate) fn list_clauses(
    g: &Grammar,
    toks: &[Token],
    today: NaiveDate,
    known: &HashSet<String>,
) -> Option<Vec<Clause>> {
    let mut phrase = list_phrase(g, toks)?;
    if let Some(run) = phrase.and_run {
        match join_known(&phrase.items, run, known) {
            Some(items) => {
                phrase.items = items;
                // The org named a company with an "and" in this list: its items are companies.
                if phrase.object == ObjectKind::Lead {
                    phrase.kind = ItemKind::Company;
                }
            }
            None => {
                return Some(vec![Clause {
                    text: word_text(toks),
                    intent: Intent::NotUnderstood(NotUnderstood {
                        suggestions: readings(&phrase.items[run.0..run.0 + run.1]),
                    }),
                }]);
            }
        }
        if phrase.items.len() < 2 && phrase.shared_org.is_none() {
            return None;
        }
    }
    let b = Builder { g, today };
    let shared = phrase.shared_org.as_deref().filter(|o| !o.is_empty());
    // An organisation said after the last item only ("A, B and C at Vandelay") is everyone's.
    let split: Vec<(Vec<Token>, Option<Vec<Token>>)> = phrase
        .items
        .iter()
        .map(|item| match phrase.kind {
            ItemKind::Person => split_org(item),
            ItemKind::Company => (item.clone(), None),
        })
        .collect();
    let last_only = split.len() > 1
        && split[..split.len() - 1].iter().all(|(_, o)| o.is_none())
        && split.last().is_some_and(|(_, o)| o.is_some());
    let tail_org = if last_only {
        split.last().and_then(|(_, o)| o.clone())
    } else {
        None
    };
    let mut clauses = Vec::new();
    for (name, own_org) in &split {
        let org = own_org
            .as_deref()
            .or(tail_org.as_deref())
            .or(shared)
            .filter(|o| !o.is_empty());
        let intent = item_intent(&b, phrase.object, phrase.kind, name, org)?;
        clauses.push(Clause {
            text: format!(
                "create {} {}",
                phrase.object.api_name().to_lowercase(),
                word_text(name)
            ),
            intent,
        });
    }
    (!clauses.is_empty()).then_some(clauses)
}

fn item_intent(
    b: &Builder<'_>,
    object: ObjectKind,
    kind: ItemKind,
    name: &[Token],
    org: Option<&[Token]>,
) -> Option<Intent> {
    let account_ref = |toks: &[Token]| {
        let mut r: RecordRef = b.record_ref(toks);
        r.object = Some(ObjectKind::Account);
        r
    };
    let mut rec = CreateRecord {
        object,
        person: None,
        name: None,
        account: None,
        company: None,
        fields: Vec::new(),
    };
    match (object, kind) {
        (ObjectKind::Lead, ItemKind::Company) => rec.company = Some(text_of(name)),
        (ObjectKind::Lead, ItemKind::Person) => {
            rec.person = Some(person_name(name)?);
            rec.company = org.map(text_of);
        }
        (ObjectKind::Contact, _) => {
            rec.person = Some(person_name(name)?);
            rec.account = org.map(account_ref);
        }
        (ObjectKind::Account, _) => rec.name = Some(text_of(name)),
        (ObjectKind::Opportunity, _) => rec.account = Some(account_ref(name)),
        _ => return None,
    }
    Some(Intent::CreateRecord(rec))
}

/// "Jerry Seinfeld at Vandelay Industries" → (name, organisation).
fn split_org(item: &[Token]) -> (Vec<Token>, Option<Vec<Token>>) {
    match item
        .iter()
        .rposition(|t| ORG_WORDS.contains(&t.word.as_str()))
    {
        Some(i) if i > 0 && i + 1 < item.len() => {
            (item[..i].to_vec(), Some(item[i + 1..].to_vec()))
        }
        _ => (item.to_vec(), None),
    }
}

/// A plural object word at the start of `ws` ("leads", "contacts"): the object and its length.
fn plural_object(g: &Grammar, ws: &[&str]) -> Option<(ObjectKind, usize)> {
    (1..=2.min(ws.len()))
        .rev()
        .find_map(|n| match g.object_word(&ws[..n].join(" ")) {
            Some((k, true)) => Some((k, n)),
            _ => None,
        })
}

/// Recognises the three list forms (see the module docs).
fn list_phrase(g: &Grammar, toks: &[Token]) -> Option<ListPhrase> {
    let ws = match_words(toks);
    let verb = g.class_prefix("create", &ws)?;
    let mut i = verb;
    let lead = g.class_prefix("list_lead", &ws[i..]);
    if let Some(n) = lead {
        i += n;
    }
    // "add these companies as leads: A, B and C", "add these as contacts: A and B"
    let as_object =
        (i..ws.len()).find(|&k| ws[k] == "as" && plural_object(g, &ws[k + 1..]).is_some());
    if lead.is_some()
        && let Some(as_at) = as_object
    {
        let (object, n) = plural_object(g, &ws[as_at + 1..])?;
        let noun = &ws[i..as_at];
        let kind = if !noun.is_empty() && g.in_class("list_companies", noun) {
            ItemKind::Company
        } else {
            ItemKind::Person
        };
        let mut k = as_at + 1 + n;
        let mut shared_org = None;
        if ws
            .get(k)
            .is_some_and(|w| ORG_WORDS.contains(w) || *w == "for")
        {
            let colon = (k..ws.len()).find(|&j| ws[j] == ":")?;
            shared_org = Some(toks[k + 1..colon].to_vec());
            k = colon;
        }
        return Some(ListPhrase::new(
            object,
            kind,
            items_of(&toks[k..])?,
            shared_org,
        ));
    }
    // "create accounts for X, Y, Z", "add the following contacts at Acme: A, B"
    if let Some((object, n)) = plural_object(g, &ws[i..]) {
        return objects_first(g, toks, &ws, i + n, object);
    }
    // "add Jerry Seinfeld, Elaine Benes and George Costanza at Vandelay Industries as contacts"
    let as_at = (i..ws.len())
        .rev()
        .find(|&k| ws[k] == "as" && plural_object(g, &ws[k + 1..]).is_some())?;
    let (object, n) = plural_object(g, &ws[as_at + 1..])?;
    let after = as_at + 1 + n;
    let shared_org = match ws.get(after) {
        Some(w) if ORG_WORDS.contains(w) || *w == "for" => Some(toks[after + 1..].to_vec()),
        Some(_) => return None,
        None => None,
    };
    let items = items_of(&toks[i..as_at])?;
    if items.0.len() < 2 {
        return None;
    }
    Some(ListPhrase::new(object, ItemKind::Person, items, shared_org))
}

/// "create accounts for X, Y, Z": the object said first, then the list (after "for", "named",
/// "called" or a colon), with an organisation for all of them before a colon.
fn objects_first(
    _g: &Grammar,
    toks: &[Token],
    ws: &[&str],
    mut k: usize,
    object: ObjectKind,
) -> Option<ListPhrase> {
    let mut shared_org = None;
    if ws.get(k).is_some_and(|w| ORG_WORDS.contains(w))
        && let Some(colon) = (k..ws.len()).find(|&j| ws[j] == ":")
    {
        shared_org = Some(toks[k + 1..colon].to_vec());
        k = colon;
    }
    if ws
        .get(k)
        .is_some_and(|w| matches!(*w, "for" | "named" | "called"))
    {
        k += 1;
    }
    Some(ListPhrase::new(
        object,
        ItemKind::Person,
        items_of(&toks[k..])?,
        shared_org,
    ))
}

/// Accounts and opportunities are named by companies whatever the noun said.
fn kind_for(object: ObjectKind, said: ItemKind) -> ItemKind {
    match object {
        ObjectKind::Account | ObjectKind::Opportunity => ItemKind::Company,
        _ => said,
    }
}

/// Splits a list at commas, semicolons and its last "and" ("A, B and C", "A, B, and C", "A and
/// B"). A company's own "and" survives when commas separate the items ("Procter and Gamble,
/// Kramerica"). A last chunk with two "and"s or more ("Procter and Gamble and Kramerica", a
/// dictated "A and B and C") is split at each of them and returned as an *and-run* `(first item,
/// count)`: which of them separate names is for [`join_known`] to say. `None` when an item is
/// empty or too long to be a name.
fn items_of(toks: &[Token]) -> Option<(Vec<Vec<Token>>, Option<AndRun>)> {
    let toks: Vec<Token> = toks.iter().skip_while(|t| t.is_punct()).cloned().collect();
    let mut chunks: Vec<Vec<Token>> = vec![Vec::new()];
    for t in &toks {
        if t.is_punct() && matches!(t.word.as_str(), "," | ";") {
            chunks.push(Vec::new());
        } else if let Some(c) = chunks.last_mut() {
            c.push(t.clone());
        }
    }
    let mut items: Vec<Vec<Token>> = Vec::new();
    let mut and_run = None;
    let n = chunks.len();
    for (ci, mut chunk) in chunks.into_iter().enumerate() {
        while chunk.last().is_some_and(Token::is_punct) {
            chunk.pop();
        }
        if chunk.first().is_some_and(is_and) && ci > 0 {
            chunk.remove(0);
        }
        let inner: Vec<usize> = (1..chunk.len().saturating_sub(1))
            .filter(|&k| is_and(&chunk[k]))
            .collect();
        if ci + 1 == n && inner.len() >= 2 {
            // "A and B and C": every "and" may separate; the org decides.
            let first = items.len();
            let mut from = 0;
            for &a in inner.iter().chain(std::iter::once(&chunk.len())) {
                items.push(chunk[from..a].to_vec());
                from = a + 1;
            }
            and_run = Some((first, inner.len() + 1));
            continue;
        }
        // the last "and" of the list splits the last chunk ("B and C")
        match inner.last().filter(|_| ci + 1 == n) {
            Some(&a) => {
                items.push(chunk[..a].to_vec());
                items.push(chunk[a + 1..].to_vec());
            }
            None => items.push(chunk),
        }
    }
    let ok = !items.is_empty()
        && items.iter().all(|it| {
            let n = it.iter().filter(|t| !t.is_punct()).count();
            n > 0 && n <= MAX_ITEM_WORDS && !it.iter().any(|t| t.word == ":")
        });
    ok.then_some((items, and_run))
}

/// The names an and-run of `atoms` may hold with an "and" inside: each run of two or more
/// neighbouring atoms, joined by "and", as said and lower-case.
fn and_names(atoms: &[Vec<Token>]) -> Vec<String> {
    let mut out = Vec::new();
    for i in 0..atoms.len() {
        for j in i + 1..atoms.len() {
            let said = atoms[i..=j]
                .iter()
                .map(|a| raw_text(a))
                .collect::<Vec<_>>()
                .join(" and ");
            let lower = joined(&atoms[i..=j]);
            if said != lower {
                out.push(said);
            }
            out.push(lower);
        }
    }
    out
}

fn joined(atoms: &[Vec<Token>]) -> String {
    atoms
        .iter()
        .map(|a| word_text(a))
        .collect::<Vec<_>>()
        .join(" and ")
}

/// The items of a list whose and-run `(first, count)` is read through the names the org holds
/// (`known`, lower-case): neighbours that make a known name ("procter and gamble") are one item,
/// every other "and" separates. `None` when the org knows no such name, or two that overlap:
/// the list can't be read without guessing.
fn join_known(
    items: &[Vec<Token>],
    (first, count): (usize, usize),
    known: &HashSet<String>,
) -> Option<Vec<Vec<Token>>> {
    let atoms = &items[first..first + count];
    let mut spans: Vec<(usize, usize)> = Vec::new();
    for i in 0..atoms.len() {
        for j in i + 1..atoms.len() {
            if known.contains(&joined(&atoms[i..=j])) {
                spans.push((i, j));
            }
        }
    }
    // The longest names first; a name inside a longer one is that one.
    spans.sort_by_key(|(i, j)| std::cmp::Reverse(j - i));
    let mut chosen: Vec<(usize, usize)> = Vec::new();
    for (i, j) in spans {
        if chosen.iter().any(|&(a, b)| a <= i && j <= b) {
            continue;
        }
        if chosen.iter().any(|&(a, b)| i <= b && a <= j) {
            return None;
        }
        chosen.push((i, j));
    }
    if chosen.is_empty() {
        return None;
    }
    chosen.sort_unstable();
    let mut out: Vec<Vec<Token>> = items[..first].to_vec();
    let mut k = 0;
    while k < atoms.len() {
        match chosen.iter().find(|(i, _)| *i == k) {
            Some(&(i, j)) => {
                let mut item = Vec::new();
                for (n, a) in atoms[i..=j].iter().enumerate() {
                    if n > 0 {
                        item.push(Token::word("and"));
                    }
                    item.extend(a.iter().cloned());
                }
                out.push(item);
                k = j + 1;
            }
            None => {
                out.push(atoms[k].clone());
                k += 1;
            }
        }
    }
    out.extend(items[first + count..].iter().cloned());
    Some(out)
}

/// Ways to read an and-run, with commas (suggestions when it can't be read): every "and"
/// separating, then each pair of neighbours as one name.
fn readings(atoms: &[Vec<Token>]) -> Vec<String> {
    let names: Vec<String> = atoms.iter().map(|a| raw_text(a)).collect();
    let mut out = vec![names.join(", ")];
    for k in 0..names.len() - 1 {
        let mut r: Vec<String> = names[..k].to_vec();
        r.push(format!("{} and {}", names[k], names[k + 1]));
        r.extend(names[k + 2..].iter().cloned());
        out.push(r.join(", "));
    }
    out.truncate(3);
    out
}

/// The names with an "and" inside that decide how a list phrase's run of "and"s reads ("add
/// Procter and Gamble and Kramerica as leads" → "procter and gamble", "gamble and kramerica",
/// "procter and gamble and kramerica"), lower-case; empty when the phrase has no such run.
pub fn and_run_names(g: &Grammar, text: &str) -> Vec<String> {
    let toks = normalize(g, tokenize(text));
    match list_phrase(g, &toks) {
        Some(ListPhrase {
            items,
            and_run: Some((first, count)),
            ..
        }) => and_names(&items[first..first + count]),
        _ => Vec::new(),
    }
}

/// When the run of "and"s of a list phrase can't be read with the names the org knows
/// (`known`, lower-case): the run as said and the ways to read it with commas.
pub fn unread_and_run(
    g: &Grammar,
    text: &str,
    known: &HashSet<String>,
) -> Option<(String, Vec<String>)> {
    let toks = normalize(g, tokenize(text));
    let phrase = list_phrase(g, &toks)?;
    let (first, count) = phrase.and_run?;
    if join_known(&phrase.items, (first, count), known).is_some() {
        return None;
    }
    let atoms = &phrase.items[first..first + count];
    let said = atoms
        .iter()
        .map(|a| raw_text(a))
        .collect::<Vec<_>>()
        .join(" and ");
    Some((said, readings(atoms)))
}

fn is_and(t: &Token) -> bool {
    t.kind == TokKind::Word && matches!(t.word.as_str(), "and" | "&" | "plus")
}

/// Whether a file's rows are created or update existing records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileOp {
    /// "add these as leads", "import prospects.csv as leads".
    Create,
    /// "update the opportunities in forecast.csv".
    Update,
}

/// What a phrase said about a file of rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileCommand {
    /// Create or update.
    pub op: FileOp,
    /// The object the rows are.
    pub object: ObjectKind,
    /// A `.csv` path named in the phrase, as said.
    pub path: Option<String>,
}

/// Reads the phrase that goes with a file ("add these as leads", "add the leads in
/// prospects.csv", "update the opportunities in forecast.csv"): the verb says create or update,
/// the first object word says what the rows are. `None` when either is missing.
pub fn file_command(g: &Grammar, text: &str) -> Option<FileCommand> {
    let path = text
        .split_whitespace()
        .map(|w| w.trim_matches(|c: char| matches!(c, '"' | '\'' | ',' | ';' | ':')))
        .find(|w| w.to_lowercase().ends_with(".csv"))
        .map(str::to_string);
    let rest = match &path {
        Some(p) => text.replace(p.as_str(), " "),
        None => text.to_string(),
    };
    let toks = normalize(g, tokenize(&rest));
    let ws = match_words(&toks);
    let op = if g.class_prefix("update", &ws).is_some() {
        FileOp::Update
    } else if g.class_prefix("create", &ws).is_some() || ws.first() == Some(&"import") {
        FileOp::Create
    } else {
        return None;
    };
    let object = (0..ws.len()).find_map(|k| {
        (1..=2.min(ws.len() - k))
            .rev()
            .find_map(|n| g.object_word(&ws[k..k + n].join(" ")).map(|(o, _)| o))
    })?;
    matches!(
        object,
        ObjectKind::Lead | ObjectKind::Contact | ObjectKind::Account | ObjectKind::Opportunity
    )
    .then_some(FileCommand { op, object, path })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clauses(text: &str) -> Vec<Intent> {
        let g = Grammar::for_tests();
        let today = NaiveDate::from_ymd_opt(2026, 12, 3).unwrap();
        g.parse(text, today)
            .clauses
            .into_iter()
            .map(|c| c.intent)
            .collect()
    }

    fn created(i: &Intent) -> (ObjectKind, String, Option<String>, Option<String>) {
        let Intent::CreateRecord(c) = i else {
            panic!("not a create: {i:?}")
        };
        let who = c
            .person
            .as_ref()
            .map(|p| format!("{} {}", p.first.clone().unwrap_or_default(), p.last))
            .or(c.name.clone())
            .unwrap_or_default();
        (
            c.object,
            who.trim().to_string(),
            c.account.as_ref().map(|a| a.text.clone()),
            c.company.clone(),
        )
    }

    #[test]
    fn companies_as_leads() {
        let cs = clauses(
            "add these companies as leads: Vandelay Industries, Kramerica and Pendant Publishing",
        );
        assert_eq!(cs.len(), 3);
        let got: Vec<_> = cs.iter().map(created).collect();
        assert_eq!(
            got[0],
            (
                ObjectKind::Lead,
                String::new(),
                None,
                Some("Vandelay Industries".into())
            )
        );
        assert_eq!(got[2].3.as_deref(), Some("Pendant Publishing"));
    }

    #[test]
    fn people_at_one_account_as_contacts() {
        let cs = clauses(
            "add Jerry Seinfeld, Elaine Benes and George Costanza at Vandelay Industries as contacts",
        );
        let got: Vec<_> = cs.iter().map(created).collect();
        assert_eq!(got.len(), 3);
        for (k, who) in ["Jerry Seinfeld", "Elaine Benes", "George Costanza"]
            .iter()
            .enumerate()
        {
            assert_eq!(got[k].0, ObjectKind::Contact);
            assert_eq!(got[k].1, *who);
            assert_eq!(got[k].2.as_deref(), Some("vandelay industries"));
        }
    }

    #[test]
    fn accounts_for_a_list() {
        let got: Vec<_> = clauses("create accounts for Hooli, Initech, Umbrella Corp")
            .iter()
            .map(created)
            .collect();
        let names: Vec<&str> = got.iter().map(|g| g.1.as_str()).collect();
        assert_eq!(names, ["Hooli", "Initech", "Umbrella Corp"]);
        assert!(got.iter().all(|g| g.0 == ObjectKind::Account));
    }

    #[test]
    fn single_creates_are_not_lists() {
        let cs = clauses("add Sam Flynn from ENCOM as a new lead");
        assert_eq!(cs.len(), 1);
        assert_eq!(created(&cs[0]).1, "Sam Flynn");
        assert_eq!(created(&cs[0]).3.as_deref(), Some("ENCOM"));
    }

    #[test]
    fn file_phrases() {
        let g = Grammar::for_tests();
        let f = file_command(g, "add these as leads").unwrap();
        assert_eq!(
            (f.op, f.object, f.path),
            (FileOp::Create, ObjectKind::Lead, None)
        );
        let f = file_command(g, "update the opportunities in forecast.csv").unwrap();
        assert_eq!(f.op, FileOp::Update);
        assert_eq!(f.object, ObjectKind::Opportunity);
        assert_eq!(f.path.as_deref(), Some("forecast.csv"));
        assert!(file_command(g, "show my open deals").is_none());
    }
}

#[cfg(test)]
mod and_run_tests {
    use super::*;

    fn clauses(text: &str, known: &[&str]) -> Vec<Clause> {
        let g = Grammar::for_tests();
        let known: HashSet<String> = known.iter().map(|k| k.to_string()).collect();
        let toks = normalize(g, tokenize(text));
        list_clauses(
            g,
            &toks,
            NaiveDate::from_ymd_opt(2026, 11, 18).unwrap(),
            &known,
        )
        .unwrap()
    }

    fn companies(cs: &[Clause]) -> Vec<String> {
        cs.iter()
            .map(|c| match &c.intent {
                Intent::CreateRecord(c) => c.company.clone().unwrap_or_default(),
                other => format!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn a_run_of_ands_is_read_through_the_names_the_org_knows() {
        let g = Grammar::for_tests();
        let text = "add Procter and Gamble and Kramerica as leads";
        let names = and_run_names(g, text);
        assert!(
            names.contains(&"Procter and Gamble".to_string()),
            "{names:?}"
        );
        assert!(
            names.contains(&"gamble and kramerica".to_string()),
            "{names:?}"
        );
        let cs = clauses(text, &["procter and gamble"]);
        assert_eq!(companies(&cs), ["Procter and Gamble", "Kramerica"]);
        let cs = clauses(
            "add Kramerica and Procter and Gamble as leads",
            &["procter and gamble"],
        );
        assert_eq!(companies(&cs), ["Kramerica", "Procter and Gamble"]);
    }

    #[test]
    fn a_run_of_ands_the_org_cannot_read_is_not_split_by_guessing() {
        let cs = clauses(
            "add these companies as leads: Procter and Gamble and Kramerica",
            &[],
        );
        assert!(
            matches!(&cs[..], [Clause { intent: Intent::NotUnderstood(n), .. }]
                if n.suggestions[0] == "Procter, Gamble, Kramerica"
                    && n.suggestions[1] == "Procter and Gamble, Kramerica"),
            "{cs:?}"
        );
        let g = Grammar::for_tests();
        let (said, _) = unread_and_run(
            g,
            "add vandelay and kramerica and pendant as leads",
            &HashSet::new(),
        )
        .unwrap();
        assert_eq!(said, "vandelay and kramerica and pendant");
        // commas decide: no run, nothing to ask
        assert!(
            and_run_names(
                g,
                "add these companies as leads: Procter and Gamble, Kramerica"
            )
            .is_empty()
        );
        assert!(
            and_run_names(
                g,
                "add these companies as leads: Vandelay, Kramerica and Pendant"
            )
            .is_empty()
        );
    }
}
