"""Binder (repo2docker) installs snnlearn, jupytext and runs the post-build step."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from paths import BINDER, ROOT


def requirement_names(path: Path) -> dict:
    """name -> specifier line, following ``-r`` includes as pip does."""
    names = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if not line:
            continue
        if line.startswith("-r"):
            names.update(requirement_names(path.parent / line[2:].strip()))
        elif not line.startswith("-"):
            names[re.split(r"[<>=!~\[; ]", line)[0].lower()] = line
    return names


# Course packages that only build the book: not in the learners' Binder environment.
BOOK_BUILD_ONLY = {"jupyter-book", "django-static-mathjax"}
CPU_WHEEL = re.compile(r"torch @ https://download\.pytorch\.org/whl/cpu/"
                       r"torch-(?P<version>[0-9.]+)%2Bcpu-cp311-cp311-manylinux_2_28_x86_64\.whl")


def test_binder_environment_is_cpu_torch_python_311_without_instructor_tooling():
    assert (BINDER / "runtime.txt").read_text().strip() == "python-3.11"
    text = (BINDER / "requirements.txt").read_text()
    names = requirement_names(BINDER / "requirements.txt")
    course = requirement_names(ROOT / "requirements.txt")
    pinned = re.fullmatch(r"torch==(\S+)", course["torch"])
    assert pinned, course["torch"]
    wheel = CPU_WHEEL.fullmatch(names["torch"])
    assert wheel, f"Binder's torch is not the CPU wheel named exactly: {names['torch']}"
    assert wheel["version"] == pinned[1], "Binder's torch is not the version requirements.txt pins"
    assert "index-url" not in text, "an extra index applies to every package: name the wheel"
    assert "nbgrader" not in names, "Binder is for learners: no nbgrader server extensions"
    assert not names.keys() & BOOK_BUILD_ONLY, "Binder does not build the book"
    assert "jupytext" in names and "jupyterlab-myst" in names


def test_binder_requirements_name_no_repository_file():
    """repo2docker installs such a file before copying the repository: a content commit
    reuses the cached environment instead of reinstalling torch."""
    for line in (BINDER / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        assert not re.match(r"-[rce]\b|--requirement|--constraint|--editable|\.|/|file:",
                            line), f"binder/requirements.txt references a file: {line!r}"


def test_binder_requirements_are_the_course_requirements_for_learners():
    names = requirement_names(BINDER / "requirements.txt")
    course = requirement_names(ROOT / "requirements.txt")
    expected = {n: spec for n, spec in course.items() if n not in BOOK_BUILD_ONLY | {"torch"}}
    actual = {n: spec for n, spec in names.items() if n != "torch"}
    assert actual == expected, "binder/requirements.txt drifted from requirements.txt"


def test_local_install_uses_pypi_only():
    for name in ("requirements.txt", "requirements-dev.txt"):
        assert "index-url" not in (ROOT / name).read_text()


def test_post_build_installs_the_package_and_opens_markdown_as_notebooks():
    script = (BINDER / "postBuild").read_text()
    assert (BINDER / "postBuild").stat().st_mode & 0o111, "postBuild must be executable"
    assert re.search(r"pip install .*-e \.", script)
    assert "jupytext-config set-default-viewer" in script


@pytest.mark.slow  # runs repo2docker
def test_repo2docker_dockerfile_installs_requirements_and_runs_post_build():
    repo2docker = Path(sys.executable).parent / "repo2docker"
    if not repo2docker.exists():
        repo2docker = shutil.which("repo2docker")
    if not repo2docker:
        pytest.skip("repo2docker not installed (pip install jupyter-repo2docker)")
    result = subprocess.run([str(repo2docker), "--no-build", "--debug", str(ROOT)],
                            capture_output=True, text=True, timeout=300)
    dockerfile = result.stdout + result.stderr
    assert 'pip install --no-cache-dir -r "binder/requirements.txt"' in dockerfile
    assert "./binder/postBuild" in dockerfile
    copy_repo = dockerfile.index("COPY --chown=0:0 src/ ${REPO_DIR}/")
    assert dockerfile.index('-r "binder/requirements.txt"') < copy_repo, \
        "the environment must be installed before the repository is copied in (so a " \
        "content commit does not reinstall torch)"
    assert copy_repo < dockerfile.index("./binder/postBuild")
    assert re.search(r"python.?3\.11", dockerfile)


@pytest.mark.slow
def test_binder_environment_runs_a_chapter_and_an_assignment(tmp_path):
    """Builds the Binder environment the way repo2docker does, in a fresh venv: install
    binder/requirements.txt (PyPI's torch==2.13.0 standing in for the CPU wheel's URL, which
    is the same build of the same version), then copy the repository in and run
    binder/postBuild. Then a chapter and a released assignment (answered with its reference
    solutions) run headless (nbclient) in that environment. A few minutes."""
    import os
    import shutil as _shutil

    requirements = (BINDER / "requirements.txt").read_text()
    wheel = CPU_WHEEL.search(requirements)
    assert wheel
    local = requirements.replace(wheel.group(0), f"torch=={wheel['version']}")
    (tmp_path / "requirements.txt").write_text(local)
    venv = tmp_path / "env"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    bin_dir = venv / "bin"
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
               JUPYTER_CONFIG_DIR=str(tmp_path / "jupyter-config"),
               JUPYTER_DATA_DIR=str(tmp_path / "jupyter-data"), HOME=str(tmp_path / "home"))
    env.pop("VIRTUAL_ENV", None)
    env.pop("PYTHONPATH", None)

    def run(*command, cwd=tmp_path, timeout=1200):
        result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True,
                                timeout=timeout)
        assert result.returncode == 0, (f"{' '.join(map(str, command))} failed:\n"
                                        + (result.stdout + result.stderr)[-4000:])
        return result.stdout

    run(bin_dir / "python", "-m", "pip", "install", "-q", "--upgrade", "pip")
    run(bin_dir / "python", "-m", "pip", "install", "-q", "-r", "requirements.txt")
    # Then repo2docker copies the repository in and runs postBuild from its root.
    repo = tmp_path / "repo"
    _shutil.copytree(ROOT, repo, ignore=_shutil.ignore_patterns(
        ".venv", "_build", ".git", "*.so", "__pycache__", "*.egg-info", "build"))
    run("bash", repo / "binder" / "postBuild", cwd=repo)
    run(bin_dir / "python", "-c", "import snnlearn; assert snnlearn.c_available()", cwd=tmp_path)
    settings = list((tmp_path / "jupyter-config").rglob("*.json")) + \
        list((tmp_path / "jupyter-config").rglob("*.jupyterlab-settings"))
    assert any("Jupytext" in path.read_text() for path in settings), \
        "postBuild did not make Jupytext the viewer of Markdown files"

    script = r'''
import re, sys
from pathlib import Path
import jupytext, nbformat
from nbclient import NotebookClient

repo = Path(sys.argv[1])
chapter = jupytext.read(repo / "book" / "01_pytorch_basics.md")
NotebookClient(chapter, timeout=600, kernel_name="python3",
               resources={"metadata": {"path": str(repo / "book")}}).execute()
name = "pytorch_basics"
release = nbformat.read(repo / "exercises" / "release" / name / f"{name}.ipynb", 4)
source = nbformat.read(repo / "exercises" / "source" / name / f"{name}.ipynb", 4)
solutions = {c.metadata["nbgrader"]["grade_id"]: c.source for c in source.cells
             if c.metadata.get("nbgrader", {}).get("solution")}
for cell in release.cells:
    grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
    if cell.cell_type == "code" and grade_id in solutions:
        cell.source = re.sub(r"[ \t]*### (BEGIN|END) SOLUTION\n?", "", solutions[grade_id])
NotebookClient(release, timeout=600, kernel_name="python3").execute()
print("ran", sum(c.cell_type == "code" for c in chapter.cells), "chapter cells and",
      sum(c.cell_type == "code" for c in release.cells), "assignment cells")
'''
    out = run(bin_dir / "python", "-c", script, str(repo), cwd=tmp_path)
    assert "ran" in out
