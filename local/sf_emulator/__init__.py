"""A local Salesforce org for the hub's tests and local stack: HTTPS on 127.0.0.1, REST, Composite, Bulk 2.0,
OAuth, limits, fault injection, Outbound Messaging and Change Data Capture via Event Relay.

    emu = start_emulator(EmulatorConfig(port=0))
    ...
    emu.stop()
"""

from .config import EmulatorConfig, OutboundMessageConfig, PicklistValue
from .schema import EXTERNAL_ID_FIELD, PICKLISTS
from .server import RunningEmulator, start_emulator

__all__ = [
    "EXTERNAL_ID_FIELD",
    "PICKLISTS",
    "EmulatorConfig",
    "OutboundMessageConfig",
    "PicklistValue",
    "RunningEmulator",
    "start_emulator",
]
