"""Prompt templates: one Jinja2 file per prompt under prompts/, never Python strings.

`render("evol/equal", first=..., second=...)` reads prompts/evol/equal.j2; `lang="zh"`
reads prompts/zh/evol/equal.j2. A `prompts_dir` of the user's is searched first, so
any template can be replaced (or a language added) without touching the package.
Undefined variables are errors, so a typo in a template never renders silently.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from curate.errors import UsageError

if TYPE_CHECKING:  # jinja2 loads with the first template rendered, not at start-up
    import jinja2

SUFFIX = ".j2"


def bundled_dir() -> Path:
    """Templates shipped in the wheel (curate/_prompts), else the repository's prompts/."""
    installed = Path(str(resources.files("curate"))) / "_prompts"
    return installed if installed.is_dir() else Path(__file__).resolve().parent.parent / "prompts"


@lru_cache(maxsize=8)
def _environment(prompts_dir: str | None) -> jinja2.Environment:
    import jinja2

    search = [prompts_dir] if prompts_dir else []
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader([*search, str(bundled_dir())]),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=False,
        autoescape=False,
    )


def template_path(name: str, lang: str = "en") -> str:
    return f"{name}{SUFFIX}" if lang == "en" else f"{lang}/{name}{SUFFIX}"


def render(name: str, prompts_dir: str | Path | None = None, lang: str = "en", **values: object) -> str:
    """The named template rendered with `values`; errors name the template."""
    import jinja2

    path = template_path(name, lang)
    env = _environment(str(prompts_dir) if prompts_dir else None)
    try:
        return env.get_template(path).render(**values)
    except jinja2.TemplateNotFound:
        where = ", ".join(env.loader.searchpath)  # type: ignore[union-attr]
        raise UsageError(f"no prompt template {path!r} in {where}") from None
    except jinja2.UndefinedError as error:
        raise UsageError(f"prompt template {path!r}: {error.message}") from None


def template_names(prompts_dir: str | Path | None = None) -> list[str]:
    """Every template file under the search path, as paths relative to its root."""
    roots = [Path(prompts_dir)] if prompts_dir else []
    names = {str(p.relative_to(root)) for root in [*roots, bundled_dir()] for p in root.rglob(f"*{SUFFIX}")}
    return sorted(names)
