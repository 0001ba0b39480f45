//! Builds the application: database (migrations applied), shared state, HTTP server, workers.
//! Tests build the very same thing on port 0.

use std::net::TcpListener;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::middleware::{DefaultHeaders, from_fn};
use actix_web::{App, HttpServer, web};
use tokio::sync::watch;
use tracing_actix_web::TracingLogger;

use crate::config::Settings;
use crate::db::Db;
use crate::routes;
use crate::state::AppState;
use crate::telemetry::RequestSpan;

pub use crate::config::DEMO_SHOP;

pub struct Application {
    port: u16,
    server: Server,
    state: AppState,
    shutdown: watch::Sender<bool>,
    workers: Vec<tokio::task::JoinHandle<()>>,
}

/// Picks rustls's crypto provider for the process (every command that may build an HTTP
/// client calls it first; idempotent).
pub fn install_crypto_provider() {
    // reqwest is built without a default rustls provider; pick ring once per process.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Public development credentials on a database of real installs would let anyone sign that
/// shop's webhooks and mint its session tokens (and the demo would seed itself beside it): a
/// production database reached with a lost environment must not start.
async fn refuse_real_shops_with_dev_defaults(db: &Db, settings: &Settings) -> anyhow::Result<()> {
    let db = db.clone();
    let installed = tokio::task::spawn_blocking(move || -> anyhow::Result<Option<String>> {
        let mut conn = db.conn()?;
        Ok(crate::shops::installed_other_than(&mut conn, DEMO_SHOP)?)
    })
    .await??;
    match installed {
        Some(domain) => anyhow::bail!(
            "refusing to start: the database holds the installed shop {domain} while {} use public development defaults; set ATELIER_ENV=production with the app's real secrets",
            settings.dev_defaults.join(", ")
        ),
        None => Ok(()),
    }
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        install_crypto_provider();
        if !settings.dev_defaults.is_empty() {
            tracing::warn!(
                variables = %settings.dev_defaults.join(", "),
                "DEVELOPMENT DEFAULTS IN USE: these values are public demo credentials; set them before serving a real store"
            );
        }
        let url = settings.database_url.clone();
        let pool_size = settings.db_pool_size;
        let db = tokio::task::spawn_blocking(move || Db::connect_server(url.expose(), pool_size))
            .await??;
        if settings.uses_dev_defaults() {
            refuse_real_shops_with_dev_defaults(&db, &settings).await?;
        }
        let state = AppState::new(settings, db)?;

        #[cfg(feature = "demo")]
        if !state.settings.is_production() {
            let st = state.clone();
            tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
                let demo = crate::shopify::ShopDomain::parse(DEMO_SHOP).expect("valid demo shop");
                let mut conn = st.db.conn()?;
                crate::demo::ensure_demo_shop(&mut conn, &st.cipher, &demo)?;
                crate::demo::seed(&mut conn, &st)?;
                Ok(())
            })
            .await??;
        }

        let listener = TcpListener::bind(&state.settings.bind_addr)
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", state.settings.bind_addr))?;
        let port = listener.local_addr()?.port();
        let server = build_server(listener, state.clone())?;
        let (shutdown, _) = watch::channel(false);
        let workers = if state.settings.run_workers {
            crate::jobs::spawn(&state, &shutdown)
        } else {
            Vec::new()
        };
        Ok(Application {
            port,
            server,
            state,
            shutdown,
            workers,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until SIGINT/SIGTERM: in-flight requests finish (up to 10 s), then background
    /// workers are told to stop and awaited.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let Application {
            server,
            shutdown,
            workers,
            ..
        } = self;
        let result = server.await;
        let _ = shutdown.send(true);
        for worker in workers {
            if tokio::time::timeout(Duration::from_secs(10), worker)
                .await
                .is_err()
            {
                tracing::warn!("a background worker did not stop within 10 s");
            }
        }
        result
    }
}

fn build_server(listener: TcpListener, state: AppState) -> anyhow::Result<Server> {
    // The demo storefront exists only in development, and only in builds that include it.
    #[cfg(feature = "demo")]
    let demo = if state.settings.is_production() {
        None
    } else {
        Some(web::Data::new(crate::demo::Demo::new(
            listener.local_addr()?.port(),
        )?))
    };
    let data = web::Data::new(state);
    let server = HttpServer::new(move || {
        App::new()
            .wrap(from_fn(routes::limits))
            .wrap(from_fn(routes::json_errors))
            .wrap(DefaultHeaders::new().add(("X-Content-Type-Options", "nosniff")))
            .wrap(TracingLogger::<RequestSpan>::new())
            .app_data(data.clone())
            .configure(routes::configure)
            .configure(|_cfg| {
                #[cfg(feature = "demo")]
                crate::demo::configure(_cfg, demo.clone())
            })
            .default_service(web::to(routes::not_found))
    })
    .listen(listener)?
    .shutdown_timeout(10)
    .client_request_timeout(Duration::from_secs(10))
    .run();
    Ok(server)
}
