"""One batch in memory: random state systems (``systems``, ``generate``), the model evaluated on
them (``batch``) and its vectorized NumPy twin (``baseline_numpy``)."""
