export SLURM_CONF=${slurm_conf}
export PATH=${bin}:$$PATH
