//! A small typed builder for SOQL queries that carry user text.
//!
//! Owns the safe way in for values the agent did not write itself: names are validated as SOQL
//! identifiers, strings go through [`StringLit::from_value`], LIKE text through
//! [`StringLit::like_from_value`] (its `%` and `_` escaped), ids through [`RecordId`]. The result is
//! an ordinary [`Query`]; [`crate::soql::render`] turns it into text. Used by the agent's resolver.

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

fn compare(path: &str, op: Operator, rhs: Value) -> Result<Condition, BuildError> {
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
    compare(path, op, Value::Literal(value))
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
    compare(
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
    compare(
        path,
        Operator::In,
        Value::List(ids.iter().map(Literal::id).collect()),
    )
}

/// `path IN (values…)`.
///
/// # Errors
/// [`BuildError::EmptyList`], [`BuildError::InvalidName`].
pub fn in_list(path: &str, values: Vec<Literal>) -> Result<Condition, BuildError> {
    if values.is_empty() {
        return Err(BuildError::EmptyList);
    }
    compare(path, Operator::In, Value::List(values))
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
