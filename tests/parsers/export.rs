//! The production CSV: any text a shopper typed (or a forged line carried) reads back from the
//! file as the same cell with a CSV reader, except that a cell a spreadsheet would evaluate is
//! prefixed with `'`.

use atelier::orders::export::{FIXED_COLUMNS, document, inert};
use atelier::orders::{ExportLine, LineItem, PropertyOut};
use proptest::prelude::*;

use crate::arb::{hostile_text, text, text_of};

const CELL_CHARS: &[char] = &[
    'a', ' ', ',', '"', '\n', '\r', '\t', '=', '+', '-', '@', '\'', ';', 'é', '\u{FEFF}', '\u{0}',
];

fn cell_text() -> impl Strategy<Value = String> {
    prop_oneof![text_of(CELL_CHARS, 12), text(10), hostile_text()]
}

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(&["Engraving", "Font", "_atelier", "_hidden", "=cmd", " Engraving"][..]).prop_map(str::to_owned),
        1 => cell_text(),
    ]
}

fn line(
    order: i64,
    properties: Vec<(String, String)>,
    extra: (Option<i64>, bool, i32),
) -> LineItem {
    let props: Vec<PropertyOut> = properties
        .into_iter()
        .map(|(name, value)| PropertyOut { name, value })
        .collect();
    let at = time::macros::datetime!(2026-01-01 0:00);
    LineItem {
        shop_id: "s".into(),
        line_item_id: order * 10,
        order_id: order,
        position: 0,
        product_id: extra.0,
        variant_id: None,
        title: "t".into(),
        variant_title: None,
        sku: None,
        quantity: extra.2,
        current_quantity: extra.2,
        refunded_quantity: 0,
        price_cents: 100,
        gift_card: false,
        properties: serde_json::to_string(&props).unwrap(),
        discount_cents: 0,
        personalization_verified: Some(extra.1),
        verdict: None,
        template_id: None,
        template_version: None,
        expected_cents: Some(0),
        charged_cents: None,
        status: Some("pending".into()),
        status_changed_at: Some(at),
    }
}

/// The columns the export documents: labels (trimmed) in order, then visible property names
/// in order of appearance, each once.
fn columns(labels: &[String], lines: &[Vec<(String, String)>]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let names = labels.iter().map(|l| l.trim().to_owned()).chain(
        lines
            .iter()
            .flatten()
            .filter(|(n, _)| !n.starts_with('_'))
            .map(|(n, _)| n.clone()),
    );
    for n in names {
        if !out.contains(&n) {
            out.push(n);
        }
    }
    out
}

proptest! {
    #[test]
    fn every_cell_reads_back_as_written_and_formulas_are_inert(
        labels in prop::collection::vec(name(), 0..3),
        rows in prop::collection::vec(
            (cell_text(), prop::collection::vec((name(), cell_text()), 0..4), (prop::option::of(1i64..i64::MAX), any::<bool>(), -5i32..5)),
            0..4,
        ),
    ) {
        let lines: Vec<ExportLine> = rows
            .iter()
            .enumerate()
            .map(|(i, (order_name, props, extra))| ExportLine {
                order_name: order_name.clone(),
                line: line(i as i64 + 1, props.clone(), *extra),
            })
            .collect();
        let bytes = document(&labels, &lines).unwrap();
        let body = bytes.strip_prefix(b"\xEF\xBB\xBF".as_slice()).expect("a byte order mark first");
        let records: Vec<csv::StringRecord> = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(body)
            .records()
            .collect::<Result<_, _>>()
            .unwrap();
        let props: Vec<Vec<(String, String)>> = rows.iter().map(|(_, p, _)| p.clone()).collect();
        let columns = columns(&labels, &props);
        let header: Vec<String> = FIXED_COLUMNS.iter().map(|c| c.to_string()).chain(columns.iter().map(|c| inert(c))).collect();
        prop_assert_eq!(records.len(), rows.len() + 1);
        prop_assert_eq!(records[0].iter().collect::<Vec<_>>(), header.iter().map(String::as_str).collect::<Vec<_>>());
        for (record, (order_name, props, extra)) in records[1..].iter().zip(&rows) {
            prop_assert_eq!(record.len(), header.len());
            prop_assert_eq!(record[0].to_owned(), inert(order_name));
            prop_assert_eq!(record[3].to_owned(), extra.0.map(|id| id.to_string()).unwrap_or_default());
            prop_assert_eq!(record[5].to_owned(), extra.2.to_string());
            for (j, col) in columns.iter().enumerate() {
                let want = props.iter().find(|(n, _)| n == col).map(|(_, v)| inert(v)).unwrap_or_default();
                prop_assert_eq!(record[FIXED_COLUMNS.len() + j].to_owned(), want, "column {:?}", col);
            }
        }
    }

    #[test]
    fn a_cell_a_spreadsheet_would_evaluate_is_made_text(cell in cell_text()) {
        let out = inert(&cell);
        let formula = cell.starts_with(['=', '+', '-', '@', '\t', '\r']);
        if formula {
            prop_assert_eq!(out, format!("'{cell}"));
        } else {
            prop_assert_eq!(out, cell);
        }
    }
}
