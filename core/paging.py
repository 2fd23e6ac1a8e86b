"""A page of a long list without a total count: counting every matching row costs as much as the
data is large; one row more than the page tells whether there is a next one."""

from dataclasses import dataclass

MAX_PAGE = 1_000_000


@dataclass(frozen=True)
class OpenPage:
    object_list: list
    number: int
    has_next: bool
    paginator = None  # no total: templates say "Page 3", not "Page 3 of 40"

    def __iter__(self):
        return iter(self.object_list)

    def has_previous(self) -> bool:
        return self.number > 1

    def has_other_pages(self) -> bool:
        return self.has_next or self.has_previous()

    def next_page_number(self) -> int:
        return self.number + 1

    def previous_page_number(self) -> int:
        return self.number - 1


def page_number(value) -> int:
    """The page asked for, 1 when absent or mistyped; capped, since an offset past a bigint is an
    error in PostgreSQL, not an empty page."""
    try:
        return min(max(1, int(value or 1)), MAX_PAGE)
    except (TypeError, ValueError):
        return 1


def open_page(rows, number, size: int) -> OpenPage:
    """Page `number` of `rows` (a queryset or anything sliceable), `size` rows a page."""
    number = page_number(number)
    window = list(rows[(number - 1) * size: number * size + 1])
    return OpenPage(window[:size], number, len(window) > size)
