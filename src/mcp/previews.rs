//! Previews waiting to be applied: each id names exactly one plan (or one undo) and is applied at
//! most once, before it expires. Pure bookkeeping; the core applies what it hands out.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::Value as Json;

use crate::plan::Plan;

/// What a preview applies.
#[derive(Debug, Clone)]
pub enum Pending {
    /// A command's plan, applied with its guards.
    Plan(Box<Plan>),
    /// The undo of a journal entry.
    Undo(i64),
}

/// One preview.
#[derive(Debug, Clone)]
pub struct Preview {
    /// What applying it does.
    pub pending: Pending,
    /// The phrase journaled.
    pub phrase: String,
    /// The preview rows shown (what apply must still match).
    pub rows: Vec<Json>,
    /// How many changes.
    pub count: usize,
    /// One line for the person asked to confirm.
    pub summary: String,
    created: Instant,
    claimed: bool,
}

impl Preview {
    /// A preview made now.
    pub fn new(
        pending: Pending,
        phrase: String,
        rows: Vec<Json>,
        count: usize,
        summary: String,
    ) -> Preview {
        Preview {
            pending,
            phrase,
            rows,
            count,
            summary,
            created: Instant::now(),
            claimed: false,
        }
    }
}

/// Why a preview can't be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PreviewError {
    /// No such id.
    #[error("no preview `{0}`; call preview (or undo) first and apply the preview_id it returns")]
    Unknown(String),
    /// Applied already (with the journal entry it wrote).
    #[error("preview `{id}` was already applied{}; nothing was written this time", entry.map(|e| format!(" (journal entry {e})")).unwrap_or_default())]
    Applied {
        /// The id.
        id: String,
        /// The entry its apply wrote.
        entry: Option<i64>,
    },
    /// Declined by the person, or dropped.
    #[error("preview `{0}` was declined; nothing was written. Preview again if it is still wanted")]
    Declined(String),
    /// Older than the TTL.
    #[error("preview `{0}` expired after {1} seconds; nothing was written. Preview again")]
    Expired(String, u64),
    /// Being applied by another call.
    #[error("preview `{0}` is being applied already")]
    Busy(String),
}

/// How an id ended.
#[derive(Debug, Clone, Copy)]
enum Ended {
    Applied(Option<i64>),
    Declined,
    Expired,
}

/// The previews of one server.
pub struct Previews {
    ttl: Duration,
    live: HashMap<String, Preview>,
    ended: HashMap<String, Ended>,
}

impl Previews {
    /// An empty store whose previews live for `ttl`.
    pub fn new(ttl: Duration) -> Previews {
        Previews {
            ttl,
            live: HashMap::new(),
            ended: HashMap::new(),
        }
    }

    /// Stores a preview; returns its id.
    pub fn add(&mut self, p: Preview) -> String {
        let id = format!("pv_{}", uuid::Uuid::new_v4().simple());
        self.live.insert(id.clone(), p);
        id
    }

    /// The TTL.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// A live, unexpired preview, marked as being applied when `hold` (a second claim is then
    /// refused until it is taken or declined). An expired one is removed and returned in the
    /// error, so its plan can be dropped.
    ///
    /// # Errors
    /// [`PreviewError`].
    pub fn claim(
        &mut self,
        id: &str,
        hold: bool,
    ) -> Result<&Preview, (PreviewError, Option<Box<Preview>>)> {
        if let Some(e) = self.ended.get(id) {
            let err = match *e {
                Ended::Applied(entry) => PreviewError::Applied {
                    id: id.to_string(),
                    entry,
                },
                Ended::Declined => PreviewError::Declined(id.to_string()),
                Ended::Expired => PreviewError::Expired(id.to_string(), self.ttl.as_secs()),
            };
            return Err((err, None));
        }
        let Some(p) = self.live.get(id) else {
            return Err((PreviewError::Unknown(id.to_string()), None));
        };
        if p.claimed {
            return Err((PreviewError::Busy(id.to_string()), None));
        }
        if p.created.elapsed() > self.ttl {
            let p = self.live.remove(id).map(Box::new);
            self.ended.insert(id.to_string(), Ended::Expired);
            return Err((PreviewError::Expired(id.to_string(), self.ttl.as_secs()), p));
        }
        let p = self.live.get_mut(id).expect("checked above");
        p.claimed |= hold;
        Ok(p)
    }

    /// Takes a claimed preview out to apply it; the id then answers "already applied".
    pub fn take(&mut self, id: &str) -> Option<Preview> {
        let p = self.live.remove(id).filter(|p| p.claimed)?;
        self.ended.insert(id.to_string(), Ended::Applied(None));
        Some(p)
    }

    /// Records the journal entry an applied preview wrote.
    pub fn applied(&mut self, id: &str, entry: Option<i64>) {
        self.ended.insert(id.to_string(), Ended::Applied(entry));
    }

    /// Drops a preview the person declined; returns it so its plan can be dropped too.
    pub fn decline(&mut self, id: &str) -> Option<Preview> {
        self.ended.insert(id.to_string(), Ended::Declined);
        self.live.remove(id)
    }

    /// Removes the previews past their TTL and returns them (their plans are dropped).
    pub fn expire(&mut self) -> Vec<Preview> {
        let ttl = self.ttl;
        let old: Vec<String> = self
            .live
            .iter()
            .filter(|(_, p)| !p.claimed && p.created.elapsed() > ttl)
            .map(|(k, _)| k.clone())
            .collect();
        old.iter()
            .filter_map(|k| {
                self.ended.insert(k.clone(), Ended::Expired);
                self.live.remove(k)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn preview() -> Preview {
        Preview::new(
            Pending::Undo(1),
            "undo 1".into(),
            Vec::new(),
            1,
            "undo".into(),
        )
    }

    #[test]
    fn a_preview_is_applied_once() {
        let mut s = Previews::new(Duration::from_secs(60));
        let id = s.add(preview());
        assert!(s.claim(&id, false).is_ok());
        assert!(s.claim(&id, true).is_ok());
        assert!(matches!(
            s.claim(&id, true),
            Err((PreviewError::Busy(_), _))
        ));
        assert!(s.take(&id).is_some());
        s.applied(&id, Some(7));
        let (e, _) = s.claim(&id, true).unwrap_err();
        assert_eq!(
            e,
            PreviewError::Applied {
                id: id.clone(),
                entry: Some(7)
            }
        );
        assert!(e.to_string().contains("entry 7"));
        assert!(matches!(
            s.claim("pv_x", true),
            Err((PreviewError::Unknown(_), None))
        ));
    }

    #[test]
    fn expired_and_declined_previews_are_refused() {
        let mut s = Previews::new(Duration::from_millis(0));
        let id = s.add(preview());
        std::thread::sleep(Duration::from_millis(5));
        let (e, p) = s.claim(&id, true).unwrap_err();
        assert!(matches!(e, PreviewError::Expired(..)) && p.is_some());
        let id = s.add(preview());
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(s.expire().len(), 1);
        assert!(matches!(
            s.claim(&id, true),
            Err((PreviewError::Expired(..), None))
        ));
        let mut s = Previews::new(Duration::from_secs(60));
        let id = s.add(preview());
        assert!(s.decline(&id).is_some());
        assert!(matches!(
            s.claim(&id, true),
            Err((PreviewError::Declined(_), _))
        ));
    }
}
