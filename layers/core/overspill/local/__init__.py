"""The local run (``overspill dev``): moto for AWS, a Function URL emulator for the functions."""
