//! Small constructors for the SOQL the resolver sends, built as [`crate::soql`] AST values whose
//! string literals are escaped by [`StringLit`] — user text never becomes SOQL syntax — and rendered
//! to text by [`to_soql`].
//!
//! Owns no SOQL grammar: only the subset the agent emits (field lists, AND/OR/NOT of comparisons,
//! ORDER BY, LIMIT).

use crate::soql::StringLit;
use crate::soql::ast::LikeWildcard;
use crate::soql::ast::{
    Comparison, Condition, Direction, FieldPath, Literal, Operand, Operator, OrderItem, Query,
    SelectItem, Value,
};

/// `SELECT fields FROM object`.
pub fn select(object: &str, fields: &[String]) -> Query {
    Query::new(
        object,
        fields
            .iter()
            .map(|f| SelectItem::Field {
                path: FieldPath(f.split('.').map(str::to_string).collect()),
                alias: None,
            })
            .collect(),
    )
}

fn cmp(field: &str, op: Operator, rhs: Value) -> Condition {
    Condition::Compare(Comparison {
        lhs: Operand::Field(FieldPath(field.split('.').map(str::to_string).collect())),
        op,
        rhs,
    })
}

/// `field = 'text'` (escaped).
pub fn eq_str(field: &str, text: &str) -> Condition {
    cmp(
        field,
        Operator::Eq,
        Value::Literal(Literal::String(StringLit::from_value(text))),
    )
}

/// `field op literal`.
pub fn compare(field: &str, op: Operator, lit: Literal) -> Condition {
    cmp(field, op, Value::Literal(lit))
}

/// `field = null`.
pub fn is_null(field: &str) -> Condition {
    cmp(field, Operator::Eq, Value::Literal(Literal::Null))
}

/// Midnight UTC of a day, as a dateTime literal.
pub fn start_of(d: chrono::NaiveDate) -> Literal {
    Literal::DateTime(format!("{}T00:00:00Z", d.format("%Y-%m-%d")))
}

/// `field != null`.
pub fn is_not_null(field: &str) -> Condition {
    cmp(field, Operator::Ne, Value::Literal(Literal::Null))
}

/// `field = true|false`.
pub fn eq_bool(field: &str, b: bool) -> Condition {
    cmp(field, Operator::Eq, Value::Literal(Literal::Boolean(b)))
}

/// `field LIKE '%word%'` with the word's own `%`, `_`, quotes and backslashes escaped.
pub fn contains(field: &str, word: &str) -> Condition {
    cmp(
        field,
        Operator::Like,
        Value::Literal(Literal::String(StringLit::like_from_value(
            LikeWildcard::Any,
            word,
            LikeWildcard::Any,
        ))),
    )
}

/// `field IN ('a', 'b', …)` (escaped).
pub fn in_strs(field: &str, values: &[String]) -> Condition {
    cmp(
        field,
        Operator::In,
        Value::List(
            values
                .iter()
                .map(|v| Literal::String(StringLit::from_value(v)))
                .collect(),
        ),
    )
}

/// A date literal `YYYY-MM-DD`.
pub fn date(d: chrono::NaiveDate) -> Literal {
    Literal::Date(d.format("%Y-%m-%d").to_string())
}

/// A number literal.
pub fn number(n: f64) -> Literal {
    Literal::Number(if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    })
}

/// AND of the conditions (None when empty).
pub fn and(mut conds: Vec<Condition>) -> Option<Condition> {
    match conds.len() {
        0 => None,
        1 => conds.pop(),
        _ => Some(Condition::And(conds)),
    }
}

/// OR of the conditions (None when empty).
pub fn or(mut conds: Vec<Condition>) -> Option<Condition> {
    match conds.len() {
        0 => None,
        1 => conds.pop(),
        _ => Some(Condition::Or(conds)),
    }
}

/// Adds `ORDER BY field ASC` and a limit.
pub fn order_limit(mut q: Query, field: &str, limit: Option<u64>) -> Query {
    q.order_by.push(OrderItem {
        target: Operand::Field(FieldPath(field.split('.').map(str::to_string).collect())),
        direction: Some(Direction::Asc),
        nulls: None,
    });
    q.limit = limit;
    q
}

/// Renders a query as SOQL text through the shared escaping renderer ([`crate::soql::render`]).
pub fn to_soql(q: &Query) -> String {
    crate::soql::render(q)
}

/// Escapes text for a SOSL search term: every reserved character gets a backslash, and the word is
/// quoted so `AND`/`OR`/`NOT` and wildcards in it stay literal.
pub fn sosl_word(word: &str) -> String {
    let mut out = String::from("\"");
    for c in word.chars() {
        if "?&|!{}[]()^~*:\\\"'+-".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// `FIND {"w1" "w2"} IN NAME FIELDS RETURNING Object(fields LIMIT n), …`: every word must occur
/// in a name field. Words are escaped with [`sosl_word`]; object and field names come from the
/// agent, never from the user.
pub fn sosl_find(words: &[String], returning: &[(String, Vec<String>)], limit: u64) -> String {
    let term: Vec<String> = words.iter().map(|w| sosl_word(w)).collect();
    let ret: Vec<String> = returning
        .iter()
        .map(|(object, fields)| format!("{object}({} LIMIT {limit})", fields.join(", ")))
        .collect();
    format!(
        "FIND {{{}}} IN NAME FIELDS RETURNING {}",
        term.join(" "),
        ret.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn injection_stays_inside_the_literal() {
        let mut q = select("Opportunity", &["Id".into(), "Name".into()]);
        q.where_clause = and(vec![
            contains("Name", "titan' OR Name != 'x"),
            eq_bool("IsClosed", false),
        ]);
        let text = to_soql(&q);
        let parsed = crate::soql::parse(&text).unwrap();
        assert_eq!(parsed.where_clause, q.where_clause);
        assert!(text.contains("\\'"), "{text}");
    }

    #[test]
    fn like_wildcards_are_escaped() {
        let q = {
            let mut q = select("Account", &["Id".into()]);
            q.where_clause = Some(contains("Name", "50%_off\\"));
            q
        };
        let text = to_soql(&q);
        assert!(text.contains("50\\%\\_off"), "{text}");
        assert_eq!(
            crate::soql::parse(&text).unwrap().where_clause,
            q.where_clause
        );
    }

    #[test]
    fn sosl_terms_are_quoted_and_escaped() {
        assert_eq!(sosl_word("titan"), "\"titan\"");
        assert_eq!(sosl_word("a}\" OR {b"), "\"a\\}\\\" OR \\{b\"");
        let q = sosl_find(
            &["pied".into(), "OR".into()],
            &[("Account".into(), vec!["Id".into(), "Name".into()])],
            50,
        );
        assert_eq!(
            q,
            "FIND {\"pied\" \"OR\"} IN NAME FIELDS RETURNING Account(Id, Name LIMIT 50)"
        );
    }
}
