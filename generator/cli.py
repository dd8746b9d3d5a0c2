"""``python -m generator``: a thin command line over plain functions.

Each command imports its stage lazily, so that ``render``, ``build`` and
``schema`` work on an install without torch (``pip install .[render]``).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from generator import backends, project_files
from generator.errors import CliError
from generator.schema import RecordError

# The repository in a checkout; the working folder for an installed package.
REPO_ROOT = project_files.work_root()


def _positive_int_list(text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated positive integers, got {text!r}") from None
    if not values or any(value <= 0 for value in values):
        raise argparse.ArgumentTypeError(f"expected comma-separated positive integers, got {text!r}")
    return values


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _selectors(values: list[str] | None) -> list[str]:
    """Accept both '--models a b' and '--models a,b'."""
    return [part for value in values or [] for part in value.split(",") if part]


def _cmd_models(args: argparse.Namespace) -> int:
    from generator import registry

    specs = registry.resolve(_selectors(args.models) + _selectors(args.preset) or ["all"], all_weights=args.all_weights)
    rows = registry.model_rows(specs, count=args.count)
    if args.json:
        print(json.dumps(rows, indent=2, sort_keys=True))
    else:
        print(registry.format_table(rows))
    return 0


def _cmd_measure(args: argparse.Namespace) -> int:
    from generator import measure

    selectors = _selectors(args.models) + _selectors(args.preset)
    if (args.models is not None or args.preset is not None) and not selectors:
        # '--models ""' (an empty shell variable) must not silently mean the default line-up.
        raise CliError("--models: no model named (give names, families or presets, or leave --models out)")
    kwargs = _measure_kwargs(args)
    if args.executor == "slurm":
        return _measure_on_slurm(args, selectors, kwargs)
    return measure.measure(selectors=selectors, show_progress=not args.no_progress, **kwargs)


def _measure_on_slurm(args: argparse.Namespace, selectors: list[str], kwargs: dict[str, Any]) -> int:
    from generator import fleet, registry

    names = [spec.name for spec in registry.resolve(selectors or ["paper"])]
    if not names:
        raise CliError("no models selected")
    options = fleet.SlurmOptions(
        partition=args.slurm_partition,
        gpus_per_job=args.slurm_gpus_per_job,
        cpus_per_job=args.slurm_cpus_per_job,
        time_min=args.slurm_time,
        parallelism=args.slurm_parallelism,
        account=args.slurm_account,
        qos=args.slurm_qos,
        constraint=args.slurm_constraint,
        mem=args.slurm_mem,
        additional=fleet.parse_additional(args.slurm_option),
    )
    return fleet.measure_on_slurm(names, kwargs, options, show_progress=not args.no_progress)


def _measure_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The arguments of generator.measure.measure, the same for a local run and for each Slurm job."""
    return {
        "out_dir": args.measurements,
        "device": args.device,
        "batch_sizes": args.batch_sizes,
        "precision": args.precision,
        "channels_last": args.channels_last,
        "compile_model": args.compile,
        "threads": args.threads,
        "force": args.force,
        "time_budget_s": args.time_budget,
        "power_window_s": args.power_window,
        "power_batch_sizes": args.power_batch_sizes,
        "cooldown": args.cooldown,
        "rounds": args.rounds,
        "machine": args.machine,
    }


def _cmd_schema(args: argparse.Namespace) -> int:
    from generator.schema import json_schema

    print(json.dumps(json_schema(), indent=2, sort_keys=True))
    return 0


def _cmd_render(args: argparse.Namespace) -> int:
    from generator.render.site import render_site

    render_site(
        measurements_dir=args.measurements,
        templates_dir=args.templates,
        out_dir=args.out,
        allow_empty=args.allow_empty,
        baseline=args.baseline,
    )
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    from generator.check import check

    return check(args.folders, as_json=args.json, min_iterations=args.min_iterations, min_rounds=args.min_rounds)


def _cmd_merge(args: argparse.Namespace) -> int:
    from generator.merge import merge

    return merge(
        args.sources,
        args.measurements,
        replace=args.replace,
        dry_run=args.dry_run,
        min_iterations=args.min_iterations,
        min_rounds=args.min_rounds,
    )


def _add_check_limits(parser: argparse.ArgumentParser) -> None:
    from generator.check import DEFAULT_MIN_ITERATIONS, DEFAULT_MIN_ROUNDS

    parser.add_argument(
        "--min-iterations",
        type=_positive_int,
        default=DEFAULT_MIN_ITERATIONS,
        metavar="N",
        help="timed iterations required per batch size and round (default %(default)s)",
    )
    parser.add_argument(
        "--min-rounds",
        type=_positive_int,
        default=DEFAULT_MIN_ROUNDS,
        metavar="N",
        help="rounds required per batch size (default %(default)s)",
    )


def _cmd_build(args: argparse.Namespace) -> int:
    from generator.render.site import build_site

    docs_dir, site_dir = args.site, args.out
    if project_files.is_shipped_config(args.config):
        # The installed copy's relative docs_dir/site_dir would resolve inside site-packages.
        docs_dir = docs_dir or Path.cwd() / "site"
        site_dir = site_dir or Path.cwd() / "build" / "site"
    return build_site(config_file=args.config, strict=not args.no_strict, docs_dir=docs_dir, site_dir=site_dir)


def _cmd_serve(args: argparse.Namespace) -> int:
    from generator.render.site import serve_site

    docs_dir = args.site
    if docs_dir is None and project_files.is_shipped_config(args.config):
        docs_dir = Path.cwd() / "site"
    return serve_site(config_file=args.config, address=args.address, docs_dir=docs_dir)


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from generator import evaluate

    return evaluate.evaluate(
        imagenet_val=args.imagenet_val,
        weights_dir=args.weights_dir,
        selectors=_selectors(args.models),
        measurements_dir=args.measurements,
        batch_size=args.batch_size,
        workers=args.workers,
        limit=args.limit,
        force=args.force,
        show_progress=not args.no_progress,
    )


def _per_device(describe: Callable[[backends.Defaults], str]) -> str:
    """A default as each device backend sets it, e.g. '2 on cpu, 1 on cuda'."""
    return ", ".join(f"{describe(backends.get(name).defaults)} on {name}" for name in backends.names())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m generator",
        description="Measure image classifiers and render the Canziani et al. (2017) study as a static site.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    models = commands.add_parser("models", help="list the model registry")
    models.add_argument(
        "models",
        nargs="*",
        metavar="SELECTOR",
        help="model names, families ('resnet'), presets ('paper', 'all', 'quick') or 'timm:<name>'; default all",
    )
    models.add_argument("--preset", action="append", metavar="PRESET", help="add a preset: paper, all, quick")
    models.add_argument("--json", action="store_true", help="print JSON for machines instead of a table")
    models.add_argument(
        "--count",
        action="store_true",
        help="build each model and count parameters and operations instead of quoting metadata",
    )
    models.add_argument("--all-weights", action="store_true", help="one row per weights entry, not per builder")
    models.set_defaults(handler=_cmd_models)

    measure = commands.add_parser("measure", help="benchmark models on this machine into JSON records")
    measure.add_argument(
        "--models",
        nargs="+",
        metavar="SELECTOR",
        help="names, families or presets (default: the study's line-up, 'paper')",
    )
    measure.add_argument("--preset", action="append", metavar="PRESET", help="add a preset: paper, all, quick")
    measure.add_argument(
        "--measurements",
        type=Path,
        default=REPO_ROOT / "measurements",
        help="records folder, as for render and evaluate (--out is a deprecated alias)",
    )
    measure.add_argument("--out", dest="measurements", type=Path, help=argparse.SUPPRESS)
    measure.add_argument(
        "--machine",
        default=None,
        metavar="NAME",
        help="name of this machine's folder and page (default: derived from the hardware, e.g. "
        "cpu-amd-epyc-7b13-2t or nvidia-h200); two hosts with the same CPU or GPU need two names",
    )
    measure.add_argument(
        "--rounds",
        type=int,
        default=None,
        metavar="N",
        help=f"timing rounds, interleaved across models, each in a fresh worker (default: "
        f"{_per_device(lambda d: str(d.rounds))}; one round cannot show a machine's drift)",
    )
    measure.add_argument("--device", choices=["auto", *backends.names()], default="auto")
    measure.add_argument(
        "--batch-sizes",
        type=_positive_int_list,
        default=None,
        metavar="N,N,...",
        help=f"batch sizes to time (default: {_per_device(lambda d: ','.join(map(str, d.batch_sizes)))})",
    )
    measure.add_argument("--precision", choices=["fp32", "fp16", "bf16"], default="fp32")
    measure.add_argument("--channels-last", action="store_true", help="use the channels_last memory format")
    measure.add_argument("--compile", action="store_true", help="torch.compile the model before timing")
    measure.add_argument("--threads", type=int, default=None, help="CPU threads for torch (default: all cores)")
    measure.add_argument(
        "--force",
        action="store_true",
        help="re-measure every model, even those with a record measured with the same settings and software",
    )
    measure.add_argument(
        "--time-budget",
        type=float,
        default=None,
        metavar="SECONDS",
        help="timing budget per batch size before giving up on the 2%% confidence target "
        f"(default: {_per_device(lambda d: f'{d.time_budget_s:g}')}; at least 5 iterations are always timed)",
    )
    measure.add_argument(
        "--power-window",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="length of the power-sampling window per batch size (NVML averages over about 1 s)",
    )
    measure.add_argument(
        "--power-batch-sizes",
        type=_positive_int_list,
        default=None,
        metavar="N,N,...",
        help="batch sizes at which to run the power window (default: every batch size for the study's "
        "networks, 1 and 16 for the others)",
    )
    measure.add_argument(
        "--cooldown",
        default=None,
        metavar="BOUND",
        help="between models, wait for the GPU to cool: a temperature (45C, at most 120 s), a time (20s), "
        "or both (45C,60s); default: no wait",
    )
    measure.add_argument("--no-progress", action="store_true", help="no progress bar")
    fleet = measure.add_argument_group(
        "Slurm",
        "--executor slurm: one job per model as a job array (pip install '.[fleet]'); each job measures "
        "like a local run and writes its record into the shared --out",
    )
    fleet.add_argument(
        "--executor",
        choices=["local", "slurm"],
        default="local",
        help="where to measure: this machine (default) or Slurm jobs through submitit",
    )
    fleet.add_argument("--slurm-partition", metavar="NAME")
    fleet.add_argument(
        "--slurm-gpus-per-job",
        type=int,
        default=None,
        metavar="N",
        help="whole GPUs per job (default 1 when measuring on CUDA, else 0)",
    )
    fleet.add_argument("--slurm-cpus-per-job", type=_positive_int, default=None, metavar="N")
    fleet.add_argument(
        "--slurm-time",
        type=_positive_int,
        default=60,
        metavar="MINUTES",
        help="time limit per job (default %(default)s)",
    )
    fleet.add_argument(
        "--slurm-parallelism",
        type=_positive_int,
        default=256,
        metavar="N",
        help="jobs of the array running at once (default %(default)s)",
    )
    fleet.add_argument("--slurm-account", metavar="NAME")
    fleet.add_argument("--slurm-qos", metavar="NAME")
    fleet.add_argument("--slurm-constraint", metavar="FEATURES", help="node features, e.g. 'h100'")
    fleet.add_argument("--slurm-mem", metavar="SIZE", help="memory per job, e.g. '32G'")
    fleet.add_argument(
        "--slurm-option",
        action="append",
        metavar="KEY=VALUE",
        help="any other sbatch option, repeatable, e.g. reservation=lab",
    )
    measure.set_defaults(handler=_cmd_measure)

    schema = commands.add_parser("schema", help="print the JSON Schema of a measurement record")
    schema.set_defaults(handler=_cmd_schema)

    render = commands.add_parser("render", help="turn records into the MkDocs source in site/")
    render.add_argument("--measurements", type=Path, default=REPO_ROOT / "measurements")
    render.add_argument("--templates", type=Path, default=project_files.templates_dir())
    render.add_argument("--out", type=Path, default=REPO_ROOT / "site")
    render.add_argument(
        "--allow-empty",
        action="store_true",
        help="render even when no records are found (otherwise refused over a site that has pages)",
    )
    render.add_argument(
        "--baseline",
        metavar="HARDWARE/CONFIGURATION",
        default=None,
        help="run the comparison page sets the others against, e.g. cpu-amd-epyc-2t/fp32 "
        "(default: the first machine in name order, in fp32 when it has it)",
    )
    render.set_defaults(handler=_cmd_render)

    check = commands.add_parser(
        "check", help="check records made elsewhere (schema, numbers, iterations, metadata, one machine per folder)"
    )
    check.add_argument("folders", nargs="+", type=Path, metavar="DIR", help="folders of records to check")
    check.add_argument("--json", action="store_true", help="print a JSON report for machines")
    _add_check_limits(check)
    check.set_defaults(handler=_cmd_check)

    merge = commands.add_parser("merge", help="import checked records from other machines, all or nothing")
    merge.add_argument("sources", nargs="+", type=Path, metavar="SRC", help="folders of records to import")
    merge.add_argument(
        "--measurements",
        type=Path,
        default=REPO_ROOT / "measurements",
        help="records folder to import into (default: measurements/)",
    )
    merge.add_argument(
        "--replace",
        action="store_true",
        help="replace records in place that were measured on another machine, software or settings",
    )
    merge.add_argument("--dry-run", action="store_true", help="check and report, write nothing")
    _add_check_limits(merge)
    merge.set_defaults(handler=_cmd_merge)

    build = commands.add_parser("build", help="build the rendered site to HTML (mkdocs build --strict)")
    build.add_argument("--config", type=Path, default=project_files.mkdocs_config())
    build.add_argument(
        "--site",
        type=Path,
        default=None,
        metavar="DIR",
        help="rendered site to build (default: the configuration's docs_dir; ./site when installed)",
    )
    build.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="DIR",
        help="HTML output (default: the configuration's site_dir; ./build/site when installed)",
    )
    build.add_argument("--no-strict", action="store_true", help="do not fail on MkDocs warnings")
    build.set_defaults(handler=_cmd_build)

    serve = commands.add_parser("serve", help="preview the site locally (mkdocs serve)")
    serve.add_argument("--config", type=Path, default=project_files.mkdocs_config())
    serve.add_argument(
        "--site",
        type=Path,
        default=None,
        metavar="DIR",
        help="rendered site to serve (default: the configuration's docs_dir; ./site when installed)",
    )
    serve.add_argument("--address", default="127.0.0.1:8000")
    serve.set_defaults(handler=_cmd_serve)

    evaluate = commands.add_parser("evaluate", help="measure top-1/top-5 on a local ImageNet validation folder")
    evaluate.add_argument(
        "--imagenet-val",
        type=Path,
        required=True,
        help="ImageNet validation folder: 1000 class sub-folders named by WordNet ID, or the images beside "
        "a val.txt of '<file> <class index 0-999>' lines",
    )
    evaluate.add_argument(
        "--weights-dir",
        type=Path,
        required=True,
        help="folder of local weights files, named as torchvision downloads them (resnet50-11ad3fa6.pth), "
        "<timm tag>.pth (inception_v4.tf_in1k.pth) or <model>.pth (bn_alexnet.pth); .safetensors too",
    )
    evaluate.add_argument(
        "--models",
        nargs="+",
        metavar="SELECTOR",
        help="default: every model of the 'all' preset that has a weights file",
    )
    evaluate.add_argument("--measurements", type=Path, default=REPO_ROOT / "measurements")
    evaluate.add_argument("--batch-size", type=int, default=64)
    evaluate.add_argument("--workers", type=int, default=2)
    evaluate.add_argument(
        "--limit",
        type=int,
        default=None,
        metavar="N",
        help="evaluate N images spread evenly over the set (a quick check, not the published protocol)",
    )
    evaluate.add_argument(
        "--force",
        action="store_true",
        help="re-evaluate models whose records already hold an accuracy from the same weights file",
    )
    evaluate.add_argument("--no-progress", action="store_true")
    evaluate.set_defaults(handler=_cmd_evaluate)

    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except CliError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    except RecordError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except OSError as error:  # a full disk or a permission while writing: the message, not a traceback
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; finished records are kept", file=sys.stderr)
        return 130
