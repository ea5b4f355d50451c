//! The offgrid instance (filled in by the instance issue).

fn main() {
    eprintln!("offgrid-server: the instance is not built yet");
    std::process::exit(2);
}
