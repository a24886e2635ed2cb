//! The machine's argon2id limit: verifications per second with every core
//! busy, at the default cost (m=19456 KiB, t=2, p=1). `scripts/bench.py`
//! sets login throughput beside it. Prints one line: `<per second> <cores>`.
//!
//! cargo run --release -p latchkey --example argon2_limit -- [seconds]

use std::time::{Duration, Instant};

use latchkey::config::Argon2Params;
use latchkey::domain::Password;
use latchkey::services::passwords;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let seconds: u64 = std::env::args()
        .nth(1)
        .map(|text| text.parse())
        .transpose()?
        .unwrap_or(5);
    let cores = std::thread::available_parallelism()?.get();
    let password = Password::candidate("correct horse battery staple").ok_or("empty password")?;
    let phc = passwords::hash(password.clone(), Argon2Params::default()).await?;
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    // One worker per core, each verifying back to back on the blocking pool.
    let workers: Vec<_> = (0..cores)
        .map(|_| {
            let (password, phc) = (password.clone(), phc.clone());
            tokio::spawn(async move {
                let mut done = 0u64;
                while Instant::now() < deadline {
                    if passwords::verify(password.clone(), phc.clone()).await? {
                        done += 1;
                    }
                }
                Ok::<u64, passwords::HashError>(done)
            })
        })
        .collect();
    let mut total = 0;
    for worker in workers {
        total += worker.await??;
    }
    let rate = total as f64 / started.elapsed().as_secs_f64();
    println!("{rate:.1} {cores}");
    Ok(())
}
