//! `EventStore` on the embedded store: the security log under each account.

use std::cell::RefCell;
use std::path::PathBuf;

use super::*;
use crate::domain::{EventId, SecurityEvent};
use crate::lifecycle;

thread_local! {
    /// The log entries the write running on this thread has made, for the
    /// event log once (and only if) it commits. A write runs start to end
    /// on one blocking thread.
    static WRITTEN: RefCell<Vec<(UserId, EventItem)>> = const { RefCell::new(Vec::new()) };
}

/// Writes a log entry in the calling write.
pub(super) fn put_event(
    table: &mut Table<'_, (&'static str, &'static str), &'static [u8]>,
    user_id: UserId,
    event: &EventItem,
) -> Result<(), StoreError> {
    put(
        table,
        &records::user_pk(user_id),
        &records::event_sk(event.event_id),
        event,
    )?;
    WRITTEN.with(|written| written.borrow_mut().push((user_id, event.clone())));
    Ok(())
}

/// Forgets what a write that did not commit had written.
pub(super) fn forget_written() {
    WRITTEN.with(|written| written.borrow_mut().clear());
}

/// `<data-dir>/events.jsonl`: the lifecycle events of committed writes, one
/// JSON document a line, as EventBridge would carry them.
#[derive(Debug)]
pub struct EventLog {
    path: PathBuf,
}

impl EventLog {
    pub fn new(path: PathBuf) -> Self {
        Self { path }
    }

    /// Appends the events of the write that just committed. The change
    /// stands either way, so a failure is logged, not returned.
    pub(super) fn append_committed(&self) {
        let written = WRITTEN.with(|written| std::mem::take(&mut *written.borrow_mut()));
        let now = OffsetDateTime::now_utc();
        let mut lines = String::new();
        for (user_id, item) in written {
            let entry = match item.into_event(user_id, now) {
                Ok(Some(entry)) => entry,
                Ok(None) => continue,
                Err(error) => {
                    tracing::error!(%error, "a log entry could not be read back");
                    continue;
                }
            };
            if let Some(event) = lifecycle::of(&entry) {
                lines.push_str(&event.document().to_string());
                lines.push('\n');
            }
        }
        if lines.is_empty() {
            return;
        }
        let appended = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .and_then(|mut file| {
                use std::io::Write;
                file.write_all(lines.as_bytes())?;
                file.sync_data()
            });
        if let Err(error) = appended {
            tracing::error!(path = %self.path.display(), %error, "events not written");
        }
    }
}

impl EmbeddedStore {
    /// An entry as stored, kept the store's retention.
    pub(super) fn event_item(&self, event: &SecurityEvent) -> EventItem {
        EventItem::new(event, self.audit_retention)
    }

    /// A new session's item and its sign-in's entry in the log, built
    /// before the write moves to its thread.
    pub(super) fn session_items(&self, session: &Session) -> (SessionItem, EventItem) {
        (
            SessionItem::new(session),
            EventItem::new(&session.sign_in_event(), self.audit_retention),
        )
    }
}

#[async_trait]
impl EventStore for EmbeddedStore {
    async fn append_event(&self, event: &SecurityEvent) -> Result<(), StoreError> {
        let (user_id, item) = (event.user_id, self.event_item(event));
        self.write(move |table| put_event(table, user_id, &item))
            .await
    }

    async fn events(
        &self,
        user_id: UserId,
        before: Option<EventId>,
        limit: usize,
        now: OffsetDateTime,
    ) -> Result<EventPage, StoreError> {
        let pk = records::user_pk(user_id);
        self.blocking(move |db| {
            let read = db.begin_read().map_err(backend)?;
            let table = read.open_table(ITEMS).map_err(backend)?;
            let mut rows = items_with_prefix::<EventItem>(&table, &pk, records::EVENT_PREFIX)?;
            rows.reverse();
            let rows = rows
                .into_iter()
                .map(|(_, row)| row)
                .filter(|row| before.is_none_or(|before| row.event_id < before));
            records::event_page(rows, user_id, limit, now)
        })
        .await
    }
}
