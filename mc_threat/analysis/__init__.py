"""What is done with a finished store: variance-based and given-data sensitivity, scenario
discovery, and the figures (``plot``, ``plot_analysis``)."""
