//! sayso — a natural-language command agent for Salesforce.
//!
//! A phrase goes through a fixed pipeline:
//!
//! 1. [`lang`] turns text (typed or dictated) into typed intents, using the grammars in `grammars/`.
//! 2. `resolve` turns intents into API names and record ids using describe metadata and escaped SOQL.
//! 3. `plan` decides the fewest API calls; `exec` sends them through [`salesforce`] and records them in
//!    `journal` so they can be undone.
//!
//! # Layout
//! - [`id`] — Salesforce record ids (15/18 characters, checksum), key prefixes and object API names. Shared.
//! - [`soql`] — SOQL lexer, AST, parser and renderer (escaping). Shared by the agent and the sandbox.
//! - [`lang`] — the command language: normalisation, entities, grammar matching, intents. Pure, no I/O.
//! - [`auth`] — the agent's side of OAuth: login flows, refresh, token storage.
//! - [`config`] — `SAYSO_HOME`, profiles and `config.toml`. Shared by every agent module.
//! - [`salesforce`] — the one wire layer: the REST [`salesforce::Client`] (session, renewal,
//!   retries, usage ledger) and the per-command [`salesforce::Org`] handle every request goes through.
//! - [`resolve`] — intents → API names, picklist values, record ids (describe cache, SOQL/SOSL lookups,
//!   field permissions) → a [`plan::Plan`].
//! - [`plan`] — the writes of a command and the route with the fewest calls. Pure.
//! - [`exec`] — carries plans out (PATCH, composite, collections, Bulk 2.0), undo and retry.
//! - [`journal`] — the append-only SQLite journal of every change.
//! - [`app`] — the ops layer: `Agent::submit(phrase) -> Outcome`.
//! - [`admin`] — admin commands over the org: connected apps audit, grants and revocation, API use,
//!   contractor users.
//! - [`mcp`] — the MCP server (`sayso mcp`): tools for AI assistants over [`app`], with previews
//!   applied by id, elicitation, and the `[mcp]` limits.
//! - [`sandbox`] — the embedded Salesforce org emulator (`sayso sandbox`). Imports only [`soql`] and [`id`].
//!
//! The binary (`src/bin/sayso`) is a thin layer: argument parsing, the shell, and rendering.

#![warn(clippy::too_many_lines)]

pub mod admin;
pub mod app;
pub mod auth;
pub mod config;
pub mod exec;
pub mod id;
pub mod journal;
pub mod lang;
pub mod mcp;
pub mod plan;
pub mod resolve;
pub mod salesforce;
pub mod sandbox;
pub mod soql;
