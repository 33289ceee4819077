//! Table-driven parser and renderer tests (compiled only under `cfg(test)`).

use super::*;
use proptest::prelude::*;

/// Parses `src`, checks that rendering and re-parsing gives the same tree, and returns it.
#[track_caller]
fn ok(src: &str) -> Query {
    let q = match parse(src) {
        Ok(q) => q,
        Err(e) => panic!("{src:?} should parse: {e}"),
    };
    let text = render(&q);
    match parse(&text) {
        Ok(again) => assert_eq!(again, q, "round trip changed the tree: {src:?} → {text:?}"),
        Err(e) => panic!("rendered text {text:?} of {src:?} does not parse: {e}"),
    }
    q
}

/// Checks that `src` is rejected and the error mentions `needle`.
#[track_caller]
fn bad(src: &str, needle: &str) {
    match parse(src) {
        Ok(q) => panic!("{src:?} should be rejected, parsed as {q:?}"),
        Err(e) => {
            let text = format!("{e} / {}", e.salesforce_message(src));
            assert!(
                text.contains(needle),
                "error for {src:?} is {text:?}, wanted {needle:?}"
            );
        }
    }
}

fn where_of(src: &str) -> Condition {
    ok(src).where_clause.expect("a WHERE clause")
}

fn cmp(c: &Condition) -> &Comparison {
    match c {
        Condition::Compare(c) => c,
        other => panic!("comparison expected, got {other:?}"),
    }
}

#[test]
fn accepts_the_whole_grammar() {
    let cases = [
        "SELECT Id, Name, Account.Name, Owner.Profile.Name FROM Contact",
        "SELECT Id, What.Name, Who.Name FROM Task",
        "SELECT Name, (SELECT LastName, Email FROM Contacts WHERE Email != null ORDER BY LastName LIMIT 5) FROM Account",
        "SELECT Account.Name, (SELECT Contact.LastName FROM Account.Contacts) FROM Account",
        "SELECT TYPEOF What WHEN Account THEN Phone, NumberOfEmployees WHEN Opportunity THEN Amount ELSE Name END FROM Event",
        "SELECT COUNT() FROM Lead",
        "SELECT COUNT(Id) c, COUNT_DISTINCT(Company), SUM(Amount), AVG(Amount) a, MIN(CloseDate), MAX(CloseDate) FROM Opportunity",
        "SELECT FORMAT(Amount), toLabel(StageName), convertCurrency(Amount) FROM Opportunity",
        "SELECT CALENDAR_YEAR(CloseDate) y, FISCAL_QUARTER(CloseDate), SUM(Amount) FROM Opportunity GROUP BY CALENDAR_YEAR(CloseDate), FISCAL_QUARTER(CloseDate)",
        "SELECT DAY_ONLY(CreatedDate), HOUR_IN_DAY(convertTimezone(CreatedDate)) FROM Task GROUP BY DAY_ONLY(CreatedDate), HOUR_IN_DAY(convertTimezone(CreatedDate))",
        "SELECT LeadSource, Rating, GROUPING(LeadSource) g, COUNT(Name) FROM Lead GROUP BY ROLLUP(LeadSource, Rating)",
        "SELECT Type, COUNT(Id) FROM Account GROUP BY CUBE(Type) HAVING COUNT(Id) > 1 ORDER BY COUNT(Id) DESC",
        "SELECT Name FROM Contact WHERE DISTANCE(MailingAddress, GEOLOCATION(37.7, -122.4), 'mi') < 20",
        "SELECT FIELDS(ALL) FROM Account LIMIT 200",
        "SELECT FIELDS(STANDARD), FIELDS(CUSTOM) FROM Account",
        "SELECT Id FROM Account USING SCOPE mine",
        "SELECT Id FROM Account WHERE Name = 'a' OR Name != 'b' OR Name <> 'c'",
        "SELECT Id FROM Opportunity WHERE Amount < 1 AND Amount <= 2.5 AND Amount > -3 AND Amount >= 4",
        "SELECT Id FROM Account WHERE Name LIKE 'Ac%' AND Type IN ('a', 'b') AND Type NOT IN ('c')",
        "SELECT Id FROM Account WHERE Interests__c INCLUDES ('a;b', 'c') AND Interests__c EXCLUDES ('d')",
        "SELECT Id FROM Account WHERE (Name = 'a' OR Name = 'b') AND NOT (Type = null)",
        "SELECT Id FROM Account WHERE IsDeleted = false AND IsPartner = TRUE",
        "SELECT Id FROM Opportunity WHERE CloseDate = 2026-01-31 AND CreatedDate > 2026-01-01T00:00:00Z",
        "SELECT Id FROM Opportunity WHERE CreatedDate > 2026-01-01T00:00:00.000+0000 AND CreatedDate < 2026-02-01T00:00:00-08:00",
        "SELECT Id FROM Opportunity WHERE Amount > USD100 AND Amount < usd200.50 AND Amount != EUR-5",
        "SELECT Id FROM Account WHERE Id IN (SELECT AccountId FROM Opportunity WHERE IsClosed = false)",
        "SELECT Id FROM Account WHERE Id NOT IN (SELECT AccountId FROM Case)",
        "SELECT Id FROM Account WITH SECURITY_ENFORCED",
        "SELECT Id FROM Account WITH USER_MODE",
        "SELECT Id FROM Account WITH SYSTEM_MODE",
        "SELECT Title FROM KnowledgeArticleVersion WITH DATA CATEGORY Geography__c AT (usa__c, uk__c) AND Product__c BELOW all__c",
        "SELECT Name FROM Account ORDER BY Name DESC NULLS LAST, Id ASC NULLS FIRST, CreatedDate LIMIT 10 OFFSET 20",
        "SELECT Id FROM Account FOR VIEW",
        "SELECT Id FROM Account FOR REFERENCE",
        "SELECT Id FROM Account FOR UPDATE",
        "SELECT Id FROM FAQ__kav FOR VIEW UPDATE TRACKING",
        "SELECT Id FROM FAQ__kav UPDATE VIEWSTAT",
        "select id from account where name like 'x' order by name asc nulls last limit 1",
        "SELECT c.Name, c.Account.Name FROM Contact c WHERE c.LastName = 'x'",
        "SELECT Id /* c */ FROM Account // trailing",
    ];
    for src in cases {
        ok(src);
    }
}

#[test]
fn every_date_literal_parses() {
    for d in NamedDate::ALL {
        let q = where_of(&format!(
            "SELECT Id FROM Opportunity WHERE CloseDate = {}",
            d.as_str()
        ));
        assert_eq!(
            cmp(&q).rhs,
            Value::Literal(Literal::DateLiteral(DateLiteral::Named(*d)))
        );
    }
    for d in NDate::ALL {
        let q = where_of(&format!(
            "SELECT Id FROM Opportunity WHERE CloseDate = {}:7",
            d.as_str().to_lowercase()
        ));
        assert_eq!(
            cmp(&q).rhs,
            Value::Literal(Literal::DateLiteral(DateLiteral::WithN(*d, 7)))
        );
    }
    let q = where_of("SELECT Id FROM Account WHERE CreatedDate IN (TODAY, LAST_N_DAYS:4)");
    assert_eq!(
        cmp(&q).rhs,
        Value::List(vec![
            Literal::DateLiteral(DateLiteral::Named(NamedDate::Today)),
            Literal::DateLiteral(DateLiteral::WithN(NDate::LastNDays, 4)),
        ])
    );
}

#[test]
fn string_escapes_per_spec() {
    let q = where_of(r#"SELECT Id FROM Account WHERE Name = 'a\'b\"c\\d\ne\rf\tg\bh\fi\u00e9\N'"#);
    let Value::Literal(Literal::String(s)) = &cmp(&q).rhs else {
        panic!("string expected")
    };
    assert_eq!(s.value(), "a'b\"c\\d\ne\rf\tg\u{8}h\u{c}i\u{e9}\n");
    let q = where_of(r"SELECT Id FROM Account WHERE Name LIKE 'Ter\%\_%'");
    let Value::Literal(Literal::String(s)) = &cmp(&q).rhs else {
        panic!("string expected")
    };
    assert_eq!(
        s.like_pattern(),
        vec![
            LikePart::Char('T'),
            LikePart::Char('e'),
            LikePart::Char('r'),
            LikePart::Char('%'),
            LikePart::Char('_'),
            LikePart::Any
        ]
    );
    bad(
        r"SELECT Id FROM Account WHERE Name = 'a\qb'",
        "Invalid string literal",
    );
    bad(
        "SELECT Id FROM Account WHERE Name = 'open",
        "unterminated string",
    );
}

#[test]
fn condition_structure_follows_parentheses() {
    let c = where_of("SELECT Id FROM Account WHERE (A = 1 OR B = 2) AND NOT C = 3 AND (D = 4)");
    let Condition::And(parts) = &c else {
        panic!("AND expected, got {c:?}")
    };
    assert_eq!(parts.len(), 3);
    assert!(matches!(&parts[0], Condition::Or(v) if v.len() == 2));
    assert!(matches!(&parts[1], Condition::Not(_)));
    assert!(matches!(&parts[2], Condition::Compare(_)));
    let c = where_of("SELECT Id FROM Account WHERE Id NOT IN ('1') ");
    assert_eq!(cmp(&c).op, Operator::NotIn);
    let c = where_of("SELECT Id FROM Account WHERE Type <> 'x'");
    assert_eq!(cmp(&c).op, Operator::Ne);
}

#[test]
fn rejects_malformed_queries() {
    bad(
        "SELECT Id FROM Account WHERE A = 1 OR B = 2 AND C = 3",
        "mixing AND and OR",
    );
    bad(
        "SELECT Name FROM Account WHERE Id = :foo",
        "Bind variables only allowed in Apex code",
    );
    bad(
        "SELECT Name FROM Account WHERE Id IN :ids",
        "Bind variables only allowed in Apex code",
    );
    bad(
        "SELECT Name FROM Account WHERE Id = foo",
        "unexpected token: 'foo'",
    );
    bad("SELECT Name FROM Account WHERE", "'<EOF>'");
    bad(
        "SELECT Name FROM Account HAVING COUNT(Id) > 1",
        "HAVING requires a GROUP BY",
    );
    bad(
        "SELECT Name FROM Account LIMIT -1",
        "unexpected token: '-1'",
    );
    bad(
        "SELECT Contact..FirstName FROM Contact",
        "unexpected token: '.'",
    );
    bad(
        "SELECT Name (SELECT Id FROM Contacts) FROM Account",
        "Unknown function: Name",
    );
    bad("SELECT FOO(Name) FROM Account", "Unknown function: FOO");
    bad("SELECT Name, GEOLOCATION(1, 2) FROM Account", "GEOLOCATION");
    bad(
        "SELECT Name FROM Contact WHERE DISTANCE(MailingAddress, GEOLOCATION(1, 2), 'm') < 2",
        "DISTANCE takes",
    );
    bad("SELECT Name FROM Account; DELETE", "unexpected token: ';'");
    bad(
        "SELECT Name FROM Account WHERE Name = 'a' fds",
        "unexpected token: 'fds'",
    );
    bad(
        "SELECT Name FROM Account WHERE CloseDate = LAST_N_DAYS",
        "`:`",
    );
    bad("", "SELECT");
}

#[test]
fn salesforce_error_message_shape() {
    let src = "SELECT Name FROM Account WHERE";
    let e = parse(src).unwrap_err();
    assert_eq!(
        e.salesforce_message(src),
        "\nSELECT Name FROM Account WHERE\n                              ^\nERROR at Row:1:Column:31\nunexpected token: '<EOF>'"
    );
    assert_eq!(e.span, 30..30);
    assert_eq!(e.found, "'<EOF>'");
}

#[test]
fn from_alias_is_stripped_on_request() {
    let q = ok("SELECT c.Account.Name, Name FROM Contact c");
    let SelectItem::Field { path, .. } = &q.select[0] else {
        panic!()
    };
    assert_eq!(
        q.strip_alias(path),
        &["Account".to_string(), "Name".to_string()][..]
    );
    let SelectItem::Field { path, .. } = &q.select[1] else {
        panic!()
    };
    assert_eq!(q.strip_alias(path), &["Name".to_string()][..]);
}

#[test]
fn renderer_never_emits_syntax_from_bad_numbers() {
    let mut q = Query::new(
        "Account",
        vec![SelectItem::Field {
            path: FieldPath::field("Id"),
            alias: None,
        }],
    );
    q.where_clause = Some(Condition::Compare(Comparison {
        lhs: Operand::Field(FieldPath::field("Amount")),
        op: Operator::Eq,
        rhs: Value::Literal(Literal::Number("1 OR Name != null".to_string())),
    }));
    assert_eq!(
        render(&q),
        "SELECT Id FROM Account WHERE Amount = '1 OR Name != null'"
    );
}

/// Issue 17 point 1: deep nesting is a parse error, not a stack overflow; the limit is exact.
#[test]
fn nesting_is_bounded() {
    let parens = |n: usize| {
        format!(
            "SELECT Id FROM Account WHERE {}Name = 'x'{}",
            "(".repeat(n),
            ")".repeat(n)
        )
    };
    ok(&parens(parser::MAX_NESTING));
    bad(&parens(parser::MAX_NESTING + 1), "nested too deeply");
    bad(&parens(3000), "nested too deeply");
    let nots = |n: usize| {
        format!(
            "SELECT Id FROM Account WHERE {}Name = 'x'",
            "NOT ".repeat(n)
        )
    };
    ok(&nots(parser::MAX_NESTING));
    bad(&nots(1000), "nested too deeply");
    let calls = format!(
        "SELECT {}Amount{} FROM Opportunity",
        "SUM(".repeat(3000),
        ")".repeat(3000)
    );
    bad(&calls, "nested too deeply");
    let inner = "Id IN (SELECT AccountId FROM Contact WHERE ".repeat(500);
    bad(
        &format!(
            "SELECT Id FROM Account WHERE {inner}Name = 'x'{}",
            ")".repeat(500)
        ),
        "nested too deeply",
    );
}

proptest! {
    #[test]
    fn arbitrary_text_never_panics(src in "\\PC{0,80}") {
        let _ = lexer::tokenize(&src);
        let _ = parse(&src);
    }

    #[test]
    fn soql_like_text_never_panics(src in "(SELECT|FROM|WHERE|\\(|\\)|,|'|\\\\|=|<|>|!|:|[A-Za-z_]{1,6}|[0-9]{1,5}|-|\\.| |NOT|IN|AND|OR|TYPEOF|WHEN|END|LAST_N_DAYS|USD)*") {
        if let Ok(q) = parse(&src) {
            let text = render(&q);
            prop_assert_eq!(parse(&text).ok(), Some(q));
        }
    }

    #[test]
    fn any_string_value_round_trips(value in "\\PC{0,40}") {
        let lit = StringLit::from_value(&value);
        prop_assert_eq!(lit.value(), value.clone());
        let soql = format!("SELECT Id FROM Account WHERE Name = '{}'", lit.raw());
        let q = parse(&soql).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let Some(Condition::Compare(c)) = q.where_clause else { return Err(TestCaseError::fail("one comparison")) };
        prop_assert_eq!(c.rhs, Value::Literal(Literal::String(lit)));
    }
}
