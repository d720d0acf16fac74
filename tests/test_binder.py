"""Binder (repo2docker) installs snnlearn, jupytext and runs the post-build step."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BINDER = ROOT / "binder"


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


def test_binder_environment_is_cpu_torch_python_311_without_instructor_tooling():
    assert (BINDER / "runtime.txt").read_text().strip() == "python-3.11"
    text = (BINDER / "requirements.txt").read_text()
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in text
    names = requirement_names(BINDER / "requirements.txt")
    assert names["torch"] == requirement_names(ROOT / "requirements.txt")["torch"] == "torch==2.13.0"
    assert "jupytext" in names
    assert "nbgrader" not in names, "Binder is for learners: no nbgrader server extensions"


def test_local_install_uses_pypi_only():
    for name in ("requirements.txt", "requirements-dev.txt"):
        assert "index-url" not in (ROOT / name).read_text()


def test_post_build_installs_the_package_and_opens_markdown_as_notebooks():
    script = (BINDER / "postBuild").read_text()
    assert (BINDER / "postBuild").stat().st_mode & 0o111, "postBuild must be executable"
    assert re.search(r"pip install .*-e \.", script)
    assert "jupytext-config set-default-viewer" in script


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
    assert copy_repo < dockerfile.index('-r "binder/requirements.txt"'), \
        "the repository must be in place before pip resolves -r ../requirements.txt"
    assert re.search(r"python.?3\.11", dockerfile)
