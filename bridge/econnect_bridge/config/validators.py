"""Building blocks of the schema: checks with plain-language errors, options and sections.

Voluptuous walks the data (required keys, defaults, key paths); these callables do the
checking, because voluptuous' own messages ("expected int") say neither what was found nor
how to fix it. Every check has a `type_name` so the reference documentation can be generated
from the same objects that validate, and raises `InvalidValue` carrying expected, found and
a hint.
"""

from __future__ import annotations

import contextlib
import contextvars
import difflib
import math
import os
import re
import reprlib
import zoneinfo
from collections.abc import Callable, Hashable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Final
from urllib.parse import SplitResult, urlsplit, urlunsplit

import voluptuous as vol

from econnect_bridge.config.model import Secret

_BRIEF = reprlib.Repr()
_BRIEF.maxstring = 80
_BRIEF.maxother = 80
_BRIEF.maxlevel = 2
_BRIEF.maxlist = _BRIEF.maxtuple = _BRIEF.maxdict = _BRIEF.maxset = 4
_BRIEF.maxlong = 40

_NAME_RE: Final = re.compile(r"[A-Za-z0-9_-]+")
_TRUE: Final = frozenset({"true", "yes", "on"})
_FALSE: Final = frozenset({"false", "no", "off"})

#: Paths in the config are relative to the folder of the file being validated.
_BASE_DIR: contextvars.ContextVar[Path | None] = contextvars.ContextVar("base_dir", default=None)


class InvalidValue(vol.Invalid):
    """One invalid value or key, said as expected / found / how to fix.

    Attributes:
        expected: What was expected, as a phrase.
        found: What was found; callers must not put a secret here.
        hint: How to fix it, or None.
        about_key: True when the key itself is the problem (unknown key), not its value.
    """

    def __init__(
        self,
        expected: str,
        found: str,
        hint: str | None = None,
        path: list[Hashable] | None = None,
        *,
        about_key: bool = False,
    ) -> None:
        super().__init__(f"expected {expected}, found {found}", path)
        self.expected = expected
        self.found = found
        self.hint = hint
        self.about_key = about_key


def describe(value: Any) -> str:
    """Say briefly what a value is, for the "found" part of an error (bounded in size)."""
    if value is None:
        return "an empty value (null)"
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    if isinstance(value, int | float):
        return f"{_BRIEF.repr(value)} (a number)"
    if isinstance(value, str):
        return _BRIEF.repr(value) if value else "an empty string"
    if isinstance(value, dict):
        keys = ", ".join(_BRIEF.repr(key) for key in list(value)[:4])
        return f"a mapping (keys: {keys})" if value else "an empty mapping"
    if isinstance(value, list):
        count = len(value)
        return f"a list of {count} item{'' if count == 1 else 's'}" if value else "an empty list"
    return f"{type(value).__name__} {_BRIEF.repr(value)}"


def kind_of(value: Any) -> str:
    """Say what type a value is without showing it (for secrets)."""
    if isinstance(value, str) and not value:
        return "an empty string"
    return {
        bool: "a boolean",
        int: "a number",
        float: "a number",
        str: "a string",
        dict: "a mapping",
        list: "a list",
    }.get(type(value), "an empty value (null)" if value is None else type(value).__name__)


def closest(word: str, choices: Sequence[str], cutoff: float = 0.6) -> str | None:
    """Return the choice `word` most likely misspells (case-insensitive first), or None."""
    by_lower = {choice.lower(): choice for choice in choices}
    if word.lower() in by_lower:
        return by_lower[word.lower()]
    matches = difflib.get_close_matches(word.lower(), list(by_lower), n=1, cutoff=cutoff)
    return by_lower[matches[0]] if matches else None


def did_you_mean(word: str, choices: Sequence[str]) -> str | None:
    """Return ``did you mean '<choice>'?`` for a likely misspelling, or None."""
    match = closest(word, choices)
    return f"did you mean '{match}'?" if match else None


@contextlib.contextmanager
def relative_to(base_dir: Path) -> Iterator[None]:
    """Resolve relative file paths against `base_dir` while validating."""
    token = _BASE_DIR.set(base_dir)
    try:
        yield
    finally:
        _BASE_DIR.reset(token)


class Check:
    """A named validator: called with a value, returns the clean value or raises.

    Attributes:
        type_name: Short type description for the reference documentation.
        expected: The phrase that follows "expected" in error messages.
    """

    type_name: str = "value"
    expected: str = "a valid value"

    def __call__(self, value: Any) -> Any:
        """Validate and normalise `value`."""
        raise NotImplementedError

    def fail(self, value: Any, hint: str | None = None) -> InvalidValue:
        """Return the error for `value` (raise it: ``raise self.fail(value)``)."""
        return InvalidValue(self.expected, describe(value), hint)


def _scalar_hint(value: Any) -> str | None:
    """Suggest quoting when YAML turned text into a number or boolean."""
    if isinstance(value, bool | int | float):
        return "put the value in quotes to make it text"
    return None


class Boolean(Check):
    """true or false (also yes/no/on/off, which environment variables often carry)."""

    type_name = "boolean"
    expected = "true or false"

    def __call__(self, value: Any) -> bool:
        """Return the boolean."""
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise self.fail(value)


def _range_text(minimum: float | None, maximum: float | None, exclusive: bool) -> str:
    """Say a numeric range in words."""
    low, high = _number_text(minimum), _number_text(maximum)
    if minimum is not None and maximum is not None:
        return f"from {low} to {high}"
    if minimum is not None:
        return f"greater than {low}" if exclusive else f"of at least {low}"
    return f"of at most {high}" if maximum is not None else ""


def _number_text(number: float | None) -> str:
    """Write a number without a useless ``.0`` (``10``, ``0.5``, ``1000000``)."""
    if number is None:
        return ""
    return str(int(number)) if float(number).is_integer() else str(number)


class Number(Check):
    """A finite number within a range (integers accepted); returns a float."""

    def __init__(
        self, minimum: float | None = None, maximum: float | None = None, *, exclusive: bool = False
    ) -> None:
        self.minimum, self.maximum, self.exclusive = minimum, maximum, exclusive
        self.type_name = f"number {_range_text(minimum, maximum, exclusive)}".strip()
        self.expected = f"a {self.type_name}"

    def _parse(self, value: Any) -> float | None:
        """Return the value as a finite float, or None when it is not a number."""
        if isinstance(value, bool):
            return None
        if isinstance(value, int | float | str):
            with contextlib.suppress(ValueError, OverflowError):
                number = float(value)
                return number if math.isfinite(number) else None
        return None

    def __call__(self, value: Any) -> float:
        """Return the number as a float."""
        number = self._parse(value)
        if number is None or not self._in_range(number):
            raise self.fail(value)
        return number

    def _in_range(self, number: float) -> bool:
        """Tell whether `number` is inside the range."""
        if self.minimum is not None and (
            number <= self.minimum if self.exclusive else number < self.minimum
        ):
            return False
        return self.maximum is None or number <= self.maximum


class Integer(Number):
    """A whole number within a range; returns an int."""

    def __init__(self, minimum: int | None = None, maximum: int | None = None) -> None:
        super().__init__(minimum, maximum)
        self.type_name = f"integer {_range_text(minimum, maximum, False)}".strip()
        self.expected = f"an {self.type_name}"

    def __call__(self, value: Any) -> int:
        """Return the integer."""
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d{1,30}\s*", value):
            number = int(value)
        else:
            hint = "use a whole number" if isinstance(value, float) else None
            raise self.fail(value, hint)
        if not self._in_range(number):
            raise self.fail(value)
        return number


def _text(check: Check, value: Any) -> str:
    """Return `value` if it is usable text, else raise the check's error."""
    if not isinstance(value, str):
        raise check.fail(value, _scalar_hint(value))
    if not value:
        raise check.fail(value, "give a value, or remove the line")
    if "\0" in value:
        raise check.fail(value, "remove the NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise check.fail(value, "the text is not valid Unicode") from None
    return value


class String(Check):
    """Non-empty text."""

    type_name = "string"
    expected = "a non-empty string"

    def __call__(self, value: Any) -> str:
        """Return the text."""
        return _text(self, value)


class Name(Check):
    """A name safe in topics and ids: letters, digits, ``_`` and ``-``."""

    type_name = "name (`[A-Za-z0-9_-]+`)"
    expected = "a name made of letters, digits, '_' and '-'"

    def __call__(self, value: Any) -> str:
        """Return the name."""
        text = _text(self, value)
        if not _NAME_RE.fullmatch(text):
            slug = re.sub(r"[^A-Za-z0-9_-]+", "_", text).strip("_")
            raise self.fail(value, f"did you mean '{slug}'?" if slug else None)
        return text


class SecretString(Check):
    """Non-empty text kept in a `Secret`; errors say its type, never its value."""

    type_name = "string (secret)"
    expected = "a non-empty string"

    def __call__(self, value: Any) -> Secret:
        """Return the text wrapped in a Secret."""
        try:
            return Secret(_text(self, value))
        except InvalidValue as exc:
            raise InvalidValue(self.expected, kind_of(value), exc.hint) from None


class Choice(Check):
    """One of a fixed set of values, optionally normalised first (e.g. upper-cased)."""

    def __init__(
        self, choices: Sequence[Any], normalise: Callable[[Any], Any] | None = None
    ) -> None:
        self.choices = tuple(choices)
        self._normalise = normalise
        self.type_name = "one of " + ", ".join(f"`{choice}`" for choice in self.choices)
        self.expected = "one of " + ", ".join(repr(choice) for choice in self.choices)

    def __call__(self, value: Any) -> Any:
        """Return the (normalised) choice."""
        candidate = self._normalise(value) if self._normalise else value
        # Compare types too: True == 1, but `qos: true` is not the choice 1.
        if any(type(candidate) is type(choice) and candidate == choice for choice in self.choices):
            return candidate
        hint = None
        if isinstance(value, str):
            hint = did_you_mean(value, [str(choice) for choice in self.choices])
        raise self.fail(value, hint)


def upper(value: Any) -> Any:
    """Upper-case text (for log levels); leave anything else alone."""
    return value.upper() if isinstance(value, str) else value


def as_text(value: Any) -> Any:
    """Turn a number into text (``protocol: 5`` means "5"); leave anything else alone."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class Nullable(Check):
    """Null, or a value `inner` accepts."""

    def __init__(self, inner: Check) -> None:
        self.inner = inner
        self.type_name = f"{inner.type_name} or null"
        self.expected = inner.expected

    def __call__(self, value: Any) -> Any:
        """Return None or the inner check's value."""
        return None if value is None else self.inner(value)


def _each(values: list[Any], check: Check) -> list[Any]:
    """Validate every item, collecting all errors (prefixed by the item's index) before raising.

    Raises:
        vol.MultipleInvalid: With every item's errors.
    """
    out: list[Any] = []
    errors: list[vol.Invalid] = []
    for index, item in enumerate(values):
        try:
            out.append(check(item))
        except vol.MultipleInvalid as exc:
            exc.prepend([index])
            errors.extend(exc.errors)
        except vol.Invalid as exc:
            exc.prepend([index])
            errors.append(exc)
    if errors:
        raise vol.MultipleInvalid(errors)
    return out


class ListOf(Check):
    """A list whose items `item` accepts; null means an empty list. Returns a tuple.

    `check` looks at the raw items for rules across items (unique camera names) and returns
    its errors; it runs even when some items are invalid, so those errors come out together.
    """

    def __init__(
        self,
        item: Check,
        *,
        unique: bool = False,
        min_items: int = 0,
        check: Callable[[list[Any]], list[vol.Invalid]] | None = None,
    ) -> None:
        self.item, self.unique, self.min_items, self._check = item, unique, min_items, check
        self.type_name = f"list of {item.type_name}"
        more = f", at least {min_items}" if min_items else ""
        self.expected = f"a list{more}, each item {item.expected}"

    def __call__(self, value: Any) -> tuple[Any, ...]:
        """Return the validated items as a tuple."""
        if value is None:
            value = []
        if not isinstance(value, list):
            raise self.fail(value, "write a list: [a, b] or one '- item' per line")
        if len(value) < self.min_items:
            raise self.fail(value)
        errors = self._check(value) if self._check else []
        try:
            items = tuple(_each(value, self.item))
        except vol.MultipleInvalid as exc:
            raise vol.MultipleInvalid([*exc.errors, *errors]) from None
        if self.unique:
            errors += _repeats(items)
        if errors:
            raise vol.MultipleInvalid(errors)
        return items


class MappingOf(Check):
    """A mapping from names `key` accepts to values `value` accepts; null means empty.

    Returns a dict; every bad key and value is reported at once, under its own key path.
    """

    def __init__(self, key: Check, value: Check) -> None:
        self.key, self.value = key, value
        self.type_name = f"mapping of {key.type_name} to {value.type_name}"
        self.expected = f"a mapping, each key {key.expected} and each value {value.expected}"

    def __call__(self, value: Any) -> dict[Any, Any]:
        """Return the validated mapping."""
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.fail(value, "write one 'name: value' per line under the key")
        out: dict[Any, Any] = {}
        errors: list[vol.Invalid] = []
        for raw_key, raw_value in value.items():
            try:
                out[self.key(raw_key)] = self.value(raw_value)
            except vol.MultipleInvalid as exc:
                exc.prepend([raw_key])
                errors.extend(exc.errors)
            except vol.Invalid as exc:
                exc.prepend([raw_key])
                errors.append(exc)
        if errors:
            raise vol.MultipleInvalid(errors)
        return out


def _repeats(items: Sequence[Hashable]) -> list[vol.Invalid]:
    """Return an error for every item equal to an earlier one (items are validated scalars)."""
    errors: list[vol.Invalid] = []
    first: dict[Hashable, int] = {}
    for index, item in enumerate(items):
        if item in first:
            found = f"{describe(item)} again (already item {first[item]})"
            errors.append(InvalidValue("each value once", found, "remove the repeat", [index]))
        first.setdefault(item, index)
    return errors


@lru_cache(maxsize=1)
def available_time_zones() -> frozenset[str]:
    """Return the IANA zone names this system knows (cached: it scans the disk)."""
    return frozenset(zoneinfo.available_timezones()) | {"UTC"}


def local_time_zone() -> str:
    """Return the system's IANA zone name when it can be found, else ``UTC``.

    Looks at ``TZ``, ``/etc/timezone`` and the ``/etc/localtime`` link, in that order,
    because containers and distributions each set a different one.
    """
    candidates = [os.environ.get("TZ", "").lstrip(":")]
    with contextlib.suppress(OSError, UnicodeDecodeError):
        candidates.append(Path("/etc/timezone").read_text(encoding="utf-8").strip())
    with contextlib.suppress(OSError):
        link = os.readlink("/etc/localtime")
        candidates.append(link.split("zoneinfo/", 1)[-1] if "zoneinfo/" in link else "")
    zones = available_time_zones()
    return next((zone for zone in candidates if zone in zones), "UTC")


class TimeZone(Check):
    """An IANA time zone name such as ``Europe/Paris``."""

    type_name = "IANA time zone"
    expected = "an IANA time zone name such as 'Europe/Paris'"

    def __call__(self, value: Any) -> str:
        """Return the zone name."""
        text = _text(self, value)
        zones = available_time_zones()
        if text not in zones:
            match = closest(text, sorted(zones), cutoff=0.75)
            raise self.fail(value, f"did you mean '{match}'?" if match else _TZ_HINT)
        return text


_TZ_HINT = "see https://en.wikipedia.org/wiki/List_of_tz_database_time_zones"


def redact_userinfo(url: str) -> str:
    """Hide ``user:password@`` in a URL so an error message does not print a password."""
    return re.sub(r"^((?:[A-Za-z][A-Za-z0-9+.-]*:)?//)?[^/@]*@", r"\1***@", url)


class HttpUrl(Check):
    """The engine's base URL: http(s), a host, no query; trailing ``/`` removed."""

    type_name = "http(s) URL"
    expected = (
        "an http:// or https:// base URL such as https://customer.econnectcloud.com/identities"
    )

    def __call__(self, value: Any) -> str:
        """Return the URL without its trailing slash."""
        text = _text(self, value)
        try:
            parts = urlsplit(text) if "://" in text else None
            hint = _url_problem(text, parts)
        except ValueError as exc:
            parts, hint = None, f"the URL cannot be read ({exc})"
        if hint or parts is None:
            raise InvalidValue(self.expected, describe(redact_userinfo(text)), hint)
        return urlunsplit((parts.scheme.lower(), parts.netloc, parts.path.rstrip("/"), "", ""))


def _url_problem(text: str, parts: SplitResult | None) -> str | None:
    """Return what is wrong with the URL, or None."""
    if any(char.isspace() for char in text):
        return "remove the spaces"
    if parts is None:
        return f"add the scheme in front: https://{redact_userinfo(text)}"
    try:
        _ = parts.port
    except ValueError as exc:
        return f"the port is not valid ({exc})"
    if parts.scheme.lower() not in ("http", "https"):
        return "use https:// (cloud, on-prem port 5009) or http:// (on-prem port 6009)"
    if not parts.hostname:
        return "add the host name after the scheme, e.g. https://engine.example.com:5009"
    if parts.username is not None or parts.password is not None:
        return "remove 'user:password@': set api.username and api.password instead"
    if parts.query or parts.fragment:
        return "remove the part from '?' or '#' on"
    if "/api/" in f"{parts.path}/":
        return "end the URL before '/api': the bridge adds the endpoint paths itself"
    return None


class File(Check):
    """A readable file; relative paths start at the config file's folder. Returns a Path."""

    type_name = "file path"
    expected = "the path of a readable file"

    def __call__(self, value: Any) -> Path:
        """Return the absolute path."""
        text = _text(self, value)
        base = _BASE_DIR.get() or Path.cwd()
        try:
            given = Path(text).expanduser()
        except RuntimeError:  # "~someone" who does not exist
            raise self.fail(value, "the user named after '~' is unknown") from None
        path = base / given  # an absolute `given` replaces `base`
        problem = _file_problem(path)
        if problem:
            hint = None if given.is_absolute() else f"relative paths start at {base}"
            raise InvalidValue(self.expected, f"{describe(text)}: {problem}", hint)
        return path


def _file_problem(path: Path) -> str | None:
    """Return why `path` is not a readable file, or None."""
    try:
        if not path.exists():
            return "no such file"
        if not path.is_file():
            return "not a regular file"
    except (OSError, ValueError) as exc:
        return f"cannot be checked ({exc})"
    if not os.access(path, os.R_OK):
        return "not readable by this user"
    return None


def _topic_text(check: Check, value: Any) -> str:
    """Return topic text if it is non-empty UTF-8 of at most 65535 bytes."""
    text = _text(check, value)
    if len(text.encode("utf-8")) > 65535:
        raise check.fail(value, "MQTT topics are at most 65535 bytes")
    return text


class TopicName(Check):
    """An MQTT topic to publish to: no wildcards, no empty levels, no ``/`` at the ends."""

    type_name = "MQTT topic"
    expected = "an MQTT topic without wildcards (+ #), empty levels, or '/' at either end"

    def __call__(self, value: Any) -> str:
        """Return the topic."""
        text = _topic_text(self, value)
        if "+" in text or "#" in text:
            raise self.fail(value, "remove '+' and '#': this topic is published to")
        if text.startswith("$"):
            raise self.fail(value, "topics starting with '$' are reserved by the broker")
        if text.startswith("/") or text.endswith("/") or "//" in text:
            fixed = "/".join(level for level in text.split("/") if level)
            raise self.fail(value, f"did you mean '{fixed}'?" if fixed else None)
        return text


class TopicFilter(Check):
    """An MQTT topic filter to subscribe to; may hold a ``{camera}`` level."""

    type_name = "MQTT topic filter"
    expected = "an MQTT topic filter such as 'frigate/+/person/snapshot'"

    def __call__(self, value: Any) -> str:
        """Return the topic filter."""
        text = _topic_text(self, value)
        if text.startswith("$share/"):
            raise self.fail(value, "set mqtt.shared_group instead of writing '$share/' here")
        levels = text.split("/")
        for index, level in enumerate(levels):
            hint = _level_problem(level, index == len(levels) - 1)
            if hint:
                raise self.fail(value, hint)
        if levels.count("{camera}") > 1:
            raise self.fail(value, "use '{camera}' once")
        return text


def _level_problem(level: str, last: bool) -> str | None:
    """Return what is wrong with one level of a topic filter, or None."""
    if "#" in level and (level != "#" or not last):
        return "'#' must be a whole level and the last one, as in 'frigate/#'"
    if "+" in level and level != "+":
        return "'+' must be a whole level, as in 'frigate/+/person/snapshot'"
    if ("{" in level or "}" in level) and level != "{camera}":
        return "the only placeholder is '{camera}', as a whole level"
    return None


REQUIRED: Final = vol.UNDEFINED
"""Default of an option that must be given."""


@dataclass(frozen=True)
class Option:
    """One key of a section: its default, description and check.

    Attributes:
        key: The YAML key.
        default: The default value; `REQUIRED` for a key that must be given; a callable
            is called at validation time (for defaults that depend on the machine).
        description: One line for the reference documentation.
        check: Validates the value.
        default_doc: How to show the default in the docs, when the value would mislead.
    """

    key: str
    default: Any
    description: str
    check: Check
    default_doc: str | None = None

    @property
    def required(self) -> bool:
        """Tell whether the key must be given."""
        return self.default is REQUIRED

    def marker(self) -> vol.Marker:
        """Return the voluptuous marker of this key, carrying its description."""
        if self.required:
            return vol.Required(self.key, description=self.description)
        return vol.Optional(self.key, default=self.default, description=self.description)


class Section(Check):
    """A mapping of known keys. Unknown keys are errors with a suggestion; all errors at once.

    `check` runs on the validated mapping for rules that span keys (e.g. "password or
    token"); it may raise `vol.Invalid` with paths relative to the section.
    """

    type_name = "mapping"
    expected = "a mapping of 'key: value' lines"

    def __init__(
        self,
        options: Sequence[Option],
        check: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    ) -> None:
        self.options = {option.key: option for option in options}
        self._check = check
        self._schema = vol.Schema({option.marker(): option.check for option in options})

    def __call__(self, value: Any) -> dict[str, Any]:
        """Return the mapping with defaults filled in and every value validated."""
        if value is None:
            value = {}
        if not isinstance(value, dict):
            raise self.fail(value)
        known = {key: item for key, item in value.items() if self._is_known(key)}
        errors = [self._unknown(key) for key in value if not self._is_known(key)]
        result: dict[str, Any] = {}
        try:
            result = self._schema(known)
        except vol.MultipleInvalid as exc:
            errors.extend(self._explain(error, known) for error in exc.errors)
        if errors:
            raise vol.MultipleInvalid(errors)
        return self._check(result) if self._check else result

    def _is_known(self, key: Any) -> bool:
        """Tell whether `key` is one of this section's keys."""
        return isinstance(key, str) and key in self.options

    def _unknown(self, key: Any) -> vol.Invalid:
        """Return the error for an unknown key, with the likely intended key."""
        if not isinstance(key, str):
            path: list[Hashable] = [_BRIEF.repr(key)]
            return InvalidValue("a key name", describe(key), None, path, about_key=True)
        hint = did_you_mean(key, list(self.options)) or "known keys: " + ", ".join(self.options)
        found = f"unknown key {_BRIEF.repr(key)}"
        return InvalidValue("a known key", found, hint, [key], about_key=True)

    def _explain(self, error: vol.Invalid, known: dict[str, Any]) -> vol.Invalid:
        """Turn voluptuous' own errors into InvalidValue and add "use the default" hints."""
        # voluptuous puts the Required marker itself in the path of a missing key.
        path = [part.schema if isinstance(part, vol.Marker) else part for part in error.path]
        key = path[0] if path else None
        option = self.options.get(key) if isinstance(key, str) else None
        if isinstance(error, vol.RequiredFieldInvalid) and option:
            expected = f"{option.check.expected}, required ({option.description})"
            return InvalidValue(expected, "nothing: the key is missing", None, path)
        if not isinstance(error, InvalidValue):
            return InvalidValue(error.error_message, "an invalid value", None, path)
        emptied = option is not None and option.key in known and known[option.key] is None
        if emptied and len(error.path) == 1 and not error.hint:
            error.hint = "remove the line to use the default"
        return error
