//! The MCP face of the core: the tools, their input schemas and annotations, and the person's
//! confirmation through elicitation before `apply` writes.

use std::sync::Arc;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::{InputResponses as ToolInputResponses, RequestState};
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{
    CallToolResponse, CallToolResult, ElicitRequest, ElicitRequestParams, ElicitationSchema,
    Implementation, InputRequest, InputRequests, InputRequiredResult, ProtocolVersion,
    ServerCapabilities, ServerConfig,
};
use rmcp::service::{ElicitationError, RequestContext};
use rmcp::{ErrorData, Peer, RoleServer, ServerHandler, tool, tool_handler, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;

use super::core::{Command, CoreHandle, Reply, Request};
use super::intent::StructuredIntent;
use super::settings::{Confirm, McpSettings};

/// `ask`'s input.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct AskArgs {
    /// A question in plain words: "how many open deals do I have", "show my opportunities closing
    /// this quarter", "what's the status of Project Titan".
    pub question: String,
}

/// `preview`'s input: a phrase or a structured intent.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct PreviewArgs {
    /// The change in plain words: "move Project Titan to negotiation", "add a note to Acme
    /// Renewal: legal signed off".
    pub command: Option<String>,
    /// The change in structured form, instead of `command`.
    pub intent: Option<StructuredIntent>,
}

/// `apply`'s input.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct ApplyArgs {
    /// The `preview_id` a `preview` or `undo` call returned.
    pub preview_id: String,
}

/// `undo`'s input.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct UndoArgs {
    /// The journal entry to revert (see `history`); the latest command when absent.
    pub entry: Option<i64>,
}

/// `history`'s input.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct HistoryArgs {
    /// How many entries, newest first (default 10, at most 100).
    pub limit: Option<usize>,
}

/// The person's answer to "apply these changes?".
#[derive(Debug, Deserialize, JsonSchema)]
pub struct Approval {
    /// Yes to make these changes in Salesforce now.
    pub approve: bool,
}

rmcp::elicit_safe!(Approval);

/// The sayso MCP server.
#[derive(Clone)]
pub struct SaysoServer {
    core: CoreHandle,
    settings: Arc<McpSettings>,
    tool_router: ToolRouter<SaysoServer>,
}

fn result(r: Reply) -> Result<CallToolResult, ErrorData> {
    Ok(if r.error {
        CallToolResult::structured_error(r.body)
    } else {
        CallToolResult::structured(r.body)
    })
}

#[tool_router]
impl SaysoServer {
    /// A server over `core`; in read-only mode only `ask`, `history` and `whoami` are listed.
    pub fn new(core: CoreHandle, settings: McpSettings) -> SaysoServer {
        let mut tool_router = Self::tool_router();
        if settings.read_only {
            for name in ["preview", "apply", "undo"] {
                tool_router.remove_route(name);
            }
        }
        SaysoServer {
            core,
            settings: Arc::new(settings),
            tool_router,
        }
    }

    /// Answers a question about Salesforce records (records, counts, figures). Never writes: a
    /// phrase that would change something is refused; use `preview` for changes.
    #[tool(annotations(
        title = "Ask Salesforce",
        read_only_hint = true,
        destructive_hint = false,
        idempotent_hint = true,
        open_world_hint = true
    ))]
    async fn ask(&self, Parameters(a): Parameters<AskArgs>) -> Result<CallToolResult, ErrorData> {
        result(self.core.call(Request::Ask(a.question)).await)
    }

    /// Previews a change without writing it: each record with its fields old → new, the number
    /// of records and the API calls it will take, and a `preview_id` to pass to `apply` (valid
    /// for a limited time). A name matching several records answers `ambiguous` with the
    /// candidates; `not_found`, `denied` and `not_understood` say why nothing can be previewed.
    /// Text given for notes, descriptions or subjects is stored as text, never run as commands.
    #[tool(annotations(
        title = "Preview a change",
        read_only_hint = true,
        destructive_hint = false,
        idempotent_hint = false,
        open_world_hint = true
    ))]
    async fn preview(
        &self,
        Parameters(a): Parameters<PreviewArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let command = match (a.command, a.intent) {
            (Some(c), None) => Command::Phrase(c),
            (None, Some(i)) => Command::Intent(Box::new(i)),
            _ => {
                return Err(ErrorData::invalid_params(
                    "give exactly one of `command` (a phrase) or `intent`",
                    None,
                ));
            }
        };
        result(self.core.call(Request::Preview(command)).await)
    }

    /// Applies exactly what a `preview` (or `undo`) showed, once. A record changed by someone
    /// since the preview is a `conflict` and is not overwritten; an expired or already applied
    /// preview writes nothing. When the client supports it, the person is asked to confirm first.
    #[tool(annotations(
        title = "Apply a previewed change",
        read_only_hint = false,
        destructive_hint = true,
        idempotent_hint = true,
        open_world_hint = true
    ))]
    async fn apply(
        &self,
        Parameters(a): Parameters<ApplyArgs>,
        RequestState(state): RequestState,
        ToolInputResponses(answers): ToolInputResponses,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let id = a.preview_id;
        let ask = self.must_ask(&ctx);
        // Protocol 2026-07-28 has no server-to-client requests: the question goes back in an
        // `input_required` result, and the client calls again with the person's answer.
        let rounds = ctx
            .protocol_version()
            .is_some_and(|v| v >= ProtocolVersion::V_2026_07_28);
        let first_round = ask && rounds && state.as_deref() != Some(id.as_str());
        let claimed = self
            .core
            .call(Request::Claim {
                id: id.clone(),
                hold: !first_round,
            })
            .await;
        if claimed.error {
            return result(claimed).map(Into::into);
        }
        if first_round {
            return Ok(question(&id, &claimed)?.into());
        }
        let declined = match (ask, rounds) {
            (false, _) => None,
            (true, true) => answered_no(answers.as_ref()),
            (true, false) => elicited_no(&ctx.peer, &claimed).await,
        };
        if let Some(why) = declined {
            return result(self.core.call(Request::Decline(id, why)).await).map(Into::into);
        }
        let client = ctx.client_info().map(|i| i.name);
        result(self.core.call(Request::Apply { id, client }).await).map(Into::into)
    }

    /// Previews the revert of a journal entry (the latest command by default): the records put
    /// back and what was created that will be deleted. Apply it with `apply` and its `preview_id`.
    #[tool(annotations(
        title = "Preview an undo",
        read_only_hint = true,
        destructive_hint = false,
        idempotent_hint = false,
        open_world_hint = true
    ))]
    async fn undo(&self, Parameters(a): Parameters<UndoArgs>) -> Result<CallToolResult, ErrorData> {
        result(self.core.call(Request::Undo(a.entry)).await)
    }

    /// The journal of changes made, newest first: phrase, status, the changes (old → new), and
    /// the client each came through.
    #[tool(annotations(
        title = "History of changes",
        read_only_hint = true,
        destructive_hint = false,
        idempotent_hint = true,
        open_world_hint = false
    ))]
    async fn history(
        &self,
        Parameters(a): Parameters<HistoryArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        result(
            self.core
                .call(Request::History(a.limit.unwrap_or(10)))
                .await,
        )
    }

    /// Who sayso acts as (user, org, instance, scopes) and what this server allows.
    #[tool(annotations(
        title = "Who am I",
        read_only_hint = true,
        destructive_hint = false,
        idempotent_hint = true,
        open_world_hint = false
    ))]
    async fn whoami(&self, ctx: RequestContext<RoleServer>) -> Result<CallToolResult, ErrorData> {
        result(
            self.core
                .call(Request::Whoami(ctx.client_info().map(|i| i.name)))
                .await,
        )
    }
}

impl SaysoServer {
    /// Whether `apply` asks the person: `[mcp] confirm = "elicit"` and a client that can.
    fn must_ask(&self, ctx: &RequestContext<RoleServer>) -> bool {
        self.settings.confirm == Confirm::Elicit
            && ctx
                .client_capabilities()
                .and_then(|c| c.elicitation)
                .is_some_and(|e| e.form.is_some() || e.url.is_none())
    }
}

/// What the person is asked before a claimed preview is applied.
fn question_text(claimed: &Reply) -> String {
    let summary = claimed.body["summary"].as_str().unwrap_or_default();
    format!(
        "sayso: make this change in Salesforce?\n{summary}\n{}",
        change_lines(&claimed.body["rows"])
    )
}

/// Asks the person by elicitation (protocols before 2026-07-28); `Some(why)` unless approved.
async fn elicited_no(peer: &Peer<RoleServer>, claimed: &Reply) -> Option<String> {
    match peer.elicit::<Approval>(question_text(claimed)).await {
        Ok(Some(Approval { approve: true })) => None,
        Ok(_) | Err(ElicitationError::UserDeclined | ElicitationError::UserCancelled) => {
            Some("the person declined".into())
        }
        Err(e) => Some(format!("could not ask the person to confirm ({e})")),
    }
}

/// The key of the person's answer in an `input_required` round.
const APPROVAL: &str = "approve";

/// The `input_required` result that asks the person (protocol 2026-07-28); the request state
/// is the preview's id, so the answer is only taken for that preview.
fn question(id: &str, claimed: &Reply) -> Result<InputRequiredResult, ErrorData> {
    let schema = ElicitationSchema::from_type::<Approval>()
        .map_err(|e| ErrorData::internal_error(e.to_string(), None))?;
    let ask = ElicitRequest::new(ElicitRequestParams::FormElicitationParams {
        meta: None,
        message: question_text(claimed),
        requested_schema: schema,
    });
    let mut requests = InputRequests::new();
    requests.insert(APPROVAL.to_string(), InputRequest::Elicitation(ask));
    Ok(InputRequiredResult::new(
        Some(requests),
        Some(id.to_string()),
    ))
}

/// The person's answer from an `input_required` round; `Some(why)` unless approved.
fn answered_no(answers: Option<&rmcp::model::InputResponses>) -> Option<String> {
    let answer = answers.and_then(|a| a.get(APPROVAL));
    let Some(answer) = answer else {
        return Some("the person was not asked (no answer came back)".into());
    };
    let approved = answer["action"] == "accept" && answer["content"][APPROVAL] == true;
    (!approved).then(|| "the person declined".into())
}

/// The first changes of preview rows as lines: `update Opportunity "Titan": Amount 1 → 2`.
fn change_lines(rows: &serde_json::Value) -> String {
    let rows = rows.as_array().map(Vec::as_slice).unwrap_or_default();
    let mut lines: Vec<String> = rows
        .iter()
        .take(10)
        .map(|r| {
            let fields: Vec<String> = r["fields"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, v)| format!("{k}: {} → {}", v["old"], v["new"]))
                .collect();
            format!(
                "- {} {} \"{}\": {}",
                r["op"].as_str().unwrap_or_default(),
                r["sobject"].as_str().unwrap_or_default(),
                r["Name"].as_str().unwrap_or_default(),
                fields.join(", ")
            )
        })
        .collect();
    if rows.len() > 10 {
        lines.push(format!("… and {} more", rows.len() - 10));
    }
    lines.join("\n")
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for SaysoServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("sayso", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "sayso acts in Salesforce as the logged-in user. Use ask for questions. For any change: \
                 call preview, show the person the changes it lists, then call apply with its preview_id. \
                 undo previews a revert of a journal entry (see history), applied the same way.",
            )
    }
}
