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

        printed = {n.name for out in ast.find_all(jinja2.nodes.Output) for n in out.find_all(jinja2.nodes.Name)}
        tests = [name for node in ast.find_all(jinja2.nodes.If)
                 for name in [node.test, *node.test.find_all(jinja2.nodes.Name)] if isinstance(name, jinja2.nodes.Name)]
        flags = {name.name for name in tests} - printed  # switches such as `structured`: tested, never printed
        values = {var: sample(var) for var in _variables(env, name) if var not in flags}
        lang, _, rest = name.partition("/")
        template, lang = (rest, lang) if lang == "zh" else (name, "en")
        text = render(template.removesuffix(".j2"), lang=lang, **values, **dict.fromkeys(flags, False))
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
    assert render("evol/equal", first="a", second="b").startswith("Compare two instructions")


def _levels(text: str, marker: str) -> dict[int, str]:
    """The scale's lines by level: '1: ...' (en) or '1 分：...' (zh)."""
    import re

    return {int(m.group(1)): m.group(2) for m in re.finditer(rf"^([1-5]){marker}(.*)$", text, re.MULTILINE)}


@pytest.mark.parametrize("lang, marker, level_one, level_three_only", [
    ("en", ":", ["another person's voice", "blog", "forum", "promotion", "navigation", "irrelevant",
                 "controversial", "incomplete", "repeating the question"],
     ["comments section", "social media", "excerpt"]),
    ("zh", " 分：", ["他人口吻", "博客", "论坛", "推广", "导航", "无关", "争议", "不完整", "照抄用户的问题"],
     ["评论区", "社交媒体", "摘录"]),
])
def test_judge_scale_keeps_humpbacks_level_one_markers_at_level_one(lang, marker, level_one, level_three_only):
    from curate.prompts import render

    levels = _levels(render("judge/score", None, lang, instruction="I", input="", output="O", structured=False), marker)
    assert sorted(levels) == [1, 2, 3, 4, 5]
    # Humpback's level 1 holds the other-person, forum, promotional and navigation answers...
    assert all(word in levels[1] for word in level_one)
    # ...and level 3 is a complete answer whose only flaw is not reading as an assistant's
    assert all(word in levels[3] for word in level_three_only)
    assert not any(word in levels[3] for word in level_one[3:6])
