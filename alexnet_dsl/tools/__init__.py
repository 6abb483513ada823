"""Tools over a checked spec: fmt, highlighting, diagrams, tables, the HTML report."""
