"""Generating stages: Self-Instruct, Evol-Instruct and responses, against any LLM backend."""
