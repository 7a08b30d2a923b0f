"""The components under test, run and supervised by the chaos runner: outbox-relay,
outbox-projector and outbox-moderation. Like a service manager (Restart=always) the runner
restarts a component that exits by itself; it records every such exit: an exit status is
the component's decision (e.g. fail-closed), a death by a signal the runner did not send is
a crash and a violation. PID files go to <state>/chaos/NAME.pid, so `compose/stack down`
stops whatever a runner killed with -9 left behind. A Supervisor thread watches them; each
Service's lock orders its own actions against the supervisor's.
"""
import os
import signal
import subprocess
import threading
import time


class Service:
    def __init__(self, name, argv, log_path, pid_dir, env=None):
        self.name = name
        self.argv = argv
        self.log_path = log_path
        self.pid_path = os.path.join(pid_dir, name + ".pid")
        self.env = env
        self.proc = None
        self.expect_exit = False  # the runner is killing or stopping it
        self.stopped = False  # SIGSTOP in force
        self.starts = 0
        self.unplanned_exits = []  # (when, returncode)
        self.lock = threading.RLock()

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def start(self):
        with self.lock:
            self._start()

    def _start(self):
        log = open(self.log_path, "ab")
        log.write(b"\n==== chaos: start %d at %s\n" % (self.starts + 1, time.strftime("%H:%M:%S").encode()))
        log.flush()
        self.proc = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env=self.env, start_new_session=True)
        log.close()
        self.starts += 1
        self.expect_exit = False
        self.stopped = False
        with open(self.pid_path, "w") as f:
            f.write("%d\n" % self.proc.pid)

    def kill9(self):
        with self.lock:
            self._kill9()

    def _kill9(self):
        if self.running():
            self.expect_exit = True
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        self._forget()

    def sigstop(self):
        if self.running():
            self.proc.send_signal(signal.SIGSTOP)
            self.stopped = True

    def sigcont(self):
        if self.proc is not None and self.stopped:
            try:
                self.proc.send_signal(signal.SIGCONT)
            except ProcessLookupError:
                pass
        self.stopped = False

    def terminate(self, timeout=40):
        """SIGTERM, wait; kill -9 after the timeout. Returns the exit status (None: killed)."""
        with self.lock:
            return self._terminate(timeout)

    def _terminate(self, timeout):
        if not self.running():
            self._forget()
            return self.proc.returncode if self.proc else None
        self.expect_exit = True
        self.sigcont()
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
            rc = None
        self._forget()
        return rc

    def _forget(self):
        try:
            os.unlink(self.pid_path)
        except FileNotFoundError:
            pass

    def supervise(self):
        """Restart after an exit the runner did not cause; returns the exit status or None."""
        with self.lock:
            return self._supervise()

    def _supervise(self):
        if self.proc is None or self.expect_exit or self.proc.poll() is None:
            return None
        rc = self.proc.returncode
        self.unplanned_exits.append((time.monotonic(), rc))
        self._forget()
        time.sleep(1.0)
        self._start()
        return rc

    def crashes(self):
        """Deaths by a signal the runner did not send (SIGSEGV, SIGABRT, ...)."""
        return [(t, rc) for t, rc in self.unplanned_exits if rc is not None and rc < 0]


class Supervisor(threading.Thread):
    """Restarts, within a second, any service of `services` (a dict, re-read each round) that
    exited on its own; `report` is called with (service, exit status)."""

    def __init__(self, services, report):
        super().__init__(name="supervisor", daemon=True)
        self.services = services
        self.report = report
        self.stop_event = threading.Event()

    def run(self):
        while not self.stop_event.wait(0.3):
            for svc in list(self.services()):
                rc = svc.supervise()
                if rc is not None:
                    self.report(svc, rc)

    def stop(self):
        self.stop_event.set()
        self.join(10)
