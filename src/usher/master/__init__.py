"""The master: binds the listeners, forks the workers, then only supervises them.

It never runs app code after forking. Its helpers (chain reloads, commands, upkeep, the stats
endpoints) act on the workers through the master's pool and lifecycle.
"""
