//! The Bulk API 2.0: [`ingest`] jobs (`/jobs/ingest`, CSV uploads run as DML) and [`query`] jobs
//! (`/jobs/query`, SOQL results as CSV pages). Each kind has its routes and its worker; what they
//! share (job ids, the worker loop, CSV options, job counters) is in `job.rs`.

pub mod ingest;
mod job;
pub mod query;
