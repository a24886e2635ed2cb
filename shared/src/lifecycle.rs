//! Lifecycle events for other systems: the security log's entries that
//! matter outside the account (a registration, a sign-in, a deletion...),
//! as the documents EventBridge carries and `local-api` writes to
//! `events.jsonl`. They come from the log's items, which every change
//! writes in its own transaction: no event for a change that did not
//! commit, none missing for one that did. Delivery is at least once;
//! `detail.id` (the log entry's id) is what a consumer de-duplicates on.

use serde::Serialize;
use time::OffsetDateTime;

use crate::domain::{Actor, EventKind, SecurityEvent};
use crate::ports::EventPublisher;

/// EventBridge's `source` of every event.
pub const SOURCE: &str = "latchkey";

/// One event: `name` is EventBridge's `detail-type`, the rest its `detail`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LifecycleEvent {
    #[serde(skip)]
    pub name: &'static str,
    pub id: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub user_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// `self`, `admin` or `operator`.
    pub actor: &'static str,
    /// What changed, from the entry's detail (an email only masked, as the
    /// log keeps it).
    pub changes: Vec<Change>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub field: String,
    pub value: String,
}

impl LifecycleEvent {
    /// The event as one JSON document: `{source, detail-type, detail}`.
    pub fn document(&self) -> serde_json::Value {
        serde_json::json!({
            "source": SOURCE,
            "detail-type": self.name,
            "detail": self,
        })
    }
}

/// Entries one `PutEvents` call takes.
pub const BATCH: usize = 10;

/// One record of the table's stream: where it is in the stream, and the
/// event its item makes (none for entries kept to the log).
#[derive(Debug, Clone)]
pub struct StreamRecord {
    pub sequence_number: String,
    pub event: Option<LifecycleEvent>,
}

/// Publishes the events of `records` (in stream order), [`BATCH`] at a
/// time; the sequence number of the first record whose event the bus did
/// not take, from which the stream is read again (the events after it that
/// did go out go out again: delivery is at least once), or `None`.
pub async fn publish(publisher: &dyn EventPublisher, records: &[StreamRecord]) -> Option<String> {
    let pending: Vec<(&str, &LifecycleEvent)> = records
        .iter()
        .filter_map(|record| Some((record.sequence_number.as_str(), record.event.as_ref()?)))
        .collect();
    for batch in pending.chunks(BATCH) {
        let events: Vec<LifecycleEvent> = batch.iter().map(|(_, event)| (*event).clone()).collect();
        let first_refused = match publisher.publish(&events).await {
            Ok(accepted) => accepted.iter().position(|taken| !taken),
            Err(error) => {
                tracing::warn!(%error, "events not published; the stream retries");
                Some(0)
            }
        };
        if let Some(index) = first_refused {
            tracing::warn!(
                refused = events[index].name,
                "an event was refused; the stream retries from it"
            );
            return Some(batch[index].0.to_owned());
        }
    }
    None
}

/// The event an entry of the log makes, if other systems hear of it.
pub fn of(entry: &SecurityEvent) -> Option<LifecycleEvent> {
    let name = match entry.kind {
        EventKind::Registered => "user.registered",
        EventKind::EmailConfirmed => "user.confirmed",
        EventKind::SignedIn => "user.signed_in",
        EventKind::PasswordChanged | EventKind::PasswordReset => "user.password_changed",
        EventKind::EmailChanged => "user.email_changed",
        EventKind::FactorAdded | EventKind::PasskeyAdded => "user.factor_added",
        EventKind::FactorRemoved | EventKind::FactorsReset | EventKind::PasskeyRemoved => {
            "user.factor_removed"
        }
        EventKind::AccountChanged
            if entry.detail.get("status").map(String::as_str) == Some("disabled") =>
        {
            "user.disabled"
        }
        EventKind::IdentityLinked => "user.identity_linked",
        EventKind::IdentityUnlinked => "user.identity_unlinked",
        EventKind::AccountDeleted => "user.deleted",
        EventKind::SessionEnded | EventKind::SessionsEnded => "session.revoked",
        // The person's own business, or nothing another system acts on.
        EventKind::SignInFailed | EventKind::RecoveryCodesRenewed | EventKind::AccountChanged => {
            return None;
        }
    };
    let changes = entry
        .detail
        .iter()
        .filter(|(field, _)| field.as_str() != "session_id")
        .map(|(field, value)| Change {
            field: field.clone(),
            value: value.clone(),
        })
        .collect();
    Some(LifecycleEvent {
        name,
        id: entry.id.to_string(),
        kind: name,
        at: entry.at,
        user_id: entry.user_id.to_string(),
        session_id: entry.detail.get("session_id").cloned(),
        actor: match entry.actor {
            Actor::Owner => "self",
            Actor::Admin(_) => "admin",
            Actor::Operator => "operator",
        },
        changes,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::domain::{SessionOrigin, UserId};

    fn entry(kind: EventKind) -> SecurityEvent {
        SecurityEvent::new(
            UserId::new(),
            kind,
            Actor::Owner,
            SessionOrigin::new("203.0.113.7", Some("a browser")),
            OffsetDateTime::UNIX_EPOCH,
        )
    }

    #[test]
    fn every_kind_is_published_under_its_name_or_kept_to_the_log() {
        for kind in EventKind::ALL {
            let published = of(&entry(kind)).map(|event| event.name);
            let expected = match kind {
                EventKind::SignInFailed
                | EventKind::RecoveryCodesRenewed
                | EventKind::AccountChanged => None,
                EventKind::Registered => Some("user.registered"),
                EventKind::EmailConfirmed => Some("user.confirmed"),
                EventKind::SignedIn => Some("user.signed_in"),
                EventKind::PasswordChanged | EventKind::PasswordReset => {
                    Some("user.password_changed")
                }
                EventKind::EmailChanged => Some("user.email_changed"),
                EventKind::FactorAdded | EventKind::PasskeyAdded => Some("user.factor_added"),
                EventKind::FactorRemoved | EventKind::FactorsReset | EventKind::PasskeyRemoved => {
                    Some("user.factor_removed")
                }
                EventKind::IdentityLinked => Some("user.identity_linked"),
                EventKind::IdentityUnlinked => Some("user.identity_unlinked"),
                EventKind::AccountDeleted => Some("user.deleted"),
                EventKind::SessionEnded | EventKind::SessionsEnded => Some("session.revoked"),
            };
            assert_eq!(published, expected, "{kind:?}");
        }
        let disabled = entry(EventKind::AccountChanged).with("status", "disabled");
        assert_eq!(of(&disabled).unwrap().name, "user.disabled");
    }

    /// Takes every event but those named in `refuse` (the first call only
    /// when `once`), or fails whole calls; remembers what it took.
    #[derive(Default)]
    struct Bus {
        refuse: Vec<String>,
        fail_calls: bool,
        calls: std::sync::Mutex<Vec<usize>>,
        taken: std::sync::Mutex<Vec<String>>,
    }

    #[async_trait::async_trait]
    impl EventPublisher for Bus {
        async fn publish(
            &self,
            events: &[LifecycleEvent],
        ) -> Result<Vec<bool>, crate::ports::PublishError> {
            self.calls.lock().unwrap().push(events.len());
            if self.fail_calls {
                return Err(crate::ports::PublishError::Failed("down".into()));
            }
            Ok(events
                .iter()
                .map(|event| {
                    let taken = !self.refuse.contains(&event.id);
                    if taken {
                        self.taken.lock().unwrap().push(event.id.clone());
                    }
                    taken
                })
                .collect())
        }
    }

    fn records(count: usize) -> Vec<StreamRecord> {
        (0..count)
            .map(|index| StreamRecord {
                sequence_number: format!("{index:04}"),
                // Every third record is a log-only entry: nothing to publish.
                event: (index % 3 != 2).then(|| of(&entry(EventKind::SignedIn)).unwrap()),
            })
            .collect()
    }

    #[tokio::test]
    async fn events_go_out_ten_at_a_time_in_stream_order() {
        let bus = Bus::default();
        let records = records(30);
        assert_eq!(publish(&bus, &records).await, None);
        assert_eq!(*bus.calls.lock().unwrap(), [10, 10]);
        let expected: Vec<String> = records
            .iter()
            .filter_map(|record| Some(record.event.as_ref()?.id.clone()))
            .collect();
        assert_eq!(*bus.taken.lock().unwrap(), expected);
    }

    #[tokio::test]
    async fn a_refused_event_is_where_the_stream_starts_again() {
        let records = records(30);
        // The 17th record's event, the second batch's second, is refused.
        let refused = records[16].event.as_ref().unwrap().id.clone();
        let bus = Bus {
            refuse: vec![refused],
            ..Bus::default()
        };
        assert_eq!(publish(&bus, &records).await.as_deref(), Some("0016"));
        // Nothing after the refused batch was tried.
        assert_eq!(*bus.calls.lock().unwrap(), [10, 10]);
        let down = Bus {
            fail_calls: true,
            ..Bus::default()
        };
        assert_eq!(publish(&down, &records).await.as_deref(), Some("0000"));
        assert_eq!(*down.calls.lock().unwrap(), [10]);
    }

    #[test]
    fn the_document_carries_ids_and_changes_but_not_where_from() {
        let sign_in = entry(EventKind::SignedIn)
            .with("session_id", "0193a7c2-5b1e-7d4a-9c3f-2e8b6d1f4a70")
            .with("amr", "pwd");
        let event = of(&sign_in).unwrap();
        let document = event.document();
        assert_eq!(document["source"], "latchkey");
        assert_eq!(document["detail-type"], "user.signed_in");
        let detail = &document["detail"];
        assert_eq!(detail["id"], sign_in.id.to_string());
        assert_eq!(detail["type"], "user.signed_in");
        assert_eq!(detail["user_id"], sign_in.user_id.to_string());
        assert_eq!(detail["session_id"], "0193a7c2-5b1e-7d4a-9c3f-2e8b6d1f4a70");
        assert_eq!(detail["actor"], "self");
        assert_eq!(
            detail["changes"],
            serde_json::json!([{"field": "amr", "value": "pwd"}])
        );
        // The network and the browser stay in the person's own log.
        let text = document.to_string();
        assert!(!text.contains("203.0.113"));
        assert!(!text.contains("a browser"));
    }
}
