//! What an arriving order proves about its personalized lines (LINE): whether the
//! `_atelier` signature matches the line's properties, the template version it pins, the add-on
//! that version gives for those selections (`expected_cents`) and what the order actually paid
//! for it (`charged_cents`).
//!
//! Nothing in the cart is trusted: the signature only says *which* selections Atelier accepted,
//! and the add-on is recomputed from the pinned version. How the add-on is charged:
//!
//! - **Fee lines** (recommended): the storefront adds a hidden fee product with the personalized
//!   line, carrying the property `_atelier_fee` = the personalized line's `_atelier` value. Each
//!   fee line pays `price × quantity − discounts`; the fee lines linked to a line are summed.
//! - **Line price**: without linked fee lines, what the line paid above the variant's catalog
//!   price (as last synced from the store) counts as the add-on.
//!
//! Verdicts: `ok` (signed and paid in full), `underpaid`, `overpaid`, `altered` (a well-formed
//! signature that does not match the properties, product or shop), `forged` (not a signature
//! Atelier wrote for a template of this shop). `altered`, `forged` and `underpaid` are flagged.

use serde_json::{Map, Value};

use super::signature;
use super::template::FieldType;
use super::values::{BlockedWords, CompiledTemplate, validate};
use crate::money::{self, Overflow};

/// The hidden property linking a fee line (or the add-on component of a line the Cart Transform
/// function expanded) to the personalized line it pays for.
pub use atelier_pricing::signed::FEE_PROPERTY;

pub const VERDICT_OK: &str = "ok";
pub const VERDICT_UNDERPAID: &str = "underpaid";
pub const VERDICT_OVERPAID: &str = "overpaid";
pub const VERDICT_ALTERED: &str = "altered";
pub const VERDICT_FORGED: &str = "forged";

/// True for verdicts the merchant must look at before producing the line.
pub fn flagged(verdict: &str) -> bool {
    matches!(
        verdict,
        VERDICT_UNDERPAID | VERDICT_ALTERED | VERDICT_FORGED
    )
}

/// One order line, as the store sent it.
#[derive(Debug, Clone)]
pub struct OrderLine<'a> {
    pub product_id: Option<i64>,
    pub quantity: i64,
    pub price_cents: i64,
    pub discount_cents: i64,
    pub properties: &'a [(String, String)],
}

impl OrderLine<'_> {
    pub fn property(&self, name: &str) -> Option<&str> {
        self.properties
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn paid(&self) -> Result<i64, Overflow> {
        Ok(money::sub(
            money::times(self.price_cents, self.quantity)?,
            self.discount_cents,
        )?
        .max(0))
    }
}

/// The outcome for one line; all `None` for a line without `_atelier`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verification {
    pub verified: Option<bool>,
    pub verdict: Option<&'static str>,
    pub template_id: Option<String>,
    pub template_version: Option<i32>,
    pub expected_cents: Option<i64>,
    pub charged_cents: Option<i64>,
}

/// What the checker needs from storage.
pub trait Lookup {
    /// The pinned template version, if this shop ever had it.
    fn template(
        &mut self,
        template_id: &str,
        version: i32,
    ) -> Option<std::sync::Arc<CompiledTemplate>>;
    /// The variant's catalog price in cents, if known.
    fn catalog_price(&mut self, variant_id: i64) -> Option<i64>;
}

/// Checks every line of an order. `variant_ids[i]` belongs to `lines[i]`. An order whose
/// amounts overflow when summed or multiplied by their quantities is out of range as a whole.
///
/// What the fee lines of one signature paid is a pool that each line carrying that signature
/// draws from once, up to what it owes, in line order (the last takes any excess, so an
/// overpayment shows): one fee line cannot pay for two personalized lines. Two lines may carry
/// the same signature legitimately (the same selections on two variants; Shopify then merges
/// their fee lines into one), so a pool rather than a fee line per personalized line.
pub fn verify_order(
    keys: &[[u8; 32]],
    shop: &str,
    upload_base: &str,
    lines: &[OrderLine<'_>],
    variant_ids: &[Option<i64>],
    lookup: &mut dyn Lookup,
) -> Result<Vec<Verification>, Overflow> {
    let mut out = Vec::with_capacity(lines.len());
    // Per signature: what its fee lines paid, and which lines carry it (in order).
    let mut pools: Vec<(&str, i64, Vec<usize>)> = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(raw) = line.property(signature::PROPERTY) else {
            out.push(Verification::default());
            continue;
        };
        let raw = raw.trim();
        let mut v = check_line(keys, shop, upload_base, line, raw, lookup)?;
        match pools.iter_mut().find(|(r, _, _)| *r == raw) {
            Some((_, _, carriers)) => carriers.push(i),
            None => {
                let paid = lines
                    .iter()
                    .filter(|l| l.property(FEE_PROPERTY).is_some_and(|f| f.trim() == raw))
                    .map(|f| f.paid())
                    .collect::<Result<Vec<_>, _>>()?;
                if paid.is_empty() {
                    v.charged_cents = Some(line_price_add_on(line, variant_ids[i], lookup)?);
                } else {
                    pools.push((raw, money::sum(paid)?, vec![i]));
                }
            }
        }
        out.push(v);
    }
    for (_, mut pool, carriers) in pools {
        // Lines whose proof holds are paid first: a forged copy cannot take a genuine line's fee.
        let (verified, other): (Vec<usize>, Vec<usize>) = carriers
            .into_iter()
            .partition(|&i| out[i].verified == Some(true));
        let order: Vec<usize> = verified.into_iter().chain(other).collect();
        for (n, &i) in order.iter().enumerate() {
            let owed = out[i].expected_cents.unwrap_or(0);
            let take = if n + 1 == order.len() {
                pool
            } else {
                pool.min(owed)
            };
            pool -= take;
            out[i].charged_cents = Some(take);
        }
    }
    for v in &mut out {
        v.verdict = v.verdict.map(|verdict| match (verdict, v.expected_cents) {
            (VERDICT_OK, Some(expected)) => match v.charged_cents.unwrap_or(0).cmp(&expected) {
                std::cmp::Ordering::Less => VERDICT_UNDERPAID,
                std::cmp::Ordering::Equal => VERDICT_OK,
                std::cmp::Ordering::Greater => VERDICT_OVERPAID,
            },
            (other, _) => other,
        });
    }
    Ok(out)
}

/// Without linked fee lines: what the line paid above its variant's catalog price.
fn line_price_add_on(
    line: &OrderLine<'_>,
    variant_id: Option<i64>,
    lookup: &mut dyn Lookup,
) -> Result<i64, Overflow> {
    Ok(match variant_id.and_then(|v| lookup.catalog_price(v)) {
        Some(catalog) => {
            let unit = money::sub(line.price_cents, catalog)?.max(0);
            money::sub(money::times(unit, line.quantity)?, line.discount_cents)?.max(0)
        }
        None => 0,
    })
}

/// The proof of one line: its verdict is `ok` (to be compared with what was charged once the
/// fee lines are shared out), `altered` or `forged`.
fn check_line(
    keys: &[[u8; 32]],
    shop: &str,
    upload_base: &str,
    line: &OrderLine<'_>,
    raw: &str,
    lookup: &mut dyn Lookup,
) -> Result<Verification, Overflow> {
    let forged = || Verification {
        verified: Some(false),
        verdict: Some(VERDICT_FORGED),
        ..Default::default()
    };
    let Some(signed) = signature::parse(raw) else {
        return Ok(forged());
    };
    let Ok(version) = i32::try_from(signed.version) else {
        return Ok(forged());
    };
    let Some(template) = lookup.template(&signed.template_id, version) else {
        return Ok(forged());
    };
    // The properties the template can have produced: visible fields by label. Other properties
    // (another app's, the theme's hidden ones) are not part of the proof.
    let labels: Vec<&str> = template.fields.iter().map(|f| f.label.trim()).collect();
    let signed_props: Vec<(String, String)> = line
        .properties
        .iter()
        .filter(|(n, _)| !n.starts_with('_') && labels.contains(&n.as_str()))
        .cloned()
        .collect();
    let mut out = Verification {
        verified: Some(false),
        verdict: Some(VERDICT_ALTERED),
        template_id: Some(signed.template_id.clone()),
        template_version: Some(version),
        expected_cents: None,
        charged_cents: None,
    };
    let product = line.product_id.unwrap_or(0);
    if !keys
        .iter()
        .any(|k| signature::verify(k, shop, product, &signed, &signed_props))
    {
        return Ok(out);
    }
    let unit = reprice(&template, &signed_props, upload_base).unwrap_or(signed.price_cents);
    out.verified = Some(true);
    out.expected_cents = Some(atelier_pricing::table::line_add_on(unit, line.quantity)?);
    out.verdict = Some(VERDICT_OK);
    Ok(out)
}

/// The add-on (per unit) the template gives for the selections these properties show: the
/// properties are turned back into values (an option by its label, a checkbox by "Yes", an image
/// by its upload URL) and validated again. `None` if they no longer validate.
pub fn reprice(
    template: &CompiledTemplate,
    properties: &[(String, String)],
    upload_base: &str,
) -> Option<i64> {
    let values = values_from_properties(template, properties, upload_base);
    let resolve = |id: &str| Some(format!("{upload_base}{id}"));
    validate(template, &values, &BlockedWords::default(), &resolve)
        .ok()
        .map(|a| a.price_cents)
}

/// The `values` object a set of line item properties came from.
pub fn values_from_properties(
    template: &CompiledTemplate,
    properties: &[(String, String)],
    upload_base: &str,
) -> Map<String, Value> {
    let mut values = Map::new();
    for f in &template.fields {
        let Some((_, shown)) = properties.iter().find(|(n, _)| n == f.label.trim()) else {
            continue;
        };
        let value = match f.kind {
            FieldType::Select | FieldType::Swatch => f
                .options
                .iter()
                .flatten()
                .find(|o| o.label.trim() == shown.as_str() || o.label == *shown)
                .map(|o| Value::String(o.value.clone())),
            FieldType::Checkbox => Some(Value::Bool(shown == "Yes")),
            FieldType::Image => shown
                .strip_prefix(upload_base)
                .map(|id| Value::String(id.to_owned())),
            _ => Some(Value::String(shown.clone())),
        };
        if let Some(v) = value {
            values.insert(f.key.clone(), v);
        }
    }
    values
}

/// Upload ids named by image properties of a line.
pub fn upload_ids<'a>(properties: &'a [(String, String)], upload_base: &str) -> Vec<&'a str> {
    properties
        .iter()
        .filter_map(|(_, v)| v.strip_prefix(upload_base))
        .filter(|id| !id.is_empty() && id.len() <= 64 && !id.contains('/'))
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Arc;

    use super::*;
    use crate::personalization::template::parse_fields;
    use serde_json::json;

    const SHOP: &str = "a.myshopify.com";
    const BASE: &str = "https://app.test/uploads/";
    const KEY: [u8; 32] = [7; 32];

    struct Store {
        templates: HashMap<(String, i32), Arc<CompiledTemplate>>,
        prices: HashMap<i64, i64>,
    }

    impl Lookup for Store {
        fn template(&mut self, id: &str, v: i32) -> Option<Arc<CompiledTemplate>> {
            self.templates.get(&(id.to_owned(), v)).cloned()
        }
        fn catalog_price(&mut self, variant: i64) -> Option<i64> {
            self.prices.get(&variant).copied()
        }
    }

    fn template() -> Arc<CompiledTemplate> {
        let fields = parse_fields(&json!([
            {"key": "text", "label": "Engraving", "type": "text", "required": true, "price_cents": 500},
            {"key": "font", "label": "Font", "type": "select", "options": [
                {"value": "serif", "label": "Serif"}, {"value": "script", "label": "Script", "price_cents": 250}]},
            {"key": "wrap", "label": "Gift wrap", "type": "checkbox", "price_cents": 300},
            {"key": "photo", "label": "Photo", "type": "image", "price_cents": 1000}
        ]))
        .unwrap();
        Arc::new(CompiledTemplate::new(fields).unwrap())
    }

    fn store() -> Store {
        Store {
            templates: HashMap::from([(("tpl".to_owned(), 2), template())]),
            prices: HashMap::from([(11, 2000)]),
        }
    }

    /// What the personalize endpoint would have put in the cart.
    fn cart(values: Value, product: i64) -> (Vec<(String, String)>, i64) {
        let t = template();
        let resolve = |id: &str| Some(format!("{BASE}{id}"));
        let a = validate(
            &t,
            values.as_object().unwrap(),
            &BlockedWords::default(),
            &resolve,
        )
        .unwrap();
        let sig = signature::sign(&KEY, SHOP, product, "tpl", 2, a.price_cents, &a.properties);
        let mut props = a.properties.clone();
        props.push(("_atelier".into(), sig));
        (props, a.price_cents)
    }

    fn line(props: &[(String, String)], qty: i64, price: i64) -> OrderLine<'_> {
        OrderLine {
            product_id: Some(42),
            quantity: qty,
            price_cents: price,
            discount_cents: 0,
            properties: props,
        }
    }

    fn fee_props(sig: &str) -> Vec<(String, String)> {
        vec![(FEE_PROPERTY.to_owned(), sig.to_owned())]
    }

    #[test]
    fn amounts_that_overflow_are_out_of_range_not_wrapped() {
        let props = vec![("_atelier".to_owned(), "sig".to_owned())];
        let fee_props = vec![("_atelier_fee".to_owned(), "sig".to_owned())];
        let mut lines = vec![line(&props, 1, 2000)];
        for _ in 0..2 {
            lines.push(OrderLine {
                price_cents: i64::MAX / 2 + 1,
                ..line(&fee_props, 1, 0)
            });
        }
        assert_eq!(
            verify_order(
                &[KEY],
                SHOP,
                BASE,
                &lines,
                &[None, None, None],
                &mut store()
            ),
            Err(Overflow)
        );
    }

    #[test]
    fn one_fee_line_pays_for_one_personalized_line() {
        let (props, unit) = cart(json!({"text": "Anna"}), 42);
        let sig = props.last().unwrap().1.clone();
        let fee = fee_props(&sig);
        // The signature copied onto a second line (another variant, or a hidden property added
        // so the cart keeps the lines apart): one fee line covers one of them only.
        let mut copied = props.clone();
        copied.push(("_split".into(), "1".into()));
        let lines = [
            line(&props, 1, 2000),
            line(&copied, 1, 2000),
            line(&fee, unit, 1),
        ];
        let v = verify_order(
            &[KEY],
            SHOP,
            BASE,
            &lines,
            &[Some(11), Some(12), None],
            &mut store(),
        )
        .unwrap();
        assert_eq!(
            (v[0].verdict, v[0].charged_cents),
            (Some(VERDICT_OK), Some(unit))
        );
        assert_eq!(
            (v[1].verdict, v[1].charged_cents),
            (Some(VERDICT_UNDERPAID), Some(0))
        );
        assert!(flagged(v[1].verdict.unwrap()));

        // The same selections bought on two variants, the fee lines merged by the cart into one
        // that pays for both: both are paid in full.
        let lines = [
            line(&props, 2, 2000),
            line(&props, 1, 2500),
            line(&fee, unit * 3, 1),
        ];
        let v = verify_order(
            &[KEY],
            SHOP,
            BASE,
            &lines,
            &[Some(11), Some(12), None],
            &mut store(),
        )
        .unwrap();
        assert_eq!(
            (v[0].verdict, v[0].charged_cents),
            (Some(VERDICT_OK), Some(unit * 2))
        );
        assert_eq!(
            (v[1].verdict, v[1].charged_cents),
            (Some(VERDICT_OK), Some(unit))
        );

        // A forged line first in the order does not take the genuine line's fee.
        let forged = vec![
            ("Engraving".to_owned(), "Anna".to_owned()),
            ("_atelier".to_owned(), sig.clone()),
        ];
        let mut tampered = forged.clone();
        tampered[0].1 = "Bob".into();
        let lines = [
            line(&tampered, 1, 2000),
            line(&props, 1, 2000),
            line(&fee, unit + 5, 1),
        ];
        let v = verify_order(
            &[KEY],
            SHOP,
            BASE,
            &lines,
            &[Some(11), Some(11), None],
            &mut store(),
        )
        .unwrap();
        assert_eq!(v[0].verdict, Some(VERDICT_ALTERED));
        assert_eq!(
            (v[1].verdict, v[1].charged_cents),
            (Some(VERDICT_OK), Some(unit)),
            "paid first; the excess shows on the last carrier"
        );
        assert_eq!(v[0].charged_cents, Some(5));
    }

    #[test]
    fn fee_lines_pay_the_add_on_times_quantity() {
        let (props, unit) = cart(
            json!({"text": "Anna", "font": "script", "wrap": true, "photo": "up1"}),
            42,
        );
        assert_eq!(unit, 500 + 250 + 300 + 1000);
        let sig = props.last().unwrap().1.clone();
        let fee = fee_props(&sig);
        // A 1-cent fee variant, quantity = add-on × line quantity.
        let lines = [line(&props, 2, 2000), line(&fee, unit * 2, 1)];
        let v = verify_order(
            &[KEY],
            SHOP,
            BASE,
            &lines,
            &[Some(11), Some(99)],
            &mut store(),
        )
        .unwrap();
        assert_eq!(v[0].verified, Some(true));
        assert_eq!(v[0].verdict, Some(VERDICT_OK));
        assert_eq!(v[0].expected_cents, Some(unit * 2));
        assert_eq!(v[0].charged_cents, Some(unit * 2));
        assert_eq!(
            (v[0].template_id.as_deref(), v[0].template_version),
            (Some("tpl"), Some(2))
        );
        assert_eq!(v[1], Verification::default(), "the fee line itself");

        // Fee quantity lowered in the cart.
        let lines = [line(&props, 2, 2000), line(&fee, unit, 1)];
        let v = verify_order(&[KEY], SHOP, BASE, &lines, &[Some(11), None], &mut store()).unwrap();
        assert_eq!(v[0].verdict, Some(VERDICT_UNDERPAID));
        assert!(flagged(VERDICT_UNDERPAID));
        // Fee line dropped and the line sold at catalog price.
        let lines = [line(&props, 2, 2000)];
        let v = verify_order(&[KEY], SHOP, BASE, &lines, &[Some(11)], &mut store()).unwrap();
        assert_eq!(
            (v[0].verdict, v[0].charged_cents),
            (Some(VERDICT_UNDERPAID), Some(0))
        );
        // The add-on priced into the line instead.
        let lines = [line(&props, 1, 2000 + unit)];
        let v = verify_order(&[KEY], SHOP, BASE, &lines, &[Some(11)], &mut store()).unwrap();
        assert_eq!(
            (v[0].verdict, v[0].charged_cents),
            (Some(VERDICT_OK), Some(unit))
        );
        // A discount on the fee counts against it.
        let mut discounted = line(&fee, unit, 1);
        discounted.discount_cents = 100;
        let lines = [line(&props, 1, 2000), discounted];
        let v = verify_order(&[KEY], SHOP, BASE, &lines, &[Some(11), None], &mut store()).unwrap();
        assert_eq!(
            (v[0].verdict, v[0].charged_cents),
            (Some(VERDICT_UNDERPAID), Some(unit - 100))
        );
    }

    #[test]
    fn altered_forged_and_replayed() {
        let (props, unit) = cart(json!({"text": "Anna", "font": "serif"}), 42);
        let sig = props.last().unwrap().1.clone();
        let fee = fee_props(&sig);
        let check = |props: &[(String, String)], product: i64| {
            let mut l = line(props, 1, 2000);
            l.product_id = Some(product);
            let lines = [l, line(&fee, unit, 1)];
            verify_order(&[KEY], SHOP, BASE, &lines, &[Some(11), None], &mut store())
                .unwrap()
                .remove(0)
        };
        assert_eq!(check(&props, 42).verdict, Some(VERDICT_OK));

        let mut text = props.clone();
        text[0].1 = "Bob".into();
        let v = check(&text, 42);
        assert_eq!(
            (v.verified, v.verdict),
            (Some(false), Some(VERDICT_ALTERED))
        );
        assert_eq!(v.expected_cents, None);

        let mut cheaper_font = props.clone();
        cheaper_font.push(("Gift wrap".into(), "Yes".into()));
        assert_eq!(
            check(&cheaper_font, 42).verdict,
            Some(VERDICT_ALTERED),
            "added a priced option"
        );

        assert_eq!(
            check(&props, 43).verdict,
            Some(VERDICT_ALTERED),
            "replayed on another product"
        );

        let mut price = props.clone();
        price.last_mut().unwrap().1 = sig.replace(&format!(".{unit}."), ".0.");
        assert_eq!(
            check(&price, 42).verdict,
            Some(VERDICT_ALTERED),
            "price in the signature"
        );

        let mut garbage = props.clone();
        garbage.last_mut().unwrap().1 = "v1.tpl.2.0.bm9wZQ".into();
        assert_eq!(check(&garbage, 42).verdict, Some(VERDICT_FORGED));
        let mut unknown = props.clone();
        unknown.last_mut().unwrap().1 = sig.replacen("v1.tpl.2.", "v1.tpl.9.", 1);
        assert_eq!(
            check(&unknown, 42).verdict,
            Some(VERDICT_FORGED),
            "no such version"
        );

        // Another shop's key (or shop) does not verify.
        let lines = [line(&props, 1, 2000)];
        let v = verify_order(&[[8; 32]], SHOP, BASE, &lines, &[None], &mut store()).unwrap();
        assert_eq!(v[0].verdict, Some(VERDICT_ALTERED));
        let v = verify_order(
            &[KEY],
            "b.myshopify.com",
            BASE,
            &lines,
            &[None],
            &mut store(),
        )
        .unwrap();
        assert_eq!(v[0].verdict, Some(VERDICT_ALTERED));
        // The previous secret's key still verifies during a rotation.
        let v = verify_order(&[[8; 32], KEY], SHOP, BASE, &lines, &[None], &mut store()).unwrap();
        assert_eq!(v[0].verified, Some(true));
    }

    #[test]
    fn reordered_and_foreign_properties_do_not_matter() {
        let (mut props, _) = cart(json!({"text": "Anna", "font": "script", "wrap": true}), 42);
        props.reverse();
        props.push(("Gift message".into(), "added by another app".into()));
        props.push(("_other_app".into(), "x".into()));
        let lines = [line(&props, 1, 2000)];
        let v = verify_order(&[KEY], SHOP, BASE, &lines, &[Some(11)], &mut store()).unwrap();
        assert_eq!(v[0].verified, Some(true));
        assert_eq!(v[0].expected_cents, Some(1050));
    }

    #[test]
    fn properties_turn_back_into_values() {
        let t = template();
        let props = vec![
            ("Engraving".to_owned(), "Anna".to_owned()),
            ("Font".to_owned(), "Script".to_owned()),
            ("Gift wrap".to_owned(), "Yes".to_owned()),
            ("Photo".to_owned(), format!("{BASE}up9")),
        ];
        let v = values_from_properties(&t, &props, BASE);
        assert_eq!(
            Value::Object(v),
            json!({"text": "Anna", "font": "script", "wrap": true, "photo": "up9"})
        );
        assert_eq!(reprice(&t, &props, BASE), Some(2050));
        assert_eq!(upload_ids(&props, BASE), vec!["up9"]);
    }
}
