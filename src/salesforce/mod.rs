//! The REST client every command goes through: one reqwest client (rustls, gzip, connection
//! reuse), API version (default `v63.0`), renewal on `401 INVALID_SESSION_ID` (single-flight),
//! retries where safe, a per-command call counter, and the API usage ledger from
//! `Sforce-Limit-Info` with the `[budget]` of `config.toml`.
//!
//! Knows the Salesforce wire format; does not know about phrases, intents or the sandbox. May
//! import [`crate::auth`] (renewal, token store) and [`crate::config`].
//!
//! # Using it
//! ```no_run
//! # async fn demo() -> Result<(), sayso::salesforce::Error> {
//! use sayso::config::Home;
//! use sayso::salesforce::Client;
//! let home = Home::from_env()?;
//! let client = Client::from_profile(&home, "default").await?;
//! let per_command = client.with_new_counter();
//! let rows = per_command.query("SELECT Id, Name FROM Account LIMIT 5").await?;
//! println!("{} rows in {} API calls", rows.records.len(), per_command.api_calls());
//! # Ok(()) }
//! ```
//!
//! # Layout
//! - [`client`] — [`Client`], [`Request`], the send loop (budget, counting, renewal, retries).
//! - [`org`] — [`Org`], the per-command handle the resolver and executor send through: request
//!   shapes (queries, describe, conditional row writes, composite, collections, Bulk 2.0) and the
//!   command's call counter.
//! - [`transport`] — [`transport::ClientTransport`], [`Org`] over a [`Client`].
//! - [`rest`] — query, describe, sObject rows, composite, collections, limits.
//! - [`bulk`] — Bulk API 2.0 on [`Org`]: ingest jobs step by step or at once, query jobs by page.
//! - [`retry`] — [`Idempotency`], [`RetryPolicy`].
//! - [`limits`] — `Sforce-Limit-Info`, the usage [`Ledger`], [`BudgetStatus`].
//! - [`types`] — query pages, describe outcomes.
//! - [`error`] — [`ApiError`], [`Error`].

pub mod bulk;
pub mod client;
pub mod error;
pub mod limits;
pub mod org;
pub mod renewal;
pub mod request;
pub mod rest;
pub mod retry;
pub mod transport;
pub mod types;

pub use bulk::{BulkQuery, JobState};
pub use client::{Client, ClientOptions, DEFAULT_API_VERSION, Renewal, Request, Response};
pub use error::{ApiError, Error, LimitExceeded, LimitScope};
pub use limits::{BudgetLevel, BudgetStatus, Ledger, LimitInfo};
pub use org::{Org, OrgError};
pub use retry::{Idempotency, RetryPolicy};
pub use types::{Describe, QueryPage, QueryResult};
