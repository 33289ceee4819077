//! SOQL: lexer → AST → parser, and a renderer that escapes every literal.
//!
//! Owns the SOQL language only. Shared by the agent (which builds queries with [`render`]-side
//! escaping, never by string concatenation) and the sandbox (which evaluates the AST). Does no I/O.
