"""qa-service: ask questions about a document, get the passage and the sentence that answer them."""

__version__ = "0.1.0"
