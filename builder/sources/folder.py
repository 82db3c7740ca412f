"""The "folder" source type (photos without annotations, segmented by a model): implemented in ``builder.saor``."""

from ..saor.folder_source import FolderSource
from .base import register_source_type

register_source_type("folder")(FolderSource)
