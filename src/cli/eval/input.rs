//! Reading a store: orders as `orders/create` payloads (JSON, one per line) or as CSV rows,
//! products as `products/create` payloads; or a generated store.

use std::collections::{BTreeMap, HashMap};
use std::io::BufRead;

use serde_json::{Value, json};

use crate::recommendations::model::{BasketLine, basket_of_lines};
use crate::shopify::payload::{OrderPayload, parse_id, parse_time};

#[derive(Debug, Clone)]
pub struct EvalOrder {
    pub id: i64,
    pub at: i64,
    pub customer: Option<i64>,
    /// What the model learns from the order (the server's basket rules).
    pub basket: Vec<i64>,
    /// Variant ids of the lines (for the shopper's size).
    pub variants: Vec<i64>,
    /// The `orders/create` payload the server is fed.
    pub payload: String,
}

/// A store to evaluate: its orders and its catalogue (`products/create` payloads).
pub struct Store {
    pub name: String,
    pub orders: Vec<EvalOrder>,
    pub products: Vec<Value>,
}

/// One `orders/create` payload as the model sees it (`None` when unreadable).
pub fn parse_order(line: &str) -> Option<EvalOrder> {
    let p: OrderPayload = serde_json::from_str(line).ok()?;
    let raw: Value = serde_json::from_str(line).ok()?;
    let currency = p
        .currency
        .clone()
        .filter(|c| c.len() == 3)
        .unwrap_or_else(|| "USD".into());
    let at = p
        .created_at
        .as_deref()
        .or(p.updated_at.as_deref())
        .and_then(parse_time)?;
    let mut refunded: HashMap<i64, i64> = HashMap::new();
    for r in p.refunds.iter().flat_map(|r| &r.refund_line_items) {
        *refunded.entry(r.line_item_id).or_default() += r.quantity;
    }
    let lines: Vec<BasketLine> = p
        .line_items
        .iter()
        .enumerate()
        .map(|(i, l)| BasketLine {
            product_id: l.product_id,
            position: i as i32,
            remaining: l
                .current_quantity
                .unwrap_or(l.quantity)
                .min(l.quantity - refunded.get(&l.id).copied().unwrap_or(0)),
            price_cents: crate::money::parse_minor_json(&l.price, &currency).unwrap_or(0),
            gift_card: l.gift_card,
            fee: l
                .properties
                .iter()
                .any(|p| p.name == crate::personalization::verify::FEE_PROPERTY),
        })
        .collect();
    let (basket, _) = basket_of_lines(p.cancelled_at.is_some() || p.test, &lines);
    let variants = raw["line_items"]
        .as_array()
        .map(|l| {
            l.iter()
                .filter_map(|x| parse_id(&x["variant_id"]))
                .collect()
        })
        .unwrap_or_default();
    Some(EvalOrder {
        id: parse_id(&raw["id"])?,
        at: crate::recommendations::model::unix(at),
        customer: p.customer.and_then(|c| c.id),
        basket,
        variants,
        payload: line.to_owned(),
    })
}

/// Orders from a file: `.csv` (one row per line item, see [`csv_orders`]) or JSON lines.
/// Returns the orders and the number of unreadable lines or rows.
pub fn read_orders(path: &str) -> anyhow::Result<(Vec<EvalOrder>, u64)> {
    let f = std::fs::File::open(path).map_err(|e| anyhow::anyhow!("cannot open {path}: {e}"))?;
    if path.to_ascii_lowercase().ends_with(".csv") {
        return csv_orders(std::io::BufReader::new(f));
    }
    let mut orders = Vec::new();
    let mut unreadable = 0;
    for line in std::io::BufReader::new(f).lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        match parse_order(&line) {
            Some(o) => orders.push(o),
            None => unreadable += 1,
        }
    }
    Ok((orders, unreadable))
}

/// CSV orders with a header row: `order_id`, `created_at` (RFC 3339 or `YYYY-MM-DD`),
/// `product_id` required; `customer_id` (empty: a guest), `quantity` (1), `price` (in the
/// shop's currency, `1.00`), `variant_id` optional. One row per line item; rows of one order
/// share its id. Each order becomes the `orders/create` payload the server would receive.
pub fn csv_orders(reader: impl std::io::Read) -> anyhow::Result<(Vec<EvalOrder>, u64)> {
    let mut r = csv::Reader::from_reader(reader);
    let head: Vec<String> = r
        .headers()?
        .iter()
        .map(|h| h.trim().to_lowercase())
        .collect();
    let col = |name: &str| head.iter().position(|h| h == name);
    let (Some(oid), Some(at), Some(pid)) = (col("order_id"), col("created_at"), col("product_id"))
    else {
        anyhow::bail!("the CSV header must name order_id, created_at and product_id");
    };
    let (cid, qty, price, vid) = (
        col("customer_id"),
        col("quantity"),
        col("price"),
        col("variant_id"),
    );
    let mut grouped: BTreeMap<i64, (String, Option<i64>, Vec<Value>)> = BTreeMap::new();
    let mut unreadable = 0;
    for row in r.records() {
        let Ok(row) = row else {
            unreadable += 1;
            continue;
        };
        let get = |i: Option<usize>| i.and_then(|i| row.get(i)).map(str::trim).unwrap_or("");
        let (Ok(order), Ok(product)) =
            (get(Some(oid)).parse::<i64>(), get(Some(pid)).parse::<i64>())
        else {
            unreadable += 1;
            continue;
        };
        let mut when = get(Some(at)).to_owned();
        if when.len() == 10 {
            when.push_str("T12:00:00Z");
        }
        if parse_time(&when).is_none() {
            unreadable += 1;
            continue;
        }
        let customer = get(cid).parse::<i64>().ok();
        let quantity = get(qty).parse::<i64>().unwrap_or(1).max(1);
        let unit = match get(price) {
            "" => "1.00".to_owned(),
            p => p.to_owned(),
        };
        let entry = grouped
            .entry(order)
            .or_insert_with(|| (when.clone(), customer, Vec::new()));
        let n = entry.2.len() as i64;
        entry.2.push(json!({
            "id": order.saturating_mul(1000).saturating_add(n), "product_id": product,
            "variant_id": get(vid).parse::<i64>().ok(), "title": format!("Product {product}"),
            "quantity": quantity, "current_quantity": quantity, "price": unit,
            "gift_card": false, "properties": [],
        }));
    }
    let mut orders = Vec::with_capacity(grouped.len());
    for (id, (at, customer, lines)) in grouped {
        let payload = json!({
            "id": id, "name": format!("#{id}"), "created_at": at, "updated_at": at,
            "currency": "USD", "financial_status": "paid",
            "customer": customer.map(|c| json!({"id": c})), "line_items": lines,
        })
        .to_string();
        match parse_order(&payload) {
            Some(o) => orders.push(o),
            None => unreadable += 1,
        }
    }
    Ok((orders, unreadable))
}

/// Products from a `products/create`-shaped JSON-lines file.
pub fn read_products(path: &str) -> anyhow::Result<Vec<Value>> {
    let f = std::fs::File::open(path).map_err(|e| anyhow::anyhow!("cannot open {path}: {e}"))?;
    let mut out = Vec::new();
    for line in std::io::BufReader::new(f).lines() {
        let line = line?;
        if let Ok(v) = serde_json::from_str::<Value>(&line)
            && parse_id(&v["id"]).is_some()
        {
            out.push(v);
        }
    }
    Ok(out)
}

/// A generated store: `synth:PRODUCTS:ORDERS[:SEED]` (the project's generator),
/// `tastes:SHAPE[:SEED]` (the independent one, `SHAPE` one of `tastes::SHAPES`) or
/// `tastes:random:SEED` (a shape drawn from the seed).
pub fn generated(spec: &str) -> anyhow::Result<Store> {
    let parts: Vec<&str> = spec.split(':').collect();
    let num = |i: usize, default: u64| -> anyhow::Result<u64> {
        parts.get(i).map_or(Ok(default), |v| {
            v.parse()
                .map_err(|_| anyhow::anyhow!("`{v}` in --store {spec} is not a number"))
        })
    };
    match parts.first().copied() {
        Some("synth") => {
            let (products, orders, seed) = (num(1, 2_000)?, num(2, 20_000)?, num(3, 1)?);
            let s = super::super::synth::generate(products as usize, orders as usize, seed);
            Ok(Store {
                name: spec.to_owned(),
                orders: s
                    .orders
                    .iter()
                    .filter_map(|o| parse_order(&o.payload(&s).to_string()))
                    .collect(),
                products: s.products.iter().map(|p| p.payload()).collect(),
            })
        }
        Some("tastes") => {
            let name = parts.get(1).copied().unwrap_or("dense");
            let shape = if name == "random" {
                super::super::tastes::random_shape(num(2, 0)?)
            } else {
                super::super::tastes::shape(name).ok_or_else(|| {
                    anyhow::anyhow!(
                        "unknown shape {name}: one of {:?} or random",
                        super::super::tastes::SHAPES
                    )
                })?
            };
            let s = super::super::tastes::generate(shape, num(2, 1)?);
            Ok(Store {
                name: spec.to_owned(),
                orders: s
                    .orders
                    .iter()
                    .filter_map(|o| parse_order(&s.order_payload(o).to_string()))
                    .collect(),
                products: s.items.iter().map(|i| i.payload()).collect(),
            })
        }
        _ => anyhow::bail!("--store must be synth:PRODUCTS:ORDERS[:SEED] or tastes:SHAPE[:SEED]"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_rows_become_the_orders_the_server_would_receive() {
        let csv = "order_id,customer_id,created_at,product_id,quantity,price\n\
                   1,7,2026-01-02,100,1,5.00\n1,7,2026-01-02,101,2,3.50\n\
                   2,,2026-01-03T10:00:00Z,100,1,5.00\nx,7,2026-01-02,100,1,1\n";
        let (orders, bad) = csv_orders(csv.as_bytes()).unwrap();
        assert_eq!(bad, 1);
        assert_eq!(orders.len(), 2);
        assert_eq!(orders[0].basket, vec![100, 101]);
        assert_eq!(orders[0].customer, Some(7));
        assert_eq!(orders[1].customer, None);
        assert!(orders[0].at < orders[1].at);
        let again = parse_order(&orders[0].payload).unwrap();
        assert_eq!(again.basket, orders[0].basket);
    }
}
