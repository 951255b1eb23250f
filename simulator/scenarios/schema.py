"""The building blocks of the step schema (SPEC §9): the pydantic base every step kind
derives from, the registry of kinds, and the field types steps share (region,
account, durations, whole numbers, choices), each carrying the words of its
problem. steps.py declares the kinds; loader.py turns a validation error into the
file / step / problem message. Pure: no network.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated, Any, Callable, ClassVar, Iterable

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, PrivateAttr, model_validator
from pydantic_core import PydanticCustomError

from ..core.clock import MAX_ADVANCE
from ..core.names import is_region_name

if TYPE_CHECKING:
    from .loader import Scenario
    from .runner import Runner

DEFAULT_REGION = "us-east-1"

# A problem raised by a field's check is worded after the field's place ("region 'x' is
# not ...", "dns_add ttl must be ..."); a WHOLE problem is a sentence of its own.
PART, WHOLE = "scenario", "scenario_whole"

_ACCOUNT = re.compile(r"^\d{12}$")
_DURATION = re.compile(r"^(?:\d+(?:\.\d+)?\s*[smhd]\s*)+$|^\d+(?:\.\d+)?$")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([smhd]?)")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_ERROR_CODE = re.compile(r"^[A-Za-z][A-Za-z0-9.]*$")


def problem(text: str, whole: bool = False) -> PydanticCustomError:
    """A validation error whose message is `text`, as pydantic reports it."""
    return PydanticCustomError(WHOLE if whole else PART, "{problem}", {"problem": text})


# --------------------------------------------------------------------------- field types


def check(test: Callable[[Any], bool], words: str):
    """A validator: `test(value)` or the problem `words` (formatted with value=repr)."""

    def validate(value: Any) -> Any:
        if not test(value):
            raise problem(words.format(value=repr(value)))
        return value

    return BeforeValidator(validate)


def _whole_number(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def one_of(values: Callable[[], Iterable[str]] | Iterable[str], note: str = "",
           normalize: Callable[[str], str] = lambda v: v, nullable: bool = False):
    """A choice among `values` (a callable is asked at validation time: botocore enums)."""

    def validate(value: Any) -> Any:
        if value is None and nullable:
            return None
        allowed = tuple(values() if callable(values) else values)
        if not isinstance(value, str) or normalize(value) not in allowed:
            raise problem(f"{value!r} is not one of {', '.join(allowed)}{note}")
        return normalize(value)

    return BeforeValidator(validate)


def closest(name: str, candidates: Iterable[str]) -> str | None:
    """The candidate `name` was most likely meant to be, for a "did you mean" hint."""
    import difflib

    found = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.75)
    return found[0] if found else None


def _account(value: Any) -> str:
    # YAML reads an unquoted 111122223333 as a number; accept it, but only as 12 digits.
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(text, str) or not _ACCOUNT.match(text):
        raise problem(f"{value!r} is not a 12-digit account id (quote it: \"111122223333\")")
    return text


def duration_seconds(value: Any) -> float:
    """Seconds from a number or "90s", "2m", "72h", "3d" (parts may be combined: "71h59m");
    ValueError with the reason."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"{value!r} is not a duration")
    try:
        if isinstance(value, (int, float)):
            seconds = float(value)
        elif isinstance(value, str):
            text = value.strip()
            if not _DURATION.match(text):
                raise ValueError(f"{value!r} is not a duration: use seconds, or a number with s, m, h or d "
                                 "(90s, 2m, 72h, 3d, 71h59m)")
            seconds = sum(float(number) * _UNIT_SECONDS[unit] for number, unit in _DURATION_PART.findall(text))
        else:
            raise ValueError(f"{value!r} is not a duration")
    except OverflowError:  # an integer too large for a float
        raise ValueError(f"{str(value)[:40]}... is longer than the simulator's limit of 10 years") from None
    if seconds != seconds or seconds < 0:
        raise ValueError(f"{value!r} is not a duration: time only moves forward")
    if seconds > MAX_ADVANCE:
        raise ValueError(f"{value!r} is longer than the simulator's limit of 10 years")
    return seconds


def _duration(value: Any) -> Any:
    try:
        duration_seconds(value)
    except ValueError as exc:
        raise problem(str(exc)) from None
    return value


Text = Annotated[str, check(lambda v: isinstance(v, str) and bool(v.strip()), "must be a non-empty string, got {value}")]
Region = Annotated[str, check(is_region_name, "{value} is not a region name such as us-east-1")]
Account = Annotated[str, BeforeValidator(_account)]
WholeNumber = Annotated[int, check(_whole_number, "must be a whole number, got {value}")]
Seconds = Annotated[int, check(_whole_number, "must be a whole number of seconds, got {value}")]
Flag = Annotated[bool, check(lambda v: isinstance(v, bool), "must be true or false, got {value}")]
ResponseSubset = Annotated[dict, check(lambda v: isinstance(v, dict), "must be a mapping (a subset of the response), got {value}")]
NonEmptyMapping = Annotated[dict, check(lambda v: isinstance(v, dict) and bool(v),
                                        "must be a non-empty mapping (a subset of the newest entry), got {value}")]
ErrorCode = Annotated[str, check(lambda v: isinstance(v, str) and bool(_ERROR_CODE.match(v)),
                                 "must be an error code such as NotFoundException, got {value}")]
# A duration as written (for the report); `duration_seconds` reads it.
Duration = Annotated[Any, AfterValidator(_duration)]


# --------------------------------------------------------------------------- the base of every step


class Schema(BaseModel):
    """Strict mappings: a key the model does not declare is refused, values are frozen.
    A key that may be left out defaults to None; pydantic does not validate defaults, so
    an explicit null is checked like any other value."""

    model_config = ConfigDict(extra="forbid", frozen=True)


STEPS: dict[str, type["Step"]] = {}


class Step(Schema):
    """One step kind: the field named after the kind holds what follows it in the file
    (`advance: 2m`, `dns_add: {...}`), other fields are the keys beside it. `run` does it
    against a Runner; `describe` is its line in the report."""

    kind: ClassVar[str] = ""
    # How a problem with the kind's own value is introduced (`advance: '2 weeks' is not ...`).
    label: ClassVar[str | None] = None
    _number: int = PrivateAttr(0)
    _line: int | None = PrivateAttr(None)

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        if cls.__dict__.get("kind"):
            STEPS[cls.kind] = cls

    @model_validator(mode="before")
    @classmethod
    def _null_body(cls, raw: Any) -> Any:
        """`run_checks:` with nothing after it is `run_checks: {}` when the kind needs no key."""
        body = cls.body()
        if (isinstance(raw, dict) and cls.kind in raw and raw[cls.kind] is None and body is not None
                and not any(field.is_required() for field in body.model_fields.values())):
            return {**raw, cls.kind: {}}
        return raw

    def model_post_init(self, context: Any) -> None:
        if isinstance(context, dict):
            self._number, self._line = context.get("number", 0), context.get("line")

    @property
    def number(self) -> int:
        return self._number

    @property
    def line(self) -> int | None:
        return self._line

    @classmethod
    def body(cls) -> type[BaseModel] | None:
        """The model of the kind's mapping, for kinds that take one (dns_add: {...})."""
        annotation = cls.model_fields[cls.kind].annotation
        return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None

    @classmethod
    def siblings(cls) -> list[str]:
        """The keys a step of this kind takes beside the kind, as written in a file."""
        names = [field.alias or name for name, field in cls.model_fields.items() if name != cls.kind]
        return sorted(names, key=lambda name: name in ("region", "account"))  # scope last

    def describe(self, scenario: "Scenario") -> str:
        return self.kind

    def run(self, runner: "Runner", scenario: "Scenario") -> None:
        raise NotImplementedError


class Scoped(Step):
    """A step that acts as an account and region: `region` and `account` beside the kind."""

    region: Region = None  # None: the scenario's
    account: Account = None

    def scope(self, scenario: "Scenario") -> tuple[str, str | None]:
        """(region, account) the step acts as; account None: the default account."""
        return self.region or scenario.region, self.account

    def sim_query(self, scenario: "Scenario") -> dict[str, str]:
        """The /_sim query parameters naming that scope."""
        region, account = self.scope(scenario)
        return {"region": region, **({"account": account} if account else {})}

    def scope_text(self, scenario: "Scenario") -> str:
        parts = []
        if self.region and self.region != scenario.region:
            parts.append(f"region {self.region}")
        if self.account:
            parts.append(f"account {self.account}")
        return f" ({', '.join(parts)})" if parts else ""
