"""`amt curves`: curve sets from the user's own training jobs, and what each set is worth.

    amt curves import --tuning-job NAME [--tuning-job NAME ...] --out PATH
                      [--endpoint URL] [--region R] [--period SECONDS] [--definition NAME]
    amt curves import --csv FILE --objective METRIC --objective-type Maximize|Minimize
                      --out PATH
    amt curves list [SET ...]

`import` reads finished training jobs through the SageMaker and CloudWatch APIs (our emulator
with `--endpoint`, AWS with the caller's own credentials and region otherwise) or from an
analytics CSV (`import_csv` says its shape), and writes `PATH.json` and `PATH.csv.gz`;
`amt simulate SPEC --curves PATH` replays them. `list` prints, for the bundled sets or the
sets named, the runs and the replays' error on runs they did not see (`fidelity`: measured
at import and kept in the manifest, the bundled sets' too; `--recompute` measures again).
A tuning job with several training job definitions is imported one definition at a time
(`--definition NAME`): a curve set covers one search space and one set of static values.
"""

from __future__ import annotations

import argparse
import csv
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from emulator.clock import SystemClock
from emulator.simulator.curves import CurveSet, NoRecordedCurve, available_sets, load_set
from emulator.simulator.fidelity import describe, measured
from emulator.simulator.import_api import read_tuning_jobs
from emulator.simulator.import_csv import read_csv
from emulator.simulator.importer import (
    CurveImportError,
    ImportedSet,
    Objective,
    build_set,
    inferred_space,
    write_imported,
)

Parser = argparse.ArgumentParser


def add_curves_parser(sub: argparse._SubParsersAction[Parser]) -> None:
    """Register `curves` (with `import` and `list`) on `amt`'s subcommands."""
    curves = sub.add_parser("curves", help="import curve sets from real runs; list them")
    actions = curves.add_subparsers(dest="curves_command", required=True)
    importing = actions.add_parser("import", help="a curve set from finished training jobs")
    source = importing.add_mutually_exclusive_group(required=True)
    source.add_argument("--tuning-job", action="append", metavar="NAME", help="repeatable")
    source.add_argument("--csv", type=Path, metavar="FILE", help="an analytics CSV")
    importing.add_argument("--out", type=Path, required=True, help="PATH[.json] to write")
    importing.add_argument("--endpoint", default=None, help="default: AWS (or AWS_ENDPOINT_URL)")
    importing.add_argument("--region", default=None)
    importing.add_argument(
        "--period",
        type=int,
        default=None,
        metavar="SECONDS",
        help="CloudWatch period (default: the shortest it answers for the job's age)",
    )
    importing.add_argument(
        "--definition",
        metavar="NAME",
        help="of tuning jobs with several training job definitions: the one to import",
    )
    importing.add_argument("--objective", metavar="METRIC", help="with --csv: the objective")
    importing.add_argument("--objective-type", choices=("Maximize", "Minimize"))
    listing = actions.add_parser("list", help="curve sets: size and replay error")
    listing.add_argument("sets", nargs="*", help="names or paths (default: the bundled sets)")
    listing.add_argument(
        "--recompute", action="store_true", help="measure again what an import stored"
    )


def curves(args: argparse.Namespace) -> int:
    """Run `amt curves ...`; the exit status."""
    if args.curves_command == "list":
        return _list(args.sets or available_sets(), recompute=args.recompute)
    try:
        imported = _with_replay_error(_from_csv(args) if args.csv else _from_api(args))
        path = write_imported(imported, args.out)
    except (
        CurveImportError,
        OSError,
        UnicodeDecodeError,
        csv.Error,
        BotoCoreError,
        ClientError,
    ) as error:
        # AWS's errors as AWS sent them: "An error occurred (ResourceNotFound) when ..."
        print(f"amt curves import: {error}", file=sys.stderr)
        return 2
    print(f"{path}\t{len(imported.runs)} runs")
    for job, why in imported.skipped.items():
        print(f"skipped {job}: {why}")
    for job, count in imported.averaged.items():
        print(
            f"warning: {job}: {count} points average several of one CloudWatch period "
            "(epochs shorter than the period): its curve has fewer, averaged epochs"
        )
    return _list([str(path)])


def _from_api(args: argparse.Namespace) -> ImportedSet:
    session = boto3.Session(region_name=args.region)
    keys: dict[str, Any] = {}
    if args.endpoint and session.get_credentials() is None:
        keys = {"aws_access_key_id": "amt-cli", "aws_secret_access_key": "amt-cli"}
    region = session.region_name or "us-east-1"
    sagemaker = session.client("sagemaker", endpoint_url=args.endpoint, region_name=region, **keys)
    cloudwatch = session.client(
        "cloudwatch", endpoint_url=args.endpoint, region_name=region, **keys
    )
    jobs, objective, space, source = read_tuning_jobs(
        sagemaker,
        cloudwatch,
        args.tuning_job,
        now=SystemClock().now(),
        period=args.period,
        definition_name=args.definition,
    )
    source = {**source, "endpoint": args.endpoint or "aws", "region": region}
    return build_set(jobs, objective, space, source)


def _from_csv(args: argparse.Namespace) -> ImportedSet:
    if not args.objective or not args.objective_type:
        raise CurveImportError("--csv needs --objective METRIC and --objective-type")
    jobs = read_csv(args.csv, args.objective)
    objective = Objective(args.objective, args.objective_type)
    return build_set(jobs, objective, inferred_space(jobs), {"csv": args.csv.name})


def _with_replay_error(imported: ImportedSet) -> ImportedSet:
    """The set with its replay error measured once, in its manifest (none under three runs)."""
    curve_set = CurveSet("imported", imported.manifest, imported.runs)
    try:
        error = measured(curve_set)
    except (NoRecordedCurve, KeyError, ValueError):
        return imported
    return replace(imported, manifest={**imported.manifest, "replay_error": error})


def _list(sets: list[str], *, recompute: bool = False) -> int:
    status = 0
    for name in sets:
        try:
            curve_set = load_set(name)
        except KeyError as error:
            print(f"amt curves list: {error.args[0]}", file=sys.stderr)
            status = 2
            continue
        try:
            fidelity = describe(measured(curve_set, recompute=recompute))
        except (NoRecordedCurve, KeyError, ValueError) as error:
            fidelity = f"replay error unknown ({error})"
        print(f"{name}\t{len(curve_set.runs)} runs\t{fidelity}")
    return status
