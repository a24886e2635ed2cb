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
pub const LOCAL_SECRETS_KEY_ALIAS: &str = "alias/latchkey-local-secrets";
pub const LOCAL_CODE_MAC_KEY_ALIAS: &str = "alias/latchkey-local-code-mac";

/// Provisions everything and points `config` at the key ids to sign,
/// seal and hash codes with.
pub async fn provision(sdk: &aws_config::SdkConfig, config: &mut Config) -> anyhow::Result<()> {
    DynamoStore::new(aws_sdk_dynamodb::Client::new(sdk), &config.table_name)
        .create_table_if_missing()
        .await
        .context("cannot create the table")?;
    let kms = aws_sdk_kms::Client::new(sdk);
    let signing_spec = match config.signing_algorithm {
        SigningAlgorithm::RS256 => KeySpec::Rsa2048,
        SigningAlgorithm::ES256 => KeySpec::EccNistP256,
    };
    config.kms_key_id = key(
        &kms,
        &config.kms_key_id,
        signing_spec,
        KeyUsageType::SignVerify,
        "latchkey access-token signing key",
    )
    .await?;
    let secrets_alias = config
        .secrets_key_id
        .clone()
        .unwrap_or_else(|| LOCAL_SECRETS_KEY_ALIAS.to_owned());
    config.secrets_key_id = Some(
        key(
            &kms,
            &secrets_alias,
            KeySpec::SymmetricDefault,
            KeyUsageType::EncryptDecrypt,
            "latchkey secrets-at-rest key",
        )
        .await?,
    );
    let mac_alias = config
        .code_mac_key_id
        .clone()
        .unwrap_or_else(|| LOCAL_CODE_MAC_KEY_ALIAS.to_owned());
    config.code_mac_key_id = Some(
        key(
            &kms,
            &mac_alias,
            KeySpec::Hmac256,
            KeyUsageType::GenerateVerifyMac,
            "latchkey sign-in code MAC key",
        )
        .await?,
    );
    sender_identity(&aws_sdk_sesv2::Client::new(sdk), &config.mail_from).await?;
    Ok(())
}

/// The key behind `alias`, made (with the alias) if absent; a key id or
/// ARN is used as it is.
async fn key(
    kms: &aws_sdk_kms::Client,
    alias: &str,
    spec: KeySpec,
    usage: KeyUsageType,
    description: &str,
) -> anyhow::Result<String> {
    if !alias.starts_with("alias/") {
        return Ok(alias.to_owned());
    }
    let aliases = kms
        .list_aliases()
        .send()
        .await
        .context("cannot list KMS aliases")?;
    if let Some(key_id) = aliases
        .aliases()
        .iter()
        .find(|entry| entry.alias_name() == Some(alias))
        .and_then(|entry| entry.target_key_id())
    {
        return Ok(key_id.to_owned());
    }
    let created = kms
        .create_key()
        .key_spec(spec)
        .key_usage(usage)
        .description(description)
        .send()
        .await
        .context("cannot create the KMS key")?;
    let key_id = created
        .key_metadata()
        .map(|metadata| metadata.key_id().to_owned())
        .context("KMS returned no key id")?;
    kms.create_alias()
        .alias_name(alias)
        .target_key_id(&key_id)
        .send()
        .await
        .context("cannot create the KMS alias")?;
    tracing::info!(%alias, %key_id, description, "created KMS key");
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
