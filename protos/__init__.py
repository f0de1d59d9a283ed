"""gRPC contracts: MediaService and the pluggable speech backends."""
