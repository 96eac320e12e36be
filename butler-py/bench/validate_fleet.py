"""Times fleet validation from Python (build with `maturin develop --release`).

Compare the median with `cargo bench --bench validation` (validate/1000000):
the Python call must cost at most 1.5x the Rust time.

    python butler-py/bench/validate_fleet.py [VMS]
"""

import statistics
import sys
import time

import butler


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    b = butler.Butler.demo()
    ops = b.trusted_session("olga", ["operator"])
    names = b.simulator.generate_fleet(n, max(1, n // 100), mix="realistic")
    g = ops.create_group_with_vms("bench", "c1-madrid", "c2-santiago", names)
    facts = ops.refresh(g.id)
    report = butler.validate(g, facts)  # warm up
    times = []
    for _ in range(30):
        t = time.perf_counter()
        report = butler.validate(g, facts)
        times.append(time.perf_counter() - t)
    print(f"validate/{n} from Python: median {statistics.median(times) * 1e3:.2f} ms "
          f"(min {min(times) * 1e3:.2f} ms) over {len(times)} runs; "
          f"{report.errors} errors, {report.warnings} warnings, {len(report)} findings")


if __name__ == "__main__":
    main()
