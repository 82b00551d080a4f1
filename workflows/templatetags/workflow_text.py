"""How a message's text shows on a page: `@**Name**` mentions highlighted, everything escaped."""

from django import template
from django.utils.html import escape, format_html
from django.utils.safestring import mark_safe

from workflows.reading import MENTION

register = template.Library()


@register.filter
def with_mentions(text: str) -> str:
    """The text, escaped, with each `@**Name**` as a highlighted "@Name" (static/js/workflow.js
    renders new messages the same way)."""
    parts, last = [], 0
    for match in MENTION.finditer(text):
        parts += [escape(text[last:match.start()]), format_html('<span class="mention">@{}</span>', match.group(1).strip())]
        last = match.end()
    parts.append(escape(text[last:]))
    return mark_safe("".join(parts))
