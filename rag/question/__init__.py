"""Understanding the question: what kind of answer it wants, its terms and names with their
translations, and its parts when it asks two things."""
