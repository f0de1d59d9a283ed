"""Golden calls as files (`sentiric replay golden add`, `sentiric replay check`): the export and the
read-back live in `projections.golden`, below both this package and the API (the dashboard's golden
button exports with the same code); this module keeps the names the replay commands import."""

from projections.golden import FACTS, GoldenError, export_call, golden_calls, load_call, read_wav, wav_bytes

__all__ = ["FACTS", "GoldenError", "export_call", "golden_calls", "load_call", "read_wav", "wav_bytes"]
