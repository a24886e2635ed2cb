//! `POST /v1/auth/mfa`: `mfa_token`, `method` (`totp`, `recovery_code` or
//! `passkey`), and `code`, or for a passkey `challenge_id` and `credential`
//! (from `POST /v1/auth/passkey/options`): the second step of a sign-in.

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use latchkey::App;
use latchkey::http::forms;
use latchkey::http::views::TokenPairView;
use latchkey::http::{
    ApiError, FieldCode, FieldError, RequestMeta, Validator, json_response, parse_fields,
};
use latchkey::services::mfa::{MfaAnswer, MfaMethod, finish};

pub async fn handle(
    app: &App,
    meta: &RequestMeta,
    request: Request,
) -> Result<Response<Body>, ApiError> {
    let fields = parse_fields(&request)?;
    let mut check = Validator::default();
    let token = check.required(
        "mfa_token",
        fields.text("mfa_token"),
        FieldCode::InvalidValue,
        |text| Ok(text.trim().to_owned()),
    );
    let method = check.required(
        "method",
        fields.text("method"),
        FieldCode::InvalidValue,
        |text| {
            MfaMethod::parse(text.trim())
                .ok_or_else(|| FieldError::new("method", FieldCode::InvalidValue))
        },
    );
    let answer = match method {
        Some(MfaMethod::Passkey) => {
            forms::passkey_answer(&mut check, &fields).map(|(challenge_id, credential)| {
                MfaAnswer::Passkey {
                    challenge_id,
                    credential,
                }
            })
        }
        Some(method) => check
            .required(
                "code",
                fields.text("code"),
                FieldCode::InvalidValue,
                |text| Ok(text.to_owned()),
            )
            .map(|code| {
                if method == MfaMethod::RecoveryCode {
                    MfaAnswer::RecoveryCode(code)
                } else {
                    MfaAnswer::Totp(code)
                }
            }),
        None => None,
    };
    let (token, answer) = check.finish_with(|| Some((token?, answer?)))?;
    let pair = finish(app, &token, &answer, &meta.connection()).await?;
    json_response(StatusCode::OK, &TokenPairView::from(&pair))
}
