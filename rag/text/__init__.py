"""Text that every stage reads the same way: folding, words and sentences, Chinese–English glosses,
quantities, and cleaning what goes out (markup, secrets)."""
