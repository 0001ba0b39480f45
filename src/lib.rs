//! Atelier: the backend of a Shopify app for product personalization, a customer preference
//! center and recommendations. `main.rs` is a thin shell over this library; the tests build the
//! same application.

pub mod cache;
pub mod cli;
pub mod collections;
pub mod compliance;
pub mod config;
pub mod crypto;
pub mod customers;
pub mod db;
#[cfg(feature = "demo")]
pub mod demo;
pub mod error;
pub mod followups;
pub mod inbox;
pub mod input;
pub mod jobs;
pub mod limits;
pub mod money;
pub mod orders;
pub mod personalization;
pub mod preferences;
pub mod products;
pub mod recommendations;
pub mod routes;
pub mod shopify;
pub mod shops;
pub mod startup;
pub mod state;
pub mod sync;
pub mod telemetry;
pub mod theme;
pub mod uploads;
pub mod writeback;
