//! Work spread over the machine's cores on scoped threads, for the loader's one-off bursts (parsing the
//! definitions files, building the prefilter).
//!
//! Scoped threads rather than rayon's global pool: a daemon would otherwise keep that pool's threads, and their
//! allocator arenas, for its whole life, for a load that happens once a day. The scans' pool is the engine's
//! own (see [`crate::Engine`]).

use std::sync::atomic::{AtomicUsize, Ordering};

/// How many threads to use: the available cores, at most `tasks`, at least 1.
fn threads_for(tasks: usize) -> usize {
    std::thread::available_parallelism().map_or(1, usize::from).min(tasks).max(1)
}

/// `each` of every item, on as many threads as there are cores, each thread taking the next item in order (for
/// items of very unequal cost); the results in the items' order. `None` if a thread panicked.
pub(crate) fn map_dynamic<T: Sync, R: Send>(
    items: &[T],
    each: impl Fn(&T, &mut Scratch) -> R + Sync,
) -> Option<Vec<R>> {
    let threads = threads_for(items.len());
    if threads == 1 {
        let mut scratch = Scratch::default();
        return Some(items.iter().map(|item| each(item, &mut scratch)).collect());
    }
    let next = AtomicUsize::new(0);
    let worker = || {
        let mut done = Vec::new();
        let mut scratch = Scratch::default();
        loop {
            let index = next.fetch_add(1, Ordering::Relaxed);
            let Some(item) = items.get(index) else { break };
            done.push((index, each(item, &mut scratch)));
        }
        done
    };
    let mut results: Vec<(usize, R)> = Vec::with_capacity(items.len());
    let complete = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads).map(|_| scope.spawn(worker)).collect();
        workers.into_iter().fold(true, |complete, handle| match handle.join() {
            Ok(done) => {
                results.extend(done);
                complete
            }
            Err(_) => false,
        })
    });
    if !complete || results.len() != items.len() {
        return None;
    }
    results.sort_by_key(|(index, _)| *index);
    Some(results.into_iter().map(|(_, result)| result).collect())
}

/// `each` of every index below `count`, the indexes cut into one run per core (for many items of about equal
/// cost), the results in order. Fewer than `min_run` indexes per thread are done on the calling thread. `None`
/// if a thread panicked.
pub(crate) fn map_runs<R: Send>(
    count: usize,
    min_run: usize,
    each: impl Fn(usize, &mut Scratch) -> R + Sync,
) -> Option<Vec<R>> {
    let threads = threads_for(count / min_run.max(1));
    let run = |indexes: std::ops::Range<usize>| {
        let mut scratch = Scratch::default();
        indexes.map(|index| each(index, &mut scratch)).collect::<Vec<R>>()
    };
    if threads == 1 {
        return Some(run(0..count));
    }
    let run_len = count.div_ceil(threads);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..count)
            .step_by(run_len)
            .map(|start| {
                let run = &run;
                scope.spawn(move || run(start..count.min(start + run_len)))
            })
            .collect();
        let mut results = Vec::with_capacity(count);
        for handle in workers {
            results.extend(handle.join().ok()?);
        }
        Some(results)
    })
}

/// Working memory a thread keeps from one item to the next (dropped with the thread: a daemon keeps none).
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    /// Floating-point values (the prefilter's gram probabilities).
    pub(crate) floats: Vec<f64>,
    /// Bytes (a compiled part's encoding, read before it is decoded): each part's read reuses the pages of the
    /// one before instead of faulting in fresh ones.
    pub(crate) bytes: Vec<u8>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_keep_the_items_order() {
        let items: Vec<u64> = (0..10_000).collect();
        let squares: Vec<u64> = items.iter().map(|i| i * i).collect();
        assert_eq!(map_dynamic(&items, |i, _| i * i), Some(squares.clone()));
        let square = |i: usize, _: &mut Scratch| items[i] * items[i];
        assert_eq!(map_runs(items.len(), 100, square), Some(squares.clone()));
        assert_eq!(map_runs(items.len(), 1_000_000, square), Some(squares));
        assert_eq!(map_dynamic(&[] as &[u64], |i, _| *i), Some(Vec::new()));
        assert_eq!(map_runs(0, 0, |i, _| i), Some(Vec::new()));
    }
}
