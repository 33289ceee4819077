//! The SOQL abstract syntax tree: what [`crate::soql::parse`] produces and [`crate::soql::render`](fn@crate::soql::render)
//! turns back into text.
//!
//! Owns the data shapes only: no parsing, no rendering, no evaluation. Names (objects, fields,
//! relationships, aliases) are kept exactly as written; Salesforce compares them case-insensitively,
//! so consumers must too. String literals keep their escaped source form ([`StringLit`]) so that
//! rendering is exact and LIKE escapes (`\%`, `\_`) survive.

use std::fmt;

/// One SOQL query: `SELECT … FROM … [WHERE …] …`, also used for child subqueries and semi-joins.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    /// The select list, in order.
    pub select: Vec<SelectItem>,
    /// The `FROM` object (or, in a child subquery, the child relationship).
    pub from: From,
    /// `USING SCOPE name`.
    pub using_scope: Option<String>,
    /// `WHERE` condition.
    pub where_clause: Option<Condition>,
    /// `WITH …` clauses, in order (`WITH DATA CATEGORY … WITH SECURITY_ENFORCED` is allowed).
    pub with: Vec<With>,
    /// `GROUP BY`.
    pub group_by: Option<GroupBy>,
    /// `HAVING` condition (only with `GROUP BY`).
    pub having: Option<Condition>,
    /// `ORDER BY` items.
    pub order_by: Vec<OrderItem>,
    /// `LIMIT n`.
    pub limit: Option<u64>,
    /// `OFFSET n`.
    pub offset: Option<u64>,
    /// `FOR VIEW | REFERENCE | UPDATE`.
    pub for_clause: Option<For>,
    /// `UPDATE TRACKING | VIEWSTAT`.
    pub update: Option<Update>,
}

/// The `FROM` clause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct From {
    /// The object name; in a child subquery the relationship name, possibly prefixed by the parent
    /// (`FROM Account.Contacts` → `["Account", "Contacts"]`). Never empty.
    pub path: Vec<String>,
    /// `FROM Contact c` → `Some("c")`.
    pub alias: Option<String>,
}

impl From {
    /// The object (or child relationship) name: the last element of the path.
    pub fn name(&self) -> &str {
        self.path.last().map(String::as_str).unwrap_or("")
    }
}

/// A dotted field reference as written: `Name`, `Account.Name`, `c.Account.Owner.Name`.
///
/// A leading element may be the `FROM` alias; see [`Query::strip_alias`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FieldPath(pub Vec<String>);

impl FieldPath {
    /// A path of one field.
    pub fn field(name: &str) -> FieldPath {
        FieldPath(vec![name.to_string()])
    }

    /// The last element: the field name itself.
    pub fn name(&self) -> &str {
        self.0.last().map(String::as_str).unwrap_or("")
    }

    /// The relationship names before the field (`Account.Owner.Name` → `["Account", "Owner"]`).
    pub fn relationships(&self) -> &[String] {
        &self.0[..self.0.len().saturating_sub(1)]
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join("."))
    }
}

/// One entry of the select list.
#[derive(Debug, Clone, PartialEq)]
pub enum SelectItem {
    /// `Name`, `Account.Name`, optionally aliased (aliases are meaningful in aggregate queries).
    Field {
        /// The field.
        path: FieldPath,
        /// `Name n` → `Some("n")`.
        alias: Option<String>,
    },
    /// `COUNT()`, `SUM(Amount) total`, `toLabel(Status)`, `FORMAT(MIN(CloseDate))`, `DISTANCE(…)`.
    Function {
        /// The call.
        call: FunctionCall,
        /// Alias, if any.
        alias: Option<String>,
    },
    /// `FIELDS(ALL | STANDARD | CUSTOM)`.
    Fields(FieldsKind),
    /// `(SELECT … FROM Contacts)`: a parent-to-child subquery.
    Subquery(Box<Query>),
    /// `TYPEOF What WHEN Account THEN Phone … ELSE Name END`.
    TypeOf(TypeOf),
}

/// `FIELDS(…)` selector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldsKind {
    /// `FIELDS(ALL)`.
    All,
    /// `FIELDS(STANDARD)`.
    Standard,
    /// `FIELDS(CUSTOM)`.
    Custom,
}

impl FieldsKind {
    /// The keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            FieldsKind::All => "ALL",
            FieldsKind::Standard => "STANDARD",
            FieldsKind::Custom => "CUSTOM",
        }
    }
}

/// `TYPEOF field WHEN Type THEN fields … [ELSE fields] END`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeOf {
    /// The polymorphic relationship (`What`, `Who`, `Owner`).
    pub relationship: String,
    /// `WHEN Type THEN fields`, in order (at least one).
    pub whens: Vec<(String, Vec<FieldPath>)>,
    /// `ELSE fields`.
    pub else_fields: Option<Vec<FieldPath>>,
}

/// A function call in a select list, condition, GROUP BY or ORDER BY.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionCall {
    /// Which function.
    pub function: Function,
    /// Arguments, in order (empty for `COUNT()`).
    pub args: Vec<FunctionArg>,
}

/// One argument of a [`FunctionCall`].
#[derive(Debug, Clone, PartialEq)]
pub enum FunctionArg {
    /// A field (`Amount`, `Owner.Name`).
    Field(FieldPath),
    /// A nested call (`convertTimezone(CreatedDate)`, `GEOLOCATION(1, 2)`).
    Function(FunctionCall),
    /// A literal (`'mi'`, `37.775`).
    Literal(Literal),
}

macro_rules! functions {
    ($($variant:ident = $name:literal, $aggregate:literal;)*) => {
        /// A SOQL function, by its canonical spelling (matched case-insensitively).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Function {
            $(
                #[doc = concat!("`", $name, "()`")]
                $variant,
            )*
        }

        impl Function {
            /// Every function, in table order.
            pub const ALL: &'static [Function] = &[$(Function::$variant),*];

            /// The canonical spelling.
            pub fn as_str(self) -> &'static str {
                match self { $(Function::$variant => $name,)* }
            }

            /// Whether this is an aggregate function (or a date function usable in GROUP BY,
            /// which makes the query an aggregate query too).
            pub fn is_aggregate(self) -> bool {
                match self { $(Function::$variant => $aggregate,)* }
            }

            /// Looks a function up by name, case-insensitively.
            pub fn from_name(name: &str) -> Option<Function> {
                Function::ALL.iter().copied().find(|f| f.as_str().eq_ignore_ascii_case(name))
            }
        }
    };
}

functions! {
    Count = "COUNT", true;
    CountDistinct = "COUNT_DISTINCT", true;
    Sum = "SUM", true;
    Avg = "AVG", true;
    Min = "MIN", true;
    Max = "MAX", true;
    CalendarMonth = "CALENDAR_MONTH", true;
    CalendarQuarter = "CALENDAR_QUARTER", true;
    CalendarYear = "CALENDAR_YEAR", true;
    DayInMonth = "DAY_IN_MONTH", true;
    DayInWeek = "DAY_IN_WEEK", true;
    DayInYear = "DAY_IN_YEAR", true;
    DayOnly = "DAY_ONLY", true;
    FiscalMonth = "FISCAL_MONTH", true;
    FiscalQuarter = "FISCAL_QUARTER", true;
    FiscalYear = "FISCAL_YEAR", true;
    HourInDay = "HOUR_IN_DAY", true;
    WeekInMonth = "WEEK_IN_MONTH", true;
    WeekInYear = "WEEK_IN_YEAR", true;
    ConvertTimezone = "convertTimezone", false;
    ConvertCurrency = "convertCurrency", false;
    ToLabel = "toLabel", false;
    Format = "FORMAT", false;
    Grouping = "GROUPING", false;
    Distance = "DISTANCE", false;
    Geolocation = "GEOLOCATION", false;
}

impl Function {
    /// Whether this is one of the date functions (`CALENDAR_YEAR`, `DAY_ONLY`, `HOUR_IN_DAY`, …).
    pub fn is_date_function(self) -> bool {
        self.is_aggregate()
            && !matches!(
                self,
                Function::Count
                    | Function::CountDistinct
                    | Function::Sum
                    | Function::Avg
                    | Function::Min
                    | Function::Max
            )
    }
}

/// A boolean condition (WHERE or HAVING). Nesting mirrors the parentheses of the source: SOQL
/// forbids mixing AND and OR without them.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// `a AND b AND …` (two or more).
    And(Vec<Condition>),
    /// `a OR b OR …` (two or more).
    Or(Vec<Condition>),
    /// `NOT a`.
    Not(Box<Condition>),
    /// `lhs op rhs`.
    Compare(Comparison),
}

impl Condition {
    /// The word between the parts of an AND or an OR, spaced (` AND `, ` OR `); `None` for the others.
    pub fn joiner(&self) -> Option<&'static str> {
        match self {
            Condition::And(_) => Some(" AND "),
            Condition::Or(_) => Some(" OR "),
            Condition::Not(_) | Condition::Compare(_) => None,
        }
    }
}

/// `lhs op rhs`, e.g. `Account.Name LIKE 'Acme%'`, `COUNT(Id) > 1`, `Id IN (SELECT …)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// Left side: a field or a function of one.
    pub lhs: Operand,
    /// The operator.
    pub op: Operator,
    /// Right side.
    pub rhs: Value,
}

/// The left side of a comparison, a GROUP BY item or an ORDER BY item.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    /// A field.
    Field(FieldPath),
    /// A function call.
    Function(FunctionCall),
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    /// `=`
    Eq,
    /// `!=` (also written `<>`)
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `LIKE`
    Like,
    /// `IN`
    In,
    /// `NOT IN`
    NotIn,
    /// `INCLUDES`
    Includes,
    /// `EXCLUDES`
    Excludes,
}

impl Operator {
    /// The operator as SOQL text.
    pub fn as_str(self) -> &'static str {
        match self {
            Operator::Eq => "=",
            Operator::Ne => "!=",
            Operator::Lt => "<",
            Operator::Le => "<=",
            Operator::Gt => ">",
            Operator::Ge => ">=",
            Operator::Like => "LIKE",
            Operator::In => "IN",
            Operator::NotIn => "NOT IN",
            Operator::Includes => "INCLUDES",
            Operator::Excludes => "EXCLUDES",
        }
    }

    /// Whether the right side is a parenthesised list (or, for IN / NOT IN, a semi-join).
    pub fn takes_list(self) -> bool {
        matches!(
            self,
            Operator::In | Operator::NotIn | Operator::Includes | Operator::Excludes
        )
    }
}

/// The right side of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// One literal.
    Literal(Literal),
    /// `(a, b, …)` after IN / NOT IN / INCLUDES / EXCLUDES.
    List(Vec<Literal>),
    /// `(SELECT …)` after IN / NOT IN: a semi-join or anti-join.
    Subquery(Box<Query>),
}

/// A literal value.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// `null`
    Null,
    /// `true` / `false`
    Boolean(bool),
    /// `42`, `-5`, `101.00`: the source text (sign included), validated.
    Number(String),
    /// `'text'`.
    String(StringLit),
    /// `2024-01-31`.
    Date(String),
    /// `2024-01-31T10:00:00Z`, `…+01:00`, `….000+0000`.
    DateTime(String),
    /// `TODAY`, `LAST_N_DAYS:30`, ….
    DateLiteral(DateLiteral),
    /// `USD5000`, `usd500.01`, `USD-500`.
    Currency {
        /// ISO code as written (`USD`).
        code: String,
        /// Amount text as written (`5000`, `-500`, `500.01`).
        amount: String,
    },
}

/// A string literal, held in its escaped SOQL form (without the surrounding quotes).
///
/// Build one from user text with [`StringLit::from_value`]; read it with [`StringLit::value`]
/// (or [`StringLit::like_pattern`] for LIKE).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StringLit {
    raw: String,
}

impl StringLit {
    /// Wraps already-escaped text. Only the lexer/parser and the escaping constructors call this:
    /// `raw` must be a valid escaped body (no unescaped `'`, no invalid `\` sequence).
    pub(crate) fn from_raw(raw: String) -> StringLit {
        StringLit { raw }
    }

    /// A literal whose value is exactly `value`: quotes, backslashes and control characters are
    /// escaped, so no user text can end the literal.
    pub fn from_value(value: &str) -> StringLit {
        let mut raw = String::with_capacity(value.len() + 2);
        for c in value.chars() {
            match c {
                '\'' => raw.push_str("\\'"),
                '"' => raw.push_str("\\\""),
                '\\' => raw.push_str("\\\\"),
                '\n' => raw.push_str("\\n"),
                '\r' => raw.push_str("\\r"),
                '\t' => raw.push_str("\\t"),
                '\u{8}' => raw.push_str("\\b"),
                '\u{c}' => raw.push_str("\\f"),
                c => raw.push(c),
            }
        }
        StringLit { raw }
    }

    /// A LIKE pattern matching `value` literally (its `%` and `_` escaped), with `prefix` and
    /// `suffix` wildcards added unescaped: `like_from_value("50%", "%", "%")` matches any text
    /// containing `50%`.
    pub fn like_from_value(prefix: LikeWildcard, value: &str, suffix: LikeWildcard) -> StringLit {
        let mut raw = String::from(prefix.as_str());
        for c in StringLit::from_value(value).raw.chars() {
            match c {
                '%' => raw.push_str("\\%"),
                '_' => raw.push_str("\\_"),
                c => raw.push(c),
            }
        }
        raw.push_str(suffix.as_str());
        StringLit { raw }
    }

    /// The escaped form, as it appears between the quotes.
    pub fn raw(&self) -> &str {
        &self.raw
    }

    /// The value: escapes decoded. `\%` and `\_` stay as written (they only mean something in
    /// LIKE; use [`StringLit::like_pattern`] there).
    pub fn value(&self) -> String {
        self.decode(false)
            .into_iter()
            .map(|p| match p {
                LikePart::Char(c) => c,
                LikePart::Any => '%',
                LikePart::One => '_',
            })
            .collect()
    }

    /// The value as a LIKE pattern: unescaped `%` and `_` are wildcards, `\%` and `\_` literal.
    pub fn like_pattern(&self) -> Vec<LikePart> {
        self.decode(true)
    }

    fn decode(&self, like: bool) -> Vec<LikePart> {
        let mut out = Vec::with_capacity(self.raw.len());
        let mut chars = self.raw.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some('n' | 'N') => out.push(LikePart::Char('\n')),
                    Some('r' | 'R') => out.push(LikePart::Char('\r')),
                    Some('t' | 'T') => out.push(LikePart::Char('\t')),
                    Some('b' | 'B') => out.push(LikePart::Char('\u{8}')),
                    Some('f' | 'F') => out.push(LikePart::Char('\u{c}')),
                    Some('u' | 'U') => {
                        let hex: String = chars.by_ref().take(4).collect();
                        let c = u32::from_str_radix(&hex, 16)
                            .ok()
                            .and_then(char::from_u32)
                            .unwrap_or('\u{fffd}');
                        out.push(LikePart::Char(c));
                    }
                    Some(c @ ('%' | '_')) if like => out.push(LikePart::Char(c)),
                    Some(c @ ('%' | '_')) => {
                        out.push(LikePart::Char('\\'));
                        out.push(LikePart::Char(c));
                    }
                    Some(c) => out.push(LikePart::Char(c)),
                    None => out.push(LikePart::Char('\\')),
                },
                '%' if like => out.push(LikePart::Any),
                '_' if like => out.push(LikePart::One),
                c => out.push(LikePart::Char(c)),
            }
        }
        out
    }
}

/// One element of a decoded LIKE pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LikePart {
    /// A literal character.
    Char(char),
    /// `%`: any run of characters.
    Any,
    /// `_`: exactly one character.
    One,
}

/// A wildcard placed around a literal LIKE value by [`StringLit::like_from_value`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LikeWildcard {
    /// Nothing.
    None,
    /// `%`.
    Any,
}

impl LikeWildcard {
    fn as_str(self) -> &'static str {
        match self {
            LikeWildcard::None => "",
            LikeWildcard::Any => "%",
        }
    }
}

macro_rules! date_literals {
    (
        fixed { $($fv:ident = $fname:literal,)* }
        n { $($nv:ident = $nname:literal,)* }
    ) => {
        /// A date literal without a number (`TODAY`, `THIS_QUARTER`, …).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum NamedDate {
            $(
                #[doc = concat!("`", $fname, "`")]
                $fv,
            )*
        }

        /// A date literal taking `:n` (`LAST_N_DAYS:30`, …).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum NDate {
            $(
                #[doc = concat!("`", $nname, ":n`")]
                $nv,
            )*
        }

        impl NamedDate {
            /// Every named date literal.
            pub const ALL: &'static [NamedDate] = &[$(NamedDate::$fv),*];
            /// The keyword.
            pub fn as_str(self) -> &'static str {
                match self { $(NamedDate::$fv => $fname,)* }
            }
        }

        impl NDate {
            /// Every `:n` date literal.
            pub const ALL: &'static [NDate] = &[$(NDate::$nv),*];
            /// The keyword (without `:n`).
            pub fn as_str(self) -> &'static str {
                match self { $(NDate::$nv => $nname,)* }
            }
        }
    };
}

date_literals! {
    fixed {
        Yesterday = "YESTERDAY",
        Today = "TODAY",
        Tomorrow = "TOMORROW",
        LastWeek = "LAST_WEEK",
        ThisWeek = "THIS_WEEK",
        NextWeek = "NEXT_WEEK",
        LastMonth = "LAST_MONTH",
        ThisMonth = "THIS_MONTH",
        NextMonth = "NEXT_MONTH",
        Last90Days = "LAST_90_DAYS",
        Next90Days = "NEXT_90_DAYS",
        ThisQuarter = "THIS_QUARTER",
        LastQuarter = "LAST_QUARTER",
        NextQuarter = "NEXT_QUARTER",
        ThisYear = "THIS_YEAR",
        LastYear = "LAST_YEAR",
        NextYear = "NEXT_YEAR",
        ThisFiscalQuarter = "THIS_FISCAL_QUARTER",
        LastFiscalQuarter = "LAST_FISCAL_QUARTER",
        NextFiscalQuarter = "NEXT_FISCAL_QUARTER",
        ThisFiscalYear = "THIS_FISCAL_YEAR",
        LastFiscalYear = "LAST_FISCAL_YEAR",
        NextFiscalYear = "NEXT_FISCAL_YEAR",
    }
    n {
        LastNDays = "LAST_N_DAYS",
        NextNDays = "NEXT_N_DAYS",
        NDaysAgo = "N_DAYS_AGO",
        LastNWeeks = "LAST_N_WEEKS",
        NextNWeeks = "NEXT_N_WEEKS",
        NWeeksAgo = "N_WEEKS_AGO",
        LastNMonths = "LAST_N_MONTHS",
        NextNMonths = "NEXT_N_MONTHS",
        NMonthsAgo = "N_MONTHS_AGO",
        LastNQuarters = "LAST_N_QUARTERS",
        NextNQuarters = "NEXT_N_QUARTERS",
        NQuartersAgo = "N_QUARTERS_AGO",
        LastNYears = "LAST_N_YEARS",
        NextNYears = "NEXT_N_YEARS",
        NYearsAgo = "N_YEARS_AGO",
        LastNFiscalQuarters = "LAST_N_FISCAL_QUARTERS",
        NextNFiscalQuarters = "NEXT_N_FISCAL_QUARTERS",
        NFiscalQuartersAgo = "N_FISCAL_QUARTERS_AGO",
        LastNFiscalYears = "LAST_N_FISCAL_YEARS",
        NextNFiscalYears = "NEXT_N_FISCAL_YEARS",
        NFiscalYearsAgo = "N_FISCAL_YEARS_AGO",
    }
}

/// A relative date literal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DateLiteral {
    /// `TODAY`, `THIS_QUARTER`, ….
    Named(NamedDate),
    /// `LAST_N_DAYS:30`, ….
    WithN(NDate, u32),
}

impl DateLiteral {
    /// Looks up a literal without `:n` by name, case-insensitively.
    pub fn named(name: &str) -> Option<NamedDate> {
        NamedDate::ALL
            .iter()
            .copied()
            .find(|d| d.as_str().eq_ignore_ascii_case(name))
    }

    /// Looks up a `:n` literal by name, case-insensitively.
    pub fn with_n(name: &str) -> Option<NDate> {
        NDate::ALL
            .iter()
            .copied()
            .find(|d| d.as_str().eq_ignore_ascii_case(name))
    }
}

impl fmt::Display for DateLiteral {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DateLiteral::Named(d) => f.write_str(d.as_str()),
            DateLiteral::WithN(d, n) => write!(f, "{}:{n}", d.as_str()),
        }
    }
}

/// A `WITH` clause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum With {
    /// `WITH SECURITY_ENFORCED`.
    SecurityEnforced,
    /// `WITH USER_MODE`.
    UserMode,
    /// `WITH SYSTEM_MODE`.
    SystemMode,
    /// `WITH DATA CATEGORY g AT c AND …`.
    DataCategory(Vec<DataCategoryFilter>),
}

/// One `group selector category` (or `(c1, c2)`) filter of `WITH DATA CATEGORY`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataCategoryFilter {
    /// The category group (`Geography__c`).
    pub group: String,
    /// The selector.
    pub selector: CategorySelector,
    /// The categories (one, or a parenthesised list).
    pub categories: Vec<String>,
}

/// Data category selectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CategorySelector {
    /// `AT`
    At,
    /// `ABOVE`
    Above,
    /// `BELOW`
    Below,
    /// `ABOVE_OR_BELOW`
    AboveOrBelow,
}

impl CategorySelector {
    /// The keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            CategorySelector::At => "AT",
            CategorySelector::Above => "ABOVE",
            CategorySelector::Below => "BELOW",
            CategorySelector::AboveOrBelow => "ABOVE_OR_BELOW",
        }
    }
}

/// `GROUP BY a, b` / `GROUP BY ROLLUP(a, b)` / `GROUP BY CUBE(a, b)`.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupBy {
    /// Plain, ROLLUP or CUBE.
    pub kind: GroupByKind,
    /// The grouped fields or date functions.
    pub items: Vec<Operand>,
}

/// Kind of GROUP BY.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupByKind {
    /// `GROUP BY a, b`
    Plain,
    /// `GROUP BY ROLLUP(a, b)`
    Rollup,
    /// `GROUP BY CUBE(a, b)`
    Cube,
}

/// One ORDER BY item.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderItem {
    /// The field or function sorted on.
    pub target: Operand,
    /// `ASC` / `DESC` as written (`None` = ascending).
    pub direction: Option<Direction>,
    /// `NULLS FIRST` / `NULLS LAST` as written (`None` = first).
    pub nulls: Option<Nulls>,
}

/// Sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// `ASC`
    Asc,
    /// `DESC`
    Desc,
}

/// Null placement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nulls {
    /// `NULLS FIRST`
    First,
    /// `NULLS LAST`
    Last,
}

/// `FOR VIEW | REFERENCE | UPDATE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum For {
    /// `FOR VIEW`
    View,
    /// `FOR REFERENCE`
    Reference,
    /// `FOR UPDATE`
    Update,
}

/// `UPDATE TRACKING | VIEWSTAT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Update {
    /// `UPDATE TRACKING`
    Tracking,
    /// `UPDATE VIEWSTAT`
    Viewstat,
}

impl Query {
    /// A bare `SELECT <fields> FROM <object>` query, for builders.
    pub fn new(object: &str, select: Vec<SelectItem>) -> Query {
        Query {
            select,
            from: From {
                path: vec![object.to_string()],
                alias: None,
            },
            using_scope: None,
            where_clause: None,
            with: Vec::new(),
            group_by: None,
            having: None,
            order_by: Vec::new(),
            limit: None,
            offset: None,
            for_clause: None,
            update: None,
        }
    }

    /// `path` without a leading `FROM` alias (`c.Account.Name` with `FROM Contact c` →
    /// `Account.Name`). Paths of one element are never stripped.
    pub fn strip_alias<'a>(&self, path: &'a FieldPath) -> &'a [String] {
        match (&self.from.alias, path.0.split_first()) {
            (Some(alias), Some((first, rest)))
                if !rest.is_empty() && first.eq_ignore_ascii_case(alias) =>
            {
                rest
            }
            _ => &path.0,
        }
    }

    /// Whether the select list contains an aggregate function (so rows are `AggregateResult`s),
    /// or the query has GROUP BY.
    pub fn is_aggregate(&self) -> bool {
        self.group_by.is_some()
            || self.select.iter().any(|item| match item {
                SelectItem::Function { call, .. } => call.contains_aggregate(),
                _ => false,
            })
    }
}

impl FunctionCall {
    /// Whether this call or a nested one is an aggregate function.
    pub fn contains_aggregate(&self) -> bool {
        self.function.is_aggregate()
            || self
                .args
                .iter()
                .any(|a| matches!(a, FunctionArg::Function(f) if f.contains_aggregate()))
    }
}
