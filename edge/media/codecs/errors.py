"""The one error type of the codec layer, on its own so that the codecs and the registry that lists
them both import it without importing each other."""

from __future__ import annotations


class CodecError(ValueError):
    """A payload, PCM frame, rtpmap or codec setting the codec layer cannot handle."""
