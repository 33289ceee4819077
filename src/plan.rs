//! Plans: the writes a resolved command makes, and the fewest API calls that make them. Pure — no
//! I/O — so `--dry-run` and the confirmation prompt can show a plan before anything is sent.
//!
//! Owns the plan types and the choice of route (one PATCH, one POST, one `/composite`, sObject
//! Collections in 200s, or Bulk API 2.0). `exec` carries a plan out; `resolve` builds it.

use std::collections::BTreeMap;

use serde_json::{Value as Json, json};

use crate::id::{ObjectName, RecordId};
use crate::journal::{Op, PlannedChange};

/// A value to write: a literal, or the id of a record an earlier step creates.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    /// A JSON value.
    Lit(Json),
    /// The id created by the step with this reference.
    Ref(String),
}

/// One write.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// Update, create or delete.
    pub op: Op,
    /// Object API name.
    pub sobject: ObjectName,
    /// The record (updates, deletes).
    pub id: Option<RecordId>,
    /// Display name.
    pub name: String,
    /// Composite reference id (`s0`, `s1`…), unique in the plan.
    pub reference: String,
    /// New values.
    pub fields: BTreeMap<String, Val>,
    /// Old values of the changed fields (updates).
    pub old: BTreeMap<String, Json>,
    /// `LastModifiedDate` read during resolution, for `If-Unmodified-Since`.
    pub guard: Option<String>,
}

impl Step {
    /// The step that writes a journaled change again (`new` over `old`), or with `reverse` puts
    /// its old values back (`old` over `new`). No guard: the caller checks the record first.
    pub fn of_change(c: &PlannedChange, reference: String, reverse: bool) -> Step {
        let (write, over) = if reverse {
            (&c.old, &c.new)
        } else {
            (&c.new, &c.old)
        };
        Step {
            op: c.op,
            sobject: c.object(),
            id: c.id(),
            name: c.name.clone(),
            reference,
            fields: values_of(write)
                .into_iter()
                .map(|(k, v)| (k, Val::Lit(v)))
                .collect(),
            old: values_of(over),
            guard: None,
        }
    }

    /// The record id as text (`None` for a create), for reports and journal rows.
    pub fn id_text(&self) -> Option<String> {
        self.id.as_ref().map(RecordId::to_string)
    }

    /// The change as the journal records it (references shown as `@ref`).
    pub fn to_planned(&self) -> PlannedChange {
        PlannedChange {
            op: self.op,
            sobject: self.sobject.to_string(),
            record_id: self.id.as_ref().map(RecordId::to_string),
            name: self.name.clone(),
            old: json!(self.old),
            new: Json::Object(
                self.fields
                    .iter()
                    .map(|(k, v)| {
                        let v = match v {
                            Val::Lit(j) => j.clone(),
                            Val::Ref(r) => json!(format!("@{{{r}.id}}")),
                        };
                        (k.clone(), v)
                    })
                    .collect(),
            ),
        }
    }
}

/// The fields of a journaled JSON object (none when it is not an object).
fn values_of(j: &Json) -> BTreeMap<String, Json> {
    j.as_object()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default()
}

/// How a plan is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// Nothing to send.
    Nothing,
    /// One PATCH of one record.
    Patch,
    /// One POST of one record.
    Post,
    /// `/composite` requests (allOrNone), 25 subrequests each.
    Composite,
    /// sObject Collections, 200 records a request.
    Collections,
    /// Bulk API 2.0 ingest.
    Bulk,
}

/// Options that shape a plan's route.
#[derive(Debug, Clone, Copy)]
pub struct RouteOptions {
    /// Above this many records, updates go through Bulk API 2.0.
    pub bulk_threshold: usize,
    /// Rows per Bulk API 2.0 job of a staged plan ([`BULK_JOB_ROWS`] unless a test or bench
    /// sets another).
    pub job_rows: usize,
}

/// A bulk update too large to hold: its changes wait in a journal stage
/// ([`crate::journal::Journal::stage_begin`]) instead of [`Plan::steps`].
#[derive(Debug, Clone, PartialEq)]
pub struct Staged {
    /// The stage id in the journal.
    pub stage: i64,
    /// Object API name (every change updates one object).
    pub sobject: ObjectName,
    /// How many changes the stage holds.
    pub count: usize,
    /// Every field some change writes, in CSV column order.
    pub columns: Vec<String>,
}

/// The writes of one command.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The steps in order (empty when the changes are [`Plan::staged`]).
    pub steps: Vec<Step>,
    /// Whether the records came from a filter (bulk: preview and confirmation).
    pub bulk: bool,
    /// One-line description ("update 2 Opportunity records: NextStep").
    pub summary: String,
    /// A large bulk update's changes, streamed through the journal.
    pub staged: Option<Staged>,
}

/// Subrequests per `/composite` request.
pub const COMPOSITE_MAX: usize = 25;
/// Records per sObject Collections request.
pub const COLLECTION_MAX: usize = 200;
/// Rows per Bulk API 2.0 job of a staged plan: bounds the agent's memory (one job's CSV and
/// result files at a time, a few MB) whatever the number of records. Salesforce's own cap is
/// 150 MB of CSV per job; at this size a job stays far below it.
pub const BULK_JOB_ROWS: usize = 100_000;

/// Several changes to one record in one command ("set titan to qualification and bump the amount
/// to 520k") are one update: the later changes join the first step for that record (a later value
/// for the same field wins), so the record is written once under one guard. A change whose value
/// is the id of a record created in between stays where it is.
pub fn merge_updates(steps: Vec<Step>) -> Vec<Step> {
    let mut out: Vec<Step> = Vec::with_capacity(steps.len());
    for step in steps {
        let refs = step.fields.values().any(|v| matches!(v, Val::Ref(_)));
        let same = out.iter_mut().find(|s| {
            s.op == Op::Update && step.op == Op::Update && s.id.is_some() && s.id == step.id
        });
        match same {
            Some(first) if !refs => {
                for (k, v) in step.old {
                    first.old.entry(k).or_insert(v);
                }
                first.fields.extend(step.fields);
            }
            _ => out.push(step),
        }
    }
    out
}

impl Plan {
    /// How many changes the plan makes.
    pub fn len(&self) -> usize {
        self.staged.as_ref().map_or(self.steps.len(), |s| s.count)
    }

    /// Whether the plan makes no change.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether any step refers to an id created by another step.
    pub fn has_references(&self) -> bool {
        self.steps
            .iter()
            .any(|s| s.fields.values().any(|v| matches!(v, Val::Ref(_))))
    }

    /// The route this plan takes.
    pub fn route(&self, opts: RouteOptions) -> Route {
        if let Some(s) = &self.staged {
            return if s.count == 0 {
                Route::Nothing
            } else {
                Route::Bulk
            };
        }
        match self.steps.as_slice() {
            [] => Route::Nothing,
            [s] if s.op == Op::Update => Route::Patch,
            [s] if s.op == Op::Create => Route::Post,
            _ if !self.bulk => Route::Composite,
            steps => {
                let same_op = steps.iter().all(|s| s.op == steps[0].op);
                let same_obj = steps.iter().all(|s| s.sobject == steps[0].sobject);
                if self.has_references() || !same_op {
                    Route::Composite
                } else if steps.len() > opts.bulk_threshold
                    && same_obj
                    && matches!(steps[0].op, Op::Update | Op::Create)
                {
                    Route::Bulk
                } else {
                    Route::Collections
                }
            }
        }
    }

    /// The HTTP calls the plan would make, for `--dry-run`.
    pub fn calls(&self, opts: RouteOptions) -> Vec<String> {
        let n = self.len();
        if let (Some(s), Route::Bulk) = (&self.staged, self.route(opts)) {
            let per_job = opts.job_rows.max(1);
            let jobs = n.div_ceil(per_job);
            let mut calls = vec![format!(
                "{jobs} Bulk API 2.0 job{} of at most {per_job} rows (update {}, {n} rows in all), each:",
                if jobs == 1 { "" } else { "s" },
                s.sobject
            )];
            calls.extend(Self::bulk_job_calls(&s.sobject, n.min(per_job)));
            return calls;
        }
        match self.route(opts) {
            Route::Nothing => vec![],
            Route::Patch => {
                let s = &self.steps[0];
                vec![format!(
                    "PATCH /sobjects/{}/{} (If-Unmodified-Since) {}",
                    s.sobject,
                    s.id.as_ref().map_or("", RecordId::as_str),
                    s.to_planned().new
                )]
            }
            Route::Post => vec![format!(
                "POST /sobjects/{} {}",
                self.steps[0].sobject,
                self.steps[0].to_planned().new
            )],
            Route::Composite => {
                let chunks = self.composite_chunks();
                chunks
                    .iter()
                    .map(|c| {
                        let parts: Vec<String> = c
                            .iter()
                            .map(|&i| {
                                let s = &self.steps[i];
                                format!(
                                    "{} {}",
                                    if s.op == Op::Create { "POST" } else { "PATCH" },
                                    s.sobject
                                )
                            })
                            .collect();
                        format!("POST /composite (allOrNone) [{}]", parts.join(", "))
                    })
                    .collect()
            }
            Route::Collections => {
                let method = if self.steps[0].op == Op::Create {
                    "POST"
                } else {
                    "PATCH"
                };
                (0..n.div_ceil(COLLECTION_MAX))
                    .map(|i| {
                        let len = (n - i * COLLECTION_MAX).min(COLLECTION_MAX);
                        format!("{method} /composite/sobjects ({len} records)")
                    })
                    .collect()
            }
            Route::Bulk if self.steps[0].op == Op::Create => {
                let per_job = opts.job_rows.max(1);
                let mut calls = Self::bulk_job_calls(&self.steps[0].sobject, n.min(per_job));
                calls[0] = format!("POST /jobs/ingest (insert {})", self.steps[0].sobject);
                if n > per_job {
                    calls.insert(
                        0,
                        format!(
                            "{} Bulk API 2.0 jobs of at most {per_job} rows, each:",
                            n.div_ceil(per_job)
                        ),
                    );
                }
                calls
            }
            Route::Bulk => Self::bulk_job_calls(&self.steps[0].sobject, n),
        }
    }

    fn bulk_job_calls(sobject: &str, rows: usize) -> Vec<String> {
        vec![
            format!("POST /jobs/ingest (update {sobject})"),
            format!("PUT /jobs/ingest/<id>/batches ({rows} rows CSV)"),
            "PATCH /jobs/ingest/<id> UploadComplete".into(),
            "GET /jobs/ingest/<id> (poll until JobComplete)".into(),
            "GET successfulResults, failedResults".into(),
        ]
    }

    /// Groups steps into `/composite` requests: a step stays with the steps it references, and
    /// no request holds more than [`COMPOSITE_MAX`] subrequests.
    pub fn composite_chunks(&self) -> Vec<Vec<usize>> {
        let mut chunks: Vec<Vec<usize>> = Vec::new();
        let mut group_of: BTreeMap<String, usize> = BTreeMap::new();
        // build groups of dependent steps
        let mut groups: Vec<Vec<usize>> = Vec::new();
        for (i, s) in self.steps.iter().enumerate() {
            let dep = s.fields.values().find_map(|v| match v {
                Val::Ref(r) => group_of.get(r).copied(),
                _ => None,
            });
            let g = match dep {
                Some(g) => {
                    groups[g].push(i);
                    g
                }
                None => {
                    groups.push(vec![i]);
                    groups.len() - 1
                }
            };
            group_of.insert(s.reference.clone(), g);
        }
        let mut cur: Vec<usize> = Vec::new();
        for g in groups {
            if !cur.is_empty() && cur.len() + g.len() > COMPOSITE_MAX {
                chunks.push(std::mem::take(&mut cur));
            }
            cur.extend(g);
        }
        if !cur.is_empty() {
            chunks.push(cur);
        }
        chunks
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn update(i: usize) -> Step {
        Step {
            op: Op::Update,
            sobject: ObjectName::known("Opportunity"),
            id: Some(RecordId::from_parts("006", "Dm", i as u64)),
            name: format!("Deal {i}"),
            reference: format!("s{i}"),
            fields: BTreeMap::from([("NextStep".into(), Val::Lit(json!("x")))]),
            old: BTreeMap::new(),
            guard: None,
        }
    }

    fn create(i: usize, sobject: &str, dep: Option<usize>) -> Step {
        let mut s = update(i);
        s.op = Op::Create;
        s.id = None;
        s.sobject = ObjectName::known(sobject);
        if let Some(d) = dep {
            s.fields
                .insert("ParentId".into(), Val::Ref(format!("s{d}")));
        }
        s
    }

    const OPTS: RouteOptions = RouteOptions {
        bulk_threshold: 2000,
        job_rows: BULK_JOB_ROWS,
    };

    #[test]
    fn routes_by_size_and_shape() {
        let one = Plan {
            steps: vec![update(0)],
            bulk: false,
            summary: String::new(),
            staged: None,
        };
        assert_eq!(one.route(OPTS), Route::Patch);
        let compound = Plan {
            steps: vec![create(0, "Contact", None), create(1, "Task", Some(0))],
            bulk: false,
            summary: String::new(),
            staged: None,
        };
        assert_eq!(compound.route(OPTS), Route::Composite);
        let bulk = Plan {
            steps: (0..450).map(update).collect(),
            bulk: true,
            summary: String::new(),
            staged: None,
        };
        assert_eq!(bulk.route(OPTS), Route::Collections);
        assert_eq!(bulk.calls(OPTS).len(), 3);
        assert_eq!(
            bulk.route(RouteOptions {
                bulk_threshold: 100,
                job_rows: BULK_JOB_ROWS,
            }),
            Route::Bulk
        );
    }

    #[test]
    fn changes_to_one_record_are_one_update() {
        let mut a = update(0);
        a.fields
            .insert("StageName".into(), Val::Lit(json!("Qualification")));
        let mut b = update(0);
        b.reference = "s1".into();
        b.fields.insert("Amount".into(), Val::Lit(json!(520_000)));
        let merged = merge_updates(vec![a, b, update(2)]);
        assert_eq!(merged.len(), 2);
        assert_eq!(merged[0].fields.len(), 3, "NextStep, StageName and Amount");
        assert!(merged[0].fields.contains_key("Amount"));
    }

    #[test]
    fn composite_chunks_keep_references_together() {
        let mut steps = Vec::new();
        for i in 0..15 {
            steps.push(create(2 * i, "ContentNote", None));
            steps.push(create(2 * i + 1, "ContentDocumentLink", Some(2 * i)));
        }
        let plan = Plan {
            steps,
            bulk: true,
            summary: String::new(),
            staged: None,
        };
        let chunks = plan.composite_chunks();
        assert_eq!(chunks.len(), 2);
        assert!(
            chunks
                .iter()
                .all(|c| c.len() <= COMPOSITE_MAX && c.len() % 2 == 0)
        );
    }
}
