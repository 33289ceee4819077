//! The integration suite: one test binary (one link of the crate) with a module per area.
//! End-to-end tests run the real binary (`CARGO_BIN_EXE_sayso`) or the sandbox served in-process
//! over HTTP; [`support`] starts a sandbox and logs users in for all of them.

mod support;

mod admin_sandbox;
mod contract_describe;
mod exactly_once;
mod exactly_once_cli;
mod exactly_once_scale;
mod lang_cli;
mod lang_corpus;
mod lang_fuzz;
mod lists;
mod mcp;
mod offline;
mod piped_sandbox;
mod run_agent;
mod run_cli;
mod sandbox_bulk_query;
mod sandbox_data;
mod sandbox_line;
mod sandbox_oauth;
mod sandbox_oauth_browser;
mod sandbox_query;
mod sandbox_security;
mod sessions_mock;
mod sessions_sandbox;
mod shell_pty;
mod soql_peer;
