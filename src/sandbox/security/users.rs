//! The org's users as the security model needs them: id, username, profile, role, permission sets,
//! plus the few display fields the identity endpoints answer with.
//!
//! Owns the in-memory directory only. The records themselves live in the store's `User` table
//! (sandbox-data); whoever adds or changes a user there calls [`UserDirectory::upsert`] (through
//! [`super::Policy::upsert_user`]) so sharing sees it at once.

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

    /// Adds `user`, or replaces the user with the same id.
    pub fn upsert(&mut self, user: UserInfo) {
        match self.users.iter_mut().find(|u| u.id == user.id) {
            Some(slot) => *slot = user,
            None => self.users.push(user),
        }
    }
}
