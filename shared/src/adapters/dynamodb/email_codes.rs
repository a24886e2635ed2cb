//! `EmailCodeStore` on DynamoDB: one emailed sign-in code per account.

use super::*;

impl DynamoStore {
    /// Spends the account's code if its MAC is `mac` and it is unused and
    /// unexpired.
    fn spend_email_code_write(
        &self,
        user_id: UserId,
        mac: &str,
        now: OffsetDateTime,
    ) -> Result<TransactWriteItem, StoreError> {
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(Self::key(
                records::user_pk(user_id),
                records::EMAIL_CODE,
            )))
            .update_expression("SET used_at = :at")
            .condition_expression(
                "mac = :mac AND attribute_not_exists(used_at) AND expires_at > :now",
            )
            .expression_attribute_values(":mac", AttributeValue::S(mac.to_owned()))
            .expression_attribute_values(":at", timestamp(now)?)
            .expression_attribute_values(":now", number(now.unix_timestamp()))
            .build()
            .map_err(boxed)?;
        Ok(TransactWriteItem::builder().update(update).build())
    }
}

#[async_trait]
impl EmailCodeStore for DynamoStore {
    async fn replace_email_code(&self, code: &EmailSignInCode) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(Self::item(
                records::user_pk(code.user_id),
                records::EMAIL_CODE,
                &EmailCodeItem::new(code),
            )?))
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn attempt_email_code(
        &self,
        user_id: UserId,
        now: OffsetDateTime,
    ) -> Result<Option<EmailSignInCode>, StoreError> {
        let item: Option<EmailCodeItem> = self
            .count_attempt(
                Self::key(records::user_pk(user_id), records::EMAIL_CODE),
                now,
                EMAIL_CODE_ATTEMPTS,
            )
            .await?;
        match item {
            Some(item) => item.into_code(user_id, now),
            None => Ok(None),
        }
    }

    async fn spend_email_code(
        &self,
        user_id: UserId,
        mac: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        match self
            .transact(vec![self.spend_email_code_write(user_id, mac, now)?])
            .await?
        {
            Ok(()) => Ok(true),
            Err(_) => Ok(false),
        }
    }

    async fn sign_in_with_email_code(
        &self,
        mac: &str,
        session: &Session,
        credential: &str,
        now: OffsetDateTime,
    ) -> Result<EmailCodeOutcome, StoreError> {
        let mut writes = vec![self.spend_email_code_write(session.user_id, mac, now)?];
        writes.extend(self.sign_in_writes(session, credential, true, now)?);
        match self.transact(writes).await? {
            Ok(()) => Ok(EmailCodeOutcome::SignedIn),
            Err(reasons) if failed_at(&reasons, 0) => Ok(EmailCodeOutcome::CodeGone),
            Err(reasons) if failed_at(&reasons, 2) => Ok(EmailCodeOutcome::AccountChanged),
            Err(reasons) => Err(StoreError::Backend(
                format!("email-code sign-in not finished: {reasons:?}").into(),
            )),
        }
    }
}
