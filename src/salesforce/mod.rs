//! The REST client every command goes through: one reqwest client, API version, refresh on 401,
//! retries where safe, API usage ledger from `Sforce-Limit-Info`.
//!
//! Knows the Salesforce wire format; does not know about phrases or intents.
