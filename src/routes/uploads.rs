//! Shopper uploads served back (`GET /uploads/{id}`): the public address the cart and the
//! order carry, so it takes no signature; the id is unguessable.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::uploads;

/// How long a browser may reuse an image it fetched, without asking again.
pub const UPLOAD_CACHE_CONTROL: &str = "private, max-age=300";

/// `GET /uploads/{id}`: the stored image. The unguessable id is the capability; the response
/// cannot be interpreted as anything but an image.
pub async fn serve(
    id: web::Path<String>,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let id = id.into_inner();
    let found = state.db.run(move |c| Ok(uploads::find(c, &id)?)).await?;
    let upload = found.ok_or_else(|| AppError::not_found("No such upload."))?;
    let etag = format!("\"{}\"", upload.sha256);
    let ext = if upload.content_type == "image/png" {
        "png"
    } else {
        "jpg"
    };
    let not_modified = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut res = if not_modified {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    res.insert_header((header::ETAG, etag))
        // Private and short: a shopper's image is erased with its customer (`customers/redact`)
        // or when no order keeps it, and no shared cache may go on serving a copy after that.
        // The ETag makes the browser's revalidation after five minutes cheap.
        .insert_header(("Cache-Control", UPLOAD_CACHE_CONTROL))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .insert_header(("Content-Security-Policy", "default-src 'none'; sandbox"))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("inline; filename=\"{}.{ext}\"", upload.id),
        ));
    if not_modified {
        return Ok(res.finish());
    }
    Ok(res.content_type(upload.content_type).body(upload.data))
}
