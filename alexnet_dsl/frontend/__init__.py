"""Text to IR: the grammar, parsing to typed syntax, the op vocabulary, argument binding, lowering."""
