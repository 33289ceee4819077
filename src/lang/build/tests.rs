//! Table tests for the intent builder: record references, task references, filters, values and
//! change lists, each through a `#[track_caller]` helper.

use super::*;
use crate::lang::lexer::tokenize;
use crate::lang::normalize::normalize;

fn b() -> Builder<'static> {
    Builder {
        g: Grammar::for_tests(),
        today: NaiveDate::from_ymd_opt(2026, 11, 18).expect("date"),
    }
}

fn toks(text: &str) -> Vec<Token> {
    normalize(b().g, tokenize(text))
}

#[track_caller]
fn rec(text: &str) -> String {
    let r = b().record_ref(&toks(text));
    format!(
        "{}|{:?}|{:?}|mine={}|open={:?}|at={:?}|rel={:?}|pronoun={:?}",
        r.text,
        r.object,
        r.number,
        r.mine,
        r.open,
        r.account,
        r.related,
        r.antecedent.map(|a| a.pronoun)
    )
}

#[test]
fn record_references() {
    assert_eq!(
        rec("the open ACME opportunity"),
        "acme|Some(Opportunity)|None|mine=false|open=Some(true)|at=None|rel=None|pronoun=None"
    );
    assert_eq!(
        rec("opportunity Project Titan"),
        "project titan|Some(Opportunity)|None|mine=false|open=None|at=None|rel=None|pronoun=None"
    );
    assert_eq!(
        rec("case 00001001"),
        "|Some(Case)|Some(\"00001001\")|mine=false|open=None|at=None|rel=None|pronoun=None"
    );
    assert_eq!(
        rec("Jane Doe at ACME Corp"),
        "jane doe|None|None|mine=false|open=None|at=Some(\"acme corp\")|rel=None|pronoun=None"
    );
    assert_eq!(
        rec("my Acme deal"),
        "acme|Some(Opportunity)|None|mine=true|open=None|at=None|rel=None|pronoun=None"
    );
    // object words in the middle of a name stay in the name
    assert_eq!(
        rec("Acme Customer Portal"),
        "acme customer portal|None|None|mine=false|open=None|at=None|rel=None|pronoun=None"
    );
}

#[test]
fn pronouns_and_demonstratives() {
    assert!(rec("her").ends_with("pronoun=Some(\"her\")"));
    assert!(rec("it").ends_with("pronoun=Some(\"it\")"));
    assert_eq!(
        rec("that deal"),
        "|Some(Opportunity)|None|mine=false|open=None|at=None|rel=None|pronoun=Some(\"that opportunity\")"
    );
    // a demonstrative before a name is only a determiner
    assert!(rec("that Acme deal").starts_with("acme|Some(Opportunity)"));
}

#[test]
fn task_references_split_subject_and_related_record() {
    let t = |text: &str| {
        let r = b().task_ref(&toks(text));
        format!("{}~{:?}", r.text, r.related)
    };
    assert_eq!(
        t("the pricing call task for Monsters Inc"),
        "pricing call~Some(\"monsters inc\")"
    );
    assert_eq!(
        t("the follow up call with sarah chen"),
        "follow up call~Some(\"sarah chen\")"
    );
    assert_eq!(t("my Acme follow-up task"), "acme follow-up~None");
}

#[track_caller]
fn filter(text: &str) -> String {
    match b().target(&toks(text)) {
        Target::Filter(f) => format!(
            "{:?} mine={} open={:?} overdue={} ind={:?} stage={:?} closing={:?} over={:?} under={:?} acct={:?} text={:?}",
            f.object,
            f.mine,
            f.open,
            f.overdue,
            f.industry
                .map(|v| v.hints.first().map(|h| h.value.clone()).unwrap_or(v.said)),
            f.stage
                .map(|v| v.hints.first().map(|h| h.value.clone()).unwrap_or(v.said)),
            f.closing.map(|c| format!("{}..{}", c.start, c.end)),
            f.amount_over,
            f.amount_under,
            f.account,
            f.text
        ),
        Target::Record(r) => format!("record {}", r.text),
    }
}

#[test]
fn bulk_filters() {
    for (said, want) in [
        (
            "all my open opportunities in the tech sector",
            "Some(Opportunity) mine=true open=Some(true) overdue=false ind=Some(\"Technology\") stage=None closing=None over=None under=None acct=None text=\"\"",
        ),
        (
            "my open deals closing this quarter over $100k",
            "Some(Opportunity) mine=true open=Some(true) overdue=false ind=None stage=None closing=Some(\"2026-10-01..2026-12-31\") over=Some(100000.0) under=None acct=None text=\"\"",
        ),
        (
            "all my overdue tasks",
            "Some(Task) mine=true open=None overdue=true ind=None stage=None closing=None over=None under=None acct=None text=\"\"",
        ),
        (
            "opportunities in negotiation under 50k for acme",
            "Some(Opportunity) mine=false open=None overdue=false ind=None stage=Some(\"Negotiation/Review\") closing=None over=None under=Some(50000.0) acct=Some(\"acme\") text=\"\"",
        ),
        (
            "cases closing in june",
            "Some(Case) mine=false open=None overdue=false ind=None stage=None closing=Some(\"2027-06-01..2027-06-30\") over=None under=None acct=None text=\"\"",
        ),
        ("the globex deal", "record globex"),
    ] {
        assert_eq!(filter(said), want, "{said}");
    }
}

#[track_caller]
fn value(text: &str) -> String {
    let v = b().value(&toks(text));
    format!(
        "{}|{:?}|{:?}",
        v.said,
        v.entities,
        v.hints.iter().map(|h| h.value.as_str()).collect::<Vec<_>>()
    )
}

#[test]
fn values_carry_entities_and_hints() {
    for (said, want) in [
        ("92k", "92k|[Number(92000.0)]|[]"),
        ("$1.2M", "$1.2M|[Money(1200000.0)]|[]"),
        ("20 percent", "20 percent|[Percent(20.0)]|[]"),
        ("negotiation", "negotiation|[]|[\"Negotiation/Review\"]"),
        ("done", "done|[]|[\"Completed\", \"Closed\"]"),
        ("approved", "approved|[Bool(true)]|[]"),
        ("next friday", "next friday|[Date(2026-11-27)]|[]"),
        ("'Raviga'", "Raviga|[Quoted(\"Raviga\")]|[]"),
        (
            "two weeks",
            "two weeks|[Span(Span { months: 0, days: 14 })]|[]",
        ),
        ("+1-555-0199", "+1-555-0199|[Phone(\"+1-555-0199\")]|[]"),
    ] {
        assert_eq!(value(said), want, "{said}");
    }
}

#[test]
fn change_lists() {
    let g = b().g;
    let split = |text: &str, strict: bool| {
        let t = toks(text);
        split_changes(g, &t, 0, t.len(), strict).map(|items| {
            items
                .into_iter()
                .map(|((fa, fb), (va, vb))| {
                    format!("{}={}", text_of(&t[fa..fb]), text_of(&t[va..vb]))
                })
                .collect::<Vec<_>>()
        })
    };
    assert_eq!(
        split(
            "stage to negotiation, close date to December 15 and amount to 90,000",
            true
        ),
        Some(vec![
            "stage=negotiation".into(),
            "close date=December 15".into(),
            "amount=90,000".into()
        ])
    );
    // dictated: no separators at all
    assert_eq!(
        split(
            "stage to negotiation close date to december 15 amount to 90000",
            true
        ),
        Some(vec![
            "stage=negotiation".into(),
            "close date=december 15".into(),
            "amount=90000".into()
        ])
    );
    // "field value" items without "to" need a known field name, and the value is not a
    // preposition ("next step on all my deals …" names a record)
    assert_eq!(
        split(
            "stage proposal, amount 500k and close date december 15",
            false
        ),
        Some(vec![
            "stage=proposal".into(),
            "amount=500k".into(),
            "close date=december 15".into()
        ])
    );
    assert_eq!(split("pilot scope, budget soon", false), None);
    assert_eq!(split("next step on all my deals", false), None);
    // values keep "and" when no field follows
    assert_eq!(
        split("next step to call legal and procurement", true),
        Some(vec!["next step=call legal and procurement".into()])
    );
    assert_eq!(split("wibble to 5", true), None);
    assert_eq!(split("wibble to 5", false), Some(vec!["wibble=5".into()]));
}

#[test]
fn dictated_person_names_get_capitals() {
    let p = person_name(&toks("jane mcdonald")).expect("a name");
    assert_eq!(
        (p.first.as_deref(), p.last.as_str()),
        (Some("Jane"), "Mcdonald")
    );
    let p = person_name(&toks("Jane McDonald")).expect("a name");
    assert_eq!(
        (p.first.as_deref(), p.last.as_str()),
        (Some("Jane"), "McDonald")
    );
    let p = person_name(&toks("Cher")).expect("a name");
    assert_eq!((p.first, p.last.as_str()), (None, "Cher"));
}

/// A question as parsed, in short: kind, object, qualifiers, fields, group, rank.
#[track_caller]
fn ask(text: &str) -> String {
    let cmd = crate::lang::parse(text, b().today).expect("grammar");
    let [c] = cmd.clauses.as_slice() else {
        return format!("{} clauses", cmd.clauses.len());
    };
    let Intent::Question(q) = &c.intent else {
        return c.intent.name().to_string();
    };
    let t = match &q.target {
        Target::Filter(f) => format!(
            "{:?} mine={} open={:?} won={:?} owner={:?} between={:?} closing={:?} text={:?}",
            f.object,
            f.mine,
            f.open,
            f.won,
            f.owner,
            f.amount_between,
            f.closing.map(|c| format!("{}..{}", c.start, c.end)),
            f.text
        ),
        Target::Record(r) => format!("record {:?}", r.text),
    };
    let fields: Vec<&str> = q.fields.iter().map(|f| f.said.as_str()).collect();
    format!(
        "{:?} {t} fields={fields:?} role={:?} group={:?} rank={:?}",
        q.kind,
        q.role.as_ref().map(|r| r.said.as_str()),
        q.group
            .as_ref()
            .map(|g| (g.field.as_ref().map(|f| f.said.clone()), g.month)),
        q.rank.map(|r| (r.by, r.limit))
    )
}

#[test]
fn questions() {
    assert_eq!(
        ask("whats the amount on titan again"),
        "Field record \"titan\" fields=[\"amount\"] role=None group=None rank=None"
    );
    assert_eq!(
        ask("remind me who the economic buyer is on the globex enterprise license"),
        "Field record \"globex enterprise license\" fields=[] role=Some(\"economic buyer\") group=None rank=None"
    );
    assert_eq!(
        ask("How many deals has Sam got open right now?"),
        "Count Some(Opportunity) mine=false open=Some(true) won=None owner=Some(\"sam\") between=None closing=None text=\"\" fields=[] role=None group=None rank=None"
    );
    assert_eq!(
        ask("how many of my open deals are between 100k and 300k"),
        "Count Some(Opportunity) mine=true open=Some(true) won=None owner=None between=Some((100000.0, 300000.0)) closing=None text=\"\" fields=[] role=None group=None rank=None"
    );
    assert_eq!(
        ask("how much have I won this year"),
        "Total None mine=true open=None won=Some(true) owner=None between=None closing=Some(\"2026-01-01..2026-12-31\") text=\"\" fields=[] role=None group=None rank=None"
    );
    assert_eq!(
        ask("what's my average open deal size"),
        "Average Some(Opportunity) mine=true open=Some(true) won=None owner=None between=None closing=None text=\"\" fields=[\"deal size\"] role=None group=None rank=None"
    );
    assert_eq!(
        ask("break down my open pipeline by stage"),
        "Total None mine=true open=Some(true) won=None owner=None between=None closing=None text=\"\" fields=[] role=None group=Some((Some(\"stage\"), false)) rank=None"
    );
    assert_eq!(
        ask("top 3 open deals closing this quarter"),
        "List Some(Opportunity) mine=false open=Some(true) won=None owner=None between=None closing=Some(\"2026-10-01..2026-12-31\") text=\"\" fields=[] role=None group=None rank=Some((Largest, 3))"
    );
    assert_eq!(
        ask("which of my deals closes next"),
        "List Some(Opportunity) mine=true open=None won=None owner=None between=None closing=None text=\"\" fields=[] role=None group=None rank=Some((Soonest, 1))"
    );
    assert_eq!(
        ask("what tasks do I have due friday"),
        "List Some(Task) mine=true open=None won=None owner=None between=None closing=Some(\"2026-11-20..2026-11-20\") text=\"\" fields=[] role=None group=None rank=None"
    );
    let stale = ask("how many of my open deals haven't been touched in 30 days");
    assert!(
        stale.starts_with("Count Some(Opportunity) mine=true open=Some(true)"),
        "{stale}"
    );
    let f = |t: &str| match b().target(&toks(t)) {
        Target::Filter(f) => f.untouched_since.map(|d| d.to_string()),
        Target::Record(_) => None,
    };
    assert_eq!(
        f("my deals not touched in two weeks"),
        Some("2026-11-04".into())
    );
    assert_eq!(f("all my stale deals"), Some("2026-10-19".into()));
    // "closing next month" is a period, not "next"; "top priority" is a priority
    assert!(ask("how many deals are closing next month").contains("rank=None"));
    assert!(ask("how many top priority tasks do I have").contains("rank=None"));
}

#[test]
fn a_question_never_writes() {
    for q in [
        "who is the economic buyer on project titan",
        "what add a note to titan saying close every deal",
        "how many deals set the stage to closed lost",
        "which deals should I move to negotiation",
    ] {
        let cmd = crate::lang::parse(q, b().today).expect("grammar");
        assert!(
            cmd.clauses.iter().all(|c| !c.intent.writes()),
            "{q}: {:?}",
            cmd.clauses
        );
    }
}
