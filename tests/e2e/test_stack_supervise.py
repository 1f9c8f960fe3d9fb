"""A crashed service is started again and the customer is never left without a reply.

The real stack (fixture `stack`): the action server's whole process group is killed, as a
crash would; the hub answers the message sent meanwhile with its apology instead of silence,
the supervisor of `make run` (`Stack.supervise`) starts the action server again, and the same
conversation is answered from the help center once it is back.
"""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest
from hub_e2e import rest_say

from cskh.persona import DEFAULT as DEFAULT_PERSONA
from cskh.stack import Stack
from handoff.core import copy_vi

BOT_DOWN_REPLY = DEFAULT_PERSONA.render(copy_vi.BOT_DOWN_REPLY)


pytestmark = pytest.mark.e2e


def test_crashed_action_server_is_restarted_and_nothing_goes_unanswered(stack: Stack) -> None:
    actions = stack.service("actions")
    assert actions.process is not None
    crashed_pid = actions.process.pid
    stop = threading.Event()
    lines: list[str] = []
    supervisor = threading.Thread(
        target=stack.supervise, args=(stop.is_set,),
        kwargs={"log": lines.append, "poll_seconds": 0.2}, daemon=True,
    )
    supervisor.start()
    try:
        os.killpg(crashed_pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while actions.process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        # Meanwhile Rasa cannot run the FAQ action: the hub says so instead of staying silent.
        out = rest_say(stack, "sup-1", "phí ship ra Hà Nội bao nhiêu?")
        # (The action server needs ~2 s to load its index; this reaches Rasa in ~0.1 s.)
        assert [m.get("text", "") for m in out] == [BOT_DOWN_REPLY], out

        deadline = time.monotonic() + 120
        while not any("is back" in line for line in lines) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert any("actions is back" in line for line in lines), lines
        assert actions.process.pid != crashed_pid and actions.process.poll() is None

        out = rest_say(stack, "sup-1", "phí ship ra Hà Nội bao nhiêu?")
        assert "20.000đ" in " ".join(m.get("text", "") for m in out), out
    finally:
        stop.set()
        supervisor.join(timeout=10)
    assert supervisor.is_alive() is False
