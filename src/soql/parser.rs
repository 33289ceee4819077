//! SOQL parser: tokens → [`Query`], by recursive descent.
//!
//! Owns the grammar (clause order, operators, literals, functions) and syntax errors. Does not know
//! which objects or fields exist; the sandbox's query engine checks names against its schema.
//! Errors carry the span, what was expected and what was found. Apex bind variables (`:name`) are
//! rejected, as the REST API does.

use super::ast::*;
use super::lexer::{Span, Token, TokenKind, tokenize};

/// Why a query text is not valid SOQL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.describe())]
pub struct ParseError {
    /// Where the problem is (byte range in the query text).
    pub span: Span,
    /// What the parser wanted there.
    pub expected: String,
    /// What it found (the token text, or a description such as `end of query`).
    pub found: String,
    /// A specific reason when "expected X, found Y" is not the whole story.
    pub reason: Option<String>,
}

impl ParseError {
    fn describe(&self) -> String {
        match &self.reason {
            Some(reason) => format!("{reason} at position {}", self.span.start),
            None => format!(
                "expected {}, found {} at position {}",
                self.expected, self.found, self.span.start
            ),
        }
    }

    /// The message Salesforce puts in a `MALFORMED_QUERY` error for this problem: the query line,
    /// a caret under the position, `ERROR at Row:R:Column:C` and the reason.
    pub fn salesforce_message(&self, src: &str) -> String {
        let at = self.span.start.min(src.len());
        let before = src.get(..at).unwrap_or("");
        let row = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        let line_end = src[line_start..]
            .find('\n')
            .map_or(src.len(), |i| line_start + i);
        let line = &src[line_start..line_end];
        let caret = " ".repeat(column.saturating_sub(1));
        let reason = match &self.reason {
            Some(reason) => reason.clone(),
            None => format!("unexpected token: {}", self.found),
        };
        format!("\n{line}\n{caret}^\nERROR at Row:{row}:Column:{column}\n{reason}")
    }
}

impl<'a> Parser<'a> {
    /// A parser at the first significant token of `src` (comments and white space dropped).
    fn new(src: &'a str) -> Parser<'a> {
        let tokens = tokenize(src)
            .into_iter()
            .filter(|t| !t.kind.is_trivia())
            .collect();
        Parser {
            src,
            tokens,
            pos: 0,
            depth: 0,
        }
    }
}

/// Parses one complete SOQL query.
///
/// # Errors
/// [`ParseError`] when `src` is not valid SOQL.
pub fn parse(src: &str) -> Result<Query> {
    let mut p = Parser::new(src);
    let query = p.query(false)?;
    p.expect_kind(TokenKind::Eof, "end of query")?;
    Ok(query)
}

/// Parses a WHERE-style condition on its own (`Name = 'x' AND Amount > 5`); used by tests and
/// tools that hold a condition fragment.
///
/// # Errors
/// [`ParseError`] when `src` is not a valid condition.
pub fn parse_condition(src: &str) -> Result<Condition> {
    let mut p = Parser::new(src);
    let condition = p.condition()?;
    p.expect_kind(TokenKind::Eof, "end of condition")?;
    Ok(condition)
}

/// Clause keywords that end a FROM clause (so they are never taken as an object alias).
const FROM_FOLLOWERS: &[&str] = &[
    "USING", "WHERE", "WITH", "GROUP", "HAVING", "ORDER", "LIMIT", "OFFSET", "FOR", "UPDATE",
];

/// How deep parentheses, `NOT`s, function calls and subqueries may nest. The parser (and every
/// walk of the tree after it) recurses once per level, so without a bound a few kilobytes of `(`
/// overflow the stack; real queries stay far below this.
pub const MAX_NESTING: usize = 100;

struct Parser<'a> {
    src: &'a str,
    tokens: Vec<Token>,
    pos: usize,
    /// Current nesting level (see [`MAX_NESTING`]).
    depth: usize,
}

type Result<T> = std::result::Result<T, ParseError>;

impl<'a> Parser<'a> {
    fn peek(&self) -> &Token {
        // The token list always ends with Eof and `pos` never passes it.
        &self.tokens[self.pos.min(self.tokens.len() - 1)]
    }

    fn peek_n(&self, n: usize) -> &Token {
        &self.tokens[(self.pos + n).min(self.tokens.len() - 1)]
    }

    fn text(&self, t: &Token) -> &'a str {
        &self.src[t.span.clone()]
    }

    /// Enters one nesting level, failing past [`MAX_NESTING`]; pair with [`Parser::leave`]. On an
    /// error the whole parse ends, so an unmatched `enter` does no harm.
    fn enter(&mut self) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            let t = self.peek().clone();
            return Err(self.error_at(
                &t,
                "less nesting",
                format!("expression nested too deeply: more than {MAX_NESTING} levels"),
            ));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    fn bump(&mut self) -> Token {
        let t = self.peek().clone();
        if t.kind != TokenKind::Eof {
            self.pos += 1;
        }
        t
    }

    fn found(&self, t: &Token) -> String {
        match t.kind {
            TokenKind::Eof => "'<EOF>'".to_string(),
            _ => format!("'{}'", self.text(t)),
        }
    }

    fn error(&self, expected: &str) -> ParseError {
        let t = self.peek();
        let reason = match t.kind {
            TokenKind::UnterminatedString => Some("unterminated string literal".to_string()),
            TokenKind::InvalidEscape => Some(
                "Invalid string literal: only \\n \\r \\t \\b \\f \\\" \\' \\\\ \\uXXXX (and \\% \\_ in LIKE) are valid escapes"
                    .to_string(),
            ),
            _ => None,
        };
        ParseError {
            span: t.span.clone(),
            expected: expected.to_string(),
            found: self.found(t),
            reason,
        }
    }

    fn error_at(&self, t: &Token, expected: &str, reason: String) -> ParseError {
        ParseError {
            span: t.span.clone(),
            expected: expected.to_string(),
            found: self.found(t),
            reason: Some(reason),
        }
    }

    fn is_kw(&self, kw: &str) -> bool {
        let t = self.peek();
        t.kind == TokenKind::Ident && self.text(t).eq_ignore_ascii_case(kw)
    }

    fn is_kw_at(&self, n: usize, kw: &str) -> bool {
        let t = self.peek_n(n);
        t.kind == TokenKind::Ident && self.text(t).eq_ignore_ascii_case(kw)
    }

    fn eat_kw(&mut self, kw: &str) -> bool {
        if self.is_kw(kw) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect_kw(&mut self, kw: &str) -> Result<()> {
        if self.eat_kw(kw) {
            Ok(())
        } else {
            Err(self.error(kw))
        }
    }

    fn eat_kind(&mut self, kind: TokenKind) -> bool {
        if self.peek().kind == kind {
            self.bump();
            true
        } else {
            false
        }
    }

    fn expect_kind(&mut self, kind: TokenKind, expected: &str) -> Result<Token> {
        if self.peek().kind == kind {
            Ok(self.bump())
        } else {
            Err(self.error(expected))
        }
    }

    /// A name. Currency-shaped names without sign or fraction (`foo1`) are names too.
    fn is_name(&self, t: &Token) -> bool {
        match t.kind {
            TokenKind::Ident => true,
            TokenKind::Currency => self.text(t).bytes().all(|b| b.is_ascii_alphanumeric()),
            _ => false,
        }
    }

    fn name(&mut self, expected: &str) -> Result<String> {
        let t = self.peek().clone();
        if self.is_name(&t) {
            self.bump();
            Ok(self.text(&t).to_string())
        } else {
            Err(self.error(expected))
        }
    }

    fn dotted(&mut self, expected: &str) -> Result<Vec<String>> {
        let mut parts = vec![self.name(expected)?];
        while self.eat_kind(TokenKind::Dot) {
            parts.push(self.name("a field name")?);
        }
        Ok(parts)
    }

    // ---- query ----

    fn query(&mut self, subquery: bool) -> Result<Query> {
        self.expect_kw("SELECT")?;
        let select = self.select_list(subquery)?;
        self.expect_kw("FROM")?;
        let path = self.dotted("an object name")?;
        let alias = {
            let t = self.peek().clone();
            if self.is_name(&t)
                && !FROM_FOLLOWERS
                    .iter()
                    .any(|k| self.text(&t).eq_ignore_ascii_case(k))
            {
                self.bump();
                Some(self.text(&t).to_string())
            } else {
                None
            }
        };
        let mut q = Query::new("", select);
        q.from = From { path, alias };
        if self.eat_kw("USING") {
            self.expect_kw("SCOPE")?;
            q.using_scope = Some(self.name("a scope name")?);
        }
        if self.eat_kw("WHERE") {
            q.where_clause = Some(self.condition()?);
        }
        while self.eat_kw("WITH") {
            q.with.push(self.with_clause()?);
        }
        if self.is_kw("GROUP") {
            self.bump();
            self.expect_kw("BY")?;
            q.group_by = Some(self.group_by()?);
        }
        if self.is_kw("HAVING") {
            if q.group_by.is_none() {
                let t = self.peek().clone();
                return Err(self.error_at(
                    &t,
                    "GROUP BY",
                    "HAVING requires a GROUP BY clause".to_string(),
                ));
            }
            self.bump();
            q.having = Some(self.condition()?);
        }
        if self.is_kw("ORDER") {
            self.bump();
            self.expect_kw("BY")?;
            q.order_by = self.order_by()?;
        }
        if self.eat_kw("LIMIT") {
            q.limit = Some(self.unsigned("a non-negative integer")?);
        }
        if self.eat_kw("OFFSET") {
            q.offset = Some(self.unsigned("a non-negative integer")?);
        }
        if self.eat_kw("FOR") {
            q.for_clause = Some(if self.eat_kw("VIEW") {
                For::View
            } else if self.eat_kw("REFERENCE") {
                For::Reference
            } else if self.eat_kw("UPDATE") {
                For::Update
            } else {
                return Err(self.error("VIEW, REFERENCE or UPDATE"));
            });
        }
        if self.eat_kw("UPDATE") {
            q.update = Some(if self.eat_kw("TRACKING") {
                Update::Tracking
            } else if self.eat_kw("VIEWSTAT") {
                Update::Viewstat
            } else {
                return Err(self.error("TRACKING or VIEWSTAT"));
            });
        }
        Ok(q)
    }

    fn unsigned(&mut self, expected: &str) -> Result<u64> {
        let t = self.peek().clone();
        if t.kind == TokenKind::Number
            && let Ok(n) = self.text(&t).parse::<u64>()
        {
            self.bump();
            return Ok(n);
        }
        Err(self.error(expected))
    }

    fn select_list(&mut self, subquery: bool) -> Result<Vec<SelectItem>> {
        let mut items = vec![self.select_item(subquery)?];
        while self.eat_kind(TokenKind::Comma) {
            items.push(self.select_item(subquery)?);
        }
        Ok(items)
    }

    fn select_item(&mut self, subquery: bool) -> Result<SelectItem> {
        let t = self.peek().clone();
        if t.kind == TokenKind::LParen {
            if subquery {
                // Nested child subqueries are parsed too (API 58.0+ allows up to 5 levels).
            }
            self.bump();
            if !self.is_kw("SELECT") {
                return Err(self.error("SELECT"));
            }
            self.enter()?;
            let q = self.query(true)?;
            self.leave();
            self.expect_kind(TokenKind::RParen, "`)`")?;
            return Ok(SelectItem::Subquery(Box::new(q)));
        }
        if self.is_kw("TYPEOF") && self.is_name(&self.peek_n(1).clone()) && self.is_kw_at(2, "WHEN")
        {
            self.bump();
            return Ok(SelectItem::TypeOf(self.type_of()?));
        }
        if self.is_name(&t) && self.peek_n(1).kind == TokenKind::LParen {
            if self.text(&t).eq_ignore_ascii_case("FIELDS") {
                self.bump();
                self.bump();
                let kind = if self.eat_kw("ALL") {
                    FieldsKind::All
                } else if self.eat_kw("STANDARD") {
                    FieldsKind::Standard
                } else if self.eat_kw("CUSTOM") {
                    FieldsKind::Custom
                } else {
                    return Err(self.error("ALL, STANDARD or CUSTOM"));
                };
                self.expect_kind(TokenKind::RParen, "`)`")?;
                return Ok(SelectItem::Fields(kind));
            }
            let call = self.function_call()?;
            if call.function == Function::Geolocation {
                return Err(self.error_at(
                    &t,
                    "a field",
                    "GEOLOCATION is only valid inside DISTANCE".to_string(),
                ));
            }
            let alias = self.select_alias();
            return Ok(SelectItem::Function { call, alias });
        }
        let path = FieldPath(self.dotted("a field name")?);
        let alias = self.select_alias();
        Ok(SelectItem::Field { path, alias })
    }

    fn select_alias(&mut self) -> Option<String> {
        let t = self.peek().clone();
        if self.is_name(&t) && !self.text(&t).eq_ignore_ascii_case("FROM") {
            self.bump();
            Some(self.text(&t).to_string())
        } else {
            None
        }
    }

    fn type_of(&mut self) -> Result<TypeOf> {
        let relationship = self.name("a polymorphic relationship name")?;
        let mut whens = Vec::new();
        while self.eat_kw("WHEN") {
            let object = self.name("an object name")?;
            self.expect_kw("THEN")?;
            whens.push((object, self.type_of_fields()?));
        }
        if whens.is_empty() {
            return Err(self.error("WHEN"));
        }
        let else_fields = if self.eat_kw("ELSE") {
            Some(self.type_of_fields()?)
        } else {
            None
        };
        self.expect_kw("END")?;
        Ok(TypeOf {
            relationship,
            whens,
            else_fields,
        })
    }

    fn type_of_fields(&mut self) -> Result<Vec<FieldPath>> {
        let mut fields = vec![FieldPath(self.dotted("a field name")?)];
        while self.eat_kind(TokenKind::Comma) {
            fields.push(FieldPath(self.dotted("a field name")?));
        }
        Ok(fields)
    }

    fn function_call(&mut self) -> Result<FunctionCall> {
        let name_token = self.bump();
        let name = self.text(&name_token);
        let function = Function::from_name(name).ok_or_else(|| {
            self.error_at(
                &name_token,
                "a function name",
                format!("Unknown function: {name}"),
            )
        })?;
        self.expect_kind(TokenKind::LParen, "`(`")?;
        self.enter()?;
        let mut args = Vec::new();
        if self.peek().kind != TokenKind::RParen {
            loop {
                args.push(self.function_arg()?);
                if !self.eat_kind(TokenKind::Comma) {
                    break;
                }
            }
        }
        self.leave();
        self.expect_kind(TokenKind::RParen, "`)`")?;
        let call = FunctionCall { function, args };
        self.check_call(&call, &name_token)?;
        Ok(call)
    }

    fn function_arg(&mut self) -> Result<FunctionArg> {
        let t = self.peek().clone();
        if self.is_name(&t) && self.peek_n(1).kind == TokenKind::LParen {
            return Ok(FunctionArg::Function(self.function_call()?));
        }
        if self.is_name(&t) {
            return Ok(FunctionArg::Field(FieldPath(self.dotted("a field name")?)));
        }
        match t.kind {
            TokenKind::String | TokenKind::Number => Ok(FunctionArg::Literal(self.literal()?)),
            _ => Err(self.error("a field, function or literal")),
        }
    }

    /// Argument rules the grammar alone does not express.
    fn check_call(&self, call: &FunctionCall, at: &Token) -> Result<()> {
        let bad = |reason: &str| Err(self.error_at(at, "valid arguments", reason.to_string()));
        let is_field_or_fn =
            |a: &FunctionArg| matches!(a, FunctionArg::Field(_) | FunctionArg::Function(_));
        match call.function {
            Function::Distance => {
                let ok = call.args.len() == 3
                    && matches!(call.args[0], FunctionArg::Field(_))
                    && match &call.args[1] {
                        FunctionArg::Field(_) => true,
                        FunctionArg::Function(f) => f.function == Function::Geolocation,
                        FunctionArg::Literal(_) => false,
                    }
                    && matches!(&call.args[2], FunctionArg::Literal(Literal::String(s))
                        if s.raw().eq_ignore_ascii_case("mi") || s.raw().eq_ignore_ascii_case("km"));
                if !ok {
                    return bad(
                        "DISTANCE takes a location field, GEOLOCATION(lat, lon) or a location field, and 'mi' or 'km'",
                    );
                }
            }
            Function::Geolocation => {
                let ok = call.args.len() == 2
                    && call
                        .args
                        .iter()
                        .all(|a| matches!(a, FunctionArg::Literal(Literal::Number(_))));
                if !ok {
                    return bad("GEOLOCATION takes a latitude and a longitude");
                }
            }
            Function::Count | Function::Grouping => {
                if !call.args.iter().all(is_field_or_fn) {
                    return bad("this function takes fields");
                }
            }
            _ => {
                if call.args.len() != 1 || !is_field_or_fn(&call.args[0]) {
                    return bad("this function takes one field");
                }
            }
        }
        // GEOLOCATION is only valid inside DISTANCE.
        if call.function != Function::Distance
            && call.args.iter().any(
                |a| matches!(a, FunctionArg::Function(f) if f.function == Function::Geolocation),
            )
        {
            return bad("GEOLOCATION is only valid inside DISTANCE");
        }
        Ok(())
    }

    fn operand(&mut self) -> Result<Operand> {
        let t = self.peek().clone();
        if self.is_name(&t) && self.peek_n(1).kind == TokenKind::LParen {
            let call = self.function_call()?;
            if call.function == Function::Geolocation {
                return Err(self.error_at(
                    &t,
                    "a field",
                    "GEOLOCATION is only valid inside DISTANCE".to_string(),
                ));
            }
            return Ok(Operand::Function(call));
        }
        Ok(Operand::Field(FieldPath(self.dotted("a field name")?)))
    }

    // ---- conditions ----

    fn condition(&mut self) -> Result<Condition> {
        let first = self.unary()?;
        let mut parts = vec![first];
        let mut connective: Option<bool> = None; // Some(true) = AND
        loop {
            let is_and = if self.is_kw("AND") {
                true
            } else if self.is_kw("OR") {
                false
            } else {
                break;
            };
            if connective.is_some_and(|c| c != is_and) {
                let t = self.peek().clone();
                return Err(self.error_at(
                    &t,
                    "parentheses",
                    "unexpected token: AND/OR: mixing AND and OR requires parentheses".to_string(),
                ));
            }
            connective = Some(is_and);
            self.bump();
            parts.push(self.unary()?);
        }
        Ok(match connective {
            None => parts.pop().unwrap_or(Condition::And(Vec::new())),
            Some(true) => Condition::And(parts),
            Some(false) => Condition::Or(parts),
        })
    }

    fn unary(&mut self) -> Result<Condition> {
        if self.eat_kw("NOT") {
            self.enter()?;
            let inner = self.unary()?;
            self.leave();
            return Ok(Condition::Not(Box::new(inner)));
        }
        if self.eat_kind(TokenKind::LParen) {
            self.enter()?;
            let c = self.condition()?;
            self.leave();
            self.expect_kind(TokenKind::RParen, "`)`")?;
            return Ok(c);
        }
        self.comparison().map(Condition::Compare)
    }

    fn comparison(&mut self) -> Result<Comparison> {
        let lhs = self.operand()?;
        let t = self.peek().clone();
        let op = match t.kind {
            TokenKind::Eq => Operator::Eq,
            TokenKind::Ne | TokenKind::LtGt => Operator::Ne,
            TokenKind::Lt => Operator::Lt,
            TokenKind::Le => Operator::Le,
            TokenKind::Gt => Operator::Gt,
            TokenKind::Ge => Operator::Ge,
            TokenKind::Ident => {
                let word = self.text(&t);
                if word.eq_ignore_ascii_case("LIKE") {
                    Operator::Like
                } else if word.eq_ignore_ascii_case("IN") {
                    Operator::In
                } else if word.eq_ignore_ascii_case("INCLUDES") {
                    Operator::Includes
                } else if word.eq_ignore_ascii_case("EXCLUDES") {
                    Operator::Excludes
                } else if word.eq_ignore_ascii_case("NOT") && self.is_kw_at(1, "IN") {
                    self.bump();
                    Operator::NotIn
                } else {
                    return Err(self.error("an operator"));
                }
            }
            _ => return Err(self.error("an operator")),
        };
        self.bump();
        let rhs = if op.takes_list() {
            self.check_bind()?;
            self.expect_kind(TokenKind::LParen, "`(`")?;
            if self.is_kw("SELECT") {
                if !matches!(op, Operator::In | Operator::NotIn) {
                    return Err(self.error("a value"));
                }
                self.enter()?;
                let q = self.query(true)?;
                self.leave();
                self.expect_kind(TokenKind::RParen, "`)`")?;
                Value::Subquery(Box::new(q))
            } else {
                let mut values = vec![self.literal()?];
                while self.eat_kind(TokenKind::Comma) {
                    values.push(self.literal()?);
                }
                self.expect_kind(TokenKind::RParen, "`)`")?;
                Value::List(values)
            }
        } else {
            Value::Literal(self.literal()?)
        };
        Ok(Comparison { lhs, op, rhs })
    }

    fn check_bind(&self) -> Result<()> {
        let t = self.peek();
        if t.kind == TokenKind::Colon {
            return Err(self.error_at(
                t,
                "a value",
                "Bind variables only allowed in Apex code".to_string(),
            ));
        }
        Ok(())
    }

    fn literal(&mut self) -> Result<Literal> {
        self.check_bind()?;
        let t = self.peek().clone();
        let text = self.text(&t);
        let lit = match t.kind {
            TokenKind::String => {
                Literal::String(StringLit::from_raw(text[1..text.len() - 1].to_string()))
            }
            TokenKind::Number => Literal::Number(text.to_string()),
            TokenKind::Date => Literal::Date(text.to_string()),
            TokenKind::DateTime => Literal::DateTime(text.to_string()),
            TokenKind::Currency => {
                let (code, amount) = text.split_at(3);
                Literal::Currency {
                    code: code.to_string(),
                    amount: amount.to_string(),
                }
            }
            TokenKind::Ident => {
                if text.eq_ignore_ascii_case("NULL") {
                    Literal::Null
                } else if text.eq_ignore_ascii_case("TRUE") {
                    Literal::Boolean(true)
                } else if text.eq_ignore_ascii_case("FALSE") {
                    Literal::Boolean(false)
                } else if let Some(d) = DateLiteral::named(text) {
                    Literal::DateLiteral(DateLiteral::Named(d))
                } else if let Some(d) = DateLiteral::with_n(text) {
                    self.bump();
                    self.expect_kind(TokenKind::Colon, "`:` and a number")?;
                    let n = self.unsigned("a number of days/weeks/months/quarters/years")?;
                    let n = u32::try_from(n).map_err(|_| self.error("a smaller number"))?;
                    return Ok(Literal::DateLiteral(DateLiteral::WithN(d, n)));
                } else {
                    return Err(self.error("a value"));
                }
            }
            _ => return Err(self.error("a value")),
        };
        self.bump();
        Ok(lit)
    }

    // ---- other clauses ----

    fn with_clause(&mut self) -> Result<With> {
        if self.eat_kw("SECURITY_ENFORCED") {
            return Ok(With::SecurityEnforced);
        }
        if self.eat_kw("USER_MODE") {
            return Ok(With::UserMode);
        }
        if self.eat_kw("SYSTEM_MODE") {
            return Ok(With::SystemMode);
        }
        if self.eat_kw("DATA") {
            self.expect_kw("CATEGORY")?;
            let mut filters = vec![self.category_filter()?];
            while self.eat_kw("AND") {
                filters.push(self.category_filter()?);
            }
            return Ok(With::DataCategory(filters));
        }
        Err(self.error("SECURITY_ENFORCED, USER_MODE, SYSTEM_MODE or DATA CATEGORY"))
    }

    fn category_filter(&mut self) -> Result<DataCategoryFilter> {
        let group = self.name("a data category group")?;
        let selector = if self.eat_kw("AT") {
            CategorySelector::At
        } else if self.eat_kw("ABOVE") {
            CategorySelector::Above
        } else if self.eat_kw("BELOW") {
            CategorySelector::Below
        } else if self.eat_kw("ABOVE_OR_BELOW") {
            CategorySelector::AboveOrBelow
        } else {
            return Err(self.error("AT, ABOVE, BELOW or ABOVE_OR_BELOW"));
        };
        let categories = if self.eat_kind(TokenKind::LParen) {
            let mut c = vec![self.name("a category")?];
            while self.eat_kind(TokenKind::Comma) {
                c.push(self.name("a category")?);
            }
            self.expect_kind(TokenKind::RParen, "`)`")?;
            c
        } else {
            vec![self.name("a category")?]
        };
        Ok(DataCategoryFilter {
            group,
            selector,
            categories,
        })
    }

    fn group_by(&mut self) -> Result<GroupBy> {
        for (kw, kind) in [("ROLLUP", GroupByKind::Rollup), ("CUBE", GroupByKind::Cube)] {
            if self.is_kw(kw) && self.peek_n(1).kind == TokenKind::LParen {
                self.bump();
                self.bump();
                let items = self.operand_list()?;
                self.expect_kind(TokenKind::RParen, "`)`")?;
                return Ok(GroupBy { kind, items });
            }
        }
        Ok(GroupBy {
            kind: GroupByKind::Plain,
            items: self.operand_list()?,
        })
    }

    fn operand_list(&mut self) -> Result<Vec<Operand>> {
        let mut items = vec![self.operand()?];
        while self.eat_kind(TokenKind::Comma) {
            items.push(self.operand()?);
        }
        Ok(items)
    }

    fn order_by(&mut self) -> Result<Vec<OrderItem>> {
        let mut items = Vec::new();
        loop {
            let target = self.operand()?;
            let direction = if self.eat_kw("ASC") {
                Some(Direction::Asc)
            } else if self.eat_kw("DESC") {
                Some(Direction::Desc)
            } else {
                None
            };
            let nulls = if self.eat_kw("NULLS") {
                if self.eat_kw("FIRST") {
                    Some(Nulls::First)
                } else if self.eat_kw("LAST") {
                    Some(Nulls::Last)
                } else {
                    return Err(self.error("FIRST or LAST"));
                }
            } else {
                None
            };
            items.push(OrderItem {
                target,
                direction,
                nulls,
            });
            if !self.eat_kind(TokenKind::Comma) {
                return Ok(items);
            }
        }
    }
}
