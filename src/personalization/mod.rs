//! Product personalization (issue: personalization): templates of fields merchants define,
//! validation of what shoppers enter, the price add-on, and the `_atelier` signature that lets
//! the order webhook prove nothing was altered in the cart.
//!
//! This module is pure (no database, no HTTP) so its rules are unit-tested and fast; the routes
//! and storage (template versions, uploads, order verification) build on it.

pub mod decimal;
pub mod preview;
pub mod settings;
pub mod signature;
pub mod store;
pub mod template;
pub mod values;
pub mod verify;

pub use template::{FieldDef, FieldType, parse_fields};
pub use values::{Accepted, BlockedWords, CompiledTemplate, validate};
