"""Reading documents: formats, cleaning, paragraph chunks with their lines, titles, the bundled articles."""
