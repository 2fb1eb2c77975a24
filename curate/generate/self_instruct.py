"""Self-Instruct (Wang et al. 2022): grow a task pool from seeds, then write instances.

Each request shows 8 tasks: 6 sampled from the seeds and 2 from machine-written ones once
there are any. The numbered list that comes back is parsed (a truncated last item is
dropped) and each new task must pass: 3 < words <= 150, none of the blacklisted words,
not "Write a program...", no leading punctuation or unprintable character, and ROUGE-L F <= 0.7
against every task already in the pool. A kept task is classified (few-shot Yes/No), then
given instances: output-first for classification tasks (label, then an input for it),
input-first otherwise; instances go through the original code's filters (screen_instances).
Seeds are prompt material only; the output holds the generated instances.

meta.self_instruct.rouge_bound: no pool task has a higher ROUGE-L F with the task. Where it
exceeds the threshold it is the exact maximum (those scores are computed exactly, and the task
is dropped as rouge_similar); below it, it is the tightest bound known without scoring every
pool task (curate/generate/novelty.py).

Units of work, for resuming: a task (done once its instances, or `no_instances`, are written;
a task whose instance request failed is asked again, not replaced), a dropped candidate (its
line is written once, even when a resumed run replays the request from the cache) and a failed
generation request (settled once the pool is full). Memory: the pool and its ROUGE index.
"""

from __future__ import annotations

import random
import re
import string
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field

from curate.runner import StageRun, own_client, read_journal
from curate.generate.seeds import load_seeds
from curate.text import has_blacklisted_word, word_count
from curate.llm_types import RequestFailed
from curate.llm_config import LLMConfig
from curate.prompts import render
from curate.records import Example, content_id, normalize_text
from curate.summary import Summary

if TYPE_CHECKING:  # the client loads with the first request, not with the stage's options (--help)
    from curate.llm import LLM

_NUMBERED = re.compile(r"^\s*\d+\s*[.)、]\s*", re.MULTILINE)
_FIELD = re.compile(r"^[ \t]*(input|output|class label|输入|输出|类别标签)[ \t]*[:：][ \t]*",
                    re.MULTILINE | re.IGNORECASE)
_EXAMPLE_HEADER = re.compile(r"^[ \t]*(example|示例)[ \t]*\d+[ \t]*[:：]?[ \t]*$", re.MULTILINE | re.IGNORECASE)
_NEXT_TASK = re.compile(r"^[ \t]*task[ \t]*:", re.MULTILINE | re.IGNORECASE)


class SelfInstructConfig(LLMConfig):
    num_instructions: int = Field(100, ge=1, description="Stop when the pool holds this many new tasks.")
    seed_examples: int = Field(6, ge=1, description="Seed tasks shown in each request.")
    machine_examples: int = Field(2, ge=0, description="Machine-written tasks shown in each request, once there are any.")
    new_per_request: int = Field(8, ge=1, description="New tasks asked for in each request.")
    rouge_threshold: float = Field(0.7, gt=0, le=1, description="A task with ROUGE-L F above this to any pool task is dropped.")
    max_instances: int = Field(5, ge=1, description="Instances kept per task.")
    max_barren: int = Field(50, ge=1, description="Stop early after this many requests in a row gave no new task "
                            "(the model keeps repeating the pool).")
    lang: str = Field("en", description="Prompt language: en, or zh for the Chinese prompts.")
    prompts: Path | None = Field(None, description="Directory of your own templates, searched before ours.")


def parse_tasks(text: str, truncated: bool, limit: int) -> list[str]:
    """Items of a numbered list; text before the first number continues the prompt's last number."""
    items = [" ".join(item.split()) for item in _NUMBERED.split(text)]
    if truncated and items:
        items = items[:-1]
    return [item for item in items if item][:limit]


# the original code drops tasks that start "Write a program": the model cannot run or check code
_WRITE_A_PROGRAM = re.compile(r"^(write a program|(编写|写)一个程序)", re.IGNORECASE)


def rejection_reason(task: str) -> str | None:
    """The filters of the paper and its code, by name."""
    words = word_count(task)
    if words <= 3:
        return "too_short"
    if words > 150:
        return "too_long"
    if has_blacklisted_word(task):
        return "blacklisted_word"
    if _WRITE_A_PROGRAM.match(task):
        return "write_a_program"
    if task[0] in string.punctuation:
        return "starts_with_punctuation"
    # The original drops every task whose first character is not ASCII, which would drop every
    # Chinese task; what that rule catches in English output (control and other unprintable
    # characters) is caught here without it.
    if not task[0].isprintable():
        return "starts_unprintable"
    return None


# the first yes/no word of the reply, in either language; 不是 ("is not") before 是 ("is")
_YES_NO = re.compile(r"(?<![a-z])(yes|no|not)(?![a-z])|不是|不|否|是")


def parse_is_classification(text: str) -> bool:
    match = _YES_NO.search(text.lower())
    return match is not None and match.group(0) in ("yes", "是")


def screen_instances(pairs: list[tuple[str, str]], classification: bool) -> tuple[list[tuple[str, str]],
                                                                                  list[tuple[str, str, str]]]:
    """The original code's instance filters: (kept pairs, dropped (input, output, reason)).

    - input_equals_output: the output only repeats the input;
    - ends_with_colon: the input or output ends with a colon, the mark of a cut-off generation;
    - conflicting_outputs: one non-empty input with different outputs (every such instance goes:
      which output is right is unknown);
    - label_without_input: a class label the reply names but gives no input for, while its
      other labels have inputs (the label is not among the outputs of any real instance).
    """
    stripped = [(input_.strip(), output.strip()) for input_, output in pairs]
    outputs: dict[str, set[str]] = {}
    for input_, output in stripped:
        if input_:
            outputs.setdefault(input_, set()).add(output)
    any_input = bool(outputs)
    reasons: dict[int, str] = {}
    for number, (input_, output) in enumerate(stripped):
        if input_ == output:
            reasons[number] = "input_equals_output"
        elif input_.endswith((":", "：")) or output.endswith((":", "：")):
            reasons[number] = "ends_with_colon"
        elif input_ and len(outputs[input_]) > 1:
            reasons[number] = "conflicting_outputs"
        elif classification and any_input and not input_:
            reasons[number] = "label_without_input"
    kept = [pair for number, pair in enumerate(pairs) if number not in reasons]
    return kept, [(*pairs[number], reason) for number, reason in reasons.items()]


def parse_instances(text: str, output_first: bool, truncated: bool) -> list[tuple[str, str]]:
    """(input, output) pairs from `Input:/Output:` or `Class label:/Input:` blocks."""
    next_task = _NEXT_TASK.search(text)  # a model that carries on the few-shot list
    text = _EXAMPLE_HEADER.sub("", text[: next_task.start()] if next_task else text)
    marks = list(_FIELD.finditer(text))
    fields = [(m.group(1).lower(), text[m.end(): nxt.start() if nxt else len(text)].strip())
              for m, nxt in zip(marks, [*marks[1:], None])]
    pairs: list[tuple[str, str]] = []
    pending = ""
    for name, value in fields:
        if name in ("class label", "类别标签"):
            pairs.append(("", value))  # the input, if any, follows its label
        elif name in ("input", "输入"):
            if output_first and pairs and not pairs[-1][0]:
                pairs[-1] = (value, pairs[-1][1])
            else:
                pending = value
        elif not output_first:
            pairs.append((pending, value))
            pending = ""
    if truncated and pairs:
        pairs = pairs[:-1]
    return list(dict.fromkeys(pair for pair in pairs if pair[1]))


class TaskPool:
    """Seeds, accepted machine tasks and the ROUGE index that guards novelty."""

    def __init__(self, seeds: list[str], machine: list[str], threshold: float):
        self.seeds = seeds
        self.machine = list(machine)
        from curate.generate.novelty import RougeIndex  # rouge_score (and nltk) load only when needed

        self.index = RougeIndex(threshold)
        for task in [*seeds, *machine]:
            self.index.add(task)
        self.known = {normalize_text(task) for task in [*seeds, *machine]}

    def prompt_tasks(self, rng: random.Random, config: SelfInstructConfig) -> list[str]:
        machine = rng.sample(self.machine, min(config.machine_examples, len(self.machine)))
        want = config.seed_examples + config.machine_examples - len(machine)
        seeds = rng.sample(self.seeds, min(want, len(self.seeds)))
        tasks = seeds + machine
        rng.shuffle(tasks)
        return tasks


class SelfInstruct:
    """Requests new tasks until the pool is full, and writes each kept task's instances."""

    def __init__(self, llm: LLM, config: SelfInstructConfig, run: StageRun, pool: TaskPool):
        self.llm, self.config, self.run, self.pool = llm, config, run, pool
        self.requests = 0
        self.failures_in_a_row = 0
        self.barren_in_a_row = 0

    def _chat(self, name: str, **values: Any) -> list[dict[str, str]]:
        return [{"role": "user", "content": render(name, self.config.prompts, self.config.lang, **values)}]

    def _wanted(self) -> int:
        return self.config.num_instructions - len(self.pool.machine)

    async def run_all(self) -> None:
        import asyncio  # here, not at the top: a stage's --help loads no event loop

        generating: set[asyncio.Task[Any]] = set()
        writing: set[asyncio.Task[Any]] = set()
        while True:
            # about half of the asked-for tasks survive the filters; do not overshoot by much
            limit = min(self.llm.width, -(-self._wanted() * 2 // self.config.new_per_request))
            while self._wanted() > 0 and len(generating) < max(limit, 1) and not self._stalled():
                generating.add(asyncio.ensure_future(self._generate(self.requests)))
                self.requests += 1
            if not generating and not writing:
                return
            done, _ = await asyncio.wait(generating | writing, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                (generating if task in generating else writing).discard(task)
                result = task.result()  # a bug surfaces here; request failures are handled inside
                for instruction, info in result or []:
                    writing.add(asyncio.ensure_future(self._write_instances(instruction, info)))
            if self._wanted() <= 0 or self._stalled():
                for task in generating:
                    task.cancel()
                generating.clear()

    def _stalled(self) -> bool:
        return self.barren_in_a_row >= self.config.max_barren

    async def _generate(self, number: int) -> list[tuple[str, dict[str, Any]]]:
        rng = random.Random(f"{self.config.base_seed}:{number}")
        shown = self.pool.prompt_tasks(rng, self.config)
        messages = self._chat("self_instruct/generate", tasks=shown, num_new=self.config.new_per_request)
        request = content_id("self-instruct request", messages, self.config.base_seed + number)
        try:
            reply = await self.llm.chat(messages, self.config.sampling(seed=self.config.base_seed + number))
        except RequestFailed as error:
            failed = Example(instruction=f"(self-instruct generation request {number})",
                             meta={"self_instruct": {"request": number}})
            self.run.fail(failed, f"generate:{error.reason}", f"request:{request}", advance=0, message=error.detail)
            self.failures_in_a_row += 1
            if self.failures_in_a_row > max(10, self.llm.limit.limit):
                raise RequestFailed(error.reason, f"{self.failures_in_a_row} generation requests failed in a row; "
                                    f"last: {error.detail}") from None
            return []
        self.failures_in_a_row = 0
        accepted = []
        for position, instruction in enumerate(parse_tasks(reply.text, reply.truncated, self.config.new_per_request)):
            if normalize_text(instruction) in self.pool.known:
                continue  # a replayed (cached) request after a resume, or a seed echoed back
            candidate = f"candidate:{request}:{position}"
            if self.run.is_done(candidate):
                continue  # dropped by an earlier run from this very reply (replayed from the cache)
            info = {"request": number}
            reason = rejection_reason(instruction)
            if reason is None:
                similar = self.pool.index.most_similar(instruction)
                info |= {"rouge_bound": round(similar.bound, 4),
                         "most_similar": self.pool.index.texts[similar.index] if similar.index is not None else None}
                reason = "rouge_similar" if similar.score > self.config.rouge_threshold else None
            if reason or self._wanted() <= 0:
                self.run.drop(Example(instruction=instruction, meta={"self_instruct": info}),
                              reason or "pool_full", candidate, advance=0)
                continue
            self.pool.machine.append(instruction)
            self.pool.index.add(instruction)
            self.pool.known.add(normalize_text(instruction))
            accepted.append((instruction, info))
        self.barren_in_a_row = 0 if accepted else self.barren_in_a_row + 1
        return accepted

    async def _write_instances(self, instruction: str, info: dict[str, Any]) -> None:
        task = Example(instruction=instruction, meta={"self_instruct": info})
        try:
            label = await self.llm.chat(self._chat("self_instruct/is_classification", task=instruction),
                                        self.config.sampling(temperature=0.0, max_tokens=8))
            classification = parse_is_classification(label.text)
            template = "instances_output_first" if classification else "instances_input_first"
            reply = await self.llm.chat(self._chat(f"self_instruct/{template}", task=instruction), self.config.sampling())
        except RequestFailed as error:
            self.run.fail(task, error.reason, task_key(instruction), message=error.detail)
            return
        info = {**info, "is_classification": classification}
        pairs, screened_out = screen_instances(parse_instances(reply.text, classification, reply.truncated),
                                               classification)
        pairs = pairs[: self.config.max_instances]
        for number, (input_, output) in enumerate(pairs):  # kept ones first: the task is done with the first
            record = Example(instruction=instruction, input=input_, output=output,
                             meta={"self_instruct": {**info, "instance": number}})
            self.run.keep(record, task_key(instruction), advance=1 if number == 0 else 0)
        for input_, output, reason in screened_out:
            self.run.drop(Example(instruction=instruction, input=input_, output=output, meta={"self_instruct": info}),
                          reason, task_key(instruction), advance=0)
        if not pairs:
            self.run.drop(task.model_copy(update={"meta": {"self_instruct": info}}), "no_instances",
                          task_key(instruction))


def task_key(instruction: str) -> str:
    return "task:" + content_id("self-instruct task", normalize_text(instruction))


def instance_key(row: dict[str, Any]) -> str | None:
    return task_key(row["instruction"]) if "self_instruct" in row.get("meta", {}) else None


def earlier_tasks(run: StageRun) -> tuple[list[str], list[tuple[str, dict[str, Any]]]]:
    """Tasks an earlier run accepted, in order: all of them (with instances, with none, or whose
    instance request failed), and those whose instances must be asked for again."""
    tasks = [row["instruction"] for row in read_journal(run.journal.output_path) if instance_key(row)]
    retry: dict[str, tuple[str, dict[str, Any]]] = {}
    failed = run.journal.failed_keys()
    for row in read_journal(run.journal.rejects_path):
        key = run.journal.reject_key(row)
        if key.startswith("task:"):
            tasks.append(row["instruction"])
            if key in failed:
                info = {k: v for k, v in row.get("meta", {}).get("self_instruct", {}).items() if k != "instance"}
                retry[key] = (row["instruction"], info)
    return list(dict.fromkeys(tasks)), list(retry.values())


def self_instruct(seeds: str | Path, output: str | Path, config: SelfInstructConfig | None = None,
                  rejects: str | Path | None = None, llm: LLM | None = None) -> Summary:
    """Grow `config.num_instructions` new tasks from the seeds and write their instances."""
    config = config or SelfInstructConfig()
    seed_tasks = [seed.user_message() for seed in load_seeds(seeds)]
    with own_client(llm, config) as llm, StageRun("self-instruct", output, rejects, total=config.num_instructions,
                                                  llm=llm, input=seeds, config=config,
                                                  output_key=instance_key) as run:
        done, retry = earlier_tasks(run)
        pool = TaskPool(seed_tasks, done, config.rouge_threshold)
        run.resumed(len(done) - len(retry))
        generator = SelfInstruct(llm, config, run, pool)

        async def main() -> None:
            import asyncio

            await asyncio.gather(*(generator._write_instances(task, info) for task, info in retry))
            await generator.run_all()

        if retry or generator._wanted() > 0:
            llm.run(main())
        if generator._wanted() <= 0:  # the pool is full: failed generation requests cost nothing now
            for key in run.journal.failed_keys():
                if key.startswith("request:"):
                    run.journal.settle(key)
        if generator._stalled():
            # the summary table shows it, and the command says it in its last line
            run.summary.stopped = (f"{config.max_barren} requests in a row gave no new task; the pool has "
                                   f"{len(pool.machine)} of {config.num_instructions}")
    return run.summary
