"""Errors raised by the assistant; their messages are written for the person using it."""


class RagError(Exception):
    """Base class for every error the assistant reports to its user."""


class InputError(RagError, ValueError):
    """A question, path or option that cannot be used, with the reason."""


class StoreBusyError(RagError):
    """Another process is writing the same knowledge base."""


class StoreError(RagError):
    """The knowledge base could not be opened, read or written."""


class LLMError(RagError):
    """The language-model endpoint failed in a way worth telling the user."""
