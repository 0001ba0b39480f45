//! Customer preference center: the explicit half of personalization.
//!
//! - [`center`]: what the merchant offers (size categories, interests, frequencies, texts).
//! - [`prefs`]: what each shopper chose, their consent, and the append-only history of every
//!   change (storefront, admin or store webhook).
//! - [`saved`]: filled personalizations a shopper keeps for reuse on other products.
//!
//! For recommendations: [`personalization_allowed`] and [`explicit_for`]. Personalization
//! consent that was never given counts as **not given**.

pub mod center;
pub mod prefs;
pub mod saved;

pub use prefs::{Explicit, Source, explicit_for, personalization_allowed};

/// `^[a-z0-9_]{1,40}$`, the contract's key syntax.
pub fn is_key(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 40
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_the_contract_syntax() {
        assert!(is_key("shirt_size_2"));
        assert!(!is_key(""));
        assert!(!is_key("Shirt"));
        assert!(!is_key("a-b"));
        assert!(!is_key(&"a".repeat(41)));
    }
}
