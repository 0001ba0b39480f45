//! Periodic upkeep on every instance (each step is idempotent and safe to run on several at
//! once): webhook registrations that failed at install, due backfills, used OAuth nonces,
//! unreferenced uploads, storefront events past their retention, ended visitor allowances.

use std::time::Duration;

use tokio::sync::watch;

use crate::state::AppState;

/// Periodic upkeep: retry webhook registrations that failed at install.
pub async fn run(state: AppState, mut shutdown: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(300)) => {}
            _ = shutdown.changed() => return,
        }
        match super::install::retry_pending_registrations(&state).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(shops = n, "webhook registration retried successfully"),
            Err(e) => tracing::warn!(error = ?e, "webhook registration retry failed"),
        }
        if let Err(e) = super::backfill::run_pending(&state).await {
            tracing::warn!(error = ?e, "recommendations backfill retry failed");
        }
        // Smart collections follow rules no collection webhook reports: their products are
        // read again now and then (the collections job reads what is marked).
        match state
            .db
            .run_write(|c| {
                Ok(crate::collections::mark_for_refresh(
                    c,
                    crate::collections::REFRESH_EVERY,
                    500,
                )?)
            })
            .await
        {
            Ok(0) => {}
            Ok(n) => tracing::info!(collections = n, "collection products due for a refresh"),
            Err(e) => tracing::warn!(error = ?e, "collection refresh marking failed"),
        }
        // A nonce outlives the window in which its callback's timestamp is accepted.
        let keep = time::Duration::seconds(
            (state.settings.signature_max_age.as_secs() as i64)
                .saturating_mul(2)
                .max(3600),
        );
        if let Err(e) = state
            .db
            .run_write(move |c| Ok(crate::shops::purge_oauth_nonces(c, keep)?))
            .await
        {
            tracing::warn!(error = ?e, "purge of used OAuth nonces failed");
        }
        let retention = state.settings.upload_retention;
        match state
            .db
            .run_write(move |c| Ok(crate::uploads::cleanup(c, retention)?))
            .await
        {
            Ok(0) => {}
            Ok(n) => tracing::info!(uploads = n, "unreferenced uploads deleted"),
            Err(e) => tracing::warn!(error = ?e, "upload cleanup failed"),
        }
        if state.settings.token_encryption_key_previous.is_some() {
            let cipher = state.cipher.clone();
            match state
                .db
                .run_write(move |c| Ok(crate::shops::rewrap_all_tokens(c, &cipher)?))
                .await
            {
                Ok(0) => {}
                Ok(n) => {
                    tracing::info!(shops = n, "store tokens re-encrypted under the current key")
                }
                Err(e) => tracing::warn!(error = ?e, "re-encrypting store tokens failed"),
            }
        }
        let retention = state.settings.event_retention;
        match state
            .db
            .run_write(move |c| {
                Ok(crate::recommendations::model::purge_events(
                    c, retention, 5_000, 20,
                )?)
            })
            .await
        {
            Ok(0) => {}
            Ok(n) => tracing::info!(events = n, "storefront events past retention deleted"),
            Err(e) => tracing::warn!(error = ?e, "event retention failed"),
        }
        match state
            .db
            .run_write(move |c| Ok(crate::recommendations::pixel::purge(c, retention, 5_000)?))
            .await
        {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                rows = n,
                "pixel event ids and order links past retention deleted"
            ),
            Err(e) => tracing::warn!(error = ?e, "pixel retention failed"),
        }
        // Visitors' shared allowance windows that have ended: the table holds only the
        // visitors of the current windows.
        if let Err(e) = state
            .db
            .run_write(|c| Ok(crate::limits::purge_allowances(c)?))
            .await
        {
            tracing::warn!(error = ?e, "purge of ended visitor allowances failed");
        }
    }
}
