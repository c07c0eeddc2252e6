"""usher's front: a load-balancing proxy in front of app servers (nginx's role on one machine)."""
