//! `EventLogFile` rows of type ApiTotalUsage (one `Daily` file per UTC day with calls) and their
//! `LogFile` CSV bodies, built from `sayso_api_usage` (counted by `rest/limits.rs`). Reads only.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::params;
use serde_json::{Map, Value as Json, json};

use crate::id::RecordId;
use crate::sandbox::error::SfError;
use crate::sandbox::session::Auth;
use crate::sandbox::state::AppState;

use super::{connected_app_id, require_admin};

pub(super) const ELF_FIELDS: &[&str] = &[
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

pub(super) fn log_id(day: NaiveDate) -> String {
    let n = i64::from(chrono::Datelike::num_days_from_ce(&day)) - EPOCH_DAY0;
    RecordId::from_parts("0AT", "Dm", n.max(0) as u64).to_string()
}

pub(super) fn day_of_log_id(id: &str) -> Option<NaiveDate> {
    let rid = RecordId::parse(id).ok()?;
    let s = rid.as_str();
    if !s.starts_with("0AT") {
        return None;
    }
    let n: i64 = s.get(5..15)?.parse().ok()?;
    NaiveDate::from_num_days_from_ce_opt(i32::try_from(n + EPOCH_DAY0).ok()?)
}

pub(super) fn event_log_files(
    state: &AppState,
    version: &str,
) -> Result<Vec<Map<String, Json>>, SfError> {
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

pub(super) async fn log_file(
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
