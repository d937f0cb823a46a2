"""How much faster can bf16 be than fp32 on this CPU at all? Dense kernels timed in both precisions.

The bf16 fast path can never beat the ratio the hardware gives its densest kernels. This times a square
matrix product and a 1x1 and a 3x3 convolution (oneDNN, the kernels a model's convolutions and linears
run on) in fp32 and in bf16, one thread by default, and reports GFLOP/s and the bf16 / fp32 ratio, with
the instruction sets torch and oneDNN report. CPUs with AMX multiply bf16 tiles and can reach far more
than 2x; CPUs with AVX512-BF16 only (a dot product of bf16 pairs per fp32 lane) top out near 2x.

    python benchmarks/bf16_ceiling.py [--threads 1] [--repeats 5] [--json benchmarks/results/cpu/bf16_ceiling.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path


def _cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def _model_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _gflops(fn, flops: float, repeats: int) -> float:
    fn()  # first call: oneDNN picks and builds its kernel
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return flops / min(times) / 1e9  # a ceiling: the best repeat, least disturbed by other work


def kernels():
    """(name, flops, builder(dtype) -> zero-argument callable)."""
    import torch

    def matmul(n):
        def build(dtype):
            a, b = torch.rand(n, n, dtype=dtype), torch.rand(n, n, dtype=dtype)
            return lambda: a @ b

        return f"matmul {n}x{n}x{n}", 2.0 * n**3, build

    def conv(batch, cin, cout, size, k):
        def build(dtype):
            layer = torch.nn.Conv2d(cin, cout, k, padding=k // 2, bias=False).to(dtype)
            x = torch.rand(batch, cin, size, size, dtype=dtype)

            def run():
                with torch.no_grad():
                    layer(x)

            return run

        return (
            f"conv{k}x{k} {cin}->{cout} on {batch}x{size}x{size}",
            2.0 * batch * size * size * cin * cout * k * k,
            build,
        )

    return [matmul(1024), matmul(2048), conv(4, 1024, 256, 16, 1), conv(4, 256, 256, 32, 3)]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    flags = _cpu_flags()
    isa = {
        "cpu": _model_name(),
        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "amx_bf16": "amx_bf16" in flags,
        "avx512_bf16": "avx512_bf16" in flags,
    }
    print(
        f"{isa['cpu']}: torch {torch.backends.cpu.get_cpu_capability()}, "
        f"AMX-BF16 {'yes' if isa['amx_bf16'] else 'no'}, AVX512-BF16 {'yes' if isa['avx512_bf16'] else 'no'}, "
        f"{args.threads} thread(s)"
    )
    rows = []
    for name, flops, build in kernels():
        fp32 = _gflops(build(torch.float32), flops, args.repeats)
        bf16 = _gflops(build(torch.bfloat16), flops, args.repeats)
        rows.append({"kernel": name, "fp32_gflops": fp32, "bf16_gflops": bf16, "ratio": bf16 / fp32})
        print(f"{name:36s} fp32 {fp32:7.1f} GFLOP/s   bf16 {bf16:7.1f} GFLOP/s   bf16/fp32 {bf16 / fp32:.2f}x")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        record = {
            "command": "python " + " ".join(sys.argv),
            "torch": torch.__version__,
            "threads": args.threads,
            **isa,
            "rows": rows,
        }
        args.json.write_text(json.dumps(record, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
