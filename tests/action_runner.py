"""Run a composite action's steps the way the GitHub runner does, for tests: ``${{ }}``
expressions (the subset action.yml uses), ``if:`` with the status functions, step ``env``,
``GITHUB_OUTPUT`` and ``GITHUB_PATH``, ``shell: bash`` as ``bash --noprofile --norc -eo
pipefail``. A ``uses:`` step (another action) runs a stand-in the test supplies.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_TEMPLATE = re.compile(r"\$\{\{(.*?)\}\}", re.S)
_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<num>\d+(?:\.\d+)?)|(?P<op>==|!=|&&|\|\||[!()])"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_-]*(?:\.[A-Za-z_][A-Za-z0-9_-]*)*))"
)
STATUS_FUNCTIONS = ("always", "success", "failure", "cancelled")

Standin = Callable[[dict[str, str]], dict[str, str]]


class Expression:
    """A parser for GitHub's expression language, as far as an action needs it."""

    def __init__(self, text: str, context: Mapping[str, Any], failed: bool) -> None:
        self.tokens = self._tokenize(text)
        self.position = 0
        self.context = context
        self.failed = failed

    @staticmethod
    def _tokenize(text: str) -> list[tuple[str, str]]:
        tokens, position = [], 0
        while text[position:].strip():
            match = _TOKEN.match(text, position)
            if not match:
                raise ValueError(f"cannot parse expression at {text[position:]!r}")
            kind = match.lastgroup or ""
            tokens.append((kind, match.group(kind)))
            position = match.end()
        return tokens

    def value(self) -> Any:
        result = self._or()
        if self.position != len(self.tokens):
            raise ValueError(f"unexpected {self.tokens[self.position]}")
        return result

    def _peek(self) -> str | None:
        return self.tokens[self.position][1] if self.position < len(self.tokens) else None

    def _take(self) -> tuple[str, str]:
        self.position += 1
        return self.tokens[self.position - 1]

    def _or(self) -> Any:
        left = self._and()
        while self._peek() == "||":
            self._take()
            right = self._and()
            left = left if truthy(left) else right
        return left

    def _and(self) -> Any:
        left = self._compare()
        while self._peek() == "&&":
            self._take()
            right = self._compare()
            left = right if truthy(left) else left
        return left

    def _compare(self) -> Any:
        left = self._unary()
        while self._peek() in ("==", "!="):
            op = self._take()[1]
            right = self._unary()
            same = equal(left, right)
            left = same if op == "==" else not same
        return left

    def _unary(self) -> Any:
        if self._peek() == "!":
            self._take()
            return not truthy(self._unary())
        if self._peek() == "(":
            self._take()
            inner = self._or()
            assert self._take()[1] == ")"
            return inner
        kind, text = self._take()
        if kind == "str":
            return text[1:-1].replace("''", "'")
        if kind == "num":
            return float(text)
        if text in ("true", "false"):
            return text == "true"
        if text == "null":
            return None
        if text in STATUS_FUNCTIONS and self._peek() == "(":
            self._take()
            assert self._take()[1] == ")"
            return {
                "always": True,
                "success": not self.failed,
                "failure": self.failed,
                "cancelled": False,
            }[text]
        value: Any = self.context
        for part in text.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
        return value


def truthy(value: Any) -> bool:
    return value not in (None, False, "", 0, 0.0)


def equal(left: Any, right: Any) -> bool:
    """GitHub's loose equality: strings ignore case; different types compare as numbers
    (null and '' are 0, so a missing output equals '')."""
    if isinstance(left, str) and isinstance(right, str):
        return left.casefold() == right.casefold()
    if type(left) is type(right):
        return bool(left == right)
    return _number(left) == _number(right)  # NaN equals nothing


def _number(value: Any) -> float:
    if value is None:
        return 0.0
    if isinstance(value, bool | int | float):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return 0.0
        try:
            return float(text)
        except ValueError:
            return float("nan")
    return float("nan")


def evaluate(text: str, context: Mapping[str, Any], failed: bool = False) -> Any:
    return Expression(text, context, failed).value()


def render(text: str, context: Mapping[str, Any]) -> str:
    """A string with every ``${{ expression }}`` replaced by its value."""

    def value(match: re.Match[str]) -> str:
        result = evaluate(match.group(1), context)
        if result is None:
            return ""
        if isinstance(result, bool):
            return str(result).lower()
        if isinstance(result, float) and result.is_integer():
            return str(int(result))
        return str(result)

    return _TEMPLATE.sub(value, text)


def condition(text: str | None, context: Mapping[str, Any], failed: bool) -> bool:
    """An ``if:``: without a status function, ``success() &&`` is implied."""
    if text is None:
        return not failed
    text = str(text).strip()
    if text.startswith("${{") and text.endswith("}}"):
        text = text[3:-2]
    uses_status = any(re.search(rf"\b{f}\s*\(", text) for f in STATUS_FUNCTIONS)
    result = truthy(evaluate(text, context, failed))
    return result if uses_status else result and not failed


@dataclass
class StepRun:
    name: str
    id: str | None
    ran: bool
    returncode: int = 0
    stdout: str = ""
    stderr: str = ""
    outputs: dict[str, str] = field(default_factory=dict)


@dataclass
class ActionRun:
    steps: list[StepRun]
    outputs: dict[str, str]

    @property
    def failed(self) -> bool:
        return any(s.returncode for s in self.steps)

    def step(self, name: str) -> StepRun:
        return next(s for s in self.steps if s.name == name)

    @property
    def log(self) -> str:
        return "".join(s.stdout + s.stderr for s in self.steps)


def run_action(
    action: dict[str, Any],
    action_path: Path,
    inputs: Mapping[str, str],
    *,
    github: Mapping[str, Any],
    env: Mapping[str, str],
    workspace: Path,
    runner_temp: Path,
    uses: Mapping[str, Standin],
) -> ActionRun:
    """Run ``action`` (a parsed action.yml) with ``inputs``; ``github`` is the github
    context (``event``, ``token``, ...), ``env`` the job's environment."""
    context: dict[str, Any] = {"github": {**github, "action_path": str(action_path)}}
    values = {}
    for name, spec in (action.get("inputs") or {}).items():
        default = render(str(spec.get("default", "")), context)
        values[name] = inputs.get(name, default)
    unknown = set(inputs) - set(values)
    if unknown:
        raise ValueError(f"inputs the action does not declare: {sorted(unknown)}")
    context["inputs"] = values
    context["steps"] = steps_context = {}
    paths: list[str] = []
    failed = False
    runs: list[StepRun] = []
    for number, step in enumerate(action["runs"]["steps"]):
        name = step.get("name", f"step {number}")
        if not condition(step.get("if"), context, failed):
            runs.append(StepRun(name, step.get("id"), ran=False))
            continue
        if "uses" in step:
            given = {k: render(str(v), context) for k, v in (step.get("with") or {}).items()}
            outputs = dict(uses[step["uses"]](given))
            result = StepRun(name, step.get("id"), ran=True, outputs=outputs)
        else:
            result = _run_bash(step, name, context, env, paths, workspace, runner_temp, number)
        runs.append(result)
        failed = failed or result.returncode != 0
        if step.get("id"):
            steps_context[step["id"]] = {
                "outputs": result.outputs,
                "outcome": "failure" if result.returncode else "success",
            }
    outputs = {
        name: render(str(spec.get("value", "")), context)
        for name, spec in (action.get("outputs") or {}).items()
    }
    return ActionRun(runs, outputs)


def _run_bash(
    step: dict[str, Any],
    name: str,
    context: Mapping[str, Any],
    env: Mapping[str, str],
    paths: list[str],
    workspace: Path,
    runner_temp: Path,
    number: int,
) -> StepRun:
    assert step.get("shell") == "bash", f"{name}: only shell: bash is supported here"
    script = runner_temp / f"step-{number}.sh"
    script.write_text(step["run"])
    output_file, path_file = runner_temp / f"output-{number}", runner_temp / f"path-{number}"
    output_file.write_text("")
    path_file.write_text("")
    step_env = {k: render(str(v), context) for k, v in (step.get("env") or {}).items()}
    full_env = {
        **env,
        **step_env,
        "GITHUB_OUTPUT": str(output_file),
        "GITHUB_PATH": str(path_file),
        "GITHUB_ACTION_PATH": str(context["github"]["action_path"]),
        "RUNNER_TEMP": str(runner_temp),
        "PATH": os.pathsep.join([*reversed(paths), env.get("PATH", "")]),
    }
    done = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
        cwd=workspace,
        env=full_env,
        capture_output=True,
        text=True,
    )
    paths.extend(line for line in path_file.read_text().splitlines() if line)
    return StepRun(
        name,
        step.get("id"),
        ran=True,
        returncode=done.returncode,
        stdout=done.stdout,
        stderr=done.stderr,
        outputs=_outputs(output_file.read_text()),
    )


def _outputs(text: str) -> dict[str, str]:
    """``name=value`` lines and ``name<<DELIMITER`` blocks, as GitHub reads them."""
    outputs: dict[str, str] = {}
    lines = iter(text.splitlines())
    for line in lines:
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            key, delimiter = line.split("<<", 1)
            block = []
            for inner in lines:
                if inner == delimiter:
                    break
                block.append(inner)
            outputs[key] = "\n".join(block)
        elif "=" in line:
            key, value = line.split("=", 1)
            outputs[key] = value
    return outputs
