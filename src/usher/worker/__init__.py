"""A worker process: the sole owner of I/O once the master has forked it.

Its event loop accepts connections, feeds their bytes to the codecs (usher.protocols), and hands
each request to the app's handler (usher.adapters). It never imports the master.
"""
