#!/usr/bin/env bash
# Rebuild every committed artefact that is derived from the embedded build, in dependency order:
# the build itself (runs/embedded, not committed), the baselines' results and the leaderboard, its deceptiveness
# assessment (runs/embedded/assessments, not committed), the dataset card (+ its plot), and the SAOR report.
# Run after any change that alters generated samples.
set -euo pipefail
cd "$(dirname "$0")/.."
IB=.venv/bin/inpaintbench

rm -rf runs/embedded
$IB generate --no-progress
rm -f harness/results/*__run-*.json
for detector in ela noise; do
    $IB evaluate runs/embedded --detector "$detector" --results-dir harness/results
done
# Robustness track: the same baselines on laundered images (one results file per spec, named after it).
for detector in ela noise; do
    $IB evaluate runs/embedded --detector "$detector" --results-dir harness/results --no-progress \
        --perturb jpeg:75,resize:0.5,resize:0.5+jpeg:75
done
$IB leaderboard harness/results --out leaderboard --robustness-plot docs/img/robustness.png

# Deceptiveness scores (UGDA, default weight-free detector judge) go into the release and its card.
$IB assess --run runs/embedded --trials 8 --no-progress

release=$(mktemp -d)
$IB publish --version 0.1.0 --to "$release/v0.1.0"
# The card lives at the repository root here; its plot goes to docs/img so the link resolves on GitHub too.
cp "$release/v0.1.0/images/counts.png" docs/img/dataset_counts.png
sed 's#(images/counts.png)#(docs/img/dataset_counts.png)#' "$release/v0.1.0/README.md" > dataset_card.md
rm -rf "$release"

$IB saor-report --no-progress
echo "refreshed: harness/results, leaderboard/, docs/img/robustness.png, dataset_card.md, docs/img/dataset_counts.png, benchmarks/results/saor_report.md"
