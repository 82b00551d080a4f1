from django.db import models


class DependencyState(models.Model):
    """Circuit breaker and counters of one external dependency ("openai", "spotify", ...).

    One row per dependency, shared by every process. Written only by `breaker.py`, always
    with conditional UPDATEs so that concurrent processes never overwrite each other.
    """

    class State(models.TextChoices):
        CLOSED = "closed"
        OPEN = "open"
        HALF_OPEN = "half_open"

    name = models.CharField(max_length=64, primary_key=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.CLOSED)
    consecutive_failures = models.PositiveIntegerField(default=0)
    #: When the breaker last opened (or a half-open trial started); open rejects until
    #: BREAKER_OPEN_SECONDS after it.
    opened_at = models.DateTimeField(null=True, blank=True)
    calls = models.PositiveBigIntegerField(default=0)
    failures = models.PositiveBigIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")
    last_error_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    #: Exponential moving average of response times, milliseconds.
    avg_response_ms = models.FloatField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return f"{self.name} ({self.state})"
