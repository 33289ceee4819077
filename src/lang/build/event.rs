//! Meetings and cases as said: "schedule a meeting with Pepper Potts on the Titan deal tuesday at
//! 3pm about the phased rollout" (an Event: day, start time, length, who, what, subject) and "open a
//! case for Acme Corp: login page broken, high priority" (a Case: account, contact, subject,
//! priority). Part of `build`.

use super::*;

/// A meeting lasts this long unless said.
const DEFAULT_MEETING_MINUTES: u32 = 30;

impl Builder<'_> {
    pub(super) fn meeting(&self, s: &Slots) -> Option<Intent> {
        let (date, time) = match s.get(SlotName::Date) {
            Some(t) => {
                let ws = words(t);
                (
                    entity::date(&ws, self.today)?,
                    entity::trailing_time(&ws).map(|(time, _)| time),
                )
            }
            None => (self.today, None),
        };
        let minutes = s
            .get(SlotName::Duration)
            .and_then(|t| entity::duration(&words(t)))
            .map_or(DEFAULT_MEETING_MINUTES, |secs| (secs / 60).max(1));
        let subject = s
            .get(SlotName::Subject)
            .map(|t| text_of(strip_articles(self.g, t)))
            .filter(|x| !x.is_empty());
        Some(Intent::ScheduleMeeting(ScheduleMeeting {
            subject,
            date,
            time,
            minutes,
            about: Regarding {
                who: s.get(SlotName::Who).map(|t| self.record_ref(t)),
                what: s.get(SlotName::What).map(|t| self.record_ref(t)),
            },
        }))
    }

    pub(super) fn case(&self, s: &Slots) -> Option<Intent> {
        let account = s.get(SlotName::Account).map(|t| {
            let mut r = self.record_ref(t);
            r.object = Some(ObjectKind::Account);
            r
        });
        let contact = s.get(SlotName::Contact).map(|t| {
            let mut r = self.record_ref(t);
            r.object = Some(ObjectKind::Contact);
            r
        });
        let mut priority = s
            .get(SlotName::Priority)
            .and_then(|t| self.priority(&words(t)));
        let mut subject: Vec<Token> = s.get(SlotName::Subject)?.to_vec();
        // "hi pri - scream canister gauge stuck": the priority said first
        self.peel_lead(&mut subject, &mut None, &mut priority);
        // "login page broken, high priority": the priority said at the end of the subject
        loop {
            while subject.last().is_some_and(Token::is_punct) {
                subject.pop();
            }
            let ws = words(&subject);
            let Some((p, n)) = (1..=ws.len().saturating_sub(1).min(3))
                .rev()
                .find_map(|n| self.priority(&ws[ws.len() - n..]).map(|p| (p, n)))
            else {
                break;
            };
            priority.get_or_insert(p);
            subject.truncate(subject.len() - n);
        }
        let subject = text_of(&subject);
        if subject.is_empty() {
            return None;
        }
        Some(Intent::CreateCase(CreateCase {
            account,
            contact,
            subject,
            priority,
        }))
    }
}
