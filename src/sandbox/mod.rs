//! The sandbox org: an embedded Salesforce org emulator backed by SQLite, serving the demo org.
//!
//! Owns its own wire JSON; imports only [`crate::soql`] and [`crate::id`], never agent modules.
pub mod security;
