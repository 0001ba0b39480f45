//! What the merchant's admin reads beyond the contract's lists: product search over the synced
//! catalogue, webhook health and the setup checklist, template version history with the orders
//! that pinned each version, analytics per day, and the production queue with its filters.

pub mod analytics;
pub mod health;
pub mod production;
pub mod products;
pub mod versions;
