"""alphawire.toml: the one configuration file, and how it meets the environment and flags.

```python
config = load_config()              # --config / $ALPHAWIRE_CONFIG / ./alphawire.toml / defaults
config.settings.port                # flags > ALPHAWIRE_* variables > the file > defaults
config.sources["sim"].enabled       # [sources.NAME] and [agents.NAME] tables
validate_plugin_options(config, {"sources": {"cboe": CboeOptions}, "agents": {...}})
print(render_config(config))        # what is in effect, secrets redacted
```
"""

from alphawire.config.loader import find_config, load_config
from alphawire.config.model import DEFAULT_FILE, Config, ConfigError, PluginTable
from alphawire.config.options import plugin_option_models, validate_plugin_options
from alphawire.config.writer import example_text, render_config

__all__ = [
    "DEFAULT_FILE",
    "Config",
    "ConfigError",
    "PluginTable",
    "example_text",
    "find_config",
    "load_config",
    "plugin_option_models",
    "render_config",
    "validate_plugin_options",
]
