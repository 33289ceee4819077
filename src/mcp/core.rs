//! The server's core: the profile's [`Agent`], the `[mcp]` settings and the previews, on a
//! thread of their own (the agent is single-user and not `Sync`). The rmcp handler sends it one
//! [`Request`] at a time and gets a [`Reply`] back.

use serde_json::{Value as Json, json};
use tokio::sync::{mpsc, oneshot};

use super::McpError;
use super::intent::StructuredIntent;
use super::policy;
use super::previews::{Pending, Preview, PreviewError, Previews};
use super::settings::McpSettings;
use crate::app::{Agent, Outcome, RunOptions, Status};
use crate::auth::store::Profile;
use crate::config::Home;
use crate::lang::Intent;

/// A command to preview: a phrase, or a structured intent.
#[derive(Debug, Clone)]
pub enum Command {
    /// As said.
    Phrase(String),
    /// In structured form.
    Intent(Box<StructuredIntent>),
}

/// One tool call for the core.
#[derive(Debug)]
pub enum Request {
    /// `ask`.
    Ask(String),
    /// `preview`.
    Preview(Command),
    /// `undo`: preview the undo of an entry (the latest when `None`).
    Undo(Option<i64>),
    /// First half of `apply`: the preview's summary to confirm; reserved for this apply when
    /// `hold` (else only checked: the person is asked in a later round).
    Claim {
        /// The preview.
        id: String,
        /// Reserve it.
        hold: bool,
    },
    /// Second half of `apply`: write it, journaled as coming through `client`.
    Apply {
        /// The preview.
        id: String,
        /// The MCP client's name.
        client: Option<String>,
    },
    /// The person declined (or could not be asked): drop the preview.
    Decline(String, String),
    /// `history`.
    History(usize),
    /// `whoami`.
    Whoami(Option<String>),
}

/// A tool result: its JSON and whether it is an error for the assistant.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The body.
    pub body: Json,
    /// `isError`.
    pub error: bool,
}

impl Reply {
    fn of(status: Status, message: impl Into<String>) -> Reply {
        let body = json!({"status": status, "message": message.into()});
        Reply {
            error: !status.is_success(),
            body,
        }
    }
}

type Job = (Request, oneshot::Sender<Reply>);

/// The handle the rmcp handler keeps.
#[derive(Clone)]
pub struct CoreHandle {
    tx: mpsc::UnboundedSender<Job>,
}

impl CoreHandle {
    /// Sends a request and waits for its reply.
    pub async fn call(&self, req: Request) -> Reply {
        let (tx, rx) = oneshot::channel();
        if self.tx.send((req, tx)).is_err() {
            return Reply::of(Status::Failed, "the sayso agent stopped");
        }
        rx.await
            .unwrap_or_else(|_| Reply::of(Status::Failed, "the sayso agent stopped"))
    }
}

/// Starts the core on its own thread, logged in as `profile`; returns once the agent is open.
///
/// # Errors
/// [`McpError`] when the profile can't be opened (not logged in, bad config).
pub fn start(home: Home, profile: String, settings: McpSettings) -> Result<CoreHandle, McpError> {
    let today = crate::app::today_from_env()?;
    let (tx, mut rx) = mpsc::unbounded_channel::<Job>();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<(), McpError>>();
    std::thread::Builder::new()
        .name("sayso-agent".into())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = ready_tx.send(Err(McpError::Io(e)));
                    return;
                }
            };
            rt.block_on(async move {
                let opened = Agent::open(&home, &profile, today).await;
                let prof = crate::auth::store::load_profile(&home, &profile).ok();
                let mut core = match opened {
                    Ok(agent) => Core::new(agent, settings, profile, prof, today),
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.into()));
                        return;
                    }
                };
                let _ = ready_tx.send(Ok(()));
                while let Some((req, reply)) = rx.recv().await {
                    let out = core.handle(req).await;
                    let _ = reply.send(out);
                }
            });
        })?;
    ready_rx.recv().map_err(|_| McpError::Stopped)??;
    Ok(CoreHandle { tx })
}

struct Core {
    agent: Agent,
    settings: McpSettings,
    previews: Previews,
    profile: String,
    prof: Option<Profile>,
    today: chrono::NaiveDate,
}

/// The message `ask` gives for a phrase that would write.
const ASK_WRITES: &str = "ask answers questions and never writes; this would change records: call preview with it, show the person the changes, then apply";

impl Core {
    fn new(
        agent: Agent,
        settings: McpSettings,
        profile: String,
        prof: Option<Profile>,
        today: chrono::NaiveDate,
    ) -> Core {
        Core {
            today,
            agent,
            previews: Previews::new(settings.preview_ttl),
            settings,
            profile,
            prof,
        }
    }

    async fn handle(&mut self, req: Request) -> Reply {
        for p in self.previews.expire() {
            self.drop_pending(&p);
        }
        let writes = matches!(
            req,
            Request::Preview(_) | Request::Undo(_) | Request::Claim { .. } | Request::Apply { .. }
        );
        if writes && self.settings.read_only {
            return Reply::of(
                Status::Denied,
                "this sayso server is read-only ([mcp] read_only = true): only ask, history and whoami",
            );
        }
        match req {
            Request::Ask(q) => self.ask(&q).await,
            Request::Preview(c) => self.preview(c).await,
            Request::Undo(n) => self.undo(n).await,
            Request::Claim { id, hold } => self.claim(&id, hold),
            Request::Apply { id, client } => self.apply(&id, client).await,
            Request::Decline(id, why) => self.decline(&id, &why),
            Request::History(limit) => self.history(limit),
            Request::Whoami(client) => self.whoami(client),
        }
    }

    fn opts(&self, dry_run: bool) -> RunOptions {
        RunOptions {
            dry_run,
            yes: false,
            max_records: self.settings.max_records_per_apply,
            ..RunOptions::default()
        }
    }

    /// The outcome as the `sayso run --json` contract writes it, with `extra` fields.
    fn body(&self, out: &Outcome, extra: &[(&str, Json)]) -> Reply {
        let mut buf = Vec::new();
        let body = match self.agent.write_json(out, extra, &mut buf) {
            Ok(()) => serde_json::from_slice(&buf).unwrap_or(Json::Null),
            Err(e) => json!({"status": "failed", "message": e.to_string()}),
        };
        Reply {
            body,
            error: !out.status.is_success(),
        }
    }

    fn drop_pending(&mut self, p: &Preview) {
        if let Pending::Plan(plan) = &p.pending {
            self.agent.discard(plan);
        }
    }

    async fn ask(&mut self, question: &str) -> Reply {
        if says_undo(question, self.today) {
            return Reply::of(Status::Invalid, ASK_WRITES);
        }
        let mut out = self.agent.submit(question, self.opts(true)).await;
        if let Some(plan) = out.pending.take() {
            self.agent.discard(&plan);
        }
        if matches!(
            out.status,
            Status::DryRun | Status::Applied | Status::NeedsConfirmation
        ) {
            return Reply::of(Status::Invalid, ASK_WRITES);
        }
        if let Some(records) = out.records_mut() {
            policy::redact_answer(&self.settings, records);
        }
        self.body(&out, &[])
    }

    async fn preview(&mut self, command: Command) -> Reply {
        let opts = self.opts(true);
        let (phrase, mut out) = match command {
            Command::Phrase(p) if says_undo(&p, self.today) => {
                return Reply::of(
                    Status::Invalid,
                    "to revert a change, call the undo tool (it previews the revert)",
                );
            }
            Command::Phrase(p) => {
                let out = self.agent.submit(&p, opts).await;
                (p, out)
            }
            Command::Intent(i) => match i.to_parsed(self.today) {
                Ok(parsed) => (
                    parsed.input.clone(),
                    self.agent.submit_parsed(parsed, opts).await,
                ),
                Err(e) => return Reply::of(Status::Invalid, e.to_string()),
            },
        };
        let Some(plan) = out.pending.take() else {
            return self.body(&out, &[]);
        };
        let count = plan.len();
        if let Err(r) = policy::check(&self.settings, out.records(), count) {
            self.agent.discard(&plan);
            return Reply::of(r.status, r.message);
        }
        let summary = out.message.clone();
        let rows = out.records().to_vec();
        let preview = Preview::new(Pending::Plan(Box::new(plan)), phrase, rows, count, summary);
        self.stored(&out, preview)
    }

    /// Stores a preview and answers with its id.
    fn stored(&mut self, out: &Outcome, preview: Preview) -> Reply {
        let id = self.previews.add(preview);
        let ttl = self.previews.ttl().as_secs();
        self.body(
            out,
            &[
                ("preview_id", json!(id)),
                ("expires_in_seconds", json!(ttl)),
                (
                    "next",
                    json!("show the person these changes; call apply with this preview_id to make them"),
                ),
            ],
        )
    }

    async fn undo(&mut self, entry: Option<i64>) -> Reply {
        let max = self.settings.max_records_per_apply;
        let out = self.agent.undo_preview(entry, max).await;
        let (Status::DryRun, Some(n)) = (out.status, out.journal_entry) else {
            return self.body(&out, &[]);
        };
        if out.records().is_empty() {
            let mut o = out.clone();
            o.status = Status::Applied;
            o.message = format!("{}: nothing to revert", out.message);
            return self.body(&o, &[]);
        }
        if let Err(r) = policy::check(&self.settings, out.records(), out.records().len()) {
            return Reply::of(r.status, r.message);
        }
        let preview = Preview::new(
            Pending::Undo(n),
            format!("undo {n}"),
            out.records().to_vec(),
            out.records().len(),
            out.message.clone(),
        );
        self.stored(&out, preview)
    }

    fn claim(&mut self, id: &str, hold: bool) -> Reply {
        let checked = match self.previews.claim(id, hold) {
            Ok(p) => policy::check(&self.settings, &p.rows, p.count)
                .map(|()| json!({"summary": p.summary, "rows": p.rows, "count": p.count})),
            Err((e, expired)) => {
                if let Some(p) = expired {
                    self.drop_pending(&p);
                }
                return preview_refused(&e);
            }
        };
        match checked {
            Ok(body) => Reply { body, error: false },
            Err(r) => {
                if let Some(p) = self.previews.decline(id) {
                    self.drop_pending(&p);
                }
                Reply::of(r.status, r.message)
            }
        }
    }

    async fn apply(&mut self, id: &str, client: Option<String>) -> Reply {
        let Some(p) = self.previews.take(id) else {
            return preview_refused(&PreviewError::Unknown(id.to_string()));
        };
        self.agent.set_client(client);
        let out = match &p.pending {
            Pending::Plan(plan) => {
                let opts = self.opts(false);
                self.agent.confirm_guarded(&p.phrase, plan, opts).await
            }
            Pending::Undo(n) => self.apply_undo(*n, &p).await,
        };
        self.agent.set_client(None);
        self.previews.applied(id, out.journal_entry);
        self.body(&out, &[("preview_id", json!(id))])
    }

    /// Undoes entry `n` when the undo would still do exactly what was previewed.
    async fn apply_undo(&mut self, n: i64, p: &Preview) -> Outcome {
        let max = self.settings.max_records_per_apply;
        let now = self.agent.undo_preview(Some(n), max).await;
        if now.status != Status::DryRun || now.records() != p.rows.as_slice() {
            let mut o = Outcome::new(
                Status::Conflict,
                format!(
                    "the undo of entry {n} is no longer what was previewed (records changed since, or it was undone); nothing was written. Call undo again"
                ),
            );
            o.what = now.what;
            return o;
        }
        self.agent.undo(Some(n), &p.phrase).await
    }

    fn decline(&mut self, id: &str, why: &str) -> Reply {
        if let Some(p) = self.previews.decline(id) {
            self.drop_pending(&p);
        }
        Reply {
            body: json!({"status": "declined", "message": format!("{why}; nothing was written"), "preview_id": id}),
            error: true,
        }
    }

    fn history(&self, limit: usize) -> Reply {
        let items = match self.agent.history(limit.clamp(1, 100)) {
            Ok(items) => items,
            Err(e) => return Reply::of(Status::Failed, e.to_string()),
        };
        let entries: Vec<Json> = items
            .iter()
            .map(|h| {
                let e = &h.entry;
                let changes: Vec<Json> = h
                    .changes
                    .iter()
                    .map(|c| json!({"op": c.change.op.as_str(), "sobject": c.change.sobject, "id": c.change.record_id,
                        "name": c.change.name, "old": c.change.old, "new": c.change.new, "state": c.state}))
                    .collect();
                json!({"entry": e.id, "at": e.at, "user": e.user, "client": e.client, "phrase": e.phrase,
                    "kind": e.kind, "refers_to": e.refers_to, "status": e.status, "message": e.message,
                    "changes": changes, "total_changes": h.total})
            })
            .collect();
        Reply {
            body: json!({"status": "answered", "entries": entries}),
            error: false,
        }
    }

    fn whoami(&self, client: Option<String>) -> Reply {
        let p = self.prof.as_ref();
        let s = &self.settings;
        Reply {
            body: json!({
                "status": "answered",
                "profile": self.profile,
                "username": p.and_then(|p| p.username.clone()),
                "name": p.and_then(|p| p.display_name.clone()),
                "user_id": p.and_then(|p| p.user_id.clone()),
                "org_id": p.and_then(|p| p.org_id.clone()),
                "instance_url": p.map(|p| p.instance_url.clone()),
                "scopes": p.map(|p| p.scopes.clone()).unwrap_or_default(),
                "client": client,
                "mcp": {
                    "read_only": s.read_only,
                    "objects": s.objects,
                    "deny_fields": s.deny_fields,
                    "max_records_per_apply": s.max_records_per_apply,
                    "confirm": format!("{:?}", s.confirm).to_lowercase(),
                    "preview_ttl_seconds": s.preview_ttl.as_secs(),
                },
            }),
            error: false,
        }
    }
}

/// Whether a phrase asks to undo (the agent would revert at once, even in a dry run).
fn says_undo(phrase: &str, today: chrono::NaiveDate) -> bool {
    crate::lang::parse(phrase, today).is_ok_and(|p| {
        p.clauses
            .iter()
            .any(|c| matches!(c.intent, Intent::Undo { .. }))
    })
}

fn preview_refused(e: &PreviewError) -> Reply {
    let status = match e {
        PreviewError::Unknown(_) => Status::NotFound,
        _ => Status::Invalid,
    };
    Reply::of(status, e.to_string())
}
