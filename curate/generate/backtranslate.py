"""`curate backtranslate`: instructions for unlabeled documents (Humpback's self-augmentation).

For each document the model writes the instruction it would be a good answer to; the record
is (instruction, output = the document, trimmed on a paragraph boundary to --max-output-chars).
Self-curate the result with `curate judge`, as the paper does.

Memory: the ids of the input (read once up front to check every row and count them) and
the keys of finished work in the journals, never whole records; at most --concurrency
records are in flight (curate/runner.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import Field

from curate.errors import DataError
from curate.runner import ReadTwice, own_client, run_per_record
from curate.io import iter_rows
from curate.llm_config import LLMConfig
from curate.prompts import render
from curate.records import Example, content_id
from curate.summary import Summary

if TYPE_CHECKING:  # the client loads with the first request, not with the stage's options (--help)
    from curate.llm import LLM


class BacktranslateConfig(LLMConfig):
    field: str = Field("text", description="The field of each input row that holds the document.")
    max_output_chars: int = Field(4000, ge=100, description="Trim longer documents to this, on a paragraph boundary.")
    max_tokens: int = Field(256, ge=1, description="Most tokens per instruction.")
    lang: str = Field("en", description="Prompt language: en, or zh for the Chinese prompt.")
    prompts: Path | None = Field(None, description="Directory of your own templates, searched before ours.")


def trim(text: str, limit: int) -> tuple[str, bool]:
    """The text cut to `limit` characters at the last paragraph break inside it (else a line
    break, a sentence end or a space, in that order), and whether anything was cut."""
    text = text.strip()
    if len(text) <= limit:
        return text, False
    window = text[:limit]
    for boundary, keep in (("\n\n", 0), ("\n", 0), (". ", 1), ("。", 1), (" ", 0)):
        cut = window.rfind(boundary)
        if cut > limit // 3:  # not so early that most of the window is lost
            return window[: cut + keep].rstrip(), True
    return window.rstrip(), True


def documents(path: str | Path, field: str) -> ReadTwice[Example]:
    """Each document as a record to be given an instruction (id: the document's hash)."""
    def read() -> Iterator[Example]:
        for where, row in iter_rows(path):
            text = row.get(field)
            if not isinstance(text, str) or not text.strip():
                raise DataError(f"{where}: field '{field}': a document needs non-empty text (choose it with --field)")
            doc_id = content_id("document", text.strip())
            yield Example(id=doc_id, instruction="", output=text.strip(), meta={"document": doc_id})

    return ReadTwice(path, read)


async def backtranslated(doc: Example, llm: LLM, config: BacktranslateConfig) -> tuple[Example, str | None]:
    output, trimmed = trim(doc.output, config.max_output_chars)
    prompt = render("backtranslate/instruction", config.prompts, config.lang, document=output)
    reply = await llm.chat([{"role": "user", "content": prompt}], config.sampling())
    instruction = reply.text.strip().strip('"').strip()
    info = {"source": doc.id, "trimmed": trimmed, "chars": len(doc.output)}
    # two documents may well be given the same instruction: the id covers the document too
    record = Example(id=content_id("backtranslate", instruction, doc.id), instruction=instruction, output=output,
                     meta={"backtranslate": info})
    if not instruction or reply.truncated:
        return Example(id=doc.id, instruction=instruction, output=output, meta={"backtranslate": info}), \
            "no_instruction"
    return record, None


def backtranslate(docs: str | Path, output: str | Path, config: BacktranslateConfig | None = None,
                  rejects: str | Path | None = None, llm: LLM | None = None) -> Summary:
    """Write an (instruction, document) record per document; resumable by document.

    Memory: the documents in flight, and the keys of finished ones (the input streams)."""
    config = config or BacktranslateConfig()
    if config.executor == "ray":
        from curate.ray_stages import run_sharded

        return run_sharded("backtranslate", backtranslate, docs, output, config, rejects, llm)
    pending = documents(docs, config.field)
    with own_client(llm, config) as llm:
        return run_per_record("backtranslate", output, rejects, llm, pending,
                              lambda doc: backtranslated(doc, llm, config), input=docs, config=config,
                              output_key=lambda row: row["meta"]["backtranslate"]["source"])
