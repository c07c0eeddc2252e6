"""Adapters: what a request is handed to once a codec has read it (WSGI today).

An adapter never imports the worker or the master: it sees a request and a responder, nothing of
the process around it.
"""
