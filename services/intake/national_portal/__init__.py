"""National Public Service Portal synchronisation: the push adapter and its backlog."""
