"""`usher deploy`: one command from a Django or WSGI repository to a running site on SSH hosts.

The shape is decide, then act (docs/deploy.md tells users the same story):

- `config` reads the `[deploy]` section of an ini file into a frozen `DeployConfig`;
- `ssh` opens verified connections (known_hosts always checked) and `probe` reads each host's
  facts (systemd running? which release is current?);
- `planner` turns config + facts into a `Plan`: plain data, steps of shell scripts per host,
  printed as is by `--dry-run`;
- `executor` runs a plan over the connections: lock, prepare concurrently, switch one host at a
  time, undo the switched hosts when one fails, prune, unlock.

This package imports nothing of usher but `usher.options` (the project's import rule).
"""
