//! `[mcp]` in `config.toml`: what the MCP server lets an assistant do.
//!
//! ```toml
//! [mcp]
//! read_only = false                    # true: only ask, history and whoami are listed
//! objects = ["Opportunity", "Task"]    # the objects a write may touch (absent: any)
//! deny_fields = ["Opportunity.Amount", "OwnerId"]   # fields no write may set (Object.Field or Field)
//! max_records_per_apply = 200          # more records need the CLI
//! confirm = "elicit"                   # "elicit": ask the person before writing, when the client can; "none"
//! preview_ttl = "15m"                  # how long a preview may be applied ("90s", "15m", "1h", or seconds)
//! ```

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::config::{ConfigError, Home};

/// Whether `apply` asks the person first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Confirm {
    /// Ask through MCP elicitation when the client supports it (the default).
    Elicit,
    /// Never ask: the assistant's `apply` is enough.
    None,
}

/// The `[mcp]` settings.
#[derive(Debug, Clone, PartialEq)]
pub struct McpSettings {
    /// Only the read tools.
    pub read_only: bool,
    /// The objects writes may touch (API names); `None` = any.
    pub objects: Option<Vec<String>>,
    /// Fields writes may not set: `Object.Field`, or `Field` on any object.
    pub deny_fields: Vec<String>,
    /// Most records one `apply` may change.
    pub max_records_per_apply: usize,
    /// Whether `apply` asks the person.
    pub confirm: Confirm,
    /// How long a preview may be applied.
    pub preview_ttl: Duration,
}

/// The largest `max_records_per_apply`: past it a change is a Bulk API job, which needs the CLI.
pub const MAX_RECORDS_CEILING: usize = 2000;

impl Default for McpSettings {
    fn default() -> McpSettings {
        McpSettings {
            read_only: false,
            objects: None,
            deny_fields: Vec::new(),
            max_records_per_apply: 200,
            confirm: Confirm::Elicit,
            preview_ttl: Duration::from_secs(15 * 60),
        }
    }
}

#[derive(Deserialize, Default)]
struct RawFile {
    #[serde(default)]
    mcp: Option<RawMcp>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMcp {
    read_only: Option<bool>,
    objects: Option<Vec<String>>,
    deny_fields: Option<Vec<String>>,
    max_records_per_apply: Option<usize>,
    confirm: Option<Confirm>,
    preview_ttl: Option<Ttl>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Ttl {
    Seconds(u64),
    Text(String),
}

/// "90s", "15m", "1h", "30" (seconds).
fn parse_ttl(t: &Ttl) -> Option<Duration> {
    let text = match t {
        Ttl::Seconds(s) => return Some(Duration::from_secs(*s)),
        Ttl::Text(s) => s.trim(),
    };
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (n, unit) = text.split_at(split);
    let n: u64 = n.parse().ok()?;
    let secs = match unit.trim() {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        _ => return None,
    };
    Some(Duration::from_secs(secs))
}

impl McpSettings {
    /// Reads `[mcp]` of `config.toml` in `home`; a missing file or table gives the defaults.
    ///
    /// # Errors
    /// [`ConfigError`] for an unreadable file or a bad value (naming it).
    pub fn load(home: &Home) -> Result<McpSettings, ConfigError> {
        crate::config::load_with(home, McpSettings::parse)
    }

    /// Parses the `[mcp]` table of a `config.toml` text; `path` is for messages.
    ///
    /// # Errors
    /// [`ConfigError::Parse`] or [`ConfigError::Invalid`].
    pub fn parse(text: &str, path: &Path) -> Result<McpSettings, ConfigError> {
        let raw: RawFile = crate::config::parse_toml(text, path)?;
        let mut s = McpSettings::default();
        let Some(m) = raw.mcp else {
            return Ok(s);
        };
        let invalid = |message: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            message,
        };
        s.read_only = m.read_only.unwrap_or(false);
        s.objects = m.objects;
        s.deny_fields = m.deny_fields.unwrap_or_default();
        if let Some(n) = m.max_records_per_apply {
            if n == 0 || n > MAX_RECORDS_CEILING {
                return Err(invalid(format!(
                    "[mcp] max_records_per_apply must be between 1 and {MAX_RECORDS_CEILING} (bulk beyond needs the CLI), not {n}"
                )));
            }
            s.max_records_per_apply = n;
        }
        s.confirm = m.confirm.unwrap_or(Confirm::Elicit);
        if let Some(t) = m.preview_ttl {
            s.preview_ttl = parse_ttl(&t).ok_or_else(|| {
                invalid("[mcp] preview_ttl must be seconds or like \"90s\", \"15m\", \"1h\"".into())
            })?;
        }
        Ok(s)
    }

    /// Whether a write may touch `sobject`.
    pub fn object_allowed(&self, sobject: &str) -> bool {
        self.objects
            .as_ref()
            .is_none_or(|o| o.iter().any(|x| x.eq_ignore_ascii_case(sobject)))
    }

    /// Whether a write may set `field` of `sobject`.
    pub fn field_allowed(&self, sobject: &str, field: &str) -> bool {
        !self.deny_fields.iter().any(|d| match d.split_once('.') {
            Some((o, f)) => o.eq_ignore_ascii_case(sobject) && f.eq_ignore_ascii_case(field),
            None => d.eq_ignore_ascii_case(field),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(t: &str) -> Result<McpSettings, ConfigError> {
        McpSettings::parse(t, Path::new("config.toml"))
    }

    #[test]
    fn defaults_without_a_table() {
        let s = parse("[budget]\ndaily_calls = 5\n").unwrap();
        assert_eq!(s, McpSettings::default());
        assert_eq!(s.max_records_per_apply, 200);
        assert_eq!(s.preview_ttl, Duration::from_secs(900));
        assert_eq!(s.confirm, Confirm::Elicit);
    }

    #[test]
    fn every_setting_is_read() {
        let s = parse(
            "[mcp]\nread_only = true\nobjects = [\"Opportunity\"]\ndeny_fields = [\"Opportunity.Amount\", \"OwnerId\"]\nmax_records_per_apply = 20\nconfirm = \"none\"\npreview_ttl = \"90s\"\n",
        )
        .unwrap();
        assert!(s.read_only);
        assert!(s.object_allowed("opportunity") && !s.object_allowed("Account"));
        assert!(!s.field_allowed("Opportunity", "Amount"));
        assert!(s.field_allowed("Account", "Amount"));
        assert!(!s.field_allowed("Case", "OwnerId"));
        assert_eq!(s.max_records_per_apply, 20);
        assert_eq!(s.confirm, Confirm::None);
        assert_eq!(s.preview_ttl, Duration::from_secs(90));
        assert_eq!(
            parse("[mcp]\npreview_ttl = 3\n").unwrap().preview_ttl,
            Duration::from_secs(3)
        );
        assert_eq!(
            parse("[mcp]\npreview_ttl = \"1h\"\n").unwrap().preview_ttl,
            Duration::from_secs(3600)
        );
    }

    #[test]
    fn bad_values_are_refused_with_the_file_named() {
        for bad in [
            "[mcp]\nmax_records_per_apply = 5000\n",
            "[mcp]\npreview_ttl = \"soon\"\n",
            "[mcp]\nconfirm = \"maybe\"\n",
            "[mcp]\nread_olny = true\n",
        ] {
            let e = parse(bad).unwrap_err();
            assert!(e.to_string().contains("config.toml"), "{bad}: {e}");
        }
    }
}
