"""Commands that ask a model for new data: they journal as they go and resume after a kill."""

from __future__ import annotations

from curate import cli_support
from curate.cli_config import config_command
from curate.commands.options import (Input, JournalOutput, JournalRejects, Map, SeedsAlias, SeedsInput, finish,
                                     seed_file)
from curate.formats import parse_mapping
from curate.generate.backtranslate import BacktranslateConfig
from curate.generate.evol_instruct import EvolConfig
from curate.generate.respond import RespondConfig
from curate.generate.revise import ReviseConfig
from curate.generate.self_instruct import SelfInstructConfig

app = cli_support.command_app()


@config_command(app, EvolConfig, "evol")
def evol(config: EvolConfig, output: JournalOutput, input: SeedsInput = None, rejects: JournalRejects = None,
         seeds: SeedsAlias = None) -> None:
    """Evol-Instruct (WizardLM): evolve seed instructions in depth and breadth over --rounds rounds.

    Eliminated evolutions (equal to their parent, a short 'sorry' answer, an answer of only stop
    words, copied template words) go to --rejects with their rule; the output holds the seeds and
    every surviving evolution, answered, with meta.evol = {root, parent, round, operation}.

    Endpoint: --base-url (or OPENAI_BASE_URL) for vLLM's server, OpenAI or any compatible
    server; without one, the model runs in this process with transformers.
    """
    from curate.generate.evol_instruct import evol_instruct

    finish(evol_instruct(seed_file(input, seeds), output, config, rejects), config)


@config_command(app, SelfInstructConfig, "self-instruct")
def self_instruct(config: SelfInstructConfig, output: JournalOutput, input: SeedsInput = None,
                  rejects: JournalRejects = None, seeds: SeedsAlias = None) -> None:
    """Self-Instruct: grow a pool of new tasks from seeds, then write instances for each.

    Each request shows 6 seed and 2 machine-written tasks; new tasks pass word-count, blacklist,
    punctuation and ROUGE-L novelty filters (dropped ones go to --rejects with the reason).
    Classification tasks get instances output-first, others input-first.
    """
    from curate.generate.self_instruct import self_instruct as run

    finish(run(seed_file(input, seeds), output, config, rejects), config)


@config_command(app, RespondConfig, "respond")
def respond(config: RespondConfig, input: Input, output: JournalOutput, rejects: JournalRejects = None,
            map: Map = None) -> None:
    """Answer each instruction (the record's output); --n K keeps K candidates in meta.responses."""
    from curate.generate.respond import respond as run

    finish(run(input, output, config, rejects, mapping=parse_mapping(map)), config)


@config_command(app, BacktranslateConfig, "backtranslate")
def backtranslate(config: BacktranslateConfig, input: Input, output: JournalOutput,
                  rejects: JournalRejects = None) -> None:
    """Instruction backtranslation (Humpback): the model writes, for each unlabeled document, the
    instruction it answers; the document (trimmed on a paragraph boundary) becomes the output.
    Self-curate the result with curate judge."""
    from curate.generate.backtranslate import backtranslate as run

    finish(run(input, output, config, rejects), config)


@config_command(app, ReviseConfig, "revise")
def revise(config: ReviseConfig, input: Input, output: JournalOutput, rejects: JournalRejects = None,
           map: Map = None) -> None:
    """Teacher revision: a teacher model improves each answer; the revision becomes chosen and the
    original rejected, unless the judge scores the revision no higher (dropped: not_better)."""
    from curate.generate.revise import revise as run

    finish(run(input, output, config, rejects, mapping=parse_mapping(map)), config)
