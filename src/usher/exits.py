"""Exit statuses of a worker, shared by the worker that ends with one and the master that reads it.

They tell the master why a worker ended, so that a broken app stops the server instead of being
respawned in a loop, and a planned recycle is not mistaken for a crash.
"""

EXIT_OK = 0
EXIT_APP_LOAD_FAILED = 4
EXIT_MAX_REQUESTS = 5
EXIT_HARAKIRI = 6
