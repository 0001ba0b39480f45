//! The follow-up outbox worker, on every instance that runs workers: finds abandoned
//! personalizations now and then, claims due events under a lease, checks each at send time
//! (consent, pause, frequency), sends it and records the result. See `followups::outbox`.

use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::db::new_id;
use crate::followups::outbox::{self, Claimed, Gate};
use crate::followups::{deliver, destination, triggers};
use crate::state::AppState;

/// How often the abandoned-personalization scan runs (at most).
const SCAN_EVERY: Duration = Duration::from_secs(30);

pub async fn run(state: AppState, mut shutdown: watch::Receiver<bool>) {
    let cfg = state.settings.outbox.clone();
    let client = match destination::client(cfg.timeout, cfg.allow_private) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = ?e, "follow-up client could not be built; no follow-ups sent");
            return;
        }
    };
    let worker = format!("outbox-{}", new_id());
    let mut last_scan: Option<Instant> = None;
    loop {
        if *shutdown.borrow() {
            return;
        }
        if last_scan.is_none_or(|t| t.elapsed() >= SCAN_EVERY.min(cfg.poll * 30)) {
            last_scan = Some(Instant::now());
            match state
                .db
                .run(|c| Ok(triggers::scan_abandoned(c, crate::db::now())?))
                .await
            {
                Ok(0) => {}
                Ok(n) => tracing::info!(events = n, "abandoned personalizations followed up"),
                Err(e) => tracing::warn!(error = ?e, "abandoned-personalization scan failed"),
            }
        }
        let (w, lease) = (worker.clone(), cfg.lease);
        let batch = match state
            .db
            .run_write(move |c| Ok(outbox::claim(c, &w, 16, lease)?))
            .await
        {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(error = ?e, "follow-up outbox claim failed");
                Vec::new()
            }
        };
        let idle = batch.is_empty();
        for ev in batch {
            if let Err(e) = process(&state, &client, &worker, ev).await {
                tracing::warn!(error = ?e, "follow-up delivery could not be recorded");
            }
        }
        if idle {
            tokio::select! {
                _ = tokio::time::sleep(cfg.poll) => {}
                _ = shutdown.changed() => return,
            }
        }
    }
}

async fn process(
    state: &AppState,
    client: &reqwest::Client,
    worker: &str,
    ev: Claimed,
) -> crate::error::AppResult<()> {
    let cfg = &state.settings.outbox;
    let (e, w) = (ev.clone(), worker.to_owned());
    let gate = state
        .db
        .run_write(move |c| Ok(outbox::gate(c, &e, &w)?))
        .await?;
    let ready = match gate {
        Gate::Send(r) => r,
        Gate::Suppressed(reason) => {
            tracing::info!(event = %ev.id, kind = %ev.kind, reason, "follow-up not sent");
            return Ok(());
        }
        Gate::LeaseLost | Gate::Deferred => return Ok(()),
    };
    let (e, w) = (ev.clone(), worker.to_owned());
    // An IP literal never reaches the public-only resolver: the URL is checked again here.
    if destination::check_url(&ready.url, cfg.allow_private).is_err() {
        state
            .db
            .run_write(move |c| {
                Ok(outbox::failed(
                    c,
                    &e,
                    &w,
                    "destination refused",
                    e.attempts,
                    Duration::ZERO,
                )?)
            })
            .await?;
        return Ok(());
    }
    let secret = crate::followups::settings::decrypt_secret(
        &state.cipher,
        &ready.shop_id,
        &ready.signing_secret,
    )?;
    let klaviyo_key = match ready.klaviyo_key.as_deref() {
        Some(k) if ready.format == "klaviyo" => Some(
            crate::followups::settings::decrypt_klaviyo_key(&state.cipher, &ready.shop_id, k)?,
        ),
        _ => None,
    };
    let body = deliver::body(&ready.format, &ev, &ready.shop_domain, &ready.channel);
    let result = deliver::send(
        client,
        &ready.url,
        &ready.format,
        &ev,
        body,
        &secret,
        klaviyo_key.as_deref(),
    )
    .await;
    let (max, base) = (cfg.max_attempts, cfg.backoff);
    match result {
        Ok(_) => {
            state
                .db
                .run_write(move |c| Ok(outbox::delivered(c, &e.id, &w)?))
                .await?;
        }
        Err(why) => {
            tracing::info!(event = %ev.id, kind = %ev.kind, attempt = ev.attempts, error = %why, "follow-up delivery failed");
            state
                .db
                .run_write(move |c| Ok(outbox::failed(c, &e, &w, &why, max, base)?))
                .await?;
        }
    }
    Ok(())
}
