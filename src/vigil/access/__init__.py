"""Users, roles, passwords, tokens, logins and the hash-chained audit log."""
