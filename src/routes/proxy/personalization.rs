//! The product personalizer's routes: a product's fields, validating and pricing a shopper's
//! values (with the `_atelier` signature for the cart), and the live preview.

use std::sync::Arc;

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::{AppError, AppResult, FieldError};
use crate::personalization::{CompiledTemplate, FieldType, signature};
use crate::routes::extractors::Storefront;
use crate::state::AppState;

fn product_id(raw: &str) -> AppResult<i64> {
    raw.parse::<i64>().ok().filter(|id| *id > 0).ok_or_else(|| {
        AppError::bad_request(
            "invalid_product_id",
            "The product id must be a positive integer.",
        )
    })
}

/// The product's template, compiled (see [`AppState::product_template`]).
async fn template_for(
    state: &AppState,
    shop_id: &str,
    product: i64,
) -> AppResult<(String, i32, Arc<CompiledTemplate>)> {
    state
        .product_template(shop_id, product)
        .await?
        .ok_or_else(|| AppError::not_found("This product has no personalization."))
}

/// `GET /proxy/products/{product_id}/fields`
pub async fn get_fields(
    sf: Storefront,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let product = product_id(&path)?;
    let (template_id, version, template) = template_for(&state, &sf.shop.id, product).await?;
    let settings = state.personalization_policy(&sf.shop.id).await?;
    let (shop_id, tid) = (sf.shop.id.clone(), template_id.clone());
    let at_checkout = state
        .db
        .run(move |c| {
            Ok(crate::personalization::checkout::charged_at_checkout(
                c, &shop_id, product, &tid, version,
            )?)
        })
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(json!({
            "product_id": product.to_string(),
            "template_id": template_id,
            "version": version,
            "fields": template.fields,
            // The variant the storefront adds, quantity = add-on in cents × quantity, with
            // `_atelier_fee` = the signature (README, "Charging the add-on"); none when the
            // shop's Cart Transform function charges the add-on at checkout instead.
            "fee_variant_id": if at_checkout { None } else { settings.settings.fee_variant_id.clone() },
            "charged_at_checkout": at_checkout,
        })))
}

#[derive(Deserialize)]
pub struct PersonalizeIn {
    #[serde(default)]
    values: Value,
}

/// The upload ids named by the template's image fields that are uploads of this shop (one query,
/// and none when no image field is filled).
async fn known_uploads(
    state: &AppState,
    shop_id: &str,
    template: &CompiledTemplate,
    values: &serde_json::Map<String, Value>,
) -> AppResult<Vec<String>> {
    let ids: Vec<String> = template
        .fields
        .iter()
        .filter(|f| f.kind == FieldType::Image)
        .filter_map(|f| values.get(&f.key)?.as_str())
        .filter(|id| crate::uploads::plausible_id(id))
        .map(str::to_owned)
        .collect();
    if ids.is_empty() {
        return Ok(ids);
    }
    let shop_id = shop_id.to_owned();
    state
        .db
        .run(move |c| Ok(crate::uploads::existing(c, &shop_id, &ids)?))
        .await
}

/// `POST /proxy/products/{product_id}/personalize`
pub async fn personalize(
    sf: Storefront,
    path: web::Path<String>,
    body: web::Json<PersonalizeIn>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let product = product_id(&path)?;
    let Some(values) = body.values.as_object() else {
        return Err(AppError::validation(vec![FieldError::new(
            "values",
            "invalid_type",
            "values must be an object of field keys to values.",
        )])
        .with_extra("valid", Value::Bool(false)));
    };
    let nul = crate::input::nul_characters(&body.values, "values");
    if !nul.is_empty() {
        return Err(AppError::validation(nul).with_extra("valid", Value::Bool(false)));
    }
    let (template_id, version, template) = template_for(&state, &sf.shop.id, product).await?;
    let settings = state.personalization_policy(&sf.shop.id).await?;
    let known = known_uploads(&state, &sf.shop.id, &template, values).await?;
    let upload_url = |id: &str| {
        known
            .iter()
            .any(|k| k == id)
            .then(|| format!("{}{id}", state.sync.upload_base))
    };
    let accepted =
        crate::personalization::validate(&template, values, &settings.blocked, &upload_url)
            .map_err(|errors| {
                AppError::validation(errors).with_extra("valid", Value::Bool(false))
            })?;
    let sig = signature::sign(
        &state.personalization_key,
        &sf.shop.domain,
        product,
        &template_id,
        version as i64,
        accepted.price_cents,
        &accepted.properties,
    );
    let mut properties: Vec<Value> = accepted
        .properties
        .iter()
        .map(|(n, v)| json!({"name": n, "value": v}))
        .collect();
    properties.push(json!({"name": signature::PROPERTY, "value": sig}));
    if let Some(customer) = sf.customer_id {
        // A logged-in shopper's validated personalization, followed up if not ordered in time
        // (recorded only while the shop sends that follow-up). Never fails the answer.
        let shop_id = sf.shop.id.clone();
        if let Err(e) = state
            .db
            .run_write(move |c| {
                Ok(crate::followups::triggers::record_validated(
                    c, &shop_id, customer, product,
                )?)
            })
            .await
        {
            tracing::warn!(error = ?e, "validated personalization not recorded");
        }
    }
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(json!({
            "valid": true,
            "properties": properties,
            "price_cents": accepted.price_cents,
            "signature": sig,
        })))
}

#[derive(Deserialize)]
pub struct PreviewQuery {
    /// The `values` object of a personalize request, as JSON.
    values: Option<String>,
}

/// `GET /proxy/products/{product_id}/preview.svg?values={json}`: the shopper's text drawn as an
/// SVG overlay for the product image (see `personalization::preview`).
pub async fn preview(
    sf: Storefront,
    path: web::Path<String>,
    query: web::Query<PreviewQuery>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let product = product_id(&path)?;
    let values: serde_json::Map<String, Value> = match query.values.as_deref() {
        None | Some("") => Default::default(),
        Some(raw) => serde_json::from_str(raw).map_err(|_| {
            AppError::bad_request(
                "invalid_values",
                "values must be a JSON object of field keys to values.",
            )
        })?,
    };
    let (_, _, template) = template_for(&state, &sf.shop.id, product).await?;
    let svg = crate::personalization::preview::render(&template, &values);
    Ok(HttpResponse::Ok()
        .content_type("image/svg+xml; charset=utf-8")
        .insert_header(("Cache-Control", "private, max-age=60"))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .insert_header((
            "Content-Security-Policy",
            "default-src 'none'; style-src 'unsafe-inline'",
        ))
        .body(svg))
}
