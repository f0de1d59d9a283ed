"""Call quality: RFC 3550 receiver statistics, the ITU-T G.107 E-model (R-factor, MOS) and the report.

``stats`` (receiver statistics and round-trip time), ``emodel`` (R and MOS), ``report`` (the RTCP
compound a session sends and its ``MediaQualityReported`` figures; time comes in as arguments).
"""
