"""Ingestion: loaders (per format), encoding detection, structure-aware splitter, incremental pipeline."""

from genloom.ingest.errors import LoadError
from genloom.ingest.pipeline import FileResult, Ingestor, IngestReport

__all__ = ["FileResult", "IngestReport", "Ingestor", "LoadError"]
