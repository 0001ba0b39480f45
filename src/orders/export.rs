//! The production export (`GET /api/orders/export.csv`): one row per line carrying
//! `_atelier`, the fixed columns, then one column per field label.
//!
//! Shopper text goes into a spreadsheet, so every text cell is made inert: a cell starting with
//! `=`, `+`, `-`, `@`, a tab or a carriage return (what spreadsheets read as a formula) is prefixed
//! with `'`, as OWASP recommends. Quoting of commas, quotes and newlines is the `csv` crate's
//! (RFC 4180). The file starts with a UTF-8 byte order mark so spreadsheet programs read accents
//! and emoji correctly.

use std::collections::{HashMap, HashSet};

use diesel::QueryResult;

use crate::db::DbConnection;
use crate::orders::{ExportLine, PropertyOut, parse_properties};

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

/// Column names in order of first appearance, each once. A set keeps this linear: a shop's
/// lines can carry any number of distinct property names (forged lines included).
#[derive(Default)]
struct Columns {
    names: Vec<String>,
    seen: HashSet<String>,
}

impl Columns {
    fn add(&mut self, name: &str) {
        if !self.seen.contains(name) {
            self.seen.insert(name.to_owned());
            self.names.push(name.to_owned());
        }
    }
}

/// The labels of every template version the lines pinned, in field order, each version once.
fn pinned_labels(
    c: &mut DbConnection,
    shop_id: &str,
    lines: &[ExportLine],
) -> QueryResult<Vec<String>> {
    let mut labels = Vec::new();
    let mut seen_versions: HashSet<(String, i32)> = HashSet::new();
    for l in lines {
        if let (Some(id), Some(v)) = (&l.line.template_id, l.line.template_version)
            && seen_versions.insert((id.clone(), v))
            && let Some(fields) = crate::personalization::store::version(c, shop_id, id, v)?
        {
            labels.extend(fields.into_iter().map(|f| f.label));
        }
    }
    Ok(labels)
}

/// The field columns: the pinned labels, then any other visible property seen on the lines (a
/// forged line's, say), in order of appearance.
fn field_columns(labels: &[String], lines: &[ExportLine]) -> Vec<String> {
    let mut columns = Columns::default();
    for label in labels {
        columns.add(label.trim());
    }
    for l in lines {
        add_property_columns(&mut columns, &parse_properties(&l.line.properties));
    }
    columns.names
}

fn add_property_columns(columns: &mut Columns, props: &[PropertyOut]) {
    for p in props {
        if !p.name.starts_with('_') {
            columns.add(&p.name);
        }
    }
}

/// One row's field cells: the first property of each column's name, made inert.
fn field_cells(props: &[PropertyOut], columns: &[String]) -> Vec<String> {
    let mut by_name: HashMap<&str, &str> = HashMap::with_capacity(props.len());
    for p in props {
        by_name.entry(p.name.as_str()).or_insert(p.value.as_str());
    }
    columns
        .iter()
        .map(|col| {
            by_name
                .get(col.as_str())
                .map(|v| inert(v))
                .unwrap_or_default()
        })
        .collect()
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

/// The whole CSV document.
pub fn export(c: &mut DbConnection, shop_id: &str, lines: &[ExportLine]) -> QueryResult<Vec<u8>> {
    let labels = pinned_labels(c, shop_id, lines)?;
    document(&labels, lines).map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))
}

/// The CSV document of `lines`, given the field labels of the template versions they pinned
/// (in field order).
pub fn document(labels: &[String], lines: &[ExportLine]) -> Result<Vec<u8>, csv::Error> {
    let columns = field_columns(labels, lines);
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(b"\xEF\xBB\xBF".to_vec());
    let header: Vec<String> = FIXED_COLUMNS
        .iter()
        .map(|c| (*c).to_owned())
        .chain(columns.iter().map(|c| inert(c)))
        .collect();
    w.write_record(&header)?;
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
        row.extend(field_cells(&props, &columns));
        w.write_record(&row)?;
    }
    w.into_inner().map_err(|e| e.into_error().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prop(name: &str, value: &str) -> PropertyOut {
        serde_json::from_value(serde_json::json!({"name": name, "value": value})).unwrap()
    }

    #[test]
    fn columns_are_unique_in_order_and_cells_take_the_first_value() {
        let mut columns = Columns::default();
        add_property_columns(
            &mut columns,
            &[
                prop("B", "1"),
                prop("_atelier", "sig"),
                prop("A", "2"),
                prop("B", "3"),
            ],
        );
        add_property_columns(&mut columns, &[prop("C", "=x"), prop("A", "4")]);
        assert_eq!(columns.names, ["B", "A", "C"]);
        assert_eq!(
            field_cells(
                &[prop("C", "=x"), prop("B", "1"), prop("B", "2")],
                &columns.names
            ),
            ["1", "", "'=x"]
        );
    }

    #[test]
    fn many_distinct_property_names_stay_linear() {
        // Forged lines can each carry new property names: 40,000 of them once took seconds.
        let props: Vec<PropertyOut> = (0..40_000).map(|i| prop(&format!("p{i}"), "v")).collect();
        let started = std::time::Instant::now();
        let mut columns = Columns::default();
        add_property_columns(&mut columns, &props);
        let cells = field_cells(&props, &columns.names);
        assert_eq!(cells.len(), 40_000);
        assert!(
            started.elapsed() < std::time::Duration::from_secs(1),
            "{:?}",
            started.elapsed()
        );
    }

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
