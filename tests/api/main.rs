//! One integration-test binary: every test starts the real server on a random port against its
//! own database and talks HTTP to it.

mod admin;
mod agreement;
mod app_config;
mod assets;
mod auth;
mod checkout;
mod collections;
mod compliance;
mod contract;
mod crash;
mod customer_account;
#[cfg(feature = "demo")]
mod demo;
mod durability;
mod experiments;
mod faults;
mod followups;
mod hardening;
mod health;
mod helpers;
mod hostile;
mod intents;
mod isolation;
mod layout;
mod limits;
mod nul;
mod personalization;
mod pixel;
mod preferences;
mod production;
mod questions;
mod recommendations;
mod rotation;
mod schema;
mod session;
mod startup;
mod webhooks;
mod wishlist;
mod writeback;
