"""The local Apache Kafka (KRaft), its jars fetched once from Maven Central.

``local_kafka`` (one node), ``cluster`` (three nodes, plain or SASL_SSL), ``tls`` (the cluster's
private CA), ``properties`` (``server.properties`` and log4j), ``metadata`` (the readiness probe: a
Kafka ``Metadata`` request), ``cli`` (``sentiric broker start|stop|status``).
"""
