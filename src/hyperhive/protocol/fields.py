"""Field types shared by request models."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from .names import check_agent_name

AgentName = Annotated[str, AfterValidator(check_agent_name)]
ReqId = int | str | None
Body = Annotated[str, Field(min_length=1)]


class Scope(BaseModel):
    """Which agents a scoped verb acts on. Unlike the original, an empty scope is an error, not everything."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    agent_names: list[AgentName] = []
    all: bool = False

    @model_validator(mode="after")
    def _explicit(self) -> Scope:
        if self.all and self.agent_names:
            raise ValueError("scope names agents and says all: say one of them")
        if not self.all and not self.agent_names:
            raise ValueError('scope is empty: name agents in "agent_names" or say "all": true')
        return self
