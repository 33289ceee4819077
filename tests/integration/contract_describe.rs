//! Contract check of the recorded describes: what the sandbox serves to the administrator at
//! `GET sobjects/{T}/describe` (over real HTTP, in-process sandbox) is the recorded describe in
//! `src/sandbox/demo-org/describe/{T}.json` plus the `custom-fields.json` overlay, field for field
//! and attribute for attribute — modulo URLs (API version and host) and modulo the objects the
//! sandbox does not serve (`referenceTo` entries and `childRelationships` pointing at them).
//!
//! The expected side is rebuilt here from the files on disk, independently of the sandbox's own
//! schema loader, so a loader or describe-handler change that drops or alters an attribute fails.

use std::collections::BTreeSet;
use std::path::PathBuf;

use crate::support::ADA as ADMIN;
use regex::Regex;
use sayso::sandbox::{Sandbox, SandboxOptions};
use serde_json::Value;

fn demo_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src/sandbox/demo-org")
}

fn read_json(path: &std::path::Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// The recorded describes by object name, with the overlay applied (replace by name, else append).
fn recorded() -> Vec<(String, Value)> {
    let dir = demo_dir();
    let mut out = Vec::new();
    let entries = std::fs::read_dir(dir.join("describe")).expect("describe dir");
    for e in entries {
        let path = e.expect("dir entry").path();
        if path.extension().and_then(|x| x.to_str()) != Some("json") {
            continue;
        }
        let v = read_json(&path);
        let name = v["name"].as_str().expect("describe has a name").to_string();
        out.push((name, v));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    let overlay = read_json(&dir.join("custom-fields.json"));
    for (obj, extra) in overlay.as_object().expect("overlay is an object") {
        let (_, d) = out
            .iter_mut()
            .find(|(n, _)| n == obj)
            .unwrap_or_else(|| panic!("overlay names unknown object {obj}"));
        let fields = d["fields"].as_array_mut().expect("fields");
        for f in extra.as_array().expect("overlay list") {
            let name = f["name"].as_str().expect("overlay field name");
            fields.retain(|x| x["name"].as_str() != Some(name));
            fields.push(f.clone());
        }
    }
    out
}

/// Replaces every API version in a path and every absolute origin, so URLs compare equal.
fn normalise_urls(v: &Value) -> Value {
    let version = Regex::new(r"/services/data/v[0-9x]+\.[0-9]+").expect("regex");
    let origin = Regex::new(r"https?://[A-Za-z0-9.\-]+(:[0-9]+)?").expect("regex");
    let text = v.to_string();
    let text = version.replace_all(&text, "/services/data/vNN.N");
    let text = origin.replace_all(&text, "ORIGIN");
    serde_json::from_str(&text).expect("still JSON")
}

/// Drops references to objects the sandbox does not serve.
fn narrow(mut d: Value, served: &BTreeSet<String>) -> Value {
    if let Some(fields) = d["fields"].as_array_mut() {
        for f in fields {
            if let Some(refs) = f["referenceTo"].as_array_mut() {
                refs.retain(|r| r.as_str().is_some_and(|r| served.contains(r)));
            }
        }
    }
    if let Some(rels) = d["childRelationships"].as_array_mut() {
        rels.retain(|r| {
            r["childSObject"]
                .as_str()
                .is_some_and(|c| served.contains(c))
        });
    }
    d
}

/// Every difference between `want` and `got` below `path`, as readable lines.
fn diff(path: &str, want: &Value, got: &Value, out: &mut Vec<String>) {
    match (want, got) {
        (Value::Object(w), Value::Object(g)) => {
            for (k, wv) in w {
                match g.get(k) {
                    Some(gv) => diff(&format!("{path}.{k}"), wv, gv, out),
                    None => out.push(format!("{path}.{k}: missing (recorded {wv})")),
                }
            }
            for k in g.keys().filter(|k| !w.contains_key(*k)) {
                out.push(format!("{path}.{k}: not in the recording"));
            }
        }
        (Value::Array(w), Value::Array(g)) if path.ends_with(".fields") => {
            let names = |a: &Vec<Value>| -> Vec<String> {
                a.iter()
                    .map(|f| f["name"].as_str().unwrap_or("?").to_string())
                    .collect()
            };
            if names(w) != names(g) {
                out.push(format!(
                    "{path}: field list differs\n  recorded {:?}\n  served   {:?}",
                    names(w),
                    names(g)
                ));
                return;
            }
            for (wf, gf) in w.iter().zip(g) {
                let name = wf["name"].as_str().unwrap_or("?");
                diff(&format!("{path}[{name}]"), wf, gf, out);
            }
        }
        (Value::Array(w), Value::Array(g)) => {
            if w.len() != g.len() {
                out.push(format!(
                    "{path}: {} entries recorded, {} served",
                    w.len(),
                    g.len()
                ));
                return;
            }
            for (i, (wv, gv)) in w.iter().zip(g).enumerate() {
                diff(&format!("{path}[{i}]"), wv, gv, out);
            }
        }
        _ => {
            if want != got {
                out.push(format!("{path}: recorded {want}, served {got}"));
            }
        }
    }
}

struct Server {
    base: String,
    token: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

async fn start() -> Server {
    let sandbox = Sandbox::open(SandboxOptions {
        today: chrono::NaiveDate::from_ymd_opt(2026, 11, 18),
        ..Default::default()
    })
    .expect("sandbox opens");
    let token = sandbox.mint_token(ADMIN).expect("admin token");
    let (base, stop) = crate::support::serve(sandbox).await;
    Server {
        base,
        token,
        stop: Some(stop),
    }
}

async fn get(http: &reqwest::Client, s: &Server, path: &str) -> (u16, Value) {
    let resp = http
        .get(format!("{}{path}", s.base))
        .bearer_auth(&s.token)
        .send()
        .await
        .expect("request");
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[tokio::test]
async fn admin_describes_match_the_recordings_field_for_field() {
    let recorded = recorded();
    let server = start().await;
    let http = reqwest::Client::new();

    let (status, global) = get(&http, &server, "/services/data/v63.0/sobjects").await;
    assert_eq!(status, 200, "describeGlobal: {global}");
    let served: BTreeSet<String> = global["sobjects"]
        .as_array()
        .expect("sobjects")
        .iter()
        .filter_map(|o| o["name"].as_str().map(str::to_string))
        .collect();
    // Every recorded object is served to the administrator except the OAuth token object, which
    // only appears inside OAuth (it is not an sObject an org exposes through `sobjects`).
    let missing: Vec<&str> = recorded
        .iter()
        .map(|(n, _)| n.as_str())
        .filter(|n| !served.contains(*n) && *n != "OauthToken")
        .collect();
    assert!(missing.is_empty(), "recorded but not served: {missing:?}");
    assert!(served.len() >= 11, "served objects: {served:?}");

    let mut problems = Vec::new();
    let mut fields_checked = 0usize;
    for (name, want) in &recorded {
        if !served.contains(name) {
            continue;
        }
        let (status, got) = get(
            &http,
            &server,
            &format!("/services/data/v63.0/sobjects/{name}/describe"),
        )
        .await;
        assert_eq!(status, 200, "{name}: {got}");
        let want = normalise_urls(&narrow(want.clone(), &served));
        let got = normalise_urls(&got);
        fields_checked += want["fields"].as_array().map_or(0, Vec::len);
        diff(name, &want, &got, &mut problems);
        // The global-describe entry agrees with the full describe on the shared keys.
        let entry = global["sobjects"]
            .as_array()
            .and_then(|a| a.iter().find(|o| o["name"] == name.as_str()))
            .expect("global entry");
        for key in [
            "keyPrefix",
            "label",
            "labelPlural",
            "custom",
            "queryable",
            "createable",
        ] {
            if entry[key] != got[key] {
                problems.push(format!(
                    "{name}: describeGlobal {key} {} but describe {}",
                    entry[key], got[key]
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{} difference(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
    assert!(
        fields_checked > 300,
        "only {fields_checked} fields compared"
    );

    // URLs really are rewritten to the requested version and this host (the "modulo" above).
    let (_, d) = get(
        &http,
        &server,
        "/services/data/v61.0/sobjects/Account/describe",
    )
    .await;
    assert_eq!(
        d["urls"]["describe"],
        "/services/data/v61.0/sobjects/Account/describe"
    );
    let ui = d["urls"]["uiDetailTemplate"].as_str().expect("ui url");
    assert!(ui.starts_with(&server.base), "{ui}");

    if let Some(stop) = server.stop {
        let _ = stop.send(());
    }
}

#[test]
fn the_diff_notices_a_changed_attribute_and_a_missing_field() {
    let want: Value = serde_json::json!({"fields": [{"name": "A", "length": 80}, {"name": "B"}]});
    let changed: Value =
        serde_json::json!({"fields": [{"name": "A", "length": 40}, {"name": "B"}]});
    let dropped: Value = serde_json::json!({"fields": [{"name": "A", "length": 80}]});
    let mut out = Vec::new();
    diff("T", &want, &want, &mut out);
    assert!(out.is_empty());
    diff("T", &want, &changed, &mut out);
    assert_eq!(out, vec!["T.fields[A].length: recorded 80, served 40"]);
    out.clear();
    diff("T", &want, &dropped, &mut out);
    assert!(out[0].contains("field list differs"), "{out:?}");
    let urls = normalise_urls(
        &serde_json::json!({"u": "https://x.my.salesforce.com/services/data/vxx.0/sobjects"}),
    );
    assert_eq!(urls["u"], "ORIGIN/services/data/vNN.N/sobjects");
}
