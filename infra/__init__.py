"""The Overspill CDK app (``python -m infra.app``): stacks in ``infra.stacks``, constructs in
``infra.components`` (not ``infra.constructs``, which would shadow the ``constructs`` library when a file in
this directory is run as a script)."""
