//! The org's users as the security model needs them: id, username, profile, role, permission sets,
//! plus the few display fields the identity endpoints answer with.
//!
//! Owns the in-memory directory only. The records themselves live in the store's `User` table and
//! `sayso_user` (sandbox-data); [`super::Policy::refresh_users`] reloads the directory from them
//! (at startup and at every login), and [`super::Policy::upsert_user`] adds one user at once.

use serde::Deserialize;

use super::SecurityError;

/// The demo org's `User.csv`, embedded in the binary.
pub const DEMO_USERS_CSV: &str = include_str!("../demo-org/data/User.csv");

/// One user, as the policy sees it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
pub struct UserInfo {
    /// 18-character User Id.
    #[serde(rename = "Id")]
    pub id: String,
    /// Login name.
    #[serde(rename = "Username")]
    pub username: String,
    /// First name.
    #[serde(rename = "FirstName", default)]
    pub first_name: String,
    /// Last name.
    #[serde(rename = "LastName", default)]
    pub last_name: String,
    /// Email address.
    #[serde(rename = "Email", default)]
    pub email: String,
    /// Alias (nickname).
    #[serde(rename = "Alias", default)]
    pub alias: String,
    /// Active users can log in.
    #[serde(rename = "IsActive", default = "yes", deserialize_with = "csv_bool")]
    pub active: bool,
    /// Role name; empty when the user has none.
    #[serde(rename = "UserRole", default)]
    pub role: String,
    /// Profile name.
    #[serde(rename = "Profile")]
    pub profile: String,
    /// Permission set names, `;`-separated in the CSV.
    #[serde(rename = "PermissionSets", default, deserialize_with = "csv_list")]
    pub permission_sets: Vec<String>,
    /// Time zone.
    #[serde(rename = "TimeZoneSidKey", default)]
    pub time_zone: String,
}

fn yes() -> bool {
    true
}

fn csv_bool<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    let s = String::deserialize(d)?;
    Ok(!matches!(
        s.trim().to_ascii_lowercase().as_str(),
        "false" | "0" | "no"
    ))
}

fn csv_list<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let s = String::deserialize(d)?;
    Ok(s.split([';', '|'])
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect())
}

impl UserInfo {
    /// "First Last".
    pub fn display_name(&self) -> String {
        format!("{} {}", self.first_name, self.last_name)
            .trim()
            .to_string()
    }

    /// The role, if any.
    pub fn role(&self) -> Option<&str> {
        let r = self.role.trim();
        (!r.is_empty()).then_some(r)
    }
}

/// All users, looked up by id or username.
#[derive(Debug, Clone, Default)]
pub struct UserDirectory {
    users: Vec<UserInfo>,
}

impl UserDirectory {
    /// Parses a `User.csv` in the demo-org layout.
    ///
    /// # Errors
    /// [`SecurityError::Users`] on a malformed row.
    pub fn from_csv(text: &str) -> Result<Self, SecurityError> {
        let mut rdr = csv::Reader::from_reader(text.as_bytes());
        let mut users = Vec::new();
        for row in rdr.deserialize::<UserInfo>() {
            users.push(row.map_err(|e| SecurityError::Users(e.to_string()))?);
        }
        Ok(Self { users })
    }

    /// Every user.
    pub fn all(&self) -> &[UserInfo] {
        &self.users
    }

    /// The user with this id (15 or 18 characters).
    pub fn by_id(&self, id: &str) -> Option<&UserInfo> {
        let id15 = id.get(..15)?;
        self.users.iter().find(|u| u.id.get(..15) == Some(id15))
    }

    /// The user with this username (case-insensitive).
    pub fn by_username(&self, username: &str) -> Option<&UserInfo> {
        self.users
            .iter()
            .find(|u| u.username.eq_ignore_ascii_case(username))
    }

    /// Reads the users of a sandbox database: the `User` table for names and activity, and
    /// `sayso_user` for profile, role and permission sets. A user created through the API (no
    /// `sayso_user` row) gets the profile and role whose ids its `ProfileId` / `UserRoleId` carry.
    ///
    /// # Errors
    /// SQLite failures (e.g. the tables do not exist).
    pub fn from_db(conn: &rusqlite::Connection) -> rusqlite::Result<Self> {
        let mut stmt = conn.prepare(
            r#"SELECT u."Id", u."Username", u."FirstName", u."LastName", u."Email", u."Alias", u."IsActive",
                      u."TimeZoneSidKey",
                      COALESCE(s.profile, (SELECT p.profile FROM sayso_user p WHERE p.profile_id = u."ProfileId" LIMIT 1)),
                      COALESCE(s.role, (SELECT r.role FROM sayso_user r WHERE r.role_id = u."UserRoleId" LIMIT 1)),
                      COALESCE(s.permission_sets, '')
               FROM "User" u LEFT JOIN sayso_user s ON s.user_id = u."Id"
               WHERE COALESCE(u."IsDeleted", 0) = 0"#,
        )?;
        let rows = stmt.query_map([], |r| {
            let text = |i: usize| -> rusqlite::Result<String> {
                Ok(r.get::<_, Option<String>>(i)?.unwrap_or_default())
            };
            let permission_sets: String = text(10)?;
            Ok(UserInfo {
                id: text(0)?,
                username: text(1)?,
                first_name: text(2)?,
                last_name: text(3)?,
                email: text(4)?,
                alias: text(5)?,
                active: r.get::<_, Option<i64>>(6)?.unwrap_or(1) != 0,
                time_zone: text(7)?,
                profile: text(8)?,
                role: text(9)?,
                permission_sets: permission_sets
                    .split([';', '|'])
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .map(str::to_string)
                    .collect(),
            })
        })?;
        let users = rows.collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(Self { users })
    }

    /// Adds `user`, or replaces the user with the same id.
    pub fn upsert(&mut self, user: UserInfo) {
        match self.users.iter_mut().find(|u| u.id == user.id) {
            Some(slot) => *slot = user,
            None => self.users.push(user),
        }
    }
}
