"""Many points x many systems: the task plan and one task (``tasks``), the sweep driver and
its executors (``sweep``: in-process, dask, SLURM), and the store check and repair used by
``info`` and ``--resume`` (``check``)."""
