"""Where a decode step's GPU time goes, from an Nsight Compute kernel list.

Reads `ncu -i REPORT --csv --page raw --metrics gpu__time_duration.sum` output (plain or .gz; run6.sh
writes it), cuts it into decode steps at each launch of the loop body's first kernel (the name is in
the decode program's thunk_sequence.txt under `body:`), and prints, for the median step: kernels,
summed device time, and that time by kind of kernel. Kernels under ncu run one at a time, so the sum
is device time with no launch gaps; compare it with the step time the bench measured.
Usage: python3 decode_profile.py KERNELS.csv[.gz] [FIRST_BODY_KERNEL]
"""
import collections
import csv
import gzip
import re
import statistics
import sys


def kernels(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt") as f:
        rows = list(csv.reader(f))
    header, rows = rows[0], rows[2:]  # the second row holds the units
    name, time = header.index("Kernel Name"), header.index("gpu__time_duration.sum")
    return [(r[name], float(r[time].replace(",", "")) / 1e3) for r in rows if len(r) > time]


def kind(name):
    if any(word in name for word in ("gemm", "cublas", "cutlass")):
        return "matmul"
    return re.sub(r"(_\d+)+$", "", name)


def main():
    path = sys.argv[1]
    first = sys.argv[2] if len(sys.argv) > 2 else "loop_dynamic_update_slice_fusion_38"
    ks = kernels(path)
    starts = [i for i, (n, _) in enumerate(ks) if n == first]
    if len(starts) < 2:
        sys.exit(f"{path}: no decode step found: {first} launched {len(starts)} times "
                 "(name the loop body's first kernel, from the decode thunk_sequence.txt)")
    steps = [ks[a:b] for a, b in zip(starts, starts[1:])]
    size = statistics.mode(len(s) for s in steps)
    steps = [s for s in steps if len(s) == size]  # a call's last step runs into what follows
    totals = [sum(t for _, t in s) for s in steps]
    step = steps[totals.index(statistics.median_low(totals))]
    print(f"{len(ks)} kernels profiled; {len(steps)} whole decode steps of {size} kernels")
    print(f"device time per step: median {statistics.median(totals):.1f} us "
          f"(min {min(totals):.1f}, max {max(totals):.1f})")
    largest = max(step, key=lambda k: k[1])
    by_kind = collections.defaultdict(list)
    for n, t in step:
        by_kind["LM head (" + n + ")" if (n, t) == largest else kind(n)].append(t)
    print("| kernels | count | us per step | share | mean us |")
    print("|---|---:|---:|---:|---:|")
    total = sum(t for _, t in step)
    for k, ts in sorted(by_kind.items(), key=lambda kv: -sum(kv[1])):
        print(f"| {k} | {len(ts)} | {sum(ts):.1f} | {sum(ts) / total:.0%} | {sum(ts) / len(ts):.1f} |")
    small = [t for _, t in step if t < 3.0]
    print(f"kernels under 3 us: {len(small)} of {size}, {sum(small):.1f} us together")


if __name__ == "__main__":
    main()
