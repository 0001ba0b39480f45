//! What a personalized cart line costs, in one place for the two programs that charge it: the
//! Atelier server (the personalize answer, reconciliation of orders, the demo cart) and the Cart
//! Transform function that Shopify runs at checkout. Both compile this crate, so the add-on the
//! storefront shows, the add-on checkout charges and the add-on reconciliation expects cannot
//! drift apart.
//!
//! - [`money`]: integer minor units, checked arithmetic, exact decimal text, currency conversion.
//! - [`signed`]: the text layout of the hidden `_atelier` property (not its proof: the key that
//!   makes the proof never leaves the server).
//! - [`table`]: the product's price table, the app-owned metafield the function reads.
//! - [`transform`]: what the function does with a cart, line by line.

pub mod money;
pub mod signed;
pub mod table;
pub mod transform;

pub use money::Overflow;
pub use table::PriceTable;
