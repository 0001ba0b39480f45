//! The product's price table: what the Cart Transform function knows about a personalized
//! product. The server writes it as the app-owned JSON metafield `$app:atelier.prices` of every
//! product a template is assigned to, each time a template is saved; the function reads it from
//! its input.
//!
//! ```json
//! {"v":1,"digits":2,"fee_variant":"gid://shopify/ProductVariant/8900000001",
//!  "versions":[{"template":"k3j…","version":4,"amounts":[0,500,750,1250]},
//!              {"template":"k3j…","version":3,"max":90000}]}
//! ```
//!
//! - `digits`: decimals of the minor units the add-ons are in (the shop currency's cents).
//! - `fee_variant`: the product variant that carries the add-on at checkout.
//! - `versions`: the template versions a cart may still carry for this product (the current one
//!   and the two before it, for carts made before an edit), each with every add-on its
//!   selections can produce (`amounts`, ascending), or only the largest (`max`) when there are
//!   too many to list. The amounts are an over-approximation (conditions are not followed), so
//!   an add-on the server signed is always among them.

use serde::{Deserialize, Serialize};

use crate::money::{self, Overflow};
use crate::signed::SignedText;

/// The layout version of the table.
pub const VERSION: u32 = 1;
/// The metafield holding the table (the `$app:` prefix makes it app-owned: only this app can
/// write it, and only this app's function reads it).
pub const NAMESPACE: &str = "$app:atelier";
pub const KEY: &str = "prices";
/// Distinct add-ons listed per version before only the maximum is kept. The table travels in
/// the function's input once per cart line, and that input is size-limited: a few versions of a
/// few dozen amounts keep it near a kilobyte.
pub const MAX_AMOUNTS: usize = 64;
/// Versions of a template listed for a product: the current one and those before it.
pub const MAX_VERSIONS: usize = 3;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceTable {
    pub v: u32,
    pub digits: u32,
    pub fee_variant: String,
    pub versions: Vec<VersionPrices>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionPrices {
    pub template: String,
    pub version: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amounts: Option<Vec<i64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<i64>,
}

/// A field as pricing sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PricedField {
    /// Charged when the field is visible and filled.
    pub price_cents: Option<i64>,
    /// The prices of its options (select and swatch fields), empty otherwise.
    pub option_prices: Vec<i64>,
    /// Required and unconditional: always filled in an accepted submission.
    pub always_filled: bool,
}

/// What one visible, filled field adds: its own price and its chosen option's. The only place
/// a field's charge is computed (the personalize answer, reconciliation, the price table).
pub fn field_charge(field_price: Option<i64>, option_price: i64) -> Result<i64, Overflow> {
    money::add(field_price.unwrap_or(0), option_price)
}

/// The add-on of a line: the unit add-on times the quantity.
pub fn line_add_on(unit: i64, quantity: i64) -> Result<i64, Overflow> {
    money::times(unit, quantity.max(0))
}

/// Every add-on a version's selections can produce, or `Err(max)` when they are more than
/// [`MAX_AMOUNTS`].
fn achievable(fields: &[PricedField]) -> Result<Vec<i64>, i64> {
    let mut set: Vec<i64> = vec![0];
    let mut max: i64 = 0;
    let mut listed = true;
    for f in fields {
        let mut choices: Vec<i64> = if f.option_prices.is_empty() {
            vec![field_charge(f.price_cents, 0).unwrap_or(i64::MAX)]
        } else {
            f.option_prices
                .iter()
                .map(|o| field_charge(f.price_cents, *o).unwrap_or(i64::MAX))
                .collect()
        };
        if !f.always_filled {
            choices.push(0);
        }
        max = max.saturating_add(choices.iter().copied().max().unwrap_or(0));
        if listed {
            let mut next: Vec<i64> = set
                .iter()
                .flat_map(|s| choices.iter().map(move |c| s.saturating_add(*c)))
                .collect();
            next.sort_unstable();
            next.dedup();
            if next.len() > MAX_AMOUNTS {
                listed = false;
            } else {
                set = next;
            }
        }
    }
    if listed { Ok(set) } else { Err(max) }
}

/// The prices of one template version.
pub fn version_prices(template: &str, version: i64, fields: &[PricedField]) -> VersionPrices {
    let (amounts, max) = match achievable(fields) {
        Ok(set) => (Some(set), None),
        Err(max) => (None, Some(max)),
    };
    VersionPrices {
        template: template.to_owned(),
        version,
        amounts,
        max,
    }
}

impl PriceTable {
    pub fn new(digits: u32, fee_variant: String, versions: Vec<VersionPrices>) -> Self {
        PriceTable {
            v: VERSION,
            digits,
            fee_variant,
            versions,
        }
    }

    /// The metafield value.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads a metafield value; `None` for anything that is not a table of this layout.
    pub fn parse(json: &str) -> Option<PriceTable> {
        serde_json::from_str::<PriceTable>(json)
            .ok()
            .filter(|t| t.v == VERSION && t.digits <= 4 && !t.fee_variant.is_empty())
    }

    /// Whether a value names a version this product offers and an add-on that version can
    /// produce.
    pub fn allows(&self, signed: &SignedText<'_>) -> bool {
        self.versions.iter().any(|v| {
            v.template == signed.template_id
                && v.version == signed.version
                && signed.price_cents >= 0
                && match (&v.amounts, v.max) {
                    (Some(amounts), _) => amounts.binary_search(&signed.price_cents).is_ok(),
                    (None, Some(max)) => signed.price_cents <= max,
                    (None, None) => false,
                }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(price: Option<i64>, options: &[i64], always: bool) -> PricedField {
        PricedField {
            price_cents: price,
            option_prices: options.to_vec(),
            always_filled: always,
        }
    }

    fn signed(template: &str, version: i64, cents: i64) -> SignedText<'_> {
        SignedText {
            template_id: template,
            version,
            price_cents: cents,
            mac: "",
        }
    }

    #[test]
    fn amounts_are_every_sum_the_selections_can_make() {
        // Engraving (required, 5.00), font (0 or 2.50), gift wrap (optional 3.00).
        let v = version_prices(
            "t",
            2,
            &[
                field(Some(500), &[], true),
                field(None, &[0, 250], false),
                field(Some(300), &[], false),
            ],
        );
        assert_eq!(v.amounts, Some(vec![500, 750, 800, 1050]));
        let table = PriceTable::new(2, "gid://shopify/ProductVariant/9".into(), vec![v]);
        for ok in [500, 750, 800, 1050] {
            assert!(table.allows(&signed("t", 2, ok)), "{ok}");
        }
        for refused in [
            signed("t", 2, 0),
            signed("t", 2, 1),
            signed("t", 2, 2000),
            signed("t", 2, -500),
            signed("t", 1, 500),
            signed("u", 2, 500),
        ] {
            assert!(!table.allows(&refused), "{refused:?}");
        }
        let back = PriceTable::parse(&table.to_json()).unwrap();
        assert_eq!(back, table);
    }

    #[test]
    fn too_many_amounts_keep_the_maximum() {
        let fields: Vec<PricedField> = (0..12).map(|i| field(Some(1 << i), &[], false)).collect();
        let v = version_prices("t", 1, &fields);
        assert_eq!((v.amounts.as_ref(), v.max), (None, Some(4095)));
        let table = PriceTable::new(2, "gid://shopify/ProductVariant/9".into(), vec![v]);
        assert!(table.allows(&signed("t", 1, 4095)));
        assert!(table.allows(&signed("t", 1, 17)));
        assert!(!table.allows(&signed("t", 1, 4096)));
        let json = table.to_json();
        assert!(!json.contains("amounts"), "{json}");
    }

    #[test]
    fn foreign_or_broken_tables_are_not_tables() {
        for bad in [
            "",
            "null",
            "[]",
            r#"{"v":2,"digits":2,"fee_variant":"x","versions":[]}"#,
            r#"{"v":1,"digits":9,"fee_variant":"x","versions":[]}"#,
            r#"{"v":1,"digits":2,"fee_variant":"","versions":[]}"#,
            r#"{"v":1,"digits":2,"versions":[]}"#,
        ] {
            assert_eq!(PriceTable::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn charges_are_checked() {
        assert_eq!(field_charge(Some(500), 250), Ok(750));
        assert_eq!(field_charge(None, 0), Ok(0));
        assert_eq!(field_charge(Some(i64::MAX), 1), Err(Overflow));
        assert_eq!(line_add_on(750, 3), Ok(2250));
        assert_eq!(line_add_on(750, -1), Ok(0));
        assert_eq!(line_add_on(i64::MAX, 2), Err(Overflow));
    }
}
