//! The Bulk API 2.0: [`ingest`] jobs (`/jobs/ingest`, CSV uploads run as DML) and [`query`] jobs
//! (`/jobs/query`, SOQL results as CSV pages). Each kind has its routes and its worker.

pub mod ingest;
pub mod query;
