"""The fan-out peer: a Channels broadcast app as the Channels tutorial writes it.

One `AsyncWebsocketConsumer` joins a group on connect and, in its group-message handler,
encodes and sends the frame (`chat_message` in the tutorial); an async view does `group_send`.
It runs under the same daphne processes setup and the same channel layer as Harbor
(`project.realtime.layers`: Redis for scale-out, the embedded in-memory one otherwise, chosen
by `REDIS_URL` as Harbor's settings do) and is driven by the same client (bench/fanout.py).

It authenticates nobody and stores nothing: it is the cost of Channels' per-socket fan-out
alone, which is what Harbor is compared with.
"""
