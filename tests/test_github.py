"""appsync github comment against a local server speaking GitHub's comment API: one comment
per target, always the latest run (changes, no changes, error), updated in place."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from appsync.github.body import BODY_LIMIT, RunInfo, fit, marker, plan_body
from appsync.instance.example import uid
from appsync.plan.model import Change, Plan, Source, TargetInfo
from tests.fake_github import BOT, TOKEN, FakeGitHub, serving
from tests.helpers import commit_all, run
from tests.sync_helpers import sql

REPO = "acme/apps"
PR = 7


@pytest.fixture(scope="module")
def plans(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Real plans saved by 'appsync plan --out': changes, no changes, and a conflict."""
    root = tmp_path_factory.mktemp("plans")
    dev, prod = f"sqlite:///{root / 'dev.db'}", f"sqlite:///{root / 'prod.db'}"
    repo = root / "repo"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("HOME", str(root))
        env.setenv("GIT_CONFIG_NOSYSTEM", "1")
        env.setenv("APPSYNC_AUTHOR_NAME", "T")
        env.setenv("APPSYNC_AUTHOR_EMAIL", "t@example.com")
        assert run("instance", "init", dev, "--example").exit_code == 0
        assert run("instance", "init", prod).exit_code == 0
        assert run("init", str(repo)).exit_code == 0
        assert run("export", dev, "--repo", str(repo), "-m", "Export dev").exit_code == 0
        out = {name: root / f"{name}.json" for name in ("changes", "none", "conflict")}
        assert run("plan", prod, "--repo", str(repo), "--out", str(out["changes"])).exit_code == 0
        assert run("plan", dev, "--repo", str(repo), "--out", str(out["none"])).exit_code == 0
        query = uid("query/open-invoices")
        sql(dev, "UPDATE queries SET sql = 'SELECT 1' WHERE id = :i", i=query)
        (repo / "apps/invoices/data/queries/open-invoices.sql").write_text("SELECT 2\n")
        commit_all(repo, "edit the query")
        conflict = run("plan", dev, "--repo", str(repo), "--out", str(out["conflict"]))
        assert conflict.exit_code == 3, conflict.output
    return out


@pytest.fixture
def github(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGitHub]:
    """The fake GitHub, and the environment a workflow run on pull request #7 has."""
    event = tmp_path / "event.json"
    event.write_text(
        json.dumps(
            {"number": PR, "pull_request": {"number": PR, "head": {"sha": "0123456789abcdef0123"}}}
        )
    )
    with serving(FakeGitHub()) as server:
        monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
        monkeypatch.setenv("GITHUB_API_URL", server.url)
        monkeypatch.setenv("GITHUB_REPOSITORY", REPO)
        monkeypatch.setenv("GITHUB_EVENT_PATH", str(event))
        monkeypatch.setenv("GITHUB_SERVER_URL", "https://github.example")
        monkeypatch.setenv("GITHUB_RUN_ID", "4242")
        yield server


def comment(*args: str):  # type: ignore[no-untyped-def]
    return run("github", "comment", *args)


def test_create_then_update_in_place(github: FakeGitHub, plans: dict[str, Path]) -> None:
    first = comment("--target", "prod", "--plan-json", str(plans["changes"]))
    assert first.exit_code == 0, first.output
    assert first.stdout.startswith("appsync: created the plan comment for prod: https://")
    [created] = github.on(REPO, PR)
    body = created["body"]
    assert body.startswith("<!-- appsync-plan:prod -->\n## appsync plan for prod")
    assert "29 to create" in body and "create page **Invoice List**" in body
    run_url = "https://github.example/acme/apps/actions/runs/4242"
    assert f"[JSON plan]({run_url})" in body and "for commit 0123456789ab" in body

    second = comment("--target", "prod", "--plan-json", str(plans["none"]))
    assert second.exit_code == 0, second.output
    assert second.stdout.startswith("appsync: updated the plan comment for prod")
    [updated] = github.on(REPO, PR)  # no duplicate
    assert updated["id"] == created["id"]
    assert "## appsync plan for `prod`: no changes" in updated["body"]
    assert "No changes. The target matches the repo. 29 unchanged." in updated["body"]
    assert "to create" not in updated["body"]  # nothing of the stale plan is left
    assert github.methods() == ["GET", "POST", "GET", "PATCH"]
    patch = github.received[-1]
    assert patch.path == f"/repos/{REPO}/issues/comments/{created['id']}"
    assert patch.body == {"body": updated["body"]}


def test_every_request_is_authenticated(github: FakeGitHub, plans: dict[str, Path]) -> None:
    assert comment("--target", "prod", "--plan-json", str(plans["changes"])).exit_code == 0
    assert github.received
    for request in github.received:
        assert request.headers["authorization"] == f"Bearer {TOKEN}"
        assert request.headers["accept"] == "application/vnd.github+json"
        assert request.headers["x-github-api-version"] == "2022-11-28"
        assert request.headers["user-agent"].startswith("appsync/")
    assert github.received[0].query["per_page"] == ["100"]


def test_conflicts_are_called_out(github: FakeGitHub, plans: dict[str, Path]) -> None:
    result = comment("--target", "dev", "--plan-json", str(plans["conflict"]))
    assert result.exit_code == 0, result.output
    [posted] = github.on(REPO, PR)
    assert posted["body"].startswith(
        "<!-- appsync-plan:dev -->\n> **1 conflict(s)**: resolve them before this can be applied."
    )
    assert "conflict query **Open Invoices**" in posted["body"]


def test_error_replaces_the_plan(
    github: FakeGitHub, plans: dict[str, Path], tmp_path: Path
) -> None:
    old = github.add(REPO, PR, marker("prod") + "\nan old plan: 29 to create", login=BOT)
    errors = tmp_path / "errors.txt"
    errors.write_text(
        "appsync: error: environment 'prod': variable APPSYNC_PROD_URL is empty\n"
        "a line with ``` backticks and <b>html</b> and @someone\n"
    )
    result = comment("--target", "prod", "--error-file", str(errors), "--exit-code", "1")
    assert result.exit_code == 0, result.output
    [posted] = github.on(REPO, PR)
    assert posted["id"] == old
    body = posted["body"]
    assert body.startswith("<!-- appsync-plan:prod -->\n## appsync plan for `prod`: error (exit 1)")
    assert "29 to create" not in body and "out of date" in body
    # verbatim inside a fence longer than any backtick run in the output
    assert (
        "````text\nappsync: error: environment 'prod': variable APPSYNC_PROD_URL is empty\n" in body
    )
    assert "<b>html</b> and @someone\n````\n" in body


def test_one_comment_per_target(github: FakeGitHub, plans: dict[str, Path]) -> None:
    for target in ("staging", "prod", "staging"):
        result = comment("--target", target, "--plan-json", str(plans["changes"]))
        assert result.exit_code == 0, result.output
    bodies = [c["body"].splitlines()[0] for c in github.on(REPO, PR)]
    assert bodies == ["<!-- appsync-plan:staging -->", "<!-- appsync-plan:prod -->"]
    assert github.methods() == ["GET", "POST", "GET", "POST", "GET", "PATCH"]
    keyed = comment("--target", "prod", "--key", "apps/eu:prod", "--plan-json", str(plans["none"]))
    assert keyed.exit_code == 0 and len(github.on(REPO, PR)) == 3


def test_our_comment_on_page_two(github: FakeGitHub, plans: dict[str, Path]) -> None:
    github.page_size = 2
    for n in range(3):
        github.add(REPO, PR, f"review comment {n}")
    ours = github.add(REPO, PR, marker("prod") + "\nold", login=BOT)
    github.add(REPO, PR, "a later comment")
    result = comment("--target", "prod", "--plan-json", str(plans["none"]))
    assert result.exit_code == 0, result.output
    assert github.methods() == ["GET", "GET", "PATCH"]
    assert github.received[1].query["page"] == ["2"]
    assert github.received[2].path.endswith(f"/issues/comments/{ours}")
    assert len(github.on(REPO, PR)) == 5


def test_not_found_on_any_page_creates(github: FakeGitHub, plans: dict[str, Path]) -> None:
    github.page_size = 2
    for n in range(5):
        github.add(REPO, PR, f"review comment {n}")
    assert comment("--target", "prod", "--plan-json", str(plans["none"])).exit_code == 0
    assert github.methods() == ["GET", "GET", "GET", "POST"]
    assert len(github.on(REPO, PR)) == 6


def test_author_filter_skips_a_lookalike(github: FakeGitHub, plans: dict[str, Path]) -> None:
    github.add(REPO, PR, marker("prod") + "\nnot from the workflow", login="mallory")
    args = ["--target", "prod", "--plan-json", str(plans["none"]), "--author", BOT]
    assert comment(*args).exit_code == 0
    mallory, ours = github.on(REPO, PR)
    assert mallory["body"].endswith("not from the workflow") and ours["user"]["login"] == BOT


def test_error_output_is_cut_to_github_s_limit(github: FakeGitHub, tmp_path: Path) -> None:
    errors = tmp_path / "errors.txt"
    errors.write_text("".join(f"appsync: error: problem number {n}\n" for n in range(10000)))
    assert comment("--target", "prod", "--error-file", str(errors)).exit_code == 0
    [posted] = github.on(REPO, PR)
    body = posted["body"]
    assert 60000 < len(body) <= BODY_LIMIT
    assert "… Truncated to fit GitHub's limit on a comment's length: the job's log holds" in body
    assert body.count("```text\n") == 1 and body.rstrip().endswith("</sub>")
    assert "\n```\n\n---\n<sub>Error" in body  # the code block is closed before the footer


def test_a_huge_plan_stays_within_the_limit() -> None:
    changes = tuple(
        Change(
            app=f"app-{n % 40}",
            kind="page",
            id=f"id-{n}",
            name=f"page {n} " + "x" * 80,
            path=f"apps/app-{n % 40}/ui/pages/p{n}.json",
            action="create",
            risk="low",
        )
        for n in range(3000)
    )
    plan = Plan(
        source=Source(commit="c" * 40),
        target=TargetInfo(name="prod"),
        summary={"create": 3000},
        risk="low",
        changes=changes,
    )
    body = plan_body("prod", "prod", plan, RunInfo(artifact_url="https://x/artifacts/1"))
    assert len(body) <= BODY_LIMIT and "3000 to create" in body
    assert body.endswith("[JSON plan](https://x/artifacts/1)</sub>\n")


def test_fit_closes_what_it_cuts_open() -> None:
    text = "<details><summary>app</summary>\n\n```diff\n" + "+ line\n" * 20000 + "```\n</details>\n"
    body = fit("<!-- m -->\n", text, "\n---\nfooter\n", "see the JSON plan.")
    assert len(body) <= BODY_LIMIT
    assert body.endswith(
        "```\n</details>\n\n**Truncated to fit GitHub's limit on a comment's length**: "
        "see the JSON plan.\n\n---\nfooter\n"
    )
    short = fit("a", "b", "c", "never shown")
    assert short == "abc"


def test_marker_hides_a_url_target() -> None:
    hidden = marker("postgresql://app:secret@db/prod")
    assert "secret" not in hidden and hidden.startswith("<!-- appsync-plan:sha256:")
    assert marker("prod") == "<!-- appsync-plan:prod -->"
    assert "-->" not in marker("x --> y")[:-3]


@pytest.mark.parametrize(
    ("fail", "expected"),
    [
        ({"GET": 401}, "GET /repos/acme/apps/issues/7/comments: HTTP 401 Bad credentials"),
        ({"GET": 500}, "GET /repos/acme/apps/issues/7/comments: HTTP 500 Server Error"),
        (
            {"POST": 403},
            "POST /repos/acme/apps/issues/7/comments: HTTP 403 Resource not accessible by "
            "integration"
            " (the token needs permission to write pull request comments",
        ),
    ],
)
def test_github_errors_are_one_line_and_exit_1(
    github: FakeGitHub, plans: dict[str, Path], fail: dict[str, int], expected: str
) -> None:
    github.fail = fail
    result = comment("--target", "prod", "--plan-json", str(plans["changes"]))
    assert result.exit_code == 1
    [line] = result.stderr.splitlines()
    assert line.startswith(f"appsync: error: GitHub API {expected}"), line
    assert TOKEN not in result.output


def test_a_wrong_token_is_401(
    github: FakeGitHub, plans: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "wrong")
    result = comment("--target", "prod", "--plan-json", str(plans["changes"]))
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"appsync: error: GitHub API GET /repos/{REPO}/issues/7/comments: HTTP 401 Bad credentials"
    ]
    assert github.received[0].headers["authorization"] == "Bearer wrong"


def test_unreachable_github(plans: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    with serving(FakeGitHub()) as gone:
        url = gone.url
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    monkeypatch.setenv("GITHUB_API_URL", url)
    result = comment(
        "--target", "prod", "--plan-json", str(plans["changes"]), "--repository", REPO, "--pr", "3"
    )
    assert result.exit_code == 1
    [line] = result.stderr.splitlines()
    assert line.startswith(
        f"appsync: error: GitHub API GET /repos/acme/apps/issues/3/comments: cannot reach {url}"
    )


def test_a_link_to_another_host_is_refused(github: FakeGitHub, plans: dict[str, Path]) -> None:
    github.page_size = 1
    github.link_base = "https://evil.example"
    github.add(REPO, PR, "first")
    github.add(REPO, PR, "second")
    result = comment("--target", "prod", "--plan-json", str(plans["none"]))
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "appsync: error: GitHub API: refusing a pagination link to https://evil.example"
    ]
    assert github.methods() == ["GET"]


def test_pr_number_from_the_option_and_missing_settings(
    github: FakeGitHub, plans: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    args = ["--target", "prod", "--plan-json", str(plans["none"])]
    assert comment(*args, "--pr", "12").exit_code == 0
    assert github.on(REPO, 12) and not github.on(REPO, PR)
    not_a_plan = plans["none"].with_name("not-a-plan.json")
    not_a_plan.write_text('{"hello": 1}')
    bad_plan = comment("--target", "prod", "--plan-json", str(not_a_plan))
    assert bad_plan.exit_code == 1 and "not a plan" in bad_plan.stderr
    monkeypatch.delenv("GITHUB_EVENT_PATH")
    no_pr = comment(*args)
    assert no_pr.exit_code == 1 and no_pr.stderr.startswith(
        "appsync: error: no pull request number"
    )
    monkeypatch.delenv("GITHUB_TOKEN")
    no_token = comment(*args, "--pr", "12")
    assert no_token.stderr.splitlines() == [
        "appsync: error: GITHUB_TOKEN is not set: the comment needs a token of the workflow run"
    ]
    both = comment(*args, "--error-file", str(plans["none"]))
    assert both.exit_code == 1 and "not both" in both.stderr
