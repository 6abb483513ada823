"""Text to IR: the grammar, parsing, the op vocabulary, argument binding, lowering."""
