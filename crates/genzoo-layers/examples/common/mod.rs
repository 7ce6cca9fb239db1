//! What the timing examples share.

use std::time::Instant;

/// The fastest of `runs` timed calls of `f`, in seconds, after one untimed warm-up call.
pub fn best_of<T>(runs: usize, mut f: impl FnMut() -> T) -> f64 {
    f();
    let mut best = f64::INFINITY;
    for _ in 0..runs {
        let t0 = Instant::now();
        f();
        best = best.min(t0.elapsed().as_secs_f64());
    }
    best
}
