"""Market-data sources: the ``Source`` port, its records, the simulated market and vendors.

Nothing here imports the web layer or a web framework; vendor SDKs are imported only inside
the module of the source that needs them (and are optional extras).
"""
