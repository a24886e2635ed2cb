//! Reading the table's stream: the security-log entries that `INSERT`
//! records carry (the event source mapping lets through no others).

use serde_dynamo::AttributeValue;

use super::records::{self, EventItem};
use crate::domain::{SecurityEvent, UserId};
use crate::ports::StoreError;

/// The log entry an inserted item is: `None` for any other item.
pub fn logged_entry(
    keys: &serde_dynamo::Item,
    image: serde_dynamo::Item,
) -> Result<Option<SecurityEvent>, StoreError> {
    let text = |name: &str| match keys.get(name) {
        Some(AttributeValue::S(text)) => Some(text.as_str()),
        _ => None,
    };
    let (Some(pk), Some(sk)) = (text("pk"), text("sk")) else {
        return Ok(None);
    };
    let user_id = pk
        .strip_prefix(records::USER_PREFIX)
        .and_then(UserId::parse);
    let (Some(user_id), true) = (user_id, sk.starts_with(records::EVENT_PREFIX)) else {
        return Ok(None);
    };
    let item: EventItem =
        serde_dynamo::from_item(image).map_err(|error| StoreError::Corrupt(error.to_string()))?;
    // Published whatever its age: the stream keeps a record a day at most.
    item.into_event(user_id, time::OffsetDateTime::UNIX_EPOCH)
}
