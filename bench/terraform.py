"""Terraform beside appsync: the same objects as N ``terraform_data`` resources.

``terraform_data`` is built into Terraform (``terraform.io/builtin/terraform``), so
``terraform init`` downloads nothing and the comparison runs offline. One resource per
object, ``for_each`` over ``objects.json`` (id → the text of the object's JSON file and its
sidecars), a local backend in a temporary folder, default parallelism. The
1%-changed configuration is the tree after the same mutation appsync plans, so Terraform
sees exactly the objects appsync sees change.

With a local backend Terraform rewrites the whole state file after every resource it
creates, so an apply from empty grows with the square of N (about a minute for 1,000 objects
here, far over an hour for 10,000). Above ``apply_max`` the harness therefore writes the
state that apply would have written (a random id per resource aside) and says so in the
JSON; the no-op plan that follows checks Terraform accepts it as exactly the configuration.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

from measure import BenchError, Figure, Runner, expect_text

MAIN_TF = """\
locals {
  objects = jsondecode(file("${path.module}/objects.json"))
}

resource "terraform_data" "object" {
  for_each = local.objects
  input    = each.value
}
"""

#: Terraform's steps, and the appsync step each one is compared with.
STEPS = {
    "apply_empty": "full_apply",
    "noop_plan": "noop_plan",
    "noop_plan_no_refresh": "noop_plan",
    "plan_changed": "plan_changed",
    "apply_changed": "apply_changed",
}


def executable() -> str | None:
    return shutil.which("terraform")


def _sidecars(value: Any) -> list[str]:
    if isinstance(value, dict):
        if set(value) == {"sidecar"} and isinstance(value["sidecar"], str):
            return [value["sidecar"]]
        return [name for item in value.values() for name in _sidecars(item)]
    if isinstance(value, list):
        return [name for item in value for name in _sidecars(item)]
    return []


def tree_objects(root: Path) -> dict[str, str]:
    """Every object of a canonical tree (its ``*.json`` file whose stem has no dot, and its
    sidecars) as one JSON string per object id: ``{file name: text}``, binary sidecars in
    base64. A string per resource is how Terraform providers carry such documents (a
    dashboard's ``config_json = file(...)``); typed nested values cost Terraform far more."""
    objects: dict[str, str] = {}
    for folder in ("admin", "apps"):
        for path in sorted((root / folder).rglob("*.json")):
            if "." in path.stem:
                continue
            text = path.read_text()
            content, files = json.loads(text), {path.name: text}
            for name in _sidecars(content):
                data = (path.parent / name).read_bytes()
                try:
                    files[name] = data.decode()
                except UnicodeDecodeError:
                    files[name] = "base64:" + base64.b64encode(data).decode()
            objects[content["id"]] = json.dumps(files, sort_keys=True)
    return objects


def seeded_state(objects: dict[str, str], version: str) -> dict[str, Any]:
    """The state ``terraform apply`` writes for ``objects`` from empty."""
    instances = [
        {
            "index_key": key,
            "schema_version": 0,
            "attributes": {
                "id": str(uuid.uuid5(uuid.NAMESPACE_URL, key)),
                "input": {"value": value, "type": "string"},
                "output": {"value": value, "type": "string"},
                "triggers_replace": None,
            },
            "sensitive_attributes": [],
        }
        for key, value in sorted(objects.items())
    ]
    return {
        "version": 4,
        "terraform_version": version,
        "serial": 1,
        "lineage": str(uuid.uuid4()),
        "outputs": {},
        "resources": [
            {
                "mode": "managed",
                "type": "terraform_data",
                "name": "object",
                "provider": 'provider["terraform.io/builtin/terraform"]',
                "instances": instances,
            }
        ],
        "check_results": None,
    }


def version(tf: str) -> str:
    done = subprocess.run([tf, "version", "-json"], capture_output=True, text=True, check=True)
    return str(json.loads(done.stdout)["terraform_version"])


class TerraformBench:
    def __init__(self, runner: Runner, folder: Path, repeat: int, apply_max: int) -> None:
        self.runner = runner
        self.folder = folder
        self.repeat = repeat
        self.apply_max = apply_max
        self.tf = executable() or "terraform"
        #: Steps not measured, and why.
        self.skipped: dict[str, str] = {}

    def _cmd(self, *args: str) -> list[str]:
        return [self.tf, f"-chdir={self.folder}", *args, "-input=false", "-no-color"]

    def run(self, before: dict[str, str], after: dict[str, str]) -> dict[str, Figure]:
        """Apply ``before`` from empty, plan it again, then plan and apply ``after``."""
        count = len(before)
        changed = sum(1 for key, value in after.items() if before.get(key) != value)
        if set(before) != set(after) or not changed:
            raise BenchError("terraform: the changed tree must change objects, not ids")
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir(parents=True)
        (self.folder / "main.tf").write_text(MAIN_TF)
        objects = self.folder / "objects.json"
        objects.write_text(json.dumps(before))
        state = self.folder / "terraform.tfstate"
        saved = self.folder / "saved.tfstate"
        self.runner.once([self.tf, f"-chdir={self.folder}", "init", "-input=false", "-no-color"])
        steps: dict[str, Figure] = {}

        def from_empty(_: int) -> None:
            state.unlink(missing_ok=True)

        if count <= self.apply_max:
            steps["apply_empty"] = self.runner.measure(
                "terraform apply (from empty)",
                self._cmd("apply", "-auto-approve"),
                repeat=self.repeat,
                before=from_empty,
                check=expect_text(f"Resources: {count} added, 0 changed, 0 destroyed"),
            )
        else:
            state.write_text(json.dumps(seeded_state(before, version(self.tf)), indent=2))
            self.skipped["apply_empty"] = (
                f"above --terraform-apply-max {self.apply_max}: the harness wrote the state "
                "apply would (its time grows with the square of N)"
            )
        steps["noop_plan"] = self.runner.measure(
            "terraform plan (no-op)",
            self._cmd("plan", "-detailed-exitcode"),
            repeat=self.repeat,
            check=expect_text("No changes."),
        )
        steps["noop_plan_no_refresh"] = self.runner.measure(
            "terraform plan -refresh=false",
            self._cmd("plan", "-detailed-exitcode", "-refresh=false"),
            repeat=self.repeat,
            check=expect_text("No changes."),
        )
        objects.write_text(json.dumps(after))
        steps["plan_changed"] = self.runner.measure(
            "terraform plan (changed)",
            self._cmd("plan", "-detailed-exitcode"),
            repeat=self.repeat,
            expect=(2,),
            check=expect_text(f"Plan: 0 to add, {changed} to change, 0 to destroy."),
        )
        shutil.copyfile(state, saved)

        def restore(_: int) -> None:
            shutil.copyfile(saved, state)

        steps["apply_changed"] = self.runner.measure(
            "terraform apply (changed)",
            self._cmd("apply", "-auto-approve"),
            repeat=self.repeat,
            before=restore,
            check=expect_text(f"Resources: 0 added, {changed} changed, 0 destroyed"),
        )
        return steps
