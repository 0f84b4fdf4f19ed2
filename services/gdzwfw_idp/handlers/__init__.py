"""经办人: a legal person's handlers (natural-person accounts acting for it) and the
units a person handles; acting for a unit and stopping."""
