//! Where sessions live: profiles (`profiles.toml`, no secrets) and credentials (tokens, client
//! secrets) in the OS keyring when the `keyring` feature is built and a keyring service answers,
//! else in `SAYSO_HOME/credentials/<profile>.json` with mode 0600.
//!
//! Every write goes to a temporary file in the same directory and is renamed over the old one, so a
//! crash never leaves a half-written token file. A credentials file readable by group or others is
//! refused with a message saying how to fix it.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{Error, Secret};
use crate::config::{Home, create_private_dir};

/// How a profile logged in; decides how its session is renewed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoginMethod {
    /// Authorization code + PKCE in the browser; renewed with the refresh token.
    Browser,
    /// JWT bearer; renewed by signing a new assertion with the key file.
    Jwt,
    /// Client credentials; renewed with the stored client secret.
    ClientCredentials,
    /// Device flow; renewed with the refresh token.
    Device,
    /// A reused access token; cannot be renewed.
    AccessToken,
    /// A session of the Salesforce CLI; cannot be renewed by sayso.
    SfCli,
}

impl LoginMethod {
    /// The name used in `whoami` and `--json` output.
    pub fn as_str(self) -> &'static str {
        match self {
            LoginMethod::Browser => "browser",
            LoginMethod::Jwt => "jwt",
            LoginMethod::ClientCredentials => "client_credentials",
            LoginMethod::Device => "device",
            LoginMethod::AccessToken => "access_token",
            LoginMethod::SfCli => "sf_cli",
        }
    }
}

/// A login profile: who, where and how — never a secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    /// The REST host, from the token response.
    pub instance_url: String,
    /// The login host the flow used (`https://login.salesforce.com`, a My Domain, the sandbox).
    pub login_url: String,
    /// The token endpoint used for renewal and revocation's sibling.
    pub token_url: String,
    /// The connected app's consumer key.
    #[serde(default)]
    pub client_id: Option<String>,
    /// Login name of the user.
    #[serde(default)]
    pub username: Option<String>,
    /// Display name of the user.
    #[serde(default)]
    pub display_name: Option<String>,
    /// 18-character User Id.
    #[serde(default)]
    pub user_id: Option<String>,
    /// 18-character Organization Id.
    #[serde(default)]
    pub org_id: Option<String>,
    /// Scopes the org granted.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// How the profile logged in.
    pub method: LoginMethod,
    /// JWT bearer only: the private key file (a path, not the key).
    #[serde(default)]
    pub jwt_key: Option<PathBuf>,
    /// JWT bearer only: the `aud` claim.
    #[serde(default)]
    pub audience: Option<String>,
    /// API version override for this profile (`v63.0`).
    #[serde(default)]
    pub api_version: Option<String>,
    /// When the login happened (RFC 3339).
    #[serde(default)]
    pub logged_in_at: Option<String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct ProfilesFile {
    #[serde(default)]
    profiles: BTreeMap<String, Profile>,
}

/// Reads all profiles of `home`; a missing file means none.
///
/// # Errors
/// [`Error::Io`] or [`Error::Format`] (naming the file).
pub fn load_profiles(home: &Home) -> Result<BTreeMap<String, Profile>, Error> {
    let path = home.profiles_file();
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(source) => return Err(Error::Io { path, source }),
    };
    let file: ProfilesFile = toml::from_str(&text).map_err(|e| Error::Format {
        path: path.clone(),
        message: e.to_string().trim().replace('\n', " "),
    })?;
    Ok(file.profiles)
}

/// Reads one profile.
///
/// # Errors
/// [`Error::NotLoggedIn`] when the profile does not exist, else as [`load_profiles`].
pub fn load_profile(home: &Home, name: &str) -> Result<Profile, Error> {
    load_profiles(home)?
        .remove(name)
        .ok_or_else(|| Error::NotLoggedIn {
            profile: name.to_string(),
        })
}

/// Adds or replaces one profile, atomically.
///
/// # Errors
/// [`Error::Io`] or [`Error::Format`].
pub fn save_profile(home: &Home, name: &str, profile: &Profile) -> Result<(), Error> {
    let mut all = load_profiles(home)?;
    all.insert(name.to_string(), profile.clone());
    write_profiles(home, all)
}

/// Removes one profile; returns whether it existed.
///
/// # Errors
/// [`Error::Io`] or [`Error::Format`].
pub fn remove_profile(home: &Home, name: &str) -> Result<bool, Error> {
    let mut all = load_profiles(home)?;
    let existed = all.remove(name).is_some();
    if existed {
        write_profiles(home, all)?;
    }
    Ok(existed)
}

fn write_profiles(home: &Home, profiles: BTreeMap<String, Profile>) -> Result<(), Error> {
    let path = home.profiles_file();
    let text = toml::to_string(&ProfilesFile { profiles }).map_err(|e| Error::Format {
        path: path.clone(),
        message: e.to_string(),
    })?;
    write_atomic(&path, text.as_bytes())
}

/// The secrets of one profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Credentials {
    /// The current access token (session id).
    pub access_token: Secret,
    /// The refresh token, when the grant gave one; replaced on rotation.
    #[serde(default)]
    pub refresh_token: Option<Secret>,
    /// The client secret (client credentials logins, or confidential apps).
    #[serde(default)]
    pub client_secret: Option<Secret>,
    /// `issued_at` of the access token, epoch milliseconds as Salesforce sends it.
    #[serde(default)]
    pub issued_at: Option<String>,
}

/// Where credentials are kept.
#[derive(Debug, Clone)]
pub enum TokenStore {
    /// `credentials/<profile>.json`, mode 0600, under the home.
    File {
        /// The `credentials/` directory.
        dir: PathBuf,
    },
    /// The OS keyring (service `sayso`, user = `<home>:<profile>`).
    #[cfg(feature = "keyring")]
    Keyring {
        /// Distinguishes several homes sharing one keyring.
        home: PathBuf,
    },
}

impl TokenStore {
    /// The store for `home`: the OS keyring when built with the `keyring` feature, not disabled by
    /// `SAYSO_KEYRING=0`, and a keyring service answers; else the 0600 file store.
    pub fn open(home: &Home) -> TokenStore {
        #[cfg(feature = "keyring")]
        {
            if std::env::var("SAYSO_KEYRING")
                .map(|v| v != "0")
                .unwrap_or(true)
                && keyring_store::available()
            {
                return TokenStore::Keyring {
                    home: home.root().to_path_buf(),
                };
            }
        }
        TokenStore::file(home)
    }

    /// The file store of `home`, whatever keyring exists.
    pub fn file(home: &Home) -> TokenStore {
        TokenStore::File {
            dir: home.credentials_dir(),
        }
    }

    /// A short name for `whoami`: `keyring` or the file path.
    pub fn describe(&self, profile: &str) -> String {
        match self {
            TokenStore::File { dir } => credentials_path(dir, profile).display().to_string(),
            #[cfg(feature = "keyring")]
            TokenStore::Keyring { .. } => "the OS keyring".to_string(),
        }
    }

    /// Loads the credentials of `profile`, `None` when there are none.
    ///
    /// # Errors
    /// [`Error::InsecurePermissions`] when the file is readable by others; [`Error::Io`],
    /// [`Error::Format`], or a keyring error.
    pub fn load(&self, profile: &str) -> Result<Option<Credentials>, Error> {
        match self {
            TokenStore::File { dir } => {
                let path = credentials_path(dir, profile);
                match read_private(&path)? {
                    None => Ok(None),
                    Some(bytes) => {
                        serde_json::from_slice(&bytes)
                            .map(Some)
                            .map_err(|e| Error::Format {
                                path,
                                message: e.to_string(),
                            })
                    }
                }
            }
            #[cfg(feature = "keyring")]
            TokenStore::Keyring { home } => keyring_store::load(home, profile),
        }
    }

    /// Saves the credentials of `profile`, replacing the old ones atomically.
    ///
    /// # Errors
    /// [`Error::Io`] or a keyring error.
    pub fn save(&self, profile: &str, creds: &Credentials) -> Result<(), Error> {
        match self {
            TokenStore::File { dir } => {
                let path = credentials_path(dir, profile);
                let bytes = serde_json::to_vec(creds).map_err(|e| Error::Format {
                    path: path.clone(),
                    message: e.to_string(),
                })?;
                write_atomic(&path, &bytes)
            }
            #[cfg(feature = "keyring")]
            TokenStore::Keyring { home } => keyring_store::save(home, profile, creds),
        }
    }

    /// Deletes the credentials of `profile`; returns whether there were any.
    ///
    /// # Errors
    /// [`Error::Io`] or a keyring error.
    pub fn delete(&self, profile: &str) -> Result<bool, Error> {
        match self {
            TokenStore::File { dir } => {
                let path = credentials_path(dir, profile);
                match std::fs::remove_file(&path) {
                    Ok(()) => Ok(true),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
                    Err(source) => Err(Error::Io { path, source }),
                }
            }
            #[cfg(feature = "keyring")]
            TokenStore::Keyring { home } => keyring_store::delete(home, profile),
        }
    }
}

#[cfg(feature = "keyring")]
mod keyring_store {
    use std::path::Path;

    use super::{Credentials, Error};

    fn entry(home: &Path, profile: &str) -> Result<keyring::Entry, Error> {
        keyring::Entry::new("sayso", &format!("{}:{profile}", home.display())).map_err(|e| {
            Error::Keyring {
                message: e.to_string(),
            }
        })
    }

    pub(super) fn available() -> bool {
        match keyring::Entry::new("sayso", "probe") {
            Ok(e) => matches!(e.get_password(), Ok(_) | Err(keyring::Error::NoEntry)),
            Err(_) => false,
        }
    }

    pub(super) fn load(home: &Path, profile: &str) -> Result<Option<Credentials>, Error> {
        match entry(home, profile)?.get_password() {
            Ok(text) => serde_json::from_str(&text)
                .map(Some)
                .map_err(|e| Error::Keyring {
                    message: e.to_string(),
                }),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(Error::Keyring {
                message: e.to_string(),
            }),
        }
    }

    pub(super) fn save(home: &Path, profile: &str, creds: &Credentials) -> Result<(), Error> {
        let text = serde_json::to_string(creds).map_err(|e| Error::Keyring {
            message: e.to_string(),
        })?;
        entry(home, profile)?
            .set_password(&text)
            .map_err(|e| Error::Keyring {
                message: e.to_string(),
            })
    }

    pub(super) fn delete(home: &Path, profile: &str) -> Result<bool, Error> {
        match entry(home, profile)?.delete_credential() {
            Ok(()) => Ok(true),
            Err(keyring::Error::NoEntry) => Ok(false),
            Err(e) => Err(Error::Keyring {
                message: e.to_string(),
            }),
        }
    }
}

fn credentials_path(dir: &Path, profile: &str) -> PathBuf {
    dir.join(format!("{}.json", file_safe(profile)))
}

/// Maps a profile name to a file name: letters, digits, `-`, `_` and `.` kept, others `_`.
fn file_safe(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() || s.starts_with('.') {
        format!("_{s}")
    } else {
        s
    }
}

/// Reads a file that must be private to the user; `None` when it does not exist.
///
/// # Errors
/// [`Error::InsecurePermissions`] when group or others may read or write it.
pub(crate) fn read_private(path: &Path) -> Result<Option<Vec<u8>>, Error> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(Error::Io {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(Error::InsecurePermissions {
                path: path.to_path_buf(),
                mode,
            });
        }
    }
    #[cfg(not(unix))]
    let _ = meta;
    std::fs::read(path).map(Some).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Writes `bytes` to `path` atomically: a new 0600 file in the same directory, synced, then
/// renamed over `path`. Creates the directory (0700) if needed.
///
/// # Errors
/// [`Error::Io`] naming the path.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    write_replace(path, bytes, true)
}

/// As [`write_atomic`]; `sync = false` skips the fsync (for data where losing the last update in
/// a power cut is acceptable, like the usage ledger, written on every API call).
pub(crate) fn write_replace(path: &Path, bytes: &[u8], sync: bool) -> Result<(), Error> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    create_private_dir(dir).map_err(io)?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        path.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        uuid::Uuid::new_v4().simple()
    ));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let result = (|| {
        let mut file = options.open(&tmp)?;
        file.write_all(bytes)?;
        if sync {
            file.sync_all()?;
        }
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds() -> Credentials {
        Credentials {
            access_token: Secret::new("00Dabc!token"),
            refresh_token: Some(Secret::new("5Aep-refresh")),
            client_secret: None,
            issued_at: Some("1700000000000".into()),
        }
    }

    #[test]
    fn file_store_round_trip_is_0600() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::new(dir.path());
        let store = TokenStore::file(&home);
        store.save("default", &creds()).unwrap();
        assert_eq!(store.load("default").unwrap(), Some(creds()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let path = home.credentials_dir().join("default.json");
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
            let dmode = std::fs::metadata(home.credentials_dir())
                .unwrap()
                .permissions()
                .mode()
                & 0o777;
            assert_eq!(dmode, 0o700);
        }
        assert!(store.delete("default").unwrap());
        assert_eq!(store.load("default").unwrap(), None);
        assert!(!store.delete("default").unwrap());
    }

    #[cfg(unix)]
    #[test]
    fn loose_permissions_are_refused_with_a_fix() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let home = Home::new(dir.path());
        let store = TokenStore::file(&home);
        store.save("p", &creds()).unwrap();
        let path = home.credentials_dir().join("p.json");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = store.load("p").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("chmod 600"), "{msg}");
        assert!(!msg.contains("00Dabc"), "{msg}");
    }

    #[test]
    fn profile_names_cannot_escape_the_directory() {
        assert_eq!(file_safe("../../etc/passwd"), "_.._.._etc_passwd");
        assert_eq!(file_safe("work"), "work");
    }

    #[test]
    fn profiles_round_trip_without_secrets() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::new(dir.path());
        let p = Profile {
            instance_url: "http://127.0.0.1:1".into(),
            login_url: "http://127.0.0.1:1".into(),
            token_url: "http://127.0.0.1:1/services/oauth2/token".into(),
            client_id: Some("sayso-cli".into()),
            username: Some("dana@x".into()),
            display_name: None,
            user_id: None,
            org_id: None,
            scopes: vec!["api".into()],
            method: LoginMethod::Jwt,
            jwt_key: Some("/k.pem".into()),
            audience: None,
            api_version: None,
            logged_in_at: None,
        };
        save_profile(&home, "default", &p).unwrap();
        save_profile(&home, "other", &p).unwrap();
        assert_eq!(load_profile(&home, "default").unwrap(), p);
        assert!(remove_profile(&home, "other").unwrap());
        assert_eq!(load_profiles(&home).unwrap().len(), 1);
        assert!(matches!(
            load_profile(&home, "other"),
            Err(Error::NotLoggedIn { .. })
        ));
    }
}
