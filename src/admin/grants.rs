//! `sayso admin grants` and `sayso admin revoke`: who authorized which connected app, when the
//! grant was last used and how often (`OauthToken`), and revoking grants by user (offboarding), by
//! app (a breached app) or one user's grant of one app (a lost device).
//!
//! Revoking deletes the `OauthToken` rows (`DELETE sobjects/OauthToken/{id}`), which ends the
//! grant's refresh token and its access tokens at once. [`select`] and [`revoke`] are separate so
//! the binary can confirm with the count in between.

use serde::Serialize;

use super::{Directory, Error, Result, text};
use crate::salesforce::Client;
use crate::soql::builder::eq_str;
use crate::soql::{Direction, QueryBuilder};

/// One grant (`OauthToken` row).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Grant {
    /// `OauthToken.Id` (`0CQ…`).
    pub id: String,
    /// The connected app's name (`AppName`).
    pub app: String,
    /// The user's id.
    pub user_id: String,
    /// The user's username (the id when unknown).
    pub username: String,
    /// When the grant was created.
    pub created: Option<String>,
    /// When one of its tokens was last used.
    pub last_used: Option<String>,
    /// How many times its tokens were used.
    pub use_count: u64,
}

/// Which grants to list.
#[derive(Debug, Clone, Default)]
pub struct GrantFilter {
    /// Only this user's (username).
    pub user: Option<String>,
    /// Only this app's (name, case-insensitive; or consumer key).
    pub app: Option<String>,
}

/// Which grants to revoke.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevokeTarget {
    /// Every grant of a user (offboarding).
    User(String),
    /// Every grant of an app (a breached app).
    App(String),
    /// One user's grants of one app (a lost device).
    GrantOf {
        /// Username.
        user: String,
        /// App name or consumer key.
        app: String,
    },
}

impl RevokeTarget {
    /// Parses `USER@APP` (the username itself contains `@`, so the last `@` splits).
    ///
    /// # Errors
    /// [`Error::BadGrantSpec`] without a user or an app part.
    pub fn grant_of(spec: &str) -> Result<RevokeTarget> {
        match spec.rsplit_once('@') {
            Some((user, app)) if user.contains('@') && !app.is_empty() => {
                Ok(RevokeTarget::GrantOf {
                    user: user.to_string(),
                    app: app.to_string(),
                })
            }
            _ => Err(Error::BadGrantSpec(spec.to_string())),
        }
    }

    fn filter(&self) -> GrantFilter {
        match self {
            RevokeTarget::User(u) => GrantFilter {
                user: Some(u.clone()),
                app: None,
            },
            RevokeTarget::App(a) => GrantFilter {
                user: None,
                app: Some(a.clone()),
            },
            RevokeTarget::GrantOf { user, app } => GrantFilter {
                user: Some(user.clone()),
                app: Some(app.clone()),
            },
        }
    }
}

/// The display name of the app named or keyed `app` (name wins; consumer key looked up through
/// the connected apps).
async fn app_name(client: &Client, app: &str) -> Result<String> {
    let apps = super::apps::list(client).await?;
    apps.iter()
        .map(|a| &a.app)
        .find(|a| a.name.eq_ignore_ascii_case(app))
        .or_else(|| {
            apps.iter()
                .map(|a| &a.app)
                .find(|a| a.client_id.as_deref() == Some(app))
        })
        .map(|a| a.name.clone())
        .ok_or_else(|| Error::UnknownApp(app.to_string()))
}

/// Grants matching `filter`, by app then user.
///
/// # Errors
/// [`Error::UnknownUser`] / [`Error::UnknownApp`] for names the org does not have; API failures.
pub async fn list(client: &Client, filter: &GrantFilter) -> Result<Vec<Grant>> {
    let directory = Directory::load(client).await?;
    let mut q = QueryBuilder::select(
        "OauthToken",
        &[
            "Id",
            "AppName",
            "UserId",
            "CreatedDate",
            "LastUsedDate",
            "UseCount",
        ],
    )?;
    if let Some(user) = &filter.user {
        let id = directory
            .id_of(user)
            .ok_or_else(|| Error::UnknownUser(user.clone()))?;
        q = q.filter(eq_str("UserId", id)?);
    }
    if let Some(app) = &filter.app {
        let name = app_name(client, app).await?;
        q = q.filter(eq_str("AppName", &name)?);
    }
    let soql = q.order_by("AppName", Direction::Asc)?.to_soql();
    let rows = client.query(&soql).await?;
    let mut grants: Vec<Grant> = rows
        .records
        .iter()
        .map(|r| {
            let user_id = text(r, "UserId");
            Grant {
                id: text(r, "Id"),
                app: text(r, "AppName"),
                username: directory.username(&user_id).unwrap_or(&user_id).to_string(),
                user_id,
                created: r
                    .get("CreatedDate")
                    .and_then(|v| v.as_str())
                    .map(str::to_string),
                last_used: r
                    .get("LastUsedDate")
                    .and_then(|v| v.as_str())
                    .map(str::to_string),
                use_count: r.get("UseCount").and_then(|v| v.as_u64()).unwrap_or(0),
            }
        })
        .collect();
    grants.sort_by(|a, b| {
        (a.app.to_ascii_lowercase(), &a.username).cmp(&(b.app.to_ascii_lowercase(), &b.username))
    });
    Ok(grants)
}

/// The grants `target` would revoke (for the confirmation).
///
/// # Errors
/// As [`list`].
pub async fn select(client: &Client, target: &RevokeTarget) -> Result<Vec<Grant>> {
    list(client, &target.filter()).await
}

/// Revokes `grants`; returns how many were revoked (a grant already gone counts as revoked).
///
/// # Errors
/// API failures other than NOT_FOUND / ENTITY_IS_DELETED.
pub async fn revoke(client: &Client, grants: &[Grant]) -> Result<usize> {
    let mut n = 0;
    for g in grants {
        match client.delete("OauthToken", &g.id).await {
            Ok(()) => n += 1,
            Err(e)
                if e.api().is_some_and(|a| {
                    a.has_code("NOT_FOUND") || a.has_code("ENTITY_IS_DELETED")
                }) =>
            {
                n += 1
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grant_of_splits_at_the_last_at_sign() {
        assert_eq!(
            RevokeTarget::grant_of("dana.reyes@demo.sayso.dev@sayso-cli").unwrap(),
            RevokeTarget::GrantOf {
                user: "dana.reyes@demo.sayso.dev".into(),
                app: "sayso-cli".into()
            }
        );
        assert!(RevokeTarget::grant_of("sayso-cli").is_err());
        assert!(RevokeTarget::grant_of("dana@demo.sayso.dev@").is_err());
        assert!(
            RevokeTarget::grant_of("dana@sayso-cli").is_err(),
            "a username has an @ of its own"
        );
    }
}
