"""Intelligence agents: the ``Agent`` port, the context an agent runs with, the built-ins.

Nothing here imports the web layer or a web framework.
"""
