//! The theme extension's own files, compiled into the binary, and a renderer for them that
//! behaves like a Shopify theme: `{% schema %}` read for the block's default settings and removed,
//! Liquid with the few Shopify filters the blocks use (`t`, `asset_url`, `json`, `money`), and the
//! objects `product`, `customer`, `shop`, `block`, `section` and `routes`. The demo store renders
//! its pages with it, and the merchant's admin its block previews (in production too).

use std::fmt;
use std::sync::Arc;

use liquid_core::parser::{FilterArguments, FilterReflection, ParameterReflection, ParseFilter};
use liquid_core::runtime::Runtime;
use liquid_core::{Filter, Value, ValueView};
use serde_json::{Map, Value as Json};

/// The theme extension, compiled into the binary from `theme-extension/` (so `cargo run` works
/// from any directory and what is served is exactly what ships).
pub mod files {
    pub const BLOCKS: &[(&str, &str)] = &[
        (
            "personalizer",
            include_str!("../theme-extension/blocks/personalizer.liquid"),
        ),
        (
            "preference-center",
            include_str!("../theme-extension/blocks/preference-center.liquid"),
        ),
        (
            "recommendations",
            include_str!("../theme-extension/blocks/recommendations.liquid"),
        ),
        (
            "app-embed",
            include_str!("../theme-extension/blocks/app-embed.liquid"),
        ),
        (
            "wishlist-button",
            include_str!("../theme-extension/blocks/wishlist-button.liquid"),
        ),
        (
            "quiz",
            include_str!("../theme-extension/blocks/quiz.liquid"),
        ),
        (
            "collection-sort",
            include_str!("../theme-extension/blocks/collection-sort.liquid"),
        ),
    ];
    pub const ASSETS: &[(&str, &str, &[u8])] = &[
        (
            "atelier-personalizer.js",
            "text/javascript; charset=utf-8",
            include_bytes!("../theme-extension/assets/atelier-personalizer.js"),
        ),
        (
            "atelier-preferences.js",
            "text/javascript; charset=utf-8",
            include_bytes!("../theme-extension/assets/atelier-preferences.js"),
        ),
        (
            "atelier-recommendations.js",
            "text/javascript; charset=utf-8",
            include_bytes!("../theme-extension/assets/atelier-recommendations.js"),
        ),
        (
            "atelier-embed.js",
            "text/javascript; charset=utf-8",
            include_bytes!("../theme-extension/assets/atelier-embed.js"),
        ),
        (
            "atelier-wishlist.js",
            "text/javascript; charset=utf-8",
            include_bytes!("../theme-extension/assets/atelier-wishlist.js"),
        ),
        (
            "atelier-quiz.js",
            "text/javascript; charset=utf-8",
            include_bytes!("../theme-extension/assets/atelier-quiz.js"),
        ),
        (
            "atelier-collection-sort.js",
            "text/javascript; charset=utf-8",
            include_bytes!("../theme-extension/assets/atelier-collection-sort.js"),
        ),
        (
            "atelier.css",
            "text/css; charset=utf-8",
            include_bytes!("../theme-extension/assets/atelier.css"),
        ),
    ];
    pub const LOCALE_EN: &str = include_str!("../theme-extension/locales/en.default.json");
}

/// `{% schema %}` JSON of a block and its Liquid without it.
pub fn split_schema(source: &str) -> (String, Json) {
    let Some(start) = source.find("{% schema %}") else {
        return (source.to_owned(), Json::Null);
    };
    let end = source[start..]
        .find("{% endschema %}")
        .map(|e| start + e)
        .unwrap_or(source.len());
    let json = &source[start + "{% schema %}".len()..end];
    let schema = serde_json::from_str(json).unwrap_or(Json::Null);
    let rest = source[..start].to_owned()
        + source
            .get(end + "{% endschema %}".len()..)
            .unwrap_or_default();
    (rest, schema)
}

/// Each setting's `default` from a block schema.
pub fn default_settings(schema: &Json) -> Map<String, Json> {
    schema["settings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| Some((s["id"].as_str()?.to_owned(), s.get("default")?.clone())))
        .collect()
}

/// A Liquid parser with the standard library and the Shopify filters the blocks use.
pub fn parser(locale: Arc<Json>, asset_base: &str, money_format: &str) -> liquid::Parser {
    liquid::ParserBuilder::with_stdlib()
        .filter(ShopifyFilter::new("t", Kind::Translate(locale)))
        .filter(ShopifyFilter::new(
            "asset_url",
            Kind::AssetUrl(asset_base.to_owned()),
        ))
        .filter(ShopifyFilter::new("json", Kind::Json))
        .filter(ShopifyFilter::new(
            "money",
            Kind::Money(money_format.to_owned()),
        ))
        .build()
        .expect("the Liquid parser builds")
}

#[derive(Clone, Debug)]
enum Kind {
    Translate(Arc<Json>),
    AssetUrl(String),
    Json,
    Money(String),
}

#[derive(Clone, Debug)]
struct ShopifyFilter {
    name: &'static str,
    kind: Kind,
}

impl ShopifyFilter {
    fn new(name: &'static str, kind: Kind) -> Self {
        ShopifyFilter { name, kind }
    }
}

impl FilterReflection for ShopifyFilter {
    fn name(&self) -> &str {
        self.name
    }
    fn description(&self) -> &str {
        "Shopify theme filter (demo storefront)"
    }
    fn positional_parameters(&self) -> &'static [ParameterReflection] {
        &[]
    }
    fn keyword_parameters(&self) -> &'static [ParameterReflection] {
        &[]
    }
}

impl ParseFilter for ShopifyFilter {
    fn parse(&self, _arguments: FilterArguments<'_>) -> liquid_core::Result<Box<dyn Filter>> {
        Ok(Box::new(self.clone()))
    }
    fn reflection(&self) -> &dyn FilterReflection {
        self
    }
}

impl fmt::Display for ShopifyFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

impl Filter for ShopifyFilter {
    fn evaluate(&self, input: &dyn ValueView, _: &dyn Runtime) -> liquid_core::Result<Value> {
        let text = || input.to_kstr().to_string();
        Ok(Value::scalar(match &self.kind {
            Kind::Translate(locale) => {
                let key = text();
                key.split('.')
                    .try_fold(&**locale, |node, part| node.get(part))
                    .and_then(Json::as_str)
                    .map(str::to_owned)
                    .unwrap_or_else(|| format!("translation missing: en.{key}"))
            }
            Kind::AssetUrl(base) => format!("{base}{}", text()),
            Kind::Json => serde_json::to_string(&input.to_value()).unwrap_or_default(),
            Kind::Money(format) => {
                let cents = text().parse::<i64>().unwrap_or(0);
                money(cents, format)
            }
        }))
    }
}

/// Shopify's `{{amount}}` money format for the demo shop's currency.
pub fn money(cents: i64, format: &str) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let c = cents.unsigned_abs();
    let whole = (c / 100).to_string();
    let mut grouped = String::new();
    for (i, ch) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(ch);
    }
    format.replace("{{amount}}", &format!("{sign}{grouped}.{:02}", c % 100))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_is_read_and_removed() {
        let (liquid, schema) = split_schema(
            "<p>{{ block.settings.heading }}</p>\n{% schema %}\n{\"settings\":[{\"id\":\"heading\",\"type\":\"text\",\"default\":\"Hi\"}]}\n{% endschema %}\n",
        );
        assert_eq!(liquid.trim(), "<p>{{ block.settings.heading }}</p>");
        assert_eq!(default_settings(&schema)["heading"], "Hi");
    }

    #[test]
    fn shopify_filters() {
        let locale = Arc::new(serde_json::json!({"a": {"b": "Bonjour"}}));
        let p = parser(locale, "/demo/assets/", "${{amount}}");
        let t = p
            .parse("{{ 'a.b' | t }}|{{ 'x.js' | asset_url }}|{{ 'q\"' | json }}|{{ 123456 | money }}|{{ 'a.c' | t }}")
            .unwrap();
        let out = t.render(&liquid::Object::new()).unwrap();
        assert_eq!(
            out,
            "Bonjour|/demo/assets/x.js|\"q\\\"\"|$1,234.56|translation missing: en.a.c"
        );
    }

    #[test]
    fn the_shipped_blocks_parse() {
        let p = parser(Arc::new(Json::Null), "/a/", "${{amount}}");
        for (name, source) in files::BLOCKS {
            let (liquid, schema) = split_schema(source);
            assert!(schema.is_object(), "{name}: schema");
            p.parse(&liquid)
                .unwrap_or_else(|e| panic!("{name} does not parse: {e}"));
        }
    }
}
