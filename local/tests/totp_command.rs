//! The `totp` command README's second-factor session uses.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use latchkey::domain::TotpSecret;

#[test]
fn it_prints_the_code_the_server_accepts_now_and_refuses_what_is_not_a_secret() {
    let secret = TotpSecret::generate().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_totp"))
        .arg(secret.base32())
        .output()
        .unwrap();
    assert!(output.status.success());
    let code = String::from_utf8(output.stdout).unwrap();
    assert!(
        secret
            .matching_step(code.trim(), time::OffsetDateTime::now_utc())
            .is_some(),
        "{code}"
    );
    for bad in [&["not-base32!"][..], &[], &["A", "B"]] {
        let output = Command::new(env!("CARGO_BIN_EXE_totp"))
            .args(bad)
            .output()
            .unwrap();
        assert!(!output.status.success(), "{bad:?}");
    }
}
