"""Chorus Pro's status codes in words for the pages (`{% load chorus %}`); the code stays on
hover, for support."""

from django import template
from django.utils.html import format_html

from invoicing import channels, notes
from invoicing.models import CREDIT_NOTE_STATE_LABELS, chorus_status_label, state_words

register = template.Library()


@register.filter
def chorus_label(code: str) -> str:
    return chorus_status_label(code)


@register.simple_tag
def chorus_status(code: str, prefix: str = "", unless: str = ""):
    """`<span class="chorus" title="A_RECYCLER">retournée pour correction du routage</span>`;
    nothing when it only says again `unless` (the state beside it: "déposée" and "déposée sur
    Chorus Pro")."""
    if not code:
        return ""
    if unless and chorus_status_label(code).casefold().startswith(str(unless).casefold()):
        return ""
    return format_html('<span class="chorus" title="{}">{}{}</span>', code, prefix,
                       chorus_status_label(code))


@register.filter
def state_label(state: str, of="") -> str:
    """The state in words (`mise en paiement`, not `paid`); the code itself stays on hover.
    `of`: the invoice (its kind and its channel say how its states read: an invoice to a
    company is "enregistrée par l'administration fiscale", not "mise à disposition"), or a kind."""
    if hasattr(of, "kind"):
        if of.kind == "credit_note" and state in CREDIT_NOTE_STATE_LABELS:
            return state_words(state, of.kind)
        return channels.of_invoice(of).state_label(state) or state_words(state, of.kind)
    return state_words(state, of)


# The invoice's notes, one per line, each with its code in words (invoicing/notes.py).
register.filter("mentions", notes.mentions)


@register.filter
def ago(moment) -> str:
    """How long ago, in words: "à l'instant" under a minute, never "il y a 0 minute"."""
    from django.utils import timezone
    from django.utils.timesince import timesince
    from django.utils.translation import gettext

    if moment is None:
        return ""
    if (timezone.now() - moment).total_seconds() < 60:
        return gettext("à l'instant")
    return gettext("il y a %(duration)s") % {"duration": timesince(moment)}


@register.filter
def event_text(event) -> str:
    """A history line's words in the reader's language (`invoicing.history`)."""
    from invoicing.history import event_text as text

    return text(event)


@register.filter
def key_values(value, prefix: str = "") -> list[tuple[str, str]]:
    """A JSON body as readable lines: ("invoice.lines[0].price", "25.0"), nested keys joined,
    at most 200 lines."""
    lines: list[tuple[str, str]] = []
    stack = [(prefix, value)]
    while stack and len(lines) < 200:
        key, item = stack.pop()
        if isinstance(item, dict):
            stack.extend((f"{key}.{k}" if key else str(k), v) for k, v in reversed(item.items()))
        elif isinstance(item, list):
            stack.extend((f"{key}[{i}]", v) for i, v in reversed(list(enumerate(item))))
        else:
            lines.append((key or "—", "—" if item is None or item == "" else str(item)))
    return lines
