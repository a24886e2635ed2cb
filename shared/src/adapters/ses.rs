//! The mailer on SES v2: one `SendEmail` per message, text and HTML parts.

use super::aws::SdkFailure;
use async_trait::async_trait;
use aws_sdk_sesv2::Client;
use aws_sdk_sesv2::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};

use crate::ports::{EmailMessage, MailError, Mailer};

#[derive(Debug, Clone)]
pub struct SesMailer {
    client: Client,
    from: String,
}

impl SesMailer {
    pub fn new(client: Client, from: impl Into<String>) -> Self {
        Self {
            client,
            from: from.into(),
        }
    }
}

fn content(text: &str) -> Result<Content, MailError> {
    Content::builder()
        .data(text)
        .charset("UTF-8")
        .build()
        .map_err(|error| MailError::Failed(Box::new(error)))
}

#[async_trait]
impl Mailer for SesMailer {
    async fn send(&self, message: &EmailMessage) -> Result<(), MailError> {
        let body = Body::builder()
            .text(content(&message.text)?)
            .html(content(&message.html)?)
            .build();
        let simple = Message::builder()
            .subject(content(&message.subject)?)
            .body(body)
            .build();
        self.client
            .send_email()
            .from_email_address(&self.from)
            .destination(Destination::builder().to_addresses(&message.to).build())
            .content(EmailContent::builder().simple(simple).build())
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }

    /// `GetAccount`: a read that needs no message.
    async fn open_connection(&self) {
        if let Err(error) = self.client.get_account().send().await {
            tracing::warn!(error = %error, "SES warm-up read failed");
        }
    }
}

fn classify<E, R>(error: SdkError<E, R>) -> MailError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match super::aws::classify(error) {
        SdkFailure::Throttled(error) => MailError::Throttled(error),
        SdkFailure::Failed(error) => MailError::Failed(error),
    }
}
