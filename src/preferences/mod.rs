//! Customer preference center: the explicit half of personalization.
//!
//! - [`center`]: what the merchant offers (size categories, interests, frequencies, texts).
//! - [`prefs`]: what each shopper chose, their consent, and the append-only history of every
//!   change (storefront, admin or store webhook).
//! - [`saved`]: filled personalizations a shopper keeps for reuse on other products.
//! - [`wishlist`]: products a shopper keeps to come back to (merged from the browser on login).
//! - [`questions`]: the merchant's zero-party questions and shoppers' answers (a quiz), which
//!   are preferences too: history, mapped interests and sizes, taste signals.
//!
//! For recommendations: [`personalization_allowed`] and [`explicit_for`]. Personalization
//! consent that was never given counts as **not given**.

pub mod center;
pub mod prefs;
pub mod questions;
pub mod saved;
pub mod wishlist;

pub use prefs::{Explicit, Source, explicit_for, personalization_allowed};

/// The contract's key rule for size categories, interests and frequencies: 1 to 64 characters
/// of `a-z`, `0-9`, `_` and `-`, so a collection handle such as `home-decor` can be an interest
/// key as it is.
pub fn is_key(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// Keys of the preference center's texts: names the widget looks its strings up by, not
/// merchant data, so they keep the field-key syntax `^[a-z0-9_]{1,40}$`.
pub fn is_text_key(s: &str) -> bool {
    (1..=40).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_the_contract_syntax() {
        assert!(is_key("shirt_size_2"));
        assert!(is_key("home-decor"));
        assert!(is_key(&"a".repeat(64)));
        assert!(!is_key(""));
        assert!(!is_key("Shirt"));
        assert!(!is_key("a b"));
        assert!(!is_key(&"a".repeat(65)));
        assert!(is_text_key("heading"));
        assert!(!is_text_key("a-b"));
        assert!(!is_text_key(&"a".repeat(41)));
    }
}
