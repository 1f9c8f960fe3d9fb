"""socket.io: the server, the agents' console gateway and the console notifier."""
