"""The Orders bounded context: the reference service built on eventbook."""
