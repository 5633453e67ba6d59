"""Intelligence agents: the ``Agent`` port, the context an agent runs with, the built-ins.

``BaseAgent`` (``alphawire.agents.framework``) holds the plumbing every agent shares; an
agent's output is an ``Insight`` (``alphawire.agents.insight``). Nothing here imports the web
layer or a web framework.
"""

from alphawire.agents.framework import AgentNotRunning, AgentOptions, BaseAgent, alert_embed
from alphawire.agents.insight import Evidence, Insight, numbers_backed

__all__ = [
    "AgentNotRunning",
    "AgentOptions",
    "BaseAgent",
    "Evidence",
    "Insight",
    "alert_embed",
    "numbers_backed",
]
