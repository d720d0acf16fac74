"""The GitHub Pages workflow (.github/workflows/publish.yml) is valid and does what the
README promises: build with `make book` on Python 3.11, publish _build/html. It cannot run
here, so it is checked as data."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "publish.yml"


@pytest.fixture(scope="module")
def workflow() -> dict:
    assert WORKFLOW.is_file(), f"missing {WORKFLOW.relative_to(ROOT)}"
    data = yaml.safe_load(WORKFLOW.read_text())
    assert isinstance(data, dict), "publish.yml is not a YAML mapping"
    return data


def steps_of(job: dict) -> list[dict]:
    steps = job.get("steps")
    assert isinstance(steps, list) and steps, "a job without steps"
    return steps


def uses(step: dict, action: str) -> bool:
    return str(step.get("uses", "")).split("@")[0] == action


def find_job_with(workflow: dict, action: str) -> tuple[str, dict, dict]:
    for name, job in workflow["jobs"].items():
        for step in steps_of(job):
            if uses(step, action):
                assert "@" in step["uses"], f"{action} is not pinned to a version"
                return name, job, step
    raise AssertionError(f"no step uses {action}")


def test_triggers_on_push_to_main_and_by_hand(workflow):
    # PyYAML reads the key `on` as the boolean True (YAML 1.1).
    triggers = workflow.get("on", workflow.get(True))
    assert isinstance(triggers, dict), f"unexpected triggers: {triggers!r}"
    assert "workflow_dispatch" in triggers
    branches = (triggers.get("push") or {}).get("branches")
    assert branches == ["main"] or branches == "main", branches


def test_permissions_allow_pages_deployment(workflow):
    permissions = workflow.get("permissions") or {}
    assert permissions.get("pages") == "write"
    assert permissions.get("id-token") == "write"
    assert permissions.get("contents") in ("read", None)


def test_builds_with_make_book_on_python_311(workflow):
    name, job, setup = find_job_with(workflow, "actions/setup-python")
    assert job["runs-on"] == "ubuntu-latest"
    # Quoted: unquoted YAML numbers are floats (3.10 would become 3.1).
    assert setup.get("with", {}).get("python-version") == "3.11"
    steps = steps_of(job)
    assert any(uses(s, "actions/checkout") for s in steps), "no checkout step"
    runs = [(i, s["run"]) for i, s in enumerate(steps) if "run" in s]
    build = [i for i, run in runs if re.search(r"(^|\s|&&|;)make\s+book(\s|$)", run)]
    assert build, f"no step runs `make book`: {runs}"
    assert steps.index(setup) < build[0], "`make book` runs before Python is set up"
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^book:", makefile, re.M), "the Makefile has no `book` target"


def test_uploads_build_html_and_deploys_it(workflow):
    build_name, build_job, upload = find_job_with(workflow, "actions/upload-pages-artifact")
    assert upload.get("with", {}).get("path", "").rstrip("/") in ("_build/html",
                                                                  "./_build/html")
    runs = " ".join(s.get("run", "") for s in steps_of(build_job))
    assert "make book" in runs, "the artifact is uploaded from a job that does not build"
    deploy_name, deploy_job, deploy = find_job_with(workflow, "actions/deploy-pages")
    needs = deploy_job.get("needs")
    needs = [needs] if isinstance(needs, str) else (needs or [])
    assert deploy_name == build_name or build_name in needs, \
        "deploy does not wait for the build"
    environment = deploy_job.get("environment") or {}
    assert (environment.get("name") if isinstance(environment, dict) else environment) \
        == "github-pages"
    assert deploy.get("id"), "the deploy step needs an id for the page_url output"
