"""A one-node Slurm cluster from Debian's slurm-wlm and munge, started as root for the tests.

Everything lives in one private folder: a fresh munge key and socket, a
slurm.conf on free ports (``ProctrackType=proctrack/linuxproc``,
``TaskPlugin=task/none``: no cgroups needed), the controller's state and the
logs. ``munged``, ``slurmctld`` and ``slurmd`` run in the foreground as child
processes, so they are stopped by their own pids, and clients find the cluster
through ``SLURM_CONF``. Usable by hand too:

    python tests/slurm_cluster.py /tmp/cluster   # starts it, prints the SLURM_CONF to export; Ctrl-C stops it
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

DAEMONS = ("munged", "slurmctld", "slurmd")


class ClusterUnavailable(Exception):
    """The cluster cannot start here; the message says why."""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Cluster:
    root: Path
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def conf(self) -> Path:
        return self.root / "slurm.conf"

    @property
    def controller_log(self) -> Path:
        return self.root / "slurmctld.log"

    def env(self) -> dict[str, str]:
        return {**os.environ, "SLURM_CONF": str(self.conf)}

    def run(self, *command: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(list(command), env=self.env(), capture_output=True, text=True, timeout=timeout,
                              check=False)

    def stop(self) -> None:
        """Stop the daemons by their pids, the node first."""
        for name in reversed(DAEMONS):
            process = self.processes.pop(name, None)
            if process is None or process.poll() is not None:
                continue
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def _slurm_conf(root: Path, host: str, cpus: int, memory_mb: int) -> str:
    return f"""# One-node test cluster, written by tests/slurm_cluster.py
ClusterName=canziani-test
SlurmctldHost={host}
SlurmctldPort={_free_port()}
SlurmdPort={_free_port()}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket={root}/munge.socket
CredType=cred/munge
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd.pid
SlurmctldLogFile={root}/slurmctld.log
SlurmdLogFile={root}/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
NodeName={host} CPUs={cpus} RealMemory={memory_mb} State=UNKNOWN
PartitionName=test Nodes={host} Default=YES MaxTime=INFINITE State=UP
"""


def start_cluster(root: Path, timeout_s: float = 60) -> Cluster:
    """Start munged, slurmctld and slurmd in ``root``; ClusterUnavailable says why when it cannot."""
    if os.geteuid() != 0:
        raise ClusterUnavailable("the daemons must run as root")
    missing = [name for name in (*DAEMONS, "sbatch", "squeue", "sinfo") if shutil.which(name) is None]
    if missing:
        raise ClusterUnavailable(f"{', '.join(missing)} not installed (apt-get install slurm-wlm munge; "
                                 "make slurm-deps)")
    root.mkdir(parents=True, exist_ok=True)
    for folder in ("state", "spool"):
        (root / folder).mkdir(exist_ok=True)
    key = root / "munge.key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o600)
    host = socket.gethostname().split(".")[0]
    memory_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // (1024 * 1024) // 2
    (root / "slurm.conf").write_text(_slurm_conf(root, host, os.cpu_count() or 1, memory_mb))
    cluster = Cluster(root)
    commands = {
        "munged": ["munged", "--foreground", "--force", f"--socket={root}/munge.socket", f"--key-file={key}",
                   f"--log-file={root}/munged.log", f"--pid-file={root}/munged.pid", f"--seed-file={root}/munged.seed"],
        "slurmctld": ["slurmctld", "-D", "-c", "-f", str(cluster.conf)],
        "slurmd": ["slurmd", "-D", "-f", str(cluster.conf)],
    }
    try:
        for name in DAEMONS:
            log = (root / f"{name}.out").open("wb")
            cluster.processes[name] = subprocess.Popen(commands[name], env=cluster.env(), stdout=log,
                                                       stderr=subprocess.STDOUT, start_new_session=True)
            if name == "munged":
                _wait_for(lambda: (root / "munge.socket").exists(), timeout_s, "munged's socket", cluster)
        _wait_for(lambda: "idle" in cluster.run("sinfo", "-h", "-o", "%T").stdout, timeout_s,
                  "an idle node in sinfo", cluster)
    except BaseException:
        cluster.stop()
        raise
    return cluster


def _wait_for(ready: object, timeout_s: float, what: str, cluster: Cluster) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for name, process in cluster.processes.items():
            if process.poll() is not None:
                out = (cluster.root / f"{name}.out").read_text(errors="replace")[-2000:]
                raise ClusterUnavailable(f"{name} exited with {process.returncode}: {out}")
        if callable(ready) and ready():
            return
        time.sleep(0.5)
    raise ClusterUnavailable(f"no {what} after {timeout_s:.0f} s (logs in {cluster.root})")


if __name__ == "__main__":
    where = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/canziani-slurm").absolute()
    running = start_cluster(where)
    print(f"export SLURM_CONF={running.conf}   # daemons: "
          + ", ".join(f"{name} {process.pid}" for name, process in running.processes.items()), flush=True)
    try:
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        running.stop()
