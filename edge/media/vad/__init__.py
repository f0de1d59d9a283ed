"""Voice activity detection and utterance endpointing."""
