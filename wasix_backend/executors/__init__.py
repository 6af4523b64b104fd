"""Where the packages of a build run: threads here (the engine itself) or a Dask cluster."""
