"""What any supervisor of processes needs, whatever it supervises: the reactor it waits in,
systemd notification, the control FIFO and touch files."""
