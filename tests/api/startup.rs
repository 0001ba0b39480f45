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
