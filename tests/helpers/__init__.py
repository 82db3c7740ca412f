"""What more than one test file (or a benchmark) needs and no test file owns: builders of small inputs in the
project's real formats, a local Hub server and its clients, tiny random-weight models. No tests here: every test
lives in a tests/test_*.py file; fixtures the tests share are in tests/conftest.py.

- generate_fixtures: a small synthetic COCO-format photo set, a generator config on it, a run's files and shards
- manifests: a real manifest for hand-made shards
- shard_rows: one sample row of the schema, noise pixels
- release_rows: the release tests' rows, generator output folder and split config
- harness_rows: the harness tests' rows, shards, oracle maps and a misbehaving detector
- space_fixtures: the Space tests' shards, release folder, leaderboard results and a decompression bomb
- ports: a free TCP port
- hub_server: a local Hugging Face Hub (HTTP API, git refs, LFS) for the real clients
- hub_client: running those clients in a fresh interpreter against it
- inpaint_requests: a photo, a box mask and an inpainting request
- detector_data: synthetic training data for the trained detectors and a tiny real build
- embedded_objects: the embedded photos with their annotated object masks
- tiny_pipelines: tiny random-weight diffusers pipelines, one per family (``python -m tests.helpers.tiny_pipelines``)
- tiny_vlm: a tiny random-weight LLaVA folder for the VLM judge
- registries: a plug-in registered for one test only
"""
