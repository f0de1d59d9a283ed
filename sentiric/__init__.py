"""Sentiric: the console command, settings, logging and the log client shared by every process."""

__version__ = "0.1.0"
