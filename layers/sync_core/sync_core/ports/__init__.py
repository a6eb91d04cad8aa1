"""Ports: the small interfaces services use to reach the outside world; adapters implement them."""
