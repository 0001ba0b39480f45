use actix_web::{HttpResponse, web};
use diesel::connection::SimpleConnection;

use crate::error::AppResult;
use crate::state::AppState;

/// `200 {"status":"ok"}` once the database answers.
pub async fn healthz(state: web::Data<AppState>) -> AppResult<HttpResponse> {
    state.db.run(|c| Ok(c.batch_execute("SELECT 1")?)).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "status": "ok" })))
}
