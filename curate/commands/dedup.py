"""`curate dedup`, alone in its module: a run imports its own config and nothing else's."""

from __future__ import annotations

from curate import cli_support
from curate.cli_config import config_command
from curate.commands.options import Input, Map, Output, Rejects
from curate.filters.dedup import DedupConfig
from curate.formats import parse_mapping

app = cli_support.command_app()


@config_command(app, DedupConfig, "dedup")
def dedup(config: DedupConfig, input: Input, output: Output, rejects: Rejects = None, map: Map = None) -> None:
    """Remove exact duplicates (after NFKC, case and whitespace normalisation) and MinHash LSH
    near duplicates (Jaccard of word 5-gram sets, or character 5-grams for Chinese/Japanese),
    keeping one record per cluster; cluster id and size go to meta.dedup.

    The input is read twice; the sketches (~1.3 KB a record) wait on disk in a folder beside the
    output (--work-dir), so memory stays at ~40 bytes a record. With --against EVAL.jsonl it
    decontaminates instead: records matching any evaluation record go to --rejects as
    contaminated (--match exact, ngram or minhash)."""
    from curate.filters.dedup import dedup as run

    cli_support.show(run(input, output, config, rejects, parse_mapping(map)))
