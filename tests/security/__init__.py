"""Security tests: a package, so that the apps they share (conftest, package scope) stop when the last of them ends."""
