"""The rate of requests to one account and region: close to the service's quota, which
is found by listening to its answers, and never collapsing.

The service limits each account and region to a request rate (a token bucket, with a
burst). A crawl's time is its number of calls over that rate, so the client should send
at the quota: faster only wastes requests on throttling, slower wastes time.

:class:`RateFinder` paces the HTTP requests of one account and region (retries
included) and learns from each answer whether it was throttled. It starts unpaced, and
starts pacing when the quota shows as a wall: nearly all of the last answers
throttled right after the service took a burst (requests in flight together meet the
emptied bucket before any retry is answered), or at least half of them and of the
last retries too (a quota throttles a retry sent
right after as it did the first attempt; throttling at random, or of first attempts
only, does not).
It then paces at a little below what the service accepted in the last second, and
grows that while every request is taken. Every window (about a second of answers) it
measures the *accepted rate* (answers not throttled, per second; under a quota it
cannot exceed the quota) and the share throttled. Its estimate of the quota is the
highest rate of the recent windows (like TCP BBR's bandwidth filter), and it paces at
the estimate times a gain that cycles: 1.25 for one window to probe for more, 0.85 for
one to let the service's bucket refill, then 1. A window throttled well beyond the
*usual share* (the median of the recent windows', plus what chance alone explains)
resets the estimate to what it accepted: the quota showed; so does a drain window
throttled less than the probe before it. A window as throttled as the one before,
although that one brought the rate down, shows throttling the rate does not cause: it
joins the usual share, and windows within the usual share count what they sent, not
only what was accepted.

Why not botocore's adaptive retry mode (what this client used before): it cuts its rate
on every throttled answer, so throttling that the rate does not cause (another
workload sharing the account's quota, a noisy service) drives it down to a fraction of
a request per second, and a 60-version listing that takes 5 s ran for minutes (measured
in the issue "Crawl at the service's real bound"); and aiobotocore's token bucket leaves
tasks pending when a request is cancelled while it waits. Here throttling that does
not depend on the rate shows in every window alike, which the usual share absorbs,
while the estimate follows what the service accepts; pacing is a turn the request
waits for in its own task, so cancelling leaves nothing behind.
"""

from __future__ import annotations

import math
import random
import statistics
from collections import deque
from collections.abc import Callable

import anyio

__all__ = ["RateFinder"]

# Unpaced, pacing starts when at least half the last answers were throttled: the quota
# shows as a wall (everything beyond it throttled), throttling that the rate does not
# cause as a steady trickle that never comes near half.
_ONSET_ANSWERS = 10
_ONSET_RETRIES = 3
# ... or at once when nearly all of them were right after the service took a burst (at
# least as many in the last second): a bucket emptied, and requests sent before the
# first retry is answered meet it too. Chance alone throttles 9 of 10 at a 12 % share
# once in 2e7; a service that throttles first attempts (and takes retries) took no
# burst before them.
_WALL_ANSWERS = 9
_SETTLE = 0.25  # seconds after pacing starts during which answers are not counted
_STARTUP_GROWTH = 1.25  # per window, while paced requests wait and nothing shows a quota
# A window closes after this long, or sooner when heavy throttling needs an answer.
_WINDOW = 1.0
_HEAVY_WINDOW = 0.25
_HEAVY_COUNT = 20  # throttled answers that close a window early
_MIN_ANSWERS = 3  # a window with fewer answers says too little, and goes on
_HISTORY = 8  # windows the estimate and the usual share remember
# The gain cycle: probe above the estimate, drain below it, then cruise at it.
_GAINS = (1.25, 0.85, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0)
_DRAIN = 1
# Throttling this far above the usual share means the rate itself was too high.
_EXCESS = 0.08
_MAX_USUAL = 0.5  # beyond this, throttling is taken for the rate's doing
_MIN_RATE = 0.5  # requests per second: never slower (botocore's adaptive floor)
# Requests may run this far ahead of the schedule: a small burst after a lull.
_SLACK = 0.05
_RETRY_JITTER = 0.05


class RateFinder:
    """Paces the requests of one account and region at the quota it finds.

    :meth:`wait` before each HTTP request; :meth:`answered` after each answer.
    """

    def __init__(self, clock: Callable[[], float] = anyio.current_time) -> None:
        self._clock = clock
        self.rate: float | None = None  # requests per second; None: not paced (yet)
        self._next = 0.0  # the time the next request may leave
        self._turn = anyio.Lock()  # fair: waiting requests leave in order
        self._starting = False  # paced, and no window has shown the quota yet
        self._held = 0  # requests of this window that waited for their turn
        self._before: tuple[float, float] | None = None  # the last window's share, rate
        self._excess: float | None = None  # the last window's share, if the rate's doing
        self._phase = 0
        self._recent: deque[bool] = deque(maxlen=_ONSET_ANSWERS)  # throttled or not
        self._recent_retries: deque[bool] = deque(maxlen=_ONSET_ANSWERS)
        self._accepted_at: deque[float] = deque()  # the last second's accepted answers
        self._window_start = 0.0
        self._accepted = 0
        self._throttled = 0
        self._rates: deque[float] = deque(maxlen=_HISTORY)  # accepted per second
        self._shares: deque[float] = deque(maxlen=_HISTORY)  # throttled share

    def __repr__(self) -> str:
        rate = "unpaced" if self.rate is None else f"{self.rate:.2f}/s"
        return f"<RateFinder {rate}>"

    async def wait(self) -> None:
        """Wait until this request may leave: requests leave one by one, in the order
        they came (a fair lock), each ``1 / rate`` after the one before at the rate of
        the moment it leaves, so a new rate shows at once. Cancelling the wait only
        gives up the request's place (no task, nothing to clean up)."""
        if self.rate is None:
            return
        async with self._turn:
            now = self._clock()
            start = max(now - _SLACK, self._next)
            if start > now:
                self._held += 1
                await anyio.sleep(start - now)
            rate = self.rate
            self._next = start + (0.0 if rate is None else 1.0 / rate)

    def retry_delay(self) -> float:
        """How long a throttled request waits before botocore sends it again: a few
        milliseconds of jitter, so that the retries of a burst do not leave together;
        :meth:`wait` then holds the retry to the pace like any request."""
        return random.uniform(0, _RETRY_JITTER)  # noqa: S311 - jitter, not a secret

    def answered(self, *, throttled: bool, retry: bool = False) -> None:
        """Learn from one answer of the service (any answer but a transport failure);
        ``retry``: the answer to a retried attempt."""
        now = self._clock()
        if self.rate is None:
            self._recent.append(throttled)
            if retry:
                self._recent_retries.append(throttled)
            if not throttled:
                self._accepted_at.append(now)
                while self._accepted_at[0] < now - 1.0:
                    self._accepted_at.popleft()
            elif self._at_a_wall(now):
                self._start_pacing(now)
            return
        if now < self._window_start:
            return
        if throttled:
            self._throttled += 1
        else:
            self._accepted += 1
        elapsed = now - self._window_start
        answers = self._accepted + self._throttled
        heavy = self._throttled >= _HEAVY_COUNT and elapsed >= _HEAVY_WINDOW
        if answers >= _MIN_ANSWERS and (elapsed >= _WINDOW or heavy):
            self._close_window(elapsed, answers)
            self._window_start = now

    def _at_a_wall(self, now: float) -> bool:
        """Whether the unpaced requests have met the quota: nearly all of the last
        answers throttled right after a burst was taken, or at least half of them and
        of the last retries too (a quota throttles a retry sent right after as it did
        the first attempt; a service that throttles first attempts only, or at random,
        does not)."""
        recent, retries = self._recent, self._recent_retries
        if len(recent) < _ONSET_ANSWERS:
            return False
        throttled = sum(recent)
        burst = sum(1 for at in self._accepted_at if at >= now - 1.0)
        return (throttled >= _WALL_ANSWERS and burst >= _ONSET_ANSWERS) or (
            2 * throttled >= len(recent)
            and len(retries) >= _ONSET_RETRIES
            and 2 * sum(retries) >= len(retries)
        )

    def _start_pacing(self, now: float) -> None:
        # What the service accepted in the last second is the first estimate; the
        # burst emptied the service's bucket, so the first window drains below it, to
        # let the bucket refill. Too low (a quota met within the first second), the
        # start-up windows grow it until the quota shows; then the cycle goes on.
        accepted = sum(1 for at in self._accepted_at if at >= now - 1.0)
        self._phase = _DRAIN
        self._starting = True
        self.rate = max(_MIN_RATE, accepted * _GAINS[_DRAIN])
        self._recent.clear()
        self._recent_retries.clear()
        self._accepted_at.clear()
        # The answers to requests sent before pacing, still in flight, say nothing of
        # the pace: the first window opens once they are in.
        self._window_start = now + _SETTLE
        self._next = now

    def _close_window(self, elapsed: float, answers: int) -> None:
        accepted_rate = self._accepted / elapsed
        share = self._throttled / answers
        self._accepted = self._throttled = 0
        held, self._held = self._held, 0
        # The throttling that windows show anyway (the median of those the rate was
        # not blamed for), and how far a window's share strays from it by chance
        # alone (three standard errors).
        usual = statistics.median(self._shares) if self._shares else 0.0
        noise = 3 * math.sqrt(usual * (1 - usual) / answers)
        before, self._before = self._before, (share, accepted_rate)
        excessive = share - usual > max(_EXCESS, noise)
        if excessive and self._excess is not None and share >= self._excess - noise:
            # As throttled as the window before, although that one brought the rate
            # down to what was accepted: this throttling is not the rate's doing, and
            # is the usual share from now on.
            excessive = False
        self._excess = share if excessive else None
        if excessive:
            # Throttled beyond what throttling costs anyway: the rate met the quota,
            # and what was accepted is the quota.
            self._quota_met(accepted_rate)
        elif (
            self._phase == _DRAIN and before is not None and before[0] - share > max(_EXCESS, noise)
        ):
            # Sending less (the drain after the probe) was throttled less: the probe
            # met the quota, which is what the two windows accepted.
            self._shares.append(share)
            self._quota_met(max(accepted_rate, before[1]))
        elif self._starting and held and share == 0 and self.rate is not None:
            # Requests waited for their turn and the service took them all: the
            # estimate is too low, and grows fast until the quota shows.
            self._shares.append(share)
            self._rates.append(self.rate * _STARTUP_GROWTH)
            self.rate = self._rates[-1]
            return
        else:
            # Not held back: what was sent could have been accepted but for the usual
            # throttling, which the rate did not cause.
            self._starting = False
            self._shares.append(share)
            self._rates.append(accepted_rate / (1 - min(usual, _MAX_USUAL)))
        self._phase = (self._phase + 1) % len(_GAINS)
        self.rate = max(_MIN_RATE, max(self._rates) * _GAINS[self._phase])

    def _quota_met(self, accepted_rate: float) -> None:
        self._starting = False
        self._rates.clear()
        self._rates.append(accepted_rate)
