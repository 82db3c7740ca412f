"""The InpaintBench generator: sources -> object selection -> edit plan -> inpainting backends -> Parquet shards."""
