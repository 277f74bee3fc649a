"""Multi-part Catalog / RecordInfo reassembly (Appendix N) with time passed in."""

from __future__ import annotations

from datetime import datetime

from vigil.protocols.gb28181.catalog_assembly import CatalogAssembler, RecordAssembler
from vigil.protocols.gb28181.device_id import catalog_node_kind
from vigil.protocols.gb28181.manscdp import CatalogItem, RecordInfoResponse, RecordItem

NVR = "34020000001110000001"


def items(*numbers: int) -> tuple[CatalogItem, ...]:
    return tuple(CatalogItem(device_id=f"340200000013100{n:05d}") for n in numbers)


def test_completes_when_distinct_items_reach_sum_num_despite_repeats() -> None:
    assembler = CatalogAssembler()
    assert assembler.push(NVR, 7, 3, items(1), 0.0) == []
    assert assembler.push(NVR, 7, 3, items(1, 2), 1.0) == []  # item 1 repeated
    [done] = assembler.push(NVR, 7, 3, items(3), 2.0)
    assert done.complete
    assert [i.device_id[-1] for i in done.items] == ["1", "2", "3"]
    assert assembler.pending_count == 0
    assert assembler.get_timer() is None


def test_empty_catalog_completes_at_once() -> None:
    [done] = CatalogAssembler().push(NVR, 1, 0, (), 0.0)
    assert done.complete
    assert done.items == ()
    assert done.sum_num == 0


def test_first_part_waits_longer_than_later_parts() -> None:
    assembler = CatalogAssembler(first_part_timeout_s=30.0, idle_timeout_s=5.0)
    assembler.expect(NVR, 9, 100.0)
    assert assembler.get_timer() == 130.0
    assert assembler.handle_timer(129.0) == []
    assembler.push(NVR, 9, 5, items(1, 2), 120.0)
    assert assembler.get_timer() == 125.0
    [partial] = assembler.handle_timer(125.0)
    assert not partial.complete
    assert partial.sum_num == 5
    assert len(partial.items) == 2


def test_query_never_answered_reports_an_empty_partial() -> None:
    assembler = CatalogAssembler(first_part_timeout_s=10.0)
    assembler.expect(NVR, 3, 0.0)
    [partial] = assembler.handle_timer(10.0)
    assert (partial.peer, partial.sn, partial.complete, partial.items) == (NVR, 3, False, ())


def test_separate_peers_and_sns_do_not_mix() -> None:
    assembler = CatalogAssembler()
    assembler.push("A", 1, 2, items(1), 0.0)
    assembler.push("B", 1, 2, items(2), 0.0)
    assembler.push("A", 2, 2, items(3), 0.0)
    [done] = assembler.push("A", 1, 2, items(4), 0.0)
    assert done.peer == "A"
    assert done.sn == 1
    assert len(done.items) == 2
    assert assembler.pending_count == 2
    assembler.cancel("B", 1)
    assert assembler.pending_count == 1


def test_bounds_evict_the_oldest_and_cut_long_answers() -> None:
    assembler = CatalogAssembler(max_pending=2, max_items=3)
    assembler.push("A", 1, 10, items(1), 0.0)
    assembler.push("B", 1, 10, items(1), 1.0)
    [evicted] = assembler.push("C", 1, 10, items(1), 2.0)
    assert evicted.peer == "A"
    assert not evicted.complete
    [cut] = assembler.push("B", 1, 10, items(2, 3, 4, 5), 3.0)
    assert not cut.complete
    assert len(cut.items) == 3
    assert assembler.expect("D", 1, 4.0) == []
    [evicted_by_expect] = assembler.expect("E", 1, 5.0)
    assert evicted_by_expect.peer == "C"


def test_record_info_parts() -> None:
    assembler = RecordAssembler()
    span = (datetime(2024, 5, 1, 8), datetime(2024, 5, 1, 9))
    first = RecordInfoResponse(1, "C", 2, (RecordItem("C", *span, file_path="a"),))
    second = RecordInfoResponse(1, "C", 2, (RecordItem("C", *span, file_path="b"),))
    assert assembler.push_response(NVR, first, 0.0) == []
    assert assembler.push_response(NVR, first, 0.5) == []
    [done] = assembler.push_response(NVR, second, 1.0)
    assert done.complete
    assert [i.file_path for i in done.items] == ["a", "b"]


def test_catalog_node_kinds() -> None:
    assert catalog_node_kind("34") == catalog_node_kind("34020000") == "region"
    assert catalog_node_kind("34020000002000000001") == "platform"
    assert catalog_node_kind("34020000002150000001") == "business_group"
    assert catalog_node_kind("34020000002160000001") == "virtual_organisation"
    assert catalog_node_kind("34020000001180000001") == "device"
    assert catalog_node_kind("34020000001310000001") == "peripheral"
    assert catalog_node_kind("34020000003000000001") == "other"
