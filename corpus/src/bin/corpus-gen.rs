//! Writes every generated corpus input to a directory: `corpus-gen DIR [NAME...]`.

use std::path::PathBuf;

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(dir) = args.next().map(PathBuf::from) else {
        eprintln!("usage: corpus-gen DIR [NAME...]");
        std::process::exit(2);
    };
    let names: Vec<String> = args.collect();
    let chosen: Vec<&str> =
        if names.is_empty() { corpus::generators::NAMES.to_vec() } else { names.iter().map(String::as_str).collect() };
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("corpus-gen: {}: {e}", dir.display());
        std::process::exit(1);
    }
    for name in chosen {
        let Some(bytes) = corpus::generators::generate(name) else {
            eprintln!("corpus-gen: unknown generator {name}");
            std::process::exit(2);
        };
        let path = dir.join(format!("{name}.bin"));
        if let Err(e) = std::fs::write(&path, &bytes) {
            eprintln!("corpus-gen: {}: {e}", path.display());
            std::process::exit(1);
        }
        println!("{} {}", bytes.len(), path.display());
    }
}
