//! Product personalization: templates of fields merchants define, validation of what shoppers
//! enter, the price add-on, and the `_atelier` signature that lets the order webhook prove
//! nothing was altered in the cart.
//!
//! The rules (`template`, `values`, `decimal`, `signature`, `verify`, `preview`) are pure — no
//! database, no HTTP — so they are unit-tested and fast; `store` (template versions and their
//! product assignments) and `policy` (the shop's blocked words and fee product) own this domain's queries.

pub mod checkout;
pub mod decimal;
pub mod policy;
pub mod preview;
pub mod signature;
pub mod store;
pub mod template;
pub mod values;
pub mod verify;
pub mod versions;

pub use template::{FieldDef, FieldType, parse_fields};
pub use values::{Accepted, BlockedWords, CompiledTemplate, validate};
