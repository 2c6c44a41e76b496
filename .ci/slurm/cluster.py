#!/usr/bin/env python3
"""A throw-away one-node SLURM cluster with accounting, for tests and CI.

Everything lives in one temporary directory: configuration, munge key and
socket, MariaDB data, SLURM state, spool and logs.  The daemons (munged,
mariadbd, slurmdbd, slurmctld, slurmd) run in the foreground as children of
this process; their PIDs are recorded in ``<dir>/pids.json`` and exactly
those processes are stopped at the end.  Every port is picked free at start,
so two clusters (or a system SLURM) can coexist on one machine.

Facts this relies on (Debian 12, SLURM 22.05, see docs/cluster.md):
``proctrack/linuxproc``, ``task/none``, ``jobacct_gather/none``,
``select/cons_tres`` + ``CR_Core_Memory``; a fake GPU needs
``File=/dev/null`` in gres.conf or the node drains.

Usage from Python (stdlib only)::

    cluster = SlurmCluster()
    cluster.start()            # raises ClusterError with the log tails
    subprocess.run(["sbatch", "--wrap", "true"], env=cluster.env)
    cluster.stop()

Command line::

    cluster.py start [--dir DIR]   # start, print `export SLURM_CONF=...`, leave running
    cluster.py stop --dir DIR      # stop the PIDs recorded in DIR/pids.json
    cluster.py run -- CMD ...      # start, run CMD with the cluster's env, stop

Needs root (slurmd launches jobs; the daemons run with SlurmUser=root).
Install the packages first with ``.ci/slurm/install.sh``.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
INSTALL_SCRIPT = HERE / "install.sh"

REQUIRED_BINARIES = [
    "munged",
    "slurmdbd",
    "slurmctld",
    "slurmd",
    "sbatch",
    "sacct",
    "sacctmgr",
    "sinfo",
    "squeue",
    "scancel",
    "scontrol",
]
SBIN_DIRS = ["/usr/sbin", "/sbin", "/usr/local/sbin"]
TERMINAL_STATES = {
    "BOOT_FAIL",
    "CANCELLED",
    "COMPLETED",
    "DEADLINE",
    "FAILED",
    "NODE_FAIL",
    "OUT_OF_MEMORY",
    "PREEMPTED",
    "TIMEOUT",
    "REVOKED",
}


class ClusterError(RuntimeError):
    """The cluster could not be started (message includes the daemons' log tails)."""


def which(name: str) -> str | None:
    """Find a binary on PATH or in the sbin directories (not always on PATH)."""
    found = shutil.which(name)
    if found:
        return found
    for d in SBIN_DIRS:
        p = Path(d) / name
        if p.is_file() and os.access(p, os.X_OK):
            return str(p)
    return None


def first_binary(*names: str) -> str | None:
    for n in names:
        p = which(n)
        if p:
            return p
    return None


def missing_binaries() -> list[str]:
    missing = [b for b in REQUIRED_BINARIES if which(b) is None]
    if first_binary("mariadbd", "mysqld") is None:
        missing.append("mariadbd")
    if first_binary("mariadb-install-db", "mysql_install_db") is None:
        missing.append("mariadb-install-db")
    return missing


def install(timeout: float = 900) -> subprocess.CompletedProcess:
    """Run install.sh (apt-get); returns the completed process (rc 2: impossible here)."""
    return subprocess.run(
        ["bash", str(INSTALL_SCRIPT)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def free_ports(n: int) -> list[int]:
    socks, ports = [], []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in socks:
            s.close()
    return ports


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def tail(path: Path, lines: int = 25) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join(text[-lines:])


def node_hardware() -> dict[str, int]:
    """CPUs, sockets, cores, threads and memory as `slurmd -C` reports them."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM")}
    out = subprocess.run(
        [which("slurmd") or "slurmd", "-C"],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
        check=True,
    ).stdout
    fields: dict[str, int] = {}
    for token in out.split():
        if "=" in token:
            k, v = token.split("=", 1)
            if v.isdigit():
                fields[k] = int(v)
    for key in ("CPUs", "RealMemory"):
        if key not in fields:
            raise ClusterError(f"cannot parse `slurmd -C` output: {out!r}")
    return fields


class SlurmCluster:
    """One-node SLURM cluster (partitions ``cpu`` default and ``gpu``, one fake GPU)."""

    cpu_partition = "cpu"
    gpu_partition = "gpu"
    account = "ci"
    db_user = "slurm"
    db_password = "slurm-ci-only"

    def __init__(
        self,
        directory: str | os.PathLike | None = None,
        cluster_name: str = "mvlmci",
        keep: bool = False,
        debug: str = "info",
    ) -> None:
        if directory is None:
            # Not under pytest's tmp_path: munged needs every parent of its
            # socket to be searchable by everyone (pytest-of-<user> is 0700).
            directory = tempfile.mkdtemp(prefix="mvlm-slurm-")
        self.dir = Path(directory).resolve()
        self.cluster_name = cluster_name.lower()
        self.keep = keep
        self.debug = debug
        self.node = socket.gethostname().split(".")[0]
        self.procs: dict[str, subprocess.Popen] = {}
        self.pids: dict[str, int] = {}
        self.timings: dict[str, float] = {}
        self.hw: dict[str, int] = {}
        self._started = False
        self._stopped = False
        (
            self.mysql_port,
            self.dbd_port,
            self.ctld_port,
            self.slurmd_port,
        ) = free_ports(4)

    # ------------------------------------------------------------------ paths
    @property
    def etc(self) -> Path:
        return self.dir / "etc"

    @property
    def logs(self) -> Path:
        return self.dir / "log"

    @property
    def slurm_conf(self) -> Path:
        return self.etc / "slurm.conf"

    @property
    def munge_socket(self) -> Path:
        return self.dir / "munge" / "munge.socket"

    @property
    def partitions(self) -> dict[str, str]:
        return {"cpu": self.cpu_partition, "gpu": self.gpu_partition}

    @property
    def cpus(self) -> int:
        return self.hw.get("CPUs", 0)

    @property
    def mem_mb(self) -> int:
        """RealMemory configured for the node (what jobs may request in total)."""
        return self.hw.get("ConfiguredMemory", 0)

    @property
    def env(self) -> dict[str, str]:
        """Environment for subprocesses that talk to this cluster.

        SLURM_* variables of the caller (e.g. when the tests themselves run
        inside a job on a real cluster) are dropped; the Python running the
        tests has its bin directory first on PATH, because sbatch exports the
        submitting environment to the job (--export=ALL).
        """
        env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
        env["SLURM_CONF"] = str(self.slurm_conf)
        path = [str(Path(sys.executable).parent)]
        path += [d for d in SBIN_DIRS if Path(d).is_dir()]
        path += env.get("PATH", "/usr/bin:/bin").split(os.pathsep)
        seen: set[str] = set()
        env["PATH"] = os.pathsep.join(p for p in path if not (p in seen or seen.add(p)))
        return env

    # ---------------------------------------------------------------- config
    def write_config(self) -> None:
        for sub in ("etc", "log", "run", "state", "spool", "munge", "mysql", "jobs"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        # munged refuses sockets in directories that are not searchable by all.
        os.chmod(self.dir, 0o755)
        os.chmod(self.dir / "munge", 0o755)

        key = self.dir / "munge" / "munge.key"
        if not key.exists():
            fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(os.urandom(1024))

        self.hw = node_hardware()
        # A little under what slurmd reports, or the node drains ("Low RealMemory").
        real = self.hw["RealMemory"]
        self.hw["ConfiguredMemory"] = max(real - max(512, real // 20), 1024)
        cpus = self.hw["CPUs"]
        topo = ""
        if all(k in self.hw for k in ("SocketsPerBoard", "CoresPerSocket", "ThreadsPerCore")):
            topo = (
                f" Boards={self.hw.get('Boards', 1)}"
                f" SocketsPerBoard={self.hw['SocketsPerBoard']}"
                f" CoresPerSocket={self.hw['CoresPerSocket']}"
                f" ThreadsPerCore={self.hw['ThreadsPerCore']}"
            )
        d = self.dir
        auth_info = f"socket={self.munge_socket}"
        slurm_conf = f"""\
# Generated by .ci/slurm/cluster.py -- a one-node test cluster, not for production.
ClusterName={self.cluster_name}
SlurmctldHost={self.node}(127.0.0.1)
SlurmctldPort={self.ctld_port}
SlurmdPort={self.slurmd_port}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo={auth_info}
StateSaveLocation={d}/state
SlurmdSpoolDir={d}/spool/slurmd-%n
SlurmctldPidFile={d}/run/slurmctld.pid
SlurmdPidFile={d}/run/slurmd-%n.pid
SlurmctldLogFile={d}/log/slurmctld.log
SlurmdLogFile={d}/log/slurmd.log
SlurmctldDebug={self.debug}
SlurmdDebug={self.debug}
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
MpiDefault=none
SwitchType=switch/none
JobCompType=jobcomp/none
MailProg=/bin/true
GresTypes=gpu
# An impossible request fails at submission instead of pending forever.
EnforcePartLimits=ALL
# Jobs without --mem do not take the whole node.
DefMemPerCPU=2000
# Finished jobs stay visible to squeue for 5 minutes (>= 3x the status-check delay).
MinJobAge=300
ReturnToService=2
KillWait=5
InactiveLimit=0
SlurmctldTimeout=30
SlurmdTimeout=30
MessageTimeout=10
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort={self.dbd_port}
# For the slurmdbd connection the munge socket is given here, not by AuthInfo.
AccountingStoragePass={self.munge_socket}
AccountingStorageTRES=gres/gpu
# sacct --format=Comment shows the job's comment (the Snakemake plugin puts
# rule_<name>_wildcards_<...> there).
AccountingStoreFlags=job_comment
NodeName={self.node} NodeAddr=127.0.0.1 NodeHostname={self.node} CPUs={cpus}{topo} RealMemory={self.hw['ConfiguredMemory']} Gres=gpu:1 State=UNKNOWN
PartitionName={self.cpu_partition} Nodes={self.node} Default=YES MaxTime=INFINITE State=UP
PartitionName={self.gpu_partition} Nodes={self.node} Default=NO MaxTime=INFINITE State=UP
"""
        (self.etc / "slurm.conf").write_text(slurm_conf)
        # Without File= slurmd does not report the GPU and the node drains.
        (self.etc / "gres.conf").write_text(
            f"NodeName={self.node} Name=gpu Count=1 File=/dev/null\n"
        )
        dbd_conf = f"""\
# Generated by .ci/slurm/cluster.py -- test accounting daemon.
AuthType=auth/munge
AuthInfo={auth_info}
DbdHost={self.node}
DbdAddr=127.0.0.1
DbdPort={self.dbd_port}
SlurmUser=root
DebugLevel={self.debug}
LogFile={d}/log/slurmdbd.log
PidFile={d}/run/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort={self.mysql_port}
StorageUser={self.db_user}
StoragePass={self.db_password}
StorageLoc=slurm_acct_db_{self.cluster_name}
"""
        dbd_path = self.etc / "slurmdbd.conf"
        fd = os.open(dbd_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(dbd_conf)
        os.chmod(dbd_path, 0o600)  # slurmdbd insists: owned by SlurmUser, mode 600
        (self.dir / "env.sh").write_text(f"export SLURM_CONF={self.slurm_conf}\n")

    # --------------------------------------------------------------- helpers
    def run(
        self, args: list[str], timeout: float = 30, check: bool = True, **kw
    ) -> subprocess.CompletedProcess:
        """Run a SLURM client command against this cluster, with a timeout."""
        kw.setdefault("env", self.env)
        kw.setdefault("capture_output", True)
        kw.setdefault("text", True)
        return subprocess.run(args, timeout=timeout, check=check, **kw)

    def _spawn(self, name: str, args: list[str], env: dict | None = None) -> None:
        out = open(self.logs / f"{name}.out", "ab")
        proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env or self.env,
            cwd=self.dir,
            start_new_session=True,  # Ctrl-C in the terminal does not hit them
        )
        out.close()
        self.procs[name] = proc
        self.pids[name] = proc.pid
        self._write_pids()

    def _write_pids(self) -> None:
        data = {
            name: {"pid": pid, "exe": Path(self.procs[name].args[0]).name}
            for name, pid in self.pids.items()
        }
        (self.dir / "pids.json").write_text(json.dumps(data, indent=1) + "\n")

    def _wait(self, what: str, check, timeout: float, watch: str | None = None) -> None:
        deadline = time.monotonic() + timeout
        last_exc: object = None
        while time.monotonic() < deadline:
            if watch and self.procs[watch].poll() is not None:
                raise ClusterError(
                    f"{watch} exited with {self.procs[watch].returncode} while waiting "
                    f"for {what}\n{self.diagnostics()}"
                )
            try:
                if check():
                    return
            except (subprocess.SubprocessError, OSError) as exc:
                last_exc = exc
            time.sleep(0.2)
        raise ClusterError(
            f"timed out after {timeout:.0f}s waiting for {what} (last error: {last_exc})\n"
            f"{self.diagnostics()}"
        )

    def diagnostics(self) -> str:
        parts = [f"cluster directory: {self.dir}"]
        for name in ("munged", "mariadbd", "slurmdbd", "slurmctld", "slurmd"):
            for f in sorted(self.logs.glob(f"{name}*")):
                parts.append(f"--- {f.name} ---\n{tail(f)}")
        return "\n".join(parts)

    # ----------------------------------------------------------------- start
    def start(self, timeout: float = 120) -> "SlurmCluster":
        if os.geteuid() != 0:
            raise ClusterError("the test cluster needs root (slurmd launches jobs)")
        missing = missing_binaries()
        if missing:
            raise ClusterError(
                f"SLURM packages missing ({', '.join(missing)}); run .ci/slurm/install.sh"
            )
        t0 = time.monotonic()
        self._started = True
        atexit.register(self.stop)
        try:
            self._start(timeout)
        except BaseException:
            self.stop(remove=False)
            raise
        self.timings["start"] = time.monotonic() - t0
        return self

    def _start(self, timeout: float) -> None:
        self.write_config()
        step_timeout = max(timeout / 3, 20)

        # munged, with its own key and socket.
        m = self.dir / "munge"
        self._spawn(
            "munged",
            [
                which("munged"),
                "--foreground",
                f"--socket={self.munge_socket}",
                f"--key-file={m / 'munge.key'}",
                f"--log-file={self.logs / 'munged.log'}",
                f"--pid-file={m / 'munged.pid'}",
                f"--seed-file={m / 'munged.seed'}",
            ],
        )
        munge, unmunge = which("munge"), which("unmunge")

        def munge_ok() -> bool:
            if not self.munge_socket.exists():
                return False
            if not (munge and unmunge):
                return True
            cred = subprocess.run(
                [munge, "-n", "-S", str(self.munge_socket)],
                capture_output=True, timeout=5,
            )
            if cred.returncode:
                return False
            return subprocess.run(
                [unmunge, "-S", str(self.munge_socket)],
                input=cred.stdout, capture_output=True, timeout=5,
            ).returncode == 0

        self._wait("munged", munge_ok, step_timeout, watch="munged")

        # MariaDB with its own data directory, TCP on 127.0.0.1 only.
        db = self.dir / "mysql"
        datadir = db / "data"
        if not datadir.exists():
            subprocess.run(
                [
                    first_binary("mariadb-install-db", "mysql_install_db"),
                    "--no-defaults",
                    f"--datadir={datadir}",
                    "--user=root",
                    "--auth-root-authentication-method=normal",
                    "--skip-test-db",
                    "--skip-name-resolve",
                ],
                stdout=open(self.logs / "mariadb-install.log", "wb"),
                stderr=subprocess.STDOUT,
                timeout=step_timeout,
                check=True,
            )
        u, p = self.db_user, self.db_password
        (db / "init.sql").write_text(
            f"CREATE USER IF NOT EXISTS '{u}'@'127.0.0.1' IDENTIFIED BY '{p}';\n"
            f"CREATE USER IF NOT EXISTS '{u}'@'localhost' IDENTIFIED BY '{p}';\n"
            f"GRANT ALL ON *.* TO '{u}'@'127.0.0.1';\n"
            f"GRANT ALL ON *.* TO '{u}'@'localhost';\n"
        )
        self._spawn(
            "mariadbd",
            [
                first_binary("mariadbd", "mysqld"),
                "--no-defaults",
                f"--datadir={datadir}",
                f"--socket={db / 'mysqld.sock'}",
                f"--pid-file={db / 'mysqld.pid'}",
                f"--log-error={self.logs / 'mariadbd.log'}",
                f"--init-file={db / 'init.sql'}",
                f"--port={self.mysql_port}",
                "--bind-address=127.0.0.1",
                "--user=root",
                "--skip-name-resolve",
                "--skip-log-bin",
                "--innodb-buffer-pool-size=256M",
                "--innodb-log-file-size=64M",
                "--innodb-lock-wait-timeout=900",
                "--innodb-use-native-aio=0",
                "--max-connections=64",
            ],
        )
        client = first_binary("mariadb", "mysql")

        def db_ok() -> bool:
            if not port_open(self.mysql_port):
                return False
            if client is None:
                return True
            return subprocess.run(
                [client, "--no-defaults", "-h127.0.0.1", f"-P{self.mysql_port}",
                 f"-u{u}", f"-p{p}", "-e", "SELECT 1"],
                capture_output=True, timeout=10,
            ).returncode == 0

        self._wait("MariaDB", db_ok, step_timeout, watch="mariadbd")

        # slurmdbd, then slurmctld (registers the cluster with slurmdbd), then slurmd.
        self._spawn("slurmdbd", [which("slurmdbd"), "-D"])
        self._wait("slurmdbd", lambda: port_open(self.dbd_port), step_timeout, watch="slurmdbd")

        self._spawn("slurmctld", [which("slurmctld"), "-D", "-i", "-f", str(self.slurm_conf)])
        self._wait(
            "slurmctld",
            lambda: self.run(["scontrol", "ping"], timeout=10, check=False).returncode == 0,
            step_timeout,
            watch="slurmctld",
        )
        self._spawn(
            "slurmd", [which("slurmd"), "-D", "-N", self.node, "-f", str(self.slurm_conf)]
        )

        def node_idle() -> bool:
            state = self.run(
                ["sinfo", "-h", "-N", "-n", self.node, "-o", "%T"], timeout=10, check=False
            ).stdout.split()
            if any(s.startswith(("drain", "fail")) for s in state):
                reason = self.run(["sinfo", "-R"], timeout=10, check=False).stdout
                raise ClusterError(f"node {self.node} drained: {reason}\n{self.diagnostics()}")
            return bool(state) and all(s == "idle" for s in state)

        self._wait(f"node {self.node} idle", node_idle, step_timeout, watch="slurmd")

        # Accounting: the cluster is registered and sacct answers.
        def accounting_ok() -> bool:
            clusters = self.run(
                ["sacctmgr", "-n", "-P", "show", "cluster", "format=cluster"],
                timeout=10, check=False,
            ).stdout.split()
            if self.cluster_name not in clusters:
                return False
            return self.run(["sacct", "-n", "-X"], timeout=10, check=False).returncode == 0

        self._wait("accounting (sacctmgr/sacct)", accounting_ok, step_timeout, watch="slurmdbd")
        # An account for the submitting user, so that account look-ups succeed.
        user = self._user()
        self.run(["sacctmgr", "-i", "add", "account", self.account,
                  "Description=ci", "Organization=ci"], timeout=20, check=False)
        self.run(["sacctmgr", "-i", "add", "user", user,
                  f"DefaultAccount={self.account}"], timeout=20, check=False)

    @staticmethod
    def _user() -> str:
        import pwd

        return pwd.getpwuid(os.geteuid()).pw_name

    # ------------------------------------------------------------------ jobs
    def sbatch(self, *args: str, timeout: float = 30) -> str:
        """Submit a job, return its id (raises CalledProcessError on rejection)."""
        out = self.run(
            ["sbatch", "--parsable", f"--chdir={self.dir / 'jobs'}",
             f"--output={self.dir / 'jobs'}/%j.out", *args],
            timeout=timeout,
        ).stdout.strip()
        return out.split(";")[0]

    def sacct(self, job_ids: list[str] | None = None, all_steps: bool = False,
              fields: str = "JobID,JobName,Partition,State,ExitCode,AllocTRES,Comment",
              timeout: float = 30) -> list[dict[str, str]]:
        """Accounting records as dicts (allocations only unless all_steps)."""
        args = ["sacct", "--parsable2", "--noheader", f"--format={fields}",
                "--starttime=now-1days"]
        if not all_steps:
            args.append("-X")
        if job_ids:
            args.append("--jobs=" + ",".join(job_ids))
        else:
            args.append("--allusers")
        out = self.run(args, timeout=timeout).stdout
        names = fields.split(",")
        return [dict(zip(names, line.split("|"))) for line in out.splitlines() if line]

    def wait_jobs(self, job_ids: list[str], timeout: float = 120) -> list[dict[str, str]]:
        """Wait until every job is in a terminal state in sacct; return their records.

        slurmdbd may record the end of a job before its details: until then
        sacct shows JobName "allocation" and no partition, so wait for both.
        """
        deadline = time.monotonic() + timeout
        rows: list[dict[str, str]] = []
        while time.monotonic() < deadline:
            rows = self.sacct(job_ids)
            done = {
                r["JobID"]
                for r in rows
                if r["State"].split()[0] in TERMINAL_STATES and r.get("Partition", "x")
            }
            if all(j in done for j in job_ids):
                return rows
            time.sleep(0.5)
        raise TimeoutError(f"jobs {job_ids} not finished after {timeout}s: {rows}")

    def cancel_all(self, timeout: float = 20) -> None:
        ids = self.run(["squeue", "-h", "-o", "%A"], timeout=10, check=False).stdout.split()
        if not ids:
            return
        self.run(["scancel", *ids], timeout=10, check=False)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            left = self.run(["squeue", "-h", "-t", "PD,R,CG,S", "-o", "%A"],
                            timeout=10, check=False).stdout.split()
            if not left:
                return
            time.sleep(0.5)

    # ------------------------------------------------------------------ stop
    def stop(self, remove: bool | None = None) -> None:
        """Cancel leftover jobs, stop exactly the daemons this object started."""
        if self._stopped or not self._started:
            return
        self._stopped = True
        if "slurmctld" in self.procs and self.procs["slurmctld"].poll() is None:
            try:
                self.cancel_all()
            except (subprocess.SubprocessError, OSError):
                pass
        for name in ("slurmd", "slurmctld", "slurmdbd", "mariadbd", "munged"):
            proc = self.procs.get(name)
            if proc is None or proc.poll() is not None:
                continue
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        if remove is None:
            remove = not self.keep
        if remove:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> "SlurmCluster":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop(remove=None if exc[0] is None else False)


def stop_from_file(directory: Path, timeout: float = 15) -> None:
    """Stop the daemons recorded in DIR/pids.json (checking each is still ours)."""
    data = json.loads((directory / "pids.json").read_text())
    for name in ("slurmd", "slurmctld", "slurmdbd", "mariadbd", "munged"):
        rec = data.get(name)
        if not rec:
            continue
        pid = rec["pid"]
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if not cmdline or Path(cmdline[0].decode()).name != rec["exe"]:
            continue  # PID reused by something else: leave it alone
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()
                if stat.rsplit(")", 1)[1].split()[0] == "Z":
                    break
            except OSError:
                break
            time.sleep(0.2)
        else:
            if Path(f"/proc/{pid}").exists():
                os.kill(pid, signal.SIGKILL)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("start", help="start and leave running")
    s.add_argument("--dir")
    s.add_argument("--timeout", type=float, default=120)
    s = sub.add_parser("stop", help="stop the daemons recorded in DIR/pids.json")
    s.add_argument("--dir", required=True)
    s = sub.add_parser("run", help="start, run a command with the cluster env, stop")
    s.add_argument("--dir")
    s.add_argument("--keep", action="store_true", help="keep the directory afterwards")
    s.add_argument("--timeout", type=float, default=120)
    s.add_argument("command", nargs=argparse.REMAINDER)
    sub.add_parser("install", help="install the Debian packages (apt-get)")
    args = ap.parse_args(argv)

    if args.cmd == "install":
        return subprocess.call(["bash", str(INSTALL_SCRIPT)])
    if args.cmd == "stop":
        stop_from_file(Path(args.dir))
        return 0
    cluster = SlurmCluster(args.dir, keep=args.cmd == "start" or args.keep)
    try:
        cluster.start(timeout=args.timeout)
    except ClusterError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"# cluster up in {cluster.timings['start']:.1f}s; directory {cluster.dir}",
          file=sys.stderr)
    if args.cmd == "start":
        atexit.unregister(cluster.stop)
        print(f"export SLURM_CONF={cluster.slurm_conf}")
        print(f"# stop with: {sys.argv[0]} stop --dir {cluster.dir}", file=sys.stderr)
        return 0
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    try:
        return subprocess.call(command or ["sinfo"], env=cluster.env)
    finally:
        cluster.stop()


if __name__ == "__main__":
    sys.exit(main())
