"""Ingestion: loaders (per format), encoding detection, structure-aware splitter, incremental pipeline."""

from genloom.ingest.errors import LoadError
from genloom.ingest.pipeline import FileResult, IngestReport, Ingestor

__all__ = ["FileResult", "IngestReport", "Ingestor", "LoadError"]
