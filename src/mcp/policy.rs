//! Least privilege inside the tool: whether a previewed change stays within `[mcp]` (objects,
//! fields, record count). Checked on the preview rows when previewing and again on apply.

use serde_json::Value as Json;

use super::settings::McpSettings;
use crate::app::Status;

/// Why a change is refused: the status to report and a sentence saying what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// `denied` (object or field) or `limit_exceeded` (records).
    pub status: Status,
    /// The reason.
    pub message: String,
}

/// Checks preview rows (`{"op", "sobject", "fields": {name: {old, new}}}`) against the
/// settings; `count` is how many changes the whole plan makes.
///
/// # Errors
/// The first [`Refusal`].
pub fn check(s: &McpSettings, rows: &[Json], count: usize) -> Result<(), Refusal> {
    if count > s.max_records_per_apply {
        return Err(Refusal {
            status: Status::LimitExceeded,
            message: format!(
                "{count} changes, above [mcp] max_records_per_apply = {}; narrow it, or make it with the sayso CLI",
                s.max_records_per_apply
            ),
        });
    }
    for row in rows {
        let sobject = row["sobject"].as_str().unwrap_or_default();
        if !s.object_allowed(sobject) {
            return Err(Refusal {
                status: Status::Denied,
                message: format!(
                    "writes to {sobject} are not allowed here ([mcp] objects = {:?} in config.toml)",
                    s.objects.as_deref().unwrap_or_default()
                ),
            });
        }
        let fields = row["fields"].as_object().into_iter().flat_map(|f| f.keys());
        for field in fields {
            if !s.field_allowed(sobject, field) {
                return Err(Refusal {
                    status: Status::Denied,
                    message: format!(
                        "{sobject}.{field} may not be changed here ([mcp] deny_fields in config.toml)"
                    ),
                });
            }
        }
    }
    Ok(())
}

/// Removes the fields the denylist names from answer records (`sobject` or `attributes.type`
/// says the object; without either a field is removed when any object's entry names it).
pub fn redact_answer(s: &McpSettings, records: &mut [Json]) {
    if s.deny_fields.is_empty() {
        return;
    }
    for r in records {
        let sobject = r["sobject"]
            .as_str()
            .or_else(|| r["attributes"]["type"].as_str())
            .map(str::to_string);
        if let Some(obj) = r.as_object_mut() {
            obj.retain(|k, _| match &sobject {
                Some(o) => s.field_allowed(o, k),
                None => s
                    .deny_fields
                    .iter()
                    .all(|d| !d.rsplit('.').next().unwrap_or(d).eq_ignore_ascii_case(k)),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn settings() -> McpSettings {
        McpSettings {
            objects: Some(vec!["Opportunity".into(), "ContentNote".into()]),
            deny_fields: vec!["Opportunity.Amount".into()],
            max_records_per_apply: 2,
            ..McpSettings::default()
        }
    }

    fn row(sobject: &str, field: &str) -> Json {
        json!({"op": "update", "sobject": sobject, "fields": {field: {"old": 1, "new": 2}}})
    }

    #[test]
    fn objects_fields_and_counts_are_checked() {
        let s = settings();
        assert!(check(&s, &[row("Opportunity", "StageName")], 1).is_ok());
        assert_eq!(
            check(&s, &[row("Account", "Name")], 1).unwrap_err().status,
            Status::Denied
        );
        assert_eq!(
            check(&s, &[row("Opportunity", "amount")], 1)
                .unwrap_err()
                .status,
            Status::Denied
        );
        assert_eq!(
            check(&s, &[row("Opportunity", "StageName")], 3)
                .unwrap_err()
                .status,
            Status::LimitExceeded
        );
    }

    #[test]
    fn denied_fields_are_removed_from_answers() {
        let s = settings();
        let mut r = vec![
            json!({"attributes": {"type": "Opportunity"}, "Name": "Titan", "Amount": 5}),
            json!({"attributes": {"type": "Account"}, "Name": "Acme", "Amount": 5}),
        ];
        redact_answer(&s, &mut r);
        assert!(r[0].get("Amount").is_none() && r[0].get("Name").is_some());
        assert!(r[1].get("Amount").is_some());
    }
}
