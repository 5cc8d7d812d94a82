"""Discovery and review: catalog -> proposed mapping -> approved mapping; drift checks."""
