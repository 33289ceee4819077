//! Salesforce names for records and objects: record ids (15-character case-sensitive ids, their
//! 18-character case-insensitive form with the 3-character checksum suffix, and the 3-character key
//! prefix that names the object) and object API names ([`ObjectName`]).
//!
//! Owns nothing else and imports nothing of the crate; used by both the agent and the sandbox.

use std::fmt;
use std::ops::Deref;

/// What a newtype over a `String` shares: shown and serialized as its text, read as a `&str`,
/// compared with text.
macro_rules! text_newtype {
    ($t:ident) => {
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($t), self.0)
            }
        }

        impl Deref for $t {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $t {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<str> for $t {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $t {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }
    };
}

/// A validated Salesforce record id, always held in its 18-character form.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecordId(String);

/// Why a string is not a record id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// Wrong length (ids are 15 or 18 characters).
    #[error("`{0}` is not a record id: it must be 15 or 18 characters long")]
    Length(String),
    /// A character outside `[0-9A-Za-z]`.
    #[error("`{0}` is not a record id: only letters and digits are allowed")]
    Character(String),
    /// The 18-character suffix does not match the 15-character body.
    #[error("`{0}` is not a record id: its last three characters do not match the checksum")]
    Checksum(String),
    /// Not an object API name.
    #[error(
        "`{0}` is not an object API name: it must start with a letter and hold only letters, digits and single underscores (`Account`, `Invoice__c`)"
    )]
    ObjectName(String),
}

const SUFFIX_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";

/// The 3-character checksum suffix that turns a 15-character id into its 18-character form.
pub fn checksum_suffix(id15: &str) -> String {
    let bytes = id15.as_bytes();
    let mut out = String::with_capacity(3);
    for chunk in 0..3 {
        let mut bits = 0usize;
        for i in 0..5 {
            let c = bytes[chunk * 5 + i];
            if c.is_ascii_uppercase() {
                bits |= 1 << i;
            }
        }
        out.push(SUFFIX_ALPHABET[bits] as char);
    }
    out
}

impl RecordId {
    /// Parses a 15- or 18-character id. An 18-character id must carry the right checksum;
    /// its body is case-corrected from the suffix, as Salesforce does.
    ///
    /// # Errors
    /// [`IdError`] when the text is not an id.
    pub fn parse(text: &str) -> Result<RecordId, IdError> {
        let text = text.trim();
        if !text.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(IdError::Character(text.to_string()));
        }
        match text.len() {
            15 => Ok(RecordId(format!("{text}{}", checksum_suffix(text)))),
            18 => {
                let body = &text[..15];
                let suffix = &text[15..];
                if checksum_suffix(body).eq_ignore_ascii_case(suffix) {
                    return Ok(RecordId(format!("{body}{}", checksum_suffix(body))));
                }
                // An 18-character id is case-insensitive: restore the body's case from the suffix.
                let fixed = restore_case(body, suffix)
                    .ok_or_else(|| IdError::Checksum(text.to_string()))?;
                Ok(RecordId(format!("{fixed}{}", checksum_suffix(&fixed))))
            }
            _ => Err(IdError::Length(text.to_string())),
        }
    }

    /// Builds an id from a key prefix, an org-specific pod/instance part and a sequence number,
    /// shaped like the demo org's ids (`006Dm0000000001IAA`).
    pub fn from_parts(prefix: &str, pod: &str, seq: u64) -> RecordId {
        let width = 15 - prefix.len() - pod.len();
        let body = format!("{prefix}{pod}{seq:0width$}");
        RecordId(format!("{body}{}", checksum_suffix(&body)))
    }

    /// The 18-character form.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The 15-character case-sensitive form.
    pub fn id15(&self) -> &str {
        &self.0[..15]
    }

    /// The 3-character key prefix (`006` for Opportunity).
    pub fn key_prefix(&self) -> &str {
        &self.0[..3]
    }
}

fn restore_case(body: &str, suffix: &str) -> Option<String> {
    let mut chars: Vec<char> = body.chars().collect();
    for (chunk, s) in suffix.chars().enumerate() {
        let bits = SUFFIX_ALPHABET
            .iter()
            .position(|&a| a as char == s.to_ascii_uppercase())?;
        for i in 0..5 {
            let c = &mut chars[chunk * 5 + i];
            let upper = bits & (1 << i) != 0;
            if upper && !c.is_ascii_alphabetic() {
                return None;
            }
            *c = if upper {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            };
        }
    }
    Some(chars.into_iter().collect())
}

text_newtype!(RecordId);

/// An object's API name (`Account`, `OpportunityContactRole`, `Invoice__c`), as the org spells it.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectName(String);

impl ObjectName {
    /// Checks the shape of an API name typed or read from a file: a letter first, then letters,
    /// digits and underscores, no double underscore except a namespace or suffix (`ns__Obj__c`).
    ///
    /// # Errors
    /// [`IdError::ObjectName`] when the text is not shaped like an API name.
    pub fn parse(text: &str) -> Result<ObjectName, IdError> {
        let ok = text.starts_with(|c: char| c.is_ascii_alphabetic())
            && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            && !text.ends_with('_')
            && !text.contains("___");
        if ok {
            Ok(ObjectName(text.to_string()))
        } else {
            Err(IdError::ObjectName(text.to_string()))
        }
    }

    /// A name the org itself gave (a describe, a query's `attributes.type`) or the grammar's
    /// object table holds: taken as it is.
    pub fn known(name: impl Into<String>) -> ObjectName {
        ObjectName(name.into())
    }

    /// The API name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

text_newtype!(ObjectName);

/// The standard key prefixes of the objects the sandbox serves.
pub const KEY_PREFIXES: &[(&str, &str)] = &[
    ("001", "Account"),
    ("003", "Contact"),
    ("005", "User"),
    ("006", "Opportunity"),
    ("00K", "OpportunityContactRole"),
    ("00Q", "Lead"),
    ("00T", "Task"),
    ("00U", "Event"),
    ("069", "ContentNote"),
    ("06A", "ContentDocumentLink"),
    ("500", "Case"),
    ("00D", "Organization"),
];

/// The object a key prefix names, if it is one of [`KEY_PREFIXES`].
pub fn object_for_prefix(prefix: &str) -> Option<&'static str> {
    KEY_PREFIXES
        .iter()
        .find(|(p, _)| *p == prefix)
        .map(|(_, o)| *o)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_ids_round_trip() {
        // Ids from the demo org: the suffix is the real checksum.
        for id in [
            "006Dm0000000001IAA",
            "005Dm0000000003IAA",
            "00TDm0000000010MAA",
            "069Dm0000000001IAA",
        ] {
            let parsed = RecordId::parse(id).unwrap();
            assert_eq!(parsed.as_str(), id);
            assert_eq!(RecordId::parse(parsed.id15()).unwrap(), parsed);
        }
    }

    #[test]
    fn eighteen_char_ids_are_case_insensitive() {
        let id = RecordId::parse("006dm0000000001iaa").unwrap();
        assert_eq!(id.as_str(), "006Dm0000000001IAA");
    }

    #[test]
    fn bad_ids_are_refused() {
        assert!(matches!(
            RecordId::parse("006Dm000"),
            Err(IdError::Length(_))
        ));
        assert!(matches!(
            RecordId::parse("006Dm0000000001'A"),
            Err(IdError::Character(_))
        ));
        assert!(matches!(
            RecordId::parse("006Dm0000000001ZZZ"),
            Err(IdError::Checksum(_))
        ));
    }

    #[test]
    fn object_names_are_checked_for_shape() {
        for good in [
            "Account",
            "OpportunityContactRole",
            "Invoice__c",
            "ns__Thing__c",
        ] {
            assert_eq!(ObjectName::parse(good).unwrap().as_str(), good);
        }
        for bad in [
            "",
            "1Account",
            "Account Name",
            "Acc'; DELETE",
            "Thing_",
            "a___b",
        ] {
            assert!(
                matches!(ObjectName::parse(bad), Err(IdError::ObjectName(_))),
                "{bad:?} was taken"
            );
        }
    }

    #[test]
    fn from_parts_matches_demo_shape() {
        assert_eq!(
            RecordId::from_parts("006", "Dm", 1).as_str(),
            "006Dm0000000001IAA"
        );
        assert_eq!(
            RecordId::from_parts("00T", "Dm", 10).as_str(),
            "00TDm0000000010MAA"
        );
    }
}
