"""Arguments every recipe shares: where the model is, and where the work goes."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any


def parser(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description.strip().splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--base-url", help="OpenAI-compatible endpoint, e.g. http://localhost:8000/v1 "
                        "(default: $OPENAI_BASE_URL, else the model runs in-process)")
    parser.add_argument("--model", help="model name on the server, or a local/Hub model for in-process runs")
    parser.add_argument("--work", type=Path, default=Path("out"), help="folder for every stage's output")
    parser.add_argument("--concurrency", type=int, default=64, help="requests in flight")
    return parser


def llm_options(args: argparse.Namespace) -> dict[str, Any]:
    """The LLM settings of every stage: one cache in the work folder, so a re-run asks nothing twice."""
    return {"base_url": args.base_url, "model": args.model, "concurrency": args.concurrency,
            "cache": args.work / "requests.sqlite"}


def run(main: Callable[[], Any]) -> None:
    """A recipe as a command: its result printed, or the stage's one-line error and exit code
    (2 for bad usage, 1 for bad data), as the curate commands fail."""
    from curate.errors import DataError, EndpointError, UsageError

    try:
        print(main())
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    except (DataError, EndpointError) as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(getattr(error, "exit_code", 1))
