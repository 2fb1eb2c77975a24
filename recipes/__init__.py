"""Runnable scripts that compose curate's stages; each has main() and a "Run as:" docstring."""
