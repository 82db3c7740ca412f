"""``inpaintbench audit --data DIR``: can a classifier tell pristine from inpainted samples by their image FILES alone?

DIR is a generator output (``manifest.json``: one config "default" over its shards) or a release folder
(``release.json``: each config's files, every split). Prints the out-of-fold ROC AUC per config and the most
predictive file features (``builder/release/audit.py`` says how and why). Exit 0 when no config is above the
bound, 1 when one is, 2 on bad input (the message names the file).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from inpaintbench.cli_grammar import add_data_argument
from inpaintbench.folders import MANIFEST_NAME, RELEASE_SUMMARY_NAME, folder_kind


def register(subparsers) -> None:
    from .release.audit import DEFAULT_AUC_BOUND, DEFAULT_FOLDS

    parser = subparsers.add_parser(
        "audit",
        help="file-level shortcut audit: out-of-fold AUC of a classifier on the image files' properties (never pixels)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_data_argument(parser, "generator output (has manifest.json) or release folder (has release.json)")
    parser.add_argument(
        "--bound", type=float, default=DEFAULT_AUC_BOUND, help=f"highest acceptable AUC (default {DEFAULT_AUC_BOUND})"
    )
    parser.add_argument(
        "--folds", type=int, default=DEFAULT_FOLDS, help=f"cross-validation folds (default {DEFAULT_FOLDS})"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the fold assignment and the classifier")
    parser.add_argument("--json", action="store_true", help="print the whole audit result as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from .release.audit import AuditInputError, audit_generator_output, audit_release_dir
    from .release.inputs import GeneratorOutputError

    directory = Path(args.data)
    if not 0.5 <= args.bound <= 1.0 or args.folds < 2:
        print(f"inpaintbench audit: --bound {args.bound} must lie in [0.5, 1] and --folds {args.folds} be at least 2",
              file=sys.stderr)
        return 2
    try:
        folder = folder_kind(directory)
        if folder == "release":
            kind, result = "release", audit_release_dir(directory, args.bound, args.folds, args.seed)
        elif folder == "run":
            kind, result = "generator output", audit_generator_output(directory, args.bound, args.folds, args.seed)
        else:
            print(f"inpaintbench audit: {directory}: neither a release folder ({RELEASE_SUMMARY_NAME}) nor a "
                  f"generator output ({MANIFEST_NAME})", file=sys.stderr)
            return 2
    except (AuditInputError, GeneratorOutputError) as error:
        print(f"inpaintbench audit: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(report(result, f"{directory} ({kind})"))
    return 0 if result["passed"] else 1


def report(result: dict, what: str) -> str:
    """The audit as a few lines of text."""
    lines = [f"shortcut audit of {what}: {result['classifier']}; {result['folds']} folds at most; "
             f"bound AUC {result['bound']:.2f}"]
    for name, entry in result["configs"].items():
        if entry["auc"] is None:
            lines.append(f"  {name}: {entry['n']} samples, {entry['reason']}")
            continue
        z = entry.get("z")
        if entry["auc"] <= result["bound"]:
            verdict = "within the bound"
        elif z is not None and z < result.get("min_z", 0):
            verdict = f"above the bound but within chance ({z:.1f} sds above 0.5, fails from {result['min_z']:g})"
        else:
            verdict = "ABOVE THE BOUND" + (f" ({z:.1f} chance sds above 0.5)" if z is not None else "")
        top = ", ".join(entry["top_features"]) or "none (no feature used)"
        lines.append(f"  {name}: AUC {entry['auc']:.3f} over {entry['n']} samples, {verdict}; top features: {top}")
        if entry.get("noncanonical") is not None:
            counts = entry["noncanonical"]
            lines.append(f"    files not the canonical encoding of their pixels: {counts['pristine']} pristine, "
                         f"{counts['inpainted']} inpainted")
        compressibility = (entry.get("pixel_compressibility") or {}).get("auc")
        if compressibility is not None:
            lines.append(f"    pixel compressibility (sizes alone; a property of the pixels, never a failure): "
                         f"AUC {compressibility:.3f}")
    lines.append("passed: the image files do not give the label away beyond the bound" if result["passed"] else
                 "FAILED: the image files give the label away (a file-level shortcut); see the top features")
    return "\n".join(lines)
