"""Shapes, parameters, admissible sizes, lints and helps: everything `dslc check` reports."""
