//! Issue 19, lists and files, through the real binary against one sandbox org served in-process:
//!
//! - inline lists ("add these companies as leads: A, B and C", "add X, Y and Z at Vandelay
//!   Industries as contacts", "create accounts for X, Y, Z") create one record per item in one
//!   journaled command; undo deletes them, and keeps (as a conflict) one changed since;
//! - a 5,000-row lead file with 20 rows matching existing leads and contacts, 5 rows repeated in
//!   the file and 3 invalid rows creates exactly the other 4,972 in at most 12 API calls, reports
//!   the 25 skipped and the 3 rejected with their lines; undo deletes exactly what it created;
//! - a small file: the column mapping (labels, aliases, a typo) in a dry run, a phrase naming
//!   its `.csv`, duplicates skipped unless `--allow-duplicates`, exit codes.

use std::sync::OnceLock;

use crate::support::{ADA as ADMIN, Cli, DANA, DANA_ID, Forever, serve_forever};

use serde_json::{Value, json};

/// The org; it lives on a background thread until the test binary exits.
fn org() -> &'static Forever {
    static ORG: OnceLock<Forever> = OnceLock::new();
    ORG.get_or_init(|| serve_forever(sayso::sandbox::SandboxOptions::default()))
}

/// Runs `f` with an administrator's handle on the org.
fn admin<T>(f: impl AsyncFnOnce(&sayso::salesforce::Org) -> T) -> T {
    org().with_org(ADMIN, f)
}

fn query(soql: &str) -> Vec<Value> {
    admin(async |o| o.query_all(soql).await.unwrap())
}

/// Dana's `SAYSO_HOME`, logged in to the org.
fn dana() -> Cli {
    Cli::logged_in(&org().url, DANA)
}

/// What a command must end in: its exit code and status.
type Ends = (i32, &'static str);
const APPLIED: Ends = (0, "applied");

/// Runs `sayso ARGS` in `home`; it must end in `ends`. Returns the last JSON line of stdout.
fn expect(home: &Cli, args: &[&str], (code, status): Ends) -> Value {
    let (got, out, err) = last_json(home, args);
    assert_eq!(
        (got, out["status"].as_str()),
        (code, Some(status)),
        "{args:?}: {out} {err}"
    );
    out
}

/// `sayso run --json FLAGS PHRASE` in `home`; it must end in `ends`. Returns its JSON line.
fn said(home: &Cli, flags: &[&str], phrase: &str, ends: Ends) -> Value {
    expect(home, &run_args(flags, phrase), ends)
}

/// `run --json FLAGS PHRASE`.
fn run_args<'a>(flags: &[&'a str], phrase: &'a str) -> Vec<&'a str> {
    let mut args = vec!["run", "--json"];
    args.extend_from_slice(flags);
    args.push(phrase);
    args
}

/// Says `phrase` (a list) in `home`; it must be applied and create `n` records. Its JSON line
/// and the ids it created.
fn created_by(home: &Cli, phrase: &str, n: usize) -> (Value, Vec<String>) {
    let out = said(home, &[], phrase, APPLIED);
    let ids = created_ids(&out);
    assert_eq!(ids.len(), n, "{phrase}: {out}");
    (out, ids)
}

/// Runs `sayso ARGS` in `home`: (exit code, the last JSON line of stdout, stderr).
fn last_json(home: &Cli, args: &[&str]) -> (i32, Value, String) {
    let (code, lines, err) = home.json(args);
    (code, lines.last().cloned().unwrap_or(Value::Null), err)
}

/// Each query of `expected` finds the number of records it names.
fn assert_counts(expected: &[(&str, usize)]) {
    for (soql, want) in expected {
        assert_eq!(count(soql), *want, "{soql}");
    }
}

fn created_ids(out: &Value) -> Vec<String> {
    out["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["op"] == "create")
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect()
}

/// `SELECT … FROM …` (`select`) of the records `ids`.
fn by_ids(select: &str, ids: &[String]) -> Vec<Value> {
    let ids: Vec<String> = ids.iter().map(|id| sayso::soql::quote_string(id)).collect();
    query(&format!("{select} WHERE Id IN ({})", ids.join(", ")))
}

fn count(soql: &str) -> usize {
    query(soql).len()
}

#[test]
fn inline_lists_create_one_record_each_and_undo_deletes_them() {
    let h = dana();
    created_by(
        &h,
        "create accounts for Kramerica Industries, Pendant Publishing and Bania Comedy",
        3,
    );
    let names = query(
        "SELECT Name FROM Account WHERE Name IN ('Kramerica Industries', 'Pendant Publishing', 'Bania Comedy')",
    );
    assert_eq!(names.len(), 3);

    let (_, leads) = created_by(
        &h,
        "add these companies as leads: Vandelay Industries, Kramerica Industries and Pendant Publishing",
        3,
    );
    let rows = by_ids(
        "SELECT LastName, Company, Status, OwnerId FROM Lead",
        &leads,
    );
    assert_eq!(rows.len(), 3);
    for r in &rows {
        assert_eq!(r["LastName"], "[not provided]", "{r}");
        assert_eq!(r["Status"], "Open - Not Contacted", "{r}");
        assert_eq!(&r["OwnerId"].as_str().unwrap()[..15], &DANA_ID[..15]);
    }

    let (_, contacts) = created_by(
        &h,
        "add Jerry Seinfeld, Elaine Benes and George Costanza at Vandelay Industries as contacts",
        3,
    );
    let mut rows = by_ids(
        "SELECT FirstName, LastName, AccountId FROM Contact",
        &contacts,
    );
    rows.sort_by(|a, b| a["LastName"].as_str().cmp(&b["LastName"].as_str()));
    let people: Vec<String> = rows
        .iter()
        .map(|r| {
            format!(
                "{} {}",
                r["FirstName"].as_str().unwrap(),
                r["LastName"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        people,
        ["Elaine Benes", "George Costanza", "Jerry Seinfeld"]
    );
    // the demo org's Vandelay Industries
    let vandelay = "001Dm0000000016";
    assert!(
        rows.iter()
            .all(|r| &r["AccountId"].as_str().unwrap()[..15] == vandelay),
        "{rows:?}"
    );

    // undo the contacts: exactly those three go
    expect(&h, &["undo", "--json"], APPLIED);
    let left = by_ids("SELECT Id FROM Contact", &contacts);
    assert!(left.is_empty(), "{left:?}");
    assert_counts(&[
        (
            "SELECT Id FROM Account WHERE Name = 'Vandelay Industries'",
            1,
        ),
        ("SELECT Id FROM Account WHERE Name = 'Bania Comedy'", 1),
    ]);

    // someone renames one lead; undoing the leads keeps that one, as a conflict
    std::thread::sleep(std::time::Duration::from_millis(20));
    admin(async |o| {
        o.update("Lead", &leads[1], json!({"Company": "Kramerica Inc"}), None)
            .await
            .unwrap()
    });
    let (code, out, _) = last_json(&h, &["undo", "--json"]);
    assert_eq!(code, 1, "{out}");
    let kept = by_ids("SELECT Id, Company FROM Lead", &leads);
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(kept[0]["Company"], "Kramerica Inc");
    let failures = out["failures"].as_array().unwrap();
    assert_eq!(failures.len(), 1, "{out}");
    assert!(
        failures[0]["error"]
            .as_str()
            .unwrap()
            .contains("changed since it was created"),
        "{out}"
    );
}

/// Seeds `n` leads owned by Dana: "Seed{k} Existing", seed{k}@dup.example, company "Seed Co".
fn seed_leads(n: usize, tag: &str) {
    let records: Vec<Value> = (0..n)
        .map(|k| json!({"attributes": {"type": "Lead"}, "FirstName": format!("{tag}{k}"), "LastName": "Existing",
            "Email": format!("{tag}{k}@dup.example"), "Company": format!("{tag} Co"), "Status": "Open - Not Contacted", "OwnerId": DANA_ID}))
        .collect();
    admin(async |o| o.collection("POST", records, true).await.unwrap());
}

fn seed_contacts(n: usize, tag: &str) {
    let records: Vec<Value> = (0..n)
        .map(|k| json!({"attributes": {"type": "Contact"}, "FirstName": format!("{tag}{k}"), "LastName": "Contact",
            "Email": format!("{tag}{k}@dupc.example"), "OwnerId": DANA_ID}))
        .collect();
    admin(async |o| o.collection("POST", records, true).await.unwrap());
}

#[test]
fn five_thousand_rows_skip_duplicates_reject_bad_rows_and_undo() {
    seed_leads(15, "bigseed");
    seed_contacts(5, "bigseedc");
    let h = dana();
    let mut csv =
        String::from("First Name,Last Name,Email Address,Company Name,Lead Status,Shoe Size\n");
    let mut line = 1;
    let mut dup_lines = Vec::new();
    let mut repeat_lines = Vec::new();
    let mut bad_lines = Vec::new();
    let mut unique = 0;
    let mut k = 0;
    while line < 5001 {
        line += 1;
        let row = match line {
            // existing leads by email (any case), by name and company; existing contacts by email
            l if l % 250 == 7 && dup_lines.len() < 10 => {
                dup_lines.push(l);
                format!(
                    "New,Person{l},BIGSEED{}@DUP.example,Other Co,,",
                    dup_lines.len() - 1
                )
            }
            l if l % 250 == 9 && dup_lines.len() >= 10 && dup_lines.len() < 15 => {
                dup_lines.push(l);
                format!("bigseed{},Existing,,bigseed Co,,42", dup_lines.len() - 1)
            }
            l if l % 250 == 11 && dup_lines.len() >= 15 && dup_lines.len() < 20 => {
                dup_lines.push(l);
                format!(
                    "Any,One{l},bigseedc{}@dupc.example,Some Co,,",
                    dup_lines.len() - 16
                )
            }
            // a row said twice
            l if l % 900 == 450 && repeat_lines.len() < 5 => {
                repeat_lines.push(l);
                format!(
                    "Row,Number{},row{}@import.example,Import Co {},,",
                    k - 1,
                    k - 1,
                    k - 1
                )
            }
            l if l == 1000 || l == 2000 || l == 3000 => {
                bad_lines.push(l);
                match l {
                    1000 => "Bad,Email,not-an-email,Import Co,,".to_string(),
                    2000 => "Bad,Status,bad.status@import.example,Import Co,Maybe,".to_string(),
                    _ => "Nameless,,,,,".to_string(),
                }
            }
            _ => {
                unique += 1;
                k += 1;
                format!(
                    "Row,Number{},row{}@import.example,Import Co {},working - contacted,7",
                    k - 1,
                    k - 1,
                    k - 1
                )
            }
        };
        csv.push_str(&row);
        csv.push('\n');
    }
    assert_eq!(
        (dup_lines.len(), repeat_lines.len(), bad_lines.len()),
        (20, 5, 3)
    );
    assert_eq!(unique, 4972);
    let file = h.path().join("prospects.csv");
    std::fs::write(&file, csv).unwrap();

    let (code, out, err) = last_json(
        &h,
        &run_args(
            &["--yes", "--file", file.to_str().unwrap()],
            "add these as leads",
        ),
    );
    assert_eq!(code, 1, "rows were rejected: {err}");
    assert_eq!(out["status"], "invalid", "{}", out["message"]);
    assert_eq!(out["count"], 4972, "{}", out["message"]);
    let created = created_ids(&out);
    assert_eq!(created.len(), 4972);
    assert!(
        out["api_calls"].as_u64().unwrap() <= 12,
        "api_calls {}",
        out["api_calls"]
    );
    let skipped = out["skipped"].as_array().unwrap();
    let mut lines: Vec<u64> = skipped
        .iter()
        .map(|s| s["line"].as_u64().unwrap())
        .collect();
    lines.sort_unstable();
    let mut want: Vec<u64> = dup_lines
        .iter()
        .chain(&repeat_lines)
        .map(|&l| l as u64)
        .collect();
    want.sort_unstable();
    assert_eq!(lines, want);
    for s in skipped {
        let l = s["line"].as_u64().unwrap() as usize;
        if repeat_lines.contains(&l) {
            assert!(s["matches_line"].as_u64().unwrap() < l as u64, "{s}");
        } else {
            let m = &s["matches"];
            assert!(m["sobject"] == "Lead" || m["sobject"] == "Contact", "{s}");
            assert!(m["id"].as_str().unwrap().len() >= 15, "{s}");
        }
    }
    let rejected = out["rejected"].as_array().unwrap();
    let bad: Vec<u64> = rejected
        .iter()
        .map(|r| r["line"].as_u64().unwrap())
        .collect();
    assert_eq!(bad, [1000, 2000, 3000]);
    assert!(
        rejected[0]["reason"]
            .as_str()
            .unwrap()
            .contains("not an email"),
        "{}",
        rejected[0]
    );
    assert!(
        rejected[1]["reason"].as_str().unwrap().contains("Maybe"),
        "{}",
        rejected[1]
    );
    assert!(
        rejected[2]["reason"].as_str().unwrap().contains("required"),
        "{}",
        rejected[2]
    );
    assert_eq!(out["mapping"]["left_out"], json!(["Shoe Size"]));
    assert_eq!(out["mapping"]["columns"]["Email Address"], "Email");

    let in_org = count("SELECT Id FROM Lead WHERE Email LIKE '%@import.example'");
    assert_eq!(in_org, 4972);

    expect(&h, &["undo", "--json"], APPLIED);
    assert_counts(&[
        ("SELECT Id FROM Lead WHERE Email LIKE '%@import.example'", 0),
        (
            "SELECT Id FROM Lead WHERE Email LIKE 'bigseed%@dup.example'",
            15,
        ),
        (
            "SELECT Id FROM Contact WHERE Email LIKE 'bigseedc%@dupc.example'",
            5,
        ),
    ]);
}

#[test]
fn a_small_file_previews_its_mapping_and_skips_duplicates_unless_allowed() {
    seed_leads(1, "smallseed");
    let h = dana();
    let file = h.path().join("expo.csv");
    std::fs::write(
        &file,
        "First Name,Surname,E-mail,Compnay,Mobile,Notes to self\n\
         Ada,Lovelace,ada@expo.example,Analytical Engines,555-0100,met at booth\n\
         Grace,Hopper,grace@expo.example,Compilers Inc,,\n\
         Dup,Licate,smallseed0@dup.example,Seed Co,,\n",
    )
    .unwrap();
    let f = file.to_str().unwrap();
    let out = expect(
        &h,
        &run_args(&["--dry-run", "--file", f], "add these as leads"),
        (0, "dry_run"),
    );
    let cols = &out["mapping"]["columns"];
    assert_eq!(cols["First Name"], "FirstName", "{out}");
    assert_eq!(cols["Surname"], "LastName");
    assert_eq!(cols["E-mail"], "Email");
    assert_eq!(cols["Compnay"], "Company");
    assert_eq!(cols["Mobile"], "MobilePhone");
    assert_eq!(out["mapping"]["left_out"], json!(["Notes to self"]));
    assert_eq!(out["count"], 2);
    assert_eq!(out["skipped"].as_array().unwrap().len(), 1);

    // the phrase names the file; without --yes nothing is created from a pipe
    let phrase = format!("add the leads in {f}");
    said(&h, &[], &phrase, (1, "needs_confirmation"));
    assert_eq!(
        count("SELECT Id FROM Lead WHERE Email LIKE '%@expo.example'"),
        0
    );

    let out = said(&h, &["--yes"], &phrase, APPLIED);
    assert_eq!(created_ids(&out).len(), 2);
    assert_eq!(out["skipped"][0]["line"], 4);
    assert_eq!(out["skipped"][0]["reason"], "same email");
    assert!(out["rejected"].as_array().unwrap().is_empty());

    let out = expect(
        &h,
        &run_args(
            &["--yes", "--allow-duplicates", "--file", f],
            "add these as leads",
        ),
        APPLIED,
    );
    assert_eq!(created_ids(&out).len(), 3);
    assert_eq!(
        count("SELECT Id FROM Lead WHERE Email = 'smallseed0@dup.example'"),
        2
    );
}

/// A file of updates through a terminal: the preview shows `old → new`, someone changes one of
/// the records before the person says yes, and that one is reported as a conflict and left as
/// the other person made it; the rest are applied.
#[test]
fn a_file_of_updates_guards_each_record_against_changes_made_since_the_preview() {
    use rexpect::reader::Options;
    use rexpect::session::spawn_with_options;

    let h = dana();
    let opps = query(&format!(
        "SELECT Id, Name, Amount FROM Opportunity WHERE OwnerId = '{DANA_ID}' AND IsClosed = false AND Amount != null ORDER BY Name LIMIT 3"
    ));
    assert_eq!(opps.len(), 3);
    let id = |k: usize| opps[k]["Id"].as_str().unwrap().to_string();
    let name2 = opps[2]["Name"].as_str().unwrap().to_string();
    let file = h.path().join("forecast.csv");
    std::fs::write(
        &file,
        format!(
            "Id,Name,Amount,Next Step\n{},,111111,Send forecast\n{},,222222,Send forecast\n,\"{name2}\",333333,Send forecast\n,No Such Deal,1,x\n",
            id(0),
            id(1)
        ),
    )
    .unwrap();
    // a terminal: the file's changes are previewed and asked about
    let mut c = h.sayso(&[
        "run",
        "--file",
        file.to_str().unwrap(),
        "update these opportunities",
    ]);
    c.env("TERM", "dumb");
    let mut p = spawn_with_options(c, Options::new().timeout_ms(Some(30_000))).unwrap();
    p.exp_string("rejected line 5: no Opportunity named `No Such Deal`")
        .unwrap();
    p.exp_string("Amount: ").unwrap();
    p.exp_string("apply 3 change(s)? [y/N]").unwrap();
    // someone else changes the second deal before the person says yes
    admin(async |o| {
        o.update("Opportunity", &id(1), json!({"Amount": 5}), None)
            .await
            .unwrap()
    });
    p.send_line("y").unwrap();
    let rest = p.exp_eof().unwrap();
    assert!(rest.contains("changed by someone else"), "{rest}");
    let now = query(&format!(
        "SELECT Id, Amount, NextStep FROM Opportunity WHERE Id IN ('{}', '{}', '{}') ORDER BY Name",
        id(0),
        id(1),
        id(2)
    ));
    let amounts: Vec<f64> = now.iter().map(|r| r["Amount"].as_f64().unwrap()).collect();
    assert_eq!(amounts, [111_111.0, 5.0, 333_333.0], "{now:?}");
    assert_eq!(now[0]["NextStep"], "Send forecast");
    assert_ne!(
        now[1]["NextStep"], "Send forecast",
        "the conflicting record is left whole"
    );
}

/// Contacts carry no company: a contact row is still checked by its email, and, when it names
/// the account it is added to, by first name, last name and that account.
#[test]
fn a_contact_row_without_a_company_is_checked_by_email_and_by_name_at_its_account() {
    let vandelay = "001Dm0000000016IAA";
    let records = vec![
        json!({"attributes": {"type": "Contact"}, "FirstName": "Kel", "LastName": "Varnsen",
            "AccountId": vandelay, "OwnerId": DANA_ID}),
        json!({"attributes": {"type": "Contact"}, "FirstName": "Bob", "LastName": "Sacamano",
            "Email": "bob.sacamano@nocompany.example", "OwnerId": DANA_ID}),
    ];
    admin(async |o| o.collection("POST", records, true).await.unwrap());
    let h = dana();
    let file = h.path().join("contacts.csv");
    std::fs::write(
        &file,
        format!(
            "First Name,Last Name,Email,Account ID\n\
             kel,VARNSEN,kel.new@vandelay.example,{vandelay}\n\
             Robert,Sacamano,Bob.Sacamano@NoCompany.example,\n\
             Kel,Varnsen,kel.other@elsewhere.example,\n\
             Lloyd,Braun,lloyd@nocompany.example,\n"
        ),
    )
    .unwrap();
    let out = expect(
        &h,
        &run_args(
            &["--yes", "--file", file.to_str().unwrap()],
            "add these as contacts",
        ),
        APPLIED,
    );
    let skipped = out["skipped"].as_array().unwrap();
    let got: Vec<(u64, &str)> = skipped
        .iter()
        .map(|s| (s["line"].as_u64().unwrap(), s["reason"].as_str().unwrap()))
        .collect();
    assert_eq!(
        got,
        [
            (2, "same first name, last name and account"),
            (3, "same email")
        ],
        "{out}"
    );
    assert_eq!(skipped[0]["matches"]["sobject"], "Contact");
    // the same name at no account (or another one) is another person
    assert_eq!(created_ids(&out).len(), 2, "{out}");
    assert_eq!(
        count("SELECT Id FROM Contact WHERE LastName = 'Varnsen'"),
        2
    );
}

/// "add Procter and Gamble and Kramerica as leads": which "and" separates names is read from the
/// org (an account or lead company named with an "and"); when the org knows none, the command
/// is refused as ambiguous, naming the run and the ways to say it with commas.
#[test]
fn a_list_without_commas_is_read_through_the_org_or_refused_never_guessed() {
    let h = dana();
    let out = said(
        &h,
        &["--yes"],
        "add Umbrella and Cyberdyne and Tyrell as leads",
        (1, "ambiguous"),
    );
    let message = out["message"].as_str().unwrap();
    assert!(
        message.contains("\"Umbrella and Cyberdyne and Tyrell\""),
        "{message}"
    );
    assert!(
        message.contains("\"Umbrella and Cyberdyne, Tyrell\""),
        "{message}"
    );
    assert_eq!(
        count("SELECT Id FROM Lead WHERE Company IN ('Umbrella', 'Cyberdyne', 'Tyrell')"),
        0
    );

    admin(async |o| {
        o.collection(
            "POST",
            vec![json!({"attributes": {"type": "Account"}, "Name": "Procter and Gamble"})],
            true,
        )
        .await
        .unwrap()
    });
    let out = said(
        &h,
        &["--yes"],
        "add Procter and Gamble and Kramerica Listco as leads",
        APPLIED,
    );
    assert_eq!(created_ids(&out).len(), 2, "{out}");
    assert_counts(&[
        (
            "SELECT Id FROM Lead WHERE Company = 'Procter and Gamble'",
            1,
        ),
        ("SELECT Id FROM Lead WHERE Company = 'Kramerica Listco'", 1),
        ("SELECT Id FROM Lead WHERE Company = 'Gamble'", 0),
    ]);
}

/// A file above the Bulk threshold is streamed: read in chunks of the job size, each chunk
/// duplicate-checked (a row repeating one of an earlier chunk is still found) and sent in its
/// own Bulk insert job from the journal; every created record comes back in `--json` and undo
/// deletes them all.
#[test]
fn a_file_is_streamed_in_chunks_and_repeats_across_chunks_are_found() {
    let h = dana();
    let mut csv = String::from("Last Name,Company,Email\n");
    for k in 0..1000 {
        csv.push_str(&format!("Chunky{k},Chunk Co,chunk{k}@stream.example\n"));
    }
    // line 1002 repeats line 2 (row 0), 700 rows and two chunks later
    csv.push_str("Chunky0,Chunk Co,CHUNK0@stream.example\n");
    let file = h.path().join("stream.csv");
    std::fs::write(&file, csv).unwrap();
    let out = expect(
        &h,
        &run_args(
            &[
                "--yes",
                "--bulk-threshold",
                "100",
                "--bulk-job-rows",
                "300",
                "--file",
                file.to_str().unwrap(),
            ],
            "add these as leads",
        ),
        APPLIED,
    );
    assert_eq!(out["count"], 1000);
    assert_eq!(created_ids(&out).len(), 1000);
    assert_eq!(out["skipped"][0]["line"], 1002, "{}", out["skipped"]);
    assert_eq!(out["skipped"][0]["matches_line"], 2);
    assert_eq!(
        count("SELECT Id FROM Lead WHERE Email LIKE '%@stream.example'"),
        1000
    );
    expect(&h, &["undo", "--json"], APPLIED);
    assert_eq!(
        count("SELECT Id FROM Lead WHERE Email LIKE '%@stream.example'"),
        0
    );
}

#[test]
fn a_typed_list_of_people_skips_those_already_there_or_said_twice() {
    let h = dana();
    let (out, _) = created_by(
        &h,
        "add Babu Bhatt, Jackie Chiles and Babu Bhatt at Vandelay Industries as contacts",
        2,
    );
    let skipped = out["skipped"].as_array().expect("skipped");
    assert_eq!(skipped.len(), 1, "{out}");
    assert_eq!(
        (
            skipped[0]["line"].as_u64(),
            skipped[0]["matches_line"].as_u64()
        ),
        (Some(3), Some(1))
    );

    // said again with one new person: only the new one is made, the others name their match
    let (out, _) = created_by(
        &h,
        "add Jackie Chiles, Babu Bhatt and Mickey Abbott at Vandelay Industries as contacts",
        1,
    );
    let skipped = out["skipped"].as_array().expect("skipped");
    let matched: Vec<&str> = skipped
        .iter()
        .filter_map(|s| s["matches"]["name"].as_str())
        .collect();
    assert_eq!(matched, ["Jackie Chiles", "Babu Bhatt"], "{out}");
    let rows = query("SELECT Id FROM Contact WHERE LastName IN ('Bhatt', 'Chiles', 'Abbott')");
    assert_eq!(rows.len(), 3, "each person once");
}
