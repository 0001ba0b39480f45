//! The production export (`GET /api/orders/export.csv`): one row per line carrying
//! `_atelier`, the fixed columns, then one column per field label.
//!
//! Shopper text goes into a spreadsheet, so every text cell is made inert: a cell starting with
//! `=`, `+`, `-`, `@`, a tab or a carriage return (what spreadsheets read as a formula) is prefixed
//! with `'`, as OWASP recommends. Quoting of commas, quotes and newlines is the `csv` crate's
//! (RFC 4180). The file starts with a UTF-8 byte order mark so spreadsheet programs read accents
//! and emoji correctly.

use std::collections::HashMap;

use diesel::QueryResult;

use crate::db::DbConnection;
use crate::orders::{ExportLine, parse_properties};

pub const FIXED_COLUMNS: [&str; 10] = [
    "order_name",
    "order_id",
    "line_item_id",
    "product_id",
    "variant_id",
    "quantity",
    "status",
    "verified",
    "expected_cents",
    "charged_cents",
];

/// A text cell a spreadsheet will not evaluate.
pub fn inert(cell: &str) -> String {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}"),
        _ => cell.to_owned(),
    }
}

/// The field columns: the labels of every pinned template version, in field order, then any
/// other visible property seen on those lines (a forged line's, say), in order of appearance.
fn field_columns(
    c: &mut DbConnection,
    shop_id: &str,
    lines: &[ExportLine],
) -> QueryResult<Vec<String>> {
    let mut labels: Vec<String> = Vec::new();
    let mut seen_versions: HashMap<(String, i32), ()> = HashMap::new();
    for l in lines {
        if let (Some(id), Some(v)) = (&l.line.template_id, l.line.template_version)
            && seen_versions.insert((id.clone(), v), ()).is_none()
            && let Some(fields) = crate::personalization::store::version(c, shop_id, id, v)?
        {
            for f in fields {
                let label = f.label.trim().to_owned();
                if !labels.contains(&label) {
                    labels.push(label);
                }
            }
        }
    }
    for l in lines {
        for p in parse_properties(&l.line.properties) {
            if !p.name.starts_with('_') && !labels.contains(&p.name) {
                labels.push(p.name);
            }
        }
    }
    Ok(labels)
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

/// The whole CSV document.
pub fn export(c: &mut DbConnection, shop_id: &str, lines: &[ExportLine]) -> QueryResult<Vec<u8>> {
    let columns = field_columns(c, shop_id, lines)?;
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(b"\xEF\xBB\xBF".to_vec());
    let header: Vec<String> = FIXED_COLUMNS
        .iter()
        .map(|c| (*c).to_owned())
        .chain(columns.iter().map(|c| inert(c)))
        .collect();
    let to_io = |e: csv::Error| diesel::result::Error::SerializationError(Box::new(e));
    w.write_record(&header).map_err(to_io)?;
    for ExportLine { order_name, line } in lines {
        let props = parse_properties(&line.properties);
        let mut row = vec![
            inert(order_name),
            line.order_id.to_string(),
            line.line_item_id.to_string(),
            opt(line.product_id),
            opt(line.variant_id),
            line.quantity.to_string(),
            opt(line.status.as_deref()),
            opt(line.personalization_verified),
            opt(line.expected_cents),
            opt(line.charged_cents),
        ];
        for col in &columns {
            let value = props
                .iter()
                .find(|p| &p.name == col)
                .map(|p| inert(&p.value))
                .unwrap_or_default();
            row.push(value);
        }
        w.write_record(&row).map_err(to_io)?;
    }
    w.into_inner()
        .map_err(|e| diesel::result::Error::SerializationError(Box::new(e.into_error())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_made_inert() {
        for (given, want) in [
            ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
            ("+1", "'+1"),
            ("-2+3", "'-2+3"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("\rx", "'\rx"),
            ("Anna", "Anna"),
            ("", ""),
            ("a=b", "a=b"),
        ] {
            assert_eq!(inert(given), want);
        }
    }
}
