//! `sayso mcp` through the binary against a spawned sandbox, spoken to as an MCP client does:
//! JSON-RPC lines over stdin/stdout. Previews are applied once, guarded and before they expire;
//! `[mcp]` limits refuse what they should; `ask` never writes; the person is asked by
//! elicitation; the journal names the client.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_sayso");
const TODAY: &str = "2026-11-18";

/// A sandbox served by the binary, with Dana logged in as the default profile of its home.
struct Sandbox {
    _served: crate::support::Spawned,
    home: PathBuf,
}

/// A sandbox org with Dana logged in as the default profile; `config` is `config.toml`.
fn sandbox(config: &str) -> Sandbox {
    let served = crate::support::Spawned::start(&[]);
    served.login("dana.reyes@demo.sayso.dev");
    std::fs::write(served.home.join("config.toml"), config).unwrap();
    Sandbox {
        home: served.home.clone(),
        _served: served,
    }
}

impl Sandbox {
    fn cli(&self, args: &[&str]) -> Command {
        crate::support::Cli::at(&self.home).sayso(args)
    }

    /// A change or question made with the CLI, outside MCP (a colleague, or a check).
    fn run(&self, phrase: &str) -> Value {
        let out = self
            .cli(&["run", "--yes", "--json", phrase])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        serde_json::from_str(text.lines().last().unwrap_or("null")).unwrap()
    }

    fn field(&self, record: &str, field: &str) -> Value {
        self.run(&format!("what's the status of {record}"))["records"][0][field].clone()
    }

    /// How many journal entries there are.
    fn entries(&self) -> usize {
        let out = self
            .cli(&["history", "--json", "-n", "1000"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).lines().count()
    }

    /// `sayso mcp`, initialized as client `name` with `capabilities`.
    fn mcp(&self, name: &str, capabilities: Value) -> Mcp {
        let mut child = self
            .cli(&["mcp"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let (tx, rx) = mpsc::channel();
        let out = BufReader::new(child.stdout.take().unwrap());
        std::thread::spawn(move || {
            for line in out.lines().map_while(Result::ok) {
                if tx
                    .send(serde_json::from_str::<Value>(&line).unwrap())
                    .is_err()
                {
                    break;
                }
            }
        });
        let mut m = Mcp {
            stdin: child.stdin.take().unwrap(),
            child,
            rx,
            next: 0,
        };
        let init = m.request(
            "initialize",
            json!({"protocolVersion": "2025-06-18", "capabilities": capabilities,
                   "clientInfo": {"name": name, "version": "1.0"}}),
            |_| None,
        );
        assert_eq!(init["result"]["serverInfo"]["name"], "sayso", "{init}");
        m.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
        m
    }
}

struct Mcp {
    child: Child,
    stdin: ChildStdin,
    rx: mpsc::Receiver<Value>,
    next: i64,
}

impl Drop for Mcp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Mcp {
    fn send(&mut self, v: &Value) {
        writeln!(self.stdin, "{v}").unwrap();
        self.stdin.flush().unwrap();
    }

    /// Sends a request and returns its response; server requests met meanwhile (elicitation)
    /// are answered with `answer`'s result.
    fn request(
        &mut self,
        method: &str,
        params: Value,
        mut answer: impl FnMut(&Value) -> Option<Value>,
    ) -> Value {
        self.next += 1;
        let id = self.next;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        loop {
            let msg = self
                .rx
                .recv_timeout(Duration::from_secs(30))
                .expect("no answer");
            if msg.get("method").is_some() && msg.get("id").is_some() {
                let result = answer(&msg).unwrap_or_else(|| panic!("unexpected request {msg}"));
                self.send(&json!({"jsonrpc": "2.0", "id": msg["id"], "result": result}));
            } else if msg["id"] == id {
                return msg;
            }
        }
    }

    /// Calls a tool; returns its structured result.
    fn call(&mut self, tool: &str, args: Value) -> Value {
        self.call_answering(tool, args, |_| None)
    }

    fn call_answering(
        &mut self,
        tool: &str,
        args: Value,
        answer: impl FnMut(&Value) -> Option<Value>,
    ) -> Value {
        let r = self.request(
            "tools/call",
            json!({"name": tool, "arguments": args}),
            answer,
        );
        r["result"]["structuredContent"].clone()
    }

    fn tools(&mut self) -> Vec<String> {
        let r = self.request("tools/list", json!({}), |_| None);
        let mut names: Vec<String> = r["result"]["tools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_string())
            .collect();
        names.sort();
        names
    }
}

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

const AMOUNT: &str = "set the amount on Initech Renewal to 92k";

#[test]
fn preview_then_apply_writes_once_exactly_what_was_previewed() {
    let s = sandbox("");
    let mut m = s.mcp("rust-test", json!({}));
    let before = s.field("Initech Renewal", "Amount");
    let entries = s.entries();
    let p = m.call("preview", json!({"command": AMOUNT}));
    assert_eq!(p["status"], "dry_run", "{p}");
    assert_eq!(p["records"][0]["fields"]["Amount"]["old"], before, "{p}");
    assert_eq!(
        num(&p["records"][0]["fields"]["Amount"]["new"]),
        92000.0,
        "{p}"
    );
    assert!(p["calls"].as_array().is_some_and(|c| !c.is_empty()), "{p}");
    assert_eq!(
        s.field("Initech Renewal", "Amount"),
        before,
        "preview wrote"
    );
    assert_eq!(s.entries(), entries, "preview journaled");
    let id = p["preview_id"].as_str().unwrap().to_string();
    let a = m.call("apply", json!({"preview_id": id}));
    assert_eq!(a["status"], "applied", "{a}");
    assert_eq!(num(&s.field("Initech Renewal", "Amount")), 92000.0);
    assert_eq!(s.entries(), entries + 1);
    let again = m.call("apply", json!({"preview_id": id}));
    assert_ne!(again["status"], "applied", "{again}");
    assert!(
        again["message"]
            .as_str()
            .unwrap()
            .contains("already applied"),
        "{again}"
    );
    assert_eq!(
        s.entries(),
        entries + 1,
        "the second apply journaled a write"
    );
    let unknown = m.call("apply", json!({"preview_id": "pv_nope"}));
    assert_eq!(unknown["status"], "not_found", "{unknown}");
}

#[test]
fn a_record_changed_after_the_preview_is_a_conflict_and_not_overwritten() {
    let s = sandbox("");
    let mut m = s.mcp("rust-test", json!({}));
    // Changed in the same second as the preview, and a second later: both caught.
    for (wait, theirs) in [(0, 95000.0), (1100, 96000.0)] {
        let p = m.call("preview", json!({"command": AMOUNT}));
        std::thread::sleep(Duration::from_millis(wait));
        let c = s.run(&format!("set the amount on Initech Renewal to {theirs}"));
        assert_eq!(c["status"], "applied", "{c}");
        let a = m.call("apply", json!({"preview_id": p["preview_id"]}));
        assert_eq!(a["status"], "conflict", "{a}");
        assert_eq!(num(&s.field("Initech Renewal", "Amount")), theirs);
    }
}

#[test]
fn an_expired_preview_is_refused() {
    let s = sandbox("[mcp]\npreview_ttl = 1\n");
    let mut m = s.mcp("rust-test", json!({}));
    let before = s.field("Initech Renewal", "Amount");
    let p = m.call("preview", json!({"command": AMOUNT}));
    assert_eq!(p["expires_in_seconds"], 1, "{p}");
    std::thread::sleep(Duration::from_millis(1500));
    let a = m.call("apply", json!({"preview_id": p["preview_id"]}));
    assert_eq!(a["status"], "invalid", "{a}");
    assert!(a["message"].as_str().unwrap().contains("expired"), "{a}");
    assert_eq!(s.field("Initech Renewal", "Amount"), before);
}

#[test]
fn read_only_lists_and_serves_only_the_read_tools() {
    let s = sandbox("[mcp]\nread_only = true\n");
    let mut m = s.mcp("rust-test", json!({}));
    assert_eq!(m.tools(), ["ask", "history", "whoami"]);
    let r = m.request(
        "tools/call",
        json!({"name": "preview", "arguments": {"command": AMOUNT}}),
        |_| None,
    );
    assert!(
        r.get("error").is_some() || r["result"]["isError"] == true,
        "{r}"
    );
    let w = m.call("whoami", json!({}));
    assert_eq!(w["mcp"]["read_only"], true, "{w}");
    assert_eq!(w["username"], "dana.reyes@demo.sayso.dev", "{w}");
}

#[test]
fn allowlist_denylist_and_max_records_refuse_the_preview() {
    let s = sandbox(
        "[mcp]\nobjects = [\"Opportunity\", \"ContentNote\", \"ContentDocumentLink\"]\ndeny_fields = [\"Opportunity.Amount\"]\nmax_records_per_apply = 2\n",
    );
    let mut m = s.mcp("rust-test", json!({}));
    let account = m.call(
        "preview",
        json!({"command": "set the phone on Acme Corp to 555-0100"}),
    );
    assert_eq!(account["status"], "denied", "{account}");
    assert!(account.get("preview_id").is_none());
    let amount = m.call("preview", json!({"command": AMOUNT}));
    assert_eq!(amount["status"], "denied", "{amount}");
    assert!(
        amount["message"].as_str().unwrap().contains("Amount"),
        "{amount}"
    );
    let bulk = m.call(
        "preview",
        json!({"command": "set the next step on all my open opportunities to QBR"}),
    );
    assert_eq!(bulk["status"], "limit_exceeded", "{bulk}");
    let ok = m.call(
        "preview",
        json!({"intent": {"action": "update", "object": "Opportunity", "record": "Initech Renewal",
               "fields": {"CloseDate": "2026-12-20"}}}),
    );
    assert_eq!(ok["status"], "dry_run", "{ok}");
    let a = m.call("apply", json!({"preview_id": ok["preview_id"]}));
    assert_eq!(a["status"], "applied", "{a}");
    assert_eq!(s.field("Initech Renewal", "CloseDate"), "2026-12-20");
}

#[test]
fn ask_answers_and_never_writes() {
    let s = sandbox("");
    let mut m = s.mcp("rust-test", json!({}));
    let a = m.call("ask", json!({"question": "how many open deals do I have"}));
    assert_eq!(a["status"], "answered", "{a}");
    assert!(a["count"].as_u64().is_some(), "{a}");
    s.run("set the amount on Initech Renewal to 95k");
    let entries = s.entries();
    let before = s.field("Initech Renewal", "Amount");
    for phrase in [AMOUNT, "undo", "add a note to Initech Renewal: hello"] {
        let w = m.call("ask", json!({"question": phrase}));
        assert_eq!(w["status"], "invalid", "{phrase}: {w}");
        assert!(w["message"].as_str().unwrap().contains("preview"), "{w}");
    }
    assert_eq!(s.field("Initech Renewal", "Amount"), before);
    assert_eq!(num(&before), 95000.0, "ask undid");
    assert_eq!(s.entries(), entries);
}

#[test]
fn history_names_the_client_and_undo_is_previewed_then_applied() {
    let s = sandbox("");
    let before = s.field("Initech Renewal", "Amount");
    let mut m = s.mcp("claude-test", json!({}));
    let p = m.call("preview", json!({"command": AMOUNT}));
    let a = m.call("apply", json!({"preview_id": p["preview_id"]}));
    assert_eq!(a["status"], "applied", "{a}");
    let h = m.call("history", json!({"limit": 5}));
    assert_eq!(h["entries"][0]["client"], "claude-test", "{h}");
    let cli = s.cli(&["history", "-n", "1"]).output().unwrap();
    assert!(String::from_utf8_lossy(&cli.stdout).contains("(via claude-test)"));
    let u = m.call("undo", json!({}));
    assert_eq!(u["status"], "dry_run", "{u}");
    assert_eq!(u["records"][0]["fields"]["Amount"]["new"], before, "{u}");
    assert_eq!(
        num(&s.field("Initech Renewal", "Amount")),
        92000.0,
        "undo preview wrote"
    );
    let r = m.call("apply", json!({"preview_id": u["preview_id"]}));
    assert_eq!(r["status"], "applied", "{r}");
    assert_eq!(s.field("Initech Renewal", "Amount"), before);
    let h = m.call("history", json!({"limit": 1}));
    assert_eq!(h["entries"][0]["kind"], "undo", "{h}");
    assert_eq!(h["entries"][0]["client"], "claude-test", "{h}");
    let twice = m.call("undo", json!({}));
    assert_ne!(twice["status"], "dry_run", "{twice}");
}

/// The person behind the client: answers `elicitation/create` with yes or no.
fn person(approve: bool, asked: &mut Vec<String>) -> impl FnMut(&Value) -> Option<Value> + '_ {
    move |req: &Value| {
        assert_eq!(req["method"], "elicitation/create", "{req}");
        asked.push(req["params"]["message"].as_str().unwrap_or("").to_string());
        Some(if approve {
            json!({"action": "accept", "content": {"approve": true}})
        } else {
            json!({"action": "decline"})
        })
    }
}

#[test]
fn elicitation_asks_the_person_and_no_writes_nothing() {
    let s = sandbox("");
    let before = s.field("Initech Renewal", "Amount");
    let mut m = s.mcp("rust-test", json!({"elicitation": {}}));
    let mut asked = Vec::new();
    // Previews AMOUNT and applies it, the person answering `approve` when asked.
    let mut preview_then_apply = |approve: bool| {
        let p = m.call("preview", json!({"command": AMOUNT}));
        let args = json!({"preview_id": p["preview_id"]});
        m.call_answering("apply", args, person(approve, &mut asked))
    };
    let no = preview_then_apply(false);
    assert_eq!(no["status"], "declined", "{no}");
    assert_eq!(s.field("Initech Renewal", "Amount"), before);
    let yes = preview_then_apply(true);
    assert_eq!(yes["status"], "applied", "{yes}");
    assert_eq!(num(&s.field("Initech Renewal", "Amount")), 92000.0);
    assert_eq!(asked.len(), 2);
    assert!(
        asked[1].contains("Initech Renewal") && asked[1].contains("92000"),
        "{asked:?}"
    );
}

/// The core of it with rmcp's own client (the official Rust SDK) spawning `sayso mcp`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rmcp_client_previews_applies_once_and_undoes() {
    use rmcp::ServiceExt;
    use rmcp::model::CallToolRequestParams;
    use rmcp::transport::TokioChildProcess;

    let s = sandbox("");
    let before = num(&s.field("Initech Renewal", "Amount"));
    let mut cmd = tokio::process::Command::new(BIN);
    cmd.arg("mcp")
        .env("SAYSO_HOME", &s.home)
        .env("SAYSO_TODAY", TODAY);
    let (transport, _) = TokioChildProcess::builder(cmd)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let client = ().serve(transport).await.unwrap();
    let tools = client.list_all_tools().await.unwrap();
    let apply = tools.iter().find(|t| t.name == "apply").unwrap();
    let hints = apply.annotations.clone().unwrap();
    assert_eq!(hints.read_only_hint, Some(false));
    assert_eq!(hints.destructive_hint, Some(true));
    assert_eq!(tools.len(), 6);
    let call = |name: &'static str, args: Value| {
        let params = CallToolRequestParams::new(name)
            .with_arguments(args.as_object().cloned().unwrap_or_default());
        let client = &client;
        async move {
            let r = client.call_tool(params).await.unwrap();
            r.structured_content.unwrap_or(Value::Null)
        }
    };
    let a = call("ask", json!({"question": "how many open deals do I have"})).await;
    assert_eq!(a["status"], "answered", "{a}");
    let p = call("preview", json!({"command": AMOUNT})).await;
    assert_eq!(num(&s.field("Initech Renewal", "Amount")), before);
    let r = call("apply", json!({"preview_id": p["preview_id"]})).await;
    assert_eq!(r["status"], "applied", "{r}");
    assert_eq!(num(&s.field("Initech Renewal", "Amount")), 92000.0);
    let again = call("apply", json!({"preview_id": p["preview_id"]})).await;
    assert_ne!(again["status"], "applied", "{again}");
    let u = call("undo", json!({})).await;
    let r = call("apply", json!({"preview_id": u["preview_id"]})).await;
    assert_eq!(r["status"], "applied", "{r}");
    assert_eq!(num(&s.field("Initech Renewal", "Amount")), before);
    client.cancel().await.unwrap();
}
