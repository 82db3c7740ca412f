"""``inpaintbench regenerate SAMPLE_ID... --data DIR --out DIR``: make samples again from their recipes and compare.

Exit codes: 0 every sample came out bit-identical; 1 at least one differs (the report gives the pixel difference:
expected on another GPU or library version); 2 bad input (unknown id, not a run folder, no recipe).
"""

from __future__ import annotations

import argparse
import sys

from inpaintbench.cli_grammar import add_data_argument, add_renamed


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "regenerate", help="rebuild samples from their recipes and compare their pixels",
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n".join(__doc__.splitlines()[2:]),
    )
    parser.add_argument("sample_ids", nargs="+", metavar="SAMPLE_ID")
    add_data_argument(parser, "the run folder (`inpaintbench generate --out`)", refuse_positional=False)
    add_renamed(parser, {"--run": "--data DIR"})
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="where <id>.png (the regenerated image) and <id>.json (the report) go")
    parser.add_argument("--device", help="run on this device instead of the recorded one's kind (e.g. cpu, cuda)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from .models import ModelNotFound
    from .regenerate import RegenerateError, regenerate

    differing = 0
    for sample_id in args.sample_ids:
        try:
            report = regenerate(sample_id, args.data, args.out, device=args.device)
        except (RegenerateError, ModelNotFound) as error:
            print(f"inpaintbench regenerate: error: {error}", file=sys.stderr)
            return 2
        if report.identical:
            print(f"{sample_id}: identical (pixels sha256 {report.regenerated_pixels_sha256[:16]}, "
                  f"call of {len(report.call_members)})")
        else:
            differing += 1
            print(f"{sample_id}: DIFFERS: max |difference| {report.max_abs_difference}, "
                  f"{report.differing_pixel_fraction:.2%} of pixels, PSNR {report.psnr_db} dB")
        for line in report.environment_differences:
            print(f"  made elsewhere: {line}")
    return 1 if differing else 0
