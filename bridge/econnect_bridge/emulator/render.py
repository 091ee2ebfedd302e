"""Gallery objects → the vendor's JSON shapes, with the ``include*`` permission table.

The table is copied from publish-with-response.txt: a section is returned only when
``includePerson`` and the section's switch are both true and the caller holds at least one of
the section's permissions. ``personId`` and ``friendlyName`` come with every matched face when
``includePerson`` is true. A section the caller may not see is left out silently.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from econnect_bridge.emulator.gallery import (
    Address,
    Alias,
    EntityField,
    Gallery,
    Person,
    PersonTag,
    Tag,
)

__all__ = ["SECTIONS", "render_identity", "render_person", "render_tag"]

_READ_ALL = ("Read All Identity", "Mutate All Identity")

#: switch → (response key, permissions of which the caller needs any one)
SECTIONS: dict[str, tuple[str, frozenset[str]]] = {
    "includeNames": ("aliases", frozenset({*_READ_ALL, "Read Aliases"})),
    "includeAddresses": ("addresses", frozenset({*_READ_ALL, "Read Addresses"})),
    "includeTags": ("personTags", frozenset({*_READ_ALL, "Mutate Tags", "Read Tags"})),
    "includeFields": (
        "entityFields",
        frozenset({*_READ_ALL, "Mutate Entity Fields", "Read Entity Fields"}),
    ),
}


def _alias(alias: Alias) -> dict[str, Any]:
    return {
        "firstName": alias.first_name,
        "lastName": alias.last_name,
        "middleName": alias.middle_name,
        "title": alias.title,
    }


def _address(address: Address) -> dict[str, Any]:
    return {
        "street": address.street,
        "street2": address.street2,
        "city": address.city,
        "state": address.state,
        "postalCode": address.postal_code,
        "country": address.country,
    }


def _field(field: EntityField) -> dict[str, Any]:
    return {
        "name": field.name,
        "stringValue": field.string_value,
        "dateValue": field.date_value,
        "numberValue": field.number_value,
        "boolValue": field.bool_value,
    }


def _person_tag(gallery: Gallery) -> Callable[[PersonTag], dict[str, Any]]:
    def render(applied: PersonTag) -> dict[str, Any]:
        tag = gallery.tag(applied.tag_id)
        return {
            "tagId": applied.tag_id,
            "created": applied.created,
            "expires": applied.expires,
            "tag": {"name": tag.name if tag else None},
        }

    return render


def _sections(person: Person, gallery: Gallery) -> dict[str, list[dict[str, Any]]]:
    return {
        "aliases": [_alias(a) for a in person.aliases],
        "addresses": [_address(a) for a in person.addresses],
        "personTags": [_person_tag(gallery)(t) for t in person.tags],
        "entityFields": [_field(f) for f in person.entity_fields],
    }


def render_person(
    person: Person, gallery: Gallery, switches: Mapping[str, bool], permissions: frozenset[str]
) -> dict[str, Any]:
    """The ``person`` object of a matched face (call only when ``includePerson`` is true)."""
    out: dict[str, Any] = {"personId": person.person_id, "friendlyName": person.friendly_name}
    sections = _sections(person, gallery)
    for switch, (key, needs) in SECTIONS.items():
        if switches.get(switch) and permissions & needs:
            out[key] = sections[key]
    return out


def render_identity(person: Person, gallery: Gallery) -> dict[str, Any]:
    """A person as ``GET /api/v1/people`` returns it: every section.

    ``tags`` repeats ``personTags`` in the slimmer form of the vendor's Get Identity page, so a
    client written against either page finds what it expects.
    """
    out: dict[str, Any] = {"personId": person.person_id, "friendlyName": person.friendly_name}
    out.update(_sections(person, gallery))
    out["tags"] = [
        {"tagId": t.tag_id, "expires": t.expires, "created": t.created} for t in person.tags
    ]
    return out


def render_tag(tag: Tag) -> dict[str, Any]:
    """A tag as ``GET /api/v1/Tags`` returns it."""
    return {
        "tagId": tag.tag_id,
        "tagName": tag.name,
        "disabled": tag.disabled,
        "description": tag.description,
        "defaultExpirePeriod": tag.default_expire_period,
    }
