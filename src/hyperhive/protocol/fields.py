"""Field types shared by request models. Every field a client fills has a bound here: an id fits the store's
int64, a text has a length, a list has a size, a time is one the hive can write down. What is out of bounds
is a `bad_request` with a sentence, never a crash further in."""

from __future__ import annotations

import functools
import math
from typing import Annotated, Any, ClassVar, Generic, Literal, TypeVar, Union

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, model_validator

from .models import WireModel, parse_rfc3339
from .names import check_agent_name
from .replies import Reply
from .wire import INT64_MAX, MAX_BODY_BYTES, MAX_REQ_ID_CHARS


class TooLarge(ValueError):
    """A field over a size limit: the request is answered `limit`, as the broker answers an oversized body."""


def _check_body_size(text: str) -> str:
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_BODY_BYTES:
        raise TooLarge(f"the text is {size} bytes; the limit is {MAX_BODY_BYTES}")
    return text


MAX_SECONDS = 10 * 366 * 24 * 3600  # the longest delay, interval or ttl anything in the hive needs
MAX_TIMESTAMP = 253_402_300_799  # 9999-12-31T23:59:59Z: the last second RFC 3339 can write
MAX_NAMES = 1000  # agent names (or recipients) in one request

AgentName = Annotated[str, AfterValidator(check_agent_name)]
# An id the hive made (message, approval, question, reminder, schedule): a positive int64, as SQLite stores it.
Id = Annotated[int, Field(ge=1, le=INT64_MAX)]
# A position in a sequence (after_seq, before): zero or more, within int64.
Cursor = Annotated[int, Field(ge=0, le=INT64_MAX)]
ReqId = Annotated[int, Field(ge=-INT64_MAX, le=INT64_MAX)] | Annotated[str, Field(max_length=MAX_REQ_ID_CHARS)] | None
Body = Annotated[str, Field(min_length=1), AfterValidator(_check_body_size)]
# A recipient: an agent name, `operator`, `manager`, `*` (checked by the broker, which knows who exists).
Recipient = Annotated[str, Field(min_length=1, max_length=64)]
Recipients = Annotated[list[Recipient], Field(min_length=1, max_length=100)]
# A Claude model id or alias as the CLI takes it: `claude-sonnet-4-5`, `opus`, `claude-opus-4-1[1m]`.
ModelName = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9._:@\[\]-]+$")]
# A Claude session id (a UUID today); never more than a name made of safe characters.
SessionId = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9._-]+$")]
Label = Annotated[str, StringConstraints(min_length=1, max_length=100)]  # a kind, a filter word
Seconds = Annotated[float, Field(gt=0, le=MAX_SECONDS, allow_inf_nan=False)]
Delay = Annotated[float, Field(ge=0, le=MAX_SECONDS, allow_inf_nan=False)]


def _check_when(value: str | float) -> str | float:
    """A moment as RFC 3339 text or Unix seconds, one the hive can store and print back."""
    if isinstance(value, str):
        try:
            seconds = parse_rfc3339(value)
        except (ValueError, OverflowError):
            raise ValueError(f"{value[:40]!r} is not an RFC 3339 time like 2026-11-24T18:30:00Z") from None
    else:
        seconds = value
    if not math.isfinite(seconds) or not 0 <= seconds <= MAX_TIMESTAMP:
        raise ValueError("the time must lie between 1970 and 9999")
    return value


When = Annotated[
    Annotated[str, Field(max_length=64)] | Annotated[float, Field(allow_inf_nan=False)],
    AfterValidator(_check_when),
]

# The original's scope booleans for parts of its hive this one does not have: `false` is accepted (its
# clients send every key), `true` is refused rather than silently ignored.
_FOREIGN_PARTS = ("ci", "forge", "gateway", "matrix")


class Scope(BaseModel):
    """Which agents a lifecycle verb acts on, as the original's clients send it (`"scope": {…}`).

    `agents: true` (the original's word) and `all: true` both mean every managed agent. Unlike the
    original, an empty scope is an error, not everything."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    agent_names: list[AgentName] = Field(default=[], max_length=MAX_NAMES)
    all: bool = False
    agents: bool = False
    ci: bool = False
    forge: bool = False
    gateway: bool = False
    matrix: bool = False

    @model_validator(mode="after")
    def _explicit(self) -> Scope:
        foreign = [part for part in _FOREIGN_PARTS if getattr(self, part)]
        if foreign:
            raise ValueError(f"this hive has no {foreign[0]}: a scope names agents or says \"agents\": true")
        every = self.all or self.agents
        if every and self.agent_names:
            raise ValueError("the scope names agents and says all of them: say one of them")
        if not every and not self.agent_names:
            raise ValueError('the scope is empty: name agents in "agent_names" or say "agents": true')
        return self

    @property
    def every(self) -> bool:
        return self.all or self.agents


class NewSchedule(BaseModel):
    """What a schedule is made of, from an agent (`request_schedule_prompt`, approved first) or the operator
    (`create_schedule`): a prompt to `targets` at `first_fire_at`, then every `interval_seconds` if given."""

    targets: Recipients
    body: Body
    first_fire_at: When
    interval_seconds: Seconds | None = None
    description: str = Field(default="", max_length=500)


R = TypeVar("R", bound=Reply)
# Who calls a verb, so a test can check each has its face: `cli` a hivectl (or hive-c0re) command, `mcp` an
# agent's tool, `harness` the turn loop or a peer's serve loop, `dashboard` the web pages, `script` nobody of
# ours (clients of the socket, as the original's).
Face = Literal["cli", "mcp", "harness", "dashboard", "script"]


class Request(BaseModel, Generic[R]):
    """The base of every request on either socket: strict (unknown fields refused), immutable, with the
    envelope's optional `req_id` (echoed back) and `version`.

    A verb is declared once, as a subclass with a `cmd` literal, parametrised by its reply model:
    `class Ping(HostRequest[Pong])`. The socket's request parser (`verbs_of`) and the type of what a client
    gets back (`reply_model`) are read from that one declaration."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)  # built on first use: decisions.md
    faces: ClassVar[frozenset[Face]] = frozenset()
    req_id: ReqId = None
    version: Cursor | None = None

    @classmethod
    def reply_model(cls) -> type[Reply]:
        """The model this verb answers with (the `R` of its declaration)."""
        for base in cls.__mro__:
            args = getattr(base, "__pydantic_generic_metadata__", {}).get("args")
            if args and isinstance(args[0], type) and issubclass(args[0], Reply):
                return args[0]
        raise TypeError(f"{cls.__name__} names no reply model: declare it as Base[ReplyModel]")

    @classmethod
    def verb_name(cls) -> str:
        """The `cmd` literal of a concrete verb."""
        return _verb_name(cls)


@functools.cache  # asked on every request a socket serves: a dict lookup in C, not a walk of the model
def _verb_name(verb: type[Request[Any]]) -> str:
    annotation = verb.model_fields["cmd"].annotation
    return str(annotation.__args__[0])  # type: ignore[union-attr]  # a Literal["…"] of one value


Q = TypeVar("Q", bound=Request[Any])


def verbs_of(base: type[Q]) -> list[type[Q]]:
    """Every concrete verb (a subclass with a `cmd`) under `base`, in the order they were declared; a cmd
    declared twice is a bug caught at import."""
    found: dict[str, type[Q]] = {}
    pending = list(base.__subclasses__())
    while pending:
        cls = pending.pop(0)
        pending.extend(cls.__subclasses__())
        if "cmd" in cls.model_fields:
            cmd = cls.verb_name()
            if found.setdefault(cmd, cls) is not cls:
                raise TypeError(f"two requests say cmd {cmd!r}: {found[cmd].__name__} and {cls.__name__}")
    return list(found.values())


_PARSERS: list[TypeAdapter[Any]] = []


def request_parser(base: type[Request[Any]]) -> TypeAdapter[Any]:
    """One discriminated union of every verb under `base`, tagged by `cmd`: what a socket's lines parse as.
    Built on first use, as the models are (a CLI never parses a request); a server builds it at start."""
    tagged: Any = Annotated[Union[tuple(verbs_of(base))], Field(discriminator="cmd")]  # noqa: UP007
    _PARSERS.append(TypeAdapter(tagged, config=ConfigDict(defer_build=True)))
    return _PARSERS[-1]


def build_deferred() -> None:
    """Build what `defer_build` left for first use: the sockets' parsers and every request, reply and wire
    model. A server calls it once at start, so its first request of a verb is answered as fast as the next."""
    for parser in _PARSERS:
        parser.rebuild()
    pending: list[type[BaseModel]] = [Request, Reply, WireModel]
    while pending:
        model = pending.pop()
        pending.extend(model.__subclasses__())
        model.model_rebuild()
