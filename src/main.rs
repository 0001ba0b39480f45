use std::process::ExitCode;

use atelier::config::Settings;
use atelier::startup::Application;

/// mimalloc: glibc's allocator spent ~30% of a `personalize` request in malloc/free under load
/// (perf, BENCHMARKS.md); request handling allocates many small, short-lived objects.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const USAGE: &str = "\
atelier — Shopify app backend (personalization, preferences, recommendations)

USAGE:
    atelier [serve]     start the HTTP server (default)
    atelier migrate     apply database migrations and exit
    atelier import --shop SHOP [--orders FILE.jsonl] [--products FILE.jsonl]
                        apply Shopify order/product payloads (one JSON object per line, the
                        orders/create and products/create webhook shapes) to an installed shop
    atelier eval --orders FILE.jsonl|FILE.csv [--products FILE.jsonl] [--k 10]
                 [--max-cases 3000] [--database URL] [--ease-max-items 3000]
    atelier eval --store synth:PRODUCTS:ORDERS[:SEED] | tastes:SHAPE[:SEED] | tastes:random:SEED
                        offline evaluation: the server's recommendations (fed the earlier
                        orders through the webhook code) next to popularity, item-kNN and
                        EASE (JSON on stdout, a markdown table on stderr)
    atelier synth --products N --orders M --out DIR [--seed S]
    atelier synth --model tastes --shape SHAPE --out DIR [--seed S]
                        write a synthetic store (products.jsonl, orders.jsonl) to DIR
    atelier help        this text

Configuration comes from the environment; see README.md.";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = args.first().map(String::as_str).unwrap_or("serve");
    if matches!(command, "help" | "--help" | "-h") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    // Offline tools: no configuration, no database.
    if matches!(command, "eval" | "synth") {
        let result = match command {
            "eval" => atelier::cli::eval::command(&args[1..]),
            _ => atelier::cli::synth::command(&args[1..]),
        };
        return match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("atelier {command}: {e:#}");
                ExitCode::from(2)
            }
        };
    }
    // `import` builds the same HTTP client as the server.
    atelier::startup::install_crypto_provider();
    // A configuration problem is a clear one-line error naming the variable, not a panic.
    let settings = match Settings::from_env() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("atelier: {e}");
            return ExitCode::from(2);
        }
    };
    atelier::telemetry::init(&settings);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("atelier: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = match command {
        "serve" => runtime.block_on(serve(settings)),
        "migrate" => atelier::db::Db::connect(settings.database_url.expose(), 1).map(|_| {
            println!("migrations applied");
        }),
        "import" => runtime.block_on(atelier::cli::import::command(settings, &args[1..])),
        other => {
            eprintln!("atelier: unknown command `{other}`\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "atelier stopped with an error");
            eprintln!("atelier: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let production = settings.is_production();
    let app_url = settings.app_base().to_owned();
    let app = Application::build(settings).await?;
    tracing::info!(port = app.port(), "Atelier is listening");
    if !production && cfg!(feature = "demo") {
        println!(
            "\nAtelier is running (development, demo shop {}). Health: {app_url}/healthz\n\nOpen the demo store: {app_url}/demo\nOpen the merchant admin: {app_url}/demo/admin\n",
            atelier::startup::DEMO_SHOP
        );
    }
    app.run_until_stopped().await?;
    tracing::info!("Atelier stopped");
    Ok(())
}
