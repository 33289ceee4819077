//! What an administrator reads and changes through the API, served from `security.json` and the
//! sandbox's own tables (issue 9, `sayso admin`):
//!
//! - **`ConnectedApplication`** through `GET tooling/query?q=…` (and `query?q=…`, through the hook
//!   in `query/mod.rs`). Real orgs expose the object (Id, Name, `OptionsAllowAdminApprovedUsersOnly`,
//!   `RefreshTokenValidityPeriod`, …) but keep the OAuth settings (flows, scopes, run-as user, IP
//!   relaxation, session timeout) in the Metadata API's `ConnectedApp` type. The sandbox follows
//!   the Tooling API's pattern for metadata-backed objects and adds a `Metadata` field holding
//!   that `ConnectedApp` metadata (`oauthConfig`, `oauthPolicy`, `sessionPolicy`, `ipRanges`,
//!   `profileName`) as JSON, so one query answers what a real org answers in two APIs.
//!   `ipRanges` is always empty: `security.json` has no IP policy.
//! - **`EventLogFile`** rows with `EventType = 'ApiTotalUsage'`, one `Daily` file per UTC day with
//!   calls (today's included, which a real org publishes only the next day), whose `LogFile` body
//!   (`GET sobjects/EventLogFile/{id}/LogFile`) is CSV with one row per counted call, built from
//!   `sayso_api_usage` (`rest/limits.rs`).
//! - **`Profile`** (Id, Name, `PermissionsModifyAllData`, …) from `security.json`, readable by
//!   everyone, so an admin can tell whether a client-credentials run-as user is an administrator.
//! - **`OauthToken`** is not here: `oauth/grant.rs` keeps it as a real table, queried and deleted
//!   through the ordinary data routes (deleting a row revokes its sessions at once).
//! - **`POST sayso/contractor`** (sandbox only): the contractor set-up in one transaction — an
//!   API-only integration user ("Minimum Access - API Only Integrations"), a permission set with
//!   exactly the given object and field rights assigned to it, and a client-credentials connected
//!   app running as that user, whose consumer secret is returned once. A real org does these in
//!   Setup and the Metadata API, which is why `sayso admin contractor` prints a checklist there.
//!   Changes reach the [`Policy`] at once ([`Policy::update_config`]) and are kept in
//!   `sayso_admin_change`, replayed by [`restore`] when the sandbox opens.
//!
//! Everything here is for administrators (Modify All Data or Manage Users); anyone else gets
//! `403 INSUFFICIENT_ACCESS`. Owns these routes and `sayso_admin_change` only; never logs a secret.

use std::sync::Arc;

use axum::Router;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use chrono::{NaiveDate, Utc};
use serde_json::{Map, Value as Json, json};

use crate::sandbox::clock;
use crate::sandbox::error::SfError;
use crate::sandbox::security::{Policy, Principal};
use crate::sandbox::session::DataCall;
use crate::sandbox::state::AppState;
use crate::sandbox::wire::json_response;
use crate::soql::{self, Comparison, Condition, Literal, Operand, Operator, SelectItem};

mod contractor;
mod event_log;
mod objects;

pub use contractor::{create_tables, restore};
pub use event_log::LOG_COLUMNS;
use event_log::{ELF_FIELDS, event_log_files};
pub use objects::connected_app_id;
use objects::{CA_FIELDS, PROFILE_FIELDS, connected_applications, profiles};

/// The profile every integration user created by the contractor set-up gets.
pub const API_ONLY_PROFILE: &str = "Minimum Access - API Only Integrations";

/// Routes (behind the data-route middleware): Tooling query, EventLogFile bodies, contractor.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/services/data/{version}/tooling/query", get(tooling_query))
        .route(
            "/services/data/{version}/sobjects/EventLogFile/{id}/LogFile",
            get(event_log::log_file),
        )
        .route(
            "/services/data/{version}/sayso/contractor",
            post(contractor::contractor),
        )
}

/// Whether `principal` is an administrator: Modify All Data or Manage Users.
pub fn is_admin(policy: &Policy, principal: &Principal) -> bool {
    let sys = policy.system_permissions(principal);
    sys.modify_all_data || sys.manage_users
}

fn require_admin(state: &AppState, principal: &Principal) -> Result<(), SfError> {
    if is_admin(&state.policy, principal) {
        return Ok(());
    }
    Err(SfError::new(
        StatusCode::FORBIDDEN,
        "INSUFFICIENT_ACCESS",
        "You do not have the level of access necessary to perform the operation you requested. Please contact the owner of the record or your administrator if access is necessary.",
    ))
}

// ---------------------------------------------------------------------------------------------
// Queries over ConnectedApplication and EventLogFile

async fn tooling_query(call: DataCall) -> Result<Response, SfError> {
    let text = call
        .query_param("q")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| malformed("A query string has to be specified"))?;
    let query = crate::sandbox::query::parse_soql(text)?;
    let body = virtual_query(&call.state, &call.principal, &query, call.version())?
        .ok_or_else(|| SfError::invalid_type(query.from.name()))?;
    Ok(json_response(StatusCode::OK, &body))
}

fn malformed(message: &str) -> SfError {
    SfError::new(StatusCode::BAD_REQUEST, "MALFORMED_QUERY", message)
}

/// Answers a query over an object this module serves (`ConnectedApplication`, `EventLogFile`);
/// `Ok(None)` for any other object, which the caller then runs itself. Supports a plain select
/// list, `WHERE` with AND/OR/NOT of comparisons (strings, booleans, dates and date literals such
/// as `LAST_N_DAYS:7`), one `ORDER BY` field and `LIMIT`.
///
/// # Errors
/// `403 INSUFFICIENT_ACCESS` for non-admins, `400 INVALID_FIELD` for unknown fields,
/// `400 MALFORMED_QUERY` for constructs outside that subset, SQLite failures.
pub fn virtual_query(
    state: &AppState,
    principal: &Principal,
    query: &soql::Query,
    version: &str,
) -> Result<Option<Json>, SfError> {
    let object = query.from.name();
    let (name, rows, fields) = if object.eq_ignore_ascii_case("EventLogFile") {
        require_admin(state, principal)?;
        ("EventLogFile", event_log_files(state, version)?, ELF_FIELDS)
    } else if object.eq_ignore_ascii_case("ConnectedApplication") {
        require_admin(state, principal)?;
        (
            "ConnectedApplication",
            connected_applications(state),
            CA_FIELDS,
        )
    } else if object.eq_ignore_ascii_case("Profile") {
        // Readable by every user, as in a real org.
        ("Profile", profiles(state), PROFILE_FIELDS)
    } else {
        return Ok(None);
    };
    let mut select: Vec<&'static str> = Vec::new();
    for item in &query.select {
        let SelectItem::Field { path, .. } = item else {
            return Err(malformed(
                "only plain fields can be selected from this object",
            ));
        };
        let parts = query.strip_alias(path);
        let field = match parts {
            [one] => one.as_str(),
            _ => return Err(malformed("relationships are not supported on this object")),
        };
        select.push(canonical_field(name, fields, field)?);
    }
    // Log dates are real instants (calls are stamped with the real clock), so date literals
    // count from the real UTC date, not the pinned `SAYSO_TODAY` of the demo data.
    let today = Utc::now().date_naive();
    let mut kept = Vec::new();
    for row in rows {
        let keep = match &query.where_clause {
            Some(c) => eval(
                c,
                &RowUnderTest {
                    row: &row,
                    object: name,
                    fields,
                    today,
                },
            )?,
            None => true,
        };
        if keep {
            kept.push(row);
        }
    }
    if let Some(order) = query.order_by.first() {
        let Operand::Field(path) = &order.target else {
            return Err(malformed("ORDER BY must name a field"));
        };
        let field = canonical_field(name, fields, path.name())?;
        let desc = matches!(order.direction, Some(soql::Direction::Desc));
        kept.sort_by(|a, b| {
            let o = sort_key(a.get(field)).cmp(&sort_key(b.get(field)));
            if desc { o.reverse() } else { o }
        });
    }
    if let Some(offset) = query.offset {
        kept = kept.into_iter().skip(offset as usize).collect();
    }
    if let Some(limit) = query.limit {
        kept.truncate(limit as usize);
    }
    let records: Vec<Json> = kept
        .iter()
        .map(|row| {
            let mut out = Map::new();
            let id = row.get("Id").and_then(Json::as_str).unwrap_or("");
            out.insert(
                "attributes".into(),
                json!({"type": name, "url": format!("/services/data/v{version}/sobjects/{name}/{id}")}),
            );
            for f in &select {
                out.insert((*f).to_string(), row.get(*f).cloned().unwrap_or(Json::Null));
            }
            Json::Object(out)
        })
        .collect();
    Ok(Some(
        json!({"totalSize": records.len(), "done": true, "records": records}),
    ))
}

fn sort_key(v: Option<&Json>) -> String {
    match v {
        Some(Json::String(s)) => s.to_ascii_lowercase(),
        Some(Json::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

fn canonical_field(
    object: &str,
    fields: &[&'static str],
    name: &str,
) -> Result<&'static str, SfError> {
    fields
        .iter()
        .copied()
        .find(|f| f.eq_ignore_ascii_case(name))
        .ok_or_else(|| {
            SfError::new(
                StatusCode::BAD_REQUEST,
                "INVALID_FIELD",
                format!(
                    "No such column '{name}' on entity '{object}'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names."
                ),
            )
        })
}

/// One row a WHERE clause is evaluated against: its values, its object's name and fields, and
/// the day date literals are resolved from.
struct RowUnderTest<'r> {
    row: &'r Map<String, Json>,
    object: &'r str,
    fields: &'r [&'static str],
    today: NaiveDate,
}

fn eval(c: &Condition, at: &RowUnderTest<'_>) -> Result<bool, SfError> {
    match c {
        Condition::And(parts) => decides(parts, false, at),
        Condition::Or(parts) => decides(parts, true, at),
        Condition::Not(inner) => Ok(!eval(inner, at)?),
        Condition::Compare(cmp) => compare(cmp, at),
    }
}

/// Evaluates `parts` in order until one is `verdict` (then the whole is `verdict`): `false` for
/// AND, `true` for OR; the whole is `!verdict` when none is.
fn decides(parts: &[Condition], verdict: bool, at: &RowUnderTest<'_>) -> Result<bool, SfError> {
    for p in parts {
        if eval(p, at)? == verdict {
            return Ok(verdict);
        }
    }
    Ok(!verdict)
}

fn compare(cmp: &Comparison, at: &RowUnderTest<'_>) -> Result<bool, SfError> {
    let RowUnderTest {
        row,
        object,
        fields,
        today,
    } = *at;
    let Operand::Field(path) = &cmp.lhs else {
        return Err(malformed("functions are not supported in this filter"));
    };
    let field = canonical_field(object, fields, path.name())?;
    let value = row.get(field).unwrap_or(&Json::Null);
    let unsupported = || malformed("this filter is not supported on this object by the sandbox");
    match &cmp.rhs {
        soql::Value::List(items) if matches!(cmp.op, Operator::In | Operator::NotIn) => {
            let mut hit = false;
            for lit in items {
                hit |= literal_eq(value, lit).ok_or_else(unsupported)?;
            }
            Ok(hit == (cmp.op == Operator::In))
        }
        soql::Value::Literal(Literal::DateLiteral(d)) => {
            let range = crate::sandbox::query::dates::resolve(*d, today);
            let Some(day) = value.as_str().and_then(clock::parse_datetime) else {
                return Ok(false);
            };
            let day = day.date_naive();
            Ok(match cmp.op {
                Operator::Eq => day >= range.start && day < range.end,
                Operator::Ne => day < range.start || day >= range.end,
                Operator::Ge => day >= range.start,
                Operator::Gt => day >= range.end,
                Operator::Lt => day < range.start,
                Operator::Le => day < range.end,
                _ => return Err(unsupported()),
            })
        }
        soql::Value::Literal(lit @ (Literal::Date(_) | Literal::DateTime(_))) => {
            let rhs = match lit {
                Literal::Date(d) => clock::parse_date(d)
                    .and_then(|d| d.and_hms_opt(0, 0, 0))
                    .map(|t| t.and_utc()),
                Literal::DateTime(t) => clock::parse_datetime(t),
                _ => None,
            }
            .ok_or_else(unsupported)?;
            let Some(lhs) = value.as_str().and_then(clock::parse_datetime) else {
                return Ok(false);
            };
            Ok(ordering_holds(cmp.op, lhs.cmp(&rhs)).ok_or_else(unsupported)?)
        }
        soql::Value::Literal(lit) => {
            let eq = literal_eq(value, lit).ok_or_else(unsupported)?;
            match cmp.op {
                Operator::Eq => Ok(eq),
                Operator::Ne => Ok(!eq),
                _ => Err(unsupported()),
            }
        }
        _ => Err(unsupported()),
    }
}

fn ordering_holds(op: Operator, o: std::cmp::Ordering) -> Option<bool> {
    use std::cmp::Ordering::*;
    Some(match op {
        Operator::Eq => o == Equal,
        Operator::Ne => o != Equal,
        Operator::Lt => o == Less,
        Operator::Le => o != Greater,
        Operator::Gt => o == Greater,
        Operator::Ge => o != Less,
        _ => return None,
    })
}

/// Equality of a row value and a literal (strings case-insensitive, as SOQL compares them);
/// `None` for literal kinds this subset does not compare.
fn literal_eq(value: &Json, lit: &Literal) -> Option<bool> {
    Some(match lit {
        Literal::Null => value.is_null(),
        Literal::Boolean(b) => value.as_bool() == Some(*b),
        Literal::String(s) => value
            .as_str()
            .is_some_and(|v| v.eq_ignore_ascii_case(&s.value())),
        Literal::Number(n) => value
            .as_f64()
            .zip(n.parse::<f64>().ok())
            .is_some_and(|(a, b)| a == b),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::contractor::slug;
    use super::event_log::{day_of_log_id, log_id};
    use super::objects::metadata_scope;
    use super::*;

    #[test]
    fn log_ids_round_trip_to_their_day() {
        let day = NaiveDate::from_ymd_opt(2026, 11, 18).expect("date");
        let id = log_id(day);
        assert!(id.starts_with("0ATDm"), "{id}");
        assert_eq!(day_of_log_id(&id), Some(day));
        assert_eq!(day_of_log_id("001Dm0000000001IAA"), None);
    }

    #[test]
    fn names_become_usernames_and_scopes_metadata_names() {
        assert_eq!(slug("Acme Support, Ltd"), "acme.support.ltd");
        assert_eq!(metadata_scope("refresh_token"), "RefreshToken");
        assert_eq!(metadata_scope("order_status"), "order_status");
    }
}
