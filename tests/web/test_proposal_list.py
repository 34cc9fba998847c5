"""The proposal list: filters a coordinator with hundreds of proposals needs, kept across pages."""

import re
from collections.abc import Callable

from api.demo import sample_proposal
from tests.conftest import Person, World
from tests.web.conftest import Browser
from workflow import service
from workflow.audit import Channel

MakeBrowser = Callable[[Person | None], Browser]


def test_the_proposal_list_filters_by_state_department_and_mine_and_pages_keep_them(
    world: World, browser: MakeBrowser
) -> None:
    cs = [world.proposal(f"Computer Science Credential {n}") for n in range(53)]
    world.fire(cs[0], "submit", world.owner)
    math = service.create_proposal(world.session, sample_proposal("Applied Statistics", "MATH"),
                                   world.outsider.user, Channel.API)
    service.apply(world.session, math.id or 0, "submit", world.outsider.user, Channel.API,
                  settings=world.settings)
    coordinator = browser(world.coordinator)

    submitted = coordinator.get("/proposals?state=department_review").text
    assert "Computer Science Credential 0<" in submitted and "Applied Statistics" in submitted
    in_math = coordinator.get("/proposals?state=&department=MATH").text
    assert "Applied Statistics" in in_math and "Computer Science Credential 0<" not in in_math
    # The owner's own: 53 drafts in CS, 50 a page; the next page keeps the filters.
    owner = browser(world.owner)
    first = owner.get("/proposals?department=CS&mine=true").text
    assert first.count('href="/proposals/') - first.count('href="/proposals/new') == 50
    following = re.search(r'href="/proposals\?([^"]+)">Older proposals', first)
    assert following is not None
    assert "department=CS" in following.group(1) and "mine=true" in following.group(1)
    rest = owner.get("/proposals?" + following.group(1).replace("&amp;", "&")).text
    assert "Computer Science Credential 0<" in rest and "Older proposals" not in rest
    assert coordinator.get("/proposals?department=" + "X" * 17).status_code == 422
    unknown = coordinator.get("/proposals?state=approved")
    assert unknown.status_code == 422 and "no state named" in unknown.text
