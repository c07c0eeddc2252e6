"""The front: `usher front`, a load-balancing proxy in front of app servers (docs/front.md)."""
