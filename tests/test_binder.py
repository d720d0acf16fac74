"""Binder (repo2docker) installs snnlearn, jupytext and runs the post-build step."""

from __future__ import annotations

import os
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


def dropped_by_make_install() -> set:
    """Packages ``make install`` uninstalls after pip on purpose (the Makefile's
    ``DROP_SLOW_IMPORTS``: optional extras that cost import time and nothing here needs).
    Binder's pip installs them; this environment lacks them, and so does the copy of it.

    >>> "rfc3987-syntax" in dropped_by_make_install()
    True
    """
    from packaging.utils import canonicalize_name

    line = re.search(r"^DROP_SLOW_IMPORTS\s*=.*?\buninstall\b(.*?)(?:[>|&]|$)",
                     (ROOT / "Makefile").read_text(), re.M)
    words = line.group(1).split() if line else []
    return {canonicalize_name(word) for word in words if not word.startswith("-")}


def binder_closure(requirements: Path) -> dict:
    """``{name: installed distribution}``: what pip installs for ``requirements`` (each
    requirement and, recursively, what it requires, with extras and markers), taken from
    this environment, which ``make install`` resolved from the same requirements
    (test_binder_requirements_are_the_course_requirements_for_learners). A requirement this
    environment lacks, or has at a version the file does not allow, fails the test, except
    one ``make install`` uninstalls on purpose (:func:`dropped_by_make_install`)."""
    from importlib import metadata

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    lines = [line.split("#")[0].strip() for line in requirements.read_text().splitlines()]
    todo = [Requirement(line) for line in lines if line]
    found, extras_seen = {}, {}
    dropped = dropped_by_make_install()
    while todo:
        requirement = todo.pop()
        name = canonicalize_name(requirement.name)
        extras = set(requirement.extras)
        if name in found and extras <= extras_seen[name]:
            continue
        try:
            dist = found.get(name) or metadata.distribution(requirement.name)
        except metadata.PackageNotFoundError:
            if name in dropped:
                continue
            pytest.fail(f"{requirement} (needed by binder/requirements.txt) is not installed "
                        "here: make install")
        wanted = requirement.specifier
        if requirement.url:  # the CPU wheel of torch: its version is in the file name
            wanted = type(wanted)(f"=={CPU_WHEEL.search(str(requirement))['version']}")
        assert wanted.contains(dist.version.split("+")[0], prereleases=True), \
            f"installed {dist.metadata['Name']} {dist.version} is not {requirement}"
        found[name], extras_seen[name] = dist, extras_seen.get(name, set()) | extras
        for line in dist.requires or []:
            dependency = Requirement(line)
            if dependency.marker is None or any(
                    dependency.marker.evaluate({"extra": extra}) for extra in extras | {""}):
                todo.append(dependency)
    return found


def link_environment(dists, venv: Path) -> int:
    """Put the files of ``dists`` into the fresh virtual environment ``venv`` as pip would
    have unpacked them, as hard links to this environment's copies (no download, no unpack,
    no byte-compiling: seconds instead of about a minute). Scripts get ``venv``'s
    interpreter; configuration files (``etc/``) are copied, as a tool may rewrite them in
    place. Returns the number of files."""
    import sysconfig

    prefix = Path(sys.prefix).resolve()
    site = Path(subprocess.run([str(venv / "bin" / "python"), "-c", "import sysconfig; "
                                "print(sysconfig.get_paths()['purelib'])"], check=True,
                               capture_output=True, text=True).stdout.strip())
    own_site = Path(sysconfig.get_paths()["purelib"]).resolve()
    count = 0
    for dist in dists.values():
        assert dist.files, f"{dist.metadata['Name']} has no RECORD"
        for file in dist.files:
            source = Path(dist.locate_file(file)).resolve()
            if not source.is_file():
                continue  # RECORD may list a .pyc not written here
            if source.is_relative_to(own_site):
                target = site / source.relative_to(own_site)
            else:
                assert source.is_relative_to(prefix), source
                target = venv / source.relative_to(prefix)
            if target.exists():
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            head = source.read_bytes()[:256] if target.parent.name == "bin" else b""
            if head.startswith(b"#!") and b"python" in head.split(b"\n")[0]:
                lines = source.read_bytes().split(b"\n", 1)
                target.write_bytes(b"#!" + str(venv / "bin" / "python").encode() + b"\n"
                                   + lines[1])
                target.chmod(0o755)
            elif "etc" in target.relative_to(venv).parts[:1]:
                shutil.copy2(source, target)
            else:
                try:
                    os.link(source, target)
                except OSError:  # another file system: a copy, as pip would have written
                    shutil.copy2(source, target)
            count += 1
    return count


@pytest.mark.slow
def test_binder_environment_runs_a_chapter_and_an_assignment(tmp_path):
    """Builds the Binder environment the way repo2docker does, in a fresh venv: install
    binder/requirements.txt, then copy the repository in and run binder/postBuild (which
    builds snnlearn's C extension). Then a chapter and a released assignment (answered with
    its reference solutions) run headless (nbclient) in that environment.

    "Install binder/requirements.txt": exactly the packages it resolves to
    (:func:`binder_closure`: no instructor tooling, no book build, nothing else of this
    environment), hard-linked from this environment (:func:`link_environment`), which
    installed the same torch 2.13.0 and the same course requirements: downloading and
    unpacking them all again took most of this test's time. pip is there, as in
    repo2docker's image. A few tens of seconds."""
    import time
    started = last = time.perf_counter()
    spent = []

    def mark(what):
        nonlocal last
        now = time.perf_counter()
        spent.append(f"{what} {now - last:.1f} s")
        last = now

    requirements = (BINDER / "requirements.txt").read_text()
    assert CPU_WHEEL.search(requirements)
    venv = tmp_path / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    dists = binder_closure(BINDER / "requirements.txt")
    assert "nbgrader" not in dists and "jupyter-book" not in dists, sorted(dists)
    from importlib import metadata

    dists["pip"] = metadata.distribution("pip")
    assert link_environment(dists, venv) > 1000
    mark("environment linked")
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

    # the environment holds the closure only: not even this environment's snnlearn
    run(bin_dir / "python", "-c", "import importlib.util as u, torch, jupytext, ipykernel; "
        "assert u.find_spec('snnlearn') is None and u.find_spec('nbgrader') is None")
    # Then repo2docker copies the repository in and runs postBuild from its root.
    repo = tmp_path / "repo"
    shutil.copytree(ROOT, repo, ignore=shutil.ignore_patterns(
        ".venv", "_build", ".git", "*.so", "__pycache__", "*.egg-info", "build"))
    mark("checked, repository copied")
    run("bash", repo / "binder" / "postBuild", cwd=repo)
    mark("postBuild")
    run(bin_dir / "python", "-c", "import snnlearn; assert snnlearn.c_available()", cwd=tmp_path)
    settings = list((tmp_path / "jupyter-config").rglob("*.json")) + \
        list((tmp_path / "jupyter-config").rglob("*.jupyterlab-settings"))
    assert any("Jupytext" in path.read_text() for path in settings), \
        "postBuild did not make Jupytext the viewer of Markdown files"

    script = r'''
import asyncio, re, sys
from pathlib import Path
import jupytext, nbformat
from nbclient import NotebookClient

repo = Path(sys.argv[1])
chapter = jupytext.read(repo / "book" / "01_pytorch_basics.md")
name = "pytorch_basics"
release = nbformat.read(repo / "exercises" / "release" / name / f"{name}.ipynb", 4)
source = nbformat.read(repo / "exercises" / "source" / name / f"{name}.ipynb", 4)
solutions = {c.metadata["nbgrader"]["grade_id"]: c.source for c in source.cells
             if c.metadata.get("nbgrader", {}).get("solution")}
for cell in release.cells:
    grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
    if cell.cell_type == "code" and grade_id in solutions:
        cell.source = re.sub(r"[ \t]*### (BEGIN|END) SOLUTION\n?", "", solutions[grade_id])


async def both():  # two kernels at a time: the chapter and the assignment
    await asyncio.gather(
        NotebookClient(chapter, timeout=600, kernel_name="python3",
                       resources={"metadata": {"path": str(repo / "book")}}).async_execute(),
        NotebookClient(release, timeout=600, kernel_name="python3").async_execute())

asyncio.run(both())
print("ran", sum(c.cell_type == "code" for c in chapter.cells), "chapter cells and",
      sum(c.cell_type == "code" for c in release.cells), "assignment cells")
'''
    mark("checks")
    out = run(bin_dir / "python", "-c", script, str(repo), cwd=tmp_path)
    mark("chapter and assignment run")
    print(f"[time] Binder environment: {', '.join(spent)} "
          f"(total {time.perf_counter() - started:.1f} s)")
    assert "ran" in out
