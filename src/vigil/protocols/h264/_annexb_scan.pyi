"""Types of the compiled start-code scan (_annexb_scan.c)."""

def scan(
    buffer: bytes | bytearray | memoryview, max_units: int
) -> tuple[int, list[tuple[int, int]]] | None: ...
