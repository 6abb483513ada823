"""What generated modules contain, verbatim: these files import only torch (and triton)."""
