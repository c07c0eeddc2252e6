"""Operations: the figures an operator reads, as data, and their renderers (stats JSON,
Prometheus, `usher top`). Nothing here imports the master or a worker."""
