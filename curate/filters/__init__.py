"""Curating stages: dedup, heuristic quality filters, LLM self-curation."""
