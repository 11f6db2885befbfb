//! `gen-inputs [DIR]`: writes (or finds, already written) the benchmark inputs of `BENCH_MB` MB of content
//! (default 100) into DIR (default `target/bench-inputs/v<N>-<MB>mb`), then prints their manifest as
//! `format path compressed_bytes output_bytes all_levels_bytes` lines, for `peers.sh`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

fn main() -> ExitCode {
    let mb = benches::bench_mb();
    let dir = std::env::args_os().nth(1).map_or_else(|| benches::default_dir(mb), PathBuf::from);
    let started = Instant::now();
    let inputs = match benches::ensure_inputs(&dir, mb) {
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
