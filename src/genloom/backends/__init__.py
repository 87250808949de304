"""Pluggable backends, one folder per seam (llm, later embed and store), each chosen by a spec string."""
