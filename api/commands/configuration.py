"""`microcred check-config`: what a deployment has yet to decide, and what is unsafe."""

import argparse

from pydantic import ValidationError

from plumbing.settings import Settings
from plumbing.settings_check import findings, settings_problems


def check_config(_args: argparse.Namespace) -> int:
    try:
        # Read afresh, not the cached copy: the point is what the environment says now.
        settings = Settings()
    except ValidationError as error:
        for problem in settings_problems(error).split("; "):
            print(f"invalid  {problem}")
        return 1
    found = findings(settings)
    for finding in found:
        print(finding.line())
    counts = {kind: sum(f.kind == kind for f in found) for kind in ("unset", "default", "unsafe")}
    if not found:
        print("nothing unset, no University of Arizona defaults, nothing unsafe")
        return 0
    print(f"{counts['unset']} unset, {counts['default']} University of Arizona default(s), "
          f"{counts['unsafe']} unsafe")
    return 1 if counts["unset"] or counts["unsafe"] else 0


def add_commands(parser: argparse.ArgumentParser) -> None:
    parser.set_defaults(run=check_config)
