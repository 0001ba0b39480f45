//! The binary's start-up behaviour: a configuration mistake is one clear line, not a panic.

use std::process::Command;

#[test]
fn production_without_required_secrets_fails_naming_the_variable() {
    let out = Command::new(env!("CARGO_BIN_EXE_atelier"))
        .env_clear()
        .env("ATELIER_ENV", "production")
        .env("SHOPIFY_API_KEY", "key")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("SHOPIFY_API_SECRET is required when ATELIER_ENV=production"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains("RUST_BACKTRACE"), "{stderr}");
}

#[test]
fn a_bad_encryption_key_is_named() {
    let out = Command::new(env!("CARGO_BIN_EXE_atelier"))
        .env_clear()
        .env("TOKEN_ENCRYPTION_KEY", "dG9vIHNob3J0")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("TOKEN_ENCRYPTION_KEY must decode to 32 bytes"),
        "{stderr}"
    );
}

#[test]
fn migration_folders_have_the_same_names_on_both_backends() {
    let names = |backend: &str| {
        let mut v: Vec<String> = std::fs::read_dir(format!(
            "{}/migrations/{backend}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
        v.sort();
        v
    };
    let sqlite = names("sqlite");
    assert!(!sqlite.is_empty());
    assert_eq!(sqlite, names("postgres"));
}

#[test]
fn public_development_defaults_refuse_a_non_loopback_address() {
    let out = exits(
        Command::new(env!("CARGO_BIN_EXE_atelier"))
            .env_clear()
            .env("BIND_ADDR", "0.0.0.0:0"),
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("BIND_ADDR is not a loopback address"),
        "{stderr}"
    );
    assert!(stderr.contains("ATELIER_ENV=production"), "{stderr}");
}

/// A production database reached with a lost environment (no ATELIER_ENV, so development and
/// its public demo secrets) does not start: anyone could sign the installed shop's webhooks.
#[tokio::test]
async fn public_development_defaults_refuse_a_database_with_an_installed_shop() {
    let app = crate::helpers::spawn_app().await;
    let run = |url: String| {
        exits(
            Command::new(env!("CARGO_BIN_EXE_atelier"))
                .env_clear()
                .env("DATABASE_URL", url)
                .env("BIND_ADDR", "127.0.0.1:0")
                .env("LOG_FORMAT", "text"),
        )
    };
    app.install("real-store.myshopify.com").await;
    let url = app.db.url.clone();
    let out = tokio::task::spawn_blocking(move || run(url)).await.unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = stderr
        .lines()
        .find(|l| l.starts_with("atelier: "))
        .unwrap_or_else(|| panic!("no error line: {stderr}"));
    assert!(
        line.contains("refusing to start")
            && line.contains("real-store.myshopify.com")
            && line.contains("ATELIER_ENV=production"),
        "{line}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    // Nothing was seeded beside the real shop.
    assert_eq!(count_demo_shops(&app), 0);
}

fn count_demo_shops(app: &crate::helpers::TestApp) -> i64 {
    use atelier::db::schema::shops;
    use diesel::prelude::*;
    let mut c = app.state.db.conn().unwrap();
    shops::table
        .filter(shops::domain.eq(atelier::config::DEMO_SHOP))
        .count()
        .get_result(&mut c)
        .unwrap()
}

/// Runs the binary and waits for it to exit by itself; one that starts serving instead is
/// killed and the test fails.
fn exits(cmd: &mut Command) -> std::process::Output {
    use std::time::{Duration, Instant};
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            let out = child.wait_with_output().unwrap();
            panic!(
                "started serving instead of refusing: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}
