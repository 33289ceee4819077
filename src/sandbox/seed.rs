//! Loads the demo org's records (`demo-org/data/*.csv`) into a freshly created store, in one
//! transaction with prepared statements.
//!
//! Cells: empty = null; dates `TODAY`, `TODAY±N`; datetimes `TODAY±NTHH:MM:SS` in the org time zone
//! (converted to UTC). `User.csv`'s `UserRole`, `Profile` and `PermissionSets` columns (names, not
//! fields) go to `sayso_user`; `ProfileId`/`UserRoleId` get stable made-up ids. Derived values and
//! audit fields are filled as for any insert.
//!
//! Owns the initial data only; the table layout is `store.rs`.

use crate::id::RecordId;
use crate::sandbox::clock;
use crate::sandbox::derive::{self, Row};
use crate::sandbox::dml;
use crate::sandbox::schema::{DEMO_ORG, Field, FieldType, ObjectSchema, Schema};
use crate::sandbox::store::{self, StoreError};
use chrono::NaiveDate;
use rusqlite::Connection;
use rusqlite::types::Value as SqlValue;

/// Why the demo data could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    /// A CSV file is malformed (a bug in the embedded data).
    #[error("demo data `{file}` line {line}: {reason}")]
    Data {
        /// File name.
        file: String,
        /// 1-based line.
        line: u64,
        /// What is wrong.
        reason: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<rusqlite::Error> for SeedError {
    fn from(e: rusqlite::Error) -> Self {
        SeedError::Store(StoreError::Sqlite(e))
    }
}

/// The load order: parents before children (only matters for readability; no foreign keys).
const ORDER: &[&str] = &[
    "User",
    "Account",
    "Contact",
    "Lead",
    "Opportunity",
    "OpportunityContactRole",
    "Case",
    "Task",
    "Event",
    "ContentNote",
    "ContentDocumentLink",
];

fn stable_id(prefix: &str, name: &str) -> String {
    // A deterministic id per profile/role name: prefix + "Dm" + a number from the name's bytes.
    let n = name
        .bytes()
        .fold(0u64, |acc, b| (acc * 131 + u64::from(b)) % 9_999_999_999);
    RecordId::from_parts(prefix, "Dm", n).to_string()
}

/// The id that creates the demo records (and owns those without an owner).
const ADMIN_ID: &str = "005Dm0000000001IAA";

/// Loads every `data/*.csv` into `conn` (tables must exist and be empty), resolving TODAY cells
/// against `today`. `now` stamps the audit fields; `admin_id` is CreatedById where no owner is known.
///
/// # Errors
/// [`SeedError`] on malformed embedded data or SQLite failure.
pub fn load(
    conn: &mut Connection,
    schema: &Schema,
    today: NaiveDate,
    now: &str,
) -> Result<(), SeedError> {
    let tx = conn.transaction()?;
    for (stem, file) in demo_csvs()? {
        let Some(obj) = schema.object(stem) else {
            continue;
        };
        let loader = FileLoader {
            tx: &tx,
            obj,
            fname: file.path().display().to_string(),
            today,
            now,
        };
        loader.load(file.contents())?;
    }
    tx.execute(
        "INSERT OR REPLACE INTO sayso_meta (key, value) VALUES ('layout_version', ?1), ('seeded_today', ?2)",
        rusqlite::params![store::LAYOUT_VERSION.to_string(), today.to_string()],
    )?;
    tx.commit()?;
    Ok(())
}

/// The embedded `data/*.csv` files in load order, each with its stem (the object it holds).
///
/// # Errors
/// [`SeedError::Data`] when the embedded `data` folder is missing.
pub(crate) fn demo_csvs()
-> Result<Vec<(&'static str, &'static include_dir::File<'static>)>, SeedError> {
    let data = DEMO_ORG.get_dir("data").ok_or_else(|| SeedError::Data {
        file: "data".into(),
        line: 0,
        reason: "missing".into(),
    })?;
    let mut files: Vec<_> = data
        .files()
        .filter(|f| f.path().extension().is_some_and(|e| e == "csv"))
        .map(|f| {
            let stem = f.path().file_stem().and_then(|s| s.to_str()).unwrap_or("");
            (stem, f)
        })
        .collect();
    files.sort_by_key(|(stem, _)| ORDER.iter().position(|o| o == stem).unwrap_or(ORDER.len()));
    Ok(files)
}

/// `User.csv`'s columns that are names, not fields: role, profile and permission sets.
#[derive(Default)]
struct UserExtra {
    role: Option<String>,
    profile: Option<String>,
    permission_sets: String,
}

impl UserExtra {
    /// Takes `cell` when `header` is one of the name columns.
    fn take(&mut self, header: &str, cell: &str) -> bool {
        match header {
            "UserRole" => self.role = Some(cell.to_string()).filter(|s| !s.is_empty()),
            "Profile" => self.profile = Some(cell.to_string()),
            "PermissionSets" => self.permission_sets = cell.to_string(),
            _ => return false,
        }
        true
    }
}

/// Loads one CSV file of one object.
struct FileLoader<'a> {
    tx: &'a rusqlite::Transaction<'a>,
    obj: &'a ObjectSchema,
    fname: String,
    today: NaiveDate,
    now: &'a str,
}

impl FileLoader<'_> {
    fn bad(&self, line: u64, reason: String) -> SeedError {
        SeedError::Data {
            file: self.fname.clone(),
            line,
            reason,
        }
    }

    fn load(&self, contents: &[u8]) -> Result<(), SeedError> {
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(true)
            .from_reader(contents);
        let headers: Vec<String> = rdr
            .headers()
            .map_err(|e| self.bad(1, e.to_string()))?
            .iter()
            .map(str::to_string)
            .collect();
        for (i, rec) in rdr.records().enumerate() {
            let line = i as u64 + 2;
            let rec = rec.map_err(|e| self.bad(line, e.to_string()))?;
            self.load_record(&headers, &rec, line)?;
        }
        Ok(())
    }

    fn load_record(
        &self,
        headers: &[String],
        rec: &csv::StringRecord,
        line: u64,
    ) -> Result<(), SeedError> {
        let obj = self.obj;
        let mut row = Row::new();
        let mut user_extra = UserExtra::default();
        for (h, cell) in headers.iter().zip(rec.iter()) {
            if obj.name == "User" && user_extra.take(h, cell) {
                continue;
            }
            let field = obj
                .field(h)
                .ok_or_else(|| self.bad(1, format!("no field `{h}` on {}", obj.name)))?;
            if cell.is_empty() {
                continue;
            }
            row.insert(field.name.clone(), self.cell_value(field, cell, line)?);
        }
        let owner = match row.get("OwnerId") {
            Some(SqlValue::Text(t)) => t.clone(),
            _ => ADMIN_ID.to_string(),
        };
        if obj.name == "User" {
            self.insert_user(&mut row, &user_extra, line)?;
        }
        let changes = row.clone();
        dml::apply_defaults(obj, &mut row, &owner);
        derive::apply(&obj.name, &mut row, &changes, true, self.now);
        for (f, v) in [
            ("CreatedDate", self.now),
            ("LastModifiedDate", self.now),
            ("SystemModstamp", self.now),
            ("CreatedById", ADMIN_ID),
            ("LastModifiedById", ADMIN_ID),
        ] {
            if obj.field(f).is_some() {
                row.insert(f.into(), SqlValue::Text(v.to_string()));
            }
        }
        dml::insert_columns(self.tx, obj, &row)?;
        Ok(())
    }

    /// One cell's stored value: `TODAY±N` dates and datetimes resolved, blobs as they are.
    fn cell_value(&self, field: &Field, cell: &str, line: u64) -> Result<SqlValue, SeedError> {
        let today = self.today;
        Ok(match field.ty {
            FieldType::Date if cell.starts_with("TODAY") => SqlValue::Text(
                clock::resolve_today_date(cell, today)
                    .ok_or_else(|| self.bad(line, format!("bad date `{cell}`")))?
                    .to_string(),
            ),
            FieldType::Datetime if cell.starts_with("TODAY") => {
                SqlValue::Text(clock::format_datetime(
                    clock::resolve_today_datetime(cell, today)
                        .ok_or_else(|| self.bad(line, format!("bad datetime `{cell}`")))?,
                ))
            }
            FieldType::Base64 => SqlValue::Text(cell.to_string()),
            _ => store::from_text(field, cell)
                .map_err(|e| self.bad(line, e.message().to_string()))?,
        })
    }

    /// A demo user: its `sayso_user` row (profile, role, permission sets) and the user fields
    /// that follow from them.
    fn insert_user(&self, row: &mut Row, extra: &UserExtra, line: u64) -> Result<(), SeedError> {
        let text = |f: &str| match row.get(f) {
            Some(SqlValue::Text(t)) => Some(t.clone()),
            _ => None,
        };
        let id = text("Id").ok_or_else(|| self.bad(line, "user without Id".into()))?;
        let username =
            text("Username").ok_or_else(|| self.bad(line, "user without Username".into()))?;
        let profile = extra
            .profile
            .clone()
            .unwrap_or_else(|| "Standard User".into());
        let profile_id = stable_id("00e", &profile);
        let role_id = extra.role.as_deref().map(|r| stable_id("00E", r));
        row.insert("ProfileId".into(), SqlValue::Text(profile_id.clone()));
        if let Some(r) = &role_id {
            row.insert("UserRoleId".into(), SqlValue::Text(r.clone()));
        }
        for (f, v) in [
            ("LocaleSidKey", "en_US"),
            ("LanguageLocaleKey", "en_US"),
            ("UserType", "Standard"),
        ] {
            row.entry(f.into())
                .or_insert_with(|| SqlValue::Text(v.into()));
        }
        let permission_sets = extra
            .permission_sets
            .split(';')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(";");
        self.tx
            .prepare_cached(
                "INSERT INTO sayso_user (user_id, username, profile, role, permission_sets, profile_id, role_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(rusqlite::params![
                id,
                username,
                profile,
                extra.role,
                permission_sets,
                profile_id,
                role_id
            ])?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_data_loads_with_resolved_dates_and_derived_fields() {
        let mut conn = store::open(None, false).unwrap();
        let schema = Schema::demo().unwrap();
        store::create_tables(&conn, &schema).unwrap();
        let today = NaiveDate::from_ymd_opt(2026, 1, 15).unwrap();
        load(&mut conn, &schema, today, "2026-01-15T12:00:00.000+0000").unwrap();
        let (close, closed, name): (String, i64, String) = conn
            .query_row("SELECT \"CloseDate\", \"IsClosed\", \"Name\" FROM \"Opportunity\" WHERE \"Id\" = '006Dm0000000001IAA'", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .unwrap();
        assert_eq!(
            (close.as_str(), closed, name.as_str()),
            ("2026-03-01", 0, "Project Titan")
        );
        let start: String = conn
            .query_row(
                "SELECT \"StartDateTime\" FROM \"Event\" WHERE \"Id\" = '00UDm0000000001MAA'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(
            start, "2026-01-17T18:00:00.000+0000",
            "10:00 PST on TODAY+2"
        );
        let contact: String = conn
            .query_row(
                "SELECT \"Name\" FROM \"Contact\" WHERE \"Id\" = '003Dm0000000001IAA'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(contact, "Sarah Chen");
        let (profile, psets): (String, String) = conn
            .query_row("SELECT profile, permission_sets FROM sayso_user WHERE username = 'kinetic.integration@demo.sayso.dev'", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!(profile, "Minimum Access - API Only Integrations");
        assert_eq!(psets, "Contractor Case Access");
    }
}
