from django.db import models


class WorkerHeartbeat(models.Model):
    """The last sign of life of one long-running process (`manage.py <command> --loop`).

    Written only by `services.Heartbeat`; one row per process, identified by (name, host, pid).
    """

    name = models.CharField(max_length=64)
    host = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    last_seen = models.DateTimeField()
    #: What the worker was doing at its last beat ("idle", "polling 3 users"), or "stopped"
    #: after a graceful exit.
    state = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        ordering = ["name", "host", "pid"]
        constraints = [models.UniqueConstraint(fields=["name", "host", "pid"], name="workers_one_row_per_process")]

    def __str__(self):
        return f"{self.name}@{self.host}:{self.pid}"
