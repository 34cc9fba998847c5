"""schemathesis against the app's own /openapi.json, with real tokens of every role.

Each operation gets a bounded number of generated requests, valid and invalid, from
several callers; then the stateful mode follows the document's links (create a proposal,
then read, edit, list its actions and fire them). Every answer must be under 500, carry a
status code the operation declares, and fit the schema declared for that code; invalid
input must be refused with a 4xx.
"""

from collections.abc import Callable
from itertools import count
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import initialize, rule
from pydantic import SecretStr
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.generation.stateful.state_machine import StepInput, StepOutput
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import Engine

from api.app import create_app
from api.demo import sample_proposal
from plumbing.settings import Settings
from tests.conftest import Person, World, force_state

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
EXAMPLES_PER_OPERATION = 25  # per generation mode and database
SCENARIOS = 40
STEPS_PER_SCENARIO = 20
# Deterministic, and no shrinking: a failure prints its request as generated, within the budget.
QUICK = settings(deadline=None, database=None, derandomize=True,
                 suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
FUZZ = settings(QUICK, max_examples=EXAMPLES_PER_OPERATION)
OWNER_TRIGGERS = {"submit", "resubmit", "withdraw"}


def callers(world: World) -> list[Person | None]:
    """Everyone the fuzzer speaks as; None sends no credentials."""
    return [world.owner, world.co_author, world.lead, world.other_lead, world.outsider,
            world.coordinator, world.reviewer, world.admin, None]


def headers_of(person: Person | None) -> dict[str, str]:
    return person.headers if person else {}


@pytest.fixture
def app(engine: Engine, world: World, settings: Settings, tmp_path: Path) -> FastAPI:
    """The service, with proposals in several states whose ids the generator will try."""
    world.proposal("Applied Data Storytelling")
    world.fire(world.proposal("Data Ethics in Practice"), "submit", world.owner)
    force_state(engine, world.proposal("Cloud Operations Foundations").id or 0, "rubric_review")
    # With inbound email and awards on, their real checks are fuzzed (off, they answer 503).
    inbound = SecretStr("fuzz-inbound")
    return create_app(settings.model_copy(update={
        "inbound_secret": inbound, "signing_key_file": str(tmp_path / "signing.pem")}), engine)


def load_schema(app: FastAPI) -> Any:
    """The app's own document; tokens come from the test, so the generator leaves them alone."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    schema.config.generation.update(with_security_parameters=False)
    return schema


def fuzz_operation(operation: Any, mode: GenerationMode, people: list[Person | None]
                   ) -> Callable[[], None]:
    @FUZZ
    @given(case=operation.as_strategy(generation_mode=mode), person=st.sampled_from(people))
    def requests_from_anyone(case: Any, person: Person | None) -> None:
        headers = headers_of(person)
        response = case.call(headers=headers)
        case.validate_response(response, checks=CHECKS, headers=headers)

    return requests_from_anyone


def test_every_operation_answers_within_its_declared_schema(app: FastAPI, world: World) -> None:
    schema = load_schema(app)
    people = callers(world)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 20
    for operation in operations:
        raw = operation.definition.raw
        takes_input = bool(raw.get("parameters") or raw.get("requestBody"))
        # An operation without input has no invalid request to make.
        modes = [GenerationMode.POSITIVE] + ([GenerationMode.NEGATIVE] if takes_input else [])
        for mode in modes:
            fuzz_operation(operation, mode, people)()


def test_linked_sequences_from_several_roles_answer_within_their_schema(
    app: FastAPI, world: World
) -> None:
    schema = load_schema(app)
    approvers = [world.lead, world.coordinator, world.other_lead, world.co_author, world.admin]
    everyone = callers(world)
    # Who lists a proposal's actions, and so (mostly) who clicks one of them next.
    lookers = [world.lead, world.coordinator, world.owner, world.lead, world.coordinator,
               world.co_author, world.other_lead, None]
    answered: list[tuple[str, str, str | None, int]] = []

    machine = schema.as_state_machine()
    created = machine.bundles["POST /api/proposals -> 201"]
    create = schema["/api/proposals"]["POST"]
    fire = schema["/api/proposals/{proposal_id}/{trigger}"]["POST"]
    actions = schema["/api/proposals/{proposal_id}/actions"]["GET"]
    edit = schema["/api/proposals/{proposal_id}"]["PATCH"]
    fired = machine.bundles["POST /api/proposals/{proposal_id}/{trigger} -> 200"]

    def valid_body(title: str) -> dict[str, Any]:
        body = sample_proposal(title, "CS", co_authors=[world.co_author.email])
        return body.model_dump(mode="json")

    class Lifecycle(machine):  # type: ignore[misc,valid-type]
        def setup(self) -> None:
            self.turn = count()
            self.speaker: Person | None = None
            self.caller: Person | None = None
            self.looked: dict[object, Person | None] = {}

        def speak_as(self, person: Person, case: Any) -> StepOutput:
            step = StepInput.initial(case)
            self.recorder.record_case(case=step.case)
            self.control.record_step(step, self.recorder)
            self.speaker = person
            output: StepOutput = self._step(step)
            assert output.response.status_code in (200, 201), output.response.text
            return output

        # The generator seldom writes a proposal the service accepts (a real department, a
        # co-author who exists): start every scenario from a draft and a submitted proposal,
        # and let the links lead on from there.
        @initialize(target=created)
        def a_draft(self) -> StepOutput:
            return self.speak_as(world.owner, create.Case(body=valid_body("Fuzzed Draft")))

        @initialize(target=fired)
        def a_submitted_proposal(self) -> StepOutput:
            draft = self.speak_as(world.owner, create.Case(body=valid_body("Fuzzed Review")))
            submit = fire.Case(path_parameters={"proposal_id": draft.response.json()["id"],
                                                "trigger": "submit"})
            return self.speak_as(world.owner, submit)

        # The document's own link from a proposal's actions to firing one, walked on purpose
        # each scenario (the generator alone may never pick it): whoever is offered a ready
        # action takes it, so transitions past `submit` are always exercised.
        @rule(target=fired, previous=fired)
        def take_an_offered_action(self, previous: StepOutput) -> StepOutput:
            proposal_id = previous.response.json()["id"]
            for person in (world.lead, world.coordinator, world.owner):
                offered = self.speak_as(person, actions.Case(
                    path_parameters={"proposal_id": proposal_id})).response.json()
                ready = [a["trigger"] for a in offered if a["ready"]]
                if ready:
                    return self.speak_as(person, fire.Case(
                        path_parameters={"proposal_id": proposal_id, "trigger": ready[0]},
                        body={"comment": "Fuzzed: taken from the offered actions."}))
            return previous

        # The document's link from a new draft to its edit, walked on purpose too: the
        # generator seldom writes an edit the service accepts (plain text in every field).
        @rule(previous=created)
        def edit_the_draft(self, previous: StepOutput) -> None:
            proposal_id = previous.response.json()["id"]
            step = StepInput.initial(edit.Case(
                path_parameters={"proposal_id": proposal_id},
                body={"summary": "Edited as its owner would, through the EditProposal link."}))
            self.recorder.record_case(case=step.case)
            self.control.record_step(step, self.recorder)
            self.speaker = world.owner
            self._step(step)  # a draft the scenario has submitted since answers 409

        def caller_for(self, case: Any) -> Person | None:
            # Owners fire the owner's triggers; everyone else rotates, so each role gets turns.
            if self.speaker is not None:
                speaker, self.speaker = self.speaker, None
                return speaker
            turn = next(self.turn)
            trigger = (case.path_parameters or {}).get("trigger")
            if case.operation.method.upper() == "POST" and trigger in OWNER_TRIGGERS:
                return world.owner
            if trigger is not None:
                # Mostly whoever was last offered this trigger on this proposal clicks it.
                looked = self.looked.get(((case.path_parameters or {}).get("proposal_id"),
                                          trigger))
                if looked is not None and turn % 4:
                    return looked
                return approvers[turn % len(approvers)]
            if case.operation.path.endswith("/actions"):
                return lookers[turn % len(lookers)]
            if case.operation.path in ("/api/proposals", "/api/proposals/{proposal_id}"):
                return world.owner if turn % 3 else everyone[turn % len(everyone)]
            return everyone[turn % len(everyone)]

        def after_call(self, response: Any, case: Any) -> None:
            super().after_call(response, case)
            if case.operation.path.endswith("/actions") and response.status_code == 200:
                # The link fires the first action offered; an empty list leads nowhere.
                for action in response.json()[:1]:
                    self.looked[((case.path_parameters or {}).get("proposal_id"),
                                 action["trigger"])] = self.caller
            answered.append((case.operation.method.upper(), case.operation.path,
                             (case.path_parameters or {}).get("trigger"), response.status_code))

        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            self.caller = self.caller_for(case)
            return {"headers": headers_of(self.caller)}

        def validate_response(self, response: Any, case: Any,
                              additional_checks: Any = None, **kwargs: Any) -> None:
            case.validate_response(response, checks=CHECKS, transport_kwargs=kwargs or None,
                                   recorder=self.recorder)

    Lifecycle.run(settings=settings(
        QUICK, max_examples=SCENARIOS, stateful_step_count=STEPS_PER_SCENARIO))
    # The links were followed: reads, edits, action lists and transitions succeeded on the
    # proposals the scenarios made, not only on ids the generator guessed.
    succeeded = {(method, path) for method, path, _trigger, code in answered if code < 300}
    assert {("GET", "/api/proposals/{proposal_id}"), ("PATCH", "/api/proposals/{proposal_id}"),
            ("GET", "/api/proposals/{proposal_id}/actions"),
            ("POST", "/api/proposals/{proposal_id}/{trigger}")} <= succeeded
    assert any(trigger not in (None, "submit") and code == 200
               for _method, _path, trigger, code in answered)


# --- the document itself, and what the fuzzer found ------------------------------------------

WITHOUT_DATABASE = {("get", "/api/health")}


def test_every_operation_declares_its_error_answers(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    missing = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            declared = set(operation["responses"])
            needed = set()
            if operation.get("security"):
                needed.add("401")
            if operation.get("parameters") or operation.get("requestBody"):
                needed.add("422")
            if operation.get("requestBody"):
                needed.add("400")
            if any(p["in"] == "path" for p in operation.get("parameters", [])):
                needed.add("404")
            if (method, path) not in WITHOUT_DATABASE:
                needed.add("503")
            if needed - declared:
                missing.append(f"{method.upper()} {path}: {sorted(needed - declared)}")
            for code in declared & needed:
                schema = operation["responses"][code]["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorBody"}, (path, code)
    assert missing == []


def test_a_body_that_is_not_utf8_is_422_and_changes_nothing(
    client: TestClient, world: World
) -> None:
    proposal = world.proposal()
    for content_type in ("application/octet-stream", None):
        headers = dict(world.owner.headers)
        if content_type:
            headers["Content-Type"] = content_type
        answer = client.post(f"/api/proposals/{proposal.id}/submit", content=b"\xff\x00 {",
                             headers=headers)
        assert answer.status_code == 422
        assert answer.json()["detail"][0]["loc"] == ["body"]
    assert client.get(f"/api/proposals/{proposal.id}", headers=world.owner.headers
                      ).json()["state"] == "draft"


def test_emptying_a_required_field_is_422_naming_it_and_changes_nothing(
    client: TestClient, world: World
) -> None:
    proposal = world.proposal()
    answer = client.patch(f"/api/proposals/{proposal.id}", headers=world.owner.headers,
                          json={"assessment": None, "summary": "A new summary"})
    assert answer.status_code == 422
    assert [problem["loc"] for problem in answer.json()["detail"]] == [["body", "assessment"]]
    after = client.get(f"/api/proposals/{proposal.id}", headers=world.owner.headers).json()
    assert (after["version"], after["summary"]) == (1, proposal.summary)
