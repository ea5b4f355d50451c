//! The offgrid instance: parses the options and serves.

use clap::Parser;

#[tokio::main]
async fn main() {
    let config = offgrid_server::Config::parse();
    if let Err(e) = offgrid_server::serve(config).await {
        eprintln!("offgrid-server: {e}");
        std::process::exit(1);
    }
}
