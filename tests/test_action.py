"""The composite action (action.yml): its structure (actionlint does not read action metadata),
and a story running its steps as the runner would, against the local fake GitHub."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from appsync.yamlio import load_text
from tests.action_runner import ActionRun, Expression, run_action
from tests.fake_github import TOKEN, FakeGitHub, serving
from tests.helpers import commit_all, run

ROOT = Path(__file__).resolve().parents[1]
ACTION = ROOT / "action.yml"
REPOSITORY = "acme/apps"
PR = 7

_EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}", re.S)


def _action() -> dict[str, Any]:
    action = load_text(ACTION.read_text(encoding="utf-8"), str(ACTION))
    assert isinstance(action, dict)
    return action


def _strings(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return [value] if isinstance(value, str) else []


def _expressions(action: dict[str, Any]) -> list[str]:
    found = [e for s in _strings(action) for e in _EXPRESSION.findall(s)]
    found += [str(step["if"]) for step in action["runs"]["steps"] if "if" in step]
    return [e.strip() for e in found]


def test_action_metadata_is_complete() -> None:
    action = _action()
    assert {"name", "description", "inputs", "outputs", "runs"} <= set(action)
    assert action["runs"]["using"] == "composite"
    for name, spec in action["inputs"].items():
        assert spec.get("description"), f"input {name} has no description"
        assert not (spec.get("required") and "default" in spec), name
    assert action["inputs"]["target"]["required"] is True
    assert {"exit-code", "has-changes", "plan-json"} <= set(action["outputs"])
    ids = [step["id"] for step in action["runs"]["steps"] if "id" in step]
    assert len(ids) == len(set(ids))
    for step in action["runs"]["steps"]:
        assert step.get("name"), step
        assert ("uses" in step) != ("run" in step), step["name"]
        if "run" in step:
            assert step.get("shell") == "bash", f"{step['name']}: a run step needs shell"
            assert "${{" not in step["run"], f"{step['name']}: expressions go through env"
        else:
            assert re.fullmatch(r"actions/[a-z-]+@v\d+", step["uses"]), step["uses"]


def test_action_references_only_what_exists() -> None:
    action = _action()
    inputs = set(action["inputs"])
    steps = action["runs"]["steps"]
    scripts = {step["id"]: step.get("run", "") for step in steps if "id" in step}
    uses = {step["id"] for step in steps if "id" in step and "uses" in step}
    expressions = _expressions(action)
    assert expressions
    for expression in expressions:
        Expression(expression, {}, failed=False).value()  # it parses
        for name in re.findall(r"\binputs\.([A-Za-z0-9_-]+)", expression):
            assert name in inputs, f"{expression}: no input {name}"
        for step_id, output in re.findall(
            r"\bsteps\.([A-Za-z0-9_-]+)\.outputs\.([\w-]+)", expression
        ):
            assert step_id in scripts, f"{expression}: no step {step_id}"
            if step_id not in uses:
                assert f"{output}=" in scripts[step_id], f"step {step_id} never sets {output}"
    used = {n for e in expressions for n in re.findall(r"\binputs\.([A-Za-z0-9_-]+)", e)}
    assert used == inputs, f"inputs never used: {inputs - used}"


def test_action_scripts_are_valid_bash(tmp_path: Path) -> None:
    for number, step in enumerate(_action()["runs"]["steps"]):
        if "run" not in step:
            continue
        script = tmp_path / f"{number}.sh"
        script.write_text(step["run"])
        done = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
        assert done.returncode == 0, f"{step['name']}: {done.stderr}"


def test_bash_n_catches_a_broken_script(tmp_path: Path) -> None:
    script = tmp_path / "bad.sh"
    script.write_text('if [ -n "$X" ]; then\n  echo x\n')
    assert subprocess.run(["bash", "-n", str(script)], capture_output=True).returncode != 0


# The story: a pull request is planned (comment created), merged and applied, planned again
# (comment updated: no changes), then planned without its secret (comment updated: error).


@pytest.fixture
def workspace(tmp_path: Path) -> dict[str, Any]:
    dev, prod = f"sqlite:///{tmp_path / 'dev.db'}", f"sqlite:///{tmp_path / 'prod.db'}"
    repo = tmp_path / "checkout"
    assert run("instance", "init", dev, "--example").exit_code == 0
    assert run("instance", "init", prod).exit_code == 0
    assert run("init", str(repo)).exit_code == 0
    assert run("env", "add", "dev", "--url", dev, "--repo", str(repo)).exit_code == 0
    added = run("env", "add", "prod", "--url", "${APPSYNC_PROD_URL}", "--repo", str(repo))
    assert added.exit_code == 0
    commit_all(repo, "environments")
    assert run("export", "dev", "--repo", str(repo), "-m", "Export dev").exit_code == 0
    return {"repo": repo, "prod": prod, "tmp": tmp_path}


def _job_env(server: FakeGitHub, run_id: int, event: Path) -> dict[str, str]:
    """The job's environment: the runner's, with no appsync on the PATH."""
    ours = str(Path(sys.executable).parent)
    path = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if p != ours)
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env.update(
        PATH=path,
        GITHUB_ACTOR="octocat",
        GITHUB_RUN_ID=str(run_id),
        GITHUB_REPOSITORY=REPOSITORY,
        GITHUB_API_URL=server.url,
        GITHUB_SERVER_URL="https://github.example",
        GITHUB_EVENT_PATH=str(event),
    )
    return env


def _upload(artifacts: Path, uploaded: list[dict[str, str]]) -> Any:
    def upload(given: dict[str, str]) -> dict[str, str]:
        assert Path(given["path"]).is_file()
        (artifacts / given["name"]).mkdir(parents=True, exist_ok=True)
        shutil.copy(given["path"], artifacts / given["name"])
        uploaded.append(given)
        return {"artifact-url": f"https://github.example/artifacts/{len(uploaded)}"}

    return upload


def _no_setup_python(given: dict[str, str]) -> dict[str, str]:
    raise AssertionError("python-version is empty: setup-python must not run")


@pytest.mark.e2e
def test_the_action_plans_comments_applies_and_reports_errors(workspace: dict[str, Any]) -> None:
    tmp, repo, prod = workspace["tmp"], workspace["repo"], workspace["prod"]
    temp, artifacts = tmp / "runner-temp", tmp / "artifacts"
    temp.mkdir()
    pull_request = tmp / "pull_request.json"
    pull_request.write_text(
        json.dumps({"number": PR, "pull_request": {"number": PR, "head": {"sha": "feed" * 10}}})
    )
    push = tmp / "push.json"
    push.write_text(json.dumps({"ref": "refs/heads/main"}))
    uploaded: list[dict[str, str]] = []
    stand_ins = {
        "actions/setup-python@v5": _no_setup_python,
        "actions/upload-artifact@v4": _upload(artifacts, uploaded),
    }

    with serving(FakeGitHub()) as server:

        def job(run_id: int, inputs: dict[str, str], url: str, event: Path) -> ActionRun:
            name = "pull_request" if event == pull_request else "push"
            return run_action(
                _action(),
                ROOT,
                {"python-version": "", **inputs},
                github={"token": TOKEN, "event_name": name, "event": json.loads(event.read_text())},
                env={**_job_env(server, run_id, event), "APPSYNC_PROD_URL": url},
                workspace=repo,
                runner_temp=temp,
                uses=stand_ins,
            )

        # 1. The pull request is planned: changes, a comment, the JSON plan as an artifact.
        first = job(1, {"target": "prod", "args": "--ref HEAD"}, prod, pull_request)
        assert not first.failed, first.log
        assert (
            "appsync, version 0.1.0"
            in first.step("Install appsync from the action's source").stdout
        )
        assert first.outputs["exit-code"] == "2" and first.outputs["has-changes"] == "true"
        saved = json.loads(Path(first.outputs["plan-json"]).read_text())
        assert saved["target"]["name"] == "prod" and saved["summary"]["create"] == 29
        assert "Plan: 29 to create" in first.step("Run appsync").stdout  # the log shows it
        assert [u["name"] for u in uploaded] == ["appsync-plan-prod"]
        assert first.outputs["artifact-url"] == "https://github.example/artifacts/1"
        [comment] = server.on(REPOSITORY, PR)
        assert comment["body"].startswith("<!-- appsync-plan:prod -->\n## appsync plan for prod")
        assert "[JSON plan](https://github.example/artifacts/1)" in comment["body"]
        assert "for commit feedfeedfeed" in comment["body"]

        # 2. Merged: apply on the push to main. No comment, no artifact; prod is written.
        applied = job(2, {"command": "apply", "target": "prod"}, prod, push)
        assert not applied.failed, applied.log
        assert applied.outputs["exit-code"] == "0" and applied.outputs["plan-json"] == ""
        assert applied.step("Comment on the pull request").ran is False
        assert len(uploaded) == 1 and len(server.received) == 2
        log = run("log", prod, "--repo", str(repo))
        assert "octocat (GitHub Actions run 2)" in log.stdout, log.output

        # 3. Planned again: no changes; the same comment says so.
        again = job(3, {"target": "prod"}, prod, pull_request)
        assert not again.failed, again.log
        assert again.outputs["exit-code"] == "0" and again.outputs["has-changes"] == "false"
        [updated] = server.on(REPOSITORY, PR)
        assert updated["id"] == comment["id"] and "no changes" in updated["body"]

        # 4. Without its secret the plan fails: the comment shows the error; the job fails.
        broken = job(4, {"target": "prod"}, "", pull_request)
        assert broken.failed
        assert broken.outputs["exit-code"] == "1" and broken.outputs["plan-json"] == ""
        [errored] = server.on(REPOSITORY, PR)
        assert errored["id"] == comment["id"]
        assert "variable APPSYNC_PROD_URL is empty" in errored["body"]
        assert "no changes" not in errored["body"]
        result = broken.step("Result")
        assert result.returncode == 1
        assert result.stdout.startswith(
            "::error::appsync: error: environment 'prod': variable APPSYNC_PROD_URL is empty"
        )
        methods = [r.method for r in server.received]
        assert methods == ["GET", "POST", "GET", "PATCH", "GET", "PATCH"]
        assert all(r.headers["authorization"] == f"Bearer {TOKEN}" for r in server.received)

        # 5. A command the action does not know.
        wrong = job(5, {"command": "destroy", "target": "prod"}, prod, push)
        assert wrong.failed
        assert "::error::appsync action: command must be plan or apply, not 'destroy'" in wrong.log
        assert wrong.step("Result").ran is False


# The example repository's workflows use the action as it is declared, and keep the write
# credentials in the apply jobs behind their environments.

EXAMPLE = ROOT / "examples/repo"
_SECRET = re.compile(r"\bsecrets\.([A-Z0-9_]+)")


def _workflow(name: str) -> dict[str, Any]:
    path = EXAMPLE / ".github/workflows" / name
    workflow = load_text(path.read_text(encoding="utf-8"), str(path))
    assert isinstance(workflow, dict)
    return workflow


def _action_steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        step
        for job in workflow["jobs"].values()
        for step in job.get("steps", [])
        if re.fullmatch(r"[^./][^/]*/appsync@v\d+", step.get("uses", ""))
    ]


def test_example_workflows_use_the_action_with_its_inputs() -> None:
    declared = _action()["inputs"]
    required = {name for name, spec in declared.items() if spec.get("required")}
    steps = _action_steps(_workflow("appsync-plan.yml")) + _action_steps(
        _workflow("appsync-apply.yml")
    )
    assert len(steps) == 3
    for step in steps:
        assert step["uses"] == "your-org/appsync@v1"
        given = set(step.get("with") or {})
        assert given <= set(declared), given - set(declared)
        assert required <= given
    for path in (EXAMPLE / ".github/workflows").glob("*.yml"):
        assert "pip install" not in path.read_text(), path.name


def test_write_credentials_only_in_apply_jobs_behind_their_environment() -> None:
    config = (EXAMPLE / "appsync.yaml").read_text()
    assert "url: ${APPSYNC_STAGING_URL}" in config and "url: ${APPSYNC_PROD_URL}" in config
    plan = _workflow("appsync-plan.yml")
    for name, job in plan["jobs"].items():
        assert "environment" not in job, name
        secrets = set(_SECRET.findall(json.dumps(job)))
        assert secrets <= {"APPSYNC_STAGING_PLAN_URL", "APPSYNC_PROD_PLAN_URL"}, name
    assert plan["permissions"] == {"contents": "read", "pull-requests": "write"}
    apply = _workflow("appsync-apply.yml")
    for name, job in apply["jobs"].items():
        secrets = set(_SECRET.findall(json.dumps(job)))
        assert secrets == {f"APPSYNC_{job['environment'].upper()}_URL"}, name
    assert apply["jobs"]["staging"]["environment"] == "staging"
    assert apply["jobs"]["prod"]["environment"] == "prod"
    assert apply["jobs"]["prod"]["needs"] == "staging"
    assert apply["permissions"] == {"contents": "read"}


def test_fork_pull_requests_are_skipped_with_a_notice() -> None:
    jobs = _workflow("appsync-plan.yml")["jobs"]
    same = "github.event.pull_request.head.repo.full_name == github.repository"
    assert jobs["plan"]["if"] == same
    assert jobs["fork"]["if"] == same.replace("==", "!=")
    [step] = jobs["fork"]["steps"]
    assert "::notice title=appsync plan skipped::" in step["run"]
    assert "GITHUB_STEP_SUMMARY" in step["run"]
