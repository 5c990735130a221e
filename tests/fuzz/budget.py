"""How hard the fuzz tests push each endpoint: a count of generated requests and a time limit, from the env."""

from __future__ import annotations

from pydantic import Field, confloat, conint

from foundation.settings import ProcessSettings


class FuzzBudget(ProcessSettings):
    """`FUZZ_EXAMPLES` requests per endpoint, stopping early after `FUZZ_SECONDS`; small by default so that
    `make test` (and CI) stays fast, large in `make fuzz`."""

    examples: conint(ge=1) = Field(200, env="FUZZ_EXAMPLES")  # type: ignore[valid-type]
    seconds: confloat(gt=0) = Field(120.0, env="FUZZ_SECONDS")  # type: ignore[valid-type]
