import jinja2
import jinja2.meta
import pytest

from curate.errors import UsageError
from curate.prompts import bundled_dir, render, template_names


def _variables(env, name):
    """Undeclared variables of a template and of every template it includes."""
    ast = env.parse((bundled_dir() / name).read_text(encoding="utf-8"))
    found = set(jinja2.meta.find_undeclared_variables(ast))
    assigned = {node.target.name for node in ast.find_all((jinja2.nodes.Assign, jinja2.nodes.AssignBlock))}
    for included in jinja2.meta.find_referenced_templates(ast):
        found |= _variables(env, included) - assigned
    return found


def test_every_template_renders_with_its_variables():
    env = jinja2.Environment()
    names = template_names()
    assert len(names) >= 20, names
    for name in names:
        if name.rsplit("/", 1)[-1].startswith("_"):  # partials need what their includer sets
            continue
        ast = env.parse((bundled_dir() / name).read_text(encoding="utf-8"))
        loops = {node.iter.name: node.target for node in ast.find_all(jinja2.nodes.For)
                 if isinstance(node.iter, jinja2.nodes.Name)}

        def sample(var):
            if var not in loops:
                return f"<<{var}>>"
            width = len(loops[var].items) if isinstance(loops[var], jinja2.nodes.Tuple) else 0
            return [tuple(f"<<{var}{i}.{j}>>" for j in range(width)) if width else f"<<{var}{i}>>" for i in range(3)]

        values = {var: sample(var) for var in _variables(env, name)}
        lang, _, rest = name.partition("/")
        template, lang = (rest, lang) if lang == "zh" else (name, "en")
        text = render(template.removesuffix(".j2"), lang=lang, **values)
        def flat(value):
            if isinstance(value, (list, tuple)):
                return [leaf for item in value for leaf in flat(item)]
            return [value]

        expected = [leaf for value in values.values() for leaf in flat(value)]
        assert all(value in text for value in expected), name


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
