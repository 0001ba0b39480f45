//! The parts of Shopify's REST webhook payloads Atelier uses. Parsing is lenient
//! about what it does not need and strict about what it does: ids are 64-bit integers (numbers
//! above 2^53, or strings holding them), never floats.

use serde::{Deserialize, Deserializer};
use serde_json::Value;
use time::{OffsetDateTime, PrimitiveDateTime};

/// A Shopify id: a JSON number or a string of digits (or a `gid://shopify/Type/123`).
pub fn parse_id(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_u64().and_then(|u| i64::try_from(u).ok())),
        Value::String(s) => {
            let digits = match s.strip_prefix("gid://shopify/") {
                Some(rest) => {
                    let (kind, id) = rest.split_once('/')?;
                    if kind.is_empty() || !kind.bytes().all(|b| b.is_ascii_alphanumeric()) {
                        return None;
                    }
                    id
                }
                None => s,
            };
            // Digits with an optional minus, as the number itself would be written: not
            // `+12`, ` 12` or `a/12`, which no Shopify id is (callers refuse ids below 1).
            let unsigned = digits.strip_prefix('-').unwrap_or(digits);
            if unsigned.is_empty() || !unsigned.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            digits.parse().ok()
        }
        _ => None,
    }
}

fn id<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    let v = Value::deserialize(d)?;
    parse_id(&v).ok_or_else(|| serde::de::Error::custom("expected a Shopify id"))
}

fn opt_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    let v = Option::<Value>::deserialize(d)?;
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(v) => parse_id(&v)
            .map(Some)
            .ok_or_else(|| serde::de::Error::custom("expected a Shopify id")),
    }
}

/// Property values are strings in Shopify's payloads; anything else is kept as its JSON text.
fn string_value<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s,
        Some(other) => other.to_string(),
    })
}

fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// RFC 3339 with any offset → naive UTC cut to microseconds. A time whose UTC form leaves
/// years 1–9999 (`9999-12-31T23:59:59-01:00`) is no time at all: it could neither be stored
/// on both backends nor written back as RFC 3339.
pub fn parse_time(s: &str) -> Option<PrimitiveDateTime> {
    let t = OffsetDateTime::parse(s.trim(), &time::format_description::well_known::Rfc3339).ok()?;
    let t = t.checked_to_offset(time::UtcOffset::UTC)?;
    if !(1..=9999).contains(&t.year()) {
        return None;
    }
    let t = t.replace_nanosecond(t.nanosecond() / 1000 * 1000).ok()?;
    Some(PrimitiveDateTime::new(t.date(), t.time()))
}

#[derive(Debug, Clone, Deserialize)]
pub struct Property {
    #[serde(deserialize_with = "string_value")]
    pub name: String,
    #[serde(default, deserialize_with = "string_value")]
    pub value: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct CustomerRef {
    #[serde(default, deserialize_with = "opt_id")]
    pub id: Option<i64>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct LineItemPayload {
    #[serde(deserialize_with = "id")]
    pub id: i64,
    #[serde(default, deserialize_with = "opt_id")]
    pub product_id: Option<i64>,
    #[serde(default, deserialize_with = "opt_id")]
    pub variant_id: Option<i64>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub title: String,
    #[serde(default)]
    pub variant_title: Option<String>,
    #[serde(default)]
    pub sku: Option<String>,
    pub quantity: i64,
    #[serde(default)]
    pub current_quantity: Option<i64>,
    #[serde(default)]
    pub price: Value,
    #[serde(default, deserialize_with = "null_as_default")]
    pub gift_card: bool,
    #[serde(default, deserialize_with = "null_as_default")]
    pub properties: Vec<Property>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub discount_allocations: Vec<DiscountAllocation>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct DiscountAllocation {
    #[serde(default)]
    pub amount: Value,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RefundLineItem {
    #[serde(deserialize_with = "id")]
    pub line_item_id: i64,
    #[serde(default)]
    pub quantity: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Refund {
    #[serde(default, deserialize_with = "null_as_default")]
    pub refund_line_items: Vec<RefundLineItem>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct OrderPayload {
    #[serde(deserialize_with = "id")]
    pub id: i64,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub updated_at: Option<String>,
    #[serde(default)]
    pub cancelled_at: Option<String>,
    #[serde(default)]
    pub financial_status: Option<String>,
    #[serde(default)]
    pub fulfillment_status: Option<String>,
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    pub total_price: Value,
    #[serde(default)]
    pub customer: Option<CustomerRef>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub test: bool,
    #[serde(default)]
    pub source_name: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub line_items: Vec<LineItemPayload>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub refunds: Vec<Refund>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct VariantPayload {
    #[serde(deserialize_with = "id")]
    pub id: i64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub title: String,
    #[serde(default)]
    pub sku: Option<String>,
    #[serde(default)]
    pub price: Value,
    #[serde(default)]
    pub position: Option<i64>,
    #[serde(default)]
    pub inventory_quantity: Option<i64>,
    #[serde(default)]
    pub inventory_policy: Option<String>,
    /// Older payload versions: `null` means inventory is not tracked (always available).
    #[serde(default)]
    pub inventory_management: Option<Value>,
    #[serde(default)]
    pub option1: Option<String>,
    #[serde(default)]
    pub option2: Option<String>,
    #[serde(default)]
    pub option3: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ImagePayload {
    #[serde(default)]
    pub src: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ProductPayload {
    #[serde(deserialize_with = "id")]
    pub id: i64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub title: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub handle: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub product_type: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub vendor: String,
    /// `"a, b, c"` in REST payloads; an array in some newer shapes.
    #[serde(default)]
    pub tags: Value,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub published_at: Option<String>,
    #[serde(default)]
    pub updated_at: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub variants: Vec<VariantPayload>,
    #[serde(default)]
    pub image: Option<ImagePayload>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct DeletedPayload {
    #[serde(deserialize_with = "id")]
    pub id: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ConsentPayload {
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub consent_updated_at: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct CustomerPayload {
    #[serde(deserialize_with = "id")]
    pub id: i64,
    #[serde(default)]
    pub updated_at: Option<String>,
    #[serde(default)]
    pub email_marketing_consent: Option<ConsentPayload>,
    #[serde(default)]
    pub sms_marketing_consent: Option<ConsentPayload>,
    /// Legacy field of older API versions.
    #[serde(default)]
    pub accepts_marketing: Option<bool>,
    #[serde(default)]
    pub accepts_marketing_updated_at: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct DataRequestPayload {
    #[serde(default)]
    pub customer: Option<CustomerRef>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub orders_requested: Vec<Value>,
    #[serde(default)]
    pub data_request: Option<DataRequestId>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct DataRequestId {
    #[serde(default, deserialize_with = "opt_id")]
    pub id: Option<i64>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RedactPayload {
    #[serde(default)]
    pub customer: Option<CustomerRef>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub orders_to_redact: Vec<Value>,
}

/// The shop a shop-level delivery names in its body, when it names one: `shop_domain` in
/// `shop/redact`, `myshopify_domain` in `app/uninstalled` (the Shop resource, whose `domain` may
/// be a custom domain). `None` when the member is absent or not a string.
pub fn body_shop(topic: &str, body: &[u8]) -> Option<String> {
    let member = match topic {
        "shop/redact" => "shop_domain",
        "app/uninstalled" => "myshopify_domain",
        _ => return None,
    };
    let v: Value = serde_json::from_slice(body).ok()?;
    v.get(member)?
        .as_str()
        .map(|s| s.trim().to_ascii_lowercase())
}

/// `app/scopes_update`: the scopes the shop now grants (`current`), trimmed and without
/// empties. `None` when the body has no such list.
pub fn granted_scopes(body: &[u8]) -> Option<Vec<String>> {
    #[derive(serde::Deserialize)]
    struct ScopesUpdate {
        current: serde_json::Value,
    }
    let p: ScopesUpdate = serde_json::from_slice(body).ok()?;
    let list: Vec<String> = match p.current {
        serde_json::Value::Array(items) => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()?,
        // Shopify's own template stores the list joined by commas: accept that shape too.
        serde_json::Value::String(s) => s.split(',').map(str::to_owned).collect(),
        _ => return None,
    };
    Some(
        list.iter()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect(),
    )
}

/// Whether a shop-level delivery's body names another shop than its `X-Shopify-Shop-Domain`.
/// The delivery is authentic (its HMAC held), so such a mismatch is a mix-up on the sending
/// side, and neither shop can be trusted to be the one meant.
pub fn names_another_shop(topic: &str, header_shop: &str, body: &[u8]) -> bool {
    body_shop(topic, body).is_some_and(|named| named != header_shop)
}

/// A webhook body with the NUL characters (`\u0000`) removed from its strings, or `None` when
/// it has none (the common case, decided by a scan without parsing). PostgreSQL's text type
/// cannot hold a NUL, so without this a title or property carrying one would be stored on SQLite
/// and fail forever on PostgreSQL; removed, both backends store the same text.
pub fn without_nul(body: &[u8]) -> Option<Vec<u8>> {
    if !body.windows(6).any(|w| w == br"\u0000") {
        return None;
    }
    fn strip(v: &mut Value) {
        match v {
            Value::String(s) if s.contains('\0') => s.retain(|c| c != '\0'),
            Value::Array(items) => items.iter_mut().for_each(strip),
            Value::Object(members) => {
                let named_with_nul: Vec<String> = members
                    .keys()
                    .filter(|k| k.contains('\0'))
                    .cloned()
                    .collect();
                for k in named_with_nul {
                    if let Some(inner) = members.remove(&k) {
                        members.insert(k.replace('\0', ""), inner);
                    }
                }
                members.values_mut().for_each(strip);
            }
            _ => {}
        }
    }
    let mut v: Value = serde_json::from_slice(body).ok()?;
    strip(&mut v);
    serde_json::to_vec(&v).ok()
}

/// Tags as a clean list: trimmed, empty ones dropped, duplicates (case-insensitive) removed.
pub fn tag_list(tags: &Value) -> Vec<String> {
    let raw: Vec<String> = match tags {
        Value::String(s) => s.split(',').map(str::to_owned).collect(),
        Value::Array(a) => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    };
    // A set of the lower-cased tags seen: linear in the payload, however many tags it holds.
    let mut seen = std::collections::HashSet::new();
    let mut out: Vec<String> = Vec::new();
    for t in raw {
        let t = t.trim();
        if !t.is_empty() && seen.insert(t.to_ascii_lowercase()) {
            out.push(t.to_owned());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_characters_are_removed_from_webhook_strings_only_when_present() {
        assert_eq!(without_nul(br#"{"title":"Candle"}"#), None);
        let cleaned = without_nul(
            br#"{"title":"Can\u0000dle","ti\u0000ps":["\u0000x"],"id":820982911946154508}"#,
        )
        .unwrap();
        let v: Value = serde_json::from_slice(&cleaned).unwrap();
        assert_eq!(v["title"], "Candle");
        assert_eq!(v["tips"][0], "x");
        assert_eq!(v["id"].as_i64(), Some(820982911946154508));
    }

    #[test]
    fn ids_above_2_pow_53_keep_every_digit() {
        let o: OrderPayload = serde_json::from_str(
            r#"{"id":820982911946154508,"line_items":[{"id":"866550311766439020","product_id":"gid://shopify/Product/9007199254740993","quantity":1}]}"#,
        )
        .unwrap();
        assert_eq!(o.id, 820982911946154508);
        assert_eq!(o.line_items[0].id, 866550311766439020);
        assert_eq!(o.line_items[0].product_id, Some(9007199254740993));
    }

    #[test]
    fn an_id_string_is_digits_or_a_gid() {
        for (s, id) in [
            ("12", Some(12)),
            ("-3", Some(-3)),
            (
                "gid://shopify/Product/9007199254740993",
                Some(9007199254740993),
            ),
            ("gid://shopify/ProductVariant/7", Some(7)),
            ("+12", None),
            (" 12", None),
            ("a/12", None),
            ("/12", None),
            ("gid://shopify//12", None),
            ("gid://shopify/Product/a/12", None),
            ("gid://shopify/Product/", None),
            ("9223372036854775808", None),
            ("", None),
        ] {
            assert_eq!(parse_id(&Value::String(s.into())), id, "{s:?}");
        }
    }

    #[test]
    fn nulls_where_shopify_sends_them() {
        let o: OrderPayload = serde_json::from_str(
            r#"{"id":1,"customer":null,"line_items":[{"id":2,"product_id":null,"variant_id":null,"quantity":1,"title":null,"properties":null,"gift_card":null}],"refunds":null}"#,
        )
        .unwrap();
        assert!(o.customer.is_none());
        assert_eq!(o.line_items[0].product_id, None);
        assert!(o.line_items[0].properties.is_empty());
    }

    #[test]
    fn times_are_normalized_to_utc() {
        let t = parse_time("2021-12-31T19:00:00-05:00").unwrap();
        assert_eq!(t.to_string(), "2022-01-01 0:00:00.0");
        assert!(parse_time("yesterday").is_none());
        let ns = parse_time("2023-03-29T18:00:27.877041743Z").unwrap();
        assert_eq!(ns.nanosecond(), 877041000);
    }

    #[test]
    fn times_past_the_calendar_are_no_time() {
        // Valid RFC 3339 whose UTC form leaves years 1-9999: refused, never a panic.
        for edge in [
            "9999-12-31T23:59:59-01:00",
            "9999-12-31T23:59:59-23:59",
            "0000-01-01T00:00:00+01:00",
            "0000-06-01T00:00:00Z",
        ] {
            assert!(parse_time(edge).is_none(), "{edge}");
        }
        let last = parse_time("9999-12-31T23:59:59Z").unwrap();
        assert_eq!(crate::db::rfc3339(last), "9999-12-31T23:59:59Z");
        assert!(parse_time("0001-01-01T00:00:00Z").is_some());
    }

    #[test]
    fn many_tags_are_cleaned_in_linear_time() {
        let tags: Vec<String> = (0..200_000).map(|i| format!("t{i}")).collect();
        let started = std::time::Instant::now();
        let list = tag_list(&Value::String(tags.join(",")));
        assert_eq!(list.len(), 200_000);
        assert!(
            started.elapsed() < std::time::Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn tags_are_cleaned() {
        assert_eq!(
            tag_list(&Value::String(" cotton, Comfortable,,cotton ,  ".into())),
            ["cotton", "Comfortable"]
        );
        assert_eq!(tag_list(&serde_json::json!(["a", "A", "b"])), ["a", "b"]);
    }
}
