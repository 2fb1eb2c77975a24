"""The wheel must carry prompts/ and find it once installed (not only in a checkout)."""

import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # --no-build-isolation: hatchling comes from the dev extra, so this works offline
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(out), str(ROOT)], check=True)
    [built] = out.glob("curate-*.whl")
    return built


def test_wheel_contains_every_template_and_both_packages(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    templates = [p.relative_to(ROOT / "prompts").as_posix() for p in (ROOT / "prompts").rglob("*.j2")]
    assert templates
    assert {f"curate/_prompts/{t}" for t in templates} <= names
    assert {"curate/cli.py", "train/cli.py", "train/data.py"} <= names
    # the data files read at run time: the report's page assets, pii's given names
    assert {"curate/report_assets/report.js", "curate/data/given_names.txt"} <= names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "curate = curate.cli:main" in text and "train = train.cli:main" in text


def environment_with_our_dependencies(env_dir: Path) -> Path:
    """A fresh venv that sees this environment's packages (typer, jinja2, ...) but not its
    editable checkout of curate. `system_site_packages` would show the base interpreter's
    packages instead, which lack them whenever the tests themselves run in a venv."""
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    inner = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                           capture_output=True, text=True, check=True).stdout.strip()
    outer = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    # plain path lines: appended after the venv's own site-packages, and the .pth files in them
    # (the editable install's among them) are not run, so the wheel is what `import curate` finds
    (Path(inner) / "outer_environment.pth").write_text("\n".join(sorted(outer)) + "\n")
    return python


def test_installed_wheel_finds_its_templates(wheel, tmp_path):
    env_dir = tmp_path / "venv"
    python = environment_with_our_dependencies(env_dir)
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q",
                    str(wheel)], check=True)
    probe = ("import curate, curate.prompts as p, curate.pii_names as n; print(curate.__file__); "
             "print(p.bundled_dir()); print(p.render('evol/equal', first='A', second='B')); "
             "print('Maria' in n.given_names())")
    out = subprocess.run([str(python), "-c", probe], cwd=tmp_path, capture_output=True, text=True,
                         check=True).stdout.splitlines()
    assert out[0].startswith(str(env_dir)), "imported the checkout, not the installed wheel"
    assert out[1].startswith(str(env_dir)) and out[1].endswith("curate/_prompts")
    assert "First instruction: A" in out
    assert out[-1] == "True"  # pii's given names load from the installed package
    help_text = subprocess.run([str(env_dir / "bin" / "curate"), "--help"], capture_output=True, text=True,
                               check=True).stdout
    assert "export" in help_text
