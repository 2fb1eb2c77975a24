import jinja2
import jinja2.meta
import pytest

from curate.errors import UsageError
from curate.prompts import bundled_dir, render, template_names


def test_every_template_renders_with_its_variables():
    env = jinja2.Environment()
    names = template_names()
    assert names, "no templates found"
    for name in names:
        source = (bundled_dir() / name).read_text(encoding="utf-8")
        variables = jinja2.meta.find_undeclared_variables(env.parse(source))
        values = {var: f"<<{var}>>" for var in variables}
        lang, _, rest = name.partition("/")
        template, lang = (rest, lang) if lang == "zh" else (name, "en")
        text = render(template.removesuffix(".j2"), lang=lang, **values)
        assert all(value in text for value in values.values()), name


def test_missing_variable_is_an_error():
    with pytest.raises(UsageError, match="'second' is undefined"):
        render("evol/equal", first="a")


def test_missing_template_is_an_error():
    with pytest.raises(UsageError, match="no prompt template 'nope.j2'"):
        render("nope")


def test_user_directory_overrides_bundled(tmp_path):
    (tmp_path / "evol").mkdir()
    (tmp_path / "evol" / "equal.j2").write_text("Same? {{ first }} / {{ second }}")
    assert render("evol/equal", prompts_dir=tmp_path, first="a", second="b") == "Same? a / b"
    assert render("evol/equal", first="a", second="b").startswith("Here are two Instructions")
