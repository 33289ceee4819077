//! SOQL lexer: text → tokens.
//!
//! Owns tokenisation only. It never fails: text it does not understand becomes an
//! [`TokenKind::Unknown`] token (or an unterminated/invalid string token) for the parser to report,
//! and the token stream always ends with [`TokenKind::Eof`]. Whitespace and comments are tokens too,
//! so spans cover the whole input without gaps. Keywords are not distinguished from identifiers here
//! (SOQL keywords double as field names, e.g. `Format`); the parser matches them case-insensitively.

use std::ops::Range;

/// A byte range in the source text.
pub type Span = Range<usize>;

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// Spaces, tabs, newlines.
    Whitespace,
    /// `// …` to end of line, or `/* … */`.
    Comment,
    /// A name or keyword: `[A-Za-z_][A-Za-z0-9_]*`.
    Ident,
    /// `42`, `-5`, `101.00`.
    Number,
    /// `'…'` with valid escapes.
    String,
    /// A string missing its closing quote.
    UnterminatedString,
    /// A closed string containing a backslash sequence SOQL does not allow.
    InvalidEscape,
    /// `2024-01-31`.
    Date,
    /// `2024-01-31T10:00:00Z` and offset forms.
    DateTime,
    /// `USD5000`, `usd500.01`, `USD-500`.
    Currency,
    /// `(`
    LParen,
    /// `)`
    RParen,
    /// `,`
    Comma,
    /// `.`
    Dot,
    /// `:`
    Colon,
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `<>`
    LtGt,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// A character SOQL has no use for.
    Unknown,
    /// End of input (empty span at the end).
    Eof,
}

impl TokenKind {
    /// How the kind reads in an error message.
    pub fn describe(self) -> &'static str {
        match self {
            TokenKind::Whitespace => "whitespace",
            TokenKind::Comment => "a comment",
            TokenKind::Ident => "a name",
            TokenKind::Number => "a number",
            TokenKind::String => "a string",
            TokenKind::UnterminatedString => "an unterminated string",
            TokenKind::InvalidEscape => "a string with an invalid escape",
            TokenKind::Date => "a date",
            TokenKind::DateTime => "a datetime",
            TokenKind::Currency => "a currency amount",
            TokenKind::LParen => "`(`",
            TokenKind::RParen => "`)`",
            TokenKind::Comma => "`,`",
            TokenKind::Dot => "`.`",
            TokenKind::Colon => "`:`",
            TokenKind::Eq => "`=`",
            TokenKind::Ne => "`!=`",
            TokenKind::LtGt => "`<>`",
            TokenKind::Lt => "`<`",
            TokenKind::Le => "`<=`",
            TokenKind::Gt => "`>`",
            TokenKind::Ge => "`>=`",
            TokenKind::Unknown => "an unexpected character",
            TokenKind::Eof => "end of query",
        }
    }

    /// Whitespace or a comment.
    pub fn is_trivia(self) -> bool {
        matches!(self, TokenKind::Whitespace | TokenKind::Comment)
    }
}

/// A token: kind and span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// What it is.
    pub kind: TokenKind,
    /// Where it is.
    pub span: Span,
}

/// Splits `src` into tokens, trivia included, ending with [`TokenKind::Eof`].
pub fn tokenize(src: &str) -> Vec<Token> {
    let mut lexer = Lexer {
        src: src.as_bytes(),
        pos: 0,
    };
    let mut out = Vec::new();
    while lexer.pos < lexer.src.len() {
        let start = lexer.pos;
        let kind = lexer.next_kind();
        debug_assert!(lexer.pos > start);
        out.push(Token {
            kind,
            span: start..lexer.pos,
        });
    }
    out.push(Token {
        kind: TokenKind::Eof,
        span: src.len()..src.len(),
    });
    out
}

struct Lexer<'a> {
    src: &'a [u8],
    pos: usize,
}

impl Lexer<'_> {
    fn peek_at(&self, offset: usize) -> Option<u8> {
        self.src.get(self.pos + offset).copied()
    }

    fn digits_at(&self, at: usize) -> usize {
        self.src[at.min(self.src.len())..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count()
    }

    fn is_ident_byte(b: u8) -> bool {
        b.is_ascii_alphanumeric() || b == b'_'
    }

    fn next_kind(&mut self) -> TokenKind {
        let b = self.src[self.pos];
        match b {
            b' ' | b'\t' | b'\n' | b'\r' => {
                while matches!(self.peek_at(0), Some(b' ' | b'\t' | b'\n' | b'\r')) {
                    self.pos += 1;
                }
                TokenKind::Whitespace
            }
            b'/' if self.peek_at(1) == Some(b'/') => {
                while !matches!(self.peek_at(0), None | Some(b'\n')) {
                    self.pos += 1;
                }
                TokenKind::Comment
            }
            b'/' if self.peek_at(1) == Some(b'*') => {
                self.pos += 2;
                loop {
                    match self.peek_at(0) {
                        None => break,
                        Some(b'*') if self.peek_at(1) == Some(b'/') => {
                            self.pos += 2;
                            break;
                        }
                        Some(_) => self.pos += 1,
                    }
                }
                TokenKind::Comment
            }
            b'\'' => self.string(),
            b'(' => self.one(TokenKind::LParen),
            b')' => self.one(TokenKind::RParen),
            b',' => self.one(TokenKind::Comma),
            b'.' => self.one(TokenKind::Dot),
            b':' => self.one(TokenKind::Colon),
            b'=' => self.one(TokenKind::Eq),
            b'!' if self.peek_at(1) == Some(b'=') => self.two(TokenKind::Ne),
            b'<' if self.peek_at(1) == Some(b'>') => self.two(TokenKind::LtGt),
            b'<' if self.peek_at(1) == Some(b'=') => self.two(TokenKind::Le),
            b'<' => self.one(TokenKind::Lt),
            b'>' if self.peek_at(1) == Some(b'=') => self.two(TokenKind::Ge),
            b'>' => self.one(TokenKind::Gt),
            b'0'..=b'9' => self.number_or_date(),
            b'-' if self.peek_at(1).is_some_and(|b| b.is_ascii_digit()) => {
                self.pos += 1;
                self.number();
                TokenKind::Number
            }
            b if b.is_ascii_alphabetic() || b == b'_' => self.ident_or_currency(),
            _ => {
                // One whole UTF-8 character.
                self.pos += 1;
                while self.peek_at(0).is_some_and(|b| (b & 0xC0) == 0x80) {
                    self.pos += 1;
                }
                TokenKind::Unknown
            }
        }
    }

    fn one(&mut self, kind: TokenKind) -> TokenKind {
        self.pos += 1;
        kind
    }

    fn two(&mut self, kind: TokenKind) -> TokenKind {
        self.pos += 2;
        kind
    }

    fn string(&mut self) -> TokenKind {
        self.pos += 1;
        let mut invalid = false;
        loop {
            match self.peek_at(0) {
                None => return TokenKind::UnterminatedString,
                Some(b'\'') => {
                    self.pos += 1;
                    return if invalid {
                        TokenKind::InvalidEscape
                    } else {
                        TokenKind::String
                    };
                }
                Some(b'\\') => {
                    match self.peek_at(1) {
                        None => {
                            self.pos += 1;
                            return TokenKind::UnterminatedString;
                        }
                        Some(b'u' | b'U') => {
                            let hex = self.src[(self.pos + 2).min(self.src.len())..]
                                .iter()
                                .take(4);
                            if hex.clone().count() < 4
                                || !hex.clone().all(|b| b.is_ascii_hexdigit())
                            {
                                invalid = true;
                            }
                        }
                        Some(
                            b'n' | b'N' | b'r' | b'R' | b't' | b'T' | b'b' | b'B' | b'f' | b'F'
                            | b'"' | b'\'' | b'\\' | b'%' | b'_',
                        ) => {}
                        Some(_) => invalid = true,
                    }
                    self.pos += 2;
                }
                Some(_) => self.pos += 1,
            }
        }
    }

    fn number(&mut self) {
        self.pos += self.digits_at(self.pos);
        if self.peek_at(0) == Some(b'.') && self.peek_at(1).is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
            self.pos += self.digits_at(self.pos);
        }
    }

    fn number_or_date(&mut self) -> TokenKind {
        let p = self.pos;
        let s = self.src;
        let is_date = self.digits_at(p) == 4
            && s.get(p + 4) == Some(&b'-')
            && self.digits_at(p + 5) == 2
            && s.get(p + 7) == Some(&b'-')
            && self.digits_at(p + 8) == 2;
        if !is_date {
            self.number();
            return TokenKind::Number;
        }
        self.pos = p + 10;
        match self.time_suffix(self.pos) {
            Some(len) => {
                self.pos += len;
                TokenKind::DateTime
            }
            None => TokenKind::Date,
        }
    }

    /// Length of `Thh:mm:ss[.fff](Z|±hh[:]mm)` at `at`, if there is one.
    fn time_suffix(&self, at: usize) -> Option<usize> {
        let s = self.src;
        if !matches!(s.get(at), Some(b'T' | b't')) {
            return None;
        }
        let mut i = at + 1;
        for part in 0..3 {
            if self.digits_at(i) != 2 {
                return None;
            }
            i += 2;
            if part < 2 {
                if s.get(i) != Some(&b':') {
                    return None;
                }
                i += 1;
            }
        }
        if s.get(i) == Some(&b'.') && self.digits_at(i + 1) > 0 {
            i += 1 + self.digits_at(i + 1);
        }
        match s.get(i) {
            Some(b'Z' | b'z') => Some(i + 1 - at),
            Some(b'+' | b'-') => {
                if self.digits_at(i + 1) == 4 {
                    Some(i + 5 - at)
                } else if self.digits_at(i + 1) == 2
                    && s.get(i + 3) == Some(&b':')
                    && self.digits_at(i + 4) == 2
                {
                    Some(i + 6 - at)
                } else {
                    None
                }
            }
            _ => None,
        }
    }

    fn ident_or_currency(&mut self) -> TokenKind {
        let p = self.pos;
        let s = self.src;
        // Currency: exactly three letters, an optional minus, digits, optional fraction, and then
        // no further name character.
        if s.len() > p + 3 && s[p..p + 3].iter().all(u8::is_ascii_alphabetic) {
            let mut i = p + 3;
            if s.get(i) == Some(&b'-') {
                i += 1;
            }
            let int = self.digits_at(i);
            if int > 0 {
                i += int;
                if s.get(i) == Some(&b'.') && self.digits_at(i + 1) > 0 {
                    i += 1 + self.digits_at(i + 1);
                }
                if !s.get(i).copied().is_some_and(Self::is_ident_byte) {
                    self.pos = i;
                    return TokenKind::Currency;
                }
            }
        }
        while self.peek_at(0).is_some_and(Self::is_ident_byte) {
            self.pos += 1;
        }
        TokenKind::Ident
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn lex(src: &str) -> Vec<(TokenKind, &str)> {
        let tokens = tokenize(src);
        // Invariant: spans start at 0, leave no gaps and end at the end of the input.
        let mut at = 0;
        for t in &tokens {
            assert_eq!(t.span.start, at, "gap before {t:?} in {src:?}");
            at = t.span.end;
        }
        assert_eq!(at, src.len());
        assert_eq!(tokens.last().map(|t| t.kind), Some(TokenKind::Eof));
        tokens
            .iter()
            .filter(|t| !t.kind.is_trivia() && t.kind != TokenKind::Eof)
            .map(|t| (t.kind, &src[t.span.clone()]))
            .collect()
    }

    use TokenKind as K;

    #[test]
    fn table() {
        let cases: &[(&str, &[(TokenKind, &str)])] = &[
            (
                "SELECT Id FROM Account",
                &[
                    (K::Ident, "SELECT"),
                    (K::Ident, "Id"),
                    (K::Ident, "FROM"),
                    (K::Ident, "Account"),
                ],
            ),
            ("a.b", &[(K::Ident, "a"), (K::Dot, "."), (K::Ident, "b")]),
            (
                "x != 1",
                &[(K::Ident, "x"), (K::Ne, "!="), (K::Number, "1")],
            ),
            (
                "x <> -1.5",
                &[(K::Ident, "x"), (K::LtGt, "<>"), (K::Number, "-1.5")],
            ),
            ("<=>=<>", &[(K::Le, "<="), (K::Ge, ">="), (K::LtGt, "<>")]),
            ("2024-01-31", &[(K::Date, "2024-01-31")]),
            (
                "2010-09-20T22:16:30.000Z",
                &[(K::DateTime, "2010-09-20T22:16:30.000Z")],
            ),
            (
                "2020-04-15T02:40:03.000+0000",
                &[(K::DateTime, "2020-04-15T02:40:03.000+0000")],
            ),
            (
                "2020-04-23T09:00:00+00:00",
                &[(K::DateTime, "2020-04-23T09:00:00+00:00")],
            ),
            ("USD5000", &[(K::Currency, "USD5000")]),
            ("usd500.01", &[(K::Currency, "usd500.01")]),
            ("USD-500", &[(K::Currency, "USD-500")]),
            ("Abc1__c", &[(K::Ident, "Abc1__c")]),
            (
                "LAST_N_DAYS:30",
                &[
                    (K::Ident, "LAST_N_DAYS"),
                    (K::Colon, ":"),
                    (K::Number, "30"),
                ],
            ),
            (r"'it\'s'", &[(K::String, r"'it\'s'")]),
            (r"'a\%b\_'", &[(K::String, r"'a\%b\_'")]),
            (r"'\u00e9'", &[(K::String, r"'\u00e9'")]),
            (r"'bad\q'", &[(K::InvalidEscape, r"'bad\q'")]),
            (r"'\u12'", &[(K::InvalidEscape, r"'\u12'")]),
            ("'open", &[(K::UnterminatedString, "'open")]),
            ("'ends\\", &[(K::UnterminatedString, "'ends\\")]),
            ("a // c\nb", &[(K::Ident, "a"), (K::Ident, "b")]),
            ("a /* c */ b", &[(K::Ident, "a"), (K::Ident, "b")]),
            ("'not // a comment'", &[(K::String, "'not // a comment'")]),
            (
                "a ; b",
                &[(K::Ident, "a"), (K::Unknown, ";"), (K::Ident, "b")],
            ),
            ("é", &[(K::Unknown, "é")]),
            (":foo", &[(K::Colon, ":"), (K::Ident, "foo")]),
        ];
        for (src, want) in cases {
            assert_eq!(&lex(src), want, "input {src:?}");
        }
    }

    #[test]
    fn empty_input_is_just_eof() {
        assert_eq!(
            tokenize(""),
            vec![Token {
                kind: TokenKind::Eof,
                span: 0..0
            }]
        );
    }
}
