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
    $IB evaluate --data runs/embedded --detector "$detector" --results-dir harness/results
done
# Robustness track: the same baselines on laundered images (one results file per spec, named after it).
for detector in ela noise; do
    $IB evaluate --data runs/embedded --detector "$detector" --results-dir harness/results --no-progress \
        --perturb jpeg:75,resize:0.5,resize:0.5+jpeg:75
done
# Deceptiveness scores (UGDA, default weight-free detector judge) go into the release and its card.
$IB assess --data runs/embedded --trials 8 --no-progress

# The release is kept (runs/, not committed): the trained baseline is fitted on its train split and every
# baseline scored on its test split, so the trained one is never scored on photos it was trained on.
release=runs/embedded_release/v0.1.0
rm -rf runs/embedded_release
$IB publish --version 0.1.0 --out "$release"
# The card lives at the repository root here; its plot goes to docs/img so the link resolves on GitHub too.
cp "$release/images/counts.png" docs/img/dataset_counts.png
sed 's#(images/counts.png)#(docs/img/dataset_counts.png)#' "$release/README.md" > dataset_card.md

# Trained baseline (docs/training.md): the per-pixel model, pristine share 0.5 (train_mix.py's pick). The model
# file stays in runs/; its sha256 and training data identity are in the results file.
rm -f harness/results/*__0.1.0__*.json
$IB train-detector --data "$release" --out runs/embedded_release/trained.joblib --pristine-ratio 0.5 --no-progress
# test: in-domain; test_ood_backend: generators the trained baseline never saw (NS and the learned inpainter),
# when the release has one (the 15 embedded photos leave few outside train: a seed may give it no sample).
splits=$(.venv/bin/python -c 'import json, sys; print(" ".join(s for s in ("test", "test_ood_backend") if s in json.load(open(sys.argv[1]))["configs"]["default"]["splits"]))' "$release/release.json")
for split in $splits; do
    for detector in ela noise; do
        $IB evaluate --data "$release" --split "$split" --detector "$detector" --results-dir harness/results --no-progress
    done
    $IB evaluate --data "$release" --split "$split" --detector trained --results-dir harness/results --no-progress \
        --detector-params '{"model": "runs/embedded_release/trained.joblib"}'
done
$IB leaderboard harness/results --out leaderboard --robustness-plot docs/img/robustness.png

$IB saor-report --no-progress
echo "refreshed: harness/results (run + release 0.1.0 test and test_ood_backend), leaderboard/, docs/img/robustness.png, dataset_card.md, docs/img/dataset_counts.png, benchmarks/results/saor_report.md"
