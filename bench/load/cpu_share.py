"""Holding a proxy to a share of one CPU (`--proxy-cpu-share`), so that it
is the bottleneck and never idle.

In the proxy scenario the backend and the load share the other CPU and set
the pace: a proxy that works less per request is idle longer, and how it
spends that time (asleep and woken, or polling with `busy_poll`) counts in
its CPU per request as much as its work does. Held to, say, half a CPU by a
cgroup CPU quota, it is busy all the time it may run, and its CPU per
request is its work (docs/benchmarks.md, "User-space instructions per
request").

cgroup v2 (`cpu.max`) where the cpu controller is there, else v1
(`cpu.cfs_quota_us`). Needs root; a share of 1 or more holds nothing.
"""
import os

from benchlib import process_tree

PERIOD_US = 10_000


def _cgroup_root():
    """('v2', path) or ('v1', path) of a hierarchy with the cpu controller."""
    for root in ("/sys/fs/cgroup", "/sys/fs/cgroup/unified"):
        try:
            with open(os.path.join(root, "cgroup.controllers")) as f:
                if "cpu" in f.read().split():
                    return "v2", root
        except OSError:
            pass
    v1 = "/sys/fs/cgroup/cpu"
    if os.path.exists(os.path.join(v1, "cpu.cfs_quota_us")):
        return "v1", v1
    raise SystemExit("--proxy-cpu-share: no cgroup with the cpu controller here")


def _write(path, text):
    with open(path, "w") as f:
        f.write(text)


class CpuShare:
    """A cgroup that lets its processes run `share` of one CPU's time."""

    def __init__(self, name, share):
        self.path = None
        if share >= 1:
            return
        if share <= 0:
            raise SystemExit("--proxy-cpu-share: a share above 0")
        self.kind, root = _cgroup_root()
        self.root = root
        self.path = os.path.join(root, f"sluice-bench-{name}-{os.getpid()}")
        os.makedirs(self.path, exist_ok=True)
        quota = max(1000, int(share * PERIOD_US))
        if self.kind == "v2":
            _write(os.path.join(root, "cgroup.subtree_control"), "+cpu")
            _write(os.path.join(self.path, "cpu.max"), f"{quota} {PERIOD_US}")
        else:
            _write(os.path.join(self.path, "cpu.cfs_period_us"), str(PERIOD_US))
            _write(os.path.join(self.path, "cpu.cfs_quota_us"), str(quota))

    def hold(self, pid):
        """Moves pid and its descendants (nginx's workers) into the cgroup."""
        if self.path is None:
            return
        for p in process_tree(pid):
            try:
                _write(os.path.join(self.path, "cgroup.procs"), str(p))
            except OSError:
                pass  # exited meanwhile

    def close(self):
        """Moves what is left back to the root and removes the cgroup."""
        if self.path is None:
            return
        try:
            with open(os.path.join(self.path, "cgroup.procs")) as f:
                left = f.read().split()
        except OSError:
            left = []
        for p in left:
            try:
                _write(os.path.join(self.root, "cgroup.procs"), p)
            except OSError:
                pass
        try:
            os.rmdir(self.path)
        except OSError:
            pass
        self.path = None
