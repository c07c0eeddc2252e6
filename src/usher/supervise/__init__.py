"""What any supervisor of processes needs, whatever it supervises: the reactor it waits in,
signalling and the back-off between restarts of its children, reads of /proc, systemd
notification, the control FIFO and touch files."""
