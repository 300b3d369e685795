"""Default notification templates shipped with notify: `<key>.<channel>.j2` (see model.templates)."""
