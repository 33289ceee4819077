//! Columns of a file of rows → fields, and each row's cells → checked field values, before
//! anything is sent.
//!
//! A column maps to a field by its API name, or through the shared rule of the language
//! ([`super::field::find_field`]: label, field alias of the lexicon — "Email Address", "Company
//! Name", "Mobile" — and close spellings), with a few spreadsheet headers ([`HEADER_ALIASES`]) as
//! further aliases and each word read through the language's typo rule (one letter added,
//! dropped, changed or two swapped, same first letter, one candidate). A cell is checked against
//! its field's type: picklist values through [`super::field::match_picklist`] (active values,
//! labels, synonyms), emails, numbers, dates, booleans, ids; required fields are checked per row.
//!
//! Pure: works on an [`ObjectDescribe`] and the grammar. Imports `lang` (grammar, typo rule),
//! `field` and `schema`.

use serde_json::{Map, Value as Json, json};

use super::ResolveError;
use super::field::{find_field, match_picklist};
use super::schema::{FieldDescribe, ObjectDescribe};
use crate::lang::{FieldAlias, FieldRef, Grammar, PersonName, Value};

/// A lead's LastName when no person is named: Salesforce's own Web-to-Lead convention.
pub const NOT_PROVIDED: &str = "[not provided]";

/// The person of a new lead that names only a company ("add these companies as leads").
pub fn unnamed_lead(sobject: &str, company: &Option<String>) -> Option<PersonName> {
    (sobject == "Lead" && company.as_deref().is_some_and(|c| !c.trim().is_empty())).then(|| {
        PersonName {
            first: None,
            last: NOT_PROVIDED.to_string(),
        }
    })
}

/// Spreadsheet headers that are not field labels, API names or language aliases.
const HEADER_ALIASES: [(&str, &str); 15] = [
    ("e mail", "Email"),
    ("e mail address", "Email"),
    ("email id", "Email"),
    ("organization", "Company"),
    ("organisation", "Company"),
    ("company name", "Company"),
    ("business phone", "Phone"),
    ("mobile", "MobilePhone"),
    ("zip", "PostalCode"),
    ("zip code", "PostalCode"),
    ("postcode", "PostalCode"),
    ("province", "State"),
    ("first", "FirstName"),
    ("last", "LastName"),
    ("record id", "Id"),
];

/// What the rows do: create records, or update the records they name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// New records: createable fields.
    Create,
    /// Existing records: updateable fields, plus `Id` and the name to match them by.
    Update,
}

/// The fields a file's columns map to.
#[derive(Debug, Clone)]
pub struct ColumnMap {
    g: &'static Grammar,
    headers: Vec<String>,
    fields: Vec<Option<FieldDescribe>>,
    object: String,
}

/// Lower-case words of a header, typos read as the lexicon word they are one letter from.
fn header_words(g: &Grammar, header: &str, typos: bool) -> Vec<String> {
    super::field::words(header)
        .into_iter()
        .map(|w| match g.typo_of(&w) {
            Some(fixed) if typos => fixed.to_string(),
            _ => w,
        })
        .collect()
}

impl ColumnMap {
    /// Maps `headers` onto `d`'s fields for `purpose`. A column whose field is already taken by
    /// an earlier column, or that names no field the user may write, is left out.
    pub fn new(
        g: &'static Grammar,
        d: &ObjectDescribe,
        headers: &[String],
        purpose: Purpose,
    ) -> ColumnMap {
        let mut fields: Vec<Option<FieldDescribe>> = Vec::new();
        for h in headers {
            let f = find_column(g, d, h, false)
                .or_else(|| find_column(g, d, h, true))
                .filter(|f| match purpose {
                    Purpose::Create => f.createable,
                    Purpose::Update => f.updateable || f.name == "Id" || f.name == "Name",
                })
                .filter(|f| !fields.iter().flatten().any(|t| t.name == f.name));
            fields.push(f.cloned());
        }
        ColumnMap {
            g,
            headers: headers.to_vec(),
            fields,
            object: d.name.clone(),
        }
    }

    /// `(column, field API name)` of each mapped column, in file order.
    pub fn mapped(&self) -> Vec<(String, String)> {
        self.headers
            .iter()
            .zip(&self.fields)
            .filter_map(|(h, f)| f.as_ref().map(|f| (h.clone(), f.name.clone())))
            .collect()
    }

    /// The columns that map to no field (their cells are not sent).
    pub fn left_out(&self) -> Vec<String> {
        self.headers
            .iter()
            .zip(&self.fields)
            .filter(|(_, f)| f.is_none())
            .map(|(h, _)| h.clone())
            .collect()
    }

    /// Whether some column maps to `api`.
    pub fn has(&self, api: &str) -> bool {
        self.fields.iter().flatten().any(|f| f.name == api)
    }

    /// One row's cells → field values, every cell checked; empty cells are left out. The error
    /// says which column and why.
    ///
    /// # Errors
    /// The first cell that its field can't take.
    pub fn row(&self, cells: &csv::StringRecord) -> Result<Map<String, Json>, String> {
        let mut out = Map::new();
        for (k, f) in self.fields.iter().enumerate() {
            let Some(f) = f else { continue };
            let text = cells.get(k).unwrap_or("").trim();
            if text.is_empty() {
                continue;
            }
            let v =
                cell_value(self.g, f, text).map_err(|why| format!("{}: {why}", self.headers[k]))?;
            out.insert(f.name.clone(), v);
        }
        Ok(out)
    }

    /// The fields a new record of this object must have, checked after defaults are added.
    ///
    /// # Errors
    /// The first missing one, named by its label.
    pub fn check_required(&self, fields: &Map<String, Json>) -> Result<(), String> {
        let required: &[(&str, &str)] = match self.object.as_str() {
            "Lead" => &[("LastName", "Last Name"), ("Company", "Company")],
            "Contact" => &[("LastName", "Last Name")],
            "Account" => &[("Name", "Account Name")],
            "Opportunity" => &[
                ("Name", "Opportunity Name"),
                ("StageName", "Stage"),
                ("CloseDate", "Close Date"),
            ],
            _ => &[],
        };
        match required.iter().find(|(api, _)| !fields.contains_key(*api)) {
            Some((_, label)) => Err(format!("{label} is required and the row has none")),
            None => Ok(()),
        }
    }
}

/// The field a header names: its API name, or what [`find_field`] finds for its words (label,
/// language alias, the label/alias typo rule), with the spreadsheet headers of
/// [`HEADER_ALIASES`] as further aliases. With `typos`, each word is first read through the
/// language's typo rule (one letter added, dropped, changed or two swapped).
fn find_column<'d>(
    g: &Grammar,
    d: &'d ObjectDescribe,
    header: &str,
    typos: bool,
) -> Option<&'d FieldDescribe> {
    let raw = header.trim();
    if !typos && let Some(f) = d.field(raw) {
        return Some(f);
    }
    let ws = header_words(g, raw, typos);
    if ws.is_empty() {
        return None;
    }
    let joined = ws.join(" ");
    let squashed: String = ws.concat();
    let mut candidates = g.field_aliases(&joined).to_vec();
    candidates.extend(
        HEADER_ALIASES
            .iter()
            .filter(|(h, _)| *h == joined || h.replace(' ', "") == squashed)
            .map(|(_, api)| FieldAlias {
                object: None,
                api_name: (*api).to_string(),
            }),
    );
    find_field(
        d,
        &FieldRef {
            said: joined,
            candidates,
        },
    )
    .ok()
}

/// One cell → the JSON its field takes.
fn cell_value(g: &Grammar, f: &FieldDescribe, text: &str) -> Result<Json, String> {
    match f.kind.as_str() {
        "email" => {
            if is_email(text) {
                Ok(json!(text))
            } else {
                Err(format!("`{text}` is not an email address"))
            }
        }
        "picklist" | "multipicklist" => picklist(g, f, text).map(|v| json!(v)),
        "boolean" => match text.to_lowercase().as_str() {
            "true" | "yes" | "y" | "1" | "x" | "checked" => Ok(json!(true)),
            "false" | "no" | "n" | "0" | "unchecked" => Ok(json!(false)),
            _ => Err(format!("`{text}` is not yes or no")),
        },
        "int" => number(text)
            .filter(|n| n.fract() == 0.0)
            .map(|n| json!(n as i64))
            .ok_or_else(|| format!("`{text}` is not a whole number")),
        "double" | "currency" | "percent" => number(text)
            .map(|n| json!(n))
            .ok_or_else(|| format!("`{text}` is not a number")),
        "date" => date(text)
            .map(|d| json!(d.format("%Y-%m-%d").to_string()))
            .ok_or_else(|| format!("`{text}` is not a date (YYYY-MM-DD or MM/DD/YYYY)")),
        "datetime" => chrono::DateTime::parse_from_rfc3339(text)
            .map(|_| json!(text))
            .or_else(|_| {
                date(text)
                    .map(|d| json!(format!("{}T00:00:00.000Z", d.format("%Y-%m-%d"))))
                    .ok_or(())
            })
            .map_err(|()| format!("`{text}` is not a date and time")),
        "reference" | "id" => {
            if crate::id::RecordId::parse(text).is_ok() {
                Ok(json!(text))
            } else {
                Err(format!("`{text}` is not a record id"))
            }
        }
        _ => Ok(json!(text)),
    }
}

/// A picklist cell: the active value [`match_picklist`] finds (value, label, the grammar's and the
/// built-in synonyms, close spellings), or why not.
fn picklist(g: &Grammar, f: &FieldDescribe, text: &str) -> Result<String, String> {
    let value = Value {
        said: text.to_string(),
        entities: Vec::new(),
        hints: g.value_hints(&text.to_lowercase()).to_vec(),
    };
    match_picklist(f, &value).map_err(|e| match e {
        ResolveError::Invalid(m) => m,
        other => other.to_string(),
    })
}

/// "$1,200.50", "15%", "-3" → the number.
fn number(text: &str) -> Option<f64> {
    let t: String = text
        .chars()
        .filter(|c| !matches!(c, '$' | '€' | '£' | ',' | '%' | ' '))
        .collect();
    t.parse::<f64>().ok().filter(|n| n.is_finite())
}

fn date(text: &str) -> Option<chrono::NaiveDate> {
    ["%Y-%m-%d", "%m/%d/%Y", "%Y/%m/%d"]
        .iter()
        .find_map(|f| chrono::NaiveDate::parse_from_str(text, f).ok())
}

/// A plain address check: one `@`, a local part, a dotted domain, no spaces.
pub fn is_email(text: &str) -> bool {
    let Some((local, domain)) = text.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && !text.contains(char::is_whitespace)
        && domain.split('.').count() >= 2
        && domain.split('.').all(|p| !p.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lead() -> ObjectDescribe {
        let v: Json =
            serde_json::from_str(include_str!("../sandbox/demo-org/describe/Lead.json")).unwrap();
        ObjectDescribe::from_json(&v)
    }

    /// The columns of a file of new leads with these headers.
    fn lead_columns(headers: &[&str]) -> ColumnMap {
        let headers: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
        ColumnMap::new(
            Grammar::embedded().unwrap(),
            &lead(),
            &headers,
            Purpose::Create,
        )
    }

    #[test]
    fn headers_map_by_label_api_name_alias_and_typo() {
        let m = lead_columns(&[
            "First Name",
            "LastName",
            "Email Address",
            "Compnay Name",
            "Mobile",
            "Lead Source",
            "Shoe Size",
        ]);
        let mapped: Vec<String> = m.mapped().into_iter().map(|(_, f)| f).collect();
        assert_eq!(
            mapped,
            [
                "FirstName",
                "LastName",
                "Email",
                "Company",
                "MobilePhone",
                "LeadSource"
            ]
        );
        assert_eq!(m.left_out(), ["Shoe Size"]);
    }

    #[test]
    fn cells_are_checked_by_type() {
        let m = lead_columns(&["Email", "Status", "Lead Source"]);
        let ok = m.row(&csv::StringRecord::from(vec![
            "a@b.com",
            "open - not contacted",
            "",
        ]));
        assert_eq!(ok.unwrap()["Status"], "Open - Not Contacted");
        let bad = m.row(&csv::StringRecord::from(vec!["not-an-email", "", ""]));
        assert!(bad.unwrap_err().contains("not an email"));
        let bad = m.row(&csv::StringRecord::from(vec!["a@b.com", "Maybe", ""]));
        assert!(bad.unwrap_err().starts_with("Status: `Maybe`"));
    }
}
