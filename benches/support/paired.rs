//! Two operations timed in alternation, so that a shared machine's changing load falls on
//! both alike.

use std::cell::Cell;
use std::time::{Duration, Instant};

use criterion::BenchmarkGroup;
use criterion::measurement::WallTime;
use tokio::runtime::Runtime;

/// Times `first` and `second` in alternation, each iteration running both (in turns, first
/// one then the other), so that both see the same load on a shared machine. The bench named
/// `first.0` counts only the time of `first`, the one named `second.0` only that of `second`;
/// the ratio of the two over every paired call of both benches is printed after them.
pub fn paired<A: AsyncFn(), B: AsyncFn()>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    group_name: &str,
    runtime: &Runtime,
    first: (&str, A),
    second: (&str, B),
) {
    let sums = Cell::new(([Duration::ZERO; 2], 0_u64));
    for counted in [0, 1] {
        let name = if counted == 0 { first.0 } else { second.0 };
        let (first, second, sums) = (&first.1, &second.1, &sums);
        group.bench_function(name, |b| {
            b.to_async(runtime).iter_custom(|iters| async move {
                let mut totals = [Duration::ZERO; 2];
                for iteration in 0..iters {
                    let order = if iteration % 2 == 0 { [0, 1] } else { [1, 0] };
                    for which in order {
                        let start = Instant::now();
                        if which == 0 {
                            first().await;
                        } else {
                            second().await;
                        }
                        totals[which] += start.elapsed();
                    }
                }
                let (mut all, calls) = sums.get();
                all[0] += totals[0];
                all[1] += totals[1];
                sums.set((all, calls + iters));
                totals[counted]
            });
        });
    }
    let (all, calls) = sums.get();
    println!(
        "{group_name}: {} / {} = {:.2} over {calls} paired calls",
        first.0,
        second.0,
        all[0].as_secs_f64() / all[1].as_secs_f64()
    );
}
