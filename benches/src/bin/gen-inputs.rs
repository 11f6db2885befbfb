//! `gen-inputs [--only FORMAT,...] [DIR]`: writes (or finds, already written) the benchmark inputs of
//! `BENCH_MB` MB of content (default 100) into DIR (default `target/bench-inputs/v<N>-<MB>mb`), then prints
//! their manifest as `format path compressed_bytes output_bytes all_levels_bytes` lines, for the peer scripts.
//! `--only tar.gz` generates that format alone when the inputs must be written (`scaling.sh` at 1 GB).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

fn main() -> ExitCode {
    let mb = benches::bench_mb();
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    let mut only: Vec<String> = benches::format_names().iter().map(ToString::to_string).collect();
    if args.first().is_some_and(|arg| arg == "--only") {
        let Some(list) = args.get(1).and_then(|list| list.to_str()) else {
            eprintln!("gen-inputs: --only takes a comma-separated list of {}", benches::format_names().join(", "));
            return ExitCode::FAILURE;
        };
        only = list.split(',').map(str::to_owned).collect();
        args.drain(..2);
    }
    let dir = args.first().map_or_else(|| benches::default_dir(mb), PathBuf::from);
    let wanted: Vec<&str> = only.iter().map(String::as_str).collect();
    let started = Instant::now();
    let inputs = match benches::ensure_formats(&dir, mb, &wanted) {
        Ok(inputs) => inputs,
        Err(error) => {
            eprintln!("gen-inputs: {}: {error}", dir.display());
            return ExitCode::FAILURE;
        }
    };
    eprintln!(
        "gen-inputs: {} members, {} bytes of content, tar {} bytes, in {} ({:.1} s)",
        inputs.members,
        inputs.content_bytes,
        inputs.tar_bytes,
        inputs.dir.display(),
        started.elapsed().as_secs_f64()
    );
    for format in &inputs.formats {
        println!(
            "{} {} {} {} {}",
            format.name,
            format.path.display(),
            format.compressed_bytes,
            format.output_bytes,
            format.all_levels_bytes
        );
    }
    ExitCode::SUCCESS
}
