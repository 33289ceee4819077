//! Where the agent keeps its own files (`SAYSO_HOME`) and the settings of `SAYSO_HOME/config.toml`
//! that the session layer reads: the API budget and the API version.
//!
//! Owns path layout and parsing of `[budget]`/`[api]`; other tables of `config.toml` belong to other
//! modules and are ignored here. Does no network I/O and never stores secrets. Called by
//! [`crate::auth`] (profiles, token files) and [`crate::salesforce`] (usage ledger, budget).

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Errors from locating or reading the agent's home and settings.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Neither `SAYSO_HOME` nor a platform config directory is available.
    #[error("cannot find a home for sayso: set SAYSO_HOME")]
    NoHome,
    /// The settings file could not be read.
    #[error("cannot read `{path}`")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The settings file is not valid TOML or has a wrong type; the TOML error names the line.
    #[error("invalid settings in `{path}`: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message, with line and column.
        message: String,
    },
    /// A setting has a value outside its range.
    #[error("invalid settings in `{path}`: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// The directory holding everything of the agent's own: profiles, tokens, usage ledger, caches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Home {
    root: PathBuf,
}

impl Home {
    /// A home at `root` (created lazily when something is written).
    pub fn new(root: impl Into<PathBuf>) -> Home {
        Home { root: root.into() }
    }

    /// `SAYSO_HOME` when set and non-empty, else `<platform config dir>/sayso`.
    ///
    /// # Errors
    /// [`ConfigError::NoHome`] when neither is available.
    pub fn from_env() -> Result<Home, ConfigError> {
        match std::env::var_os("SAYSO_HOME") {
            Some(v) if !v.is_empty() => Ok(Home::new(v)),
            _ => dirs::config_dir()
                .map(|d| Home::new(d.join("sayso")))
                .ok_or(ConfigError::NoHome),
        }
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `config.toml`: user settings (`[budget]`, `[api]`, …).
    pub fn config_file(&self) -> PathBuf {
        self.root.join("config.toml")
    }

    /// `profiles.toml`: one table per login profile; never holds a secret.
    pub fn profiles_file(&self) -> PathBuf {
        self.root.join("profiles.toml")
    }

    /// `credentials/`: token files (0600) when the OS keyring is not used.
    pub fn credentials_dir(&self) -> PathBuf {
        self.root.join("credentials")
    }

    /// `usage/`: the per-profile, per-day API usage ledger.
    pub fn usage_dir(&self) -> PathBuf {
        self.root.join("usage")
    }

    /// Creates the root directory (mode 0700 on Unix) if it does not exist.
    ///
    /// # Errors
    /// The I/O error from creating the directory.
    pub fn ensure(&self) -> std::io::Result<()> {
        create_private_dir(&self.root)
    }
}

/// Creates `dir` and its parents; a directory created here gets mode 0700 on Unix.
pub(crate) fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// The API budget of `[budget]` in `config.toml`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Budget {
    /// Calls per profile and day the agent may make; `None` = no budget of our own.
    pub daily_calls: Option<u64>,
    /// Fraction of the budget (and of the org's allocation) past which every command warns.
    pub warn_at: f64,
}

impl Default for Budget {
    fn default() -> Self {
        Budget {
            daily_calls: None,
            warn_at: 0.8,
        }
    }
}

/// The session-related settings of `config.toml`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Settings {
    /// `[budget]`.
    pub budget: Budget,
    /// `[api] version = "v63.0"`, overriding the default API version.
    pub api_version: Option<String>,
}

#[derive(Deserialize, Default)]
struct RawSettings {
    #[serde(default)]
    budget: Option<RawBudget>,
    #[serde(default)]
    api: Option<RawApi>,
}

#[derive(Deserialize)]
struct RawBudget {
    daily_calls: Option<u64>,
    warn_at: Option<f64>,
}

#[derive(Deserialize)]
struct RawApi {
    version: Option<String>,
}

/// Reads `config.toml` of `home` and parses it with `parse` (each module parses its own table);
/// a missing file gives the defaults.
///
/// # Errors
/// [`ConfigError::Read`], or what `parse` answers.
pub fn load_with<T: Default>(
    home: &Home,
    parse: impl FnOnce(&str, &Path) -> Result<T, ConfigError>,
) -> Result<T, ConfigError> {
    let path = home.config_file();
    match std::fs::read_to_string(&path) {
        Ok(text) => parse(&text, &path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(T::default()),
        Err(source) => Err(ConfigError::Read { path, source }),
    }
}

/// Reads a `config.toml` text as `T`; `path` names the file in the error, which gives the line.
///
/// # Errors
/// [`ConfigError::Parse`].
pub fn parse_toml<T: serde::de::DeserializeOwned>(
    text: &str,
    path: &Path,
) -> Result<T, ConfigError> {
    toml::from_str(text).map_err(|e| ConfigError::Parse {
        path: path.to_path_buf(),
        message: e.to_string().trim().replace('\n', " "),
    })
}

impl Settings {
    /// Reads `config.toml` of `home`; a missing file gives the defaults.
    ///
    /// # Errors
    /// [`ConfigError::Read`], [`ConfigError::Parse`] (with the line) or [`ConfigError::Invalid`].
    pub fn load(home: &Home) -> Result<Settings, ConfigError> {
        load_with(home, Settings::parse)
    }

    /// Parses the text of a `config.toml`; `path` is only used in error messages.
    ///
    /// # Errors
    /// [`ConfigError::Parse`] or [`ConfigError::Invalid`].
    pub fn parse(text: &str, path: &Path) -> Result<Settings, ConfigError> {
        let raw: RawSettings = parse_toml(text, path)?;
        let mut settings = Settings::default();
        if let Some(b) = raw.budget {
            settings.budget.daily_calls = b.daily_calls;
            if let Some(w) = b.warn_at {
                if !(0.0..=1.0).contains(&w) {
                    return Err(ConfigError::Invalid {
                        path: path.to_path_buf(),
                        message: format!("[budget] warn_at must be between 0 and 1, not `{w}`"),
                    });
                }
                settings.budget.warn_at = w;
            }
        }
        if let Some(api) = raw.api
            && let Some(v) = api.version
        {
            settings.api_version = Some(v);
        }
        Ok(settings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_is_read_and_other_tables_ignored() {
        let s = Settings::parse(
            "[budget]\ndaily_calls = 100\nwarn_at = 0.5\n[shell]\nprompt = \"> \"\n",
            Path::new("c.toml"),
        )
        .unwrap();
        assert_eq!(s.budget.daily_calls, Some(100));
        assert_eq!(s.budget.warn_at, 0.5);
    }

    #[test]
    fn defaults_without_budget() {
        let s = Settings::parse("", Path::new("c.toml")).unwrap();
        assert_eq!(s.budget, Budget::default());
    }

    #[test]
    fn bad_warn_at_names_the_file() {
        let e = Settings::parse("[budget]\nwarn_at = 3.0\n", Path::new("c.toml")).unwrap_err();
        assert!(e.to_string().contains("c.toml"), "{e}");
    }

    #[test]
    fn parse_error_names_the_line() {
        let e =
            Settings::parse("[budget]\ndaily_calls = \"x\"\n", Path::new("c.toml")).unwrap_err();
        assert!(e.to_string().contains("line 2"), "{e}");
    }
}
