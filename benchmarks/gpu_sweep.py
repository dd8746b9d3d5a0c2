"""The GPU sweep under a deadline: measure what fits, stop cleanly, always pack what was measured.

Called by benchmarks/gpu_sweep.sh (which installs the carried wheels first).
On a borrowed machine one command may run a fixed time and everything not
copied out by then is lost, so:

- models run in order of value per second: the study's networks first, then
  the others from the cheapest (published GMACs) up;
- ``--deadline SECONDS`` (from the script's start): ``measure`` gets SIGINT
  ``--margin`` seconds before it (it finishes the record being written and keeps
  every finished record), then the records are packed;
- the records are packed into ``$OUT/measurements.tar.gz`` every
  ``--pack-every`` seconds while measuring and once at the end, each time
  atomically: a kill at any moment leaves the last complete pack;
- ``--resume PACK`` unpacks an earlier pack first; ``measure`` skips the models
  that already have a valid record, so a second call goes on where the first
  stopped;
- ``--calibrate`` measures what the sweep's settings depend on instead (2-3
  minutes): update periods of NVML's averaged power, instantaneous power and
  energy counter; idle without and with a CUDA context and after load; the
  TF32 settings read back; setup time of three models.

Prints one summary line per phase and writes ``$OUT/sweep-summary.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

STUDY_FIRST_BATCH_SIZES = "1,2,4,8,16,32,64"


def preflight() -> list[str]:
    """What the sweep cannot start without: its imports, and the versions that fail only late."""
    from importlib import metadata

    missing = []
    for module in ("pydantic", "fvcore", "tqdm", "torch", "torchvision", "generator.measure"):
        try:
            __import__(module)
        except Exception as error:  # any failure here means the sweep cannot run
            missing.append(f"{module} ({type(error).__name__}: {error})")
    try:
        found = metadata.version("typing_extensions")
        if tuple(int(part) for part in found.split(".")[:2]) < (4, 16):
            missing.append(f"typing-extensions>=4.16 for pydantic (found {found})")
    except metadata.PackageNotFoundError:
        missing.append("typing-extensions>=4.16 for pydantic")
    return missing


def ordered_models(selectors: list[str]) -> list[str]:
    """The study's networks first, then the rest by published GMACs (unknown last), cheapest first."""
    from generator import registry

    specs = registry.resolve(selectors)

    def cost(spec: Any) -> float:
        return spec.published_gmacs if spec.published_gmacs is not None else float("inf")

    study = sorted((s for s in specs if s.study_name is not None), key=cost)
    rest = sorted((s for s in specs if s.study_name is None), key=cost)
    return [s.name for s in study + rest]


def seed(committed: Path, records: Path) -> set[Path]:
    """Copy the committed records into the working folder, so that measure reuses their operation counts.

    Counting on the GPU's clock costs seconds per model; the counts do not depend
    on the device (and are reused across torch versions where the architecture's
    source matches). The copies are not packed. Returns their paths.
    """
    seeded: set[Path] = set()
    for path in sorted(committed.rglob("*.json")):  # every layout depth (generator.store)
        target = records / path.relative_to(committed)
        if target.exists():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        seeded.add(target)
    return seeded


def pack(records: Path, out: Path, leave_out: set[Path] = frozenset()) -> int:  # type: ignore[assignment]
    """Tar the records into out/measurements.tar.gz atomically; the number of records packed."""
    target = out / "measurements.tar.gz"
    partial = out / ".measurements.tar.gz.partial"
    files = sorted(p for p in records.rglob("*.json") if not p.name.startswith(".") and p not in leave_out)
    with tarfile.open(partial, "w:gz") as tar:
        for path in files:
            tar.add(path, arcname=str(path.relative_to(records)))
    os.replace(partial, target)
    # The run's machine.json (the machine's ceilings, generator.store) travels with the records; it is not one.
    return len([p for p in files if p.name != "machine.json"])


def unpack(archive: Path, records: Path) -> int:
    with tarfile.open(archive) as tar:
        members = [m for m in tar.getmembers() if m.isfile() and m.name.endswith(".json")]
        tar.extractall(records, members=members, filter="data")
    return len([m for m in members if Path(m.name).name != "machine.json"])  # records, not a run's ceilings


class Packer(threading.Thread):
    """Packs the records every ``every_s`` seconds until stopped."""

    def __init__(self, records: Path, out: Path, every_s: float, leave_out: set[Path]) -> None:
        super().__init__(daemon=True, name="packer")
        self.records, self.out, self.every_s, self.leave_out = records, out, every_s, leave_out
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.wait(self.every_s):
            try:
                pack(self.records, self.out, self.leave_out)
            except OSError as error:  # a full disk must not stop the measuring
                print(f"packing failed: {error}", file=sys.stderr)


# Set by SIGTERM: stop as at the deadline (measure gets SIGINT, the records are packed).
STOP_NOW = threading.Event()


def run_measure(command: list[str], stop_at: float, log: Path) -> tuple[int, str]:
    """Run ``measure`` until it ends or ``stop_at`` (monotonic); SIGINT then, and SIGKILL if it lingers."""
    with log.open("a", encoding="utf-8") as sink:
        sink.write("$ " + " ".join(command) + "\n")
        sink.flush()
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, cwd=REPO, start_new_session=True)
        reason = "finished"
        while process.poll() is None:
            if time.monotonic() >= stop_at or STOP_NOW.is_set():
                reason = "signal" if STOP_NOW.is_set() else "deadline"
                # SIGINT to the whole group: measure stops after its current model's
                # records are safe and exits 130; its workers are in the group too.
                os.killpg(process.pid, signal.SIGINT)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
                break
            time.sleep(0.2)
    return process.returncode, reason


def sweep(args: argparse.Namespace, out: Path, started: float) -> dict[str, Any]:
    records = Path(args.records)
    records.mkdir(parents=True, exist_ok=True)
    resumed = unpack(Path(args.resume), records) if args.resume else 0
    seeded = seed(Path(args.seed_operations), records) if args.seed_operations else set()
    stop_at = started + args.deadline - args.margin
    models = ordered_models(args.models)
    packer = Packer(records, out, args.pack_every, seeded)
    packer.start()
    phases = []
    configs: list[list[str]] = [[]]
    if args.second_config:
        configs.append(["--precision", "bf16", "--channels-last"])
    try:
        for extra in configs:
            if time.monotonic() >= stop_at:
                break
            phase_start = time.monotonic()
            command = [
                sys.executable, "-m", "generator", "measure", "--device", args.device, "--models", ",".join(models),
                "--batch-sizes", args.batch_sizes, "--out", str(records), "--no-progress", *extra, *args.measure_args,
            ]
            code, reason = run_measure(command, stop_at, out / "sweep.log")
            phases.append({
                "config": " ".join(extra) or "fp32", "exit_code": code, "stopped_by": reason,
                "wall_s": round(time.monotonic() - phase_start, 1),
            })
            print(f"phase {phases[-1]['config']}: {reason}, exit {code}, {phases[-1]['wall_s']} s", flush=True)
            if reason != "finished":
                break
    finally:
        packer.halt.set()
        packed = pack(records, out, seeded)
    from generator.schema import model_file_stem

    own = [p for p in records.rglob("*.json") if p not in seeded and p.name != "machine.json"]
    measured = sorted({p.stem for p in own})
    return {
        "power_overview": power_overview(own),
        "mode": "sweep", "deadline_s": args.deadline, "margin_s": args.margin, "resumed_records": resumed,
        "seeded_records": len(seeded),
        "packed_records": packed, "models_in_order": models, "phases": phases,
        "models_with_records": measured,
        "models_missing": [m for m in models if model_file_stem(m) not in set(measured)],
    }


def _guarded(result: dict[str, Any], key: str, read: Any) -> Any:
    """result[key] = read(), or the error in words: one failed reading must not cost the others (device time)."""
    try:
        value = read()
    except Exception as error:  # anything: the calibration reports it and goes on
        value = None
        result[key + "_error"] = f"{type(error).__name__}: {error}"[:300]
    result[key] = vars(value) if hasattr(value, "__dataclass_fields__") else value
    return value


def power_overview(paths: list[Path]) -> dict[str, Any]:
    """What the closing note of a GPU run needs: idle per model in run order (its drift), peak power seen,
    energy and reading methods, failed reads."""
    from collections import Counter

    from generator.schema import RecordError, load_record

    idle_series = []
    peaks: list[float] = []
    energy_methods: Counter[str] = Counter()
    reading_methods: Counter[str] = Counter()
    read_errors = 0
    unavailable: Counter[str] = Counter()
    for path in paths:
        try:
            record = load_record(path)
        except RecordError:
            continue
        powers = [b.power for b in record.batches if b.power is not None]
        for power in powers:
            if not power.available:
                unavailable[power.unavailable_reason or "?"] += 1
                continue
            energy_methods[power.energy_method or "none"] += 1
            reading_methods[power.reading_method or "unknown"] += 1
            read_errors += power.read_errors
            if power.peak_w is not None:
                peaks.append(power.peak_w)
        first = next((p for p in powers if p.available and p.idle_w is not None), None)
        if first is not None:
            idle_series.append({
                "date": record.run.date, "model": record.model.name, "config": record.config.slug,
                "idle_w": first.idle_w, "settle_s": first.idle_settle_s, "settled": first.idle_settled,
                "temperature_c_start": first.temperature_c_start,
            })
    idle_series.sort(key=lambda item: str(item["date"]))
    return {
        "idle_series": idle_series, "peak_w_max": max(peaks) if peaks else None,
        "energy_methods": dict(energy_methods), "reading_methods": dict(reading_methods),
        "read_errors": read_errors, "unavailable": dict(unavailable),
    }


def calibrate(args: argparse.Namespace) -> dict[str, Any]:
    """The figures the sweep's settings rest on, measured on this machine."""
    from generator import power

    result: dict[str, Any] = {"mode": "calibrate"}
    nvml = power.load_nvml()
    meter: power.NvmlMeter | None = None
    if nvml is None:
        result["nvml"] = "not available"
    else:
        handle = power.nvml_handle_for_cuda_device(nvml, index=power.visible_gpu_index())
        meter = power.NvmlMeter(nvml, handle)
        result["reading_method"] = meter.reading_method
        result["energy_counter_available"] = meter.energy_counter_available
        probe = args.period_probe_s
        periods: dict[str, Any] = {}
        _guarded(periods, "power_usage_average",
                 lambda: power.update_period_s(lambda: nvml.nvmlDeviceGetPowerUsage(handle), duration_s=probe))
        _guarded(periods, "instant_field", lambda: power.update_period_s(meter.instant_power_w, duration_s=probe))
        if meter.energy_counter_available:
            _guarded(periods, "energy_counter", lambda: power.update_period_s(meter.energy_mj, duration_s=probe))
        result["update_periods_s"] = periods
        meter.counter_period_s = periods.get("energy_counter")
        _guarded(result, "nvml_memory_before_context", lambda: power.nvml_memory(nvml, handle))
        _guarded(result, "idle_without_context", lambda: power.settled_idle(meter, max_wait_s=args.idle_wait))
    result.update(_calibrate_torch(args, meter, nvml))
    return result


def _calibrate_torch(args: argparse.Namespace, meter: Any, nvml: Any) -> dict[str, Any]:
    import torch

    from generator import power

    result: dict[str, Any] = {"torch": torch.__version__}
    cuda = args.device == "cuda" and torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    if cuda:
        _guarded(result, "tf32_read_back", lambda: _flags_read_back(torch, device))
        result["gpu"] = torch.cuda.get_device_name(device)
        if meter is not None:
            handle = power.nvml_handle_for_cuda_device(nvml, index=power.visible_gpu_index())
            _guarded(result, "nvml_memory_with_context", lambda: power.nvml_memory(nvml, handle))
            idle = _guarded(result, "idle_with_context", lambda: power.settled_idle(meter, max_wait_s=args.idle_wait))
            under_load(result, meter, idle, device, args.load_s, args.idle_wait)
            torch.cuda.empty_cache()
    else:
        result["tf32_read_back"] = "no CUDA device"
    setups = []
    for name in args.setup_models:
        entry: dict[str, Any] = {"model": name}
        _guarded(entry, "timing", lambda name=name: _setup_time(name, device, cuda, Path(
            args.seed_operations or REPO / "measurements")))
        setups.append(entry)
    result["setup"] = setups
    return result


def under_load(
    result: dict[str, Any], meter: Any, idle: Any, device: Any, load_s: float, idle_wait_s: float, size: int = 8192
) -> None:
    """fp32 matrix products (TF32 off) for ``load_s``, a power window at the end of it, then idle at once and settled.

    The window's counter mean against its samples' mean checks the two readings
    against each other; idle right after load against settled idle shows the wait.
    """
    import torch

    from generator import power

    a = torch.randn(size, size, device=device)

    def product() -> None:
        (a @ a).sum().item()

    end = time.perf_counter() + load_s
    while time.perf_counter() < end:
        product()
    _guarded(result, "power_under_load", lambda: power.power_window(
        product, batch_size=1, meter=meter, window_s=2.0, idle=idle, already_loaded_s=load_s,
    ).model_dump())
    _guarded(result, "idle_right_after_load_w", lambda: power.idle_power_w(meter, 0.5))
    settle_start = time.perf_counter()
    _guarded(result, "idle_after_load", lambda: power.settled_idle(meter, max_wait_s=idle_wait_s))
    result["idle_after_load_wait_s"] = time.perf_counter() - settle_start


def _flags_read_back(torch: Any, device: Any) -> dict[str, Any]:
    """The precision settings the worker uses (the CUDA backend sets them), read back rather than assumed."""
    from generator.backends.cuda import set_precision_flags

    read_back = set_precision_flags(torch.backends)
    torch.cuda.init()
    torch.cuda.synchronize(device)
    flags: dict[str, Any] = {"tf32": read_back.tf32, "cudnn_benchmark": read_back.cudnn_benchmark}
    for name, obj in (("matmul.fp32_precision", torch.backends.cuda.matmul),
                      ("cudnn.conv.fp32_precision", getattr(torch.backends.cudnn, "conv", None))):
        if obj is not None and hasattr(obj, "fp32_precision"):
            flags[name] = obj.fp32_precision
    return flags


def _setup_time(name: str, device: Any, cuda: bool, committed: Path) -> dict[str, Any]:
    """Build, move and count one model, timed; its count compared with the committed record's."""
    import torch

    from generator import registry
    from generator.counting import count_operations

    spec = registry.spec_by_name(name)
    t0 = time.perf_counter()
    model = spec.build().eval()
    t1 = time.perf_counter()
    model = model.to(device)
    if cuda:
        torch.cuda.synchronize()
    t2 = time.perf_counter()
    size = spec.input_size_px
    counted = count_operations(model, torch.zeros(1, 3, size, size, device=device), cross_check=False)
    if cuda:
        torch.cuda.synchronize()
    t3 = time.perf_counter()
    return {"build_s": t1 - t0, "to_device_s": t2 - t1, "count_s": t3 - t2,
            **_compare_with_committed(spec, counted, committed)}


def _compare_with_committed(spec: Any, counted: Any, committed: Path) -> dict[str, Any]:
    """This torch's count of ``spec`` against a committed record's (another torch, maybe): the reuse claim, checked."""
    from generator.counting import architecture_sha256
    from generator.schema import RecordError, load_record, model_file_stem

    for path in sorted(committed.rglob(f"{model_file_stem(spec.name)}.json")):
        try:
            record = load_record(path)
        except RecordError:
            continue
        if record.operations is None:
            continue
        return {
            "committed_torch": record.software.torch,
            "committed_gmacs": record.operations.gmacs,
            "gmacs_here": counted.gmacs,
            "counts_equal": record.operations.gmacs == counted.gmacs
            and record.operations.by_operator_gmacs == counted.by_operator_gmacs,
            "architecture_source_equal": record.operations.architecture_sha256 == architecture_sha256(spec.builder)
            if record.operations.architecture_sha256 else None,
        }
    return {"committed_gmacs": None}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--deadline", type=float, default=540.0, help="seconds from the start by which all is packed")
    parser.add_argument("--margin", type=float, default=60.0, help="stop measuring this long before the deadline")
    parser.add_argument("--pack-every", type=float, default=30.0, help="seconds between packs while measuring")
    parser.add_argument("--resume", help="a measurements.tar.gz from an earlier call to go on from")
    parser.add_argument("--records", default="/tmp/gpu-sweep-records", help="working folder for the records")
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    parser.add_argument("--seed-operations", default=str(REPO / "measurements"),
                        help="committed records whose operation counts measure may reuse ('' for none)")
    parser.add_argument("--models", nargs="+", default=["paper", "all"], help="selectors (default: paper all)")
    parser.add_argument("--batch-sizes", default=STUDY_FIRST_BATCH_SIZES)
    parser.add_argument("--second-config", action="store_true", help="then bf16 + channels_last while time allows")
    parser.add_argument("--calibrate", action="store_true", help="measure update periods, idle, TF32, setup time")
    parser.add_argument("--period-probe-s", type=float, default=2.0)
    parser.add_argument("--idle-wait", type=float, default=10.0)
    parser.add_argument("--load-s", type=float, default=15.0)
    parser.add_argument("--setup-models", nargs="+", default=["resnet50", "vgg16", "vit_b_16"])
    parser.add_argument("measure_args", nargs=argparse.REMAINDER, help="after --: passed on to measure")
    args = parser.parse_args(argv)
    if args.measure_args[:1] == ["--"]:
        args.measure_args = args.measure_args[1:]
    out = Path(os.environ.get("OUT") or "")
    if not os.environ.get("OUT") or not out.is_dir():
        print("set OUT to an existing folder for the packed records", file=sys.stderr)
        return 2
    if args.resume and not Path(args.resume).is_file():
        print(f"--resume {args.resume}: no such file", file=sys.stderr)
        return 2
    missing = preflight()
    if missing:
        print("cannot start the sweep; missing or too old: " + "; ".join(missing), file=sys.stderr)
        print("fill .whl/ with 'benchmarks/gpu_sweep.sh --fetch-wheels' and carry it along", file=sys.stderr)
        return 2
    # The deadline counts from when gpu_sweep.sh started (SWEEP_STARTED_AT, epoch seconds).
    signal.signal(signal.SIGTERM, lambda signum, frame: STOP_NOW.set())
    started = time.monotonic() - max(0.0, time.time() - float(os.environ.get("SWEEP_STARTED_AT") or time.time()))
    summary = calibrate(args) if args.calibrate else sweep(args, out, started)
    summary["wall_s"] = round(time.monotonic() - started, 1)
    text = json.dumps(summary, indent=2, default=str)
    (out / ("calibration.json" if args.calibrate else "sweep-summary.json")).write_text(text + "\n")
    print(text if args.calibrate else
          f"packed {summary['packed_records']} records in {summary['wall_s']} s; "
          f"missing {len(summary['models_missing'])}: {' '.join(summary['models_missing'][:20])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
