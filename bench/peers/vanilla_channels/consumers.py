import json

from channels.generic.websocket import AsyncWebsocketConsumer

GROUP = "workflow.peer"


class BroadcastConsumer(AsyncWebsocketConsumer):
    """The tutorial's ChatConsumer: join the group on connect, forward each group message."""

    async def connect(self):
        await self.channel_layer.group_add(GROUP, self.channel_name)
        await self.accept()
        await self.send(text_data=json.dumps({"type": "ready", "data": {"groups": [GROUP], "cursor": 0}}))

    async def disconnect(self, close_code):
        await self.channel_layer.group_discard(GROUP, self.channel_name)

    async def chat_message(self, event):
        await self.send(text_data=json.dumps(event["frame"]))
