//! What the Cart Transform function does with a cart: each personalized line whose product has
//! a price table, and whose `_atelier` value names a version and add-on that table offers, is
//! expanded into two components at fixed prices per unit:
//!
//! 1. the personalized variant itself, at the line's own unit price (unchanged), carrying the
//!    line's `_atelier` value;
//! 2. the product's fee variant, at the add-on converted into the cart's presentment currency,
//!    carrying `_atelier_fee` = the line's `_atelier` value, exactly as a fee line added by the
//!    theme would, so reconciliation reads the order the same way.
//!
//! Each component has quantity 1 per unit of the line, so the shopper cannot remove the add-on
//! or change its quantity apart from the product. Every other line is left alone, with the
//! reason ([`Skip`]); an add-on the function did not charge is still caught when the order
//! arrives (reconciliation, `underpaid`).
//!
//! Rounding: the add-on is converted per unit, `add-on × rate`, to the presentment currency's
//! minor units, half away from zero; a line of quantity `q` pays `q ×` that unit amount.

use crate::money::{self, Rate};
use crate::signed::{self, FEE_PROPERTY, PROPERTY};
use crate::table::PriceTable;

/// One cart line, as the function's input (or the demo cart) gives it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Line<'a> {
    pub id: &'a str,
    pub quantity: i64,
    /// The variant's GID; `None` for merchandise that is not a product variant.
    pub variant_id: Option<&'a str>,
    /// The unit price in the presentment currency, as decimal text.
    pub unit_price: &'a str,
    /// The presentment currency (ISO 4217).
    pub currency: &'a str,
    /// The `_atelier` attribute.
    pub signature: Option<&'a str>,
    /// The `_atelier_fee` attribute: this line pays the add-on of that value.
    pub fee_for: Option<&'a str>,
    /// The product's price table metafield (JSON text).
    pub table: Option<&'a str>,
}

/// A component of an expanded line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Component {
    pub merchandise_id: String,
    /// Per unit of the expanded line.
    pub quantity: i64,
    /// The fixed price per unit, in minor units of the presentment currency.
    pub unit_minor: i64,
    /// Decimals of the presentment currency.
    pub digits: u32,
    pub attributes: Vec<(String, String)>,
}

impl Component {
    /// The fixed price per unit as decimal text (what the function answers).
    pub fn amount(&self) -> String {
        money::format_minor(self.unit_minor, self.digits)
    }
}

/// A line expanded into the product and its add-on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expansion {
    pub cart_line_id: String,
    pub product: Component,
    pub add_on: Component,
}

impl Expansion {
    /// What one unit of the line costs after the expansion, in presentment minor units.
    pub fn unit_total(&self) -> Option<i64> {
        self.product.unit_minor.checked_add(self.add_on.unit_minor)
    }
}

/// Why a line is left alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// No `_atelier` attribute.
    NotPersonalized,
    /// The line pays another line's add-on (`_atelier_fee`), or is the fee variant itself.
    FeeLine,
    /// Not a product variant.
    NotAVariant,
    /// `_atelier` is not a value Atelier writes.
    Malformed,
    /// The product has no price table, or one this function cannot read.
    NoPriceTable,
    /// The table offers no such version, or that version cannot produce this add-on.
    NotOffered,
    /// A fee line for this value is in the cart already: it pays the add-on.
    PaidByFeeLine,
    /// The selections cost nothing extra.
    NoAddOn,
    /// The unit price or quantity is unreadable, or an amount is out of range.
    OutOfRange,
}

/// Shopify's largest quantity of an expanded component.
const MAX_COMPONENT_QUANTITY: i64 = 2000;

/// Plans every line of a cart with the cart's presentment currency rate (decimal text).
/// With an unreadable rate nothing is converted, so nothing is expanded.
pub fn plan(lines: &[Line<'_>], rate: &str) -> Vec<Result<Expansion, Skip>> {
    let rate = Rate::parse(rate);
    let paid: Vec<&str> = lines
        .iter()
        .filter_map(|l| l.fee_for)
        .map(str::trim)
        .collect();
    lines
        .iter()
        .map(|line| match rate {
            Some(rate) => plan_line(line, &paid, rate),
            None => Err(line
                .signature
                .map_or(Skip::NotPersonalized, |_| Skip::OutOfRange)),
        })
        .collect()
}

/// The expansions of a cart (the function's operations), in line order.
pub fn expansions(lines: &[Line<'_>], rate: &str) -> Vec<Expansion> {
    plan(lines, rate)
        .into_iter()
        .filter_map(Result::ok)
        .collect()
}

fn plan_line(line: &Line<'_>, paid: &[&str], rate: Rate) -> Result<Expansion, Skip> {
    let raw = line.signature.ok_or(Skip::NotPersonalized)?.trim();
    if line.fee_for.is_some() {
        return Err(Skip::FeeLine);
    }
    let variant = line.variant_id.ok_or(Skip::NotAVariant)?;
    let signed = signed::parse(raw).ok_or(Skip::Malformed)?;
    let table = line
        .table
        .and_then(PriceTable::parse)
        .ok_or(Skip::NoPriceTable)?;
    if !table.allows(&signed) {
        return Err(Skip::NotOffered);
    }
    if paid.contains(&raw) {
        return Err(Skip::PaidByFeeLine);
    }
    if signed.price_cents == 0 {
        return Err(Skip::NoAddOn);
    }
    if variant == table.fee_variant {
        return Err(Skip::FeeLine);
    }
    if !(1..=MAX_COMPONENT_QUANTITY).contains(&line.quantity) {
        return Err(Skip::OutOfRange);
    }
    let digits = money::minor_unit_digits(line.currency);
    let unit = money::parse_minor(line.unit_price, digits)
        .filter(|u| *u >= 0)
        .ok_or(Skip::OutOfRange)?;
    let add_on = money::convert(signed.price_cents, table.digits, rate, digits)
        .filter(|a| *a > 0)
        .ok_or(Skip::OutOfRange)?;
    unit.checked_add(add_on).ok_or(Skip::OutOfRange)?;
    Ok(Expansion {
        cart_line_id: line.id.to_owned(),
        product: Component {
            merchandise_id: variant.to_owned(),
            quantity: 1,
            unit_minor: unit,
            digits,
            attributes: vec![(PROPERTY.to_owned(), raw.to_owned())],
        },
        add_on: Component {
            merchandise_id: table.fee_variant.clone(),
            quantity: 1,
            unit_minor: add_on,
            digits,
            attributes: vec![(FEE_PROPERTY.to_owned(), raw.to_owned())],
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::{PricedField, version_prices};

    const MAC: &str = "Xq3Sg8Lk0VfW2nYb7cT1uQ9pR5mZ4hJ6eA0dK2sN8wE";
    const FEE: &str = "gid://shopify/ProductVariant/8900000001";
    const RING: &str = "gid://shopify/ProductVariant/101";

    fn table() -> String {
        let fields = [
            PricedField {
                price_cents: Some(500),
                option_prices: vec![],
                always_filled: true,
            },
            PricedField {
                price_cents: None,
                option_prices: vec![0, 250],
                always_filled: false,
            },
        ];
        PriceTable::new(2, FEE.into(), vec![version_prices("tpl", 2, &fields)]).to_json()
    }

    fn line<'a>(sig: Option<&'a str>, table: Option<&'a str>) -> Line<'a> {
        Line {
            id: "gid://shopify/CartLine/1",
            quantity: 2,
            variant_id: Some(RING),
            unit_price: "20.00",
            currency: "USD",
            signature: sig,
            fee_for: None,
            table,
        }
    }

    #[test]
    fn a_personalized_line_becomes_product_and_add_on() {
        let t = table();
        let sig = signed::format("tpl", 2, 750, MAC);
        let plan = plan(&[line(Some(&sig), Some(&t))], "1.0");
        let e = plan[0].as_ref().unwrap();
        assert_eq!(e.product.merchandise_id, RING);
        assert_eq!(
            (e.product.amount(), e.product.quantity),
            ("20.00".into(), 1)
        );
        assert_eq!(e.add_on.merchandise_id, FEE);
        assert_eq!(e.add_on.amount(), "7.50");
        assert_eq!(
            e.add_on.attributes,
            vec![("_atelier_fee".to_owned(), sig.clone())]
        );
        assert_eq!(e.unit_total(), Some(2750));
    }

    #[test]
    fn converted_into_the_presentment_currency() {
        let t = table();
        let sig = signed::format("tpl", 2, 750, MAC);
        let mut l = line(Some(&sig), Some(&t));
        l.unit_price = "27.37";
        l.currency = "CAD";
        // 7.50 × 1.3684 = 10.263 → 10.26.
        let e = plan(&[l.clone()], "1.3684").remove(0).unwrap();
        assert_eq!(
            (e.product.amount(), e.add_on.amount()),
            ("27.37".into(), "10.26".into())
        );
        l.currency = "JPY";
        l.unit_price = "3027";
        // 7.50 × 151.37 = 1135.275 → ¥1135.
        let e = plan(&[l], "151.37").remove(0).unwrap();
        assert_eq!(
            (e.product.amount(), e.add_on.amount()),
            ("3027".into(), "1135".into())
        );
    }

    #[test]
    fn everything_else_is_left_alone() {
        let t = table();
        let sig = signed::format("tpl", 2, 750, MAC);
        let cheap = signed::format("tpl", 2, 1, MAC);
        let old = signed::format("tpl", 1, 750, MAC);
        let free = signed::format("tpl", 2, 0, MAC);
        let check = |lines: &[Line<'_>], rate: &str| plan(lines, rate).remove(0).unwrap_err();
        assert_eq!(check(&[line(None, Some(&t))], "1"), Skip::NotPersonalized);
        assert_eq!(
            check(&[line(Some("v1.tpl.2.750.bad"), Some(&t))], "1"),
            Skip::Malformed
        );
        assert_eq!(check(&[line(Some(&sig), None)], "1"), Skip::NoPriceTable);
        assert_eq!(
            check(&[line(Some(&sig), Some("{}"))], "1"),
            Skip::NoPriceTable
        );
        assert_eq!(
            check(&[line(Some(&cheap), Some(&t))], "1"),
            Skip::NotOffered
        );
        assert_eq!(check(&[line(Some(&old), Some(&t))], "1"), Skip::NotOffered);
        // A required 5.00 field: 0 is not an add-on this version makes.
        assert_eq!(check(&[line(Some(&free), Some(&t))], "1"), Skip::NotOffered);
        assert_eq!(
            check(&[line(Some(&sig), Some(&t))], "nope"),
            Skip::OutOfRange
        );
        let mut custom = line(Some(&sig), Some(&t));
        custom.variant_id = None;
        assert_eq!(check(&[custom], "1"), Skip::NotAVariant);
        let mut many = line(Some(&sig), Some(&t));
        many.quantity = 2001;
        assert_eq!(check(&[many], "1"), Skip::OutOfRange);
        let mut fee_variant = line(Some(&sig), Some(&t));
        fee_variant.variant_id = Some(FEE);
        assert_eq!(check(&[fee_variant], "1"), Skip::FeeLine);
        // The theme added a fee line for it: that line pays, the function adds nothing.
        let fee_line = Line {
            id: "gid://shopify/CartLine/2",
            quantity: 1500,
            variant_id: Some(FEE),
            unit_price: "0.01",
            currency: "USD",
            signature: None,
            fee_for: Some(&sig),
            table: None,
        };
        let both = plan(&[line(Some(&sig), Some(&t)), fee_line], "1");
        assert_eq!(both[0], Err(Skip::PaidByFeeLine));
        assert_eq!(both[1], Err(Skip::NotPersonalized));
    }
}
