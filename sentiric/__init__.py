"""Sentiric's bottom layer: the console command, settings, logging and the log client every process shares.

It imports nothing from ``edge``, ``streams`` or ``projections``: they add their subcommands and
process hooks through the ``sentiric.plugins`` entry points (``plugins``). ``cli`` is the ``sentiric``
command, ``settings`` the effective configuration, ``logs`` the one logging pipeline, ``eventlog`` the
Kafka client, ``broker`` the local Kafka, ``database`` PostgreSQL (configured or embedded),
``supervisor`` ``sentiric up``, ``replay`` ``sentiric replay``, ``auth`` tokens and session cookies,
``cert`` ``sentiric cert``, ``exposure`` the refusal to listen beyond loopback with a default secret,
``processes``, ``signals`` and ``net`` small process, signal and port helpers.
"""

__version__ = "0.1.0"
