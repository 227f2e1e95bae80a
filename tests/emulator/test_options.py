"""``EmulatorOptions``: one checked, frozen record of an emulator's settings."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import pytest

from aiopersonalize.cli._main import build_parser
from aiopersonalize.emulator import (
    DEFAULT_PORT,
    Emulator,
    EmulatorOptions,
    EmulatorProcess,
    EmulatorThread,
    Faults,
    InventorySpec,
)
from aiopersonalize.emulator.serve import (
    ENV_CREDENTIALS,
    ENV_TOKEN_SECRET,
    emulator_options,
    to_argv,
    to_environ,
)

from ..clients import FakeClock

SECRET_KEY = "options-suite-secret/xyz+abc"
TOKEN_SECRET = "options-suite-token-secret"

# Every field away from its default, and faults with every setting used.
NON_DEFAULT = EmulatorOptions(
    inventory=InventorySpec(
        3,
        1,
        4,
        inference_jobs_per_version=11,
        segment_jobs_per_version=0,
        failed_fraction=0.25,
        failed_versions_fraction=0.2,
        stopped_versions_fraction=0.1,
        autotrain_solutions_fraction=0.5,
    ),
    seed=-8,
    faults=Faults(
        latency=0.01,
        latency_jitter=0.02,
        throttle_rate=0.1,
        error_rate=0.2,
        max_rps=50.5,
        burst=7,
        deny_solution_versions=frozenset({"arn:x:solution/a/b", "arn:x:solution/a/a"}),
        version_latency={"arn:x:solution/a/c": 0.5, "arn:x:solution/a/d": 1e-3},
        account_latency={"200000000001": 0.25, "200000000003": 2.0},
    ),
    host="localhost",
    port=4321,
    credentials={"AKIDONE": SECRET_KEY, "AKIDTWO": "second-secret"},
    job_transition_seconds=1.5,
    token_lifetime=90.5,
    token_secret=TOKEN_SECRET.encode(),
    accounts=5,
    suspended_accounts=frozenset({"200000000004"}),
    assume_role_denied_accounts=frozenset({"200000000002", "200000000003"}),
    deny_regions=frozenset({"eu-west-1", "ap-south-1"}),
    credential_lifetime=2.5,
)


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"port": -1}, ValueError),
        ({"port": 65536}, ValueError),
        ({"port": True}, TypeError),
        ({"host": ""}, ValueError),
        ({"job_transition_seconds": -0.5}, ValueError),
        ({"job_transition_seconds": math.nan}, ValueError),
        ({"job_transition_seconds": math.inf}, ValueError),
        ({"token_lifetime": 0}, ValueError),
        ({"token_lifetime": -1.0}, ValueError),
        ({"token_lifetime": math.nan}, ValueError),
        ({"token_lifetime": math.inf}, ValueError),
        ({"token_lifetime": "60"}, TypeError),
        ({"token_lifetime": True}, TypeError),
        ({"seed": 1.5}, TypeError),
        ({"inventory": None}, TypeError),
        ({"faults": {"latency": 1.0}}, TypeError),
        ({"clock": 12.0}, TypeError),
        ({"token_secret": TOKEN_SECRET}, TypeError),
        ({"credentials": {"": SECRET_KEY}}, ValueError),
        ({"credentials": {"AKIDONE": ""}}, ValueError),
    ],
)
def test_the_record_refuses_bad_values(change: dict[str, Any], error: type[Exception]) -> None:
    """A bad value fails when the record is made, with no secret in the message."""
    with pytest.raises(error) as raised:
        EmulatorOptions(**change)
    assert SECRET_KEY not in str(raised.value)
    assert TOKEN_SECRET not in str(raised.value)


def test_the_record_is_frozen_and_keeps_its_own_credentials() -> None:
    """The record cannot be changed, nor through the credentials mapping it was given."""
    given = {"AKIDONE": SECRET_KEY}
    options = EmulatorOptions(credentials=given)
    given["AKIDONE"] = "changed"
    assert options.credentials == {"AKIDONE": SECRET_KEY}
    with pytest.raises(TypeError):
        options.credentials["AKIDTWO"] = "more"  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.seed = 2  # type: ignore[misc]
    assert options == EmulatorOptions(credentials={"AKIDONE": SECRET_KEY})


def test_the_repr_has_no_secret() -> None:
    """The record's repr and str name neither secret key nor token secret."""
    for text in (repr(NON_DEFAULT), str(NON_DEFAULT)):
        assert SECRET_KEY not in text
        assert "second-secret" not in text
        assert TOKEN_SECRET not in text
        assert "seed=-8" in text


def test_every_option_round_trips_through_serve() -> None:
    """``to_argv`` and ``to_environ`` give back an equal record through the serve parser, and
    the secrets travel only in the environment."""
    argv = to_argv(NON_DEFAULT)
    environ = to_environ(NON_DEFAULT)
    command = " ".join(argv)
    assert SECRET_KEY not in command
    assert TOKEN_SECRET not in command
    assert SECRET_KEY in environ[ENV_CREDENTIALS]
    assert environ[ENV_TOKEN_SECRET] == TOKEN_SECRET
    args = build_parser(only="serve").parse_args(["serve", *argv])
    assert emulator_options(args, environ) == NON_DEFAULT


def test_the_round_trip_record_sets_every_field() -> None:
    """Every field of the record, its inventory and its faults is away from its default
    in the round-trip record, so that the round trip covers every flag."""
    defaults = EmulatorOptions()
    for owner, default in (
        (NON_DEFAULT, defaults),
        (NON_DEFAULT.inventory, defaults.inventory),
        (NON_DEFAULT.faults, defaults.faults),
    ):
        for field in dataclasses.fields(owner):
            if field.name in {"clock", "faults", "inventory"}:
                continue
            assert getattr(owner, field.name) != getattr(default, field.name), field.name


@pytest.mark.parametrize(
    ("flag", "value"),
    [("--token-lifetime", "0"), ("--token-lifetime", "-5"), ("--token-lifetime", "inf")],
)
def test_serve_refuses_a_token_lifetime_that_is_not_positive(flag: str, value: str) -> None:
    """`serve --token-lifetime` takes a positive, finite number of seconds only."""
    with pytest.raises(SystemExit):
        build_parser(only="serve").parse_args(["serve", flag, value])


def test_serve_defaults_are_the_records_but_for_the_port() -> None:
    """`serve` with no option makes the default record, listening on its fixed port."""
    args = build_parser(only="serve").parse_args(["serve"])
    assert emulator_options(args, {}) == EmulatorOptions(port=DEFAULT_PORT)
    assert to_environ(EmulatorOptions()) == {}


def test_secrets_the_environment_cannot_carry_are_refused() -> None:
    """A separator in an access key id or a secret key is refused before serve sees it."""
    with pytest.raises(ValueError, match="access key ids"):
        EmulatorProcess(EmulatorOptions(credentials={"AKID:X": SECRET_KEY}))
    with pytest.raises(ValueError, match="secret keys") as raised:
        EmulatorProcess(EmulatorOptions(credentials={"AKIDONE": SECRET_KEY + ",x"}))
    assert SECRET_KEY not in str(raised.value)


def test_emulator_process_refuses_a_clock() -> None:
    """A subprocess keeps real time, so EmulatorProcess refuses a record with a clock."""
    with pytest.raises(ValueError, match="clock"):
        EmulatorProcess(EmulatorOptions(clock=FakeClock()))


def test_runners_expose_their_record() -> None:
    """Each runner keeps the record it was given, and the defaults without one."""
    assert Emulator().options == EmulatorOptions()
    assert Emulator(NON_DEFAULT).options is NON_DEFAULT
    assert EmulatorThread(NON_DEFAULT).options is NON_DEFAULT
    process = EmulatorProcess(NON_DEFAULT, startup_timeout=5.0)
    assert process.options is NON_DEFAULT
    assert process.command[3:-1] == ["serve", *to_argv(NON_DEFAULT)]


def test_runners_take_only_a_record() -> None:
    """Passing anything but an EmulatorOptions (or None) is a TypeError."""
    with pytest.raises(TypeError):
        Emulator(InventorySpec())  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        EmulatorProcess({"seed": 1})  # type: ignore[arg-type]
