//! Atelier's Cart Transform function (`cart.transform.run`): a personalized cart line is expanded
//! into the product and its add-on at fixed prices per unit, so checkout charges the add-on the
//! product page showed and the shopper cannot remove it or change its quantity on its own.
//!
//! Every decision is `atelier_pricing::transform`, the same code the server runs for the demo
//! cart and whose pieces price the personalize answer and reconciliation; this file only moves
//! Shopify's input into it and its plan into Shopify's output.

use std::process;

use atelier_pricing::transform::{self, Component, Expansion, Line};
use shopify_function::Result;
use shopify_function::prelude::*;

#[typegen("./schema.graphql")]
pub mod schema {
    #[query("./src/cart_transform_run.graphql")]
    pub mod cart_transform_run {}
}

use schema::cart_transform_run::input::cart::lines::Merchandise;

#[shopify_function]
fn cart_transform_run(
    input: schema::cart_transform_run::Input,
) -> Result<schema::CartTransformRunResult> {
    let rate = input.presentment_currency_rate().to_string();
    // Owned texts first: the plan borrows from them.
    let texts: Vec<LineText> = input
        .cart()
        .lines()
        .iter()
        .map(|line| {
            let (variant_id, table) = match line.merchandise() {
                Merchandise::ProductVariant(v) => (
                    Some(v.id().clone()),
                    v.product().prices().map(|m| m.value().clone()),
                ),
                _ => (None, None),
            };
            let cost = line.cost().amount_per_quantity();
            LineText {
                id: line.id().clone(),
                quantity: i64::from(*line.quantity()),
                variant_id,
                unit_price: cost.amount().to_string(),
                currency: cost.currency_code().clone(),
                signature: line.atelier().and_then(|a| a.value().cloned()),
                fee_for: line.atelier_fee().and_then(|a| a.value().cloned()),
                table,
            }
        })
        .collect();
    let lines: Vec<Line<'_>> = texts.iter().map(LineText::as_line).collect();
    let operations = transform::expansions(&lines, &rate)
        .into_iter()
        .map(operation)
        .collect();
    Ok(schema::CartTransformRunResult { operations })
}

/// A cart line's values as owned text.
struct LineText {
    id: String,
    quantity: i64,
    variant_id: Option<String>,
    unit_price: String,
    currency: String,
    signature: Option<String>,
    fee_for: Option<String>,
    table: Option<String>,
}

impl LineText {
    fn as_line(&self) -> Line<'_> {
        Line {
            id: &self.id,
            quantity: self.quantity,
            variant_id: self.variant_id.as_deref(),
            unit_price: &self.unit_price,
            currency: &self.currency,
            signature: self.signature.as_deref(),
            fee_for: self.fee_for.as_deref(),
            table: self.table.as_deref(),
        }
    }
}

fn operation(e: Expansion) -> schema::Operation {
    schema::Operation::LineExpand(schema::LineExpandOperation {
        cart_line_id: e.cart_line_id,
        expanded_cart_items: vec![item(e.product), item(e.add_on)],
        image: None,
        price: None,
        title: None,
    })
}

fn item(c: Component) -> schema::ExpandedItem {
    let amount = c.amount();
    schema::ExpandedItem {
        merchandise_id: c.merchandise_id,
        quantity: c.quantity as i32,
        price: Some(schema::ExpandedItemPriceAdjustment {
            adjustment: schema::ExpandedItemPriceAdjustmentValue::FixedPricePerUnit(
                schema::ExpandedItemFixedPricePerUnitAdjustment {
                    // Exact for any amount below 2^53 minor units: the shortest text of the
                    // nearest double is the decimal text itself.
                    amount: Decimal(amount.parse().unwrap_or(0.0)),
                },
            ),
        }),
        attributes: Some(
            c.attributes
                .into_iter()
                .map(|(key, value)| schema::AttributeOutput { key, value })
                .collect(),
        ),
    }
}

fn main() {
    log!("Invoke a named export");
    process::abort()
}

#[cfg(test)]
mod tests;
