//! SOSL for the sandbox: `GET search?q=FIND {term} [IN NAME|ALL|EMAIL|PHONE FIELDS]
//! [RETURNING Object[(fields [WHERE …] [ORDER BY …] [LIMIT n])], …] [LIMIT n]` →
//! `{"searchRecords": [...]}`.
//!
//! Owns the SOSL statement parsing and the term matching: the term is split into words (a quoted
//! phrase stays one word; `*` and `?` are wildcards) and a record matches when every word occurs in
//! one of the searched fields (name fields for `IN NAME FIELDS`, every text field for `IN ALL
//! FIELDS`). Each RETURNING object becomes an ordinary SOQL query run by the query engine, so field
//! and row security apply exactly as in `query`.

use std::sync::Arc;

use axum::Router;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use serde_json::{Value as Json, json};

use super::compile;
use super::exec::{self, RunOptions};
use crate::sandbox::error::SfError;
use crate::sandbox::schema::{FieldType, ObjectSchema};
use crate::sandbox::session::DataCall;
use crate::sandbox::state::AppState;
use crate::sandbox::wire::json_response;
use crate::soql::ast::*;
use crate::soql::lexer::{TokenKind, tokenize};

/// Routes: `GET /services/data/vNN.0/search?q=`.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new().route("/services/data/{version}/search", get(search))
}

fn malformed_search(message: impl Into<String>) -> SfError {
    SfError::new(StatusCode::BAD_REQUEST, "MALFORMED_SEARCH", message)
}

/// Which fields the term is matched against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchGroup {
    /// Name fields.
    Name,
    /// Every text field.
    All,
    /// Email fields.
    Email,
    /// Phone fields.
    Phone,
}

/// One `RETURNING` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Returning {
    /// `SELECT fields FROM Object [WHERE …] [ORDER BY …] [LIMIT n]` for this object.
    pub query: crate::soql::Query,
}

/// A parsed SOSL statement.
#[derive(Debug, Clone, PartialEq)]
pub struct Search {
    /// The search words (phrases kept together), wildcards as written.
    pub words: Vec<String>,
    /// `IN … FIELDS`.
    pub group: SearchGroup,
    /// `RETURNING` entries (empty = every searchable object, Id only).
    pub returning: Vec<Returning>,
    /// Overall `LIMIT`.
    pub limit: Option<u64>,
}

/// Parses a SOSL statement.
///
/// # Errors
/// `MALFORMED_SEARCH` for text that is not SOSL.
pub fn parse_sosl(text: &str) -> Result<Search, SfError> {
    let max = crate::sandbox::query::MAX_SOQL_CHARS;
    if text.len() > max && text.chars().count() > max {
        return Err(malformed_search(format!(
            "SOSL statements cannot be longer than {max} characters"
        )));
    }
    let t = text.trim_start();
    let rest = t
        .get(..4)
        .filter(|k| k.eq_ignore_ascii_case("FIND"))
        .map(|_| t[4..].trim_start())
        .ok_or_else(|| malformed_search("SOSL must start with FIND"))?;
    let (term, rest) = match rest.chars().next() {
        Some('{') => take_term(&rest[1..], '}')?,
        Some('\'') => take_term(&rest[1..], '\'')?,
        _ => {
            return Err(malformed_search(
                "the search term must be enclosed in braces",
            ));
        }
    };
    let words = split_words(&term);
    if words
        .iter()
        .all(|w| w.chars().filter(|c| !matches!(c, '*' | '?')).count() < 2)
    {
        return Err(malformed_search(
            "search term must be longer than one character",
        ));
    }
    // The rest is tokenised with the SOQL lexer: `IN`, `RETURNING`, object specs and `LIMIT`.
    let tokens: Vec<_> = tokenize(rest)
        .into_iter()
        .filter(|t| !t.kind.is_trivia())
        .collect();
    let word = |i: usize| {
        tokens
            .get(i)
            .filter(|t| t.kind == TokenKind::Ident)
            .map(|t| &rest[t.span.clone()])
    };
    let is = |i: usize, kw: &str| word(i).is_some_and(|w| w.eq_ignore_ascii_case(kw));
    let mut i = 0;
    let mut group = SearchGroup::All;
    if is(i, "IN") {
        group = match word(i + 1).map(str::to_ascii_uppercase).as_deref() {
            Some("NAME") => SearchGroup::Name,
            Some("ALL") => SearchGroup::All,
            Some("EMAIL") => SearchGroup::Email,
            Some("PHONE") => SearchGroup::Phone,
            _ => {
                return Err(malformed_search(
                    "expected NAME, ALL, EMAIL or PHONE after IN",
                ));
            }
        };
        if !is(i + 2, "FIELDS") {
            return Err(malformed_search("expected FIELDS"));
        }
        i += 3;
    }
    let mut returning = Vec::new();
    if is(i, "RETURNING") {
        i += 1;
        loop {
            let object = word(i)
                .ok_or_else(|| malformed_search("expected an object name after RETURNING"))?
                .to_string();
            i += 1;
            let query = if tokens.get(i).map(|t| t.kind) == Some(TokenKind::LParen) {
                let open = tokens[i].span.end;
                let mut depth = 0usize;
                let mut close = None;
                for (j, t) in tokens.iter().enumerate().skip(i) {
                    match t.kind {
                        TokenKind::LParen => depth += 1,
                        TokenKind::RParen => {
                            depth -= 1;
                            if depth == 0 {
                                close = Some(j);
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                let close =
                    close.ok_or_else(|| malformed_search("unbalanced parentheses in RETURNING"))?;
                let inner = &rest[open..tokens[close].span.start];
                i = close + 1;
                object_query(&object, inner)?
            } else {
                crate::soql::Query::new(
                    &object,
                    vec![SelectItem::Field {
                        path: FieldPath::field("Id"),
                        alias: None,
                    }],
                )
            };
            returning.push(Returning { query });
            if tokens.get(i).map(|t| t.kind) == Some(TokenKind::Comma) {
                i += 1;
                continue;
            }
            break;
        }
    }
    let mut limit = None;
    if is(i, "LIMIT") {
        let n = tokens
            .get(i + 1)
            .filter(|t| t.kind == TokenKind::Number)
            .and_then(|t| rest[t.span.clone()].parse::<u64>().ok());
        limit = Some(n.ok_or_else(|| malformed_search("expected a number after LIMIT"))?);
        i += 2;
    }
    if let Some(t) = tokens.get(i).filter(|t| t.kind != TokenKind::Eof) {
        return Err(malformed_search(format!(
            "unexpected text at `{}`",
            rest[t.span.start..].trim()
        )));
    }
    Ok(Search {
        words,
        group,
        returning,
        limit,
    })
}

/// Reads the term up to the unescaped `close`; returns it (escapes removed) and the rest.
fn take_term(s: &str, close: char) -> Result<(String, &str), SfError> {
    let mut term = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => {
                if let Some((_, n)) = chars.next() {
                    term.push(n);
                }
            }
            c if c == close => return Ok((term, &s[i + c.len_utf8()..])),
            c => term.push(c),
        }
    }
    Err(malformed_search("the search term is not closed"))
}

fn split_words(term: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut rest = term.trim();
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('"') {
            let end = after.find('"').unwrap_or(after.len());
            words.push(after[..end].to_string());
            rest = after.get(end + 1..).unwrap_or("").trim_start();
        } else {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            let w = &rest[..end];
            if !["AND", "OR", "NOT"].contains(&w) {
                words.push(w.to_string());
            }
            rest = rest[end..].trim_start();
        }
    }
    words.retain(|w| !w.is_empty());
    words
}

/// `Object(fields WHERE … ORDER BY … LIMIT n)` as a SOQL query. The text is the caller's own
/// statement, re-read by the real SOQL parser (no values are spliced in).
fn object_query(object: &str, inner: &str) -> Result<crate::soql::Query, SfError> {
    let tokens = tokenize(inner);
    let clause = tokens
        .iter()
        .find(|t| {
            t.kind == TokenKind::Ident
                && ["WHERE", "ORDER", "LIMIT", "OFFSET", "USING", "WITH"]
                    .iter()
                    .any(|k| inner[t.span.clone()].eq_ignore_ascii_case(k))
        })
        .map_or(inner.len(), |t| t.span.start);
    let soql = format!(
        "SELECT {} FROM {object} {}",
        &inner[..clause],
        &inner[clause..]
    );
    crate::soql::parse(&soql).map_err(|e| malformed_search(e.to_string()))
}

fn searched_fields(object: &ObjectSchema, group: SearchGroup) -> Vec<String> {
    object
        .columns()
        .filter(|f| match group {
            SearchGroup::Name => f.name_field,
            SearchGroup::Email => f.ty == FieldType::Email,
            SearchGroup::Phone => f.ty == FieldType::Phone,
            SearchGroup::All => {
                f.name_field
                    || matches!(
                        f.ty,
                        FieldType::String
                            | FieldType::Textarea
                            | FieldType::Email
                            | FieldType::Phone
                            | FieldType::Url
                            | FieldType::Picklist
                    )
            }
        })
        .map(|f| f.name.clone())
        .collect()
}

/// A LIKE literal for one search word: `*` → `%`, `?` → `_`, everything else literal, and
/// `%…%` around it (SOSL matches words anywhere in the field).
fn word_pattern(word: &str) -> StringLit {
    let mut text = String::new();
    let mut out = Vec::new();
    for c in word.chars() {
        match c {
            '*' | '?' => {
                out.push(
                    StringLit::like_from_value(LikeWildcard::None, &text, LikeWildcard::None)
                        .raw()
                        .to_string(),
                );
                out.push(if c == '*' {
                    "%".to_string()
                } else {
                    "_".to_string()
                });
                text.clear();
            }
            c => text.push(c),
        }
    }
    out.push(
        StringLit::like_from_value(LikeWildcard::None, &text, LikeWildcard::None)
            .raw()
            .to_string(),
    );
    let raw = format!("%{}%", out.concat());
    StringLit::from_raw(raw)
}

fn search_condition(words: &[String], fields: &[String]) -> Condition {
    let per_word: Vec<Condition> = words
        .iter()
        .map(|w| {
            let pattern = word_pattern(w);
            let alts: Vec<Condition> = fields
                .iter()
                .map(|f| {
                    Condition::Compare(Comparison {
                        lhs: Operand::Field(FieldPath::field(f)),
                        op: Operator::Like,
                        rhs: crate::soql::Value::Literal(Literal::String(pattern.clone())),
                    })
                })
                .collect();
            if alts.len() == 1 {
                alts.into_iter().next().unwrap_or(Condition::Or(Vec::new()))
            } else {
                Condition::Or(alts)
            }
        })
        .collect();
    if per_word.len() == 1 {
        per_word
            .into_iter()
            .next()
            .unwrap_or(Condition::And(Vec::new()))
    } else {
        Condition::And(per_word)
    }
}

async fn search(call: DataCall) -> Result<Response, SfError> {
    let text = call.query_param("q").unwrap_or("");
    let conn = call.state.lock_db();
    let body = run(&call.state, &conn, &call.principal, call.version(), text)?;
    Ok(json_response(StatusCode::OK, &body))
}

/// Runs SOSL `text` for `principal`: `{"searchRecords": […]}`. Shared by the route and composite
/// subrequests (`GET …/search?q=`).
///
/// # Errors
/// `MALFORMED_SEARCH`, and the query errors of a `RETURNING` clause.
pub fn run(
    state: &AppState,
    conn: &rusqlite::Connection,
    principal: &crate::sandbox::security::Principal,
    version: &str,
    text: &str,
) -> Result<Json, SfError> {
    let text = Some(text.trim())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| malformed_search("A search string has to be specified"))?;
    let sosl = parse_sosl(text)?;
    let ctx = super::ctx(state, principal);
    let mut specs = sosl.returning.clone();
    if specs.is_empty() {
        for o in ctx.schema.objects().iter().filter(|o| {
            o.name_field().is_some() && ctx.policy.object_access(ctx.principal, &o.name).read
        }) {
            specs.push(Returning {
                query: crate::soql::Query::new(
                    &o.name,
                    vec![SelectItem::Field {
                        path: FieldPath::field("Id"),
                        alias: None,
                    }],
                ),
            });
        }
    }
    let mut left = sosl.limit.unwrap_or(2000).min(2000);
    let mut records = Vec::new();
    for spec in specs {
        if left == 0 {
            break;
        }
        let mut q = spec.query;
        let object = compile::readable_object(&ctx, q.from.name())?;
        let fields: Vec<String> = searched_fields(object, sosl.group)
            .into_iter()
            .filter(|f| {
                ctx.policy
                    .field_access(ctx.principal, &object.name, f)
                    .readable()
            })
            .collect();
        if fields.is_empty() {
            continue;
        }
        let cond = search_condition(&sosl.words, &fields);
        q.where_clause = Some(match q.where_clause.take() {
            Some(w) => Condition::And(vec![w, cond]),
            None => cond,
        });
        q.limit = Some(q.limit.map_or(left, |l| l.min(left)));
        let opts = RunOptions {
            all_rows: false,
            batch: 2000,
            version,
        };
        let page = exec::run(conn, ctx, &q, opts)?;
        left = left.saturating_sub(page.records.len() as u64);
        records.extend(page.records);
    }
    Ok(json!({"searchRecords": records}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sosl_statements() {
        let s = parse_sosl("FIND {Acme Corp} IN NAME FIELDS RETURNING Account(Id, Name WHERE Industry = 'x' LIMIT 5), Contact LIMIT 10").unwrap();
        assert_eq!(s.words, vec!["Acme", "Corp"]);
        assert_eq!(s.group, SearchGroup::Name);
        assert_eq!(s.returning.len(), 2);
        assert_eq!(s.returning[0].query.limit, Some(5));
        assert!(s.returning[0].query.where_clause.is_some());
        assert_eq!(s.returning[1].query.from.name(), "Contact");
        assert_eq!(s.limit, Some(10));
        let s = parse_sosl(r#"FIND {"big deal" titan\}} RETURNING Opportunity(Name)"#).unwrap();
        assert_eq!(s.words, vec!["big deal", "titan}"]);
        assert!(parse_sosl("FIND {a}").is_err());
        assert!(parse_sosl("FIND {acme").is_err());
        assert!(parse_sosl("SELECT Id FROM Account").is_err());
        assert!(parse_sosl("FIND {acme} RETURNING Account(Id) garbage").is_err());
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_statements_never_panic(q in "(FIND|IN|NAME|ALL|FIELDS|RETURNING|LIMIT|\\{|\\}|\\(|\\)|,|'|\"|\\\\|[A-Za-z*?]{1,5}|[0-9]{1,3}| )*") {
            let _ = parse_sosl(&q);
        }
    }

    #[test]
    fn wildcards_become_like_patterns_and_quotes_stay_literal() {
        assert_eq!(word_pattern("ac*e").raw(), "%ac%e%");
        assert_eq!(word_pattern("50%").raw(), r"%50\%%");
        assert_eq!(word_pattern("o'brien").raw(), r"%o\'brien%");
    }
}
