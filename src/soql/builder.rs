//! A small typed builder for SOQL queries that carry user text.
//!
//! Owns the safe way in for values the agent did not write itself: names are validated as SOQL
//! identifiers, strings go through [`StringLit::from_value`], LIKE text through
//! [`StringLit::like_from_value`] (its `%` and `_` escaped), ids through [`RecordId`]. The result is
//! an ordinary [`Query`]; [`crate::soql::render`](fn@crate::soql::render) turns it into text.
//!
//! Two ways in: the checked constructors ([`QueryBuilder`], [`eq_str`], [`like`], [`id_in`]) for
//! names that come from outside (admin commands, the shell), returning [`BuildError`]; and the
//! infallible ones ([`select`], [`eq_text`], [`contains`], [`in_strs`], [`and`], [`to_soql`], …)
//! for API names the agent read from a describe. SOSL search terms are escaped by [`sosl_word`].

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};

use super::ast::*;
use super::render::render;
use crate::id::{IdError, RecordId};

/// Why a builder input was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    /// Not a SOQL identifier (`[A-Za-z_][A-Za-z0-9_]*`, dotted for paths).
    #[error("`{0}` is not a valid SOQL name")]
    InvalidName(String),
    /// Not a record id.
    #[error(transparent)]
    InvalidId(#[from] IdError),
    /// NaN or infinite numbers have no SOQL form.
    #[error("`{0}` is not a finite number")]
    NotFinite(String),
    /// An IN list needs at least one value.
    #[error("an IN list needs at least one value")]
    EmptyList,
}

/// Whether `name` is a single SOQL identifier.
pub fn is_valid_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn checked_name(name: &str) -> Result<String, BuildError> {
    if is_valid_name(name) {
        Ok(name.to_string())
    } else {
        Err(BuildError::InvalidName(name.to_string()))
    }
}

/// A validated dotted field path (`Account.Owner.Name`).
///
/// # Errors
/// [`BuildError::InvalidName`] when any part is not an identifier.
pub fn field(path: &str) -> Result<FieldPath, BuildError> {
    let parts: Result<Vec<String>, BuildError> = path.split('.').map(checked_name).collect();
    parts
        .map(FieldPath)
        .map_err(|_| BuildError::InvalidName(path.to_string()))
}

/// The body of a SOQL string literal for `text` (quotes and backslashes escaped), without quotes.
pub fn escape_string(text: &str) -> String {
    StringLit::from_value(text).raw().to_string()
}

/// `text` as a complete quoted SOQL string literal: `it's` → `'it\'s'`.
pub fn quote_string(text: &str) -> String {
    format!("'{}'", escape_string(text))
}

/// The body of a LIKE pattern matching `text` literally (`%` and `_` escaped too), without quotes.
pub fn escape_like(text: &str) -> String {
    StringLit::like_from_value(LikeWildcard::None, text, LikeWildcard::None)
        .raw()
        .to_string()
}

impl Literal {
    /// A string literal with exactly this value.
    pub fn string(value: &str) -> Literal {
        Literal::String(StringLit::from_value(value))
    }

    /// A record id literal (ids are compared as strings in SOQL).
    pub fn id(id: &RecordId) -> Literal {
        Literal::String(StringLit::from_value(id.as_str()))
    }

    /// An integer literal.
    pub fn integer(n: i64) -> Literal {
        Literal::Number(n.to_string())
    }

    /// A decimal literal.
    ///
    /// # Errors
    /// [`BuildError::NotFinite`] for NaN and infinities.
    pub fn decimal(n: f64) -> Result<Literal, BuildError> {
        if !n.is_finite() {
            return Err(BuildError::NotFinite(n.to_string()));
        }
        let text = if n.fract() == 0.0 && n.abs() < 1e15 {
            format!("{n:.1}")
        } else {
            n.to_string()
        };
        Ok(Literal::Number(text))
    }

    /// A date literal.
    pub fn date(d: NaiveDate) -> Literal {
        Literal::Date(d.format("%Y-%m-%d").to_string())
    }

    /// A datetime literal (UTC, `Z`).
    pub fn datetime(t: DateTime<Utc>) -> Literal {
        Literal::DateTime(t.to_rfc3339_opts(SecondsFormat::Secs, true))
    }
}

/// How a LIKE filter matches the user's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LikeMatch {
    /// The whole value equals the text (case-insensitively).
    Exact,
    /// The value starts with the text.
    StartsWith,
    /// The value ends with the text.
    EndsWith,
    /// The value contains the text.
    Contains,
}

fn checked_compare(path: &str, op: Operator, rhs: Value) -> Result<Condition, BuildError> {
    Ok(Condition::Compare(Comparison {
        lhs: Operand::Field(field(path)?),
        op,
        rhs,
    }))
}

/// `path op literal`.
///
/// # Errors
/// [`BuildError::InvalidName`] for a bad field path.
pub fn cmp(path: &str, op: Operator, value: Literal) -> Result<Condition, BuildError> {
    checked_compare(path, op, Value::Literal(value))
}

/// `path = 'text'`, with `text` escaped.
///
/// # Errors
/// [`BuildError::InvalidName`] for a bad field path.
pub fn eq_str(path: &str, text: &str) -> Result<Condition, BuildError> {
    cmp(path, Operator::Eq, Literal::string(text))
}

/// `path LIKE '…'` matching `text` literally in the way `mode` says.
///
/// # Errors
/// [`BuildError::InvalidName`] for a bad field path.
pub fn like(path: &str, mode: LikeMatch, text: &str) -> Result<Condition, BuildError> {
    let (pre, post) = match mode {
        LikeMatch::Exact => (LikeWildcard::None, LikeWildcard::None),
        LikeMatch::StartsWith => (LikeWildcard::None, LikeWildcard::Any),
        LikeMatch::EndsWith => (LikeWildcard::Any, LikeWildcard::None),
        LikeMatch::Contains => (LikeWildcard::Any, LikeWildcard::Any),
    };
    checked_compare(
        path,
        Operator::Like,
        Value::Literal(Literal::String(StringLit::like_from_value(pre, text, post))),
    )
}

/// `path = 'id'` for a text that must be a record id.
///
/// # Errors
/// [`BuildError::InvalidId`] when `id` is not a 15/18-character id; [`BuildError::InvalidName`].
pub fn id_eq(path: &str, id: &str) -> Result<Condition, BuildError> {
    let id = RecordId::parse(id)?;
    cmp(path, Operator::Eq, Literal::id(&id))
}

/// `path IN ('id1', 'id2', …)`.
///
/// # Errors
/// [`BuildError::EmptyList`], [`BuildError::InvalidName`].
pub fn id_in(path: &str, ids: &[RecordId]) -> Result<Condition, BuildError> {
    if ids.is_empty() {
        return Err(BuildError::EmptyList);
    }
    checked_compare(
        path,
        Operator::In,
        Value::List(ids.iter().map(Literal::id).collect()),
    )
}

/// Builds a [`Query`] step by step; every filter added is ANDed.
#[derive(Debug, Clone)]
pub struct QueryBuilder {
    query: Query,
    filters: Vec<Condition>,
}

impl QueryBuilder {
    /// `SELECT fields FROM object`.
    ///
    /// # Errors
    /// [`BuildError::InvalidName`] for a bad object or field name.
    pub fn select(object: &str, fields: &[&str]) -> Result<QueryBuilder, BuildError> {
        let object = checked_name(object)?;
        let select = fields
            .iter()
            .map(|f| field(f).map(|path| SelectItem::Field { path, alias: None }))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(QueryBuilder {
            query: Query::new(&object, select),
            filters: Vec::new(),
        })
    }

    /// `SELECT COUNT() FROM object`.
    ///
    /// # Errors
    /// [`BuildError::InvalidName`] for a bad object name.
    pub fn count(object: &str) -> Result<QueryBuilder, BuildError> {
        let object = checked_name(object)?;
        let call = FunctionCall {
            function: Function::Count,
            args: Vec::new(),
        };
        Ok(QueryBuilder {
            query: Query::new(&object, vec![SelectItem::Function { call, alias: None }]),
            filters: Vec::new(),
        })
    }

    /// Adds a filter (ANDed with the others).
    pub fn filter(mut self, condition: Condition) -> QueryBuilder {
        self.filters.push(condition);
        self
    }

    /// Adds an ORDER BY item.
    ///
    /// # Errors
    /// [`BuildError::InvalidName`] for a bad field path.
    pub fn order_by(
        mut self,
        path: &str,
        direction: Direction,
    ) -> Result<QueryBuilder, BuildError> {
        self.query.order_by.push(OrderItem {
            target: Operand::Field(field(path)?),
            direction: Some(direction),
            nulls: None,
        });
        Ok(self)
    }

    /// Sets LIMIT.
    pub fn limit(mut self, n: u64) -> QueryBuilder {
        self.query.limit = Some(n);
        self
    }

    /// The finished query.
    pub fn build(self) -> Query {
        let mut query = self.query;
        let mut filters = self.filters;
        query.where_clause = match filters.len() {
            0 => None,
            1 => filters.pop(),
            _ => Some(Condition::And(filters)),
        };
        query
    }

    /// The finished query as SOQL text.
    pub fn to_soql(self) -> String {
        render(&self.build())
    }
}

// ---------------------------------------------------------------------------------------------
// Constructors for names the agent already holds from a describe (API names of objects and
// fields), so they cannot fail; every value (user text) is still escaped as a literal. The
// resolver and the executor build their queries with these.
// ---------------------------------------------------------------------------------------------

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

fn trusted(field: &str, op: Operator, rhs: Value) -> Condition {
    Condition::Compare(Comparison {
        lhs: Operand::Field(FieldPath(field.split('.').map(str::to_string).collect())),
        op,
        rhs,
    })
}

/// `field = 'text'` (escaped).
pub fn eq_text(field: &str, text: &str) -> Condition {
    trusted(
        field,
        Operator::Eq,
        Value::Literal(Literal::String(StringLit::from_value(text))),
    )
}

/// `field op literal`.
pub fn compare(field: &str, op: Operator, lit: Literal) -> Condition {
    trusted(field, op, Value::Literal(lit))
}

/// `field = null`.
pub fn is_null(field: &str) -> Condition {
    trusted(field, Operator::Eq, Value::Literal(Literal::Null))
}

/// Midnight UTC of a day, as a dateTime literal.
pub fn start_of(d: chrono::NaiveDate) -> Literal {
    Literal::DateTime(format!("{}T00:00:00Z", d.format("%Y-%m-%d")))
}

/// `field != null`.
pub fn is_not_null(field: &str) -> Condition {
    trusted(field, Operator::Ne, Value::Literal(Literal::Null))
}

/// `field = true|false`.
pub fn eq_bool(field: &str, b: bool) -> Condition {
    trusted(field, Operator::Eq, Value::Literal(Literal::Boolean(b)))
}

/// `field LIKE '%word%'` with the word's own `%`, `_`, quotes and backslashes escaped.
pub fn contains(field: &str, word: &str) -> Condition {
    trusted(
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
    trusted(
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

/// Renders a query as SOQL text through the shared escaping renderer ([`crate::soql::render`](fn@crate::soql::render)).
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
    use crate::soql::parse;

    #[test]
    fn injection_text_stays_inside_the_literal() {
        let soql = QueryBuilder::select("Account", &["Id", "Name"])
            .unwrap()
            .filter(eq_str("Name", "titan' OR Name != 'x").unwrap())
            .to_soql();
        assert_eq!(
            soql,
            r"SELECT Id, Name FROM Account WHERE Name = 'titan\' OR Name != \'x'"
        );
        let q = parse(&soql).unwrap();
        let Some(Condition::Compare(c)) = q.where_clause else {
            panic!("one comparison expected, got {q:?}")
        };
        let Value::Literal(Literal::String(s)) = c.rhs else {
            panic!("string expected")
        };
        assert_eq!(s.value(), "titan' OR Name != 'x");
    }

    #[test]
    fn backslash_before_quote_cannot_escape_the_escape() {
        let soql = QueryBuilder::select("Account", &["Id"])
            .unwrap()
            .filter(eq_str("Name", r"x\' OR Id != '").unwrap())
            .to_soql();
        let q = parse(&soql).unwrap();
        let Some(Condition::Compare(c)) = q.where_clause else {
            panic!("one comparison expected: {soql}")
        };
        let Value::Literal(Literal::String(s)) = c.rhs else {
            panic!("string expected")
        };
        assert_eq!(s.value(), r"x\' OR Id != '");
    }

    #[test]
    fn like_escapes_wildcards_in_user_text() {
        let c = like("Name", LikeMatch::Contains, "50%_off").unwrap();
        let text = crate::soql::render_condition(&c);
        assert_eq!(text, r"Name LIKE '%50\%\_off%'");
        let Condition::Compare(cmp) = c else { panic!() };
        let Value::Literal(Literal::String(s)) = cmp.rhs else {
            panic!()
        };
        let parts = s.like_pattern();
        assert_eq!(parts.first(), Some(&LikePart::Any));
        assert!(parts.contains(&LikePart::Char('%')));
        assert!(parts.contains(&LikePart::Char('_')));
        assert_eq!(escape_like("a'b%"), r"a\'b\%");
    }

    #[test]
    fn names_and_ids_are_validated() {
        assert!(matches!(
            QueryBuilder::select("Account WHERE", &["Id"]),
            Err(BuildError::InvalidName(_))
        ));
        assert!(matches!(
            field("Name = 'x'"),
            Err(BuildError::InvalidName(_))
        ));
        assert!(matches!(
            field("Account..Name"),
            Err(BuildError::InvalidName(_))
        ));
        assert!(field("Account.Owner.Name").is_ok());
        assert!(matches!(
            id_eq("Id", "001' OR Id != '"),
            Err(BuildError::InvalidId(_))
        ));
        let c = id_eq("AccountId", "001000000000001").unwrap();
        assert_eq!(
            crate::soql::render_condition(&c),
            "AccountId = '001000000000001AAA'"
        );
    }

    #[test]
    fn builder_output_round_trips() {
        let q = QueryBuilder::select("Opportunity", &["Id", "Account.Name"])
            .unwrap()
            .filter(cmp("Amount", Operator::Gt, Literal::decimal(5000.0).unwrap()).unwrap())
            .filter(like("Name", LikeMatch::StartsWith, "Ac_me").unwrap())
            .filter(
                cmp(
                    "CloseDate",
                    Operator::Le,
                    Literal::date(NaiveDate::from_ymd_opt(2026, 1, 31).unwrap()),
                )
                .unwrap(),
            )
            .order_by("CloseDate", Direction::Desc)
            .unwrap()
            .limit(10)
            .build();
        let text = render(&q);
        assert_eq!(
            text,
            r"SELECT Id, Account.Name FROM Opportunity WHERE Amount > 5000.0 AND Name LIKE 'Ac\_me%' AND CloseDate <= 2026-01-31 ORDER BY CloseDate DESC LIMIT 10"
        );
        assert_eq!(parse(&text).unwrap(), q);
        assert_eq!(
            QueryBuilder::count("Lead").unwrap().to_soql(),
            "SELECT COUNT() FROM Lead"
        );
        assert_eq!(quote_string("a\nb"), r"'a\nb'");
    }
}

#[cfg(test)]
mod trusted_tests {
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
