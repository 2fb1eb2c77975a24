"""The `curate` subcommands, a module per kind of work; curate/cli.py names them and loads a
module only when one of its commands runs or shows its help.

Every command has the one shape `curate STAGE INPUT... -o OUTPUT [--rejects FILE] [--config
FILE.yaml] [options]`: its options are the fields of the stage's config model (cli_config.py).
"""
