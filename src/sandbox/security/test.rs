//! What each demo user sees of the demo data, checked by running the row filters against the demo
//! CSVs loaded into an in-memory SQLite database (every column TEXT: the filters only compare ids).

use std::collections::BTreeSet;

use rusqlite::Connection;

use super::*;

const DANA: &str = "005Dm0000000003IAA";
const SAM: &str = "005Dm0000000004IAA";
const KINETIC: &str = "005Dm0000000007IAA";

fn db() -> Connection {
    let conn = Connection::open_in_memory().expect("in-memory db");
    for (table, file) in crate::sandbox::seed::demo_csvs().expect("demo data") {
        let text = file.contents_utf8().expect("utf-8 csv");
        let mut rdr = csv::Reader::from_reader(text.as_bytes());
        let headers: Vec<String> = rdr
            .headers()
            .expect("headers")
            .iter()
            .map(str::to_string)
            .collect();
        let cols: Vec<String> = headers.iter().map(|h| format!("\"{h}\" TEXT")).collect();
        conn.execute(
            &format!("CREATE TABLE \"{table}\" ({})", cols.join(", ")),
            [],
        )
        .expect("create");
        let marks = vec!["?"; headers.len()].join(", ");
        let mut stmt = conn
            .prepare(&format!("INSERT INTO \"{table}\" VALUES ({marks})"))
            .expect("prepare");
        for rec in rdr.records() {
            let rec = rec.expect("row");
            let vals: Vec<Option<String>> = rec
                .iter()
                .map(|v| {
                    if v.is_empty() {
                        None
                    } else {
                        Some(v.to_string())
                    }
                })
                .collect();
            stmt.execute(rusqlite::params_from_iter(vals))
                .expect("insert");
        }
    }
    conn
}

struct World {
    conn: Connection,
    policy: Policy,
}

impl World {
    fn new() -> Self {
        World {
            conn: db(),
            policy: Policy::demo().expect("demo policy"),
        }
    }

    fn who(&self, username: &str) -> Principal {
        let scopes = vec!["api".to_string()];
        self.policy
            .principal(username, Some("sayso-cli"), &scopes)
            .expect("known user")
    }

    /// Ids of `object` rows visible to `username` with `access`.
    #[track_caller]
    fn ids(&self, username: &str, object: &str, access: RowAccess) -> BTreeSet<String> {
        let p = self.who(username);
        let filter = self.policy.row_filter(&p, object, "t", access);
        let (sql, params) = match filter {
            None => (format!("SELECT t.\"Id\" FROM \"{object}\" t"), Vec::new()),
            Some(f) => (
                format!("SELECT t.\"Id\" FROM \"{object}\" t WHERE {}", f.sql),
                f.params,
            ),
        };
        let mut stmt = self
            .conn
            .prepare(&sql)
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        let rows = stmt
            .query_map(rusqlite::params_from_iter(params), |r| {
                r.get::<_, String>(0)
            })
            .expect("query");
        rows.map(|r| r.expect("row")).collect()
    }

    #[track_caller]
    fn count(&self, username: &str, object: &str) -> usize {
        self.ids(username, object, RowAccess::Read).len()
    }

    /// Ids of `object` rows whose `column` is one of `owners`.
    fn owned(&self, object: &str, column: &str, owners: &[&str]) -> BTreeSet<String> {
        let mut stmt = self
            .conn
            .prepare(&format!("SELECT \"Id\", \"{column}\" FROM \"{object}\""))
            .expect("prepare");
        let rows = stmt
            .query_map([], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?))
            })
            .expect("query");
        rows.map(|r| r.expect("row"))
            .filter(|(_, o)| o.as_deref().is_some_and(|o| owners.contains(&o)))
            .map(|(id, _)| id)
            .collect()
    }
}

const ADA: &str = "admin@demo.sayso.dev";
const MARIA: &str = "maria.chen@demo.sayso.dev";
const DANA_U: &str = "dana.reyes@demo.sayso.dev";
const SAM_U: &str = "sam.okafor@demo.sayso.dev";
const ALEX_U: &str = "alex.johnson@demo.sayso.dev";
const PRIYA_U: &str = "priya.nair@demo.sayso.dev";
const KINETIC_U: &str = "kinetic.integration@demo.sayso.dev";

#[test]
fn demo_files_parse() {
    let p = Policy::demo().expect("demo policy");
    assert_eq!(p.users().len(), 7);
    assert_eq!(p.config().org_id(), "00DDm0000000001MAA");
    assert_eq!(p.config().connected_apps.len(), 4);
    let k = p.user_by_username(KINETIC_U).expect("kinetic");
    assert_eq!(
        k.permission_sets,
        vec!["Contractor Case Access".to_string()]
    );
}

#[test]
fn dana_sees_her_own_deals_and_every_account() {
    let w = World::new();
    let opps = w.ids(DANA_U, "Opportunity", RowAccess::Read);
    assert_eq!(opps, w.owned("Opportunity", "OwnerId", &[DANA]));
    assert_eq!(opps.len(), 19);
    assert!(
        opps.contains("006Dm0000000001IAA"),
        "Project Titan is Dana's"
    );
    assert_eq!(w.count(DANA_U, "Account"), 24);
    // Account is Read: she edits only her own.
    assert_eq!(
        w.ids(DANA_U, "Account", RowAccess::Edit),
        w.owned("Account", "OwnerId", &[DANA])
    );
    // Case is Private and she owns none.
    assert_eq!(w.count(DANA_U, "Case"), 0);
    // Lead is ReadWrite.
    assert_eq!(w.ids(DANA_U, "Lead", RowAccess::Edit).len(), 12);
}

#[test]
fn reps_do_not_see_each_others_deals() {
    let w = World::new();
    let dana = w.ids(DANA_U, "Opportunity", RowAccess::Read);
    let sam = w.ids(SAM_U, "Opportunity", RowAccess::Read);
    let alex = w.ids(ALEX_U, "Opportunity", RowAccess::Read);
    assert_eq!(sam, w.owned("Opportunity", "OwnerId", &[SAM]));
    assert!(
        !sam.contains("006Dm0000000001IAA"),
        "Sam must not see Project Titan"
    );
    assert!(dana.is_disjoint(&sam) && dana.is_disjoint(&alex) && sam.is_disjoint(&alex));
    // Sam cannot edit Dana's account either.
    assert!(
        !w.ids(SAM_U, "Account", RowAccess::Edit)
            .contains("001Dm0000000001IAA")
    );
}

#[test]
fn maria_sees_her_teams_deals() {
    let w = World::new();
    let all = w.owned(
        "Opportunity",
        "OwnerId",
        &[DANA, SAM, "005Dm0000000005IAA", "005Dm0000000002IAA"],
    );
    assert_eq!(w.ids(MARIA, "Opportunity", RowAccess::Read), all);
    assert_eq!(w.ids(MARIA, "Opportunity", RowAccess::Edit), all);
    assert_eq!(all.len(), 34);
    // …but not the support team's cases.
    assert_eq!(w.count(MARIA, "Case"), 0);
}

#[test]
fn priya_sees_the_cases_she_owns() {
    let w = World::new();
    assert_eq!(
        w.ids(PRIYA_U, "Case", RowAccess::Read),
        w.owned("Case", "OwnerId", &["005Dm0000000006IAA"])
    );
    assert_eq!(w.count(PRIYA_U, "Case"), 13);
    assert_eq!(w.count(PRIYA_U, "Opportunity"), 0);
}

#[test]
fn kinetic_sees_only_its_three_cases() {
    let w = World::new();
    let cases = w.ids(KINETIC_U, "Case", RowAccess::Read);
    let expected: BTreeSet<String> = [
        "500Dm0000000001IAA",
        "500Dm0000000002IAA",
        "500Dm0000000003IAA",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(cases, expected);
    assert_eq!(w.ids(KINETIC_U, "Case", RowAccess::Edit), expected);
    for object in [
        "Account",
        "Contact",
        "Opportunity",
        "Lead",
        "Event",
        "ContentNote",
        "User",
    ] {
        assert_eq!(w.count(KINETIC_U, object), 0, "{object}");
    }
    // Its own task on case 00001001 only.
    assert_eq!(
        w.ids(KINETIC_U, "Task", RowAccess::Read),
        w.owned("Task", "OwnerId", &[KINETIC])
    );
}

#[test]
fn kinetic_field_access_is_the_permission_set() {
    let w = World::new();
    let k = w.who(KINETIC_U);
    let p = &w.policy;
    for f in ["Subject", "Description", "Priority", "CaseNumber"] {
        assert_eq!(p.field_access(&k, "Case", f), FieldAccess::Read, "{f}");
    }
    assert_eq!(p.field_access(&k, "Case", "Status"), FieldAccess::Edit);
    assert_eq!(
        p.field_access(&k, "case", "status"),
        FieldAccess::Edit,
        "names are case-insensitive"
    );
    for f in [
        "OwnerId",
        "AccountId",
        "ContactId",
        "Origin",
        "SLA_Breached__c",
        "Type",
    ] {
        assert_eq!(p.field_access(&k, "Case", f), FieldAccess::Hidden, "{f}");
    }
    assert_eq!(p.field_access(&k, "Case", "Id"), FieldAccess::Read);
    assert_eq!(p.field_access(&k, "Account", "Name"), FieldAccess::Hidden);
    let a = p.object_access(&k, "Case");
    assert!(a.read && a.edit && !a.create && !a.delete && !a.view_all);
    assert!(!p.field_writable(&k, "Case", "CaseNumber", false, FieldWrite::Update));
    assert!(p.field_writable(&k, "Case", "Status", true, FieldWrite::Update));
    assert!(
        !p.field_writable(&k, "Case", "Status", true, FieldWrite::Create),
        "no create on Case"
    );
}

#[test]
fn standard_user_read_only_fields() {
    let w = World::new();
    let d = w.who(DANA_U);
    let p = &w.policy;
    let fields = [
        ("Account", "Tier__c", FieldAccess::Read),
        ("Account", "AnnualRevenue", FieldAccess::Read),
        ("Opportunity", "ForecastCategoryName", FieldAccess::Read),
        ("Opportunity", "StageName", FieldAccess::Edit),
        ("Opportunity", "CreatedDate", FieldAccess::Read),
        // User: read, no edit.
        ("User", "Title", FieldAccess::Read),
        ("OauthToken", "AppName", FieldAccess::Hidden),
    ];
    for (object, field, want) in fields {
        assert_eq!(p.field_access(&d, object, field), want, "{object}.{field}");
    }
    assert!(!p.object_access(&d, "OauthToken").read);
}

#[test]
fn ada_sees_everything() {
    let w = World::new();
    for (object, file) in crate::sandbox::seed::demo_csvs().expect("demo data") {
        let text = file.contents_utf8().expect("utf-8 csv");
        let rows = text.lines().filter(|l| !l.is_empty()).count() - 1;
        assert_eq!(w.count(ADA, object), rows, "{object}");
        assert_eq!(w.ids(ADA, object, RowAccess::Edit).len(), rows, "{object}");
    }
    let a = w.who(ADA);
    assert_eq!(
        w.policy.field_access(&a, "Account", "Tier__c"),
        FieldAccess::Edit
    );
    assert!(w.policy.object_access(&a, "OauthToken").delete);
}

#[test]
fn contacts_follow_their_account() {
    let w = World::new();
    // Account is Read, so every rep reads every contact on an account…
    assert_eq!(w.count(SAM_U, "Contact"), 40);
    // …but edits only those on accounts they may edit, or that they own.
    let sam_edit = w.ids(SAM_U, "Contact", RowAccess::Edit);
    assert!(
        !sam_edit.contains("003Dm0000000001IAA"),
        "Sarah Chen is on Dana's Acme Corp"
    );
    assert!(
        w.ids(DANA_U, "Contact", RowAccess::Edit)
            .contains("003Dm0000000001IAA")
    );
}

#[test]
fn activities_follow_what_then_who() {
    let w = World::new();
    // Priya: her own task, plus the task on case 00001004 she owns… which is her own; Dana's tasks
    // hang off Dana's deals, which Priya cannot see.
    let priya = w.ids(PRIYA_U, "Task", RowAccess::Read);
    assert!(priya.contains("00TDm0000000021MAA"));
    assert!(!priya.contains("00TDm0000000001MAA"));
    // Maria sees her reps' tasks through their deals.
    let maria = w.ids(MARIA, "Task", RowAccess::Read);
    assert!(maria.contains("00TDm0000000001MAA") && maria.contains("00TDm0000000015MAA"));
    // Sam sees Dana's account-level task (Account is Read), not her deal tasks.
    let sam = w.ids(SAM_U, "Task", RowAccess::Read);
    assert!(sam.contains("00TDm0000000014MAA"));
    assert!(!sam.contains("00TDm0000000001MAA"));
    assert!(
        !w.ids(SAM_U, "Task", RowAccess::Edit)
            .contains("00TDm0000000014MAA")
    );
    // Events likewise.
    assert_eq!(w.count(SAM_U, "Event"), 0);
    assert_eq!(w.count(MARIA, "Event"), 4);
}

#[test]
fn notes_and_links_follow_the_linked_record() {
    let w = World::new();
    // Both notes are Dana's and linked to her deals.
    assert_eq!(w.count(DANA_U, "ContentNote"), 2);
    assert_eq!(w.count(MARIA, "ContentNote"), 2);
    assert_eq!(w.count(SAM_U, "ContentNote"), 0);
    assert_eq!(w.count(SAM_U, "ContentDocumentLink"), 0);
    assert_eq!(w.count(MARIA, "ContentDocumentLink"), 2);
    assert_eq!(
        w.count(DANA_U, "OpportunityContactRole"),
        w.count(DANA_U, "OpportunityContactRole")
    );
    let ocr = w.ids(SAM_U, "OpportunityContactRole", RowAccess::Read);
    assert!(
        ocr.is_empty(),
        "every contact role is on a deal Sam cannot see: {ocr:?}"
    );
}

#[test]
fn users_added_at_runtime_join_the_hierarchy() {
    let w = World::new();
    let new_rep = UserInfo {
        id: "005Dm0000000099IAA".into(),
        username: "new.rep@demo.sayso.dev".into(),
        profile: "Standard User".into(),
        role: "Account Executive".into(),
        active: true,
        ..Default::default()
    };
    w.policy.upsert_user(new_rep);
    let m = w.who(MARIA);
    assert!(
        w.policy
            .covered_owner_ids(&m)
            .contains(&"005Dm0000000099IAA".to_string())
    );
    let n = w.who("new.rep@demo.sayso.dev");
    assert_eq!(
        w.policy.covered_owner_ids(&n),
        vec!["005Dm0000000099IAA".to_string()]
    );
}

#[test]
fn api_refusals() {
    let p = Policy::demo().expect("demo");
    let ok = p
        .principal(DANA_U, Some("sayso-cli"), &["api".to_string()])
        .expect("dana");
    assert_eq!(p.check_api(&ok), Ok(()));
    let id_only = p
        .principal(DANA_U, Some("sayso-cli"), &["id".to_string()])
        .expect("dana");
    assert_eq!(p.check_api(&id_only), Err(ApiRefusal::MissingApiScope));
    let full = p
        .principal(ADA, Some("sandbox-admin"), &["full".to_string()])
        .expect("ada");
    assert_eq!(p.check_api(&full), Ok(()));
}

#[test]
fn filters_bind_parameters_and_never_inline_ids() {
    let w = World::new();
    let d = w.who(DANA_U);
    let f = w
        .policy
        .row_filter(&d, "Task", "t", RowAccess::Read)
        .expect("filtered");
    assert!(!f.sql.contains(DANA), "{}", f.sql);
    assert_eq!(f.sql.matches('?').count(), f.params.len());
    // Without an alias the table name qualifies the columns.
    let f = w
        .policy
        .row_filter(&d, "Opportunity", "", RowAccess::Read)
        .expect("filtered");
    assert!(
        f.sql.starts_with("\"Opportunity\".\"OwnerId\""),
        "{}",
        f.sql
    );
}
