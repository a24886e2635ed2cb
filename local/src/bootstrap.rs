//! `--bootstrap`: creates what the AWS path needs when it is missing: the
//! table, an asymmetric signing key with its alias, and the verified sender
//! identity. Meant for emulators such as `moto_server`; real deployments get
//! these from `template.yaml`.

use anyhow::Context as _;
use aws_sdk_kms::types::{KeySpec, KeyUsageType};
use latchkey::Config;
use latchkey::adapters::dynamodb::DynamoStore;
use latchkey::ports::SigningAlgorithm;

pub const LOCAL_KEY_ALIAS: &str = "alias/latchkey-local";

/// Provisions everything and returns the key id to sign with.
pub async fn provision(sdk: &aws_config::SdkConfig, config: &Config) -> anyhow::Result<String> {
    DynamoStore::new(aws_sdk_dynamodb::Client::new(sdk), &config.table_name)
        .create_table_if_missing()
        .await
        .context("cannot create the table")?;
    let key_id = signing_key(&aws_sdk_kms::Client::new(sdk), config).await?;
    sender_identity(&aws_sdk_sesv2::Client::new(sdk), &config.mail_from).await?;
    Ok(key_id)
}

/// The key behind the configured alias, made (with the alias) if absent.
async fn signing_key(kms: &aws_sdk_kms::Client, config: &Config) -> anyhow::Result<String> {
    let alias = if config.kms_key_id.starts_with("alias/") {
        config.kms_key_id.clone()
    } else {
        // A key id or ARN was configured: use it as it is.
        return Ok(config.kms_key_id.clone());
    };
    let aliases = kms
        .list_aliases()
        .send()
        .await
        .context("cannot list KMS aliases")?;
    if let Some(key_id) = aliases
        .aliases()
        .iter()
        .find(|entry| entry.alias_name() == Some(alias.as_str()))
        .and_then(|entry| entry.target_key_id())
    {
        return Ok(key_id.to_owned());
    }
    let spec = match config.signing_algorithm {
        SigningAlgorithm::RS256 => KeySpec::Rsa2048,
        SigningAlgorithm::ES256 => KeySpec::EccNistP256,
    };
    let created = kms
        .create_key()
        .key_spec(spec)
        .key_usage(KeyUsageType::SignVerify)
        .description("latchkey access-token signing key")
        .send()
        .await
        .context("cannot create the KMS key")?;
    let key_id = created
        .key_metadata()
        .map(|metadata| metadata.key_id().to_owned())
        .context("KMS returned no key id")?;
    kms.create_alias()
        .alias_name(&alias)
        .target_key_id(&key_id)
        .send()
        .await
        .context("cannot create the KMS alias")?;
    tracing::info!(%alias, %key_id, "created signing key");
    Ok(key_id)
}

async fn sender_identity(ses: &aws_sdk_sesv2::Client, mail_from: &str) -> anyhow::Result<()> {
    // `Name <address>` or a bare address: SES verifies the address.
    let address = mail_from
        .rsplit_once('<')
        .map(|(_, rest)| rest.trim_end_matches('>'))
        .unwrap_or(mail_from)
        .trim();
    match ses
        .create_email_identity()
        .email_identity(address)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(error)
            if aws_sdk_sesv2::error::ProvideErrorMetadata::code(&error)
                == Some("AlreadyExistsException") =>
        {
            Ok(())
        }
        Err(error) => Err(error).context("cannot create the sender identity"),
    }
}
