"""Generic plugins: behaviour shared by many packages (fetching, patching, build systems).

Each module is a pluggy plugin implementing the phase hooks for the recipes it applies to and
returning ``None`` for the others, so a package plugin only says what is special about it.
"""
