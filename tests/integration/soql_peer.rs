//! Peer suite: the SOQL parser against jetstreamapp/soql-parser-js's own test cases
//! (tests/fixtures/soql, MIT, see LICENSE there).
//!
//! - `soql-parser-js-isvalid.json`: every query must be accepted or rejected as expected.
//! - `soql-parser-js-testcases.json`: every query must parse to the expected structure. Our AST is
//!   converted to soql-parser-js's JSON shape for the compared parts (fields, sObject, alias, where,
//!   groupBy, having, orderBy, limit, offset, usingScope, for/update, WITH), and both sides are
//!   normalised (their WHERE linked list with paren counts becomes a boolean tree).
//!
//! Left out: cases that only exist because soql-parser-js has an `allowApexBindVariables` option
//! (Apex binds are rejected by the REST API and by us); they are counted and listed.

use regex::Regex;
use sayso::soql::{self, *};
use serde_json::{Map, Value as Json, json};

fn fixture(name: &str) -> Vec<Json> {
    let path = format!("{}/tests/fixtures/soql/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {path}: {e}"))
}

/// Whether the case exercises Apex bind variables, which the REST API (and we) reject.
fn uses_apex_binds(case: &Json) -> bool {
    let allowed = case
        .pointer("/options/allowApexBindVariables")
        .and_then(Json::as_bool)
        .unwrap_or(false);
    let bind = Regex::new(r":\s*[A-Za-z_]").expect("regex");
    allowed && bind.is_match(case["soql"].as_str().unwrap_or(""))
}

/// Cases where we deliberately disagree with soql-parser-js, with the reason.
const ISVALID_DISAGREEMENTS: &[(i64, &str)] = &[(
    39,
    "`SELECT Name FROM Account OFFSET` (no number): soql-parser-js accepts it, Salesforce answers MALFORMED_QUERY",
)];

/// How one peer case came out.
enum Verdict {
    Pass,
    /// A deliberate disagreement (listed with its reason).
    Disagree,
    Fail(String),
}

/// Runs `check` (case number, query, case) on every case of the fixture `file` but those with
/// Apex binds; prints the tally under `label` and fails listing every failing case. Returns the
/// deliberate disagreements met.
fn check_cases(file: &str, label: &str, check: impl Fn(i64, &str, &Json) -> Verdict) -> Vec<i64> {
    let cases = fixture(file);
    let (mut passed, mut skipped, mut disagreed) = (0, Vec::new(), Vec::new());
    let mut failures = Vec::new();
    for case in &cases {
        let n = case["testCase"].as_i64().unwrap_or(-1);
        if uses_apex_binds(case) {
            skipped.push(n);
            continue;
        }
        match check(n, case["soql"].as_str().unwrap_or(""), case) {
            Verdict::Pass => passed += 1,
            Verdict::Disagree => disagreed.push(n),
            Verdict::Fail(why) => failures.push(why),
        }
    }
    println!(
        "{label}: {passed}/{} passed; {} skipped (Apex binds: {skipped:?}); deliberate disagreements: {disagreed:?}",
        cases.len(),
        skipped.len()
    );
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    disagreed
}

#[test]
fn isvalid_cases_are_accepted_or_rejected_as_expected() {
    let disagreed = check_cases("soql-parser-js-isvalid.json", "isvalid", |n, src, case| {
        let want = case["isValid"].as_bool().unwrap_or(false);
        let got = soql::parse(src);
        if got.is_ok() == want {
            Verdict::Pass
        } else if ISVALID_DISAGREEMENTS.iter().any(|(d, _)| *d == n) {
            Verdict::Disagree
        } else {
            Verdict::Fail(format!("#{n} {src:?}: expected valid={want}, got {got:?}"))
        }
    });
    assert_eq!(
        disagreed.len(),
        ISVALID_DISAGREEMENTS.len(),
        "a listed disagreement now agrees; remove it"
    );
}

#[test]
fn testcases_parse_to_the_expected_structure() {
    check_cases(
        "soql-parser-js-testcases.json",
        "testcases",
        |n, src, case| {
            let q = match soql::parse(src) {
                Ok(q) => q,
                Err(e) => return Verdict::Fail(format!("#{n} {src:?} does not parse: {e}")),
            };
            // The round-trip property holds on every peer query too.
            let again = soql::parse(&soql::render(&q));
            if again.as_ref().ok() != Some(&q) {
                return Verdict::Fail(format!(
                    "#{n} {src:?}: render/parse round trip differs: {again:?}"
                ));
            }
            let want = normalise_query(&case["output"]);
            let got = normalise_query(&query_json(&q, false));
            if want == got {
                Verdict::Pass
            } else {
                Verdict::Fail(format!("#{n} {src:?}\n  want {want}\n  got  {got}"))
            }
        },
    );
}

// ---- our AST → soql-parser-js JSON ----

fn query_json(q: &Query, subquery: bool) -> Json {
    let mut m = Map::new();
    m.insert(
        "fields".into(),
        Json::Array(q.select.iter().map(|i| select_json(q, i)).collect()),
    );
    if subquery {
        m.insert("relationshipName".into(), json!(q.from.name()));
        if q.from.path.len() > 1 {
            m.insert(
                "sObjectPrefix".into(),
                json!(q.from.path[..q.from.path.len() - 1]),
            );
        }
    } else {
        m.insert("sObject".into(), json!(q.from.name()));
    }
    if let Some(a) = &q.from.alias {
        m.insert("sObjectAlias".into(), json!(a));
    }
    if let Some(s) = &q.using_scope {
        m.insert("usingScope".into(), json!(s));
    }
    if let Some(c) = &q.where_clause {
        m.insert("where".into(), condition_tree(c));
    }
    for w in &q.with {
        match w {
            With::SecurityEnforced => m.insert("withSecurityEnforced".into(), json!(true)),
            With::UserMode => m.insert("withAccessLevel".into(), json!("USER_MODE")),
            With::SystemMode => m.insert("withAccessLevel".into(), json!("SYSTEM_MODE")),
            With::DataCategory(filters) => m.insert(
                "withDataCategory".into(),
                json!({"conditions": filters.iter().map(|f| json!({
                    "groupName": f.group, "selector": f.selector.as_str(), "parameters": f.categories
                })).collect::<Vec<_>>()}),
            ),
        };
    }
    if let Some(g) = &q.group_by {
        let items: Vec<Json> = match g.kind {
            GroupByKind::Plain => g.items.iter().map(operand_json).collect(),
            kind => {
                let name = if kind == GroupByKind::Rollup {
                    "ROLLUP"
                } else {
                    "CUBE"
                };
                let params: Vec<Json> = g.items.iter().map(|o| json!(render_operand(o))).collect();
                let raw = format!(
                    "{name}({})",
                    g.items
                        .iter()
                        .map(render_operand)
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                vec![json!({"fn": {"functionName": name, "parameters": params, "rawValue": raw}})]
            }
        };
        m.insert("groupBy".into(), Json::Array(items));
    }
    if let Some(c) = &q.having {
        m.insert("having".into(), condition_tree(c));
    }
    if !q.order_by.is_empty() {
        let items = q
            .order_by
            .iter()
            .map(|o| {
                let mut j = operand_json(&o.target);
                if let Some(d) = o.direction {
                    j["order"] = json!(if d == Direction::Asc { "ASC" } else { "DESC" });
                }
                if let Some(n) = o.nulls {
                    j["nulls"] = json!(if n == Nulls::First { "FIRST" } else { "LAST" });
                }
                j
            })
            .collect();
        m.insert("orderBy".into(), Json::Array(items));
    }
    if let Some(n) = q.limit {
        m.insert("limit".into(), json!(n));
    }
    if let Some(n) = q.offset {
        m.insert("offset".into(), json!(n));
    }
    if let Some(f) = q.for_clause {
        m.insert(
            "for".into(),
            json!(match f {
                For::View => "VIEW",
                For::Reference => "REFERENCE",
                For::Update => "UPDATE",
            }),
        );
    }
    if let Some(u) = q.update {
        m.insert(
            "update".into(),
            json!(if u == Update::Tracking {
                "TRACKING"
            } else {
                "VIEWSTAT"
            }),
        );
    }
    Json::Object(m)
}

fn select_json(q: &Query, item: &SelectItem) -> Json {
    match item {
        SelectItem::Field { path, alias } => {
            let stripped = q.strip_alias(path);
            let prefixed = stripped.len() != path.0.len();
            let mut j = if stripped.len() == 1 {
                json!({"type": "Field", "field": stripped[0]})
            } else {
                json!({
                    "type": "FieldRelationship",
                    "field": stripped[stripped.len() - 1],
                    "relationships": stripped[..stripped.len() - 1],
                    "rawValue": path.to_string(),
                })
            };
            if prefixed {
                j["objectPrefix"] = json!(path.0[0]);
                j["rawValue"] = json!(path.to_string());
            }
            if let Some(a) = alias {
                j["alias"] = json!(a);
            }
            j
        }
        SelectItem::Function { call, alias } => {
            let mut j = call_json(call, true);
            j["type"] = json!("FieldFunctionExpression");
            if let Some(a) = alias {
                j["alias"] = json!(a);
            }
            j
        }
        SelectItem::Fields(kind) => json!({
            "type": "FieldFunctionExpression", "functionName": "FIELDS", "parameters": [kind.as_str()],
            "rawValue": format!("FIELDS({})", kind.as_str()),
        }),
        SelectItem::Subquery(sub) => {
            json!({"type": "FieldSubquery", "subquery": query_json(sub, true)})
        }
        SelectItem::TypeOf(t) => {
            let mut conditions: Vec<Json> = t
                .whens
                .iter()
                .map(|(object, fields)| {
                    json!({"type": "WHEN", "objectType": object, "fieldList": fields.iter().map(|f| f.to_string()).collect::<Vec<_>>()})
                })
                .collect();
            if let Some(fields) = &t.else_fields {
                conditions.push(json!({"type": "ELSE", "fieldList": fields.iter().map(|f| f.to_string()).collect::<Vec<_>>()}));
            }
            json!({"type": "FieldTypeof", "field": t.relationship, "conditions": conditions})
        }
    }
}

/// `in_fields`: soql-parser-js marks `isAggregateFn` only in the select list.
fn call_json(call: &FunctionCall, in_fields: bool) -> Json {
    let params: Vec<Json> = call
        .args
        .iter()
        .map(|a| match a {
            FunctionArg::Field(f) => json!(f.to_string()),
            FunctionArg::Literal(l) => json!(render_literal(l)),
            FunctionArg::Function(f) => call_json(f, in_fields),
        })
        .collect();
    let mut j = json!({
        "functionName": call.function.as_str(),
        "parameters": params,
        "rawValue": render_call(call),
    });
    // soql-parser-js also flags DISTANCE as an aggregate in the select list.
    if in_fields && (call.function.is_aggregate() || call.function == Function::Distance) {
        j["isAggregateFn"] = json!(true);
    }
    j
}

fn render_call(call: &FunctionCall) -> String {
    let mut q = Query::new("X", Vec::new());
    q.order_by.push(OrderItem {
        target: Operand::Function(call.clone()),
        direction: None,
        nulls: None,
    });
    let text = render(&q);
    text.split_once(" ORDER BY ")
        .map(|(_, r)| r.to_string())
        .unwrap_or_default()
}

fn render_operand(o: &Operand) -> String {
    match o {
        Operand::Field(f) => f.to_string(),
        Operand::Function(c) => render_call(c),
    }
}

fn operand_json(o: &Operand) -> Json {
    match o {
        Operand::Field(f) => json!({"field": f.to_string()}),
        Operand::Function(c) => json!({"fn": call_json(c, false)}),
    }
}

fn literal_type(l: &Literal) -> &'static str {
    match l {
        Literal::Null => "NULL",
        Literal::Boolean(_) => "BOOLEAN",
        Literal::Number(n) if n.contains('.') => "DECIMAL",
        Literal::Number(_) => "INTEGER",
        Literal::String(_) => "STRING",
        Literal::Date(_) => "DATE",
        Literal::DateTime(_) => "DATETIME",
        Literal::DateLiteral(DateLiteral::Named(_)) => "DATE_LITERAL",
        Literal::DateLiteral(DateLiteral::WithN(..)) => "DATE_N_LITERAL",
        Literal::Currency { amount, .. } if amount.contains('.') => "DECIMAL_WITH_CURRENCY_PREFIX",
        Literal::Currency { .. } => "INTEGER_WITH_CURRENCY_PREFIX",
    }
}

fn date_n(l: &Literal) -> Option<u32> {
    match l {
        Literal::DateLiteral(DateLiteral::WithN(_, n)) => Some(*n),
        _ => None,
    }
}

fn leaf_json(c: &Comparison) -> Json {
    let mut j = operand_json(&c.lhs);
    j["operator"] = json!(c.op.as_str());
    match &c.rhs {
        soql::Value::Literal(l) => {
            j["value"] = json!(render_literal(l));
            j["literalType"] = json!(literal_type(l));
            if let Some(n) = date_n(l) {
                j["dateLiteralVariable"] = json!(n);
            }
        }
        soql::Value::List(items) => {
            j["value"] = json!(items.iter().map(render_literal).collect::<Vec<_>>());
            let types: Vec<&str> = items.iter().map(literal_type).collect();
            j["literalType"] = if types.iter().all(|t| *t == types[0]) {
                json!(types[0])
            } else {
                json!(types)
            };
            if items.iter().any(|l| date_n(l).is_some()) {
                j["dateLiteralVariable"] = json!(items.iter().map(date_n).collect::<Vec<_>>());
            }
        }
        soql::Value::Subquery(sub) => {
            j["literalType"] = json!("SUBQUERY");
            j["valueQuery"] = query_json(sub, false);
        }
    }
    j
}

/// Our condition as a normalised tree: `{"AND": [..]}`, `{"OR": [..]}`, `{"NOT": x}` or a leaf.
fn condition_tree(c: &Condition) -> Json {
    let tree = match c {
        Condition::And(parts) => {
            json!({"AND": parts.iter().map(condition_tree).collect::<Vec<_>>()})
        }
        Condition::Or(parts) => json!({"OR": parts.iter().map(condition_tree).collect::<Vec<_>>()}),
        Condition::Not(inner) => json!({"NOT": condition_tree(inner)}),
        Condition::Compare(cmp) => json!({"LEAF": leaf_json(cmp)}),
    };
    flatten(tree)
}

/// Merges `AND` inside `AND` (and `OR` inside `OR`): redundant parentheses do not change meaning.
fn flatten(tree: Json) -> Json {
    let Json::Object(m) = &tree else { return tree };
    for op in ["AND", "OR"] {
        if let Some(Json::Array(parts)) = m.get(op) {
            let mut out = Vec::new();
            for p in parts {
                let p = flatten(p.clone());
                match p.get(op) {
                    Some(Json::Array(inner)) => out.extend(inner.iter().cloned()),
                    _ => out.push(p),
                }
            }
            return json!({ op: out });
        }
    }
    tree
}

// ---- soql-parser-js WHERE linked list → the same tree ----

#[derive(Debug, Clone)]
enum Tok {
    Open,
    Close,
    Op(String),
    Leaf(Json),
}

fn their_tokens(node: &Json, out: &mut Vec<Tok>) {
    if node.is_null() {
        return;
    }
    if let Some(left) = node.get("left").filter(|l| !l.is_null()) {
        let opens = left.get("openParen").and_then(Json::as_u64).unwrap_or(0);
        let closes = left.get("closeParen").and_then(Json::as_u64).unwrap_or(0);
        out.extend((0..opens).map(|_| Tok::Open));
        if left.get("field").is_some() || left.get("fn").is_some() {
            let mut leaf = left.clone();
            if let Some(m) = leaf.as_object_mut() {
                m.remove("openParen");
                m.remove("closeParen");
            }
            out.push(Tok::Leaf(leaf));
        }
        out.extend((0..closes).map(|_| Tok::Close));
    }
    if let Some(op) = node.get("operator").and_then(Json::as_str) {
        out.push(Tok::Op(op.to_string()));
    }
    if let Some(right) = node.get("right") {
        their_tokens(right, out);
    }
}

fn their_tree(node: &Json) -> Json {
    let mut toks = Vec::new();
    their_tokens(node, &mut toks);
    let mut pos = 0;
    let tree = tree_expr(&toks, &mut pos);
    assert_eq!(pos, toks.len(), "leftover tokens in {node}");
    flatten(tree)
}

fn tree_expr(toks: &[Tok], pos: &mut usize) -> Json {
    let mut parts = vec![tree_unary(toks, pos)];
    let mut op = None;
    while let Some(Tok::Op(o)) = toks.get(*pos) {
        if o == "NOT" {
            break;
        }
        op = Some(o.clone());
        *pos += 1;
        parts.push(tree_unary(toks, pos));
    }
    match op {
        None => parts.pop().unwrap_or(Json::Null),
        Some(op) => json!({ op: parts }),
    }
}

fn tree_unary(toks: &[Tok], pos: &mut usize) -> Json {
    match toks.get(*pos).cloned() {
        Some(Tok::Op(o)) if o == "NOT" => {
            *pos += 1;
            json!({"NOT": tree_unary(toks, pos)})
        }
        Some(Tok::Open) => {
            *pos += 1;
            let inner = tree_expr(toks, pos);
            if matches!(toks.get(*pos), Some(Tok::Close)) {
                *pos += 1;
            }
            inner
        }
        Some(Tok::Leaf(l)) => {
            *pos += 1;
            json!({"LEAF": l})
        }
        other => json!({"UNEXPECTED": format!("{other:?}")}),
    }
}

// ---- normalisation of both sides ----

const KEYS: &[&str] = &[
    "type",
    "field",
    "relationships",
    "objectPrefix",
    "alias",
    "functionName",
    "parameters",
    "isAggregateFn",
    "subquery",
    "relationshipName",
    "sObjectPrefix",
    "sObjectAlias",
    "conditions",
    "objectType",
    "fieldList",
    "fields",
    "sObject",
    "where",
    "operator",
    "value",
    "literalType",
    "dateLiteralVariable",
    "fn",
    "valueQuery",
    "orderBy",
    "order",
    "nulls",
    "limit",
    "offset",
    "groupBy",
    "having",
    "rawValue",
    "usingScope",
    "for",
    "update",
    "withSecurityEnforced",
    "withAccessLevel",
    "withDataCategory",
    "groupName",
    "selector",
    "AND",
    "OR",
    "NOT",
    "LEAF",
];

/// A query output (theirs or ours) with WHERE/HAVING turned into trees and cosmetic differences
/// (function name case, spaces in raw text, keyword case in values) removed.
fn normalise_query(q: &Json) -> Json {
    let mut q = q.clone();
    if let Some(m) = q.as_object_mut() {
        for key in ["where", "having"] {
            if let Some(w) = m.get(key).cloned() {
                let tree = if w.get("AND").is_some()
                    || w.get("OR").is_some()
                    || w.get("NOT").is_some()
                    || w.get("LEAF").is_some()
                {
                    w
                } else {
                    their_tree(&w)
                };
                m.insert(key.into(), tree);
            }
        }
    }
    normalise(&q, false)
}

fn normalise(v: &Json, in_parameters: bool) -> Json {
    match v {
        Json::Object(m) => {
            let mut out = Map::new();
            for (k, val) in m {
                if !KEYS.contains(&k.as_str()) || (in_parameters && k == "type") {
                    continue;
                }
                let val = match k.as_str() {
                    "functionName" => json!(val.as_str().unwrap_or("").to_ascii_uppercase()),
                    "rawValue" => json!(
                        val.as_str()
                            .unwrap_or("")
                            .replace(' ', "")
                            .to_ascii_uppercase()
                    ),
                    "value" => match val {
                        Json::String(s) => json!(s.to_ascii_uppercase()),
                        Json::Array(a) => json!(
                            a.iter()
                                .map(|s| s.as_str().unwrap_or("").to_ascii_uppercase())
                                .collect::<Vec<_>>()
                        ),
                        other => other.clone(),
                    },
                    "valueQuery" | "subquery" => normalise_query(val),
                    "parameters" => normalise(val, true),
                    _ => normalise(val, false),
                };
                out.insert(k.clone(), val);
            }
            Json::Object(out)
        }
        Json::Array(a) => Json::Array(a.iter().map(|x| normalise(x, in_parameters)).collect()),
        other => other.clone(),
    }
}
