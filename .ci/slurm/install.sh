#!/usr/bin/env bash
# Install Debian's SLURM (22.05 on Debian 12) with accounting (slurmdbd + MariaDB).
# Idempotent: does nothing when every binary is already there.
# Needs root and apt-get; exits 2 (with a message) when either is missing.
set -euo pipefail

need=(slurmctld slurmd sbatch sacct munged slurmdbd mariadbd)
missing=0
for b in "${need[@]}"; do
    command -v "$b" >/dev/null 2>&1 || [ -x "/usr/sbin/$b" ] || missing=1
done
if [ "$missing" = 0 ]; then
    echo "slurm already installed: $(dpkg-query -W -f='${Version}' slurmctld 2>/dev/null || true)"
    exit 0
fi
source "$(dirname "${BASH_SOURCE[0]}")/../apt_preflight.sh"
need_root_and_apt "SLURM"

export DEBIAN_FRONTEND=noninteractive
# Do not let package scripts start daemons (there is no init system in CI
# containers; the test starts the daemons itself).
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy"
    chmod 755 "$policy"
    created_policy=1
fi
cleanup() { if [ "$created_policy" = 1 ]; then rm -f "$policy"; fi; }
trap cleanup EXIT

apt_opts=(-y -q -o DPkg::Lock::Timeout=600 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
timeout 600 apt-get -q -o DPkg::Lock::Timeout=600 update
timeout 900 apt-get install "${apt_opts[@]}" --no-install-recommends \
    slurmctld slurmd slurm-client munge slurmdbd mariadb-server
echo "installed: slurm $(dpkg-query -W -f='${Version}' slurmctld)"
