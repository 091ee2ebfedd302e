"""Which tags and people exist on the engine, for pre-creating their Home Assistant entities.

Users of peer systems complain that person entities only appear after the first sighting.
When the account may read the roster (`GET /api/v1/Tags`, `GET /api/v1/people?tagId=`), the
bridge learns every tag and every tagged person at start and announces them before anyone is
seen. Without the permission it says so once and carries on with the configured names.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from econnect_bridge.client import EconnectClient
from econnect_identities.errors import EconnectError, EconnectPermissionError

_LOGGER = logging.getLogger(__name__)
#: A roster larger than this is not turned into entities (it would flood Home Assistant).
MAX_SUBJECTS = 500


@dataclass(frozen=True, slots=True)
class Roster:
    """Tag names and person names read from the engine."""

    tags: tuple[str, ...] = ()
    persons: tuple[str, ...] = ()


def read_roster(client: EconnectClient, only_tags: tuple[str, ...] = ()) -> Roster:
    """Read enabled tags (all, or those named in `only_tags`) and the people carrying them."""
    try:
        tags = [t for t in client.tags() if not t.disabled]
        wanted = {name.casefold() for name in only_tags}
        if wanted:
            tags = [t for t in tags if t.name.casefold() in wanted]
        persons: dict[str, None] = {}
        for tag in tags:
            for person in client.people(tag.tag_id):
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
    names = tuple(t.name for t in tags)
    if len(names) + len(persons) > MAX_SUBJECTS:
        _LOGGER.warning("The roster has more than %d tags and people: not announced", MAX_SUBJECTS)
        return Roster()
    return Roster(tags=names, persons=tuple(persons))
