"""Structured logs (Powertools). Never log access keys (only their prefix), credentials or prompt text."""

from __future__ import annotations

from aws_lambda_powertools import Logger

logger = Logger(service="overspill")
