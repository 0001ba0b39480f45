//! One integration-test binary: every test starts the real server on a random port against its
//! own database and talks HTTP to it.

mod auth;
mod compliance;
mod crash;
mod demo;
mod health;
mod helpers;
mod personalization;
mod preferences;
mod production;
mod recommendations;
mod rotation;
mod session;
mod startup;
mod webhooks;
