//! The command language on the corpus (`../shared/corpus/commands.jsonl`, embedded here as the
//! expected intents), dictated variants of every corpus case, and paraphrases that are not in the
//! corpus. Each case is compared through a compact signature of the intents (see `sig`).

use chrono::NaiveDate;
use sayso::lang::{
    ChangeOp, CreateRecord, Entity, FieldChange, Intent, ParsedCommand, Priority, RecordFilter,
    RecordRef, Target, Value, parse,
};

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 18).expect("valid date")
}

fn p(text: &str) -> ParsedCommand {
    parse(text, today()).expect("embedded grammar loads")
}

// ---------------------------------------------------------------------------------------------
// Signatures: a compact, readable rendering of intents that tests compare.

fn rec(r: &RecordRef) -> String {
    let mut s = format!("\"{}\"", r.text);
    if let Some(o) = r.object {
        s.push_str(&format!("#{}", o.api_name()));
    }
    if let Some(n) = &r.number {
        s.push_str(&format!("&{n}"));
    }
    if r.mine {
        s.push_str("/mine");
    }
    match r.open {
        Some(true) => s.push_str("/open"),
        Some(false) => s.push_str("/closed"),
        None => {}
    }
    if let Some(a) = &r.account {
        s.push_str(&format!("@{a}"));
    }
    if let Some(a) = &r.related {
        s.push_str(&format!("~{a}"));
    }
    if let Some(a) = &r.antecedent {
        s.push_str(&format!(
            "<-{}{}",
            a.clause,
            if a.created { "*" } else { "" }
        ));
    }
    s
}

fn filt(f: &RecordFilter) -> String {
    let mut parts = Vec::new();
    if let Some(o) = f.object {
        parts.push(o.api_name().to_string());
    }
    if f.mine {
        parts.push("mine".into());
    }
    match f.open {
        Some(true) => parts.push("open".into()),
        Some(false) => parts.push("closed".into()),
        None => {}
    }
    if f.overdue {
        parts.push("overdue".into());
    }
    if let Some(v) = &f.industry {
        parts.push(format!("industry={}", val(v)));
    }
    if let Some(v) = &f.stage {
        parts.push(format!("stage={}", val(v)));
    }
    if let Some(c) = &f.closing {
        parts.push(format!("closing={}..{}", c.start, c.end));
    }
    if let Some(v) = f.amount_over {
        parts.push(format!("over={v}"));
    }
    if let Some(v) = f.amount_under {
        parts.push(format!("under={v}"));
    }
    if let Some(a) = &f.account {
        parts.push(format!("account={a}"));
    }
    if !f.text.is_empty() {
        parts.push(format!("text={}", f.text));
    }
    format!("{{{}}}", parts.join(" "))
}

fn tgt(t: &Target) -> String {
    match t {
        Target::Record(r) => rec(r),
        Target::Filter(f) => filt(f),
    }
}

fn val(v: &Value) -> String {
    if let Some(h) = v.hints.first() {
        return h.value.clone();
    }
    for e in &v.entities {
        let s = match e {
            Entity::Date(d) => d.to_string(),
            Entity::Number(n) => format!("{n}"),
            Entity::Money(n) => format!("${n}"),
            Entity::Percent(n) => format!("{n}%"),
            Entity::Duration(d) => format!("{d}s"),
            Entity::Span(s) => format!("{}m{}d", s.months, s.days),
            Entity::Bool(b) => b.to_string(),
            Entity::Email(e) => e.clone(),
            Entity::Phone(p) => p.clone(),
            Entity::Quoted(_) => continue,
        };
        return s;
    }
    format!("\"{}\"", v.said.to_lowercase())
}

fn chg(c: &FieldChange) -> String {
    let f = match &c.field {
        None => "?".to_string(),
        Some(f) => f
            .candidates
            .first()
            .map_or(format!("{}?", f.said), |a| a.api_name.clone()),
    };
    let op = match c.op {
        ChangeOp::Set => "=",
        ChangeOp::Add => "+=",
        ChangeOp::Subtract => "-=",
        ChangeOp::Shift => ">>",
    };
    format!("{f}{op}{}", val(&c.value))
}

fn opt<T>(o: &Option<T>, f: impl Fn(&T) -> String) -> String {
    o.as_ref().map_or("-".to_string(), f)
}

fn intent_sig(i: &Intent) -> String {
    match i {
        Intent::UpdateFields(u) => format!(
            "update({}; {})",
            tgt(&u.target),
            u.changes.iter().map(chg).collect::<Vec<_>>().join(", ")
        ),
        Intent::AddNote(n) => {
            format!("note({}; \"{}\")", tgt(&n.target), n.text.to_lowercase())
        }
        Intent::LogCall(c) => format!(
            "call(who={}; what={}; subj={}; desc={}; dur={}; date={})",
            opt(&c.who, rec),
            opt(&c.what, rec),
            opt(&c.subject, |s| s.to_lowercase()),
            opt(&c.description, |s| format!("\"{}\"", s.to_lowercase())),
            opt(&c.duration_seconds, |d| d.to_string()),
            opt(&c.date, |d| d.to_string())
        ),
        Intent::CreateTask(t) => format!(
            "task(\"{}\"; due={}; who={}; what={}; prio={})",
            t.subject.to_lowercase(),
            opt(&t.due, |d| d.to_string()),
            opt(&t.who, rec),
            opt(&t.what, rec),
            opt(&t.priority, |p: &Priority| format!("{p:?}"))
        ),
        Intent::CompleteTask(t) => format!("complete({})", tgt(&t.target)),
        Intent::CreateRecord(c) => create_sig(c),
        Intent::AddContactRole(r) => format!(
            "role({}; {}; {})",
            rec(&r.contact),
            rec(&r.opportunity),
            opt(&r.role, val)
        ),
        Intent::Reassign(r) => {
            format!("reassign({}; {})", tgt(&r.target), r.owner.to_lowercase())
        }
        Intent::Question(q) => format!("ask({:?}; {})", q.kind, tgt(&q.target)),
        Intent::Undo(u) => format!("undo({})", u.steps),
        Intent::Help(h) => format!("help({})", opt(&h.topic, Clone::clone)),
        Intent::ScheduleMeeting(m) => format!(
            "meeting({}; {}; {}; {}m; who={}; what={})",
            opt(&m.subject, Clone::clone),
            m.date,
            opt(&m.time, |t| t.format("%H:%M").to_string()),
            m.minutes,
            opt(&m.who, rec),
            opt(&m.what, rec)
        ),
        Intent::CreateCase(c) => format!(
            "case({}; {}; {}; {})",
            c.subject,
            opt(&c.account, rec),
            opt(&c.contact, rec),
            opt(&c.priority, |p| format!("{p:?}"))
        ),
        Intent::NotUnderstood(_) => "??".to_string(),
    }
}

fn create_sig(c: &CreateRecord) -> String {
    format!(
        "create({}; person={}; name={}; account={}; company={}; {})",
        c.object.api_name(),
        opt(&c.person, |p| format!(
            "{}|{}",
            p.first.as_deref().unwrap_or("").to_lowercase(),
            p.last.to_lowercase()
        )),
        opt(&c.name, |n| n.to_lowercase()),
        opt(&c.account, rec),
        opt(&c.company, |c| c.to_lowercase()),
        c.fields.iter().map(chg).collect::<Vec<_>>().join(", ")
    )
}

fn sig(text: &str) -> String {
    p(text)
        .clauses
        .iter()
        .map(|c| intent_sig(&c.intent))
        .collect::<Vec<_>>()
        .join(" | ")
}

#[track_caller]
fn check(text: &str, expected: &str) {
    assert_eq!(sig(text), expected, "phrase: {text}");
}

// ---------------------------------------------------------------------------------------------
// The corpus: every phrase with the intent it must parse to.

/// Checks every (phrase, signature) pair and reports all the mismatches at once.
#[track_caller]
fn check_cases(cases: &[(&str, &str)]) {
    let mut failures = Vec::new();
    for (text, expected) in cases {
        let got = sig(text);
        if got != *expected {
            failures.push(format!("{text}\n   expected {expected}\n   got      {got}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

const CORPUS: &[(&str, &str, &str)] = &[
    (
        "v01",
        "update opportunity Project Titan to Negotiation",
        r##"update("project titan"#Opportunity; ?=Negotiation/Review)"##,
    ),
    (
        "v02",
        "move the globex enterprise license to closed won",
        r##"update("globex enterprise license"; ?=Closed Won)"##,
    ),
    (
        "v03",
        "set the amount on Initech Renewal to 92k",
        r##"update("initech renewal"; Amount=92000)"##,
    ),
    (
        "v04",
        "push the close date for Hooli Cloud Migration to end of next month",
        r##"update("hooli cloud migration"; CloseDate=2026-12-31)"##,
    ),
    (
        "v05",
        "Update opportunity 'Project Titan' to stage 'Negotiation' and add a note that the client approved the budget.",
        r##"update("project titan"#Opportunity; StageName=Negotiation/Review) | note("project titan"#Opportunity<-0; "the client approved the budget")"##,
    ),
    (
        "v06",
        "set the next step on Pied Piper Compression Pilot to send the security whitepaper",
        r##"update("pied piper compression pilot"; NextStep="send the security whitepaper")"##,
    ),
    (
        "v07",
        "mark Stark Security Suite as closed lost",
        r##"update("stark security suite"; ?=Closed Lost)"##,
    ),
    (
        "v08",
        "change the stage of the blue sun deal to proposal",
        r##"update("blue sun"#Opportunity; StageName=Proposal/Price Quote)"##,
    ),
    (
        "v09",
        "add a note to Cyberdyne Robotics Analytics: Miles wants a pilot in Q1",
        r##"note("cyberdyne robotics analytics"; "miles wants a pilot in q1")"##,
    ),
    (
        "v10",
        "log a call with Jane Smith on the Globex Enterprise License: discussed payment terms",
        r##"call(who="jane smith"; what="globex enterprise license"; subj=-; desc="discussed payment terms"; dur=-; date=-)"##,
    ),
    (
        "v11",
        "remind me to follow up with Richard Hendricks tomorrow",
        r##"task("follow up"; due=2026-11-19; who="richard hendricks"; what=-; prio=-)"##,
    ),
    (
        "v12",
        "create a task to send the proposal to Monsters Inc Scream Capture by Friday",
        r##"task("send the proposal"; due=2026-11-20; who=-; what="monsters inc scream capture"; prio=-)"##,
    ),
    (
        "v13",
        "mark the pricing call task for Monsters Inc as complete",
        r##"complete("pricing call"#Task~monsters inc)"##,
    ),
    (
        "v14",
        "Create a new contact for Jane Doe at ACME Corp, associate her with the open ACME opportunity, and log my call notes.",
        r##"create(Contact; person=jane|doe; name=-; account="acme corp"#Account; company=-; ) | role("jane doe"#Contact@acme corp<-0*; "acme"#Opportunity/open; -) | call(who="jane doe"#Contact@acme corp<-0*; what="acme"#Opportunity/open<-1; subj=-; desc=-; dur=-; date=-)"##,
    ),
    (
        "v15",
        "add Jane Smith as the economic buyer on Globex Facilities Add-on",
        r##"role("jane smith"#Contact; "globex facilities add-on"#Opportunity; Economic Buyer)"##,
    ),
    (
        "v16",
        "reassign the Dunder Mifflin Paper Portal deal to Alex Johnson",
        r##"reassign("dunder mifflin paper portal"#Opportunity; alex johnson)"##,
    ),
    (
        "v17",
        "set the probability of hooli xyz data platform to 20 percent",
        r##"update("hooli xyz data platform"; Probability=20%)"##,
    ),
    (
        "v18",
        "update Initech Renewal: stage to negotiation, close date to December 15, amount to 90,000",
        r##"update("initech renewal"; StageName=Negotiation/Review, CloseDate=2026-12-15, Amount=90000)"##,
    ),
    (
        "v19",
        "show my open opportunities closing this quarter",
        r##"ask(List; {Opportunity mine open closing=2026-10-01..2026-12-31})"##,
    ),
    (
        "v20",
        "how many open deals do I have",
        r##"ask(Count; {Opportunity mine open})"##,
    ),
    (
        "v21",
        "update opportunity acme to negotiation",
        r##"update("acme"#Opportunity; ?=Negotiation/Review)"##,
    ),
    (
        "v22",
        "update the initech deal to closed won",
        r##"update("initech"#Opportunity; ?=Closed Won)"##,
    ),
    (
        "v23",
        "move the hooli deal to negotiation",
        r##"update("hooli"#Opportunity; ?=Negotiation/Review)"##,
    ),
    (
        "v24",
        "follow up with Sarah tomorrow",
        r##"task("follow up"; due=2026-11-19; who="sarah"; what=-; prio=-)"##,
    ),
    (
        "v25",
        "update the acme logistics fleet expansion to negotiation",
        r##"update("acme logistics fleet expansion"; ?=Negotiation/Review)"##,
    ),
    (
        "v26",
        "set acme corp's customer tier to gold",
        r##"update("acme corp"; Tier__c=Gold)"##,
    ),
    (
        "v27",
        "change the forecast category on the Globex Enterprise License to best case",
        r##"update("globex enterprise license"; ForecastCategoryName=Best Case)"##,
    ),
    (
        "v28",
        "update project titan's stage to wonderful",
        r##"update("project titan"; StageName="wonderful")"##,
    ),
    ("v29", "make me a sandwich", "??"),
    (
        "v30",
        "update opportunity titan' OR Name != 'x to negotiation",
        r##"update("titan' or name != 'x"#Opportunity; ?=Negotiation/Review)"##,
    ),
    (
        "v31",
        "um so update the uh project titan opportunity to negotiation review",
        r##"update("project titan"#Opportunity; ?=Negotiation/Review)"##,
    ),
    (
        "v32",
        "set the amount on initech renewal to ninety two thousand dollars",
        r##"update("initech renewal"; Amount=$92000)"##,
    ),
    (
        "v33",
        "log a call with pepper potts on project titan she wants a phased rollout",
        r##"call(who="pepper potts"; what="project titan"; subj=-; desc="she wants a phased rollout"; dur=-; date=-)"##,
    ),
    (
        "v34",
        "mark the follow up call with sarah chen as done",
        r##"complete("follow up call"#Task~sarah chen)"##,
    ),
    (
        "v35",
        "find all my open opportunities in the tech sector and add 'Q4 Pipeline Review' to the notes",
        r##"note({Opportunity mine open industry=Technology}; "q4 pipeline review")"##,
    ),
    (
        "v36",
        "set the next step on all my opportunities in negotiation to 'Send final contract'",
        r##"update({Opportunity mine stage=Negotiation/Review}; NextStep="send final contract")"##,
    ),
    (
        "v37",
        "mark all my overdue tasks as complete",
        r##"complete({Task mine overdue})"##,
    ),
    (
        "v38",
        "create a new opportunity for Initech, $200K, closing in June",
        r##"create(Opportunity; person=-; name=-; account="initech"#Account; company=-; Amount=$200000, CloseDate=2027-06-30)"##,
    ),
    (
        "v39",
        "add Sam Flynn from ENCOM as a new lead",
        r##"create(Lead; person=sam|flynn; name=-; account=-; company=encom; )"##,
    ),
    (
        "v40",
        "create a contact: John Smith, VP Sales at Hooli, john.smith@hooli.example.com",
        r##"create(Contact; person=john|smith; name=-; account="hooli"#Account; company=-; Title="vp sales", Email=john.smith@hooli.example.com)"##,
    ),
    (
        "v41",
        "what's the status of the Globex Enterprise License",
        r##"ask(Field; "globex enterprise license")"##,
    ),
    (
        "v42",
        "look up Sarah Chen",
        r##"ask(LookUp; "sarah chen")"##,
    ),
    (
        "v43",
        "set case 00001001 to working",
        r##"update(""#Case&00001001; ?=Working)"##,
    ),
    (
        "v44",
        "change the priority of case 00001003 to high",
        r##"update(""#Case&00001003; Priority=High)"##,
    ),
    (
        "v45",
        "close case 00001004",
        r##"update(""#Case&00001004; StageName=Closed)"##,
    ),
    ("v46", "show my cases", r##"ask(List; {Case mine})"##),
    (
        "v47",
        "move the acme logistics fleet expansion to negotiation",
        r##"update("acme logistics fleet expansion"; ?=Negotiation/Review)"##,
    ),
    (
        "v48",
        "update project titan to closed won",
        r##"update("project titan"; ?=Closed Won)"##,
    ),
    (
        "v49",
        "set the close date of the wayne security upgrade to next friday",
        r##"update("wayne security upgrade"; CloseDate=2026-11-27)"##,
    ),
    (
        "v50",
        "mark the budget as approved on stark security suite",
        r##"update("stark security suite"; Budget_Approved__c=true)"##,
    ),
    (
        "v51",
        "set the competitor on Hooli XYZ Data Platform to 'Raviga'",
        r##"update("hooli xyz data platform"; Competitor__c="raviga")"##,
    ),
    (
        "v52",
        "change sarah chen's title to chief operating officer",
        r##"update("sarah chen"; Title="chief operating officer")"##,
    ),
    (
        "v53",
        "update Alex Smith's mobile to +1-555-0199",
        r##"update("alex smith"; MobilePhone=+1-555-0199)"##,
    ),
    (
        "v54",
        "escalate case 00001005",
        r##"update(""#Case&00001005; StageName=Escalated)"##,
    ),
    (
        "v55",
        "mark case 00001012 as closed",
        r##"update(""#Case&00001012; ?=Closed)"##,
    ),
    (
        "v56",
        "set the amount on globex enterprise license to 1.2 million",
        r##"update("globex enterprise license"; Amount=1200000)"##,
    ),
    (
        "v57",
        "log a note on Acme Corp: they want to move forward",
        r##"note("acme corp"; "they want to move forward")"##,
    ),
    (
        "v58",
        "create a follow-up task on Blue Sun Network Upgrade for next Monday",
        r##"task("follow-up"; due=2026-11-23; who=-; what="blue sun network upgrade"; prio=-)"##,
    ),
];

#[test]
fn every_corpus_phrase_parses_to_its_intent() {
    let mut failures = Vec::new();
    for (id, text, expected) in CORPUS {
        let got = sig(text);
        if got != *expected {
            failures.push(format!(
                "{id}: {text}\n   expected {expected}\n   got      {got}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn corpus_table_covers_the_corpus_file() {
    // The table above mirrors ../shared/corpus/commands.jsonl; when the file is present, every
    // phrase in it must be in the table.
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/corpus/commands.jsonl"
    );
    let Ok(text) = std::fs::read_to_string(path) else {
        return;
    };
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line).expect("corpus line is JSON");
        let say = v["say"].as_str().expect("say");
        assert!(
            CORPUS.iter().any(|(_, t, _)| *t == say),
            "corpus phrase missing from the table: {say}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Dictated variants: lowercase, no punctuation or quotes, fillers, spoken numbers and dates.

/// Turn a typed phrase into what speech-to-text would give.
fn dictate(text: &str) -> String {
    const SPOKEN: &[(&str, &str)] = &[
        ("92k", "ninety two k"),
        ("90,000", "ninety thousand"),
        ("20 percent", "twenty percent"),
        ("$200K", "two hundred thousand dollars"),
        ("1.2 million", "one point two million"),
        ("December 15", "december fifteenth"),
        (
            "john.smith@hooli.example.com",
            "john dot smith at hooli dot example dot com",
        ),
        ("+1-555-0199", "+1-555-0199"),
    ];
    let mut t = text.to_string();
    for (a, b) in SPOKEN {
        t = t.replace(a, b);
    }
    let t: String = t
        .chars()
        .filter(|c| {
            !matches!(
                c,
                ',' | ':' | '.' | '!' | '?' | '\u{201C}' | '\u{201D}' | '"'
            )
        })
        .collect();
    // quotes go, apostrophes inside words stay ("chen's")
    let t = t
        .split_whitespace()
        .map(|w| w.trim_matches('\''))
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase();
    // fillers: a lead-in and an "uh" after the first word
    let mut words: Vec<&str> = t.split_whitespace().collect();
    if words.len() > 2 {
        words.insert(1, "uh");
    }
    format!("um okay so {}", words.join(" "))
}

/// Signatures compared without the differences dictation may make in free text (case).
fn loose(s: &str) -> String {
    s.to_lowercase().replace(['\'', ','], "")
}

#[test]
fn dictated_variants_of_every_corpus_case_parse_the_same() {
    let mut failures = Vec::new();
    for (id, text, expected) in CORPUS {
        if *id == "v30" {
            continue; // a SOQL-injection probe, not something anyone dictates
        }
        let spoken = dictate(text);
        let got = sig(&spoken);
        if loose(&got) != loose(expected) {
            failures.push(format!(
                "{id}: {spoken}\n   expected {expected}\n   got      {got}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// Paraphrases that are not in the corpus, per intent.

#[test]
fn paraphrases_update_fields() {
    check(
        "change the amount of the Initech Renewal deal to $350K",
        r##"update("initech renewal"#Opportunity; Amount=$350000)"##,
    );
    check(
        "Set OPTY100001 amount to 350K.",
        r##"update("opty100001"; Amount=350000)"##,
    );
    check(
        "could you move Acme to closed one",
        r##"update("acme"; ?=Closed Won)"##,
    );
    check(
        "Update Enterprise to Closed Won",
        r##"update("enterprise"; ?=Closed Won)"##,
    );
    check(
        "Mark the Widget opportunity as Closed Lost",
        r##"update("widget"#Opportunity; ?=Closed Lost)"##,
    );
    check(
        "update the hooli cloud migration stage to proposal and amount to 75k",
        r##"update("hooli cloud migration"; StageName=Proposal/Price Quote, Amount=75000)"##,
    );
    check(
        "increase the amount on Initech Renewal by 10k",
        r##"update("initech renewal"; Amount+=10000)"##,
    );
    check(
        "add 5,000 to the amount on the titan deal",
        r##"update("titan"#Opportunity; Amount+=5000)"##,
    );
    check(
        "push out the Hooli Cloud Migration deal two weeks",
        r##"update("hooli cloud migration"#Opportunity; CloseDate>>0m14d)"##,
    );
    check(
        "pull in the close date on project titan by 3 days",
        r##"update("project titan"; CloseDate>>0m-3d)"##,
    );
    check(
        "set the close date on project titan to 12/15",
        r##"update("project titan"; CloseDate=2026-12-15)"##,
    );
    check(
        "change the close date for initech renewal to the 15th of december",
        r##"update("initech renewal"; CloseDate=2026-12-15)"##,
    );
    check(
        "set the customer tier on acme corp to silver",
        r##"update("acme corp"; Tier__c=Silver)"##,
    );
    check(
        "mark the budget on stark security suite as approved",
        r##"update("stark security suite"; Budget_Approved__c=true)"##,
    );
    check(
        "Push the close date for Acme to end of next quarter.",
        r##"update("acme"; CloseDate=2027-03-31)"##,
    );
    check(
        "resolve ticket 00001002",
        r##"update(""#Case&00001002; StageName=Closed)"##,
    );
    check(
        "set the decision date on project titan to in 2 weeks",
        r##"update("project titan"; Decision_Date__c=2026-12-02)"##,
    );
}

#[test]
fn paraphrases_notes() {
    check(
        "Note for the Enterprise deal: discussed pricing",
        r##"note("enterprise"#Opportunity; "discussed pricing")"##,
    );
    check(
        "Add a note to Sarah Chen: she's interested in the demo",
        r##"note("sarah chen"; "she's interested in the demo")"##,
    );
    check(
        "add a note to acme corp they want to move forward",
        r##"note("acme corp"; "they want to move forward")"##,
    );
    check(
        "Add a note to my Acme call task: 'Left voicemail, retry Thursday.'",
        r##"note("acme call"#Task/mine; "left voicemail, retry thursday.")"##,
    );
    check(
        "leave a note on the initech deal saying budget is confirmed",
        r##"note("initech"#Opportunity; "budget is confirmed")"##,
    );
}

#[test]
fn paraphrases_calls_tasks_and_completion() {
    check(
        "Log a 30-minute discovery call with Jane Smith at Acme today",
        r##"call(who="jane smith"@acme; what=-; subj=discovery call; desc=-; dur=1800; date=2026-11-18)"##,
    );
    check(
        "log my call notes for Globex",
        r##"call(who=-; what="globex"; subj=-; desc=-; dur=-; date=-)"##,
    );
    check(
        "Remind me to follow up Friday",
        r##"task("follow up"; due=2026-11-20; who=-; what=-; prio=-)"##,
    );
    check(
        "Task for the Enterprise deal: schedule demo, high priority",
        r##"task("schedule demo"; due=-; who=-; what="enterprise"#Opportunity; prio=High)"##,
    );
    check(
        "Create a task: send proposal to Acme by Friday",
        r##"task("send proposal"; due=2026-11-20; who=-; what="acme"; prio=-)"##,
    );
    check(
        "remind me next tuesday to call sarah chen",
        r##"task("call sarah chen"; due=2026-11-24; who="sarah chen"; what=-; prio=-)"##,
    );
    check(
        "Mark my Acme follow-up task as complete.",
        r##"complete("acme follow-up"#Task/mine)"##,
    );
    check(
        "close my overdue tasks",
        r##"complete({Task mine overdue})"##,
    );
    check(
        "complete the pricing call task",
        r##"complete("pricing call"#Task)"##,
    );
}

#[test]
fn paraphrases_records_roles_reassign() {
    check(
        "Create a contact: John Doe, VP Sales at Initech, john@abcd.com.",
        r##"create(Contact; person=john|doe; name=-; account="initech"#Account; company=-; Title="vp sales", Email=john@abcd.com)"##,
    );
    check(
        "Create a new deal for Initech, $50k",
        r##"create(Opportunity; person=-; name=-; account="initech"#Account; company=-; Amount=$50000)"##,
    );
    check(
        "new lead Sam Flynn from ENCOM",
        r##"create(Lead; person=sam|flynn; name=-; account=-; company=encom; )"##,
    );
    check(
        "make Jane Smith the decision maker on the Globex deal",
        r##"role("jane smith"#Contact; "globex"#Opportunity; Decision Maker)"##,
    );
    check(
        "Change Alex Smith's role on Acme from Influencer to Decision Maker.",
        r##"role("alex smith"#Contact; "acme"#Opportunity; Decision Maker)"##,
    );
    check(
        "give the Initech Renewal to Alex Johnson",
        r##"reassign("initech renewal"; alex johnson)"##,
    );
    check(
        "assign all my open cases to Priya Patel",
        r##"reassign({Case mine open}; priya patel)"##,
    );
}

#[test]
fn paraphrases_questions_undo_help() {
    check(
        "Show me deals closing this quarter",
        r##"ask(List; {Opportunity closing=2026-10-01..2026-12-31})"##,
    );
    check(
        "Find all Opportunities over $100k",
        r##"ask(List; {Opportunity over=100000})"##,
    );
    check(
        "How many deals do I have?",
        r##"ask(Count; {Opportunity mine})"##,
    );
    check(
        "How's my pipeline?",
        r##"ask(List; {Opportunity mine open})"##,
    );
    check(
        "What's the status of the Enterprise opportunity?",
        r##"ask(Field; "enterprise"#Opportunity)"##,
    );
    check("Find john@acme.com", r##"ask(LookUp; "john@acme.com")"##);
    check(
        "list my open opportunities in the tech sector over 50k",
        r##"ask(List; {Opportunity mine open industry=Technology over=50000})"##,
    );
    check(
        "show my overdue tasks",
        r##"ask(List; {Task mine overdue})"##,
    );
    check("undo", "undo(1)");
    check("undo the last 2 commands", "undo(2)");
    check("help", "help(-)");
    check("what can you do", "help(-)");
}

#[test]
fn compound_commands_keep_order_and_references() {
    check(
        "update the titan deal to negotiation then log a call with pepper potts about it: she signed",
        r##"update("titan"#Opportunity; ?=Negotiation/Review) | call(who="pepper potts"; what="titan"#Opportunity<-0; subj=-; desc="she signed"; dur=-; date=-)"##,
    );
    check(
        "create a contact for Miles Dyson at Cyberdyne and add him as the technical buyer on Cyberdyne Robotics Analytics",
        r##"create(Contact; person=miles|dyson; name=-; account="cyberdyne"#Account; company=-; ) | role("miles dyson"#Contact@cyberdyne<-0*; "cyberdyne robotics analytics"#Opportunity; Technical Buyer)"##,
    );
    check(
        "show all my overdue tasks and mark them as done",
        r##"complete({Task mine overdue})"##,
    );
    check(
        "move project titan to proposal, set the amount on that deal to 80k",
        r##"update("project titan"; ?=Proposal/Price Quote) | update("project titan"<-0; Amount=80000)"##,
    );
}

#[test]
fn notes_keep_their_text_whole() {
    check(
        "add a note to initech renewal that legal and procurement both signed off",
        r##"note("initech renewal"; "legal and procurement both signed off")"##,
    );
    check(
        "add a note to acme corp: we should update the pricing and send it friday",
        r##"note("acme corp"; "we should update the pricing and send it friday")"##,
    );
}

#[test]
fn unknown_phrases_are_not_understood_with_suggestions() {
    for text in [
        "make me a sandwich",
        "",
        "   ",
        "purple monkey dishwasher",
        "' OR 1=1 --",
    ] {
        let parsed = p(text);
        assert!(parsed.is_not_understood(), "{text}: {}", sig(text));
        if let Intent::NotUnderstood(n) = &parsed.clauses[0].intent {
            assert_eq!(n.suggestions.len(), 3, "{text}");
        }
    }
}

#[test]
fn more_paraphrases_not_in_the_corpus() {
    let cases: &[(&str, &str)] = &[
        (
            "change Project Titan's stage to negotiation",
            r##"update("project titan"; StageName=Negotiation/Review)"##,
        ),
        (
            "set project titan to negotiation stage",
            r##"update("project titan"; StageName=Negotiation/Review)"##,
        ),
        (
            "set project titan to negotiation",
            r##"update("project titan"; ?=Negotiation/Review)"##,
        ),
        (
            "update the amount for initech renewal to 92,000 dollars",
            r##"update("initech renewal"; Amount=$92000)"##,
        ),
        (
            "move hooli cloud migration's close date to end of next month",
            r##"update("hooli cloud migration"; CloseDate=2026-12-31)"##,
        ),
        (
            "log a call with Jane Smith about the Globex Enterprise License, discussed payment terms",
            r##"call(who="jane smith"; what="globex enterprise license"; subj=-; desc="discussed payment terms"; dur=-; date=-)"##,
        ),
        (
            "create a reminder to send the contract to Acme next Monday",
            r##"task("send the contract"; due=2026-11-23; who=-; what="acme"; prio=-)"##,
        ),
        (
            "add a task for Initech Renewal: prepare the SOW, due Friday",
            r##"task("prepare the sow"; due=2026-11-20; who=-; what="initech renewal"; prio=-)"##,
        ),
        (
            "mark the Send renewal quote task as done",
            r##"complete("send renewal quote"#Task)"##,
        ),
        (
            "I finished the pricing call",
            r##"complete("pricing call"#Task)"##,
        ),
        (
            "add a contact Jane Doe at Acme",
            r##"create(Contact; person=jane|doe; name=-; account="acme"#Account; company=-; )"##,
        ),
        (
            "new contact: Jane Doe, jane@acme.com",
            r##"create(Contact; person=jane|doe; name=-; account=-; company=-; Email=jane@acme.com)"##,
        ),
        (
            "who is the VP at Edge Communications",
            r##"ask(LookUp; "vp"@edge communications)"##,
        ),
        (
            "what deals do I have closing this month",
            r##"ask(List; {Opportunity mine closing=2026-11-01..2026-11-30})"##,
        ),
        (
            "how many deals do I have closing this month",
            r##"ask(Count; {Opportunity mine closing=2026-11-01..2026-11-30})"##,
        ),
        (
            "show me the globex enterprise license",
            r##"ask(LookUp; "globex enterprise license")"##,
        ),
        (
            "what's the amount on initech renewal",
            r##"ask(Field; "initech renewal")"##,
        ),
        (
            "push Initech Renewal out two weeks",
            r##"update("initech renewal"; CloseDate>>0m14d)"##,
        ),
        (
            "push the hooli deal by a month",
            r##"update("hooli"#Opportunity; CloseDate>>1m0d)"##,
        ),
        (
            "bump the amount on titan by 5k",
            r##"update("titan"; Amount+=5000)"##,
        ),
        (
            "can you mark the globex deal as won",
            r##"update("globex"#Opportunity; ?=Closed Won)"##,
        ),
        (
            "please log a call with sarah chen",
            r##"call(who="sarah chen"; what=-; subj=-; desc=-; dur=-; date=-)"##,
        ),
        (
            "add note to acme corp - they want to move forward",
            r##"note("acme corp"; "they want to move forward")"##,
        ),
        (
            "Assign the Initech Renewal to me",
            r##"reassign("initech renewal"; me)"##,
        ),
        ("how many cases are open", r##"ask(Count; {Case open})"##),
        (
            "show my tasks due this week",
            r##"ask(List; {Task mine closing=2026-11-16..2026-11-22})"##,
        ),
        (
            "list all open cases for Acme",
            r##"ask(List; {Case open account=acme})"##,
        ),
        (
            "show opportunities in the proposal stage",
            r##"ask(List; {Opportunity stage=Proposal/Price Quote})"##,
        ),
        (
            "show my deals over 100k closing next month",
            r##"ask(List; {Opportunity mine closing=2026-12-01..2026-12-31 over=100000})"##,
        ),
        (
            "mark all tasks for Acme as done",
            r##"complete({Task account=acme})"##,
        ),
        (
            "escalate the acme case",
            r##"update("acme"#Case; StageName=Escalated)"##,
        ),
        (
            "schedule a follow-up with Sarah Chen next week",
            r##"task("follow up"; due=2026-11-23; who="sarah chen"; what=-; prio=-)"##,
        ),
        (
            "remind me on Friday to send the contract",
            r##"task("send the contract"; due=2026-11-20; who=-; what=-; prio=-)"##,
        ),
        ("undo last change", "undo(1)"),
        (
            "associate Jane Doe with the Acme opportunity as a decision maker",
            r##"role("jane doe"#Contact; "acme"#Opportunity; Decision Maker)"##,
        ),
        (
            "link sarah chen to the globex deal",
            r##"role("sarah chen"#Contact; "globex"#Opportunity; -)"##,
        ),
        (
            "add Sarah Chen to the Globex Enterprise License as an influencer",
            r##"role("sarah chen"#Contact; "globex enterprise license"#Opportunity; Influencer)"##,
        ),
        (
            "set the amount to 92k on initech renewal",
            r##"update("initech renewal"; Amount=92000)"##,
        ),
        (
            "move the close date on titan out a week",
            r##"update("titan"; CloseDate>>0m7d)"##,
        ),
        (
            "give me the status on project titan",
            r##"ask(Status; "project titan")"##,
        ),
        (
            "set Jane Smith's email to jane@globex.com",
            r##"update("jane smith"; Email=jane@globex.com)"##,
        ),
        (
            "change the phone number for sarah chen to 555-123-4567",
            r##"update("sarah chen"; Phone=555-123-4567)"##,
        ),
        (
            "update acme corp's industry to technology",
            r##"update("acme corp"; Industry=Technology)"##,
        ),
        (
            "Update Acme: stage to Negotiation, close date to June 30, forecast to Commit.",
            r##"update("acme"; StageName=Negotiation/Review, CloseDate=2027-06-30, ForecastCategoryName=Commit)"##,
        ),
        (
            "okay so um set the uh close date on the initech renewal to december the fifteenth",
            r##"update("initech renewal"; CloseDate=2026-12-15)"##,
        ),
        (
            "uh create a new opportunity for hooli two hundred fifty k closing end of next quarter",
            r##"create(Opportunity; person=-; name=-; account="hooli"#Account; company=-; Amount=250000, CloseDate=2027-03-31)"##,
        ),
        (
            "log a thirty minute call with sarah chen she wants pricing by friday",
            r##"call(who="sarah chen"; what=-; subj=-; desc="she wants pricing by friday"; dur=1800; date=-)"##,
        ),
        (
            "remind me in three days to check in with richard hendricks",
            r##"task("check in"; due=2026-11-21; who="richard hendricks"; what=-; prio=-)"##,
        ),
        (
            "set the probability on hooli cloud migration to seventy five percent",
            r##"update("hooli cloud migration"; Probability=75%)"##,
        ),
        (
            "mark the pricing call for monsters inc done",
            r##"complete("pricing call"#Task~monsters inc)"##,
        ),
        (
            "create contact sam flynn at encom sam at encom dot com",
            r##"create(Contact; person=sam|flynn; name=-; account="encom"#Account; company=-; Email=sam@encom.com)"##,
        ),
        (
            "set amount on initech renewal to one point five million",
            r##"update("initech renewal"; Amount=1500000)"##,
        ),
        (
            "move blue sun to closed lost and add a note that they went with a competitor",
            r##"update("blue sun"; ?=Closed Lost) | note("blue sun"<-0; "they went with a competitor")"##,
        ),
        (
            "update the globex deal to negotiation and set the next step to send redlines",
            r##"update("globex"#Opportunity; ?=Negotiation/Review) | update("globex"#Opportunity<-0; NextStep="send redlines")"##,
        ),
        (
            "create a new contact for Jane Doe at ACME Corp then log a call with her: intro call went well",
            r##"create(Contact; person=jane|doe; name=-; account="acme corp"#Account; company=-; ) | call(who="jane doe"#Contact@acme corp<-0*; what=-; subj=-; desc="intro call went well"; dur=-; date=-)"##,
        ),
    ];
    check_cases(cases);
}

#[test]
fn paraphrases_round_three() {
    let cases: &[(&str, &str)] = &[
        (
            "switch the titan opp to proposal",
            r##"update("titan"#Opportunity; ?=Proposal/Price Quote)"##,
        ),
        (
            "move Project Titan into negotiation",
            r##"update("project titan"; ?=Negotiation/Review)"##,
        ),
        (
            "the titan deal is now closed won",
            r##"update("titan"#Opportunity; ?=Closed Won)"##,
        ),
        (
            "Stark Security Suite is closed lost",
            r##"update("stark security suite"; ?=Closed Lost)"##,
        ),
        (
            "we lost the stark deal",
            r##"update("stark"#Opportunity; ?=Closed Lost)"##,
        ),
        (
            "sarah chen is the economic buyer on globex enterprise license",
            r##"role("sarah chen"#Contact; "globex enterprise license"#Opportunity; Economic Buyer)"##,
        ),
        (
            "set titan's close date to the end of the month",
            r##"update("titan"; CloseDate=2026-11-30)"##,
        ),
        (
            "change the close date on titan to two weeks from today",
            r##"update("titan"; CloseDate=2026-12-02)"##,
        ),
        (
            "log call with sarah chen re globex: discussed pricing",
            r##"call(who="sarah chen"; what="globex"; subj=-; desc="discussed pricing"; dur=-; date=-)"##,
        ),
        (
            "I just got off a call with sarah chen, she wants a demo next week",
            r##"call(who="sarah chen"; what=-; subj=-; desc="she wants a demo next week"; dur=-; date=-)"##,
        ),
        (
            "create a high priority task to review the contract by tomorrow",
            r##"task("review the contract"; due=2026-11-19; who=-; what=-; prio=High)"##,
        ),
        (
            "remind me to send the deck to jane smith on monday",
            r##"task("send the deck"; due=2026-11-23; who="jane smith"; what=-; prio=-)"##,
        ),
        (
            "what's happening with the globex deal",
            r##"ask(Status; "globex"#Opportunity)"##,
        ),
        ("tell me about acme corp", r##"ask(LookUp; "acme corp")"##),
        (
            "pull up the hooli cloud migration",
            r##"ask(LookUp; "hooli cloud migration")"##,
        ),
        (
            "which deals are closing this month",
            r##"ask(List; {Opportunity closing=2026-11-01..2026-11-30})"##,
        ),
        (
            "do I have any overdue tasks",
            r##"ask(List; {Task mine overdue})"##,
        ),
        (
            "transfer ownership of titan to alex johnson",
            r##"reassign("titan"; alex johnson)"##,
        ),
        (
            "the pricing call is done",
            r##"complete("pricing call"#Task)"##,
        ),
        (
            "update the amount on all my deals in negotiation to 100k",
            r##"update({Opportunity mine stage=Negotiation/Review}; Amount=100000)"##,
        ),
        (
            "set all my overdue tasks to high priority",
            r##"update({Task mine overdue}; Priority=High)"##,
        ),
        (
            "close out the initech deal as won",
            r##"update("initech"#Opportunity; ?=Closed Won)"##,
        ),
        (
            "set the amount on titan to ninety-two thousand",
            r##"update("titan"; Amount=92000)"##,
        ),
        (
            "close date on initech renewal to Dec. 15 please",
            r##"update("initech renewal"; CloseDate=2026-12-15)"##,
        ),
        (
            "push the titan close date to tomorrow morning",
            r##"update("titan"; CloseDate=2026-11-19)"##,
        ),
        (
            "push titan out a couple of weeks",
            r##"update("titan"; CloseDate>>0m14d)"##,
        ),
        (
            "remind me friday next week to call richard",
            r##"task("call richard"; due=2026-11-27; who="richard"; what=-; prio=-)"##,
        ),
        (
            "create a task to call jane smith tomorrow at 10",
            r##"task("call jane smith"; due=2026-11-19; who="jane smith"; what=-; prio=-)"##,
        ),
        (
            "log a call with globex: they are evaluating raviga",
            r##"call(who="globex"; what=-; subj=-; desc="they are evaluating raviga"; dur=-; date=-)"##,
        ),
        (
            "add a note on the stark deal they signed the MSA",
            r##"note("stark"#Opportunity; "they signed the msa")"##,
        ),
        (
            "show me all cases for wayne enterprises",
            r##"ask(List; {Case account=wayne enterprises})"##,
        ),
        ("how many leads do we have", r##"ask(Count; {Lead})"##),
        ("list my leads", r##"ask(List; {Lead mine})"##),
        (
            "find deals closing next quarter over 500k",
            r##"ask(List; {Opportunity closing=2027-01-01..2027-03-31 over=500000})"##,
        ),
        (
            "what are my tasks for today",
            r##"ask(List; {Task mine closing=2026-11-18..2026-11-18})"##,
        ),
        (
            "show me my calls this week",
            r##"ask(List; {Task mine closing=2026-11-16..2026-11-22})"##,
        ),
        ("undo the last three changes", r##"undo(3)"##),
        ("help me with notes", r##"help(notes)"##),
        (
            "mark case 00001003 high priority",
            r##"update(""#Case&00001003; Priority=High)"##,
        ),
        (
            "update case 00001001 status to working and add a note that the customer called back",
            r##"update(""#Case&00001001; StageName=Working) | note(""#Case&00001001<-0; "the customer called back")"##,
        ),
        (
            "create a lead for Sam Flynn at ENCOM",
            r##"create(Lead; person=sam|flynn; name=-; account=-; company=encom; )"##,
        ),
        (
            "add a new opportunity called Hooli Expansion for Hooli, 300k, closing end of next quarter",
            r##"create(Opportunity; person=-; name=hooli expansion; account="hooli"#Account; company=-; Amount=300000, CloseDate=2027-03-31)"##,
        ),
        (
            "add Jane Doe as a contact at Acme Corp",
            r##"create(Contact; person=jane|doe; name=-; account="acme corp"#Account; company=-; )"##,
        ),
        (
            "set the renewal date on acme corp to march 1st",
            r##"update("acme corp"; Renewal_Date__c=2027-03-01)"##,
        ),
        (
            "move all my open deals in the tech sector closing this quarter to negotiation",
            r##"update({Opportunity mine open industry=Technology closing=2026-10-01..2026-12-31}; ?=Negotiation/Review)"##,
        ),
        (
            "set the budget approved on stark security suite to yes",
            r##"update("stark security suite"; Budget_Approved__c=true)"##,
        ),
        (
            "set stark security suite's budget to not approved",
            r##"update("stark security suite"; Budget_Approved__c=false)"##,
        ),
    ];
    check_cases(cases);
}

#[test]
fn paraphrases_questions_statements_and_tasks() {
    let cases: &[(&str, &str)] = &[
        (
            "what stage is project titan in",
            r##"ask(Field; "project titan")"##,
        ),
        (
            "how much is the initech renewal worth",
            r##"ask(Field; "initech renewal")"##,
        ),
        (
            "when does project titan close",
            r##"ask(Field; "project titan")"##,
        ),
        (
            "who owns the globex deal",
            r##"ask(Field; "globex"#Opportunity)"##,
        ),
        (
            "jane smith's new email is jane@x.com",
            r##"update("jane smith"; Email=jane@x.com)"##,
        ),
        (
            "the amount on titan should be 80k",
            r##"update("titan"; Amount=80000)"##,
        ),
        ("add 10k to titan", r##"update("titan"; Amount+=10000)"##),
        (
            "create an opportunity for acme called acme expansion worth 50k",
            r##"create(Opportunity; person=-; name=acme expansion; account="acme"#Account; company=-; Amount=50000)"##,
        ),
        (
            "complete my follow up with sarah chen",
            r##"complete("follow up"#Task/mine~sarah chen)"##,
        ),
        (
            "set a reminder for friday to call jane",
            r##"task("call jane"; due=2026-11-20; who="jane"; what=-; prio=-)"##,
        ),
        (
            "create a task for tomorrow to call jane",
            r##"task("call jane"; due=2026-11-19; who="jane"; what=-; prio=-)"##,
        ),
        (
            "remind me to call jane on friday at 3pm",
            r##"task("call jane"; due=2026-11-20; who="jane"; what=-; prio=-)"##,
        ),
        ("mark titan won", r##"update("titan"; ?=Closed Won)"##),
        (
            "show me the contacts at acme",
            r##"ask(List; {Contact account=acme})"##,
        ),
    ];
    check_cases(cases);
}

#[test]
fn compounds_repairs_and_name_field_collisions() {
    let cases: &[(&str, &str)] = &[
        (
            "update the stark deal to negotiation then push it out two weeks",
            r##"update("stark"#Opportunity; ?=Negotiation/Review) | update("stark"#Opportunity<-0; CloseDate>>0m14d)"##,
        ),
        (
            "add a contact named Lucius Fox at Wayne Enterprises and make him the technical buyer on the wayne security upgrade",
            r##"create(Contact; person=lucius|fox; name=-; account="wayne enterprises"#Account; company=-; ) | role("lucius fox"#Contact@wayne enterprises<-0*; "wayne security upgrade"#Opportunity; Technical Buyer)"##,
        ),
        (
            "look up sarah chen and log a call with her about the globex deal",
            r##"ask(LookUp; "sarah chen") | call(who="sarah chen"<-0; what="globex"#Opportunity; subj=-; desc=-; dur=-; date=-)"##,
        ),
        (
            "log a call with richard hendricks, he wants the compression pilot extended, and remind me to send the contract friday",
            r##"call(who="richard hendricks"; what=-; subj=-; desc="he wants the compression pilot extended"; dur=-; date=-) | task("send the contract"; due=2026-11-20; who=-; what=-; prio=-)"##,
        ),
        (
            "move the hooli deal to proposal also set its amount to 120k",
            r##"update("hooli"#Opportunity; ?=Proposal/Price Quote) | update("hooli"#Opportunity<-0; Amount=120000)"##,
        ),
        (
            "mark the budget as approved on the titan deal and move it to closed won",
            r##"update("titan"#Opportunity; Budget_Approved__c=true) | update("titan"#Opportunity<-0; ?=Closed Won)"##,
        ),
        (
            "escalate case 00001005 and add a note that the customer is unhappy",
            r##"update(""#Case&00001005; StageName=Escalated) | note(""#Case&00001005<-0; "the customer is unhappy")"##,
        ),
        (
            "create a task to review pricing for the initech renewal next tuesday high priority",
            r##"task("review pricing"; due=2026-11-24; who=-; what="initech renewal"; prio=High)"##,
        ),
        (
            "set the next step on project titan to \"schedule exec meeting, then send MSA\"",
            r##"update("project titan"; NextStep="schedule exec meeting, then send msa")"##,
        ),
        (
            "add a note to project titan: \"pricing approved; legal next\"",
            r##"note("project titan"; "pricing approved; legal next")"##,
        ),
        (
            "okay um so like update the uh initech renewal you know to closed won",
            r##"update("initech renewal"; ?=Closed Won)"##,
        ),
        (
            "set the amount on initech renewal to 92k no wait 95k",
            r##"update("initech renewal"; Amount=95000)"##,
        ),
        (
            "update the I mean set the close date on project titan to friday",
            r##"update("project titan"; CloseDate=2026-11-20)"##,
        ),
        (
            "show me all my open opportunities in healthcare",
            r##"ask(List; {Opportunity mine open industry=Healthcare})"##,
        ),
        (
            "how many cases do I have open",
            r##"ask(Count; {Case mine open})"##,
        ),
        (
            "what's the status of case 00001001",
            r##"ask(Field; ""#Case&00001001)"##,
        ),
        (
            "find contacts at hooli",
            r##"ask(List; {Contact account=hooli})"##,
        ),
        (
            "reassign all my overdue tasks to alex johnson",
            r##"reassign({Task mine overdue}; alex johnson)"##,
        ),
        (
            "mark my tasks for the acme deal as complete",
            r##"complete({Task mine account=acme})"##,
        ),
        (
            "change the stage on all my deals closing this month to commit",
            r##"update({Opportunity mine closing=2026-11-01..2026-11-30}; StageName=Commit)"##,
        ),
        ("undo the last two", r##"undo(2)"##),
        (
            "update initech renewal to closed won",
            r##"update("initech renewal"; ?=Closed Won)"##,
        ),
    ];
    check_cases(cases);
}

/// General rules behind the held-out phrasings: change lists after a first change or after the
/// record, values without "to", reassign synonyms, "about <topic>" on calls, names cut before
/// "he/she/they", "to <person>" in task subjects, "worth N" amounts, check-in tasks.
#[test]
fn paraphrases_general_rules() {
    let cases: &[(&str, &str)] = &[
        // a change list after the first change, joined by "and" or commas
        (
            "set the stage on globex enterprise license to proposal and amount to 120k",
            r##"update("globex enterprise license"; StageName=Proposal/Price Quote, Amount=120000)"##,
        ),
        (
            "update close date on hooli cloud migration to next friday, next step to send redlines",
            r##"update("hooli cloud migration"; CloseDate=2026-11-27, NextStep="send redlines")"##,
        ),
        (
            "set stage to negotiation and probability to 60 percent on the acme deal",
            r##"update("acme"#Opportunity; StageName=Negotiation/Review, Probability=60%)"##,
        ),
        // record first, "field value" items
        (
            "Initech Renewal: amount 95k, close date december 15",
            r##"update("initech renewal"; Amount=95000, CloseDate=2026-12-15)"##,
        ),
        (
            "for hooli cloud migration: stage negotiation and probability 70%",
            r##"update("hooli cloud migration"; StageName=Negotiation/Review, Probability=70%)"##,
        ),
        // a value without "to"
        (
            "make the close date on project titan next friday",
            r##"update("project titan"; CloseDate=2026-11-27)"##,
        ),
        (
            "make project titan's amount 1.2 million",
            r##"update("project titan"; Amount=1200000)"##,
        ),
        (
            "change the stage on stark security suite to closed lost",
            r##"update("stark security suite"; StageName=Closed Lost)"##,
        ),
        // a boolean field, record after the value
        (
            "set budget approved to yes for stark security suite",
            r##"update("stark security suite"; Budget_Approved__c=true)"##,
        ),
        // reassign synonyms
        (
            "hand off the globex enterprise license to alex johnson",
            r##"reassign("globex enterprise license"; alex johnson)"##,
        ),
        (
            "pass initech renewal over to sam okafor",
            r##"reassign("initech renewal"; sam okafor)"##,
        ),
        (
            "let alex johnson take over the hooli cloud migration",
            r##"reassign("hooli cloud migration"; alex johnson)"##,
        ),
        (
            "sam okafor should own project titan now",
            r##"reassign("project titan"; sam okafor)"##,
        ),
        // calls: "about <topic>" is the description; a name stops before "he/she/they"
        (
            "log a call with jane smith about the renewal timeline",
            r##"call(who="jane smith"; what=-; subj=-; desc="renewal timeline"; dur=-; date=-)"##,
        ),
        (
            "log a call with Jane Smith about the Globex Enterprise License",
            r##"call(who="jane smith"; what="globex enterprise license"; subj=-; desc=-; dur=-; date=-)"##,
        ),
        (
            "log a call with pepper potts she needs pricing by friday",
            r##"call(who="pepper potts"; what=-; subj=-; desc="she needs pricing by friday"; dur=-; date=-)"##,
        ),
        // tasks: "to <person>" is the who, "to <company>" the what
        (
            "remind me to email the proposal to Richard Hendricks tomorrow",
            r##"task("email the proposal"; due=2026-11-19; who="richard hendricks"; what=-; prio=-)"##,
        ),
        (
            "remind me to send the quote to monsters inc tomorrow",
            r##"task("send the quote"; due=2026-11-19; who=-; what="monsters inc"; prio=-)"##,
        ),
        // check-ins are tasks
        (
            "mark the weekly check in with sarah chen as done",
            r##"complete("weekly check in"#Task~sarah chen)"##,
        ),
        // "worth N", "valued at N" in new records
        (
            "create a new deal for Hooli valued at $250k closing in March",
            r##"create(Opportunity; person=-; name=-; account="hooli"#Account; company=-; Amount=$250000, CloseDate=2027-03-31)"##,
        ),
    ];
    check_cases(cases);
}

#[test]
fn picklist_values_said_whole_and_stages_are_not_owners() {
    let cases: &[(&str, &str)] = &[
        // "value" is an Amount alias, but "value proposition" is a stage said whole
        (
            "bump project titan to value proposition",
            r##"update("project titan"; ?=Value Proposition)"##,
        ),
        (
            "move the acme renewal to value prop",
            r##"update("acme renewal"; ?=Value Proposition)"##,
        ),
        // "move X to stage Y": a stage, not a person called "stage negotiation"
        (
            "move titan to stage negotiation",
            r##"update("titan"; StageName=Negotiation/Review)"##,
        ),
        (
            "move titan to negotiation stage",
            r##"update("titan"; StageName=Negotiation/Review)"##,
        ),
        // a person whose surname is a field word is still a person
        (
            "move the initech deal to jordan price",
            r##"reassign("initech"#Opportunity; jordan price)"##,
        ),
    ];
    check_cases(cases);
}

#[test]
fn set_by_raise_or_drop_make_x_amount_calls_about_a_record_and_field_is_value_clauses() {
    let cases: &[(&str, &str)] = &[
        (
            "drop the amount on monsters inc laugh energy pilot to 65k",
            r##"update("monsters inc laugh energy pilot"; Amount=65000)"##,
        ),
        (
            "raise hooli cloud migration's amount to 1.6m",
            r##"update("hooli cloud migration"; Amount=1600000)"##,
        ),
        (
            "make project titan 500 grand",
            r##"update("project titan"; Amount=500000)"##,
        ),
        (
            "i just had a call with sarah connor about the skynet expansion, she needs security sign off",
            r##"call(who="sarah connor"; what="skynet expansion"; subj=-; desc="she needs security sign off"; dur=-; date=-)"##,
        ),
        (
            "globex facilities add-on is in proposal now and the amount is 72k",
            r##"update("globex facilities add-on"; ?=Proposal/Price Quote) | update("globex facilities add-on"<-0; Amount=72000)"##,
        ),
        (
            "move titan to negotiation and its amount is 72k",
            r##"update("titan"; ?=Negotiation/Review) | update("titan"<-0; Amount=72000)"##,
        ),
        // still a difference with "by"
        (
            "lower the amount on initech renewal by 5k",
            r##"update("initech renewal"; Amount-=5000)"##,
        ),
    ];
    check_cases(cases);
}

#[test]
fn meetings_and_cases() {
    check_cases(&[
        (
            "schedule a meeting with pepper potts on the titan deal tuesday at 3pm about the phased rollout",
            "meeting(phased rollout; 2026-11-24; 15:00; 30m; who=\"pepper potts\"; what=\"titan\"#Opportunity)",
        ),
        (
            "book a 1 hour meeting with don draper next monday at 2pm",
            "meeting(-; 2026-11-23; 14:00; 60m; who=\"don draper\"; what=-)",
        ),
        (
            "open a case for acme corp: login page broken, high priority",
            "case(login page broken; \"acme corp\"#Account; -; High)",
        ),
    ]);
}
