//! What an administrator reads and changes through the API, served from `security.json` and the
//! sandbox's own tables (issue 9, `sayso admin`):
//!
//! - **`ConnectedApplication`** through `GET tooling/query?q=…` (and `query?q=…`, through the hook
//!   in `query.rs`). Real orgs expose the object (Id, Name, `OptionsAllowAdminApprovedUsersOnly`,
//!   `RefreshTokenValidityPeriod`, …) but keep the OAuth settings (flows, scopes, run-as user, IP
//!   relaxation, session timeout) in the Metadata API's `ConnectedApp` type. The sandbox follows
//!   the Tooling API's pattern for metadata-backed objects and adds a `Metadata` field holding
//!   that `ConnectedApp` metadata (`oauthConfig`, `oauthPolicy`, `sessionPolicy`, `ipRanges`,
//!   `profileName`) as JSON, so one query answers what a real org answers in two APIs.
//!   `ipRanges` is always empty: `security.json` has no IP policy.
//! - **`EventLogFile`** rows with `EventType = 'ApiTotalUsage'`, one `Daily` file per UTC day with
//!   calls (today's included, which a real org publishes only the next day), whose `LogFile` body
//!   (`GET sobjects/EventLogFile/{id}/LogFile`) is CSV with one row per counted call, built from
//!   `sayso_api_usage` (`limits.rs`).
//! - **`Profile`** (Id, Name, `PermissionsModifyAllData`, …) from `security.json`, readable by
//!   everyone, so an admin can tell whether a client-credentials run-as user is an administrator.
//! - **`OauthToken`** is not here: `oauth_grant.rs` keeps it as a real table, queried and deleted
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

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::{Map, Value as Json, json};

use crate::id::RecordId;
use crate::sandbox::error::SfError;
use crate::sandbox::oauth_grant::random_text;
use crate::sandbox::security::config::{ConnectedApp, PermissionSet};
use crate::sandbox::security::{Policy, Principal};
use crate::sandbox::session::Auth;
use crate::sandbox::{AppState, clock, json_response, parse_version};
use crate::soql::{self, Comparison, Condition, Literal, Operand, Operator, SelectItem};

/// The profile every integration user created by the contractor set-up gets.
pub const API_ONLY_PROFILE: &str = "Minimum Access - API Only Integrations";

/// Routes (behind the data-route middleware): Tooling query, EventLogFile bodies, contractor.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/services/data/{version}/tooling/query", get(tooling_query))
        .route(
            "/services/data/{version}/sobjects/EventLogFile/{id}/LogFile",
            get(log_file),
        )
        .route(
            "/services/data/{version}/sayso/contractor",
            post(contractor),
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

async fn tooling_query(
    State(state): State<Arc<AppState>>,
    Path(version): Path<String>,
    Query(params): Query<BTreeMap<String, String>>,
    Auth(principal): Auth,
) -> Response {
    let result = (|| {
        let text = params
            .get("q")
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| malformed("A query string has to be specified"))?;
        let query = crate::sandbox::query::parse_soql(text)?;
        let v = parse_version(&version).unwrap_or("63.0").to_string();
        virtual_query(&state, &principal, &query, &v)?
            .ok_or_else(|| SfError::invalid_type(query.from.name()))
    })();
    match result {
        Ok(body) => json_response(StatusCode::OK, &body),
        Err(e) => e.into_response(),
    }
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
            Some(c) => eval(c, &row, name, fields, today)?,
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

fn eval(
    c: &Condition,
    row: &Map<String, Json>,
    object: &str,
    fields: &[&'static str],
    today: NaiveDate,
) -> Result<bool, SfError> {
    match c {
        Condition::And(parts) => {
            for p in parts {
                if !eval(p, row, object, fields, today)? {
                    return Ok(false);
                }
            }
            Ok(true)
        }
        Condition::Or(parts) => {
            for p in parts {
                if eval(p, row, object, fields, today)? {
                    return Ok(true);
                }
            }
            Ok(false)
        }
        Condition::Not(inner) => Ok(!eval(inner, row, object, fields, today)?),
        Condition::Compare(cmp) => compare(cmp, row, object, fields, today),
    }
}

fn compare(
    cmp: &Comparison,
    row: &Map<String, Json>,
    object: &str,
    fields: &[&'static str],
    today: NaiveDate,
) -> Result<bool, SfError> {
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

// ---------------------------------------------------------------------------------------------
// ConnectedApplication

const CA_FIELDS: &[&str] = &[
    "Id",
    "Name",
    "CreatedDate",
    "OptionsAllowAdminApprovedUsersOnly",
    "OptionsRefreshTokenValidityMetric",
    "RefreshTokenValidityPeriod",
    "OptionsHasSessionLevelPolicy",
    "MobileSessionTimeout",
    "MobileStartUrl",
    "StartUrl",
    "PinLength",
    "FullName",
    "Metadata",
];

/// The `0H4` id of the connected app at `index` in the configuration (apps are only appended).
pub fn connected_app_id(index: usize) -> String {
    RecordId::from_parts("0H4", "Dm", index as u64 + 1).to_string()
}

/// The Metadata API's name for an OAuth scope (`api` → `Api`).
fn metadata_scope(scope: &str) -> String {
    match scope {
        "api" => "Api".into(),
        "refresh_token" => "RefreshToken".into(),
        "offline_access" => "OfflineAccess".into(),
        "full" => "Full".into(),
        "openid" => "OpenID".into(),
        "id" => "Basic".into(),
        "profile" => "Profile".into(),
        "email" => "Email".into(),
        "web" => "Web".into(),
        other => other.to_string(),
    }
}

fn full_name(label: &str) -> String {
    label
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

fn connected_applications(state: &AppState) -> Vec<Map<String, Json>> {
    let cfg = state.policy.config();
    cfg.connected_apps
        .iter()
        .enumerate()
        .map(|(i, app)| connected_application(i, app))
        .collect()
}

fn connected_application(index: usize, app: &ConnectedApp) -> Map<String, Json> {
    let admin_approved = app.permitted_users.eq_ignore_ascii_case("AdminApproved");
    let never_expires = app
        .refresh_token_policy
        .as_deref()
        .is_none_or(|p| p.eq_ignore_ascii_case("ValidUntilRevoked"));
    let mut scopes: Vec<String> = app.scopes.iter().map(|s| metadata_scope(s)).collect();
    scopes.extend(app.custom_scopes.iter().map(|c| c.name.clone()));
    let metadata = json!({
        "fullName": full_name(&app.name),
        "label": app.name,
        "oauthConfig": {
            "consumerKey": app.client_id,
            "callbackUrl": if app.callback_urls.is_empty() { Json::Null } else { Json::String(app.callback_urls.join("\n")) },
            "scopes": scopes,
            "isClientCredentialEnabled": app.allows_flow("client_credentials"),
            "oauthClientCredentialUser": app.run_as,
            "isPkceRequired": app.require_pkce,
            "isConsumerSecretOptional": app.client_secret.is_none(),
            "certificate": app.jwt_certificate.as_ref().map(|_| "(certificate)"),
            "isDeviceFlowEnabled": app.allows_flow("device"),
            "isRefreshTokenEnabled": app.allows_flow("refresh_token"),
            "isJwtBearerEnabled": app.allows_flow("jwt_bearer"),
            "isAuthorizationCodeEnabled": app.allows_flow("authorization_code"),
        },
        "oauthPolicy": {
            "ipRelaxation": "ENFORCE",
            "refreshTokenPolicy": if never_expires { "infinite" } else { "specific_lifetime" },
            "permittedUsers": if admin_approved { "AdminApprovedPreAuthorized" } else { "AllSelfAuthorized" },
        },
        "sessionPolicy": {"sessionTimeout": app.access_token_minutes, "policyAction": Json::Null},
        "ipRanges": [],
        "profileName": app.preauthorized_profiles,
        "permissionSetName": [],
    });
    let mut row = Map::new();
    row.insert("Id".into(), json!(connected_app_id(index)));
    row.insert("Name".into(), json!(app.name));
    row.insert("CreatedDate".into(), json!("2026-01-05T17:00:00.000+0000"));
    row.insert(
        "OptionsAllowAdminApprovedUsersOnly".into(),
        json!(admin_approved),
    );
    row.insert("OptionsRefreshTokenValidityMetric".into(), json!(false));
    row.insert("RefreshTokenValidityPeriod".into(), Json::Null);
    row.insert("OptionsHasSessionLevelPolicy".into(), json!(false));
    row.insert("MobileSessionTimeout".into(), Json::Null);
    row.insert("MobileStartUrl".into(), Json::Null);
    row.insert("StartUrl".into(), Json::Null);
    row.insert("PinLength".into(), Json::Null);
    row.insert("FullName".into(), json!(full_name(&app.name)));
    row.insert("Metadata".into(), metadata);
    row
}

// ---------------------------------------------------------------------------------------------
// Profile

const PROFILE_FIELDS: &[&str] = &[
    "Id",
    "Name",
    "UserLicenseId",
    "PermissionsApiEnabled",
    "PermissionsApiUserOnly",
    "PermissionsModifyAllData",
    "PermissionsViewAllData",
    "PermissionsManageUsers",
];

/// The id a profile has in `User.ProfileId`: the one seeded users carry (`sayso_user`), else the
/// seed's deterministic formula.
fn profile_id(state: &AppState, name: &str) -> String {
    let stored: Option<String> = state
        .lock_db()
        .query_row(
            "SELECT profile_id FROM sayso_user WHERE profile = ?1 AND profile_id IS NOT NULL LIMIT 1",
            [name],
            |r| r.get(0),
        )
        .optional()
        .ok()
        .flatten();
    stored.unwrap_or_else(|| {
        let n = name
            .bytes()
            .fold(0u64, |acc, b| (acc * 131 + u64::from(b)) % 9_999_999_999);
        RecordId::from_parts("00e", "Dm", n).to_string()
    })
}

fn profiles(state: &AppState) -> Vec<Map<String, Json>> {
    let cfg = state.policy.config();
    cfg.profiles
        .iter()
        .map(|p| {
            let mut row = Map::new();
            row.insert("Id".into(), json!(profile_id(state, &p.name)));
            row.insert("Name".into(), json!(p.name));
            row.insert("UserLicenseId".into(), Json::Null);
            row.insert("PermissionsApiEnabled".into(), json!(p.system.api_enabled));
            row.insert("PermissionsApiUserOnly".into(), json!(p.system.api_only));
            row.insert(
                "PermissionsModifyAllData".into(),
                json!(p.system.modify_all_data),
            );
            row.insert(
                "PermissionsViewAllData".into(),
                json!(p.system.view_all_data),
            );
            row.insert(
                "PermissionsManageUsers".into(),
                json!(p.system.manage_users),
            );
            row
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// EventLogFile (ApiTotalUsage)

const ELF_FIELDS: &[&str] = &[
    "Id",
    "EventType",
    "LogDate",
    "Interval",
    "LogFileLength",
    "LogFileContentType",
    "LogFileFieldNames",
    "LogFileFieldTypes",
    "Sequence",
    "LogFile",
    "ApiVersion",
    "CreatedDate",
];

/// Columns of an ApiTotalUsage log file, as a real org writes them (the ones the sandbox can fill).
pub const LOG_COLUMNS: &[&str] = &[
    "EVENT_TYPE",
    "TIMESTAMP",
    "REQUEST_ID",
    "ORGANIZATION_ID",
    "USER_ID",
    "API_FAMILY",
    "API_VERSION",
    "API_RESOURCE",
    "CLIENT_NAME",
    "HTTP_METHOD",
    "CLIENT_IP",
    "COUNTS_AGAINST_API_LIMIT",
    "CONNECTED_APP_ID",
    "ENTITY_NAME",
    "STATUS_CODE",
    "TIMESTAMP_DERIVED",
    "USER_ID_DERIVED",
];

const EPOCH_DAY0: i64 = 719_163; // days from 0001-01-01 to 1970-01-01 (chrono's CE count)

fn day_of(ts: i64) -> NaiveDate {
    DateTime::<Utc>::from_timestamp(ts, 0)
        .unwrap_or_default()
        .date_naive()
}

fn log_id(day: NaiveDate) -> String {
    let n = i64::from(chrono::Datelike::num_days_from_ce(&day)) - EPOCH_DAY0;
    RecordId::from_parts("0AT", "Dm", n.max(0) as u64).to_string()
}

fn day_of_log_id(id: &str) -> Option<NaiveDate> {
    let rid = RecordId::parse(id).ok()?;
    let s = rid.as_str();
    if !s.starts_with("0AT") {
        return None;
    }
    let n: i64 = s.get(5..15)?.parse().ok()?;
    NaiveDate::from_num_days_from_ce_opt(i32::try_from(n + EPOCH_DAY0).ok()?)
}

fn event_log_files(state: &AppState, version: &str) -> Result<Vec<Map<String, Json>>, SfError> {
    let days: Vec<i64> = {
        let conn = state.lock_db();
        let mut stmt =
            conn.prepare("SELECT DISTINCT ts / 86400 FROM sayso_api_usage ORDER BY 1")?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        rows.collect::<Result<_, _>>()?
    };
    let mut out = Vec::new();
    for d in days {
        let day = day_of(d * 86_400);
        let id = log_id(day);
        let csv = log_csv(state, day)?;
        let mut row = Map::new();
        row.insert("Id".into(), json!(id));
        row.insert("EventType".into(), json!("ApiTotalUsage"));
        let stamp = format!("{}T00:00:00.000+0000", day.format("%Y-%m-%d"));
        row.insert("LogDate".into(), json!(stamp));
        row.insert("Interval".into(), json!("Daily"));
        row.insert("LogFileLength".into(), json!(csv.len()));
        row.insert("LogFileContentType".into(), json!("CSV"));
        row.insert("LogFileFieldNames".into(), json!(LOG_COLUMNS.join(",")));
        row.insert(
            "LogFileFieldTypes".into(),
            json!(
                LOG_COLUMNS
                    .iter()
                    .map(|_| "String")
                    .collect::<Vec<_>>()
                    .join(",")
            ),
        );
        row.insert("Sequence".into(), json!(1));
        row.insert(
            "LogFile".into(),
            json!(format!(
                "/services/data/v{version}/sobjects/EventLogFile/{id}/LogFile"
            )),
        );
        row.insert(
            "ApiVersion".into(),
            json!(version.parse::<f64>().unwrap_or(63.0)),
        );
        row.insert("CreatedDate".into(), json!(stamp));
        out.push(row);
    }
    Ok(out)
}

/// The CSV body of the ApiTotalUsage log of `day` (UTC): one row per counted call.
fn log_csv(state: &AppState, day: NaiveDate) -> Result<String, SfError> {
    let start = day
        .and_hms_opt(0, 0, 0)
        .unwrap_or_default()
        .and_utc()
        .timestamp();
    let rows: Vec<(i64, Option<String>, Option<String>)> = {
        let conn = state.lock_db();
        let mut stmt = conn.prepare(
            "SELECT ts, user_id, client_id FROM sayso_api_usage WHERE ts >= ?1 AND ts < ?2 ORDER BY ts, rowid",
        )?;
        let mapped = stmt.query_map(params![start, start + 86_400], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?;
        mapped.collect::<Result<_, _>>()?
    };
    let cfg = state.policy.config();
    let org15: String = state.org_id.chars().take(15).collect();
    let mut w = csv::WriterBuilder::new()
        .quote_style(csv::QuoteStyle::Always)
        .from_writer(Vec::new());
    let fail = |e: csv::Error| SfError::internal(e);
    w.write_record(LOG_COLUMNS).map_err(fail)?;
    for (n, (ts, user, client)) in rows.into_iter().enumerate() {
        let t = DateTime::<Utc>::from_timestamp(ts, 0).unwrap_or_default();
        let user = user.unwrap_or_default();
        let user15: String = user.chars().take(15).collect();
        let app = client.as_deref().and_then(|c| {
            cfg.connected_apps
                .iter()
                .position(|a| a.client_id == c)
                .map(|i| (connected_app_id(i), cfg.connected_apps[i].name.clone()))
        });
        let (app_id, app_name) = app.unwrap_or_default();
        let request_id = format!("{}{:06}", t.format("%Y%m%d%H%M%S"), n + 1);
        w.write_record([
            "ApiTotalUsage",
            &t.format("%Y%m%d%H%M%S%.3f").to_string(),
            &request_id,
            &org15,
            &user15,
            "REST",
            "",
            "",
            &app_name,
            "",
            "",
            "1",
            &app_id.chars().take(15).collect::<String>(),
            "",
            "",
            &t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
            &user,
        ])
        .map_err(fail)?;
    }
    let bytes = w.into_inner().map_err(|e| SfError::internal(e.error()))?;
    String::from_utf8(bytes).map_err(SfError::internal)
}

async fn log_file(
    State(state): State<Arc<AppState>>,
    Path((_version, id)): Path<(String, String)>,
    Auth(principal): Auth,
) -> Response {
    let result = (|| {
        require_admin(&state, &principal)?;
        let day = day_of_log_id(&id).ok_or_else(SfError::not_found)?;
        log_csv(&state, day)
    })();
    match result {
        Ok(body) => {
            let mut resp = (StatusCode::OK, body).into_response();
            resp.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv"));
            resp
        }
        Err(e) => e.into_response(),
    }
}

// ---------------------------------------------------------------------------------------------
// Contractor set-up

/// Creates `sayso_admin_change` (idempotent).
///
/// # Errors
/// SQLite failures.
pub fn create_tables(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS sayso_admin_change (seq INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, body TEXT NOT NULL)",
    )
}

/// Replays the admin changes stored in `conn` into `policy` (at sandbox start).
///
/// # Errors
/// SQLite failures; a change that no longer parses is skipped with a warning.
pub fn restore(conn: &Connection, policy: &Policy) -> rusqlite::Result<()> {
    create_tables(conn)?;
    let mut stmt = conn.prepare("SELECT kind, body FROM sayso_admin_change ORDER BY seq")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    for row in rows {
        let (kind, body) = row?;
        if let Err(e) = apply_change(policy, &kind, &body) {
            tracing::warn!(kind = %kind, error = %e, "skipping a stored admin change");
        }
    }
    Ok(())
}

fn apply_change(policy: &Policy, kind: &str, body: &str) -> Result<(), serde_json::Error> {
    match kind {
        "permission_set" => {
            let ps: PermissionSet = serde_json::from_str(body)?;
            policy.update_config(|c| {
                c.permission_sets
                    .retain(|p| !p.name.eq_ignore_ascii_case(&ps.name));
                c.permission_sets.push(ps);
            });
        }
        "connected_app" => {
            let app: ConnectedApp = serde_json::from_str(body)?;
            policy.update_config(|c| {
                c.connected_apps.retain(|a| a.client_id != app.client_id);
                c.connected_apps.push(app);
            });
        }
        _ => {}
    }
    Ok(())
}

/// What `POST sayso/contractor` takes.
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct ContractorRequest {
    name: String,
    object: String,
    #[serde(default)]
    read: Vec<String>,
    #[serde(default)]
    edit: Vec<String>,
    #[serde(default)]
    username: Option<String>,
}

fn bad_value(message: String) -> SfError {
    SfError::new(
        StatusCode::BAD_REQUEST,
        "FIELD_INTEGRITY_EXCEPTION",
        message,
    )
}

async fn contractor(
    State(state): State<Arc<AppState>>,
    Auth(principal): Auth,
    body: Bytes,
) -> Response {
    match create_contractor(&state, &principal, &body) {
        Ok(out) => json_response(StatusCode::CREATED, &out),
        Err(e) => e.into_response(),
    }
}

fn slug(name: &str) -> String {
    let s: String = name
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '.' })
        .collect();
    s.split('.')
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(".")
}

fn create_contractor(
    state: &AppState,
    principal: &Principal,
    body: &[u8],
) -> Result<Json, SfError> {
    require_admin(state, principal)?;
    let req: ContractorRequest =
        serde_json::from_slice(body).map_err(|e| SfError::json_parser(e.to_string()))?;
    let name = req.name.trim();
    if name.is_empty() || slug(name).is_empty() {
        return Err(bad_value("the contractor needs a name".into()));
    }
    let obj = state
        .schema
        .object(&req.object)
        .ok_or_else(|| SfError::invalid_type(&req.object))?;
    let object = obj.name.clone();
    let mut fields: BTreeMap<String, Json> = BTreeMap::new();
    for (list, level) in [(&req.read, "read"), (&req.edit, "edit")] {
        for f in list {
            let field = obj
                .field(f.trim())
                .ok_or_else(|| bad_value(format!("no field `{f}` on `{object}`")))?;
            if level == "edit" && !field.updateable {
                return Err(bad_value(format!(
                    "`{object}.{}` cannot be edited",
                    field.name
                )));
            }
            fields.insert(format!("{object}.{}", field.name), json!(level));
        }
    }
    if fields.is_empty() {
        return Err(bad_value("give at least one field to read or edit".into()));
    }
    let cfg = state.policy.config();
    let ps_name = format!("{name} API Access");
    if cfg.permission_set(&ps_name).is_some() || cfg.app_by_name(name).is_some() {
        return Err(SfError::new(
            StatusCode::BAD_REQUEST,
            "DUPLICATE_VALUE",
            format!("duplicate value found: a contractor named `{name}` already exists"),
        ));
    }
    let username = req
        .username
        .unwrap_or_else(|| format!("{}.integration@demo.sayso.dev", slug(name)));
    if state.policy.user_by_username(&username).is_some() {
        return Err(SfError::new(
            StatusCode::BAD_REQUEST,
            "DUPLICATE_USERNAME",
            "Duplicate Username.<br>The username already exists in this or another Salesforce organization. Usernames must be unique across all Salesforce organizations. To resolve, use a different username (it doesn't need to match the user's email address). ",
        ));
    }
    let user_schema = state
        .schema
        .object("User")
        .ok_or_else(|| SfError::internal("no User object"))?;
    let user_id = state.ids.next_id(user_schema).to_string();
    let has_edit = !req.edit.is_empty();
    let ps_json = json!({
        "name": ps_name,
        "objects": {object.clone(): {"read": true, "create": false, "edit": has_edit, "delete": false}},
        "fields": fields,
    });
    let client_id = format!(
        "3MVG9{}",
        random_text(
            80,
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._"
        )
    );
    let client_secret = random_text(64, b"0123456789ABCDEF");
    let app_json = json!({
        "name": name,
        "client_id": client_id,
        "client_secret": client_secret,
        "flows": ["client_credentials"],
        "run_as": username,
        "scopes": ["api"],
        "permitted_users": "AdminApproved",
        "access_token_minutes": 60,
    });
    let ps: PermissionSet = serde_json::from_value(ps_json.clone()).map_err(SfError::internal)?;
    let app: ConnectedApp = serde_json::from_value(app_json.clone()).map_err(SfError::internal)?;
    let now = state.clock.now_string();
    {
        let mut conn = state.lock_db();
        create_tables(&conn)?;
        let tx = conn.transaction()?;
        let profile_id: Option<String> = tx
            .query_row(
                "SELECT profile_id FROM sayso_user WHERE profile = ?1 AND profile_id IS NOT NULL LIMIT 1",
                [API_ONLY_PROFILE],
                |r| r.get(0),
            )
            .optional()?;
        let alias: String = slug(name).chars().filter(|c| *c != '.').take(8).collect();
        tx.execute(
            r#"INSERT INTO "User" ("Id", "Username", "FirstName", "LastName", "Name", "Alias", "Email", "Title", "IsActive",
                 "ProfileId", "TimeZoneSidKey", "LocaleSidKey", "LanguageLocaleKey", "UserType", "CreatedDate", "CreatedById",
                 "LastModifiedDate", "LastModifiedById", "SystemModstamp", "IsDeleted")
               VALUES (?1, ?2, ?3, 'Integration', ?4, ?5, ?2, 'Contractor API access', 1, ?6, 'America/Los_Angeles', 'en_US',
                 'en_US', 'Standard', ?7, ?8, ?7, ?8, ?7, 0)"#,
            params![user_id, username, name, format!("{name} Integration"), alias, profile_id, now, principal.user_id],
        )?;
        tx.execute(
            "INSERT INTO sayso_user (user_id, username, profile, role, permission_sets, profile_id, role_id) VALUES (?1, ?2, ?3, NULL, ?4, ?5, NULL)",
            params![user_id, username, API_ONLY_PROFILE, ps_name, profile_id],
        )?;
        for (kind, body) in [("permission_set", &ps_json), ("connected_app", &app_json)] {
            tx.execute(
                "INSERT INTO sayso_admin_change (kind, body) VALUES (?1, ?2)",
                params![kind, body.to_string()],
            )?;
        }
        tx.commit()?;
        // Order matters: the permission set exists before the user who holds it logs in.
        state.policy.update_config(|c| {
            c.permission_sets.push(ps);
            c.connected_apps.push(app);
        });
        state.policy.refresh_users(&conn)?;
    }
    let index = state.policy.config().connected_apps.len().saturating_sub(1);
    Ok(json!({
        "userId": user_id,
        "username": username,
        "profile": API_ONLY_PROFILE,
        "permissionSet": ps_name,
        "object": object,
        "fields": fields,
        "connectedAppId": connected_app_id(index),
        "connectedApp": name,
        "clientId": client_id,
        "clientSecret": client_secret,
    }))
}

#[cfg(test)]
mod tests {
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
