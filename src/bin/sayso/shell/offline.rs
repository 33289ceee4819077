//! The shell's side of working offline: a command met by no connection is queued on its own
//! ([`sayso::app::Agent::after_submit`]), the prompt shows `[offline: N queued]`, and when the
//! org answers again the shell offers to sync (each command previewed and confirmed here).

use sayso::app::offline::SyncOptions;
use sayso::app::{Outcome, Status};
use sayso::journal::QueuedCommand;

use super::Shell;

impl Shell {
    /// The prompt's part about the queue: `[offline: 3 queued]`, or nothing.
    pub(super) fn queue_mark(&self) -> String {
        match self.agent.queued_count() {
            0 => String::new(),
            n => format!(" [offline: {n} queued]"),
        }
    }

    /// Whether a command's outcome shows the org answering (so a queue may be synced).
    pub(super) fn reached(out: &Outcome) -> bool {
        !out.unreachable && out.status != Status::Queued
    }

    /// After a command that reached the org, offers (once) to sync what waits in the queue.
    pub(super) fn offer_sync(&mut self, rt: &tokio::runtime::Runtime) {
        let waiting = self.agent.queued_count();
        if waiting == 0 || self.sync_offered {
            return;
        }
        self.sync_offered = true;
        let q = format!(
            "the org answers again: sync the {waiting} queued command(s) now? [Enter = yes, n = no] "
        );
        if self.confirm(&q) {
            self.sync(rt);
        } else {
            println!("they stay queued; `:sync` sends them");
        }
    }

    /// `:sync`: replays the queue, asking before each command.
    pub(super) fn sync(&mut self, rt: &tokio::runtime::Runtime) {
        let editor = &mut self.editor;
        let style = &self.style;
        let mut ask = |item: &QueuedCommand, preview: &Outcome| {
            println!("#{} said {}: {}", item.id, item.said_at, item.phrase);
            let names = super::render::Names::new();
            println!("{}", super::render::preview(preview, &names, style));
            match editor.readline("apply? [Enter = yes, n = no] ") {
                Ok(a) => matches!(a.trim().to_lowercase().as_str(), "" | "y" | "yes"),
                Err(_) => false,
            }
        };
        let report = rt.block_on(self.agent.sync(SyncOptions::default(), &mut ask));
        for s in &report.items {
            println!("#{} {}", s.item.id, s.item.phrase);
            println!("{}", super::render::outcome(&s.outcome, &self.style));
            for c in &s.conflicts {
                println!("  {}", crate::cmd_sync::conflict_line(c));
            }
        }
        if let Some(m) = report.unreachable {
            println!("queued: {m}");
            self.sync_offered = false;
        }
    }
}
