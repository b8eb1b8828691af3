"""Licences: a recipe's texts checked and deployed (``do_populate_lic``), an image's manifest and policy."""
