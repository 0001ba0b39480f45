//! Shopper image uploads (`POST /proxy/uploads`): checked by content, re-encoded, stored per shop.

use actix_multipart::Multipart;
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt;
use serde_json::json;

use crate::error::{AppError, AppResult};
use crate::routes::extractors::Storefront;
use crate::state::AppState;
use crate::uploads::{self, MAX_BYTES, UploadError};

/// Form fields besides the file are ignored, but read: each at most this long.
const MAX_OTHER_FIELD: usize = 16 * 1024;
const MAX_FIELDS: usize = 8;

fn too_large() -> AppError {
    AppError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        format!("An image is at most {} MiB.", MAX_BYTES / (1024 * 1024)),
    )
}

fn unsupported(message: impl Into<String>) -> AppError {
    AppError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        message,
    )
}

fn bad_form(e: impl std::fmt::Display) -> AppError {
    AppError::bad_request(
        "invalid_multipart",
        format!("The form could not be read: {e}"),
    )
}

fn quota_error(q: uploads::Quota) -> AppError {
    let message = match q {
        uploads::Quota::TooManyThisHour => {
            "This shop received too many uploads in the last hour; try again later."
        }
        uploads::Quota::StorageFull => {
            "This shop holds too many images not yet ordered; try again later."
        }
    };
    AppError::new(StatusCode::TOO_MANY_REQUESTS, "too_many_uploads", message)
}

/// `POST /proxy/uploads`: one image as `multipart/form-data` (the first part with a file name,
/// or named `file` or `image`).
pub async fn upload(
    sf: Storefront,
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type
        .to_ascii_lowercase()
        .starts_with("multipart/form-data")
    {
        return Err(unsupported(
            "Send the image as multipart/form-data with one file part.",
        ));
    }
    // One visitor's allowance first, before anything is read or decoded: a visitor cannot use up
    // the shop's allowance for everyone else.
    if !state
        .upload_rate
        .allow(
            &state.db,
            &sf.client.keyed(&sf.shop.id),
            uploads::PER_CLIENT_PER_HOUR,
        )
        .await
    {
        return Err(AppError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_uploads",
            format!(
                "At most {} uploads per visitor and hour; try again later.",
                uploads::PER_CLIENT_PER_HOUR
            ),
        ));
    }
    // A declared length far over the limit is refused before reading anything.
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_BYTES + MAX_FIELDS * MAX_OTHER_FIELD + 64 * 1024) {
        return Err(too_large());
    }

    let mut form = Multipart::new(req.headers(), payload);
    let mut file: Option<Vec<u8>> = None;
    let mut parts = 0;
    while let Some(field) = form.next().await {
        let mut field = field.map_err(bad_form)?;
        parts += 1;
        if parts > MAX_FIELDS {
            return Err(AppError::bad_request(
                "invalid_multipart",
                "The form has too many parts.",
            ));
        }
        let is_file = file.is_none()
            && field.content_disposition().is_some_and(|cd| {
                cd.get_filename().is_some() || matches!(cd.get_name(), Some("file" | "image"))
            });
        let limit = if is_file { MAX_BYTES } else { MAX_OTHER_FIELD };
        let mut buf = Vec::new();
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(bad_form)?;
            if buf.len() + chunk.len() > limit {
                return Err(if is_file {
                    too_large()
                } else {
                    AppError::bad_request("invalid_multipart", "A form field is too long.")
                });
            }
            buf.extend_from_slice(&chunk);
        }
        if is_file {
            file = Some(buf);
        }
    }
    let Some(bytes) = file else {
        return Err(AppError::bad_request(
            "missing_file",
            "The form has no file part (name it `file`).",
        ));
    };
    // Cheap refusals first: the magic bytes, and the shop's allowance (checked again, atomically,
    // when the cleaned image is stored).
    if uploads::sniff(&bytes).is_none() {
        return Err(unsupported("The file is not a PNG, JPEG or WebP image."));
    }
    let shop_id = sf.shop.id.clone();
    let (recent, stored) = state
        .db
        .run(move |c| Ok(uploads::pending(c, &shop_id)?))
        .await?;
    if recent >= uploads::MAX_PENDING_PER_HOUR {
        return Err(quota_error(uploads::Quota::TooManyThisHour));
    }
    if stored >= uploads::MAX_PENDING_BYTES {
        return Err(quota_error(uploads::Quota::StorageFull));
    }

    // Decoding is CPU- and memory-heavy: a few at a time, off the async runtime.
    let permit = state
        .image_slots
        .clone()
        .acquire_owned()
        .await
        .map_err(|e| AppError::internal(anyhow::anyhow!(e)))?;
    let cleaned = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        uploads::clean(&bytes)
    })
    .await
    .map_err(|e| AppError::internal(anyhow::anyhow!("image task failed: {e}")))?;
    let cleaned = cleaned.map_err(|e| match e {
        UploadError::NotAnImage | UploadError::Undecodable(_) => unsupported(e.to_string()),
        UploadError::TooManyPixels { .. } => AppError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "image_too_large",
            e.to_string(),
        ),
    })?;
    let shop_id = sf.shop.id.clone();
    let row = state
        .db
        .run_write(move |c| {
            Ok(uploads::insert_within_quota(
                c,
                &shop_id,
                cleaned,
                uploads::MAX_PENDING_PER_HOUR,
                uploads::MAX_PENDING_BYTES,
            )?)
        })
        .await?
        .map_err(quota_error)?;
    Ok(HttpResponse::Created()
        .insert_header(("Cache-Control", "no-store"))
        .json(json!({
            "upload_id": row.id,
            "url": format!("{}{}", state.sync.upload_base, row.id),
            "content_type": row.content_type,
            "width": row.width,
            "height": row.height,
            "bytes": row.byte_size,
        })))
}
