//! Recommendations: `complementary` (co-purchase, shrunk cosine), `related`
//! (co-views/co-carts blended with catalogue content), `for_you` (item-kNN over the shoppers'
//! purchases, and explicit preferences, only with consent) and `trending` (time-decayed popularity), learned
//! incrementally from orders and storefront events. See README "Recommendations".

pub mod analytics;
pub mod consent;
pub mod daily;
pub mod experiments;
pub mod model;
pub mod pixel;
pub mod scoring;
pub mod serve;
pub mod steering;

pub use model::{apply_order, redact_customer};
pub use serve::{Intent, Rec, Recommender};
