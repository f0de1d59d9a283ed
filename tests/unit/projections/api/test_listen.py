"""projections.api.listen.media_service: which edge's MediaService a listen-in is relayed from."""

import pytest

from projections.api.errors import ApiError
from projections.api.listen import media_service


def test_one_address_serves_every_node() -> None:
    assert media_service("127.0.0.1:50051", "edge-7") == "127.0.0.1:50051"


def test_a_map_picks_the_calls_own_edge_and_refuses_an_unknown_one() -> None:
    setting = "edge-1=10.0.0.5:50051, edge-2 = 10.0.0.6:50051"
    assert media_service(setting, "edge-1") == "10.0.0.5:50051"
    assert media_service(setting, "edge-2") == "10.0.0.6:50051"
    with pytest.raises(ApiError) as refused:
        media_service(setting, "edge-3")
    assert refused.value.status == 409
