"""Random core command sequences: the generators, the clock, the callers and key snapshots.

Shared by ``test_against_reference.py`` (ours against the reference core, step by
step) and ``test_core_invariants.py`` (ours alone, invariants read from the keys).

A call is written as the spec writes calls, ``command now args...``, with ``''``
for an empty argument, so a failing sequence can be replayed by hand.

Budget: ``REQLESS_FUZZ_EXAMPLES`` sequences of up to ``REQLESS_FUZZ_STEPS``
commands per parametrisation (small defaults, meant for CI; raise both for a
long local run). In CI the run is derandomised, so it is the same every time;
elsewhere each run explores new sequences and keeps failures in
``~/.cache/reqless-fuzz`` to replay them first next time.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shlex
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import redis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.database import DirectoryBasedExampleDatabase

from tests.conftest import IN_CI

CORE_DIR = Path(__file__).resolve().parents[2] / "reqless-core"
FORMS = ("function", "eval")

# A plausible epoch second, so day buckets and 14-digit JSON numbers are realistic.
T0 = 1_700_000_000

# ---------------------------------------------------------------------------
# Budget


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "")
    try:
        return int(raw) if raw else default
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from None


def fuzz_settings() -> settings:
    """Hypothesis settings for one parametrisation of a fuzz test."""
    return settings(
        max_examples=_env_int("REQLESS_FUZZ_EXAMPLES", 50),
        stateful_step_count=_env_int("REQLESS_FUZZ_STEPS", 40),
        deadline=None,
        derandomize=IN_CI,
        database=None
        if IN_CI
        else DirectoryBasedExampleDatabase(Path.home() / ".cache" / "reqless-fuzz"),
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        print_blob=False,
        report_multiple_bugs=False,
    )


# ---------------------------------------------------------------------------
# Calls


def quote(word: str) -> str:
    """One argument as the spec writes it: shell quoting, ``''`` for the empty string."""
    return shlex.quote(word)


def show_now(now: float) -> str:
    return str(int(now)) if float(now).is_integer() else repr(now)


@dataclass(frozen=True)
class Call:
    """One core command with its ``now``."""

    command: str
    now: float
    args: tuple[str, ...]

    def __str__(self) -> str:
        return " ".join([self.command, show_now(self.now), *map(quote, self.args)])


@dataclass(frozen=True)
class Reply:
    """What a call answered: a value, or an error text."""

    error: str | None
    value: Any = None

    def __str__(self) -> str:
        return f"error {self.error!r}" if self.error is not None else repr(self.value)


def transcript(calls: Iterable[Call]) -> str:
    return "\n".join(f"    {call}" for call in calls)


# ---------------------------------------------------------------------------
# Generators. Small name pools make commands meet the same jobs; each pool holds
# an empty name, and the jids include a recurring template's first children.

QUEUES = st.sampled_from(["q1", "q1", "q1", "q2", "q2", ""])
WORKERS = st.sampled_from(["w1", "w1", "w1", "w2", ""])
JIDS = st.sampled_from(["j1", "j1", "j2", "j2", "j3", "r1-1", "r1-2", ""])
RECURRING = st.sampled_from(["r1", "r1", "r2"])
TAGS = st.sampled_from(["a", "b", "7"])
THROTTLES = st.sampled_from(["t1", "t2", "ql:q:q1"])
GROUPS = st.sampled_from(["g1", "g2", "failed-retries-q1"])
MESSAGES = st.sampled_from(["m", "boom"])
KLASSES = st.sampled_from(["K", "K2"])
DATA = st.sampled_from(["{}", "{}", '{"a":1}', "[]", '{"p":"a/b"}', "false", "nope"])
LOG_DATA = st.sampled_from(['{"x":1}', "{}", "nope"])
NUMBERS = st.sampled_from(["0", "1", "2", "5", "-1", "1.5", "x"])
DELAYS = st.sampled_from(["0", "0", "0", "0", "5", "30", "-1", "1.5", "x"])
RETRIES = st.sampled_from(["0", "1", "2", "5", "1.5", "x"])
OFFSETS = st.sampled_from(["0", "0", "1", "2", "x"])
LIMITS = st.sampled_from(["0", "1", "2", "25", "x"])
POP_LIMITS = st.sampled_from(["1", "1", "1", "2", "5", "0", "-1", "x"])
PEEK_OFFSETS = st.sampled_from(["0", "0", "1", "2", "-1", "-5", "x"])
MAXIMA = st.sampled_from(["0", "1", "1", "2"])
STATES = st.sampled_from(
    ["running", "stalled", "throttled", "scheduled", "depends", "recurring", "complete", "bogus"]
)
CONFIG_KEYS = st.sampled_from(
    [
        "grace-period",
        "grace-period",
        "heartbeat",
        "heartbeat",
        "q1-heartbeat",
        "max-pop-retry",
        "q1-max-pop-retry",
        "jobs-history",
        "jobs-history-count",
        "max-job-history",
        "max-worker-age",
    ]
)
CONFIG_VALUES = st.sampled_from(["0", "1", "2", "3", "5", "10", "60", "-10", "100", "2.5"])


def _json_lists(pool: st.SearchStrategy[str], extra: list[str]) -> st.SearchStrategy[str]:
    """JSON arrays of names from ``pool`` (0 to 2 of them), or one of ``extra``."""
    arrays = st.lists(pool, max_size=2).map(lambda names: json.dumps(names, separators=(",", ":")))
    return st.one_of(arrays, st.sampled_from(extra))


TAG_LISTS = st.one_of(
    _json_lists(TAGS, ["nope"]),
    st.sampled_from(["[7]", "[123456789012345]", '{"a":1}', '"a"']),
)
DEPEND_LISTS = _json_lists(JIDS.filter(bool), ['["jx"]', "nope"])
THROTTLE_LISTS = _json_lists(THROTTLES, ["nope"])


def _options(pairs: dict[str, st.SearchStrategy[str]]) -> st.SearchStrategy[tuple[str, ...]]:
    """Zero to three ``name value`` option pairs."""
    pair = st.sampled_from(sorted(pairs)).flatmap(
        lambda name: pairs[name].map(lambda value: (name, value))
    )
    return st.lists(pair, max_size=3).map(lambda found: tuple(w for p in found for w in p))


PUT_OPTIONS = _options(
    {
        "priority": NUMBERS,
        "tags": TAG_LISTS,
        "retries": RETRIES,
        "depends": DEPEND_LISTS,
        "throttles": THROTTLE_LISTS,
    }
)
RECUR_OPTIONS = _options(
    {
        "priority": NUMBERS,
        "tags": TAG_LISTS,
        "retries": RETRIES,
        "backlog": st.sampled_from(["0", "1", "2"]),
        "throttles": THROTTLE_LISTS,
    }
)
REQUEUE_OPTIONS = _options({"delay": DELAYS, "depends": DEPEND_LISTS, "next": QUEUES})
RECUR_UPDATES = _options(
    {
        "priority": NUMBERS,
        "interval": st.sampled_from(["30", "60", "x"]),
        "retries": RETRIES,
        "data": DATA,
        "klass": KLASSES,
        "queue": QUEUES,
        "backlog": st.sampled_from(["0", "1", "x"]),
        "throttles": THROTTLE_LISTS,
    }
)

Arg = st.SearchStrategy[str] | st.SearchStrategy[tuple[str, ...]]


def _some(pool: st.SearchStrategy[str], most: int) -> st.SearchStrategy[tuple[str, ...]]:
    return st.lists(pool, max_size=most).map(tuple)


def _maybe(pool: st.SearchStrategy[str]) -> st.SearchStrategy[tuple[str, ...]]:
    return st.one_of(st.just(()), pool.map(lambda word: (word,)))


# Each command: its weight and its positional arguments in order (a strategy of
# one word, or of a tuple of words for optional and repeated tails).
COMMANDS: dict[str, tuple[int, list[Arg]]] = {
    "config.get": (1, [CONFIG_KEYS]),
    "config.set": (4, [CONFIG_KEYS, CONFIG_VALUES]),
    "config.unset": (1, [CONFIG_KEYS]),
    "failureGroups.counts": (1, []),
    "job.addDependency": (2, [JIDS, _some(JIDS, 2)]),
    "job.addTag": (1, [JIDS, _some(TAGS, 2)]),
    "job.cancel": (2, [_some(JIDS, 3)]),
    "job.complete": (6, [JIDS, WORKERS, QUEUES, DATA]),
    "job.completeAndRequeue": (3, [JIDS, WORKERS, QUEUES, DATA, QUEUES, REQUEUE_OPTIONS]),
    "job.fail": (3, [JIDS, WORKERS, GROUPS, MESSAGES, _maybe(DATA)]),
    "job.get": (1, [JIDS]),
    "job.getMulti": (1, [_some(JIDS, 3)]),
    "job.heartbeat": (3, [JIDS, WORKERS, _maybe(DATA)]),
    "job.log": (1, [JIDS, MESSAGES, _maybe(LOG_DATA)]),
    "job.removeDependency": (2, [JIDS, st.one_of(st.just(("all",)), _some(JIDS, 2))]),
    "job.removeTag": (1, [JIDS, _some(TAGS, 2)]),
    "job.requeue": (2, [WORKERS, QUEUES, JIDS, KLASSES, DATA, DELAYS, PUT_OPTIONS]),
    "job.retry": (
        4,
        [
            JIDS,
            QUEUES,
            WORKERS,
            _maybe(DELAYS),
            st.one_of(st.just(()), st.tuples(GROUPS, MESSAGES)),
        ],
    ),
    "job.setPriority": (1, [JIDS, NUMBERS]),
    "job.timeout": (1, [_some(JIDS, 2)]),
    "job.track": (2, [JIDS]),
    "job.untrack": (1, [JIDS]),
    "jobs.completed": (1, [OFFSETS, LIMITS]),
    "jobs.failedByGroup": (1, [GROUPS, OFFSETS, LIMITS]),
    "jobs.tagged": (1, [TAGS, OFFSETS, LIMITS]),
    "jobs.tracked": (1, []),
    "queue.counts": (1, [QUEUES]),
    "queue.forget": (1, [QUEUES]),
    "queue.jobsByState": (1, [STATES, QUEUES, OFFSETS, LIMITS]),
    "queue.length": (1, [QUEUES]),
    "queue.pause": (1, [QUEUES]),
    "queue.peek": (2, [QUEUES, PEEK_OFFSETS, POP_LIMITS]),
    "queue.pop": (10, [QUEUES, WORKERS, POP_LIMITS]),
    "queue.put": (10, [WORKERS, QUEUES, JIDS, KLASSES, DATA, DELAYS, PUT_OPTIONS]),
    "queue.recurAtInterval": (
        3,
        [
            QUEUES,
            RECURRING,
            KLASSES,
            DATA,
            st.sampled_from(["10", "60", "60", "0", "x"]),
            st.sampled_from(["0", "0", "5", "-5", "x"]),
            RECUR_OPTIONS,
        ],
    ),
    "queue.stats": (1, [QUEUES, st.sampled_from([str(T0), "x"])]),
    "queue.throttle.get": (1, [QUEUES]),
    "queue.throttle.set": (1, [QUEUES, MAXIMA]),
    "queue.unfail": (2, [QUEUES, GROUPS, st.sampled_from(["1", "25", "0", "x"])]),
    "queue.unpause": (1, [QUEUES]),
    "queues.counts": (1, []),
    "recurringJob.addTag": (1, [RECURRING, _some(TAGS, 2)]),
    "recurringJob.cancel": (1, [RECURRING]),
    "recurringJob.get": (1, [RECURRING]),
    "recurringJob.removeTag": (1, [RECURRING, _some(TAGS, 2)]),
    "recurringJob.update": (1, [RECURRING, RECUR_UPDATES]),
    "tags.top": (1, [OFFSETS, LIMITS]),
    "throttle.delete": (1, [THROTTLES]),
    "throttle.get": (1, [THROTTLES]),
    "throttle.locks": (1, [THROTTLES]),
    "throttle.pending": (1, [THROTTLES]),
    "throttle.release": (1, [THROTTLES, _some(JIDS, 2)]),
    "throttle.set": (2, [THROTTLES, MAXIMA, st.sampled_from(["0", "0", "100"])]),
    "worker.forget": (1, [WORKERS]),
    "worker.jobs": (1, [WORKERS]),
    "workers.counts": (1, []),
    # The reference predates these; test_core_invariants still drives them.
    "config.getAll": (1, []),
    "queues.names": (1, []),
    "queueIdentifierPatterns.getAll": (1, []),
    "queueIdentifierPatterns.setAll": (1, [_some(st.sampled_from(["default", "x", '["q*"]']), 2)]),
    "queuePriorityPatterns.getAll": (1, []),
    "queuePriorityPatterns.setAll": (
        1,
        [_some(st.sampled_from(['{"fairly":false,"pattern":["q1"]}', "nope"]), 2)],
    ),
}


def _flatten(words: Iterable[str | tuple[str, ...]]) -> tuple[str, ...]:
    out: list[str] = []
    for word in words:
        out.extend((word,) if isinstance(word, str) else word)
    return tuple(out)


@st.composite
def _command(draw: st.DrawFn, name: str) -> tuple[str, tuple[str, ...]]:
    args = _flatten(draw(st.tuples(*COMMANDS[name][1])))
    # Now and then a call is cut short, to reach the "missing argument" checks.
    if args and draw(st.integers(0, 19)) == 0:
        args = args[: draw(st.integers(0, len(args) - 1))]
    return name, args


def commands(
    keep: Callable[[str], bool] = lambda name: True,
) -> st.SearchStrategy[tuple[str, tuple[str, ...]]]:
    """A command name and its arguments, weighted; ``keep`` picks the commands."""
    names = [name for name, (weight, _) in COMMANDS.items() if keep(name) for _ in range(weight)]
    return st.sampled_from(names).flatmap(_command)


# How far the clock moves before a command: mostly not at all or a little, at
# times past a lease (60 s), past a grace period (10 s), or past a day.
TICKS = st.sampled_from([0, 0, 0, 0, 1, 1, 2, 0.5, 5, 11, 31, 61, 61, 75, 700, 90_000])


# ---------------------------------------------------------------------------
# Running the core


def load_build_module() -> Any:
    spec = importlib.util.spec_from_file_location("reqless_core_build", CORE_DIR / "build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Caller:
    """One core on one server: ours as a Function library or an EVAL script, or any EVAL
    script (the reference) with a name translation."""

    def __init__(self, client: redis.Redis, form: str, source: str) -> None:
        self.redis = client
        self.form = form
        if form == "function":
            # flushall leaves functions in place: replace whatever was loaded before.
            client.function_load(source, replace=True)
            self._sha = ""
        else:
            self._sha = hashlib.sha1(source.encode()).hexdigest()
            self._source = source
            client.script_load(source)

    def call(self, command: str, now: float, args: tuple[str, ...]) -> Reply:
        words: list[Any] = [command, show_now(now), *args]
        try:
            if self.form == "function":
                return Reply(None, self.redis.fcall("reqless", 0, *words))
            try:
                return Reply(None, self.redis.evalsha(self._sha, 0, *words))
            except redis.exceptions.NoScriptError:
                self.redis.script_load(self._source)
                return Reply(None, self.redis.evalsha(self._sha, 0, *words))
        except redis.exceptions.ResponseError as error:
            return Reply(str(error))


def our_source(form: str) -> str:
    build = load_build_module()
    return str(build.function_library() if form == "function" else build.eval_script())


# ---------------------------------------------------------------------------
# Reading the keys


def parse_json(text: Any) -> Any:
    """JSON texts (objects and arrays) parsed; anything else as it is."""
    if isinstance(text, str) and text[:1] in ("{", "["):
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


# How snapshot reads each kind of key, and how it shows what it read.
_READERS: dict[str, Callable[[Any, str], Any]] = {
    "string": lambda pipe, key: pipe.get(key),
    "hash": lambda pipe, key: pipe.hgetall(key),
    "list": lambda pipe, key: pipe.lrange(key, 0, -1),
    "set": lambda pipe, key: pipe.smembers(key),
    "zset": lambda pipe, key: pipe.zrange(key, 0, -1, withscores=True),
}


def _read_type(pipe: Any, key: str) -> Any:
    # A kind the core never writes: read something, shown as None.
    return pipe.type(key)


_SHOWN: dict[str, Callable[[Any], Any]] = {
    "string": parse_json,
    "hash": lambda content: {field: parse_json(text) for field, text in content.items()},
    "list": lambda content: [parse_json(text) for text in content],
    "set": sorted,
    "zset": lambda content: [(member, score) for member, score in content],
}


def snapshot(client: redis.Redis) -> dict[str, tuple[str, Any]]:
    """Every key: its type and content, JSON values parsed, sets sorted."""
    keys = sorted(cast(list[str], client.keys("*")))
    if not keys:
        return {}
    with client.pipeline(transaction=False) as pipe:
        for key in keys:
            pipe.type(key)
        kinds = cast(list[str], pipe.execute())
    with client.pipeline(transaction=False) as pipe:
        for key, kind in zip(keys, kinds, strict=True):
            _READERS.get(kind, _read_type)(pipe, key)
        contents = pipe.execute()
    return {
        key: (kind, _SHOWN[kind](content) if kind in _SHOWN else None)
        for key, kind, content in zip(keys, kinds, contents, strict=True)
    }
