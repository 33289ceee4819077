//! SOQL: lexer → AST → parser, and a renderer that escapes every literal.
//!
//! Owns the SOQL language only. Shared by the agent (which builds queries with [`render`](fn@render)-side
//! escaping, never by string concatenation) and the sandbox (which evaluates the AST). Does no I/O.
//!
//! # Phases
//! 1. [`lexer`]: text → tokens. Never fails: unknown text becomes an error token.
//! 2. [`parser`]: tokens → [`ast::Query`], with errors carrying span, expected and found.
//! 3. [`render`](fn@render): [`ast::Query`] → SOQL text, every literal escaped (`parse(render(q)) == q`).
//! 4. [`builder`]: a small typed builder the agent uses to put user text into queries safely.

pub mod ast;
pub mod builder;
pub mod lexer;
pub mod parser;
pub mod render;
#[cfg(test)]
mod test;

pub use ast::*;
pub use builder::{BuildError, LikeMatch, QueryBuilder, escape_like, escape_string, quote_string};
pub use parser::{ParseError, parse, parse_condition};
pub use render::{render, render_condition, render_literal};
