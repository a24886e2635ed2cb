//! `totp SECRET`: prints the code an authenticator app shows now for a
//! base32 TOTP secret (RFC 6238: SHA-1, 6 digits, 30 s), for trying the
//! second step of sign-in from a shell.

use std::process::ExitCode;

use latchkey::domain::TotpSecret;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (Some(secret), None) = (args.next(), args.next()) else {
        eprintln!("usage: totp BASE32_SECRET");
        return ExitCode::FAILURE;
    };
    let Some(secret) = TotpSecret::from_base32(&secret) else {
        eprintln!("error: not a base32 secret of at least 128 bits");
        return ExitCode::FAILURE;
    };
    match secret.code_at(time::OffsetDateTime::now_utc()) {
        Some(code) => {
            println!("{code}");
            ExitCode::SUCCESS
        }
        None => {
            eprintln!("error: no code for this moment");
            ExitCode::FAILURE
        }
    }
}
