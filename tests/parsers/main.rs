//! Property tests of every parser of untrusted input: what a shopper, a merchant's browser or
//! a forged Shopify request can send. Each property runs `PROPTEST_CASES` cases (256 unless
//! set); `fuzz/run` drives the same parsers for longer with mutated inputs.

mod arb;
mod delivery;
mod export;
mod extensions;
mod numbers;
mod personalization;
mod preferences;
mod shopify;
