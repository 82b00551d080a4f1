def delete_in_batches(queryset, batch_size: int = 5000) -> int:
    """Delete what `queryset` matches a batch at a time, so that a large cleanup never holds
    one long lock on the table; returns how many rows of the queryset's model went."""
    model = queryset.model
    deleted = 0
    while ids := list(queryset.values_list("pk", flat=True)[:batch_size]):
        deleted += model.objects.filter(pk__in=ids).delete()[1].get(model._meta.label, 0)
    return deleted
