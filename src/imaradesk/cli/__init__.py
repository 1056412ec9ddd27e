"""The ``imaradesk`` command: one module per group, every one registered on ``main`` below.

``main`` itself and what the commands share (the lazily built services, the consoles) live in
``cli/base.py``, so that no command module imports this package.
"""

from imaradesk.cli.agents import agent
from imaradesk.cli.backups import backup, restore
from imaradesk.cli.base import _Context, main
from imaradesk.cli.chat import chat
from imaradesk.cli.contacts import contact
from imaradesk.cli.exports import export
from imaradesk.cli.handoffs import handoff
from imaradesk.cli.holds import hold
from imaradesk.cli.kb import kb
from imaradesk.cli.keys import keys
from imaradesk.cli.organizations import org
from imaradesk.cli.privacy import privacy
from imaradesk.cli.retention import retention
from imaradesk.cli.routing import routing
from imaradesk.cli.serving import demo, serve, worker
from imaradesk.cli.templates import template_add
from imaradesk.cli.tokens import token
from imaradesk.cli.topology import up

for command in (
    org,
    token,
    kb,
    chat,
    handoff,
    agent,
    routing,
    template_add,
    privacy,
    hold,
    retention,
    contact,
    export,
    keys,
    backup,
    restore,
    serve,
    demo,
    worker,
    up,
):
    main.add_command(command)

__all__ = ["_Context", "main"]
