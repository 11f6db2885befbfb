//! `avscan`: the command line over the scanner library. Today: `avscan decompose PATH...`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use decomposer::{Decomposer, Limits, Part};

#[derive(Parser)]
#[command(name = "avscan", version, about = "Content-scanning core: decomposer and signature scanner")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the tree of parts of each file: depth, type, size and path, then the codes that occurred.
    Decompose {
        /// Files to decompose.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        #[command(flatten)]
        limits: LimitArgs,
        /// CSAPI prefer_mem: hold every extracted child in RAM (up to max_extract_size each) instead of
        /// spilling children over 8 MiB to unnamed temporary files.
        #[arg(long)]
        prefer_mem: bool,
    },
}

/// The CSAPI limits, each as its option name with dashes.
#[derive(clap::Args)]
struct LimitArgs {
    /// max_extract_depth, 1..=50.
    #[arg(long, default_value_t = 10)]
    max_extract_depth: u64,
    /// max_extract_size in bytes, 1..=4294967294.
    #[arg(long, default_value_t = 104_857_600)]
    max_extract_size: u64,
    /// max_cumulative_extract_size in bytes, 0 (= 209715200)..=2147483648.
    #[arg(long, default_value_t = 0)]
    max_cumulative_extract_size: u64,
    /// max_extract_time in seconds, 0 = unlimited.
    #[arg(long, default_value_t = 180)]
    max_extract_time: u64,
    /// max_file_count, 0 = unlimited.
    #[arg(long, default_value_t = 5000)]
    max_file_count: u64,
}

impl LimitArgs {
    fn limits(&self) -> Result<Limits, decomposer::LimitsError> {
        Limits::builder()
            .max_extract_depth(self.max_extract_depth)
            .max_extract_size(self.max_extract_size)
            .max_cumulative_extract_size(self.max_cumulative_extract_size)
            .max_extract_time(self.max_extract_time)
            .max_file_count(self.max_file_count)
            .build()
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Decompose { paths, limits, prefer_mem } => {
            let limits = match limits.limits() {
                Ok(limits) => limits,
                Err(error) => {
                    eprintln!("avscan: {error}");
                    return ExitCode::from(2);
                }
            };
            let decomposer = Decomposer::builder().limits(limits).prefer_mem(prefer_mem).build();
            let mut status = ExitCode::SUCCESS;
            for path in paths {
                let mut print = |part: &Part<'_>| {
                    println!(
                        "{}{} [{}, {} bytes{}]",
                        "  ".repeat(part.depth() as usize),
                        part.path().to_string().escape_debug(),
                        part.file_type(),
                        part.size(),
                        if part.is_truncated() { ", truncated" } else { "" }
                    );
                    true
                };
                match decomposer.decompose_file(&path, &mut print) {
                    Ok(report) => {
                        for problem in &report.problems {
                            println!("  ! {} {}", problem.code, problem.path.escape_debug());
                        }
                        println!(
                            "= {} parts, {} files and {} bytes extracted, depth {}, {} ms",
                            report.parts,
                            report.files_extracted,
                            report.bytes_extracted,
                            report.max_depth,
                            report.elapsed.as_millis()
                        );
                    }
                    Err(error) => {
                        eprintln!("avscan: {error}");
                        status = ExitCode::from(2);
                    }
                }
            }
            status
        }
    }
}
