"""Faults of a chaos run and their schedule. The schedule (which fault, on what, for how long,
how long to wait before it) is drawn from the seed alone, so a seed replays the same faults
in the same order; only timing relative to the writers differs between runs.

kind                      what happens
kill9:C                   kill -9 of component C (relay, projector, moderation); restarted after `hold`
stall:C                   SIGSTOP of C for `hold` (> the consumer group's session.timeout.ms), SIGCONT
broker:kill9              kill -9 of the broker; restarted after `hold` (log recovery on start)
pg:fast, pg:immediate     PostgreSQL stopped in that mode, started again after `hold`
registry:kill9            kill -9 of the registry, started again after `hold`
net:C-pg:MODE             the TCP proxy between C and PostgreSQL in MODE (reset or blackhole) for `hold`
net:C-kafka:MODE          the same between C and the broker (C's own listener)
"""
import random
import subprocess
import time

COMPONENTS = ("relay", "projector", "moderation")
STALL_TARGETS = ("projector", "moderation", "relay")

# (kind, weight, (min hold s, max hold s))
CATALOGUE = (
    [("kill9:" + c, 3, (0.0, 3.0)) for c in COMPONENTS]
    + [("stall:projector", 2, (8.0, 12.0)), ("stall:moderation", 2, (8.0, 12.0)),
       ("stall:relay", 1, (8.0, 12.0))]
    + [("broker:kill9", 2, (1.0, 6.0)), ("pg:fast", 2, (0.0, 4.0)), ("pg:immediate", 2, (0.0, 4.0)),
       ("registry:kill9", 1, (1.0, 5.0))]
    + [("net:%s-%s:%s" % (c, srv, mode), 1, (3.0, 12.0))
       for c in COMPONENTS for srv in ("pg", "kafka") for mode in ("reset", "blackhole")]
)


class Fault:
    def __init__(self, index, kind, hold, gap):
        self.index = index
        self.kind = kind
        self.hold = hold  # seconds the fault stays in force
        self.gap = gap  # seconds of calm before it is injected
        self.injected_at = None
        self.healed_at = None
        self.recovery = None  # seconds from heal to the probe's round trip, None: not recovered
        self.note = ""

    def describe(self):
        return "%s hold %.1fs" % (self.kind, self.hold)


def schedule(seed, n_faults):
    """The faults of seed `seed`: a list of Fault, the same for the same seed."""
    rng = random.Random("chaos-schedule-%d" % seed)
    kinds = [k for k, _, _ in CATALOGUE]
    weights = [w for _, w, _ in CATALOGUE]
    holds = {k: h for k, _, h in CATALOGUE}
    out = []
    for i in range(n_faults):
        kind = rng.choices(kinds, weights)[0]
        lo, hi = holds[kind]
        out.append(Fault(i + 1, kind, round(rng.uniform(lo, hi), 1), round(rng.uniform(1.0, 4.0), 1)))
    return out


def stack(run, *args):
    """compose/stack on the run's stack; raises with its output when it fails."""
    r = subprocess.run(["bash", run.stack_script] + list(args), env=run.stack_env,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)
    if r.returncode != 0:
        raise RuntimeError("compose/stack %s failed: %s" % (" ".join(args), r.stdout.decode(errors="replace")[-2000:]))


def inject(run, fault):
    """Injects the fault, keeps it for fault.hold seconds, heals it. Sets injected_at/healed_at."""
    kind = fault.kind
    head, _, arg = kind.partition(":")
    fault.injected_at = time.monotonic()
    if head == "kill9":
        svc = run.services[arg]
        svc.kill9()
        run.sleep(fault.hold)
        svc.start()
    elif head == "stall":
        svc = run.services[arg]
        svc.sigstop()
        run.sleep(fault.hold)
        svc.sigcont()
    elif head == "broker":
        stack(run, "kafka-kill")
        run.sleep(fault.hold)
        stack(run, "kafka-start")
    elif head == "pg":
        stack(run, "pg-stop", arg)
        run.sleep(fault.hold)
        stack(run, "pg-start")
    elif head == "registry":
        stack(run, "registry-kill")
        run.sleep(fault.hold)
        stack(run, "registry-start")
    elif head == "net":
        link, _, mode = arg.partition(":")
        run.proxies.set_state(link, mode)
        run.sleep(fault.hold)
        run.proxies.set_state(link, "pass")
    else:
        raise ValueError("unknown fault kind %s" % kind)
    fault.healed_at = time.monotonic()
