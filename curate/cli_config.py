"""Commands derived from a stage's config model: one option per field, plus `--config FILE.yaml`.

The field's description is the option's help, so each setting is documented once. Values
come from the model's defaults, then the YAML file, then the flags actually given.
"""

from __future__ import annotations

import functools
import inspect
import types
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Callable, Literal, Optional, Union, get_args, get_origin

import typer
from pydantic import BaseModel, ValidationError

from curate import cli_support
from curate.errors import UsageError
from curate.io import ensure_distinct


def _option_type(annotation: Any) -> Any:
    """The type typer should parse a field as; lists, dicts and secrets arrive as strings."""
    if get_origin(annotation) in (Union, types.UnionType):
        annotation = next(arg for arg in get_args(annotation) if arg is not type(None))
    if get_origin(annotation) is Literal:
        choices = get_args(annotation)
        return Enum("Choice", {str(c): str(c) for c in choices}, type=str)  # type: ignore[misc]
    if annotation in (int, float, str, bool, Path):
        return annotation
    return str  # SecretStr, dict[...] and the like: the model's validators parse the text


def config_options(config_cls: type[BaseModel]) -> list[inspect.Parameter]:
    params = []
    llm_fields = _llm_field_names() if _asks_a_model(config_cls) else frozenset()
    for name, field in config_cls.model_fields.items():
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        kind = str if extra.get("cli_text") else _option_type(field.annotation)  # e.g. --seed 3 or --seed none
        if extra.get("cli_repeat"):
            kind = list[str]  # a flag given once per value: --reward-model A --reward-model B:0.5
        default = "uniform" if field.default_factory else field.default
        show = False if kind is bool or default is None or extra.get("cli_repeat") or field.is_required() \
            else str(default)
        flags = extra.get("cli_flags") or [f"--{name.replace('_', '-')}"]  # e.g. ["--format", "-f"]
        if kind is bool and not name.startswith("no_") and "cli_flags" not in extra:
            flags = [f"{flags[0]}/--no-{name.replace('_', '-')}"]  # a switch that is on by default must turn off
            show = "on" if default else "off"
        described = (field.description or "") + (" Required (here or in --config)." if field.is_required() else "")
        option = typer.Option(*flags, help=described, show_default=show, metavar=extra.get("cli_metavar"),
                              rich_help_panel="Model and sampling" if name in llm_fields else "Stage")
        params.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None,
                                        annotation=Annotated[Optional[kind], option]))
    return params


def load_config(config_cls: type[BaseModel], config_file: Path | None, given: dict[str, Any]) -> BaseModel:
    values: dict[str, Any] = {}
    from_file: set[str] = set()
    if config_file is not None:
        import yaml

        try:
            loaded = yaml.safe_load(config_file.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as error:
            raise UsageError(f"--config {config_file}: {error}") from None
        if not isinstance(loaded, dict):
            raise UsageError(f"--config {config_file}: expected a mapping of option names to values")
        values = {str(key).replace("-", "_"): value for key, value in loaded.items()}
        from_file = set(values)
    flags = {key: value.value if isinstance(value, Enum) else value for key, value in given.items()
             if value is not None and value != []}  # a repeatable flag never given arrives as []
    values |= flags
    from_file -= set(flags)
    try:
        return config_cls.model_validate(values)
    except ValidationError as error:
        in_file = [bool(e["loc"]) and e["loc"][0] in from_file for e in error.errors()]
        problems = "; ".join(_problem(e, config_cls, config_file if here else None)
                             for e, here in zip(error.errors(), in_file))
        source = f" (with --config {config_file})" if config_file and not all(in_file) else ""
        raise UsageError(problems + source) from None


def _problem(error: Any, config_cls: type[BaseModel], config_file: Path | None) -> str:
    """One validation error, named as the user wrote it: a flag, or a key of the YAML file
    (a misspelt key was reported as a flag nobody typed), with the nearest option for a typo."""
    location = error["loc"]
    where = f"{'.'.join(map(str, location))} in {config_file}: " if config_file is not None else _flag_of(location)
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden" and location:
        import difflib

        near = difflib.get_close_matches(str(location[0]), list(config_cls.model_fields), n=1)
        message = f"no such option{f'; did you mean {near[0]!r}?' if near else ''}"
    return where + message


def _flag_of(location: tuple[Any, ...]) -> str:
    """The flag a validation error is about, or nothing for a check across several fields."""
    return f"--{'.'.join(map(str, location)).replace('_', '-')}: " if location else ""


def config_command(app: typer.Typer, config_cls: type[BaseModel], name: str) -> Callable[[Callable], Callable]:
    """Register `fn(config, **files)` as a command whose options are the config's fields."""

    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        file_params = list(inspect.signature(fn, eval_str=True).parameters.values())[1:]
        config_param = inspect.Parameter(
            "config_file", inspect.Parameter.KEYWORD_ONLY, default=None,
            annotation=Annotated[Optional[Path], typer.Option(
                "--config", help="YAML file of option values (names as below, e.g. `rounds: 4`); "
                "flags given on the command line win.", show_default=False)])

        @functools.wraps(fn)
        def command(**kwargs: Any) -> Any:
            cli_support.set_summary_json(kwargs.pop("summary_json"))
            files = {p.name: kwargs.pop(p.name) for p in file_params}
            ensure_distinct({_flag(name): value for name, value in files.items()
                             if isinstance(value, Path) and name not in _NOT_FILES})
            config_file = kwargs.pop("config_file")
            config = load_config(config_cls, config_file, kwargs)
            if cli_support.summary_json is not None:  # it replaced whatever file it was pointed at
                summary = cli_support.summary_file(cli_support.summary_json, files.get("output"), name)
                cli_support.refuse_summary_clash(cli_support.summary_json, summary,
                                                 _named_paths(files, config, config_file))
            cli_support.begin_run(name, config, files)
            return fn(config, **files)

        summary_param = inspect.Parameter("summary_json", inspect.Parameter.KEYWORD_ONLY, default=None,
                                          annotation=cli_support.SummaryJson)
        command.__signature__ = inspect.Signature([*file_params, config_param, summary_param,  # type: ignore[attr-defined]
                                                   *config_options(config_cls)])
        app.command(name)(command)
        return fn

    return register


# older spellings of INPUT and -o, checked where they are resolved
_NOT_FILES = frozenset({"out_dir", "out", "seeds", "data"})


def _named_paths(files: dict[str, Any], config: BaseModel, config_file: Path | None) -> list[tuple[str, Path]]:
    """(flag, path) for every file a command names: its arguments (lists of them, and mix's
    FILE:WEIGHT sources, included), its options that are paths (--against, --cache, --work-dir)
    and --config."""
    named = [("--config", config_file)] if config_file is not None else []
    values = [(_flag(key), value) for key, value in files.items()]
    values += [(_flag(key), getattr(config, key)) for key in type(config).model_fields]
    for flag, value in values:
        for item in value if isinstance(value, (list, tuple)) else [value]:
            if isinstance(item, str) and ":" in item:  # a mix source, FILE:WEIGHT
                flag, item = "a source", Path(item.rpartition(":")[0])
            if isinstance(item, Path):
                named.append((flag, item))
    output = files.get("output")
    if getattr(config, "dataset_info", False) and isinstance(output, Path):  # export's, beside its output
        named.append(("--dataset-info", output.parent / "dataset_info.json"))
    return named


def _flag(name: str) -> str:
    return "INPUT" if name == "input" else f"--{name.replace('_', '-')}"


def _asks_a_model(config_cls: type[BaseModel]) -> bool:
    # by name, so that a stage without a model does not import the client to find out
    return any(base.__name__ == "LLMConfig" and base.__module__ == "curate.llm_config" for base in config_cls.__mro__)


def _llm_field_names() -> frozenset[str]:
    from curate.llm_config import LLMConfig, RunOptions

    return frozenset(LLMConfig.model_fields) - frozenset(RunOptions.model_fields)
