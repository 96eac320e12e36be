"""Times ``Facts.to_arrow()`` (build with ``maturin develop --release``;
needs pyarrow): the per-VM facts of a refreshed group as a pyarrow.Table.
Aimed at: 1,000,000 VMs in at most 100 ms.

    python butler-py/bench/facts_arrow.py [VMS]
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
    table = facts.to_arrow()  # warm up (imports pyarrow)
    times = []
    for _ in range(20):
        t = time.perf_counter()
        table = facts.to_arrow()
        times.append(time.perf_counter() - t)
    t = time.perf_counter()
    df = table.to_pandas()
    to_pandas = time.perf_counter() - t
    print(f"facts.to_arrow/{n}: median {statistics.median(times) * 1e3:.1f} ms "
          f"(min {min(times) * 1e3:.1f} ms) over {len(times)} runs; "
          f"{table.num_rows} rows, {table.nbytes / 1e6:.0f} MB; "
          f"then .to_pandas() {to_pandas * 1e3:.0f} ms ({len(df)} rows)")


if __name__ == "__main__":
    main()
