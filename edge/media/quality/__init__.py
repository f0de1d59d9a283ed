"""Call quality: RFC 3550 receiver statistics and the ITU-T G.107 E-model (R-factor, MOS)."""
