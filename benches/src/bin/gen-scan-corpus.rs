//! `gen-scan-corpus [DIR]`: writes (or finds, already written) the whole-scan corpus of about `BENCH_MB` MB on
//! disk (default 300, the issue's size) and the signature sets `sigs-1`, `sigs-1000`, `sigs-10000`, `sigs-100000` into DIR
//! (default `target/bench-inputs/scan-v<N>-<MB>mb`), then prints what `scan-peers.sh` needs, one `key value`
//! line each:
//!
//! ```text
//! dir /abs/dir
//! corpus /abs/dir/corpus
//! archives /abs/dir/corpus/archives
//! mail /abs/dir/corpus/mail
//! empty /abs/dir/empty
//! files 364
//! bytes 288137922
//! mail_files 295
//! mail_bytes 69470150
//! content_bytes 677886969
//! sigs 1000 /abs/dir/sigs-1000 /abs/dir/sigs-1000/bench.ndb     (one line per set: count, --db, -d)
//! planted 0 archives/bundle-000.zip                               (signature index, file under corpus/)
//! ```

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use benches::scan_corpus::{self, DEFAULT_SCAN_MB};

fn main() -> ExitCode {
    let mb = scan_corpus::env_positive("BENCH_MB", DEFAULT_SCAN_MB);
    let dir = std::env::args_os().nth(1).map_or_else(|| scan_corpus::default_scan_dir(mb), PathBuf::from);
    let started = Instant::now();
    let corpus = match scan_corpus::ensure_corpus(&dir, mb) {
        Ok(corpus) => corpus,
        Err(error) => {
            eprintln!("gen-scan-corpus: {}: {error}", dir.display());
            return ExitCode::FAILURE;
        }
    };
    let dir = std::fs::canonicalize(&corpus.dir).unwrap_or_else(|_| corpus.dir.clone());
    eprintln!(
        "gen-scan-corpus: {} files, {} bytes ({} in mail), {} bytes of content, in {} ({:.1} s)",
        corpus.files,
        corpus.bytes,
        corpus.mail_bytes,
        corpus.content_bytes,
        dir.display(),
        started.elapsed().as_secs_f64()
    );
    println!("dir {}", dir.display());
    for (key, path) in
        [("corpus", &corpus.corpus), ("archives", &corpus.archives), ("mail", &corpus.mail), ("empty", &corpus.empty)]
    {
        println!("{key} {}", dir.join(path.strip_prefix(&corpus.dir).unwrap_or(path)).display());
    }
    println!("files {}\nbytes {}", corpus.files, corpus.bytes);
    println!("mail_files {}\nmail_bytes {}", corpus.mail_files, corpus.mail_bytes);
    println!("content_bytes {}", corpus.content_bytes);
    for set in &corpus.signature_sets {
        let relative = |path: &PathBuf| dir.join(path.strip_prefix(&corpus.dir).unwrap_or(path));
        println!("sigs {} {} {}", set.count, relative(&set.dir).display(), relative(&set.ndb).display());
    }
    for planted in &corpus.planted {
        println!("planted {} {}", planted.index, planted.file);
    }
    ExitCode::SUCCESS
}
