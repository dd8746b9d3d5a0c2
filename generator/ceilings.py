"""The machine's ceilings: peak matrix-product GFLOP/s in the run's precision and memory bandwidth.

Measured once per run (``measure`` when the run folder has none, or
``python -m generator ceilings``) and stored beside the records as the run's
``machine.json`` (generator.store). The render puts each model's achieved
GFLOP/s against them (fraction of peak, the roofline figure).

- Peak: one large square GEMM (``torch.mm``), one warm-up then ``REPETITIONS``
  timed; the best repetition is the ceiling (2 x n^3 operations), the median is
  kept beside it as the spread.
- Bandwidth: ``dst.copy_(src)`` of a buffer far larger than the last-level
  cache; each copy reads and writes every byte, so 2 x buffer bytes are counted.

Both run in a process of their own (forked from measure's fork server, or
``python -m generator.ceilings '<job JSON>'`` by hand): on a GPU
the parent must not hold a CUDA context while workers measure memory, and on a
CPU the large buffers must not stay in the parent's resident memory.
"""

from __future__ import annotations

import datetime
import json
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from generator.errors import CliError
from generator.schema import BandwidthCeiling, MachineCeilings, MatmulCeiling, RecordError, parse_ceilings

REPETITIONS = 5
# Sizes: a GEMM that runs near a device's peak (larger changes the CPU figure by a
# few percent at most and costs seconds on two cores), and a copy buffer far
# beyond any last-level cache (hundreds of MB on a CPU server, ~100 MB on an H200).
MATMUL_N = {"cpu": 2048, "cuda": 8192}
COPY_BYTES = {"cpu": 256 * 2**20, "cuda": 2 * 2**30}
DTYPES = {"fp32": "float32", "fp16": "float16", "bf16": "bfloat16"}
TIMEOUT_S = 600.0


@dataclass(frozen=True)
class CeilingsJob:
    device: str
    precision: str
    threads: int
    hardware_slug: str
    git_commit: str | None
    command: str


def _timer(device: str) -> tuple[Callable[[Callable[[], object]], float], str]:
    """A function that times one call in ms, and the clock's name."""
    import torch

    if device == "cuda":

        def cuda_time(call: Callable[[], object]) -> float:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            call()
            end.record()
            end.synchronize()
            return float(start.elapsed_time(end))

        return cuda_time, "cuda_events"

    def cpu_time(call: Callable[[], object]) -> float:
        started = time.perf_counter()
        call()
        return (time.perf_counter() - started) * 1000.0

    return cpu_time, "perf_counter"


def _time_matmul(n: int, device: Any, dtype: Any, time_ms: Callable[[Callable[[], object]], float]) -> list[float]:
    import torch

    generator = torch.Generator(device=device).manual_seed(0)
    a = torch.randn(n, n, device=device, generator=generator).to(dtype)
    b = torch.randn(n, n, device=device, generator=generator).to(dtype)
    out = torch.empty(n, n, device=device, dtype=dtype)
    torch.mm(a, b, out=out)  # warm-up: library dispatch, thread pool, clocks
    return [time_ms(lambda: torch.mm(a, b, out=out)) for _ in range(REPETITIONS)]


def _time_copy(
    size_bytes: int, device: Any, time_ms: Callable[[Callable[[], object]], float]
) -> tuple[list[float], int]:
    import torch

    src = torch.ones(size_bytes // 4, device=device, dtype=torch.float32)
    dst = torch.empty_like(src)
    dst.copy_(src)  # warm-up: pages touched, not first-faulted inside the timing
    return [time_ms(lambda: dst.copy_(src)) for _ in range(REPETITIONS)], src.numel() * src.element_size()


def measure_here(job: CeilingsJob) -> MachineCeilings:
    """Measure in this process (torch imported here)."""
    import torch

    torch.set_num_threads(job.threads)
    device = torch.device("cuda" if job.device == "cuda" else "cpu")
    dtype = getattr(torch, DTYPES[job.precision])
    time_ms, clock = _timer(job.device)
    n = MATMUL_N[job.device]
    with torch.inference_mode():
        matmul_ms = _time_matmul(n, device, dtype, time_ms)
        copy_ms, buffer_bytes = _time_copy(COPY_BYTES[job.device], device, time_ms)
    operations = 2 * n**3
    return MachineCeilings(
        hardware_slug=job.hardware_slug,
        device=job.device,  # type: ignore[arg-type]
        precision=job.precision,  # type: ignore[arg-type]
        threads=torch.get_num_threads(),
        date=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        git_commit=job.git_commit,
        command=job.command,
        clock=clock,
        matmul=MatmulCeiling(
            gflops=operations / (min(matmul_ms) / 1000) / 1e9,
            median_gflops=operations / (statistics.median(matmul_ms) / 1000) / 1e9,
            n=n,
            dtype=str(dtype).removeprefix("torch."),
            repetitions=len(matmul_ms),
            samples_ms=matmul_ms,
        ),
        bandwidth=BandwidthCeiling(
            gb_per_s=2 * buffer_bytes / (min(copy_ms) / 1000) / 1e9,
            median_gb_per_s=2 * buffer_bytes / (statistics.median(copy_ms) / 1000) / 1e9,
            buffer_bytes=buffer_bytes,
            repetitions=len(copy_ms),
            samples_ms=copy_ms,
        ),
    )


def _serve(job: dict[str, Any], connection: Any) -> None:
    """Entry point in a worker process: the ceilings as JSON, or the error's last words."""
    try:
        connection.send({"ceilings": measure_here(CeilingsJob(**job)).model_dump(mode="json")})
    except Exception as error:  # reported by the parent, which goes on without ceilings
        connection.send({"error": f"{type(error).__name__}: {error}"[:300]})
    finally:
        connection.close()


def measure_in_subprocess(job: CeilingsJob) -> MachineCeilings:
    """Measure in a process of its own (measure's fork server: torch already imported); CliError on failure."""
    from generator.measure import _context

    context = _context()
    receive, send = context.Pipe(duplex=False)
    process = context.Process(target=_serve, args=(asdict(job), send), name="ceilings")
    process.start()
    send.close()
    try:
        if not receive.poll(TIMEOUT_S):
            raise CliError(f"measuring the machine's ceilings took over {TIMEOUT_S:.0f} s; stopped")
        answer = receive.recv()
    except EOFError:
        answer = {"error": "the process died"}
    finally:
        if process.is_alive():
            process.terminate()
        process.join()
        receive.close()
    if "error" in answer:
        raise CliError(f"measuring the machine's ceilings failed (exit {process.exitcode}): {answer['error']}")
    try:
        return parse_ceilings(answer["ceilings"], "the ceilings process's answer")
    except RecordError as error:
        raise CliError(f"measuring the machine's ceilings gave unusable output: {error}") from None


def summary(ceilings: MachineCeilings) -> str:
    m, b = ceilings.matmul, ceilings.bandwidth
    return (
        f"peak matmul {m.gflops:.4g} GFLOP/s ({m.dtype}, n={m.n}, best of {m.repetitions}; median "
        f"{m.median_gflops:.4g}), memory bandwidth {b.gb_per_s:.4g} GB/s (copy of {b.buffer_bytes / 1e6:.0f} "
        f"MB, read + write counted; median {b.median_gb_per_s:.4g})"
    )


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m generator.ceilings '<job JSON>'", file=sys.stderr)
        return 2
    ceilings = measure_here(CeilingsJob(**json.loads(args[0])))
    print(ceilings.model_dump_json())
    return 0


if __name__ == "__main__":
    sys.exit(main())
