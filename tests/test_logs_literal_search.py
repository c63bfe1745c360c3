"""upkeep.logs.literal_search: every line holding a literal is found, at or before its first one."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from upkeep.logs.literal_search import first_hits

# Few letters, so that literals are common in the text (found by one regex pass over the chunk)
# or rare (found through a pivot byte), and lines hold several of them or none.
TEXT = st.text(alphabet='ab" 45\nxyz', max_size=400).map(str.encode)
LITERALS = st.lists(
    st.text(alphabet='ab" 45xyz', min_size=1, max_size=4).map(str.encode),
    min_size=1,
    max_size=4,
    unique=True,
)


def _expected(buf: bytes, literals: list[bytes]) -> dict[int, int]:
    """Line start -> first literal position, for every line holding a literal, line by line."""
    found, start = {}, 0
    for line in buf.split(b"\n"):
        positions = [at for x in literals if (at := line.find(x)) >= 0]
        if positions:
            found[start] = start + min(positions)
        start += len(line) + 1
    return found


@settings(max_examples=300, deadline=None)
@given(TEXT, LITERALS)
def test_first_hits_finds_each_line_holding_a_literal_at_or_before_its_first(
    buf: bytes, literals: list[bytes]
) -> None:
    end = buf.rfind(b"\n") + 1  # whole lines, as the scan hands them over
    hits = first_hits(buf, end, tuple(literals))
    expected = _expected(buf[:end], literals)
    assert hits.keys() == expected.keys()
    for start, first in expected.items():
        assert start <= hits[start] <= first


def test_two_common_literals_are_found_exactly_at_their_first_place_in_each_line() -> None:
    # `"` and digits are everywhere in an access log: no pivot byte, one pass for both.
    lines = [
        b'1.2.3.4 - - [x] "GET /a HTTP/1.1" 200 5 "-" "ua/5.0"',
        b'1.2.3.4 - - [x] "GET /b HTTP/1.1" 503 4 "-" "ua/5.0"',
        b'1.2.3.4 - - [x] "GET /c HTTP/1.1" 404 5 "-" "ua/5.0" " 5',
        b'1.2.3.4 - - [x] "GET /d HTTP/1.1" 301 5 "-" "ua/4.0"',
    ] * 300
    buf = b"\n".join(lines) + b"\n"
    hits = first_hits(buf, len(buf), (b'" 5', b'" 4'))
    assert hits == _expected(buf, [b'" 5', b'" 4'])
    assert len(hits) == 600  # the 503 and 404 lines, each once, at its status


def test_lines_found_by_a_pivot_and_by_the_common_literals_keep_the_first_of_both() -> None:
    # "QZ" has a byte rare in the chunk (found through it); `" 5` and `" 4` have none (one
    # regex pass). Some lines hold QZ first, some a common literal first, some only one kind.
    lines = []
    for n in range(2000):
        if n % 400 == 0:
            lines.append(b'QZ first, then" 5 later ' + b"." * 40)
        elif n % 400 == 200:
            lines.append(b'then" 4 first, QZ later ' + b"." * 40)
        elif n % 400 == 100:
            lines.append(b"only QZ here " + b"." * 40)
        else:
            lines.append(b'plain" 5 line with" 4 both ' + b"." * 40 if n % 3 else b"." * 50)
    buf = b"\n".join(lines) + b"\n"
    literals = (b"QZ", b'" 5', b'" 4')
    hits = first_hits(buf, len(buf), literals)
    assert hits == _expected(buf, list(literals))
