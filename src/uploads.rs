//! Shopper images for `image` fields (`POST /proxy/uploads`).
//!
//! A file is judged by its content only: the first bytes must be PNG, JPEG or WebP (the name and
//! the declared type are ignored), the header's dimensions are checked before any pixel is
//! decoded (so a small file claiming to be 100,000 pixels wide costs nothing), and the whole image
//! is decoded under an allocation limit to prove it is one. What is stored is a fresh encoding of
//! the decoded pixels, turned upright by its EXIF orientation: EXIF (GPS position, camera serial),
//! XMP, ICC and text chunks, and anything appended after the image data, are gone.
//!
//! Uploads live in the database (several app instances share it) under an unguessable id (192
//! random bits). An upload no order references is deleted after the retention period; one an
//! order references stays with the order, and goes with the customer's redaction.

use std::io::Cursor;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use diesel::prelude::*;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};
use rand::RngCore;
use sha2::{Digest, Sha256};
use time::PrimitiveDateTime;

use crate::db::schema::uploads;
use crate::db::{DbConnection, now};

/// Largest file accepted.
pub const MAX_BYTES: usize = 10 * 1024 * 1024;
/// Largest side, in pixels.
pub const MAX_SIDE: u32 = 12_000;
/// Largest image, in pixels (decoded to at most 4 bytes each).
pub const MAX_PIXELS: u64 = 40_000_000;
/// Decoder allocation ceiling.
const MAX_ALLOC: u64 = 256 * 1024 * 1024;
/// Unreferenced uploads one shop may collect per hour before uploads are refused.
pub const MAX_PENDING_PER_HOUR: i64 = 2_000;
/// Bytes of unreferenced uploads one shop may hold (they are deleted after the retention
/// period unless an order takes them): bounds what visitors can make the database store.
pub const MAX_PENDING_BYTES: i64 = 2 * 1024 * 1024 * 1024;
/// Uploads one visitor may send per hour (per instance).
pub const PER_CLIENT_PER_HOUR: u32 = 30;

/// Why a shop takes no more uploads for now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quota {
    TooManyThisHour,
    StorageFull,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UploadError {
    #[error("The file is not a PNG, JPEG or WebP image.")]
    NotAnImage,
    #[error("The file looks like an image but cannot be decoded: {0}")]
    Undecodable(String),
    #[error(
        "The image is {width}×{height} pixels; at most {MAX_SIDE} pixels a side and {MAX_PIXELS} pixels in all are accepted."
    )]
    TooManyPixels { width: u32, height: u32 },
}

/// A checked image, re-encoded without metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cleaned {
    pub content_type: &'static str,
    pub width: u32,
    pub height: u32,
    pub bytes: Vec<u8>,
}

/// The format by magic bytes, among the accepted ones.
pub fn sniff(bytes: &[u8]) -> Option<ImageFormat> {
    match image::guess_format(bytes).ok()? {
        f @ (ImageFormat::Png | ImageFormat::Jpeg | ImageFormat::WebP) => Some(f),
        _ => None,
    }
}

/// Checks, decodes and re-encodes an uploaded file; what is stored is at most [`MAX_BYTES`].
/// CPU-heavy: call it off the async runtime.
pub fn clean(bytes: &[u8]) -> Result<Cleaned, UploadError> {
    clean_within(bytes, MAX_BYTES)
}

/// [`clean`] with the stored size bounded by `max_stored`: a re-encoding can be larger than the
/// file sent (a small, heavily compressed JPEG of noise comes back several times its size at
/// the quality kept), so one that is too large is scaled down until it fits, a few times at most.
pub fn clean_within(bytes: &[u8], max_stored: usize) -> Result<Cleaned, UploadError> {
    let format = sniff(bytes).ok_or(UploadError::NotAnImage)?;
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_ALLOC);
    reader.limits(limits);
    let undecodable = |e: image::ImageError| match e {
        image::ImageError::Limits(_) => UploadError::TooManyPixels {
            width: 0,
            height: 0,
        },
        other => UploadError::Undecodable(other.to_string()),
    };
    let mut decoder = reader.into_decoder().map_err(undecodable)?;
    let (width, height) = decoder.dimensions();
    if width > MAX_SIDE || height > MAX_SIDE || u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(UploadError::TooManyPixels { width, height });
    }
    if width == 0 || height == 0 {
        return Err(UploadError::Undecodable("the image is empty".into()));
    }
    let orientation = decoder.orientation().ok();
    let mut img = DynamicImage::from_decoder(decoder).map_err(|e| match undecodable(e) {
        UploadError::TooManyPixels { .. } => UploadError::TooManyPixels { width, height },
        other => other,
    })?;
    if let Some(o) = orientation {
        img.apply_orientation(o);
    }
    let mut cleaned = encode(&img, format)?;
    for _ in 0..4 {
        if cleaned.bytes.len() <= max_stored {
            return Ok(cleaned);
        }
        // Bytes grow about with the pixel count: scale each side by the square root of the
        // excess, with a margin.
        let scale = (max_stored as f64 / cleaned.bytes.len() as f64).sqrt() * 0.9;
        let w = ((f64::from(img.width()) * scale) as u32).max(1);
        let h = ((f64::from(img.height()) * scale) as u32).max(1);
        img = img.resize(w, h, image::imageops::FilterType::Triangle);
        cleaned = encode(&img, format)?;
    }
    if cleaned.bytes.len() <= max_stored {
        Ok(cleaned)
    } else {
        Err(UploadError::TooManyPixels {
            width: img.width(),
            height: img.height(),
        })
    }
}

fn encode(img: &DynamicImage, source: ImageFormat) -> Result<Cleaned, UploadError> {
    let (width, height) = (img.width(), img.height());
    let mut out = Cursor::new(Vec::new());
    let failed = |e: image::ImageError| UploadError::Undecodable(e.to_string());
    // Photos stay JPEG; anything with transparency (or drawn art, PNG) stays lossless.
    let lossy =
        source == ImageFormat::Jpeg || (source == ImageFormat::WebP && !img.color().has_alpha());
    let content_type = if lossy {
        let rgb = DynamicImage::ImageRgb8(img.to_rgb8());
        let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90);
        rgb.write_with_encoder(encoder).map_err(failed)?;
        "image/jpeg"
    } else {
        match img {
            DynamicImage::ImageLuma8(_)
            | DynamicImage::ImageLumaA8(_)
            | DynamicImage::ImageRgb8(_)
            | DynamicImage::ImageRgba8(_) => img.write_to(&mut out, ImageFormat::Png),
            other => {
                DynamicImage::ImageRgba8(other.to_rgba8()).write_to(&mut out, ImageFormat::Png)
            }
        }
        .map_err(failed)?;
        "image/png"
    };
    Ok(Cleaned {
        content_type,
        width,
        height,
        bytes: out.into_inner(),
    })
}

/// 192 random bits, URL-safe.
pub fn new_upload_id() -> String {
    let mut bytes = [0u8; 24];
    rand::rng().fill_bytes(&mut bytes);
    format!("up_{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// The shape of an id this module issues (checked before any lookup).
pub fn plausible_id(id: &str) -> bool {
    id.len() == 35
        && id.starts_with("up_")
        && id[3..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = uploads, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct Upload {
    pub id: String,
    pub shop_id: String,
    pub content_type: String,
    pub width: i32,
    pub height: i32,
    pub byte_size: i64,
    pub sha256: String,
    pub data: Vec<u8>,
    pub created_at: PrimitiveDateTime,
    pub order_id: Option<i64>,
    pub referenced_at: Option<PrimitiveDateTime>,
}

/// What the shop's unreferenced uploads amount to: how many arrived in the last hour, and the
/// bytes of all of them.
pub fn pending(c: &mut DbConnection, shop_id: &str) -> QueryResult<(i64, i64)> {
    let recent = uploads::table
        .filter(uploads::shop_id.eq(shop_id))
        .filter(uploads::order_id.is_null())
        .filter(uploads::created_at.gt(now() - time::Duration::hours(1)))
        .count()
        .get_result(c)?;
    let bytes = uploads::table
        .filter(uploads::shop_id.eq(shop_id))
        .filter(uploads::order_id.is_null())
        .select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
            "CAST(COALESCE(SUM(byte_size), 0) AS BIGINT)",
        ))
        .get_result(c)?;
    Ok((recent, bytes))
}

/// Stores a cleaned image unless the shop is over its allowance. The check and the insert are
/// one transaction, under a per-shop lock on PostgreSQL (SQLite has one writer), so concurrent
/// uploads cannot all pass the check and overshoot together.
pub fn insert_within_quota(
    c: &mut DbConnection,
    shop_id: &str,
    image: Cleaned,
    max_per_hour: i64,
    max_bytes: i64,
) -> QueryResult<Result<Upload, Quota>> {
    crate::db::write_tx(c, |c| {
        if let DbConnection::Postgres(pg) = c {
            diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
                .bind::<diesel::sql_types::Text, _>(format!("uploads:{shop_id}"))
                .execute(pg)?;
        }
        let (recent, bytes) = pending(c, shop_id)?;
        if recent >= max_per_hour {
            return Ok(Err(Quota::TooManyThisHour));
        }
        if bytes.saturating_add(image.bytes.len() as i64) > max_bytes {
            return Ok(Err(Quota::StorageFull));
        }
        insert(c, shop_id, image).map(Ok)
    })
}

pub fn insert(c: &mut DbConnection, shop_id: &str, image: Cleaned) -> QueryResult<Upload> {
    let row = Upload {
        id: new_upload_id(),
        shop_id: shop_id.to_owned(),
        content_type: image.content_type.to_owned(),
        width: image.width as i32,
        height: image.height as i32,
        byte_size: image.bytes.len() as i64,
        sha256: hex::encode(Sha256::digest(&image.bytes)),
        data: image.bytes,
        created_at: now(),
        order_id: None,
        referenced_at: None,
    };
    diesel::insert_into(uploads::table)
        .values(&row)
        .execute(c)?;
    Ok(row)
}

/// An upload by id (the id is the capability: no shop is needed to read it).
pub fn find(c: &mut DbConnection, id: &str) -> QueryResult<Option<Upload>> {
    if !plausible_id(id) {
        return Ok(None);
    }
    uploads::table
        .filter(uploads::id.eq(id))
        .select(Upload::as_select())
        .first(c)
        .optional()
}

/// Which of `ids` are uploads of this shop.
pub fn existing(c: &mut DbConnection, shop_id: &str, ids: &[String]) -> QueryResult<Vec<String>> {
    let ids: Vec<&String> = ids.iter().filter(|id| plausible_id(id)).collect();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    uploads::table
        .filter(uploads::shop_id.eq(shop_id))
        .filter(uploads::id.eq_any(ids))
        .select(uploads::id)
        .load(c)
}

/// Deletes uploads no order references that are older than `retention`. Idempotent, so every
/// instance may run it.
pub fn cleanup(c: &mut DbConnection, retention: std::time::Duration) -> QueryResult<usize> {
    let cutoff = now() - time::Duration::try_from(retention).unwrap_or(time::Duration::WEEK);
    diesel::delete(
        uploads::table
            .filter(uploads::order_id.is_null())
            .filter(uploads::created_at.lt(cutoff)),
    )
    .execute(c)
}

/// customers/redact: the images on the customer's orders go with their other texts.
pub fn redact_orders(c: &mut DbConnection, shop_id: &str, order_ids: &[i64]) -> QueryResult<usize> {
    diesel::delete(
        uploads::table
            .filter(uploads::shop_id.eq(shop_id))
            .filter(uploads::order_id.eq_any(order_ids)),
    )
    .execute(c)
}

/// Slots for concurrent image decodes: decoding is CPU-heavy, so at most two run at once and
/// the rest wait (or are refused) instead of starving the other requests.
pub fn image_slots() -> std::sync::Arc<tokio::sync::Semaphore> {
    std::sync::Arc::new(tokio::sync::Semaphore::new(2))
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{Rgb, RgbImage, Rgba, RgbaImage};

    fn png(w: u32, h: u32) -> Vec<u8> {
        let img = RgbaImage::from_pixel(w, h, Rgba([10, 20, 30, 128]));
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, ImageFormat::Png).unwrap();
        out.into_inner()
    }

    fn jpeg(w: u32, h: u32) -> Vec<u8> {
        let img = RgbImage::from_pixel(w, h, Rgb([200, 100, 50]));
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, ImageFormat::Jpeg).unwrap();
        out.into_inner()
    }

    #[test]
    fn accepts_real_images_and_keeps_their_kind() {
        let c = clean(&png(40, 30)).unwrap();
        assert_eq!((c.content_type, c.width, c.height), ("image/png", 40, 30));
        assert_eq!(sniff(&c.bytes), Some(ImageFormat::Png));
        let c = clean(&jpeg(33, 17)).unwrap();
        assert_eq!((c.content_type, c.width, c.height), ("image/jpeg", 33, 17));
    }

    #[test]
    fn judges_by_content_not_by_claims() {
        assert_eq!(clean(b"GIF89a...."), Err(UploadError::NotAnImage));
        assert_eq!(
            clean(b"<svg xmlns='http://www.w3.org/2000/svg'/>"),
            Err(UploadError::NotAnImage)
        );
        assert_eq!(clean(b"%PDF-1.7"), Err(UploadError::NotAnImage));
        assert_eq!(clean(b""), Err(UploadError::NotAnImage));
        // A PNG signature on garbage, and a truncated JPEG.
        let mut fake = b"\x89PNG\r\n\x1a\n".to_vec();
        fake.extend_from_slice(&[0u8; 64]);
        assert!(matches!(clean(&fake), Err(UploadError::Undecodable(_))));
        let j = jpeg(64, 64);
        assert!(matches!(
            clean(&j[..j.len() / 3]),
            Err(UploadError::Undecodable(_))
        ));
    }

    #[test]
    fn strips_what_follows_and_surrounds_the_pixels() {
        // A text chunk with a secret, and a ZIP appended after IEND (a polyglot).
        let mut file = png(8, 8);
        let iend = file.len() - 12;
        let mut chunk = Vec::new();
        let data = b"Comment\0GPS 59.8586N 17.6389E";
        chunk.extend_from_slice(&(data.len() as u32).to_be_bytes());
        chunk.extend_from_slice(b"tEXt");
        chunk.extend_from_slice(data);
        let mut crc = crc32(b"tEXt");
        crc = crc32_update(crc, data);
        chunk.extend_from_slice(&(!crc).to_be_bytes());
        file.splice(iend..iend, chunk);
        file.extend_from_slice(b"PK\x03\x04 hidden archive");
        let c = clean(&file).unwrap();
        let hay = String::from_utf8_lossy(&c.bytes);
        assert!(!hay.contains("GPS"), "metadata kept");
        assert!(!hay.contains("hidden archive"), "trailing data kept");
    }

    fn crc32(data: &[u8]) -> u32 {
        crc32_update(0xFFFF_FFFF, data)
    }

    fn crc32_update(mut crc: u32, data: &[u8]) -> u32 {
        for &b in data {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        crc
    }

    #[test]
    fn refuses_decompression_bombs_before_decoding() {
        // A valid PNG header claiming 100,000 × 100,000 pixels, with almost no data.
        let mut file = png(1, 1);
        file[16..20].copy_from_slice(&100_000u32.to_be_bytes());
        file[20..24].copy_from_slice(&100_000u32.to_be_bytes());
        let ihdr_crc = crc32(&file[12..29]);
        file[29..33].copy_from_slice(&(!ihdr_crc).to_be_bytes());
        assert!(matches!(
            clean(&file),
            Err(UploadError::TooManyPixels { .. })
        ));
        // Within each side's limit but too many pixels in all.
        let mut file = png(1, 1);
        file[16..20].copy_from_slice(&9_000u32.to_be_bytes());
        file[20..24].copy_from_slice(&9_000u32.to_be_bytes());
        let ihdr_crc = crc32(&file[12..29]);
        file[29..33].copy_from_slice(&(!ihdr_crc).to_be_bytes());
        assert_eq!(
            clean(&file).unwrap_err(),
            UploadError::TooManyPixels {
                width: 9_000,
                height: 9_000
            }
        );
    }

    #[test]
    fn ids_are_long_random_and_recognisable() {
        let a = new_upload_id();
        assert!(plausible_id(&a), "{a}");
        assert_ne!(a, new_upload_id());
        assert!(!plausible_id("up_../../etc/passwd"));
        assert!(!plausible_id("1"));
    }
}
