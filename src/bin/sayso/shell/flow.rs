//! One command through the shell: dry run → preview → confirm → apply the previewed plan; a
//! numbered choice when several records match; undo with a preview of what it reverts; Ctrl-C and
//! a progress spinner around anything that talks to the org.
//!
//! Owns the asking; the agent only returns outcomes (`dry_run` with the pending plan, `ambiguous`
//! with candidates). Part of the shell (`super`).

use std::future::Future;
use std::time::Duration;

use std::sync::{Arc, Mutex};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use sayso::app::{Outcome, RunOptions, Status};
use sayso::journal::{EntryKind, EntryStatus};
use serde_json::Value as Json;

use super::Shell;
use super::render;

/// Where the agent's bulk progress goes: the bar of the command in flight, if any.
pub(super) type ProgressSlot = Arc<Mutex<Option<ProgressBar>>>;

/// A progress callback for [`sayso::app::Agent::set_progress`] that feeds the current bar.
pub(super) fn progress_callback(slot: ProgressSlot) -> Box<dyn Fn(usize, usize) + Send + Sync> {
    Box::new(move |done, total| {
        if let Ok(g) = slot.lock()
            && let Some(b) = g.as_ref()
        {
            if b.length() != Some(total as u64) {
                b.set_length(total as u64);
                if let Ok(s) =
                    ProgressStyle::with_template("{spinner} {msg} [{bar:30}] {pos}/{len} {elapsed}")
                {
                    b.set_style(s.progress_chars("=> "));
                }
            }
            b.set_position(done as u64);
        }
    })
}

/// Runs `fut` until it finishes or Ctrl-C; shows a spinner (or, for bulk work reported through
/// `slot`, a bar) once it takes over a second. `None` when cancelled: the future is dropped and
/// nothing more is sent.
pub(super) fn cancellable<F: Future>(
    rt: &tokio::runtime::Runtime,
    slot: &ProgressSlot,
    fut: F,
) -> Option<F::Output> {
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
    if let Ok(s) = ProgressStyle::with_template("{spinner} {msg} {elapsed}") {
        bar.set_style(s);
    }
    bar.set_message("working (Ctrl-C cancels)");
    if let Ok(mut g) = slot.lock() {
        *g = Some(bar.clone());
    }
    let out = rt.block_on(async {
        tokio::pin!(fut);
        let ctrl_c = tokio::signal::ctrl_c();
        tokio::pin!(ctrl_c);
        let delay = tokio::time::sleep(Duration::from_secs(1));
        tokio::pin!(delay);
        let mut shown = false;
        loop {
            tokio::select! {
                out = &mut fut => break Some(out),
                _ = &mut ctrl_c => break None,
                _ = &mut delay, if !shown => {
                    shown = true;
                    bar.set_draw_target(ProgressDrawTarget::stderr());
                    bar.enable_steady_tick(Duration::from_millis(120));
                }
            }
        }
    });
    bar.finish_and_clear();
    if let Ok(mut g) = slot.lock() {
        *g = None;
    }
    out
}

const CANCELLED: &str = "cancelled; anything already sent is in :history (undo it with :undo, finish it with `sayso retry`)";

impl Shell {
    /// Runs a phrase: questions answer at once, writes are previewed and confirmed.
    /// `picked`: record ids chosen from earlier `ambiguous` answers to this phrase.
    pub(super) fn phrase(&mut self, rt: &tokio::runtime::Runtime, phrase: &str, picked: &[String]) {
        if let Some(steps) = sayso::app::lookup::undo_steps(phrase, self.today) {
            for _ in 0..steps {
                if !self.undo(rt) {
                    break;
                }
            }
            return;
        }
        let preview_opts = RunOptions {
            dry_run: true,
            ..self.base_options()
        };
        let Some(out) = cancellable(
            rt,
            &self.progress,
            self.agent.submit_picked(phrase, preview_opts, picked),
        ) else {
            println!("{CANCELLED}");
            return;
        };
        // No connection: the shell queues the command on its own.
        let out = self.agent.after_submit(phrase, out, true);
        if out.unreachable {
            self.sync_offered = false;
        }
        self.remember(&out);
        let reached = Self::reached(&out);
        match out.status {
            Status::Ambiguous if !out.candidates().is_empty() && picked.len() < 5 => {
                self.choose(rt, phrase, &out, picked);
            }
            Status::DryRun if self.dry_run => {
                let names = self.id_names(rt, &out);
                println!("{}", render::preview(&out, &names, &self.style));
                for c in out.calls() {
                    println!("{}", self.style.dim(&format!("  call: {c}")));
                }
                println!("dry run: nothing changed");
            }
            Status::DryRun => self.confirm_and_apply(rt, phrase, out, picked),
            _ => println!("{}", render::outcome(&out, &self.style)),
        }
        if reached {
            self.offer_sync(rt);
        }
        self.refresh_vocab();
    }

    fn confirm_and_apply(
        &mut self,
        rt: &tokio::runtime::Runtime,
        phrase: &str,
        mut out: Outcome,
        picked: &[String],
    ) {
        let names = self.id_names(rt, &out);
        println!("{}", render::preview(&out, &names, &self.style));
        let n = out.count.unwrap_or(1);
        if !self.confirm_count(&render::apply_question(n), n) {
            println!("cancelled; nothing changed");
            return;
        }
        let opts = RunOptions {
            yes: true,
            ..self.base_options()
        };
        let done = match out.pending.take() {
            Some(plan) => cancellable(rt, &self.progress, self.agent.confirm(phrase, &plan, opts)),
            None => cancellable(
                rt,
                &self.progress,
                self.agent.submit_picked(phrase, opts, picked),
            ),
        };
        match done {
            Some(done) => {
                self.agent.remember(&done);
                self.remember(&done);
                println!("{}", render::outcome_named(&done, &names, &self.style));
            }
            None => println!("{CANCELLED}"),
        }
    }

    /// Shows the candidates with what tells them apart and resubmits with the one picked.
    fn choose(
        &mut self,
        rt: &tokio::runtime::Runtime,
        phrase: &str,
        out: &Outcome,
        picked: &[String],
    ) {
        let found = sayso::app::lookup::candidate_details(self.agent.org(), out.candidates());
        let details = cancellable(rt, &self.progress, found).map(|rows| {
            rows.into_iter()
                .map(|(o, n, fields)| {
                    let shown = fields.iter().map(|(k, v)| (k.clone(), render::value(v)));
                    (o, n, shown.collect())
                })
                .collect::<Vec<render::CandidateRow>>()
        });
        let rows = details.unwrap_or_else(|| {
            out.candidates()
                .iter()
                .map(|c| (c.sobject.clone(), c.name.clone(), Vec::new()))
                .collect()
        });
        println!("{}", self.style.yellow(&out.message));
        println!("{}", render::candidates(&rows));
        let n = out.candidates().len();
        let answer = self
            .editor
            .readline(&format!("which one? [1-{n}, Enter cancels] "))
            .unwrap_or_default();
        let choice = answer
            .trim()
            .trim_start_matches('#')
            .parse::<usize>()
            .ok()
            .filter(|i| (1..=n).contains(i));
        let Some(i) = choice else {
            println!("cancelled; nothing changed");
            return;
        };
        let c = &out.candidates()[i - 1];
        println!("{}", self.style.dim(&format!("→ {} {}", c.sobject, c.name)));
        let mut picked = picked.to_vec();
        picked.push(c.id.clone());
        self.phrase(rt, phrase, &picked);
    }

    /// Undoes the latest command not yet undone, after showing what it reverts. Returns whether
    /// something was undone.
    pub(super) fn undo(&mut self, rt: &tokio::runtime::Runtime) -> bool {
        let entries = match self.agent.history(50) {
            Ok(e) => e,
            Err(e) => {
                println!("error: {e}");
                return false;
            }
        };
        let undone: Vec<i64> = entries
            .iter()
            .filter(|i| i.entry.kind == EntryKind::Undo)
            .filter_map(|i| i.entry.refers_to)
            .collect();
        let Some(item) = entries.iter().find(|i| {
            let e = &i.entry;
            e.kind == EntryKind::Command
                && !undone.contains(&e.id)
                && i.total > 0
                && e.status != EntryStatus::Failed
        }) else {
            println!("nothing to undo");
            return false;
        };
        let (target, changes) = (&item.entry, &item.changes);
        println!(
            "undo #{} \"{}\" ({} change{}):",
            target.id,
            target.phrase,
            item.total,
            if item.total == 1 { "" } else { "s" }
        );
        for c in changes.iter().take(5) {
            let ch = &c.change;
            let line = match ch.op.as_str() {
                "create" => format!("delete {} \"{}\"", ch.sobject, ch.name),
                _ => {
                    let fields: Vec<String> = ch
                        .old
                        .as_object()
                        .map(|o| {
                            o.iter()
                                .map(|(k, old)| {
                                    format!(
                                        "{k}: {} → {}",
                                        render::value(&ch.new[k.as_str()]),
                                        render::value(old)
                                    )
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    format!(
                        "restore {} \"{}\": {}",
                        ch.sobject,
                        ch.name,
                        fields.join(", ")
                    )
                }
            };
            println!("  {line}");
        }
        if item.total > 5 {
            println!("  … and {} more", item.total - 5);
        }
        if !self.confirm("undo it? [Enter = yes, n = no] ") {
            println!("cancelled; nothing changed");
            return false;
        }
        let id = target.id;
        match cancellable(
            rt,
            &self.progress,
            self.agent.undo(Some(id), &format!("undo {id}")),
        ) {
            Some(out) => {
                println!("{}", render::outcome(&out, &self.style));
                out.status.is_success()
            }
            None => {
                println!("{CANCELLED}");
                false
            }
        }
    }

    /// Names of the records a preview refers to by id (lookups, owners), one query per object.
    fn id_names(&self, rt: &tokio::runtime::Runtime, out: &Outcome) -> render::Names {
        let mut ids: Vec<sayso::id::RecordId> = Vec::new();
        for r in out.records() {
            if let Some(fields) = r["fields"].as_object() {
                for v in fields.values() {
                    for side in ["old", "new"] {
                        if let Some(id) = v[side]
                            .as_str()
                            .and_then(|s| sayso::id::RecordId::parse(s).ok())
                            && !ids.contains(&id)
                        {
                            ids.push(id);
                        }
                    }
                }
            }
        }
        if ids.is_empty() {
            return render::Names::new();
        }
        cancellable(
            rt,
            &self.progress,
            sayso::app::lookup::record_names(self.agent.org(), &ids),
        )
        .unwrap_or_default()
    }

    /// Remembers record names for completion.
    fn remember(&mut self, out: &Outcome) {
        let Ok(mut v) = self.vocab.lock() else {
            return;
        };
        for r in out.records() {
            let name = r
                .get("Name")
                .and_then(Json::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| render::record_name(r));
            v.saw_record(&name);
        }
        for c in out.changes() {
            v.saw_record(&c.name);
        }
        for c in out.candidates() {
            v.saw_record(&c.name);
        }
    }
}
