"""The default sandbox and logging behaviours, shipped as ordinary plugins.

They are published under the ``reqless.plugins`` entry-point group like any
third-party plugin (so ``--no-plugin sandbox`` disables one), and registered
from here as well when the distribution's metadata is missing (running from a
source tree that was never installed).
"""

#: Built-in plugin name -> entry-point value (the module that is the plugin).
BUILTIN_PLUGINS: dict[str, str] = {
    "logging": "reqless_plugins.builtin.logs",
    "sandbox": "reqless_plugins.builtin.sandbox",
}
