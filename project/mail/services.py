"""Harbor's own emails: a template name and a context, rendered into a multipart message whose
HTML part shares the site's look (templates/email/base.html), and written to the outbox."""

from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string


def send_templated(to: str, template: str, context: dict, *, headers: dict | None = None) -> None:
    """Render templates/email/<template>_subject.txt, <template>.txt and <template>.html and put
    the message in the outbox (in the caller's transaction)."""
    subject = " ".join(render_to_string(f"email/{template}_subject.txt", context).split())
    message = EmailMultiAlternatives(
        subject, render_to_string(f"email/{template}.txt", context), None, [to], headers=headers
    )
    message.attach_alternative(render_to_string(f"email/{template}.html", context), "text/html")
    message.send()


def site_url(request) -> str:
    """Harbor's address as this request reached it: what links in emails start with."""
    return f"{request.scheme}://{request.get_host()}"

