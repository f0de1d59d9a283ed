"""The edge process: SIP user-agent server, RTP/SRTP media, the WebSocket gateway and gRPC MediaService."""
