"""InpaintBench evaluation harness: reduce predicted maps to per-image histograms, score them with fixed,
stated conventions, run submitted detectors in a sandbox, and merge results into a leaderboard."""
