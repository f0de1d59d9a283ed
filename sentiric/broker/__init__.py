"""Local Apache Kafka (KRaft) provisioned from Maven Central."""
