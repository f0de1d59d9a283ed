"""Helpers the tests and the benchmarks share (shipped code imports nothing from here).

``uas_harness`` (a scripted SIP phone and a UAS core wired to fakes, on injected time) and ``sipp``
(driving sipp against a running edge, bounded, on free ports).
"""
