#!/opt/venv/bin/python
"""supervisord, as PID 1, whose exit status is uWSGI's.

Plain supervisord keeps running, and later exits 0, when its program cannot
start: in a container that hides the error and can loop on restarts. This runs
supervisord's own main loop with one rule added for the `uwsgi` program:

- uWSGI exited by itself (a bad app gives 22, a bad option 1): supervisord
  shuts down and this exits with uWSGI's status, so `docker run` fails loudly
  and a restart policy, not a loop in here, decides what comes next;
- uWSGI was killed by a signal (SIGKILL, the OOM killer): supervisord restarts
  it (autorestart = unexpected), which is what supervision is for;
- uWSGI could not even be spawned: exit 127.

Other programs (supervisor.d/*.conf) follow their own settings.

Why not supervisord itself, with an event listener: a listener can learn
that uWSGI exited and ask supervisord to shut down over XML-RPC, but
supervisord would still exit 0, and its main loop acts only when its 1 s
poll() times out (Python resumes a poll interrupted by a signal): it starts
its programs a second late and takes another second to act on `docker
stop`. This runs supervisord's own loop with three additions made through
its internals: an exit-status rule (events.subscribe), programs started at
once, and a wake-up file descriptor in its poller. They are tied to
SUPERVISOR_VERSION (requirements/supervisor.txt pins it);
tests/supervisor/test_supervisord.py checks the pin and times both ways.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys

# supervisor is installed apart from the app's packages (see Dockerfile.dev);
# outside the image (the tests), it is the environment's own.
if "FLASK_UWSGI_LIB" in os.environ:
    sys.path.insert(0, os.path.join(os.environ["FLASK_UWSGI_LIB"], "supervisor"))

from supervisor import events
from supervisor.medusa import asyncore_25 as asyncore
from supervisor.options import ServerOptions
from supervisor.states import SupervisorStates
from supervisor.supervisord import Supervisor

# The release these internals were read in (a test keeps the pins equal).
SUPERVISOR_VERSION = "4.3.0"


class ExitStatusSupervisor(Supervisor):
    """A Supervisor that ends itself when uWSGI ends by itself."""

    program = "uwsgi"
    exit_status = 0

    def runforever(self) -> None:
        # run() clears event subscriptions just before calling runforever().
        events.subscribe(events.ProcessStateExitedEvent, self._on_exited)
        events.subscribe(events.ProcessStateFatalEvent, self._on_fatal)
        # supervisord first starts programs after one poll() of up to 1 s;
        # start them now: a second less from `docker run` to serving.
        for group in self.process_groups.values():
            group.transition()
        self._wake_on_signals()
        super().runforever()

    def _wake_on_signals(self) -> None:
        """Make poll() return when a signal arrives (SIGTERM, SIGCHLD, ...).

        Python resumes an interrupted poll() (PEP 475), so supervisord would act
        on `docker stop` and on an exited child only when its 1 s poll times
        out. A wakeup pipe that poll() also watches makes that immediate.
        """
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_r, False)
        os.set_blocking(wake_w, False)
        signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)
        poller = self.options.poller
        poll = poller.poll

        def poll_or_wake(timeout: float) -> tuple[list[int], list[int]]:
            with contextlib.suppress(BlockingIOError):
                while os.read(wake_r, 512):
                    pass
            poller.register_readable(wake_r)
            readable, writable = poll(timeout)
            return [fd for fd in readable if fd != wake_r], writable

        poller.poll = poll_or_wake

    def _on_exited(self, event: events.ProcessStateExitedEvent) -> None:
        process = event.process
        # exitstatus is -1 when a signal ended the process: leave that to autorestart.
        if process.config.name != self.program or process.exitstatus in (None, -1):
            return
        self._shutdown(process.exitstatus, f"{self.program} exited with status {process.exitstatus}")

    def _on_fatal(self, event: events.ProcessStateFatalEvent) -> None:
        if event.process.config.name == self.program:
            self._shutdown(127, f"{self.program} could not be started: {event.process.spawnerr}")

    def _shutdown(self, status: int, why: str) -> None:
        self.exit_status = status
        self.options.logger.warn(f"{why}; stopping the container")
        self.options.mood = SupervisorStates.SHUTDOWN


def main(argv: list[str] | None = None) -> int:
    """supervisord's main(), keeping the exit status across SIGHUP restarts."""
    first = True
    while True:
        options = ServerOptions()
        options.realize(argv if argv is not None else sys.argv[1:])
        options.first = first
        options.test = False
        supervisor = ExitStatusSupervisor(options)
        # asyncore.ExitNow is how supervisord's loop ends normally.
        with contextlib.suppress(asyncore.ExitNow):
            supervisor.main()
        options.close_httpservers()
        options.close_logger()
        first = False
        if options.mood < SupervisorStates.RESTARTING:
            return supervisor.exit_status


if __name__ == "__main__":
    sys.exit(main())
