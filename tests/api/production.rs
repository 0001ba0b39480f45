//! From cart to production: orders arriving with personalized lines are verified against their
//! `_atelier` signature and pinned template version, the add-on is reconciled with what the order
//! charged, and the merchant moves lines through production and exports them as CSV. Also the
//! shopper's uploads, the preview, and the shop's blocked words.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;

const SHOP: &str = "engrave-co.myshopify.com";
const OTHER: &str = "other-engraver.myshopify.com";
const RING: i64 = 9_007_199_254_740_993; // above 2^53
const MUG: i64 = 8_100_000_001;
const FEE: i64 = 8_100_000_999;

fn template() -> Value {
    json!({
        "name": "Ring",
        "product_ids": [RING.to_string(), MUG],
        "fields": [
            {"key": "engraving", "label": "Engraving", "type": "text", "required": true, "max_length": 40, "price_cents": 500},
            {"key": "metal", "label": "Metal", "type": "select", "required": true, "options": [
                {"value": "silver", "label": "Sterling silver"}, {"value": "gold", "label": "Gold", "price_cents": 4000}]},
            {"key": "gift", "label": "Gift box", "type": "checkbox", "price_cents": 300},
            {"key": "photo", "label": "Photo", "type": "image", "price_cents": 1000}
        ]
    })
}

async fn setup(app: &TestApp, shop: &str) -> String {
    app.install(shop).await;
    let resp = app
        .api_send(Method::POST, "/api/templates", shop, Some(&template()))
        .await;
    assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
    let t: Value = resp.json().await.unwrap();
    t["id"].as_str().unwrap().to_owned()
}

async fn personalize(app: &TestApp, shop: &str, product: i64, values: Value) -> Value {
    let resp = app
        .client
        .post(app.proxy_url(&format!("/products/{product}/personalize"), shop, None))
        .json(&json!({ "values": values }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    resp.json().await.unwrap()
}

/// A line item for [`order`]: `(line_id, product_id, quantity, price, properties)`.
type Line = (i64, i64, i64, &'static str, Value);

fn order(order_id: i64, updated_at: &str, lines: Vec<Line>) -> Value {
    let spec: Vec<(i64, i64, i64, &str)> = lines
        .iter()
        .map(|(id, p, q, price, _)| (*id, *p, *q, *price))
        .collect();
    let mut body = order_payload(order_id, Some(555), updated_at, &spec);
    for (i, (_, _, _, _, props)) in lines.into_iter().enumerate() {
        body["line_items"][i]["properties"] = props;
    }
    body
}

fn fee_line(id: i64, signature: &Value, quantity: i64) -> Line {
    (
        id,
        FEE,
        quantity,
        "0.01",
        json!([{"name": "_atelier_fee", "value": signature}]),
    )
}

async fn deliver_order(app: &TestApp, shop: &str, body: &Value) {
    app.deliver(&Delivery::new("orders/create", shop, body))
        .await;
    app.drain().await;
}

async fn orders(app: &TestApp, shop: &str, query: &str) -> Vec<Value> {
    let resp = app.api_get(&format!("/api/orders{query}"), shop).await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    v["items"].as_array().unwrap().clone()
}

fn line(orders: &[Value], line_id: i64) -> &Value {
    orders
        .iter()
        .flat_map(|o| o["line_items"].as_array().unwrap())
        .find(|l| l["line_item_id"].as_str() == Some(line_id.to_string().as_str()))
        .unwrap_or_else(|| panic!("line {line_id} not found"))
}

#[tokio::test]
async fn orders_are_verified_and_reconciled_against_the_signature() {
    let app = spawn_app().await;
    setup(&app, SHOP).await;
    let p = personalize(
        &app,
        SHOP,
        RING,
        json!({"engraving": "Für Anna ❤️, 2026", "metal": "gold", "gift": true}),
    )
    .await;
    assert_eq!(p["price_cents"], 500 + 4000 + 300);
    let props = p["properties"].clone();
    let sig = p["signature"].clone();

    // 1. Paid in full: two rings, fee quantity = add-on × 2 at one cent.
    let body = order(
        1001,
        "2026-11-01T10:00:05-05:00",
        vec![
            (1, RING, 2, "120.00", props.clone()),
            fee_line(2, &sig, 4800 * 2),
            (3, MUG, 1, "15.00", json!([])),
        ],
    );
    deliver_order(&app, SHOP, &body).await;
    let list = orders(&app, SHOP, "").await;
    let l = line(&list, 1);
    assert_eq!(l["personalization_verified"], true, "{l}");
    assert_eq!(l["template_version"], 1);
    assert_eq!(l["expected_cents"], 9600);
    assert_eq!(l["charged_cents"], 9600);
    assert_eq!(l["verdict"], "ok");
    assert_eq!(l["flagged"], false);
    assert_eq!(l["status"], "pending");
    let plain = line(&list, 3);
    assert_eq!(plain["personalization_verified"], Value::Null);
    assert_eq!(plain["expected_cents"], Value::Null);
    assert_eq!(plain["charged_cents"], Value::Null);
    assert_eq!(plain["status"], Value::Null);

    // 2. The text changed in the cart: altered, flagged.
    let mut altered = props.clone();
    altered[0]["value"] = json!("Für Bob");
    // 3. A cheaper option swapped in, the signature kept.
    let mut cheaper = props.clone();
    cheaper[1]["value"] = json!("Sterling silver");
    // 4. Fee line removed (express checkout that drops it): underpaid.
    // 5. Signature replayed onto another product.
    // 6. A made-up signature.
    let mut forged = props.clone();
    let n = forged.as_array().unwrap().len();
    forged[n - 1]["value"] = json!("v1.0000.1.0.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    let body = order(
        1002,
        "2026-11-01T11:00:00-05:00",
        vec![
            (11, RING, 1, "120.00", altered),
            (12, RING, 1, "120.00", cheaper),
            (13, RING, 1, "120.00", props.clone()),
            (14, MUG, 1, "15.00", props.clone()),
            (15, RING, 1, "120.00", forged),
        ],
    );
    deliver_order(&app, SHOP, &body).await;
    let list = orders(&app, SHOP, "").await;
    for (id, verified, verdict) in [
        (11, false, "altered"),
        (12, false, "altered"),
        (13, true, "underpaid"),
        (14, false, "altered"),
        (15, false, "forged"),
    ] {
        let l = line(&list, id);
        assert_eq!(l["personalization_verified"], verified, "line {id}: {l}");
        assert_eq!(l["verdict"], verdict, "line {id}");
        assert_eq!(l["flagged"], true, "line {id}");
        assert_eq!(l["charged_cents"], 0, "line {id}");
    }
    assert_eq!(line(&list, 13)["expected_cents"], 4800);

    // 7. The same cart in another shop (its own install, same app secret).
    app.install(OTHER).await;
    let body = order(
        2001,
        "2026-11-01T12:00:00-05:00",
        vec![
            (21, RING, 1, "120.00", props.clone()),
            fee_line(22, &sig, 4800),
        ],
    );
    deliver_order(&app, OTHER, &body).await;
    let other = orders(&app, OTHER, "").await;
    assert_eq!(line(&other, 21)["personalization_verified"], false);
    assert_eq!(
        line(&other, 21)["verdict"],
        "forged",
        "no such template in that shop"
    );
    // …and the shops' orders stay apart.
    assert!(other.iter().all(|o| o["order_id"] == "2001"));
    assert_eq!(orders(&app, SHOP, "").await.len(), 2);
}

#[tokio::test]
async fn versions_are_pinned_and_re_deliveries_keep_production_state() {
    let app = spawn_app().await;
    let tid = setup(&app, SHOP).await;
    let p = personalize(
        &app,
        SHOP,
        RING,
        json!({"engraving": "A", "metal": "silver"}),
    )
    .await;
    let body = order(
        3001,
        "2026-11-01T10:00:05-05:00",
        vec![
            (31, RING, 1, "120.00", p["properties"].clone()),
            fee_line(32, &p["signature"], 500),
        ],
    );
    deliver_order(&app, SHOP, &body).await;

    // The merchant edits the template (v2) and starts production.
    let mut edited = template();
    edited["fields"][0]["price_cents"] = json!(9999);
    edited["fields"][0]["label"] = json!("Inscription");
    let resp = app
        .api_send(
            Method::PUT,
            &format!("/api/templates/{tid}"),
            SHOP,
            Some(&edited),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let resp = app
        .api_send(
            Method::PATCH,
            "/api/orders/3001/items/31",
            SHOP,
            Some(&json!({"status": "in_production"})),
        )
        .await;
    assert_eq!(resp.status(), 200);

    // orders/updated arrives later: the line still pins v1 and its price; status kept.
    let mut later = body.clone();
    later["updated_at"] = json!("2026-11-02T10:00:00-05:00");
    app.deliver(&Delivery::new("orders/updated", SHOP, &later))
        .await;
    app.drain().await;
    let list = orders(&app, SHOP, "").await;
    let l = line(&list, 31);
    assert_eq!(l["template_version"], 1);
    assert_eq!(l["expected_cents"], 500);
    assert_eq!(l["verdict"], "ok");
    assert_eq!(l["status"], "in_production");

    // Deleting the template does not break the pinned order either.
    let resp = app
        .api_send(Method::DELETE, &format!("/api/templates/{tid}"), SHOP, None)
        .await;
    assert_eq!(resp.status(), 204);
    let mut again = body.clone();
    again["updated_at"] = json!("2026-11-03T10:00:00-05:00");
    app.deliver(&Delivery::new("orders/updated", SHOP, &again))
        .await;
    app.drain().await;
    let l = line(&orders(&app, SHOP, "").await, 31).clone();
    assert_eq!(
        (l["personalization_verified"].clone(), l["verdict"].clone()),
        (json!(true), json!("ok"))
    );
}

#[tokio::test]
async fn production_status_moves_one_step_forward_only() {
    let app = spawn_app().await;
    setup(&app, SHOP).await;
    let p = personalize(
        &app,
        SHOP,
        RING,
        json!({"engraving": "A", "metal": "silver"}),
    )
    .await;
    let body = order(
        4001,
        "2026-11-01T10:00:05-05:00",
        vec![
            (41, RING, 1, "125.00", p["properties"].clone()),
            (42, MUG, 1, "15.00", json!([])),
        ],
    );
    deliver_order(&app, SHOP, &body).await;
    let patch = |line: i64, status: Value, shop: &'static str| {
        let app = &app;
        async move {
            app.api_send(
                Method::PATCH,
                &format!("/api/orders/4001/items/{line}"),
                shop,
                Some(&json!({ "status": status })),
            )
            .await
        }
    };
    let status = |r: reqwest::Response| r.status().as_u16();

    assert_eq!(
        status(patch(41, json!("done"), SHOP).await),
        409,
        "skipping production"
    );
    assert_eq!(status(patch(41, json!("pending"), SHOP).await), 409);
    let resp = patch(41, json!("in_production"), SHOP).await;
    assert_eq!(resp.status(), 200);
    let l: Value = resp.json().await.unwrap();
    assert_eq!(l["status"], "in_production");
    assert_eq!(l["line_item_id"], "41");
    let resp = patch(41, json!("in_production"), SHOP).await;
    assert_eq!(resp.status(), 409);
    let err: Value = resp.json().await.unwrap();
    assert_eq!(err["error"]["code"], "illegal_transition");
    assert_eq!(status(patch(41, json!("done"), SHOP).await), 200);
    assert_eq!(
        status(patch(41, json!("in_production"), SHOP).await),
        409,
        "no way back"
    );

    assert_eq!(
        status(patch(42, json!("in_production"), SHOP).await),
        409,
        "not personalized"
    );
    assert_eq!(status(patch(99, json!("in_production"), SHOP).await), 404);
    assert_eq!(status(patch(41, json!("shipped"), SHOP).await), 422);
    assert_eq!(status(patch(41, json!(3), SHOP).await), 422);
    let resp = app
        .api_send(
            Method::PATCH,
            "/api/orders/abc/items/41",
            SHOP,
            Some(&json!({"status": "done"})),
        )
        .await;
    assert_eq!(resp.status(), 400);

    app.install(OTHER).await;
    assert_eq!(
        status(patch(41, json!("done"), OTHER).await),
        404,
        "another shop's line"
    );
}

#[tokio::test]
async fn concurrent_status_changes_cannot_both_win() {
    let app = spawn_app().await;
    setup(&app, SHOP).await;
    let p = personalize(
        &app,
        SHOP,
        RING,
        json!({"engraving": "A", "metal": "silver"}),
    )
    .await;
    let body = order(
        4101,
        "2026-11-01T10:00:05-05:00",
        vec![(51, RING, 1, "125.00", p["properties"].clone())],
    );
    deliver_order(&app, SHOP, &body).await;
    let change = json!({"status": "in_production"});
    let sends = (0..8).map(|_| {
        app.api_send(
            Method::PATCH,
            "/api/orders/4101/items/51",
            SHOP,
            Some(&change),
        )
    });
    let codes: Vec<u16> = futures_util::future::join_all(sends)
        .await
        .into_iter()
        .map(|r| r.status().as_u16())
        .collect();
    assert_eq!(codes.iter().filter(|c| **c == 200).count(), 1, "{codes:?}");
    assert_eq!(codes.iter().filter(|c| **c == 409).count(), 7, "{codes:?}");
}

#[tokio::test]
async fn personalized_filter_and_pages() {
    let app = spawn_app().await;
    setup(&app, SHOP).await;
    let p = personalize(
        &app,
        SHOP,
        RING,
        json!({"engraving": "A", "metal": "silver"}),
    )
    .await;
    for i in 0..5i64 {
        let props = if i % 2 == 0 {
            p["properties"].clone()
        } else {
            json!([])
        };
        let mut body = order(
            5000 + i,
            "2026-11-01T10:00:05-05:00",
            vec![(500 + i, RING, 1, "125.00", props)],
        );
        body["created_at"] = json!(format!("2026-11-0{}T10:00:00Z", i + 1));
        deliver_order(&app, SHOP, &body).await;
    }
    let ids = |list: &[Value]| -> Vec<String> {
        list.iter()
            .map(|o| o["order_id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        ids(&orders(&app, SHOP, "").await),
        ["5004", "5003", "5002", "5001", "5000"]
    );
    assert_eq!(
        ids(&orders(&app, SHOP, "?personalized=true").await),
        ["5004", "5002", "5000"]
    );

    let first: Value = app
        .api_get("/api/orders?limit=2", SHOP)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ids(first["items"].as_array().unwrap()), ["5004", "5003"]);
    let cursor = first["next_cursor"].as_str().unwrap();
    let second: Value = app
        .api_get(&format!("/api/orders?limit=2&cursor={cursor}"), SHOP)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ids(second["items"].as_array().unwrap()), ["5002", "5001"]);
    assert_eq!(
        app.api_get("/api/orders?personalized=maybe", SHOP)
            .await
            .status(),
        422
    );
    assert_eq!(app.api_get("/api/orders?limit=0", SHOP).await.status(), 422);
    assert_eq!(
        app.api_get("/api/orders?cursor=garbage!", SHOP)
            .await
            .status(),
        400
    );
}

#[tokio::test]
async fn the_csv_export_quotes_everything_and_defuses_formulas() {
    let app = spawn_app().await;
    setup(&app, SHOP).await;
    let texts = [
        "Smith, John",
        "She said \"hi\"",
        "line one\nline two",
        "=HYPERLINK(\"http://evil.example\",\"x\")",
        "+1 and @2",
    ];
    let mut lines = Vec::new();
    for (i, t) in texts.iter().enumerate() {
        let engraving = if t.contains('\n') {
            t.replace('\n', " / ")
        } else {
            (*t).to_owned()
        };
        let p = personalize(
            &app,
            SHOP,
            RING,
            json!({"engraving": engraving, "metal": "gold", "gift": i == 0}),
        )
        .await;
        let mut props = p["properties"].clone();
        if t.contains('\n') {
            // Shopper text with a newline, as a forged (unsigned) line carries it.
            props[0]["value"] = json!(t);
        }
        lines.push((600 + i as i64, RING, 1, "120.00", props));
    }
    lines.push((699, MUG, 1, "15.00", json!([])));
    deliver_order(&app, SHOP, &order(6001, "2026-11-01T10:00:05-05:00", lines)).await;

    let resp = app.api_get("/api/orders/export.csv", SHOP).await;
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let body = resp.text().await.unwrap();
    let body = body.trim_start_matches('\u{feff}');
    let mut reader = csv::Reader::from_reader(body.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(
        &header[..10],
        [
            "order_name",
            "order_id",
            "line_item_id",
            "product_id",
            "variant_id",
            "quantity",
            "status",
            "verified",
            "expected_cents",
            "charged_cents"
        ]
    );
    assert_eq!(&header[10..], ["Engraving", "Metal", "Gift box", "Photo"]);
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(
        rows.len(),
        5,
        "one row per personalized line, none for the mug"
    );
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let engraving: Vec<&str> = rows.iter().map(|r| &r[col("Engraving")]).collect();
    assert_eq!(
        engraving,
        [
            "Smith, John",
            "She said \"hi\"",
            "line one\nline two",
            "'=HYPERLINK(\"http://evil.example\",\"x\")",
            "'+1 and @2",
        ]
    );
    assert_eq!(&rows[0][col("product_id")], RING.to_string(), "every digit");
    assert_eq!(&rows[0][col("Gift box")], "Yes");
    assert_eq!(&rows[1][col("Gift box")], "");
    assert_eq!(&rows[0][col("Metal")], "Gold");
    assert_eq!(&rows[0][col("verified")], "true");
    assert_eq!(&rows[2][col("verified")], "false");
    assert_eq!(&rows[0][col("expected_cents")], "4800");
    assert_eq!(&rows[0][col("status")], "pending");
    assert!(
        !body.contains("_atelier"),
        "hidden properties are not columns"
    );

    app.install(OTHER).await;
    let other = app
        .api_get("/api/orders/export.csv", OTHER)
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(
        other.trim_start_matches('\u{feff}').lines().count(),
        1,
        "header only: {other}"
    );
}

// ---------------------------------------------------------------- uploads

fn png(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbaImage::from_pixel(w, h, image::Rgba([200, 30, 30, 255]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// A JPEG with an EXIF segment holding a GPS-like marker.
fn jpeg_with_exif() -> Vec<u8> {
    let img = image::RgbImage::from_pixel(64, 48, image::Rgb([10, 120, 200]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
    let jpeg = out.into_inner();
    let payload = b"Exif\0\0MM\0*\0\0\0\x08\0\0GPS-SECRET-59.8586N";
    let mut app1 = vec![0xFF, 0xE1];
    app1.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
    app1.extend_from_slice(payload);
    let mut with = jpeg[..2].to_vec();
    with.extend_from_slice(&app1);
    with.extend_from_slice(&jpeg[2..]);
    with
}

/// GET an upload URL (`APP_URL/uploads/…`) from the test server.
async fn fetch(app: &TestApp, url: impl AsRef<str>) -> reqwest::Response {
    let path = url.as_ref().split_once("/uploads/").unwrap().1;
    app.client
        .get(app.url(&format!("/uploads/{path}")))
        .send()
        .await
        .unwrap()
}

async fn upload(
    app: &TestApp,
    shop: &str,
    bytes: Vec<u8>,
    name: &str,
    mime: &str,
) -> reqwest::Response {
    let part = reqwest::multipart::Part::bytes(bytes)
        .file_name(name.to_owned())
        .mime_str(mime)
        .unwrap();
    let form = reqwest::multipart::Form::new().part("file", part);
    app.client
        .post(app.proxy_url("/uploads", shop, None))
        .multipart(form)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn uploads_are_checked_by_content_and_stored_clean() {
    let app = spawn_app().await;
    setup(&app, SHOP).await;

    let resp = upload(&app, SHOP, jpeg_with_exif(), "me.jpg", "image/jpeg").await;
    assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
    let up: Value = resp.json().await.unwrap();
    let id = up["upload_id"].as_str().unwrap().to_owned();
    let url = up["url"].as_str().unwrap().to_owned();
    assert!(id.len() >= 32, "unguessable: {id}");
    assert!(url.ends_with(&id));
    let got = fetch(&app, &url).await;
    assert_eq!(got.status(), 200);
    assert_eq!(got.headers()["content-type"], "image/jpeg");
    assert_eq!(got.headers()["x-content-type-options"], "nosniff");
    let bytes = got.bytes().await.unwrap();
    assert!(
        !String::from_utf8_lossy(&bytes).contains("GPS-SECRET"),
        "EXIF stripped"
    );
    let decoded = image::load_from_memory(&bytes).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (64, 48));
    assert_eq!(fetch(&app, &format!("{url}x")).await.status(), 404);
    assert_eq!(
        fetch(&app, &url.replace(&id, "up_../../etc/passwd"))
            .await
            .status(),
        404
    );

    // Lies about the type: a script named .png with an image content type.
    let resp = upload(
        &app,
        SHOP,
        b"<script>alert(1)</script>".to_vec(),
        "cat.png",
        "image/png",
    )
    .await;
    assert_eq!(resp.status(), 415);
    let err: Value = resp.json().await.unwrap();
    assert_eq!(err["error"]["code"], "unsupported_media_type");
    // A GIF (a real image, not accepted), and a PNG header on garbage.
    let resp = upload(
        &app,
        SHOP,
        b"GIF89a\x01\0\x01\0\0\0\0;".to_vec(),
        "a.png",
        "image/png",
    )
    .await;
    assert_eq!(resp.status(), 415);
    let mut fake = png(4, 4);
    let n = fake.len();
    fake.truncate(n / 2);
    assert_eq!(
        upload(&app, SHOP, fake, "a.png", "image/png")
            .await
            .status(),
        415
    );
    // A real PNG declared as text: judged by content, accepted.
    let resp = upload(&app, SHOP, png(10, 10), "notes.txt", "text/plain").await;
    assert_eq!(resp.status(), 201);
    let up: Value = resp.json().await.unwrap();
    assert_eq!(up["content_type"], "image/png");

    // Over 10 MiB.
    let mut big = png(4, 4);
    big.resize(10 * 1024 * 1024 + 1, 0);
    assert_eq!(
        upload(&app, SHOP, big, "big.png", "image/png")
            .await
            .status(),
        413
    );
    // A decompression bomb: 30,000 × 30,000 black pixels compress to a few hundred KB.
    let bomb = {
        let mut out = Vec::new();
        let mut enc = png::Encoder::new(&mut out, 30_000, 30_000);
        enc.set_color(png::ColorType::Grayscale);
        enc.set_depth(png::BitDepth::One);
        enc.set_compression(png::Compression::Fast);
        let mut w = enc.write_header().unwrap();
        let mut stream = w.stream_writer().unwrap();
        let row = vec![0u8; 30_000 / 8];
        for _ in 0..30_000 {
            std::io::Write::write_all(&mut stream, &row).unwrap();
        }
        stream.finish().unwrap();
        w.finish().unwrap();
        out
    };
    assert!(bomb.len() < 10 * 1024 * 1024);
    let resp = upload(&app, SHOP, bomb, "bomb.png", "image/png").await;
    assert_eq!(resp.status(), 413);
    let err: Value = resp.json().await.unwrap();
    assert_eq!(err["error"]["code"], "image_too_large");

    // Not multipart, and unsigned.
    let resp = app
        .client
        .post(app.proxy_url("/uploads", SHOP, None))
        .body(png(2, 2))
        .header("content-type", "image/png")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 415);
    let resp = app
        .client
        .post(app.url("/proxy/uploads?shop=engrave-co.myshopify.com"))
        .multipart(
            reqwest::multipart::Form::new()
                .part("file", reqwest::multipart::Part::bytes(png(2, 2))),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
}

#[tokio::test]
async fn image_fields_take_uploads_of_the_same_shop_and_orders_keep_them() {
    let app = spawn_app().await;
    setup(&app, SHOP).await;
    setup(&app, OTHER).await;
    let mine: Value = upload(&app, SHOP, png(8, 8), "a.png", "image/png")
        .await
        .json()
        .await
        .unwrap();
    let theirs: Value = upload(&app, OTHER, png(8, 8), "b.png", "image/png")
        .await
        .json()
        .await
        .unwrap();
    let unused: Value = upload(&app, SHOP, png(8, 8), "c.png", "image/png")
        .await
        .json()
        .await
        .unwrap();

    let url = app.proxy_url(&format!("/products/{RING}/personalize"), SHOP, None);
    let resp = app
        .client
        .post(&url)
        .json(
            &json!({"values": {"engraving": "A", "metal": "silver", "photo": theirs["upload_id"]}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 422, "another shop's upload");
    let err: Value = resp.json().await.unwrap();
    assert_eq!(err["errors"][0]["field"], "values.photo");

    let p = personalize(
        &app,
        SHOP,
        RING,
        json!({"engraving": "A", "metal": "silver", "photo": mine["upload_id"]}),
    )
    .await;
    assert_eq!(p["price_cents"], 1500);
    let photo = p["properties"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "Photo")
        .unwrap();
    assert_eq!(
        photo["value"], mine["url"],
        "the order carries the upload's URL"
    );

    let body = order(
        7001,
        "2026-11-01T10:00:05-05:00",
        vec![
            (71, RING, 1, "120.00", p["properties"].clone()),
            fee_line(72, &p["signature"], 1500),
        ],
    );
    deliver_order(&app, SHOP, &body).await;
    assert_eq!(line(&orders(&app, SHOP, "").await, 71)["verdict"], "ok");

    // Retention: with a zero period, only the unreferenced uploads go.
    let mut conn = app.state.db.conn().unwrap();
    let deleted = atelier::uploads::cleanup(&mut conn, std::time::Duration::ZERO).unwrap();
    drop(conn);
    assert_eq!(deleted, 2, "the unused one and the other shop's");
    let get = |u: &Value| fetch(&app, u["url"].as_str().unwrap().to_owned());
    assert_eq!(get(&mine).await.status(), 200, "referenced by an order");
    assert_eq!(get(&unused).await.status(), 404);

    // The customer's redaction takes their images too.
    let redact = json!({"shop_id": 1, "shop_domain": SHOP, "customer": {"id": 555, "email": "anna@example.com", "phone": null}, "orders_to_redact": [7001]});
    app.deliver(&Delivery::new("customers/redact", SHOP, &redact))
        .await;
    app.drain().await;
    assert_eq!(get(&mine).await.status(), 404);
    assert_eq!(app.table_count("uploads"), 0);
}

/// The print view's data: the line (`/api/production/lines/{id}`) carries the upload's address
/// among its values, that address serves the shopper's image, and the line's preview draws.
#[tokio::test]
async fn the_print_view_line_carries_the_uploaded_image() {
    let app = spawn_app().await;
    setup(&app, SHOP).await;
    setup(&app, OTHER).await;
    let up: Value = upload(&app, SHOP, png(12, 9), "tile.png", "image/png")
        .await
        .json()
        .await
        .unwrap();
    let p = personalize(
        &app,
        SHOP,
        RING,
        json!({"engraving": "Ada", "metal": "silver", "photo": up["upload_id"]}),
    )
    .await;
    let body = order(
        7101,
        "2026-11-02T10:00:05-05:00",
        vec![
            (81, RING, 1, "120.00", p["properties"].clone()),
            fee_line(82, &p["signature"], 1500),
        ],
    );
    deliver_order(&app, SHOP, &body).await;

    let resp = app.api_get("/api/production/lines/81", SHOP).await;
    assert_eq!(resp.status(), 200);
    let l: Value = resp.json().await.unwrap();
    let photo = l["properties"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "Photo")
        .unwrap_or_else(|| panic!("no Photo in {l}"));
    assert_eq!(photo["value"], up["url"]);
    assert!(
        up["url"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{APP_URL}/uploads/up_")),
        "{up}"
    );
    let image = fetch(&app, up["url"].as_str().unwrap()).await;
    assert_eq!(image.status(), 200);
    assert_eq!(image.headers()["content-type"], "image/png");
    let decoded = image::load_from_memory(&image.bytes().await.unwrap()).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (12, 9));

    let svg = app
        .api_get("/api/production/lines/81/preview.svg", SHOP)
        .await;
    assert_eq!(svg.status(), 200);
    assert!(
        svg.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("image/svg+xml")
    );
    // Another shop's admin does not see the line.
    assert_eq!(
        app.api_get("/api/production/lines/81", OTHER)
            .await
            .status(),
        404
    );
}

// ---------------------------------------------------------------- preview and blocked words

#[tokio::test]
async fn preview_draws_the_shoppers_text_safely() {
    let app = spawn_app().await;
    app.install(SHOP).await;
    let t = json!({"name": "Tag", "product_ids": [RING], "fields": [
        {"key": "name", "label": "Name", "type": "text", "max_length": 12,
         "preview": {"font": "Great Vibes", "color": "#aa0000", "x": 50, "y": 30, "size": 9}},
        {"key": "metal", "label": "Metal", "type": "swatch", "options": [{"value": "gold", "label": "Gold", "color": "#d4af37"}]},
        {"key": "note", "label": "Note", "type": "text"}
    ]});
    assert_eq!(
        app.api_send(Method::POST, "/api/templates", SHOP, Some(&t))
            .await
            .status(),
        201
    );
    let values =
        json!({"name": "<script>x</script>", "metal": "gold", "note": "Ünïcode 👩‍👩‍👧"}).to_string();
    let query = proxy_query_with(SHOP, None, now(), API_SECRET, &[("values", &values)]);
    let resp = app
        .client
        .get(app.url(&format!("/proxy/products/{RING}/preview.svg?{query}")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("image/svg+xml")
    );
    let svg = resp.text().await.unwrap();
    assert!(
        svg.contains("&lt;script&gt;x&lt;/s"),
        "escaped and cut to 12: {svg}"
    );
    assert!(!svg.contains("<script"));
    assert!(svg.contains(r##"fill="#aa0000""##));
    assert!(
        svg.contains(r##"fill="#d4af37""##),
        "the swatch colors the other text"
    );
    assert!(svg.contains("Ünïcode 👩‍👩‍👧"));

    let bad = proxy_query_with(SHOP, None, now(), API_SECRET, &[("values", "{not json")]);
    let resp = app
        .client
        .get(app.url(&format!("/proxy/products/{RING}/preview.svg?{bad}")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let bad_template = json!({"name": "T", "fields": [{"key": "a", "label": "A", "type": "text", "preview": {"font": "x\"><script>", "color": "red", "x": 140}}]});
    let resp = app
        .api_send(Method::POST, "/api/templates", SHOP, Some(&bad_template))
        .await;
    assert_eq!(resp.status(), 422);
    let err: Value = resp.json().await.unwrap();
    let fields: Vec<&str> = err["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "fields[0].preview.font",
            "fields[0].preview.color",
            "fields[0].preview.x"
        ]
    );
}

#[tokio::test]
async fn a_shops_blocked_words_apply_to_its_storefront_only() {
    let app = spawn_app().await;
    setup(&app, SHOP).await;
    setup(&app, OTHER).await;
    let resp = app
        .api_send(
            Method::PUT,
            "/api/personalization/settings",
            SHOP,
            Some(&json!({"blocked_words": ["darn", " Heck "]})),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let s: Value = resp.json().await.unwrap();
    assert_eq!(s["blocked_words"], json!(["darn", "Heck"]));
    let got: Value = app
        .api_get("/api/personalization/settings", SHOP)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(got["blocked_words"], json!(["darn", "Heck"]));

    let try_text = |shop: &'static str, text: &'static str| {
        let app = &app;
        async move {
            app.client
                .post(app.proxy_url(&format!("/products/{RING}/personalize"), shop, None))
                .json(&json!({"values": {"engraving": text, "metal": "silver"}}))
                .send()
                .await
                .unwrap()
        }
    };
    let resp = try_text(SHOP, "Oh HECK yes").await;
    assert_eq!(resp.status(), 422);
    let err: Value = resp.json().await.unwrap();
    assert_eq!(err["errors"][0]["code"], "blocked_word");
    assert_eq!(
        try_text(SHOP, "Checkmate").await.status(),
        200,
        "whole words only"
    );
    assert_eq!(
        try_text(OTHER, "Oh heck yes").await.status(),
        200,
        "another shop's list"
    );

    let resp = app
        .api_send(
            Method::PUT,
            "/api/personalization/settings",
            SHOP,
            Some(&json!({"blocked_words": ["", 5]})),
        )
        .await;
    assert_eq!(resp.status(), 422);
    let err: Value = resp.json().await.unwrap();
    assert_eq!(err["errors"].as_array().unwrap().len(), 2);

    // The fee variant: a partial update keeps the words, and the storefront learns the variant.
    let resp = app
        .api_send(
            Method::PUT,
            "/api/personalization/settings",
            SHOP,
            Some(&json!({"fee_variant_id": "gid://shopify/ProductVariant/9007199254740993"})),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let s: Value = resp.json().await.unwrap();
    assert_eq!(s["fee_variant_id"], "9007199254740993");
    assert_eq!(s["blocked_words"], json!(["darn", "Heck"]));
    let fields: Value = app
        .client
        .get(app.proxy_url(&format!("/products/{RING}/fields"), SHOP, None))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(fields["fee_variant_id"], "9007199254740993");
    assert_eq!(try_text(SHOP, "Oh heck").await.status(), 422, "words kept");
}
