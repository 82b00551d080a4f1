"""The reads peer of bench/http_reads.py: the list of a workflow's messages as the DRF tutorial
writes it (a `ListAPIView`, a `ModelSerializer` of the same fields as Harbor's page, DRF's own
`PageNumberPagination` with a page size of 50 and `TokenAuthentication`), over Harbor's own
tables, under the same server. Its settings (`bench.peers.drf_list.settings`) are Harbor's plus
`rest_framework.authtoken`, which Harbor itself never installs, and this URLconf."""
