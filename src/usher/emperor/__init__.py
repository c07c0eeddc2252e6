"""The emperor: a folder of config files, one supervised usher (a vassal) per file.

`usher emperor DIR` or `emperor = DIR` starts `usher.emperor.run.run_emperor`. The emperor
supervises vassals as a master supervises workers, with what usher.supervise provides (the
reactor, kill, the respawn backoff, systemd notification); it never imports the master: a vassal
is a separate `usher` process, reached through signals and the notify protocol.
"""
