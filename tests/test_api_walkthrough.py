"""docs/api-walkthrough.md stays true: every curl command in it runs against the app, with
the demo's people, and answers what the document says."""

import json
import re
import shlex
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session

from api.demo import seed
from plumbing.settings import Settings

WALKTHROUGH = Path(__file__).resolve().parent.parent / "docs" / "api-walkthrough.md"
PEOPLE = {"ALICE": "alice", "BOB": "bob", "CAROL": "badge", "RITA": "rita", "RAVI": "ravi"}


def blocks() -> list[str]:
    return re.findall(r"```sh\n(.*?)```", WALKTHROUGH.read_text(), re.S)


def demo_tokens(session: Session, settings: Settings) -> dict[str, str]:
    printed = seed(session, settings)
    by_name = dict(re.findall(r"(\w+)@arizona\.edu\s+(mc_\S+)", printed))
    return {variable: by_name[name] for variable, name in PEOPLE.items()}


def contains(found: Any, key: str, value: Any) -> bool:
    """Whether `key: value` appears anywhere in an answer."""
    if isinstance(found, dict):
        return found.get(key) == value or any(contains(v, key, value) for v in found.values())
    if isinstance(found, list):
        return any(contains(item, key, value) for item in found)
    return False


def run_curl(client: TestClient, command: str, variables: dict[str, str],
             files: dict[str, str]) -> Any:
    argv = shlex.split(command.replace("\\\n", " "))
    assert argv[0] == "curl", command
    method, url, headers, body, form = "GET", "", {}, None, []
    words = iter(argv[1:])
    for word in words:
        if word == "-s":
            continue
        if word == "-X":
            method = next(words)
        elif word == "-H":
            name, value = next(words).split(": ", 1)
            headers[name] = value
        elif word == "-d":
            body = next(words)
        elif word == "-F":
            form.append(next(words))
        else:
            url = word
    expand = lambda text: re.sub(r"\$(\w+)", lambda m: variables[m.group(1)], text)  # noqa: E731
    url = expand(url).removeprefix(variables["BASE"])
    headers = {name: expand(value) for name, value in headers.items()}
    data: dict[str, str] = {}
    uploads = {}
    for field in form:
        name, value = field.split("=", 1)
        if value.startswith("@"):
            filename, _, kind = value[1:].partition(";type=")
            uploads[name] = (filename, files[filename].encode(), kind)
        else:
            data[name] = value
    if uploads:
        return client.request(method, url, headers=headers, data=data, files=uploads)
    content = None if body is None else expand(body).encode()
    return client.request(method, url, headers=headers, content=content)


def test_every_command_of_the_api_walkthrough_answers_as_the_document_says(
        client: TestClient, session: Session, settings: Settings) -> None:
    variables = {"BASE": "http://127.0.0.1:8000", **demo_tokens(session, settings)}
    files: dict[str, str] = {}
    ran = 0
    for block in blocks():
        if block.startswith("export BASE"):
            continue
        heredoc = re.fullmatch(r"cat > (\S+) <<'EOF'\n(.*)\nEOF\n", block, re.S)
        if heredoc:
            files[heredoc.group(1)] = heredoc.group(2)
            continue
        command = "\n".join(line for line in block.splitlines()
                            if not line.startswith(("#", "export ")))
        expected = re.search(r"^# (\d{3})(?::\s*(.*))?$", block, re.M)
        assert expected, block
        answer = run_curl(client, command, variables, files)
        assert answer.status_code == int(expected.group(1)), (command, answer.text)
        ran += 1
        if "export ID=" in block:
            variables["ID"] = str(answer.json()["id"])
        for key, value in re.findall(r'"(\w+)": ("[^"]*"|\d+|true|false)',
                                     expected.group(2) or ""):
            if key != "id":
                assert contains(answer.json(), key, json.loads(value)), (key, value, answer.text)
    assert ran == 13
    assert contains(client.get("/api/credentials").json(), "title", "Geospatial Data Skills")
