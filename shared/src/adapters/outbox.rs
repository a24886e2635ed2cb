//! The mailer for local mode: one RFC 5322 `.eml` file per message in
//! `<data-dir>/outbox/`, named so they sort by time, and the link printed to
//! the log so a developer can click through without a mail server. The
//! `.eml` encodes long lines as quoted-printable (`=3D`, soft breaks), so a
//! link copied out of it would be broken: it is also written as it is, to a
//! `.link` file of the same name.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use lettre::Message;
use lettre::message::{Mailbox, MultiPart};

use crate::ports::{EmailMessage, MailError, Mailer};

#[derive(Debug, Clone)]
pub struct OutboxMailer {
    folder: PathBuf,
    from: Mailbox,
}

impl OutboxMailer {
    pub fn new(folder: &Path, from: &str) -> Result<Self, MailError> {
        std::fs::create_dir_all(folder).map_err(|error| MailError::Failed(Box::new(error)))?;
        let from = from
            .parse()
            .map_err(|error| MailError::Failed(Box::new(error)))?;
        Ok(Self {
            folder: folder.to_owned(),
            from,
        })
    }

    pub fn folder(&self) -> &Path {
        &self.folder
    }
}

#[async_trait]
impl Mailer for OutboxMailer {
    async fn send(&self, message: &EmailMessage) -> Result<(), MailError> {
        let failed = |error: Box<dyn std::error::Error + Send + Sync>| MailError::Failed(error);
        let to: Mailbox = message
            .to
            .parse()
            .map_err(|error| failed(Box::new(error)))?;
        let email = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(&message.subject)
            .multipart(MultiPart::alternative_plain_html(
                message.text.clone(),
                message.html.clone(),
            ))
            .map_err(|error| failed(Box::new(error)))?;
        // UUIDv7 file names sort by creation time.
        let path = self.folder.join(format!("{}.eml", uuid::Uuid::now_v7()));
        tokio::fs::write(&path, email.formatted())
            .await
            .map_err(|error| failed(Box::new(error)))?;
        if let Some(link) = &message.link {
            tokio::fs::write(path.with_extension("link"), format!("{link}\n"))
                .await
                .map_err(|error| failed(Box::new(error)))?;
        }
        match &message.link {
            Some(link) => {
                tracing::info!(file = %path.display(), %link, "email written to the outbox")
            }
            None => tracing::info!(file = %path.display(), "email written to the outbox"),
        }
        Ok(())
    }
}
