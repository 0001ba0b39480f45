//! Server-side preview: an SVG overlay, the size of the product image in percent coordinates
//! (`viewBox 0 0 1000 1000`, transparent), with each visible text field drawn where its
//! `preview` says, in its font and color. The theme lays it over the product image (an SVG used as
//! an image cannot load the product photo itself), and can draw the same thing client-side from
//! the `preview` members of `/fields` for zero-latency updates; this endpoint is the reference
//! rendering, also used for order sheets.
//!
//! Text is normalized and cut to the field's `max_length` exactly as `personalize` counts it, and
//! everything shopper-controlled is XML-escaped: the SVG carries no script, link or external
//! reference.

use std::fmt::Write;

use serde_json::{Map, Value};
use unicode_segmentation::UnicodeSegmentation;

use super::template::FieldType;
use super::values::{CompiledTemplate, normalize_text};

const DEFAULT_COLOR: &str = "#111111";
const DEFAULT_FONT: &str = "serif";

/// XML text and attribute escaping.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Not allowed in XML 1.0 at all.
            c if c.is_control() && c != '\n' && c != '\t' => {}
            c => out.push(c),
        }
    }
    out
}

/// The SVG for these values (invalid or hidden values are simply not drawn).
pub fn render(template: &CompiledTemplate, values: &Map<String, Value>) -> String {
    let fields = &template.fields;
    let shown = template.visibility(values);
    // A chosen swatch colors the texts that do not name their own color (an engraving color).
    let swatch_color = fields
        .iter()
        .zip(&shown)
        .filter(|(f, s)| **s && f.kind == FieldType::Swatch)
        .find_map(|(f, _)| {
            let chosen = values.get(&f.key)?.as_str()?;
            f.options
                .iter()
                .flatten()
                .find(|o| o.value == chosen)?
                .color
                .clone()
        });
    let mut svg = String::from(
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1000 1000" width="1000" height="1000">"#,
    );
    let mut slot = 0;
    for (f, visible) in fields.iter().zip(&shown) {
        if !*visible || !f.kind.is_text() {
            continue;
        }
        let Some(raw) = values.get(&f.key).and_then(Value::as_str) else {
            continue;
        };
        if raw.len() > super::values::MAX_VALUE_BYTES {
            continue;
        }
        let text = normalize_text(raw);
        if text.is_empty() {
            continue;
        }
        let max = f.max_length.unwrap_or(super::template::MAX_TEXTAREA_LENGTH) as usize;
        let text: String = text.graphemes(true).take(max).collect();
        let p = f.preview.as_ref();
        let color = p
            .and_then(|p| p.color.clone())
            .or_else(|| swatch_color.clone())
            .unwrap_or_else(|| DEFAULT_COLOR.to_owned());
        let font = p
            .and_then(|p| p.font.clone())
            .unwrap_or_else(|| DEFAULT_FONT.to_owned());
        let size = p.and_then(|p| p.size).unwrap_or(6.0) * 10.0;
        // Fields without a position stack down the middle of the image.
        let x = p.and_then(|p| p.x).unwrap_or(50.0) * 10.0;
        let y = p
            .and_then(|p| p.y)
            .unwrap_or((50.0 + 10.0 * slot as f32).min(95.0))
            * 10.0;
        slot += 1;
        let _ = write!(
            svg,
            r#"<text data-field="{key}" x="{x:.1}" y="{y:.1}" font-family="{font}" font-size="{size:.1}" fill="{color}" text-anchor="middle" dominant-baseline="middle">"#,
            key = escape(&f.key),
            font = escape(&font),
            color = escape(&color),
        );
        let lines: Vec<&str> = text.split('\n').collect();
        if lines.len() == 1 {
            svg.push_str(&escape(&text));
        } else {
            // Lines centred around y.
            let first = -((lines.len() - 1) as f32) * 0.6;
            for (i, line) in lines.iter().enumerate() {
                let dy = if i == 0 { first } else { 1.2 };
                let _ = write!(
                    svg,
                    r#"<tspan x="{x:.1}" dy="{dy:.2}em">{}</tspan>"#,
                    escape(line)
                );
            }
        }
        svg.push_str("</text>");
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::personalization::template::parse_fields;
    use serde_json::json;

    fn template() -> CompiledTemplate {
        CompiledTemplate::new(
            parse_fields(&json!([
                {"key": "name", "label": "Name", "type": "text", "max_length": 5,
                 "preview": {"font": "Great Vibes", "x": 50, "y": 40, "size": 8}},
                {"key": "color", "label": "Color", "type": "swatch", "options": [
                    {"value": "gold", "label": "Gold", "color": "#d4af37"}]},
                {"key": "note", "label": "Note", "type": "textarea", "show_if": {"field": "color", "equals": "gold"}}
            ]))
            .unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn draws_escaped_cut_text_in_the_chosen_style() {
        let svg = render(
            &template(),
            json!({"name": "<b>&\"Anna👩‍👩‍👧", "color": "gold", "note": "l1\nl2"})
                .as_object()
                .unwrap(),
        );
        assert!(svg.starts_with("<svg"), "{svg}");
        assert!(
            svg.contains(">&lt;b&gt;&amp;&quot;<"),
            "escaped and cut to 5: {svg}"
        );
        assert!(!svg.contains("<b>"));
        assert!(svg.contains(r#"font-family="Great Vibes""#));
        assert!(svg.contains(r##"fill="#d4af37""##), "swatch color: {svg}");
        assert!(svg.contains(r#"x="500.0" y="400.0""#));
        assert!(svg.contains(">l1</tspan>") && svg.contains(">l2</tspan>"));
        assert!(!svg.contains("script") && !svg.contains("href"));
    }

    #[test]
    fn hidden_fields_are_not_drawn() {
        let svg = render(
            &template(),
            json!({"name": "A", "note": "secret"}).as_object().unwrap(),
        );
        assert!(!svg.contains("secret"));
        assert!(svg.contains(r##"fill="#111111""##));
    }
}
