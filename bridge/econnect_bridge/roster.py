"""Which tags and people exist on the engine, for pre-creating their Home Assistant entities.

Users of peer systems complain that person entities only appear after the first sighting.
When the account may read the roster (`GET /api/v1/Tags`, `GET /api/v1/people?tagId=`), the
bridge learns every tag and every tagged person at start and announces them before anyone is
seen. Without the permission it says so once and carries on with the configured names.
People and tags a rule excludes on every camera are left out: their entities would publish
the names the exclusion keeps quiet (a person excluded on some cameras keeps their entities).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from econnect_bridge.client import EconnectClient
from econnect_identities.errors import EconnectError, EconnectPermissionError
from econnect_identities.rules import FaceRule, hidden_everywhere, tag_excluded_everywhere

_LOGGER = logging.getLogger(__name__)
#: A roster larger than this is not turned into entities (it would flood Home Assistant).
MAX_SUBJECTS = 500


@dataclass(frozen=True, slots=True)
class Roster:
    """Tag names and person names read from the engine."""

    tags: tuple[str, ...] = ()
    persons: tuple[str, ...] = ()


def read_roster(
    client: EconnectClient,
    only_tags: tuple[str, ...] = (),
    rules: Sequence[FaceRule] = (),
) -> Roster:
    """Read enabled tags (all, or those named in `only_tags`) and the people carrying them.

    Tags and people that `rules` exclude on every camera are left out.
    """
    try:
        tags = [t for t in client.tags() if not t.disabled]
        wanted = {name.casefold() for name in only_tags}
        if wanted:
            tags = [t for t in tags if t.name.casefold() in wanted]
        persons: dict[str, None] = {}
        hidden: set[str] = set()
        for tag in tags:
            for person in client.people(tag.tag_id):
                if hidden_everywhere(rules, person, tag.name):
                    hidden.add(person.display_name)
                else:
                    persons[person.display_name] = None
    except EconnectPermissionError:
        _LOGGER.warning(
            "homeassistant.roster is on, but the account may not read tags and people "
            "(it needs 'Read All Identity'): only the configured persons and tags get entities"
        )
        return Roster()
    except EconnectError as err:
        _LOGGER.warning("Could not read the roster from the engine: %s", err)
        return Roster()
    names = tuple(t.name for t in tags if not tag_excluded_everywhere(rules, t.name))
    for name in hidden:  # excluded through one tag: hidden, whichever other tag listed them
        persons.pop(name, None)
    if len(names) + len(persons) > MAX_SUBJECTS:
        _LOGGER.warning("The roster has more than %d tags and people: not announced", MAX_SUBJECTS)
        return Roster()
    return Roster(tags=names, persons=tuple(persons))
