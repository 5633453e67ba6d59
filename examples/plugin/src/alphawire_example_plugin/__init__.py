"""An example alphawire plugin: one agent, found through the ``alphawire.agents`` entry point."""
